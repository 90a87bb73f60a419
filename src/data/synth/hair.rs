//! Hair: the outlines of the identity's hair style placed by the pose, and the painting of its
//! masses and strands.

use std::f32::consts::{PI, TAU};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tiny_skia::{Mask, Path as SkPath, PathBuilder};

use crate::data::landmarks::{LEFT_BROW, RIGHT_BROW};

use super::canvas::{Canvas, H, W, add_to_mask, closed_curve, curve_through, new_mask};
use super::geometry::{Face, jaw_x_at, superellipse};
use super::identity::{Fringe, HairLength, Identity};
use super::math::{Rgb, V2, add2, len2, lerp, lerp2, mix_rgb, scale_rgb, sub2, uniform};

/// Hair shapes in image coordinates.
pub(super) struct HairShapes {
    /// Hair behind the head (bob and long hair), drawn before the face.
    pub(super) back: Option<SkPath>,
    /// Hair on the head, drawn after the face.
    pub(super) front: Option<SkPath>,
    /// A shaved head's stubble, drawn thinly over the skull.
    pub(super) stubble: Option<SkPath>,
    /// The edge between hair and forehead, left to right.
    pub(super) hairline: Vec<V2>,
    /// The outer edge of the back hair, for loose strands.
    back_edge: Vec<V2>,
    /// The outer edge of the hair on the head.
    front_edge: Vec<V2>,
    /// Where strands flow from.
    crown: V2,
}

