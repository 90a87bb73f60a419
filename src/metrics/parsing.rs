//! Face parsing maps drawn from 68 landmark points, and their mean IoU, as `docs/PROTOCOL.md`
//! ("Parsing IoU") fixes them. The paper (Sec. 4) scores hallucinated faces by the IoU of parsing
//! maps; here the maps are drawn from the evaluation detector's 68 points, so the score measures
//! how well the face's parts are placed and shaped.
//!
//! # Geometry
//! Coordinates are those of the 128x128 HR crop. Pixel `(i, j)` (column `i`, row `j`) covers
//! `[i, i + 1) x [j, j + 1)` and belongs to a polygon when its centre `(i + 0.5, j + 0.5)` is
//! inside it by the even-odd rule, with PNPOLY's half-open conventions: an edge crosses the row
//! at height `y` when exactly one of its ends has a coordinate `> y`, and a centre lying exactly
//! on a crossing is inside when that crossing opens a span and outside when it closes one. The
//! fill is a plain f64 scanline fill, exact and deterministic; nothing is anti-aliased.
//!
//! # Classes and polygons (1-based iBUG point numbers), in paint order
//! Each class is painted over the ones before it, so the order below decides overlaps:
//! 1. [`FaceClass::Skin`]: jaw line 1..17, then the brows 27..18 (reversed) closing it on top.
//! 2. [`FaceClass::RightBrow`] (points 18..22) and 3. [`FaceClass::LeftBrow`] (23..27): a brow is
//!    a 5-point polyline, thickened into a polygon by moving it [`BROW_HALF_WIDTH`] pixels up
//!    (points in order) and down (points reversed), i.e. a band 3 px tall.
//! 4. [`FaceClass::RightEye`] (37..42) and 5. [`FaceClass::LeftEye`] (43..48).
//! 6. [`FaceClass::Nose`]: the bridge top 28, then the nose base 32..36.
//! 7. [`FaceClass::UpperLip`]: outer lip 49..55, then inner lip 65..61 (reversed).
//! 8. [`FaceClass::LowerLip`]: outer lip 55..60 and 49, then inner lip 61, 68..65.
//! 9. [`FaceClass::InnerMouth`]: inner lip 61..68 (empty when the mouth is closed).

use image::{Rgb, RgbImage};

use std::ops::Range;

use crate::data::landmarks::{
    INNER_LIPS, JAW, LEFT_BROW, LEFT_EYE, Landmarks68, MOUTH_LEFT, NOSE_BASE, NOSE_BRIDGE,
    OUTER_LIPS, RIGHT_BROW, RIGHT_EYE,
};
use crate::data::protocol::HR_SIZE;
use crate::{Error, Result};

/// Side of the parsing maps that the protocol compares (the HR crop's size).
pub const PARSING_SIZE: u32 = HR_SIZE;

/// Half the height, in pixels, of the band that a brow's polyline is thickened into.
pub const BROW_HALF_WIDTH: f64 = 1.5;

/// The classes of a parsing map. "Right" and "left" are the subject's, as in iBUG. The numeric
/// value is the label, and classes are painted in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum FaceClass {
    Background = 0,
    Skin = 1,
    RightBrow = 2,
    LeftBrow = 3,
    RightEye = 4,
    LeftEye = 5,
    Nose = 6,
    UpperLip = 7,
    LowerLip = 8,
    InnerMouth = 9,
}

impl FaceClass {
    /// Every class, by label.
    pub const ALL: [FaceClass; 10] = [
        FaceClass::Background,
        FaceClass::Skin,
        FaceClass::RightBrow,
        FaceClass::LeftBrow,
        FaceClass::RightEye,
        FaceClass::LeftEye,
        FaceClass::Nose,
        FaceClass::UpperLip,
        FaceClass::LowerLip,
        FaceClass::InnerMouth,
    ];

    /// The class's label (its index in [`FaceClass::ALL`]).
    pub fn label(self) -> u8 {
        self as u8
    }

    /// The class with this label, if any.
    pub fn from_label(label: u8) -> Option<Self> {
        Self::ALL.get(usize::from(label)).copied()
    }

