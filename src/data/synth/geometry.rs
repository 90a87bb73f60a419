//! Face geometry: the 68 iBUG points in the face's own frame (jaw, brows, nose, eyes, lips), the
//! pose that projects them into the aligned image, and the jaw-line helpers the hair follows.

use std::f32::consts::PI;

use crate::data::landmarks::{
    JAW, LEFT_BROW, LEFT_EYE, N_POINTS, NOSE_BASE, RIGHT_BROW, RIGHT_EYE,
};
use crate::data::protocol::Protocol;

use super::identity::{Identity, Shot};
use super::math::{V2, V3, add2, len2, lerp, lerp2, sub2};

/// Yaw, pitch, roll, scale and shift from the face's frame to the aligned image. The middle of
/// the eye line stays at CelebA's eye position, as alignment by the eyes would leave it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pose {
    cos_yaw: f32,
    sin_yaw: f32,
    cos_pitch: f32,
    sin_pitch: f32,
    cos_roll: f32,
    sin_roll: f32,
    pub(super) scale: f32,
    origin: V2,
    anchor: V2,
}

/// Where the middle of the eye line sits in CelebA's aligned images.
const EYE_MID: V2 = [89.0, 112.0];

impl Pose {
    fn new(shot: &Shot, scale: f32, shift: V2, anchor_z: f32) -> Self {
        let mut pose = Self {
            cos_yaw: shot.yaw.cos(),
            sin_yaw: shot.yaw.sin(),
            cos_pitch: shot.pitch.cos(),
            sin_pitch: shot.pitch.sin(),
            cos_roll: shot.roll.cos(),
            sin_roll: shot.roll.sin(),
            scale,
            origin: add2(EYE_MID, shift),
            anchor: [0.0, 0.0],
        };
        pose.anchor = pose.rotate([0.0, 0.0, anchor_z]);
        pose
    }

    /// Yaw then pitch, orthographic.
    fn rotate(&self, p: V3) -> V2 {
        let x = p[0] * self.cos_yaw + p[2] * self.sin_yaw;
        let z = -p[0] * self.sin_yaw + p[2] * self.cos_yaw;
        let y = p[1] * self.cos_pitch - z * self.sin_pitch;
        [x, y]
    }

    fn project(&self, p: V3) -> V2 {
        let [x, y] = sub2(self.rotate(p), self.anchor);
        let xr = self.cos_roll * x - self.sin_roll * y;
        let yr = self.sin_roll * x + self.cos_roll * y;
        [
            self.origin[0] + self.scale * xr,
            self.origin[1] + self.scale * yr,
        ]
    }
}

/// A face placed in the image: its pose and its 68 points.
pub(super) struct Face {
    pub(super) pose: Pose,
    /// Points in the face's frame, with depth.
    pub(super) canon: [V3; N_POINTS],
    /// Points in the image.
    pub(super) pts: [V2; N_POINTS],
}

impl Face {
    pub(super) fn build(id: &Identity, shot: &Shot) -> Self {
        let canon = canonical_points(id, shot);
        let anchor_z = id.surface_z(id.eye_half_spacing, 1.3) - 4.0;
        let protocol = Protocol::default();
        let (lo_x, lo_y) = (protocol.crop_x as f32 + 1.0, protocol.crop_y as f32 + 1.0);
        let (hi_x, hi_y) = (
            (protocol.crop_x + protocol.hr_size) as f32 - 1.0,
            (protocol.crop_y + protocol.hr_size) as f32 - 1.0,
        );
        let (mut scale, mut shift) = (shot.scale, shot.shift);
        // A large face, pose and open mouth together can push the chin out of the HR crop; the
        // face then shrinks a little, so that every point stays inside.
        loop {
            let pose = Pose::new(shot, scale, shift, anchor_z);
            let pts = canon.map(|p| pose.project(p));
            let inside = pts
                .iter()
                .all(|p| p[0] >= lo_x && p[0] <= hi_x && p[1] >= lo_y && p[1] <= hi_y);
            if inside || scale < 0.6 {
                return Self { pose, canon, pts };
            }
            scale *= 0.97;
            shift = [shift[0] * 0.7, shift[1] * 0.7];
        }
    }