/// Hair outlines for the identity's style, placed by the pose.
pub(super) fn hair_shapes(id: &Identity, face: &Face) -> HairShapes {
    let w = id.half_width;
    let vol = id.hair_volume;
    let crown = face.surface(id, id.part * 14.0, -78.0);
    let bald = id.hair_length == HairLength::Bald;
    let bumps = |theta: f32| {
        if id.curly {
            1.0 + 0.035 * (theta * 11.0 + id.part * 5.0).sin()
        } else {
            1.0
        }
    };

    // The hairline, from the image-left temple to the image-right temple.
    let brow_top = face.canon[RIGHT_BROW.start..LEFT_BROW.end]
        .iter()
        .map(|p| p[1])
        .fold(f32::INFINITY, f32::min)
        - id.brow_thickness
        - 2.0;
    let temple = w - 1.5;
    let mut hairline_canon = Vec::new();
    for k in 0..=24 {
        let x = -temple + 2.0 * temple * k as f32 / 24.0;
        let a = (x.abs() / temple).min(1.0);
        let full = if bald {
            id.hairline + 14.0
        } else {
            id.hairline
        };
        let mut y = match id.fringe {
            Fringe::None => {
                -full + (full - 4.0) * a.powf(3.2)
                    - id.recede * (-((a - 0.55) / 0.18).powi(2)).exp()
            }
            Fringe::Bangs => {
                let wave = 0.9 * (x * 0.8 + id.part * 3.0).sin();
                -id.bangs + (id.bangs - 4.0) * a.powi(6) + wave
            }
            Fringe::Swept => {
                let toward = (x * id.part.signum() / temple + 1.0) * 0.5;
                let s = toward * toward * (3.0 - 2.0 * toward);
                let base = lerp(-id.bangs * 0.9, -full * 0.95, s);
                base + (-4.0 - base) * a.powi(5)
            }
        };
        if a < 0.9 {
            y = y.min(brow_top);
        }
        hairline_canon.push([x, y]);
    }
    let hairline: Vec<V2> = hairline_canon
        .iter()
        .map(|p| face.surface(id, p[0], p[1]))
        .collect();

    let long = matches!(id.hair_length, HairLength::Bob | HairLength::Long);
    let side_bottom = if long { 16.0 } else { 7.0 };

    // Front: over the top from the image-right side to the image-left side, down the side, along
    // the hairline and back up the other side.
    let rx = w + 6.0 + vol * 0.8;
    let ry = 88.0 + vol * 0.6;
    let mut front = Vec::new();
    front.push(face.surface(id, rx, side_bottom));
    for k in 0..=24 {
        let theta = PI * k as f32 / 24.0;
        let [x, y] = superellipse(theta, rx * bumps(theta), ry * bumps(theta), 2.5);
        front.push(face.at(x, id.ear_level - 2.0 + y, 0.0));
    }
    front.push(face.surface(id, -rx, side_bottom));
    let dome_end = front.len();
    // Down the face's left side, in front of the ear.
    let side_inner = |y: f32| jaw_x_at(id, y) + if long { 1.5 } else { 0.5 };
    for &y in &[side_bottom, side_bottom * 0.5, -4.0] {
        front.push(face.surface(id, -side_inner(y), y));
    }
    front.extend(hairline.iter().copied());
    for &y in &[-4.0, side_bottom * 0.5, side_bottom] {
        front.push(face.surface(id, side_inner(y), y));
    }
    let mut front_edge = Vec::new();
    let mut back_edge = Vec::new();
    let front_path = if bald {
        // Only a short band above the ears keeps its hair; the top is stubble (drawn thin, on
        // the skull only).
        let band = |side: f32| -> Vec<V2> {
            [
                (w + 1.5, side_bottom),
                (w + 4.0, -14.0),
                (w + 3.0, -30.0),
                (w - 3.0, -24.0),
                (w - 3.5, -6.0),
                (w - 1.0, side_bottom),
            ]
            .iter()
            .map(|&(x, y)| face.surface(id, side * x, y))
            .collect()
        };
        let mut pb = PathBuilder::new();
        for side in [&band(-1.0), &band(1.0)] {
            pb.move_to(side[0][0], side[0][1]);
            curve_through(&mut pb, side);
            pb.close();
        }
        pb.finish()
    } else {
        front_edge = front[..dome_end].to_vec();
        closed_curve(&front)
    };

    let back = if long {
        let bottom = if id.hair_length == HairLength::Long {
            118.0
        } else {
            58.0 + vol
        };
        let flare = if id.hair_length == HairLength::Long {
            14.0 + vol
        } else {
            7.0 + vol
        };
        let brx = rx + 3.0;
        let bry = ry + 2.0;
        let mut pts = vec![face.at(brx + flare, bottom, -10.0)];
        pts.push(face.at(brx + flare * 0.5, bottom * 0.5, -10.0));
        for k in 0..=24 {
            let theta = PI * k as f32 / 24.0;
            let r = bumps(theta + 0.3);
            let [x, y] = superellipse(theta, brx * r, bry * r, 2.5);
            pts.push(face.at(x, id.ear_level - 2.0 + y, -10.0));
        }
        pts.push(face.at(-brx - flare * 0.5, bottom * 0.5, -10.0));
        pts.push(face.at(-brx - flare, bottom, -10.0));
        pts.push(face.at(0.0, bottom + 6.0, -10.0));
        back_edge = pts[..pts.len() - 1].to_vec();
        closed_curve(&pts)
    } else {
        None
    };

    let stubble = if bald { closed_curve(&front) } else { None };
    HairShapes {
        back,
        front: front_path,
        stubble,
        hairline,
        back_edge,
        front_edge,
        crown,
    }
}

/// Which of [`HairShapes`]' masses to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HairMass {
    Back,
    Front,
}

