//! `ofhnet data inspect`: one row per face, so a person can see at a glance that the crop, the
//! landmarks, the parsing map, the downscaling and the holes are right.

use image::{Rgb, RgbImage};

use crate::data::dataset::Split;
use crate::data::landmarks::{self, Landmarks68};
use crate::data::occlusion::OcclusionProtocol;
use crate::metrics::parsing;
use crate::{Error, Result};

/// The grid's columns, left to right.
pub const COLUMNS: [&str; 5] = [
    "HR 128x128",
    "HR + 68 landmarks",
    "HR + parsing map",
    "LR 16x16 (x8 nearest)",
    "occluded LR (hole outlined)",
];

/// What to draw.
#[derive(Clone, Debug)]
pub struct InspectOptions {
    pub occlusion: OcclusionProtocol,
    pub first: usize,
    pub count: usize,
}

const GAP: u32 = 4;
const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);

/// Draws the inspection grid for faces `first..first + count` of a split.
pub fn grid(split: &Split, options: &InspectOptions) -> Result<RgbImage> {
    if options.first >= split.len() {
        return Err(Error::invalid(
            "--first",
            format!(
                "{} is past the end of the `{}` split ({} images)",
                options.first,
                split.name,
                split.len()
            ),
        ));
    }
    let rows: Vec<usize> = (options.first..split.len())
        .take(options.count.max(1))
        .collect();
    let tile = split.hr_size;
    let cols = COLUMNS.len() as u32;
    let width = cols * tile + (cols + 1) * GAP;
    let height = rows.len() as u32 * (tile + GAP) + GAP;
    let mut out = RgbImage::from_pixel(width, height, BACKGROUND);
    for (r, &i) in rows.iter().enumerate() {
        let y = GAP + r as u32 * (tile + GAP);
        let hr = split.hr_image(i);
        let lr = split.lr_image(i);
        let l68 = split.landmarks68.as_ref().map(|l| l[i]);

        let mut with_points = hr.clone();
        match &l68 {
            Some(l) => draw_landmarks(&mut with_points, l),
            None => {
                for p in &split.landmarks5[i] {
                    draw_dot(&mut with_points, *p, Rgb([255, 255, 0]));
                }
            }
        }
        let with_parsing = match &l68 {
            Some(l) => blend(
                &hr,
                &parsing::colorize(&parsing::parsing_map_sized(l, tile, tile)?),
                0.5,
            ),
            None => hr.clone(),
        };
        let lr_big = nearest(&lr, tile);
        let hole = options.occlusion.hole(&split.names[i], split.lr_size, 0);
        let mut occluded = match hole {
            Some(h) => nearest(&h.occlude(&lr), tile),
            None => lr_big.clone(),
        };
        if let Some(h) = hole {
            let f = tile / split.lr_size;
            outline(
                &mut occluded,
                h.x * f,
                h.y * f,
                h.side * f,
                Rgb([255, 0, 0]),
            );
        }
        for (c, img) in [hr, with_points, with_parsing, lr_big, occluded]
            .iter()
            .enumerate()
        {
            let x = GAP + c as u32 * (tile + GAP);
            image::imageops::replace(&mut out, img, x as i64, y as i64);
        }
    }
    Ok(out)
}

/// Nearest-neighbour upscaling, so each LR pixel shows as a block.
fn nearest(img: &RgbImage, size: u32) -> RgbImage {
    image::imageops::resize(img, size, size, image::imageops::FilterType::Nearest)
}

fn blend(a: &RgbImage, b: &RgbImage, alpha: f32) -> RgbImage {
    RgbImage::from_fn(a.width(), a.height(), |x, y| {
        let (p, q) = (a.get_pixel(x, y).0, b.get_pixel(x, y).0);
        Rgb(std::array::from_fn(|c| {
            (p[c] as f32 * (1.0 - alpha) + q[c] as f32 * alpha).round() as u8
        }))
    })
}

fn draw_dot(img: &mut RgbImage, p: [f32; 2], colour: Rgb<u8>) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (cx, cy) = (p[0].floor() as i64, p[1].floor() as i64);
    for dy in -1..=1 {
        for dx in -1..=1 {
            let (x, y) = (cx + dx, cy + dy);
            if x >= 0 && y >= 0 && x < w && y < h {
                img.put_pixel(x as u32, y as u32, colour);
            }
        }
    }
}

/// Points coloured by feature, so a swapped group shows at once.
fn draw_landmarks(img: &mut RgbImage, l: &Landmarks68) {
    let groups = [
        (landmarks::JAW, Rgb([255, 255, 255])),
        (landmarks::RIGHT_BROW, Rgb([255, 160, 0])),
        (landmarks::LEFT_BROW, Rgb([255, 160, 0])),
        (landmarks::NOSE_BRIDGE, Rgb([0, 255, 255])),
        (landmarks::NOSE_BASE, Rgb([0, 255, 255])),
        (landmarks::RIGHT_EYE, Rgb([0, 255, 0])),
        (landmarks::LEFT_EYE, Rgb([0, 255, 0])),
        (landmarks::OUTER_LIPS, Rgb([255, 0, 255])),
        (landmarks::INNER_LIPS, Rgb([255, 80, 80])),
    ];
    for (range, colour) in groups {
        for i in range {
            draw_dot(img, l.0[i], colour);
        }
    }
}

fn outline(img: &mut RgbImage, x: u32, y: u32, side: u32, colour: Rgb<u8>) {
    let (w, h) = img.dimensions();
    for t in 0..side {
        for (px, py) in [
            (x + t, y),
            (x + t, y + side - 1),
            (x, y + t),
            (x + side - 1, y + t),
        ] {
            if px < w && py < h {
                img.put_pixel(px, py, colour);
            }
        }
    }
}
