//! The 68-point iBUG / Multi-PIE landmark layout (as dlib's predictor and 300-W use it).
//!
//! Indices here are 0-based; the literature and PROTOCOL.md count from 1 (PROTOCOL's "points 37
//! and 46" are indices 36 and 45). "Right" and "left" are the subject's, as in iBUG: the subject's
//! right eye (points 37-42) appears on the image's left.

use std::ops::Range;

/// Number of landmark points.
pub const N_POINTS: usize = 68;

/// Jaw line, from the subject's right ear to the left (points 1-17).
pub const JAW: Range<usize> = 0..17;
/// Subject's right eyebrow, image left (points 18-22).
pub const RIGHT_BROW: Range<usize> = 17..22;
/// Subject's left eyebrow, image right (points 23-27).
pub const LEFT_BROW: Range<usize> = 22..27;
/// Nose bridge, top to tip (points 28-31).
pub const NOSE_BRIDGE: Range<usize> = 27..31;
/// Lower nose, from the right nostril wing to the left (points 32-36).
pub const NOSE_BASE: Range<usize> = 31..36;
/// Subject's right eye, image left, clockwise from the outer corner (points 37-42).
pub const RIGHT_EYE: Range<usize> = 36..42;
/// Subject's left eye, image right, clockwise from the inner corner (points 43-48).
pub const LEFT_EYE: Range<usize> = 42..48;
/// Outer lip contour, clockwise from the right mouth corner (points 49-60).
pub const OUTER_LIPS: Range<usize> = 48..60;
/// Inner lip contour, clockwise from the right inner corner (points 61-68).
pub const INNER_LIPS: Range<usize> = 60..68;

/// Outer corner of the subject's right eye (point 37).
pub const RIGHT_EYE_OUTER: usize = 36;
/// Outer corner of the subject's left eye (point 46).
pub const LEFT_EYE_OUTER: usize = 45;
/// Nose tip (point 31).
pub const NOSE_TIP: usize = 30;
/// Right mouth corner (point 49).
pub const MOUTH_RIGHT: usize = 48;
/// Left mouth corner (point 55).
pub const MOUTH_LEFT: usize = 54;

/// For each point, the index of its mirror partner in the iBUG layout: the point that a
/// horizontally mirrored face has at this index. A mirror turns the subject's right into their
/// left, so a flipped face's point `i` is the original's point `MIRROR[i]` (mirrored in x). Points
/// on the face's midline (nose bridge, nose tip, lip middles) are their own partners.
pub const MIRROR: [usize; N_POINTS] = {
    let mut m = [0usize; N_POINTS];
    let mut i = 0;
    while i < N_POINTS {
        m[i] = match i {
            // Jaw line, ear to ear.
            0..=16 => 16 - i,
            // Brows: right 17-21 (outer to inner) against left 22-26 (inner to outer).
            17..=26 => 43 - i,
            // Nose bridge.
            27..=30 => i,
            // Lower nose, wing to wing.
            31..=35 => 66 - i,
            // Eyes: corner against corner, upper lid against upper lid.
            36..=39 => 81 - i,
            40 | 41 => 87 - i,
            42..=45 => 81 - i,
            46 | 47 => 87 - i,
            // Outer lips: corners 48/54, upper lip 49-53, lower lip 55-59.
            48..=54 => 102 - i,
            55..=59 => 114 - i,
            // Inner lips: corners 60/64, upper 61-63, lower 65-67.
            60..=64 => 124 - i,
            _ => 132 - i,
        };
        i += 1;
    }
    m
};

/// 68 landmark points `[x, y]` in pixel coordinates of some image (pixel centres at integer +0.5
/// are not assumed: coordinates are as the annotation file gives them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Landmarks68(pub [[f32; 2]; N_POINTS]);

impl Landmarks68 {
    /// Builds landmarks from 136 numbers `x1 y1 x2 y2 ...`.
    pub fn from_flat(values: &[f32]) -> Option<Self> {
        if values.len() != 2 * N_POINTS {
            return None;
        }
        let mut points = [[0.0f32; 2]; N_POINTS];
        for (i, p) in points.iter_mut().enumerate() {
            *p = [values[2 * i], values[2 * i + 1]];
        }
        Some(Self(points))
    }

    /// The 136 numbers `x1 y1 x2 y2 ...`.
    pub fn to_flat(&self) -> Vec<f32> {
        self.0.iter().flat_map(|p| [p[0], p[1]]).collect()
    }

    /// The points shifted by `(-dx, -dy)`, as for a crop whose top-left corner is `(dx, dy)`.
    pub fn translated(&self, dx: f32, dy: f32) -> Self {
        let mut out = *self;
        for p in out.0.iter_mut() {
            p[0] -= dx;
            p[1] -= dy;
        }
        out
    }

    /// The points multiplied by `s` (as for an image resized by `s`).
    pub fn scaled(&self, s: f32) -> Self {
        let mut out = *self;
        for p in out.0.iter_mut() {
            p[0] *= s;
            p[1] *= s;
        }
        out
    }

    /// The points of the horizontally mirrored image (`width` pixels wide, pixel `i` covering
    /// `[i, i + 1)`, so `x` becomes `width - x`), renumbered with [`MIRROR`] so that each index
    /// keeps its meaning (point 37 is still the outer corner of the subject's right eye).
    pub fn mirrored(&self, width: f32) -> Self {
        let mut out = *self;
        for (i, p) in out.0.iter_mut().enumerate() {
            let q = self.0[MIRROR[i]];
            *p = [width - q[0], q[1]];
        }
        out
    }

    /// Mean of a range of points.
    pub fn centroid(&self, range: Range<usize>) -> [f32; 2] {
        let n = range.len() as f32;
        let (sx, sy) = self.0[range]
            .iter()
            .fold((0.0, 0.0), |(sx, sy), p| (sx + p[0], sy + p[1]));
        [sx / n, sy / n]
    }

    /// CelebA's five points derived from the 68: right eye centre, left eye centre, nose tip,
    /// right and left mouth corner (in CelebA's file order: lefteye, righteye, nose, leftmouth,
    /// rightmouth, where CelebA's "left" is the image's left).
    pub fn five_points(&self) -> [[f32; 2]; 5] {
        [
            self.centroid(RIGHT_EYE),
            self.centroid(LEFT_EYE),
            self.0[NOSE_TIP],
            self.0[MOUTH_RIGHT],
            self.0[MOUTH_LEFT],
        ]
    }

    /// Distance between the outer eye corners (points 37 and 46), PROTOCOL's NRMSE normaliser.
    pub fn outer_eye_distance(&self) -> f32 {
        let a = self.0[RIGHT_EYE_OUTER];
        let b = self.0[LEFT_EYE_OUTER];
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
    }

    /// True when every coordinate is finite.
    pub fn is_finite(&self) -> bool {
        self.0.iter().all(|p| p[0].is_finite() && p[1].is_finite())
    }
}