    pub(super) fn p(&self, i: usize) -> V2 {
        self.pts[i]
    }

    /// A point of the face's frame, on the head's surface, in the image.
    pub(super) fn surface(&self, id: &Identity, x: f32, y: f32) -> V2 {
        self.pose.project([x, y, id.surface_z(x, y)])
    }

    /// A point of the face's frame at depth `z`, in the image.
    pub(super) fn at(&self, x: f32, y: f32, z: f32) -> V2 {
        self.pose.project([x, y, z])
    }

    pub(super) fn range(&self, r: std::ops::Range<usize>) -> Vec<V2> {
        self.pts[r].to_vec()
    }
}

/// The 68 points in the face's frame (iBUG order), with depth.
fn canonical_points(id: &Identity, shot: &Shot) -> [V3; N_POINTS] {
    let mut p = [[0.0f32; 3]; N_POINTS];
    let z = |x: f32, y: f32| id.surface_z(x, y);

    // Jaw: a superellipse from the ears to the chin, with points spaced evenly along it as dlib's
    // are; an open mouth drops the chin.
    let jaw_drop = 0.45 * shot.mouth_gap;
    let half = jaw_half(id);
    let depth = id.chin_drop - id.ear_level;
    for k in 0..9 {
        let [x, y] = half[k];
        let t = ((y - id.ear_level) / depth).clamp(0.0, 1.0);
        let y = y + jaw_drop * t * t;
        let left = [-x * (1.0 - id.asym[3]), y];
        let right = [x * (1.0 + id.asym[3]), y];
        p[JAW.start + k] = [left[0], left[1], z(left[0], left[1])];
        p[JAW.end - 1 - k] = [right[0], right[1], z(right[0], right[1])];
    }

    // Brows, outer end to inner end for the subject's right brow (image left).
    let raise = shot.brow_raise;
    for side in [-1.0f32, 1.0] {
        let cx = side * id.eye_half_spacing;
        let lift = if side < 0.0 { id.asym[1] } else { -id.asym[1] } * 0.5;
        for k in 0..5 {
            let u = k as f32 / 4.0;
            // Outer end at u = 0; x runs from outer to inner.
            let x = cx + side * (0.59 - u) * id.brow_length;
            let shape = ((u - 0.48) / 0.52).abs().powf(2.4);
            let y = -id.brow_height + id.brow_arch * shape - raise * (2.0 + 1.5 * u) + lift;
            let index = if side < 0.0 {
                RIGHT_BROW.start + k
            } else {
                LEFT_BROW.end - 1 - k
            };
            p[index] = [x, y, z(x, y) + 2.0];
        }
    }

    // Nose: bridge from the eye line to the tip, then the base from wing to wing.
    let nl = id.nose_length;
    let nw = id.nose_half_width;
    let bridge = [(0.5, 1.0), (nl * 0.34, 4.0), (nl * 0.67, 7.5), (nl, 11.0)];
    for (k, (y, dz)) in bridge.into_iter().enumerate() {
        p[27 + k] = [0.0, y, z(0.0, y) + dz];
    }
    let base = [
        (-nw, nl + 4.8, 2.0),
        (-nw * 0.5, nl + 6.3, 5.0),
        (0.0, nl + 7.6, 6.0),
        (nw * 0.5, nl + 6.3, 5.0),
        (nw, nl + 4.8, 2.0),
    ];
    for (k, (x, y, dz)) in base.into_iter().enumerate() {
        p[NOSE_BASE.start + k] = [x, y, z(x, y) + dz];
    }

    // Eyes: corners on a tilted line, lids above and below it.
    for side in [-1.0f32, 1.0] {
        let cx = side * id.eye_half_spacing;
        let cy = 1.3 + side * id.asym[0] * 0.5;
        let w = id.eye_width;
        let open = shot.eye_open;
        let up = 0.69 * id.eye_height * open;
        let lo = 0.31 * id.eye_height * (0.6 + 0.4 * open);
        // f runs from the outer corner (-0.5) to the inner corner (+0.5).
        let at = |f: f32, dy: f32| {
            let x = cx - side * f * w;
            let y = cy + id.eye_tilt * f + dy;
            [x, y, z(x, y) - 4.0]
        };
        let outer = at(-0.5, 0.0);
        let upper_outer = at(-0.19, -up);
        let upper_inner = at(0.18, -up * 0.97);
        let inner = at(0.5, 0.0);
        let lower_inner = at(0.16, lo);
        let lower_outer = at(-0.2, lo * 1.05);
        if side < 0.0 {
            p[RIGHT_EYE.start..RIGHT_EYE.end].copy_from_slice(&[
                outer,
                upper_outer,
                upper_inner,
                inner,
                lower_inner,
                lower_outer,
            ]);
        } else {
            p[LEFT_EYE.start..LEFT_EYE.end].copy_from_slice(&[
                inner,
                upper_inner,
                upper_outer,
                outer,
                lower_outer,
                lower_inner,
            ]);
        }
    }

    // Lips: the lip line y0, corners lifted by a smile, the lower lip dropped by the opening.
    let smile = shot.smile;
    let gap = shot.mouth_gap;
    let y0 = nl + 7.6 + id.philtrum + id.upper_lip;
    let mw = id.mouth_half_width + 2.2 * smile;
    let ul = id.upper_lip;
    let ll = id.lower_lip;
    let corner = |side: f32| y0 + 0.3 - 2.8 * smile + side * id.asym[2] * 0.5;
    let mut put = |i: usize, x: f32, y: f32, dz: f32| p[i] = [x, y, z(x, y) + dz];
    put(48, -mw, corner(-1.0), 0.5);
    put(49, -0.64 * mw, y0 - 0.72 * ul - 0.8 * smile, 2.5);
    put(50, -0.28 * mw, y0 - ul, 3.0);
    put(51, 0.0, y0 - ul + id.cupid, 3.0);
    put(52, 0.28 * mw, y0 - ul, 3.0);
    put(53, 0.64 * mw, y0 - 0.72 * ul - 0.8 * smile, 2.5);
    put(54, mw, corner(1.0), 0.5);
    let lower = |f: f32| y0 + gap * f * (1.0 + 0.1 * smile);
    put(55, 0.64 * mw, lower(0.75) + ll * 0.75 - smile, 2.0);
    put(56, 0.28 * mw, lower(0.95) + ll * 0.97, 2.5);
    put(57, 0.0, lower(1.0) + ll, 2.5);
    put(58, -0.28 * mw, lower(0.95) + ll * 0.97, 2.5);
    put(59, -0.64 * mw, lower(0.75) + ll * 0.75 - smile, 2.0);
    let inner_corner = |side: f32| lerp(corner(side), y0, 0.3);
    put(60, -(mw - 2.6), inner_corner(-1.0), 1.0);
    put(61, -0.27 * mw, y0 - 0.1, 1.5);
    put(62, 0.0, y0, 1.5);
    put(63, 0.27 * mw, y0 - 0.1, 1.5);
    put(64, mw - 2.6, inner_corner(1.0), 1.0);
    put(65, 0.27 * mw, y0 - 0.1 + lower(0.93) - y0, 1.5);
    put(66, 0.0, lower(1.0), 1.5);
    put(67, -0.27 * mw, y0 - 0.1 + lower(0.93) - y0, 1.5);
    p
}