/// A mass of hair: a soft-edged fill, strands inside it and a few loose strands across its outer
/// edge. Returns the mass's mask.
pub(super) fn draw_hair_mass(
    canvas: &mut Canvas,
    id: &Identity,
    hair: &HairShapes,
    which: HairMass,
    rng: &mut ChaCha8Rng,
) -> Mask {
    let (path, edge, colour, count) = match which {
        // Behind the head, in its shade; the head's lighting leaves it alone.
        HairMass::Back => (&hair.back, &hair.back_edge, scale_rgb(id.hair, 0.8), 240),
        HairMass::Front => (&hair.front, &hair.front_edge, id.hair, 320),
    };
    let mut mask = new_mask();
    add_to_mask(&mut mask, path);
    if path.is_none() {
        return mask;
    }
    let mut layer = Canvas::new();
    layer.fill(path.clone(), colour, 1.0, None);
    layer.blur(1);
    canvas.composite(&layer, None);
    draw_strands(canvas, id, colour, hair, &mask, rng, count);
    if edge.len() >= 2 {
        for _ in 0..50 {
            let i = rng.random_range(0..edge.len() - 1);
            let p = lerp2(edge[i], edge[i + 1], rng.random::<f32>());
            let out = sub2(p, hair.crown);
            let d = len2(out).max(1.0);
            let out = [out[0] / d, out[1] / d];
            let length = uniform(rng, 2.0, if id.curly { 5.0 } else { 7.0 });
            let bend = uniform(rng, -2.0, 2.0);
            let start = add2(p, [-out[0] * 2.5, -out[1] * 2.5]);
            let end = add2(p, [out[0] * length, out[1] * length]);
            let mut pb = PathBuilder::new();
            pb.move_to(start[0], start[1]);
            pb.quad_to(p[0] - out[1] * bend, p[1] + out[0] * bend, end[0], end[1]);
            canvas.stroke(
                pb.finish(),
                scale_rgb(colour, uniform(rng, 0.7, 1.3)),
                uniform(rng, 0.25, 0.5),
                uniform(rng, 0.5, 1.0),
                None,
            );
        }
    }
    mask
}

/// Thin strokes of lighter and darker hair flowing away from the crown, clipped to `mask`.
fn draw_strands(
    canvas: &mut Canvas,
    id: &Identity,
    colour: Rgb,
    hair: &HairShapes,
    mask: &Mask,
    rng: &mut ChaCha8Rng,
    count: usize,
) {
    let data = mask.data();
    let mut drawn = 0;
    let mut tries = 0;
    while drawn < count && tries < count * 8 {
        tries += 1;
        let x = uniform(rng, 0.0, W as f32);
        let y = uniform(rng, 0.0, H as f32);
        if data[(y as usize).min(H as usize - 1) * W as usize + (x as usize).min(W as usize - 1)]
            < 128
        {
            continue;
        }
        drawn += 1;
        let from_crown = sub2([x, y], hair.crown);
        let d = len2(from_crown).max(1.0);
        let mut dir = [from_crown[0] / d, from_crown[1] / d];
        if y > hair.crown[1] + 60.0 {
            // Long hair falls.
            dir = [dir[0] * 0.4, 1.0];
        }
        let (length, bend) = if id.curly {
            (uniform(rng, 3.0, 8.0), uniform(rng, -4.0, 4.0))
        } else {
            (uniform(rng, 8.0, 26.0), uniform(rng, -3.0, 3.0))
        };
        if id.curly {
            let a = uniform(rng, 0.0, TAU);
            dir = [a.cos(), a.sin()];
        }
        let end = [x + dir[0] * length, y + dir[1] * length];
        let mid = [
            x + dir[0] * length * 0.5 - dir[1] * bend,
            y + dir[1] * length * 0.5 + dir[0] * bend,
        ];
        let mut pb = PathBuilder::new();
        pb.move_to(x, y);
        pb.quad_to(mid[0], mid[1], end[0], end[1]);
        let c = if rng.random_bool(0.5) {
            mix_rgb(colour, [1.0, 0.97, 0.9], uniform(rng, 0.08, 0.25))
        } else {
            scale_rgb(colour, uniform(rng, 0.4, 0.8))
        };
        canvas.stroke(
            pb.finish(),
            c,
            uniform(rng, 0.3, 0.6),
            uniform(rng, 0.5, 1.2),
            Some(mask),
        );
    }
}