    /// A short lowercase name, for legends and tables.
    pub fn name(self) -> &'static str {
        match self {
            FaceClass::Background => "background",
            FaceClass::Skin => "skin",
            FaceClass::RightBrow => "right brow",
            FaceClass::LeftBrow => "left brow",
            FaceClass::RightEye => "right eye",
            FaceClass::LeftEye => "left eye",
            FaceClass::Nose => "nose",
            FaceClass::UpperLip => "upper lip",
            FaceClass::LowerLip => "lower lip",
            FaceClass::InnerMouth => "inner mouth",
        }
    }
}

/// A class per pixel, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsingMap {
    width: u32,
    height: u32,
    classes: Vec<FaceClass>,
}

impl ParsingMap {
    /// A map of `width x height` background pixels.
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            classes: vec![FaceClass::Background; width as usize * height as usize],
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The class of pixel `(x, y)`; `None` outside the map.
    pub fn get(&self, x: u32, y: u32) -> Option<FaceClass> {
        (x < self.width && y < self.height)
            .then(|| self.classes[y as usize * self.width as usize + x as usize])
    }

    /// Every pixel's class, row-major.
    pub fn classes(&self) -> &[FaceClass] {
        &self.classes
    }

    /// Number of pixels of `class`.
    pub fn count(&self, class: FaceClass) -> usize {
        self.classes.iter().filter(|&&c| c == class).count()
    }