/// Nine points along the image-right half of the jaw, from the ear (point 17) to the chin
/// (point 9), evenly spaced along the curve.
fn jaw_half(id: &Identity) -> [V2; 9] {
    const SAMPLES: usize = 256;
    let n = id.jaw_exponent;
    let curve: Vec<V2> = (0..=SAMPLES)
        .map(|i| {
            let phi = (i as f32 / SAMPLES as f32) * PI / 2.0;
            [
                id.half_width * phi.cos().max(0.0).powf(2.0 / n),
                id.ear_level + (id.chin_drop - id.ear_level) * phi.sin().max(0.0).powf(2.0 / n),
            ]
        })
        .collect();
    let mut cumulative = vec![0.0f32; curve.len()];
    for i in 1..curve.len() {
        cumulative[i] = cumulative[i - 1] + len2(sub2(curve[i], curve[i - 1]));
    }
    let total = cumulative[SAMPLES];
    let mut out = [[0.0; 2]; 9];
    let mut j = 0;
    for (k, slot) in out.iter_mut().enumerate() {
        let target = total * k as f32 / 8.0;
        while j + 1 < SAMPLES && cumulative[j + 1] < target {
            j += 1;
        }
        let span = (cumulative[j + 1] - cumulative[j]).max(1e-6);
        let t = ((target - cumulative[j]) / span).clamp(0.0, 1.0);
        *slot = lerp2(curve[j], curve[j + 1], t);
    }
    out[8] = [0.0, id.chin_drop];
    out
}

