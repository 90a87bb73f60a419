//! Painting a face into pixels, layer by layer: background, clothes, neck and ears, skin and its
//! shading, beard, eyes, brows, nose, mouth, hair, then lighting, skin texture, colour cast, camera
//! blur and sensor noise.

use std::f32::consts::{PI, TAU};

use image::RgbImage;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tiny_skia::{
    GradientStop, LinearGradient, Mask, Path as SkPath, PathBuilder, Point, RadialGradient, Rect,
    SpreadMode, Transform,
};

use crate::data::landmarks::{
    INNER_LIPS, JAW, LEFT_BROW, LEFT_EYE, NOSE_BASE, OUTER_LIPS, RIGHT_BROW, RIGHT_EYE,
};

use super::canvas::{
    Canvas, H, W, add_to_mask, closed_curve, color, ellipse, new_mask, open_curve, pieces, polygon,
    shifted,
};
use super::geometry::{Face, superellipse};
use super::hair::{HairMass, HairShapes, draw_hair_mass, hair_shapes};
use super::identity::{Identity, Shot};
use super::math::{
    V2, add2, hsv, len2, lerp, lerp2, mean2, mix_rgb, mul_rgb, normal, scale_rgb, sub2, uniform,
};

pub(super) fn draw_face(id: &Identity, shot: &Shot, face: &Face, rng: &mut ChaCha8Rng) -> RgbImage {
    let mut canvas = Canvas::new();
    draw_background(&mut canvas, rng);

    let skin = id.skin;
    let hair = hair_shapes(id, face);
    let mut head_mask = new_mask();

    draw_clothes(&mut canvas, id, shot, face);
    if hair.back.is_some() {
        draw_hair_mass(&mut canvas, id, &hair, HairMass::Back, rng);
    }

    // Neck, with the jaw's shadow on it.
    let w = id.half_width;
    let neck_z = 0.2 * 0.75 * w;
    let neck_pts: Vec<V2> = [
        (-0.5 * w, 25.0),
        (0.5 * w, 25.0),
        (0.55 * w, 88.0),
        (w, 110.0),
        (-w, 110.0),
        (-0.55 * w, 88.0),
    ]
    .iter()
    .map(|&(x, y)| face.at(x, y, neck_z))
    .collect();
    let neck = polygon(&neck_pts);
    let mut neck_mask = new_mask();
    add_to_mask(&mut neck_mask, &neck);
    canvas.fill(neck.clone(), scale_rgb(skin, 0.88), 1.0, None);
    let mut shadow = Canvas::new();
    shadow.fill(
        closed_curve(&shifted(&face.range(JAW), [0.0, 5.0])),
        scale_rgb(skin, 0.35),
        0.6,
        None,
    );
    shadow.blur(3);
    canvas.composite(&shadow, Some(&neck_mask));
    add_to_mask(&mut head_mask, &neck);

    // Ears, mostly hidden behind the face.
    for side in [-1.0f32, 1.0] {
        let centre = face.at(side * (w - 1.0), 10.0, -6.0);
        let angle = shot.roll;
        let ear = ellipse(centre, 4.8 * face.pose.scale, 12.5 * face.pose.scale, angle);
        canvas.fill(ear.clone(), scale_rgb(skin, 0.93), 1.0, None);
        let inner = ellipse(
            add2(centre, [side * 1.3, 0.5]),
            2.2 * face.pose.scale,
            8.0 * face.pose.scale,
            angle,
        );
        canvas.fill(inner, scale_rgb(skin, 0.7), 0.45, None);
        add_to_mask(&mut head_mask, &ear);
    }

    // The face and skull: the jaw line closed by an arc over the top of the head.
    let mut outline = face.range(JAW);
    let ear_level = id.ear_level;
    for k in 1..16 {
        let theta = PI * k as f32 / 16.0;
        let [x, y] = superellipse(theta, w + 3.0 * theta.sin().sqrt(), 86.0, 2.4);
        outline.push(face.surface(id, x, ear_level + y));
    }
    let face_path = closed_curve(&outline);
    let mut face_mask = new_mask();
    add_to_mask(&mut face_mask, &face_path);
    canvas.fill(face_path.clone(), skin, 1.0, None);
    add_to_mask(&mut head_mask, &face_path);

    draw_skin_shading(&mut canvas, id, shot, face, &hair, &face_path, &face_mask);
    draw_beard(&mut canvas, id, face, &face_mask, rng);
    for mole in &id.moles {
        let c = face.surface(id, mole[0], mole[1]);
        canvas.fill(
            ellipse(c, 0.9, 0.8, 0.0),
            mul_rgb(skin, [0.45, 0.33, 0.28]),
            0.75,
            Some(&face_mask),
        );
    }
    draw_eyes(&mut canvas, id, shot, face);
    draw_brows(&mut canvas, id, face, rng);
    draw_nose(&mut canvas, id, face);
    draw_mouth(&mut canvas, id, shot, face);

    // Hair on the head, over the forehead's edge.
    if hair.stubble.is_some() {
        canvas.fill(hair.stubble.clone(), id.hair, 0.3, Some(&face_mask));
    }
    let front_mask = draw_hair_mass(&mut canvas, id, &hair, HairMass::Front, rng);
    let gloss = face.surface(id, shot.light[0] * 18.0, -52.0);
    canvas.spot(gloss, 26.0, 14.0, [1.0, 0.97, 0.9], 0.16, Some(&front_mask));
    add_to_mask(&mut head_mask, &hair.front);

    let centre = face.at(0.0, 14.0, 0.0);
    let axes = [
        id.half_width * 1.12 * face.pose.scale,
        84.0 * face.pose.scale,
    ];
    apply_lighting(&mut canvas, &head_mask, centre, axes, shot);
    finish(&canvas, &face_mask, shot, rng)
}

