//! Occlusions of the 16x16 LR face, exactly as PROTOCOL.md fixes them:
//! - training: one square hole, side uniform in 4..=8 px, position uniform with the square
//!   inside the image, drawn anew every time an image is used;
//! - test "random": the same law, drawn once per test image from a seed derived from the image's
//!   name, so every method sees the same holes;
//! - test "position": an 8x8 square at one of the four corners;
//! - test "size": a centred square of side 2, 4, 6, 8 or 10 px.
//!
//! Occluded pixels are set to 0. The hole travels with the sample as a [`Hole`], from which the
//! mask is drawn for evaluation and display.

use std::fmt;
use std::str::FromStr;

use image::{GrayImage, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Smallest side of a training / random-test hole (PROTOCOL: 6.25% of the 16x16 area).
pub const MIN_SIDE: u32 = 4;
/// Largest side of a training / random-test hole (25% of the area).
pub const MAX_SIDE: u32 = 8;
/// Side of the corner holes of the position sweep.
pub const CORNER_SIDE: u32 = 8;
/// The sides of the centred size sweep.
pub const SWEEP_SIDES: [u32; 5] = [2, 4, 6, 8, 10];

/// A square hole in LR pixel coordinates: columns `x..x+side`, rows `y..y+side`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Hole {
    pub x: u32,
    pub y: u32,
    pub side: u32,
}

impl Hole {
    /// Whether LR pixel `(px, py)` is inside the hole.
    pub fn contains(&self, px: u32, py: u32) -> bool {
        px >= self.x && px < self.x + self.side && py >= self.y && py < self.y + self.side
    }

    /// Sets the hole's pixels to black.
    pub fn apply(&self, lr: &mut RgbImage) {
        let (w, h) = lr.dimensions();
        for py in self.y..(self.y + self.side).min(h) {
            for px in self.x..(self.x + self.side).min(w) {
                lr.put_pixel(px, py, image::Rgb([0, 0, 0]));
            }
        }
    }

    /// A copy of `lr` with the hole applied.
    pub fn occlude(&self, lr: &RgbImage) -> RgbImage {
        let mut out = lr.clone();
        self.apply(&mut out);
        out
    }

    /// The mask at `size x size` (255 inside the hole), `size` a multiple of the LR side; the
    /// hole is scaled with the image so it can be drawn over an HR face.
    pub fn mask(&self, lr_size: u32, size: u32) -> GrayImage {
        let f = size / lr_size.max(1);
        GrayImage::from_fn(size, size, |x, y| {
            image::Luma([if self.contains(x / f, y / f) { 255 } else { 0 }])
        })
    }

    /// Fraction of the LR image covered.
    pub fn area_fraction(&self, lr_size: u32) -> f64 {
        (self.side * self.side) as f64 / (lr_size * lr_size) as f64
    }
}

/// A corner of the position sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Corner {
    /// Top left.
    Tl,
    /// Top right.
    Tr,
    /// Bottom left.
    Bl,
    /// Bottom right.
    Br,
}

impl Corner {
    /// All four, in the paper's Fig. 8 order.
    pub const ALL: [Corner; 4] = [Corner::Tl, Corner::Tr, Corner::Bl, Corner::Br];

    fn name(self) -> &'static str {
        match self {
            Corner::Tl => "tl",
            Corner::Tr => "tr",
            Corner::Bl => "bl",
            Corner::Br => "br",
        }
    }
}

/// How test images are occluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OcclusionProtocol {
    /// No hole (for looking at clean data; not part of the paper's protocol).
    None,
    /// The training law, drawn once per image from its name.
    Random,
    /// An 8x8 hole at a corner.
    Position(Corner),
    /// A centred square of the given side.
    Size(u32),
}

impl OcclusionProtocol {
    /// The hole for the test image `name` on an `lr_size` image (`seed` is mixed into the
    /// random protocol's per-image seed; PROTOCOL's default is 0).
    pub fn hole(&self, name: &str, lr_size: u32, seed: u64) -> Option<Hole> {
        match *self {
            OcclusionProtocol::None => None,
            OcclusionProtocol::Random => {
                let mut rng = ChaCha8Rng::seed_from_u64(name_seed(name) ^ seed);
                Some(random_hole(&mut rng, lr_size))
            }
            OcclusionProtocol::Position(corner) => {
                let side = CORNER_SIDE.min(lr_size);
                let far = lr_size - side;
                let (x, y) = match corner {
                    Corner::Tl => (0, 0),
                    Corner::Tr => (far, 0),
                    Corner::Bl => (0, far),
                    Corner::Br => (far, far),
                };
                Some(Hole { x, y, side })
            }
            OcclusionProtocol::Size(side) => {
                let side = side.min(lr_size);
                let o = (lr_size - side) / 2;
                Some(Hole { x: o, y: o, side })
            }
        }
    }
}

impl FromStr for OcclusionProtocol {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "occlusion",
                format!(
                    "`{s}`; expected none, random, position:tl|tr|bl|br or size:N (N in 1..=16)"
                ),
            )
        };
        let s_lower = s.trim().to_ascii_lowercase();
        match s_lower.split_once(':') {
            None if s_lower == "random" => Ok(OcclusionProtocol::Random),
            None if s_lower == "none" => Ok(OcclusionProtocol::None),
            Some(("position", c)) => Corner::ALL
                .into_iter()
                .find(|k| k.name() == c)
                .map(OcclusionProtocol::Position)
                .ok_or_else(bad),
            Some(("size", n)) => match n.parse::<u32>() {
                Ok(n) if (1..=16).contains(&n) => Ok(OcclusionProtocol::Size(n)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for OcclusionProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OcclusionProtocol::None => write!(f, "none"),
            OcclusionProtocol::Random => write!(f, "random"),
            OcclusionProtocol::Position(c) => write!(f, "position:{}", c.name()),
            OcclusionProtocol::Size(n) => write!(f, "size:{n}"),
        }
    }
}

impl Serialize for OcclusionProtocol {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OcclusionProtocol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One draw of the training law on an `lr_size` image: side uniform in
/// `MIN_SIDE..=MAX_SIDE`, top-left corner uniform such that the square lies inside.
pub fn random_hole<R: Rng + ?Sized>(rng: &mut R, lr_size: u32) -> Hole {
    random_hole_sides(rng, lr_size, MIN_SIDE, MAX_SIDE)
}

/// One draw of a square hole with side uniform in `min..=max` (clamped to the image),
/// top-left corner uniform such that the square lies inside. With PROTOCOL's 4 and 8 this is
/// [`random_hole`], draw for draw.
pub fn random_hole_sides<R: Rng + ?Sized>(rng: &mut R, lr_size: u32, min: u32, max: u32) -> Hole {
    let max_side = max.min(lr_size).max(1);
    let min_side = min.clamp(1, max_side);
    let side = rng.random_range(min_side..=max_side);
    let x = rng.random_range(0..=lr_size - side);
    let y = rng.random_range(0..=lr_size - side);
    Hole { x, y, side }
}

/// A stable 64-bit seed from an image name (FNV-1a), so the "random" test holes never change
/// between runs, machines or versions.
pub fn name_seed(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