    /// Paints every pixel whose centre is inside `polygon` (even-odd rule) with `class`.
    /// A polygon with fewer than three vertices paints nothing.
    pub(crate) fn fill_polygon(&mut self, polygon: &[[f64; 2]], class: FaceClass) {
        if polygon.len() < 3 {
            return;
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let mut crossings = Vec::with_capacity(polygon.len());
        for j in 0..h {
            let y = j as f64 + 0.5;
            crossings.clear();
            for (k, p) in polygon.iter().enumerate() {
                let q = polygon[(k + 1) % polygon.len()];
                if (p[1] > y) != (q[1] > y) {
                    crossings.push(p[0] + (y - p[1]) * (q[0] - p[0]) / (q[1] - p[1]));
                }
            }
            crossings.sort_by(f64::total_cmp);
            for span in crossings.chunks_exact(2) {
                // Centres i + 0.5 with span[0] <= i + 0.5 < span[1].
                let start = first_pixel_at_or_after(span[0], w);
                let end = first_pixel_at_or_after(span[1], w);
                if start < end {
                    self.classes[j * w + start..j * w + end].fill(class);
                }
            }
        }
    }
}

/// The smallest column `i` in `0..=w` with `i + 0.5 >= x`, clamped to `0..=w`.
fn first_pixel_at_or_after(x: f64, w: usize) -> usize {
    // Clamp in f64 before the cast, so far-away vertices cannot wrap around.
    (x - 0.5).ceil().clamp(0.0, w as f64) as usize
}

/// The polygons of a face in paint order ([module docs](self)), in the landmarks' coordinates.
///
/// Fails with [`Error::InvalidValue`] when a coordinate is not finite.
pub fn face_polygons(landmarks: &Landmarks68) -> Result<Vec<(FaceClass, Vec<[f64; 2]>)>> {
    if let Some(i) = landmarks
        .0
        .iter()
        .position(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        let [x, y] = landmarks.0[i];
        return Err(Error::invalid(
            "landmarks",
            format!(
                "point {} (1-based) is ({x}, {y}), not finite; no parsing map can be drawn",
                i + 1
            ),
        ));
    }
    let p = |i: usize| landmarks.0[i].map(f64::from);
    let brow = |range: Range<usize>| {
        let up = range.clone().map(|i| {
            let [x, y] = p(i);
            [x, y - BROW_HALF_WIDTH]
        });
        let down = range.rev().map(|i| {
            let [x, y] = p(i);
            [x, y + BROW_HALF_WIDTH]
        });
        up.chain(down).collect::<Vec<_>>()
    };
    let once = std::iter::once;
    Ok(vec![
        (
            FaceClass::Skin,
            // 1..17, then 27..18
            points(
                landmarks,
                JAW.chain((RIGHT_BROW.start..LEFT_BROW.end).rev()),
            ),
        ),
        (FaceClass::RightBrow, brow(RIGHT_BROW)),
        (FaceClass::LeftBrow, brow(LEFT_BROW)),
        (FaceClass::RightEye, points(landmarks, RIGHT_EYE)),
        (FaceClass::LeftEye, points(landmarks, LEFT_EYE)),
        (
            FaceClass::Nose,
            // 28, then 32..36
            points(landmarks, once(NOSE_BRIDGE.start).chain(NOSE_BASE)),
        ),
        (
            FaceClass::UpperLip,
            // 49..55, then 65..61
            points(
                landmarks,
                (OUTER_LIPS.start..=MOUTH_LEFT)
                    .chain((INNER_LIPS.start..INNER_LIPS.start + 5).rev()),
            ),
        ),
        (
            FaceClass::LowerLip,
            // 55..60, 49, then 61, 68..65
            points(
                landmarks,
                (MOUTH_LEFT..OUTER_LIPS.end)
                    .chain(once(OUTER_LIPS.start))
                    .chain(once(INNER_LIPS.start))
                    .chain((INNER_LIPS.start + 4..INNER_LIPS.end).rev()),
            ),
        ),
        (FaceClass::InnerMouth, points(landmarks, INNER_LIPS)),
    ])
}

/// The points at `indices`, widened to f64.
fn points(landmarks: &Landmarks68, indices: impl IntoIterator<Item = usize>) -> Vec<[f64; 2]> {
    indices
        .into_iter()
        .map(|i| landmarks.0[i].map(f64::from))
        .collect()
}

/// The [`PARSING_SIZE`]-square parsing map of a face whose landmarks are in the HR crop's
/// coordinates.
pub fn parsing_map(landmarks: &Landmarks68) -> Result<ParsingMap> {
    parsing_map_sized(landmarks, PARSING_SIZE, PARSING_SIZE)
}

/// The parsing map of a face at any size (landmarks in that map's pixel coordinates).
pub fn parsing_map_sized(landmarks: &Landmarks68, width: u32, height: u32) -> Result<ParsingMap> {
    let mut map = ParsingMap::new(width, height);
    for (class, polygon) in face_polygons(landmarks)? {
        map.fill_polygon(&polygon, class);
    }
    Ok(map)
}

/// Mean IoU between two parsing maps: over the classes other than background that occur in either
/// map, the mean of |a = c and b = c| / |a = c or b = c|.
///
/// Two maps without any face class agree everywhere and score 1, so identical maps always score 1.
/// Fails with [`Error::Mismatch`] when the sizes differ.
pub fn mean_iou(a: &ParsingMap, b: &ParsingMap) -> Result<f64> {
    if (a.width, a.height) != (b.width, b.height) {
        return Err(Error::Mismatch(format!(
            "parsing maps are {}x{} and {}x{}; IoU compares maps of one size",
            a.width, a.height, b.width, b.height
        )));
    }
    let mut intersection = [0usize; FaceClass::ALL.len()];
    let mut union = [0usize; FaceClass::ALL.len()];
    for (&ca, &cb) in a.classes.iter().zip(&b.classes) {
        union[ca as usize] += 1;
        if ca == cb {
            intersection[ca as usize] += 1;
        } else {
            union[cb as usize] += 1;
        }
    }
    let ious: Vec<f64> = (1..FaceClass::ALL.len())
        .filter(|&c| union[c] > 0)
        .map(|c| intersection[c] as f64 / union[c] as f64)
        .collect();
    if ious.is_empty() {
        return Ok(1.0);
    }
    Ok(ious.iter().sum::<f64>() / ious.len() as f64)
}

/// The overlay colour of a class (background is black).
pub fn palette(class: FaceClass) -> [u8; 3] {
    match class {
        FaceClass::Background => [0, 0, 0],
        FaceClass::Skin => [230, 180, 140],
        FaceClass::RightBrow => [120, 70, 20],
        FaceClass::LeftBrow => [200, 120, 40],
        FaceClass::RightEye => [30, 110, 255],
        FaceClass::LeftEye => [0, 210, 210],
        FaceClass::Nose => [250, 220, 0],
        FaceClass::UpperLip => [230, 30, 60],
        FaceClass::LowerLip => [150, 0, 110],
        FaceClass::InnerMouth => [70, 200, 70],
    }
}

/// The map as an RGB image, each pixel in its class's [`palette`] colour.
pub fn colorize(map: &ParsingMap) -> RgbImage {
    let mut image = RgbImage::new(map.width, map.height);
    for (pixel, &class) in image.pixels_mut().zip(&map.classes) {
        *pixel = Rgb(palette(class));
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pixel centres at i + 0.5, half-open spans: a square on pixel edges covers exactly its pixels,
    /// and one with corners on pixel centres takes its top and left rows of centres, not its bottom
    /// and right ones.
    #[test]
    fn polygon_fill_convention() {
        let mut map = ParsingMap::new(32, 32);
        map.fill_polygon(
            &[[10.0, 10.0], [20.0, 10.0], [20.0, 20.0], [10.0, 20.0]],
            FaceClass::Skin,
        );
        assert_eq!(map.count(FaceClass::Skin), 100);
        assert_eq!(map.get(10, 10), Some(FaceClass::Skin));
        assert_eq!(map.get(19, 19), Some(FaceClass::Skin));
        assert_eq!(map.get(20, 19), Some(FaceClass::Background));

        let mut map = ParsingMap::new(32, 32);
        map.fill_polygon(
            &[[10.5, 10.5], [12.5, 10.5], [12.5, 12.5], [10.5, 12.5]],
            FaceClass::Nose,
        );
        let filled: Vec<(u32, u32)> = (0..32)
            .flat_map(|y| (0..32).map(move |x| (x, y)))
            .filter(|&(x, y)| map.get(x, y) == Some(FaceClass::Nose))
            .collect();
        assert_eq!(filled, vec![(10, 10), (11, 10), (10, 11), (11, 11)]);

        // Clipped at the borders, no panic far outside.
        let mut map = ParsingMap::new(8, 8);
        map.fill_polygon(
            &[[-1e9, -1e9], [1e9, -1e9], [1e9, 1e9], [-1e9, 1e9]],
            FaceClass::Skin,
        );
        assert_eq!(map.count(FaceClass::Skin), 64);
    }

    /// Hand-computed: skin squares [10, 20) and [15, 25) x [10, 20) overlap in 50 of 150 pixels; a
    /// nose only in `a` scores 0; the mean is (1/3 + 0) / 2.
    #[test]
    fn mean_iou_hand_computed() {
        let square = |x0: f64| [[x0, 10.0], [x0 + 10.0, 10.0], [x0 + 10.0, 20.0], [x0, 20.0]];
        let mut a = ParsingMap::new(40, 40);
        a.fill_polygon(&square(10.0), FaceClass::Skin);
        let mut b = ParsingMap::new(40, 40);
        b.fill_polygon(&square(15.0), FaceClass::Skin);
        assert!(
            (mean_iou(&a, &b).expect("iou") - 1.0 / 3.0).abs() <= 1e-15,
            "skin only"
        );
        a.fill_polygon(&[[30.0, 30.0], [33.0, 30.0], [33.0, 33.0]], FaceClass::Nose);
        assert!(
            (mean_iou(&a, &b).expect("iou") - 1.0 / 6.0).abs() <= 1e-15,
            "with nose"
        );

        assert_eq!(mean_iou(&a, &a).expect("iou"), 1.0);
        let empty = ParsingMap::new(40, 40);
        assert_eq!(mean_iou(&empty, &empty).expect("iou"), 1.0);
        let msg = mean_iou(&a, &ParsingMap::new(40, 41))
            .expect_err("sizes")
            .to_string();
        assert!(msg.contains("40x40") && msg.contains("40x41"), "{msg}");
    }
}