/// The point at angle `theta` (0 image right, pi/2 up) of a superellipse with half axes `rx`,
/// `ry` and exponent `n` (2 an ellipse, larger boxier), relative to its centre.
pub(super) fn superellipse(theta: f32, rx: f32, ry: f32, n: f32) -> V2 {
    let (c, s) = (theta.cos(), theta.sin());
    [
        rx * c.signum() * c.abs().powf(2.0 / n),
        -ry * s.signum() * s.abs().powf(2.0 / n),
    ]
}

/// The jaw line's half width at height `y` of the face's frame (for hair that frames the face).
pub(super) fn jaw_x_at(id: &Identity, y: f32) -> f32 {
    if y <= id.ear_level {
        return id.half_width;
    }
    let t = ((y - id.ear_level) / (id.chin_drop - id.ear_level)).clamp(0.0, 1.0);
    let s = t.powf(id.jaw_exponent / 2.0);
    id.half_width * (1.0 - s * s).max(0.0).sqrt().powf(2.0 / id.jaw_exponent)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::data::landmarks::Landmarks68;

    /// A mirrored face's points are the mirrored points: a face turned by `yaw` and the same
    /// face turned by `-yaw` are each other's mirror images (with its asymmetries, roll and
    /// sideways shift set to zero), so flipping the first one's points about the image's
    /// vertical midline with the iBUG renumbering must land on the second one's, point by point.
    #[test]
    fn a_mirrored_face_has_the_mirrored_points() {
        let width = 178.0; // the aligned image; EYE_MID sits on its midline
        for seed in 0..8u64 {
            let mut id = Identity::sample(&mut ChaCha8Rng::seed_from_u64(seed));
            id.asym = [0.0; 4];
            let mut shot = Shot::sample(&mut ChaCha8Rng::seed_from_u64(100 + seed));
            shot.roll = 0.0;
            shot.shift[0] = 0.0;
            shot.yaw = 0.05 + 0.03 * seed as f32;
            let turned = Landmarks68(Face::build(&id, &shot).pts);
            shot.yaw = -shot.yaw;
            let mirror_image = Landmarks68(Face::build(&id, &shot).pts);
            let flipped = turned.mirrored(width);
            for i in 0..N_POINTS {
                let (a, b) = (flipped.0[i], mirror_image.0[i]);
                assert!(
                    (a[0] - b[0]).abs() < 1e-3 && (a[1] - b[1]).abs() < 1e-3,
                    "seed {seed}, point {}: mirrored {a:?}, mirror face's {b:?}",
                    i + 1
                );
            }
            // And the renumbering is not the identity: without it the eyes would swap sides.
            let unpermuted: Vec<f32> = turned.0.iter().map(|p| width - p[0]).collect();
            assert!((unpermuted[36] - mirror_image.0[36][0]).abs() > 10.0);
        }
    }

    #[test]
    fn the_mirror_permutation_is_an_involution() {
        for (i, &j) in crate::data::landmarks::MIRROR.iter().enumerate() {
            assert_eq!(crate::data::landmarks::MIRROR[j], i, "point {}", i + 1);
        }
    }
}