fn draw_background(canvas: &mut Canvas, rng: &mut ChaCha8Rng) {
    let hue = rng.random::<f32>();
    let c1 = hsv(hue, uniform(rng, 0.05, 0.55), uniform(rng, 0.2, 0.95));
    let c2 = if rng.random_bool(0.5) {
        hsv(
            hue + uniform(rng, -0.1, 0.1),
            uniform(rng, 0.05, 0.55),
            uniform(rng, 0.2, 0.95),
        )
    } else {
        hsv(
            rng.random::<f32>(),
            uniform(rng, 0.05, 0.5),
            uniform(rng, 0.2, 0.95),
        )
    };
    let angle = uniform(rng, 0.0, TAU);
    let (dx, dy) = (angle.cos() * 120.0, angle.sin() * 120.0);
    let shader = LinearGradient::new(
        Point::from_xy(89.0 - dx, 109.0 - dy),
        Point::from_xy(89.0 + dx, 109.0 + dy),
        vec![
            GradientStop::new(0.0, color(c1, 1.0)),
            GradientStop::new(1.0, color(c2, 1.0)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    );
    let full = Rect::from_xywh(0.0, 0.0, W as f32, H as f32).map(PathBuilder::from_rect);
    canvas.fill(full, c1, 1.0, None);
    canvas.fill_shader(
        Rect::from_xywh(0.0, 0.0, W as f32, H as f32).map(PathBuilder::from_rect),
        shader,
        None,
    );
    // Out-of-focus scenery: blobs and panels of other colours.
    let n = rng.random_range(2..9);
    for _ in 0..n {
        let c = if rng.random_bool(0.6) {
            mix_rgb(c1, c2, rng.random::<f32>())
        } else {
            hsv(
                rng.random::<f32>(),
                uniform(rng, 0.0, 0.7),
                uniform(rng, 0.1, 1.0),
            )
        };
        let c = scale_rgb(c, uniform(rng, 0.7, 1.2));
        let alpha = uniform(rng, 0.25, 0.9);
        let x = uniform(rng, -20.0, W as f32 + 20.0);
        let y = uniform(rng, -20.0, H as f32 + 20.0);
        let path = if rng.random_bool(0.5) {
            let r = uniform(rng, 8.0, 50.0);
            ellipse([x, y], r, r * uniform(rng, 0.6, 1.4), 0.0)
        } else {
            Rect::from_xywh(x, y, uniform(rng, 10.0, 90.0), uniform(rng, 10.0, 120.0))
                .map(PathBuilder::from_rect)
        };
        canvas.fill(path, c, alpha, None);
    }
    let r = rng.random_range(3..8);
    canvas.blur(r);
}

fn draw_clothes(canvas: &mut Canvas, id: &Identity, shot: &Shot, face: &Face) {
    let w = id.half_width;
    let neck_depth = lerp(6.0, 26.0, shot.neckline);
    let shape: Vec<V2> = [
        (-160.0, 140.0),
        (-160.0, 102.0),
        (-(w + 30.0), 89.0),
        (-0.78 * w, 83.0),
        (-0.35 * w, 86.0 + neck_depth * 0.6),
        (0.0, 86.0 + neck_depth),
        (0.35 * w, 86.0 + neck_depth * 0.6),
        (0.78 * w, 83.0),
        (w + 30.0, 89.0),
        (160.0, 102.0),
        (160.0, 140.0),
    ]
    .iter()
    .map(|&(x, y)| face.at(x, y, 0.0))
    .collect();
    let top = face.at(0.0, 82.0, 0.0);
    let shader = LinearGradient::new(
        Point::from_xy(top[0], top[1]),
        Point::from_xy(top[0], top[1] + 40.0),
        vec![
            GradientStop::new(0.0, color(shot.clothes, 1.0)),
            GradientStop::new(1.0, color(scale_rgb(shot.clothes, 0.7), 1.0)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    );
    canvas.fill_shader(closed_curve(&shape), shader, None);
}

/// Soft shadows and highlights that make the skin round: contour, eye sockets, nose sides,
/// under the nose and lip, the hairline, smile folds, blush.
fn draw_skin_shading(
    canvas: &mut Canvas,
    id: &Identity,
    shot: &Shot,
    face: &Face,
    hair: &HairShapes,
    face_path: &Option<SkPath>,
    face_mask: &Mask,
) {
    let skin = id.skin;
    let dark = mul_rgb(skin, [0.5, 0.42, 0.4]);
    let mut soft = Canvas::new();
    soft.stroke(face_path.clone(), dark, 0.3, 8.0, None);
    let light_side = if shot.light[0] >= 0.0 { 1.0 } else { -1.0 };
    for side in [-1.0f32, 1.0] {
        let strength = if side == light_side { 0.18 } else { 0.5 };
        let (top, tip, wing) = if side < 0.0 {
            (face.p(27), face.p(30), face.p(31))
        } else {
            (face.p(27), face.p(30), face.p(35))
        };
        let nw = len2(sub2(face.p(35), face.p(31))) * 0.5;
        let line = [
            add2(top, [side * 3.5, 1.0]),
            add2(lerp2(top, tip, 0.55), [side * nw * 0.45, 0.0]),
            add2(tip, [side * nw * 0.62, 0.5]),
            add2(wing, [side * -0.5, -2.5]),
        ];
        soft.stroke(open_curve(&line), dark, strength, 2.8, None);
        // The nostril wing's roundness.
        soft.fill(
            ellipse(add2(wing, [side * -0.8, -1.6]), nw * 0.4, 2.4, 0.0),
            dark,
            0.3,
            None,
        );
        // Cheek shadow under the cheekbone, stronger on the unlit side.
        let cheek = [
            face.surface(id, side * (id.eye_half_spacing + 9.0), 22.0),
            face.surface(id, side * (id.eye_half_spacing + 4.0), 36.0),
        ];
        let cheek_alpha = if id.masculine { 0.2 } else { 0.12 };
        soft.stroke(
            open_curve(&cheek),
            dark,
            cheek_alpha * if side == light_side { 0.5 } else { 1.0 },
            5.0,
            None,
        );
    }
    soft.stroke(
        open_curve(&shifted(&face.range(NOSE_BASE), [0.0, 1.6])),
        dark,
        0.45,
        2.6,
        None,
    );
    let under_lip = [
        add2(face.p(58), [0.0, 2.6]),
        add2(face.p(57), [0.0, 3.2]),
        add2(face.p(56), [0.0, 2.6]),
    ];
    soft.stroke(open_curve(&under_lip), dark, 0.3, 3.0, None);
    soft.stroke(
        open_curve(&shifted(&hair.hairline, [0.0, 1.5])),
        scale_rgb(dark, 0.8),
        0.35,
        5.0,
        None,
    );
    if shot.smile > 0.25 {
        for (wing, corner, side) in [
            (face.p(31), face.p(48), -1.0),
            (face.p(35), face.p(54), 1.0),
        ] {
            let fold = [
                add2(wing, [side * 1.5, -1.0]),
                add2(lerp2(wing, corner, 0.55), [side * 3.5, 0.0]),
                add2(corner, [side * 3.0, 3.0]),
            ];
            soft.stroke(open_curve(&fold), dark, 0.35 * shot.smile, 1.4, None);
        }
    }
    soft.blur(2);
    canvas.composite(&soft, Some(face_mask));

    for (range, side) in [(RIGHT_EYE, -1.0f32), (LEFT_EYE, 1.0)] {
        let c = mean2(&face.range(range));
        canvas.spot(
            add2(c, [side * 1.0, -2.5]),
            id.eye_width * 0.85 * face.pose.scale,
            (id.eye_height * 1.5 + 2.5) * face.pose.scale,
            dark,
            0.35,
            Some(face_mask),
        );
        let cheek = face.surface(id, side * (id.eye_half_spacing + 4.0), 26.0);
        canvas.spot(
            cheek,
            10.0,
            7.0,
            [0.86, 0.36, 0.36],
            id.blush + 0.1 * shot.smile,
            Some(face_mask),
        );
    }
    canvas.spot(
        lerp2(face.p(30), face.p(33), 0.6),
        len2(sub2(face.p(35), face.p(31))) * 0.3,
        2.2,
        dark,
        0.35,
        Some(face_mask),
    );
    let highlight = mix_rgb(skin, [1.0, 1.0, 1.0], 0.6);
    let lit = [shot.light[0] * 2.0, shot.light[1] * 2.0];
    canvas.spot(
        add2(face.p(30), lit),
        3.2,
        3.0,
        highlight,
        0.35,
        Some(face_mask),
    );
    canvas.spot(
        add2(lerp2(face.p(27), face.p(29), 0.5), lit),
        2.0,
        6.0,
        highlight,
        0.18,
        Some(face_mask),
    );
    canvas.spot(
        face.surface(id, shot.light[0] * 10.0, -24.0),
        16.0,
        8.0,
        highlight,
        0.14,
        Some(face_mask),
    );
    canvas.spot(
        add2(face.p(8), [0.0, -5.0]),
        7.0,
        4.0,
        highlight,
        0.12,
        Some(face_mask),
    );
}

fn draw_beard(
    canvas: &mut Canvas,
    id: &Identity,
    face: &Face,
    face_mask: &Mask,
    rng: &mut ChaCha8Rng,
) {
    if id.beard <= 0.0 {
        return;
    }
    let p = |i: usize| face.p(i);
    let base = p(33);
    let mut region: Vec<V2> = face.pts[2..=14].to_vec();
    region.push(add2(p(54), [5.0, -3.0]));
    region.push([p(35)[0] + 1.0, base[1] + 1.5]);
    region.push([base[0], base[1] + 2.0]);
    region.push([p(31)[0] - 1.0, base[1] + 1.5]);
    region.push(add2(p(48), [-5.0, -3.0]));
    let path = closed_curve(&region);
    let colour = scale_rgb(id.hair, 0.85);
    // Thicker on the chin than up the cheeks.
    let shader = LinearGradient::new(
        Point::from_xy(base[0], base[1]),
        Point::from_xy(p(8)[0], p(8)[1]),
        vec![
            GradientStop::new(0.0, color(colour, 0.35 * id.beard)),
            GradientStop::new(1.0, color(colour, 0.85 * id.beard)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    );
    let mut soft = Canvas::new();
    soft.fill_shader(path.clone(), shader, None);
    let moustache = [
        add2(p(31), [-2.0, 1.0]),
        add2(p(33), [0.0, 1.5]),
        add2(p(35), [2.0, 1.0]),
        add2(p(54), [1.0, -1.0]),
        add2(p(52), [0.0, -0.8]),
        add2(p(50), [0.0, -0.8]),
        add2(p(48), [-1.0, -1.0]),
    ];
    soft.fill(closed_curve(&moustache), colour, 0.55 * id.beard, None);
    soft.blur(2);
    canvas.composite(&soft, Some(face_mask));

    let mut mask = new_mask();
    add_to_mask(&mut mask, &path);
    let data = mask.data();
    let wanted = (500.0 * id.beard) as usize;
    let (mut drawn, mut tries) = (0, 0);
    while drawn < wanted && tries < wanted * 30 {
        tries += 1;
        let x = uniform(rng, 0.0, W as f32);
        let y = uniform(rng, 0.0, H as f32);
        let at = (y as usize).min(H as usize - 1) * W as usize + (x as usize).min(W as usize - 1);
        if data[at] < 128 {
            continue;
        }
        drawn += 1;
        let a = uniform(rng, 0.0, TAU);
        let len = uniform(rng, 1.0, 2.5);
        let mut pb = PathBuilder::new();
        pb.move_to(x, y);
        pb.line_to(x + a.cos() * len * 0.5, y + a.sin().abs() * len);
        let shade = if rng.random_bool(0.5) { 0.5 } else { 1.2 };
        canvas.stroke(
            pb.finish(),
            scale_rgb(id.hair, shade),
            0.3,
            0.6,
            Some(face_mask),
        );
    }
}

fn draw_eyes(canvas: &mut Canvas, id: &Identity, shot: &Shot, face: &Face) {
    let skin = id.skin;
    let sclera = scale_rgb(mix_rgb([0.95, 0.93, 0.91], skin, 0.12), 0.93);
    let lash = scale_rgb(mix_rgb([0.08, 0.06, 0.06], id.brow, 0.3), 1.0);
    for (range, side) in [(RIGHT_EYE, -1.0f32), (LEFT_EYE, 1.0)] {
        let e = face.range(range);
        // Both eyes as [outer, upper outer, upper inner, inner, lower inner, lower outer].
        let e = if side < 0.0 {
            e
        } else {
            vec![e[3], e[2], e[1], e[0], e[5], e[4]]
        };
        let upper = [e[0], e[1], e[2], e[3]];
        let lower = [e[3], e[4], e[5], e[0]];
        let eye = pieces(&[&upper, &lower]);
        let mut eye_mask = new_mask();
        add_to_mask(&mut eye_mask, &eye);

        // Lid crease above the eye.
        let lid_height = len2(sub2(e[1], e[5])).max(0.5);
        let crease: Vec<V2> = upper
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let lift = if k == 1 || k == 2 {
                    0.7 * lid_height + 1.8
                } else {
                    1.0
                };
                add2(*p, [side * if k == 0 { -0.5 } else { 0.0 }, -lift])
            })
            .collect();
        canvas.stroke(open_curve(&crease), scale_rgb(skin, 0.6), 0.4, 0.9, None);

        canvas.fill(eye.clone(), sclera, 1.0, None);
        let width = len2(sub2(e[3], e[0]));
        let mid = lerp2(e[0], e[3], 0.5);
        let r = 0.22 * width;
        let centre = add2(
            mid,
            [
                shot.gaze[0] * width * 0.16,
                -0.12 * lid_height + shot.gaze[1] * lid_height * 0.3,
            ],
        );
        let iris = RadialGradient::new(
            Point::from_xy(centre[0], centre[1]),
            0.0,
            Point::from_xy(centre[0], centre[1]),
            r,
            vec![
                GradientStop::new(0.0, color(scale_rgb(id.iris, 1.1), 1.0)),
                GradientStop::new(0.75, color(id.iris, 1.0)),
                GradientStop::new(1.0, color(scale_rgb(id.iris, 0.5), 1.0)),
            ],
            SpreadMode::Pad,
            Transform::identity(),
        );
        canvas.fill_shader(ellipse(centre, r, r, 0.0), iris, Some(&eye_mask));
        canvas.fill(
            ellipse(centre, r * 0.42, r * 0.42, 0.0),
            [0.04, 0.03, 0.03],
            1.0,
            Some(&eye_mask),
        );
        canvas.fill(
            ellipse(add2(centre, [-0.35 * r, -0.35 * r]), 0.55, 0.55, 0.0),
            [1.0, 1.0, 1.0],
            0.85,
            Some(&eye_mask),
        );
        // The upper lid's shadow on the eyeball, then lashes along the lid, a little beyond the
        // outer corner.
        canvas.stroke(
            open_curve(&shifted(&upper, [0.0, 0.8])),
            scale_rgb(skin, 0.35),
            0.45,
            1.6,
            Some(&eye_mask),
        );
        let wing = add2(e[0], [side * -1.2 * id.lash, -0.6]);
        let mut lash_line = vec![wing];
        lash_line.extend_from_slice(&upper[..3]);
        lash_line.push(lerp2(upper[2], upper[3], 0.7));
        canvas.stroke(
            open_curve(&lash_line),
            lash,
            0.6 + 0.35 * id.lash,
            0.9 + 0.7 * id.lash,
            None,
        );
        canvas.stroke(open_curve(&lower), scale_rgb(skin, 0.5), 0.35, 0.7, None);
    }
}

fn draw_brows(canvas: &mut Canvas, id: &Identity, face: &Face, rng: &mut ChaCha8Rng) {
    let mut soft = Canvas::new();
    for (range, outer_first) in [(RIGHT_BROW, true), (LEFT_BROW, false)] {
        let mut b = face.range(range);
        if !outer_first {
            b.reverse();
        }
        // Outer end first: a band around the points, thin at the outer end, full towards the inner.
        let t = id.brow_thickness * face.pose.scale;
        let n = b.len();
        let mut upper = Vec::with_capacity(n);
        let mut lower = Vec::with_capacity(n);
        for k in 0..n {
            let prev = b[k.saturating_sub(1)];
            let next = b[(k + 1).min(n - 1)];
            let d = sub2(next, prev);
            let l = len2(d).max(1e-3);
            // The normal that points up in the image.
            let mut normal = [d[1] / l, -d[0] / l];
            if normal[1] > 0.0 {
                normal = [-normal[0], -normal[1]];
            }
            let u = k as f32 / (n - 1) as f32;
            let half = 0.5 * t * (0.4 + 0.6 * (u * 1.4).min(1.0));
            upper.push(add2(b[k], [normal[0] * half, normal[1] * half]));
            lower.push(add2(b[k], [-normal[0] * half, -normal[1] * half]));
        }
        let mut outline = upper.clone();
        outline.extend(lower.iter().rev());
        soft.fill(closed_curve(&outline), id.brow, 0.92, None);
        for _ in 0..14 {
            let k = uniform(rng, 0.0, (n - 1) as f32);
            let i = (k as usize).min(n - 2);
            let a = lerp2(lower[i], upper[i], uniform(rng, 0.0, 1.0));
            let d = sub2(b[i + 1], b[i]);
            let mut pb = PathBuilder::new();
            pb.move_to(a[0], a[1]);
            pb.line_to(a[0] + d[0] * 0.5, a[1] + d[1] * 0.5 - 0.8);
            soft.stroke(pb.finish(), scale_rgb(id.brow, 0.7), 0.35, 0.6, None);
        }
    }
    soft.box_blur(1, 1);
    canvas.composite(&soft, None);
}

fn draw_nose(canvas: &mut Canvas, id: &Identity, face: &Face) {
    let skin = id.skin;
    let base = face.range(NOSE_BASE);
    for (a, b, side) in [(base[0], base[1], -1.0f32), (base[4], base[3], 1.0)] {
        let centre = add2(lerp2(a, b, 0.55), [0.0, -0.9]);
        let d = sub2(b, a);
        let angle = d[1].atan2(d[0]) + if side > 0.0 { PI } else { 0.0 };
        let rx = len2(d) * 0.42;
        canvas.fill(
            ellipse(centre, rx.max(0.8), 0.95, angle),
            mul_rgb(skin, [0.3, 0.22, 0.2]),
            0.8,
            None,
        );
        let crease = [
            add2(a, [-side * 1.5, -4.5]),
            add2(a, [side * 1.2, -2.2]),
            add2(a, [-side * 0.3, 0.3]),
        ];
        canvas.stroke(open_curve(&crease), scale_rgb(skin, 0.55), 0.4, 0.9, None);
    }
}

fn draw_mouth(canvas: &mut Canvas, id: &Identity, shot: &Shot, face: &Face) {
    let p = |i: usize| face.p(i);
    let outer = face.range(OUTER_LIPS);
    let inner = face.range(INNER_LIPS);
    let upper_outer: Vec<V2> = outer[0..7].to_vec();
    let lower_outer: Vec<V2> = vec![
        outer[6], outer[7], outer[8], outer[9], outer[10], outer[11], outer[0],
    ];
    let inner_upper: Vec<V2> = vec![
        p(48),
        inner[0],
        inner[1],
        inner[2],
        inner[3],
        inner[4],
        p(54),
    ];
    let inner_lower: Vec<V2> = vec![
        p(54),
        inner[4],
        inner[5],
        inner[6],
        inner[7],
        inner[0],
        p(48),
    ];
    let inner_upper_rev: Vec<V2> = inner_upper.iter().rev().copied().collect();
    let inner_lower_rev: Vec<V2> = inner_lower.iter().rev().copied().collect();

    let gap = len2(sub2(p(66), p(62)));
    let open = gap > 0.6;
    if open {
        let mouth = pieces(&[&inner_upper, &inner_lower]);
        let mut mouth_mask = new_mask();
        add_to_mask(&mut mouth_mask, &mouth);
        canvas.fill(mouth, [0.12, 0.04, 0.05], 1.0, None);
        if gap > 6.0 {
            let tongue = add2(p(66), [0.0, gap * 0.05]);
            canvas.spot(
                tongue,
                len2(sub2(p(65), p(67))) * 0.6,
                gap * 0.3,
                [0.5, 0.2, 0.22],
                0.45,
                Some(&mouth_mask),
            );
        }
        if gap > 2.0 && shot.smile > 0.2 {
            let teeth_h = (0.35 * gap).min(3.0);
            let mut teeth: Vec<V2> = inner_upper.clone();
            teeth.extend(shifted(&inner_upper_rev, [0.0, teeth_h]));
            canvas.fill(
                closed_curve(&teeth),
                [0.9, 0.87, 0.8],
                1.0,
                Some(&mouth_mask),
            );
            for k in 1..6 {
                let at = lerp2(p(60), p(64), k as f32 / 6.0);
                let mut pb = PathBuilder::new();
                pb.move_to(at[0], at[1] - 1.0);
                pb.line_to(at[0], at[1] + teeth_h + 1.0);
                canvas.stroke(pb.finish(), [0.55, 0.5, 0.46], 0.35, 0.5, Some(&mouth_mask));
            }
            if gap > 8.0 {
                let mut lower_teeth: Vec<V2> = inner_lower.clone();
                lower_teeth.extend(shifted(&inner_lower_rev, [0.0, -1.6]));
                canvas.fill(
                    closed_curve(&lower_teeth),
                    [0.8, 0.77, 0.7],
                    0.8,
                    Some(&mouth_mask),
                );
            }
        }
    }

    canvas.fill(
        pieces(&[&upper_outer, &inner_upper_rev]),
        scale_rgb(id.lip, 0.86),
        1.0,
        None,
    );
    canvas.fill(pieces(&[&lower_outer, &inner_lower_rev]), id.lip, 1.0, None);
    let shine = add2(lerp2(p(57), p(66), 0.45), [shot.light[0] * 2.0, 0.0]);
    canvas.spot(
        shine,
        len2(sub2(p(56), p(58))) * 0.7,
        id.lower_lip * 0.3 + 0.5,
        mix_rgb(id.lip, [1.0, 1.0, 1.0], 0.5),
        0.35,
        None,
    );
    // The line between the lips, darkest where they meet.
    let line_alpha = if open { 0.35 } else { 0.75 };
    canvas.stroke(
        open_curve(&inner_upper),
        mul_rgb(id.lip, [0.35, 0.25, 0.25]),
        line_alpha,
        if open { 0.8 } else { 1.1 },
        None,
    );
    for corner in [p(48), p(54)] {
        canvas.spot(
            corner,
            1.6,
            1.3,
            mul_rgb(id.skin, [0.3, 0.2, 0.2]),
            0.5,
            None,
        );
    }
}

/// Lambert shading of the head as an ellipsoid, lit from the shot's direction.
fn apply_lighting(canvas: &mut Canvas, mask: &Mask, centre: V2, axes: V2, shot: &Shot) {
    let l = shot.light;
    let amb = shot.ambient;
    let frontal = amb + (1.0 - amb) * l[2].max(0.0);
    let m = mask.data();
    let data = canvas.pm.data_mut();
    for y in 0..H as usize {
        for x in 0..W as usize {
            let k = m[y * W as usize + x];
            if k == 0 {
                continue;
            }
            let u = (x as f32 + 0.5 - centre[0]) / axes[0];
            let v = (y as f32 + 0.5 - centre[1]) / axes[1];
            let r2 = u * u + v * v;
            let n = if r2 < 1.0 {
                [u, v, (1.0 - r2).sqrt()]
            } else {
                let r = r2.sqrt();
                [u / r, v / r, 0.0]
            };
            let diffuse = (n[0] * l[0] + n[1] * l[1] + n[2] * l[2]).max(0.0);
            let f = ((amb + (1.0 - amb) * diffuse) / frontal).clamp(0.4, 1.15);
            let f = 1.0 + (k as f32 / 255.0) * (f - 1.0);
            let i = (y * W as usize + x) * 4;
            for c in 0..3 {
                data[i + c] = (data[i + c] as f32 * f).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Skin texture, exposure and colour cast, a slight camera blur and sensor noise.
fn finish(canvas: &Canvas, face_mask: &Mask, shot: &Shot, rng: &mut ChaCha8Rng) -> RgbImage {
    let (w, h) = (W as usize, H as usize);
    let mut buf = vec![0.0f32; w * h * 3];
    for (i, px) in canvas.pm.data().chunks_exact(4).enumerate() {
        for c in 0..3 {
            buf[i * 3 + c] = px[c] as f32;
        }
    }
    // Mottled skin: smooth random fields at two scales.
    let coarse = noise_field(rng, 9, 11);
    let fine = noise_field(rng, 30, 36);
    let m = face_mask.data();
    for y in 0..h {
        for x in 0..w {
            let k = m[y * w + x] as f32 / 255.0;
            if k == 0.0 {
                continue;
            }
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let t = 1.0 + k * (0.035 * coarse.at(fx, fy) + 0.02 * fine.at(fx, fy));
            for c in 0..3 {
                buf[(y * w + x) * 3 + c] *= t;
            }
        }
    }
    for px in buf.chunks_exact_mut(3) {
        for (v, tint) in px.iter_mut().zip(shot.tint) {
            *v *= shot.exposure * tint;
        }
    }
    blur3(&mut buf, w, h);
    let mut out = RgbImage::new(W, H);
    for (i, px) in out.pixels_mut().enumerate() {
        let luma = shot.noise * normal(rng);
        for c in 0..3 {
            let v = buf[i * 3 + c] + luma + 0.5 * shot.noise * normal(rng);
            px.0[c] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Weights 0.2, 0.6, 0.2 along each axis (about sigma 0.63 px), clamped edges.
fn blur3(buf: &mut [f32], w: usize, h: usize) {
    let mut tmp = buf.to_vec();
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let at = |xx: usize| buf[(y * w + xx) * 3 + c];
                tmp[(y * w + x) * 3 + c] =
                    0.2 * at(x.saturating_sub(1)) + 0.6 * at(x) + 0.2 * at((x + 1).min(w - 1));
            }
        }
    }
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let at = |yy: usize| tmp[(yy * w + x) * 3 + c];
                buf[(y * w + x) * 3 + c] =
                    0.2 * at(y.saturating_sub(1)) + 0.6 * at(y) + 0.2 * at((y + 1).min(h - 1));
            }
        }
    }
}

/// A grid of standard normal values, sampled bilinearly over the unit square.
struct NoiseField {
    gw: usize,
    gh: usize,
    values: Vec<f32>,
}

fn noise_field(rng: &mut ChaCha8Rng, gw: usize, gh: usize) -> NoiseField {
    NoiseField {
        gw,
        gh,
        values: (0..gw * gh).map(|_| normal(rng)).collect(),
    }
}

impl NoiseField {
    fn at(&self, fx: f32, fy: f32) -> f32 {
        let x = fx * (self.gw - 1) as f32;
        let y = fy * (self.gh - 1) as f32;
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.gw - 1), (y0 + 1).min(self.gh - 1));
        let (tx, ty) = (x - x0 as f32, y - y0 as f32);
        let v = |xx: usize, yy: usize| self.values[yy * self.gw + xx];
        lerp(
            lerp(v(x0, y0), v(x1, y0), tx),
            lerp(v(x0, y1), v(x1, y1), tx),
            ty,
        )
    }
}
