//! Faces from files through a trained method: what `ofhnet hallucinate` does with a user's images,
//! as a library (the CLI parses arguments and loads the model; `ofhnet bench step --which
//! hallucinate` times [`hallucinate_files`]).
//!
//! Accepted inputs: a 16x16 (occluded) face, used as it is; a 128x128 face (the protocol's HR
//! crop) or a 178x218 aligned CelebA-geometry face, brought to 16x16 per PROTOCOL.md (crop, then
//! antialiased bicubic). A mask then blacks out the hole; without one the input's exactly-black
//! pixels are taken as the hole. A directory's faces go through the networks [`BATCH`] at a time.

use std::path::{Path, PathBuf};

use image::{GrayImage, RgbImage};

use crate::data::image_io::{load_rgb, save_png};
use crate::data::protocol::{ALIGNED_HEIGHT, ALIGNED_WIDTH, Protocol};
use crate::data::resize::{crop_hr, downscale, upscale};
use crate::evaluate::Pipeline;
use crate::{Error, Result};

/// The accepted input sizes, for error messages.
const ACCEPTED: &str =
    "16x16 (an LR face), 128x128 (the protocol's HR crop) or 178x218 (a CelebA-aligned face)";

/// Brings an input face to the protocol's 16x16.
pub fn to_lr(image: &RgbImage, path: &Path) -> Result<RgbImage> {
    let protocol = Protocol::default();
    match image.dimensions() {
        (16, 16) => Ok(image.clone()),
        (128, 128) => Ok(downscale(image, &protocol)),
        (w, h) if (w, h) == (ALIGNED_WIDTH, ALIGNED_HEIGHT) => {
            Ok(downscale(&crop_hr(image, &protocol)?, &protocol))
        }
        (w, h) => Err(Error::ImageSize {
            path: path.to_path_buf(),
            found_w: w,
            found_h: h,
            expected: format!("one of {ACCEPTED}"),
        }),
    }
}

/// Blacks out the pixels where `mask` is non-zero (the hole).
pub fn apply_mask(lr: &mut RgbImage, mask: &GrayImage) {
    for (x, y, p) in mask.enumerate_pixels() {
        if p.0[0] > 0 {
            lr.put_pixel(x, y, image::Rgb([0, 0, 0]));
        }
    }
}

fn nearest(img: &RgbImage, size: u32) -> RgbImage {
    image::imageops::resize(img, size, size, image::imageops::FilterType::Nearest)
}

/// The side-by-side grid: occluded input, inpainted LR (both x8 nearest), bicubic, output.
pub fn grid_row(occluded: &RgbImage, inpainted: &RgbImage, output: &RgbImage) -> RgbImage {
    let size = output.width();
    let tiles = [
        nearest(occluded, size),
        nearest(inpainted, size),
        upscale(inpainted, size, -0.5),
        output.clone(),
    ];
    let gap = 4;
    let mut out = RgbImage::from_pixel(
        4 * size + 5 * gap,
        size + 2 * gap,
        image::Rgb([255, 255, 255]),
    );
    for (i, t) in tiles.iter().enumerate() {
        image::imageops::replace(
            &mut out,
            t,
            (gap + i as u32 * (size + gap)) as i64,
            gap as i64,
        );
    }
    out
}

/// Faces per network call when hallucinating a directory (the evaluation's batch).
pub const BATCH: usize = 32;

/// The images `input` names and the PNG each is written to: for a directory, its PNG and JPEG
/// files in name order, each to `out/STEM.png` (creating `out`); for a file, `input` to `out`.
pub fn input_files(input: &Path, out: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    if !input.is_dir() {
        return Ok((vec![input.to_path_buf()], vec![out.to_path_buf()]));
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(input).map_err(|e| Error::io(input, e))? {
        let path = entry.map_err(|e| Error::io(input, e))?.path();
        if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::invalid(
            "--input",
            format!("{}: no PNG or JPEG images", input.display()),
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let outs = files
        .iter()
        .map(|f| {
            let stem = f.file_stem().unwrap_or_default().to_string_lossy();
            out.join(format!("{stem}.png"))
        })
        .collect();
    Ok((files, outs))
}

/// Hallucinates each of `inputs` into the PNG at the same index of `outputs`: reads it, brings it
/// to 16x16 ([`to_lr`]), blacks out `mask`, runs `pipeline` on [`BATCH`] faces at a time and
/// writes the 128x128 result. With `grid`, returns each face's [`grid_row`].
pub fn hallucinate_files(
    pipeline: &Pipeline,
    inputs: &[PathBuf],
    outputs: &[PathBuf],
    mask: Option<&GrayImage>,
    grid: bool,
) -> Result<Vec<RgbImage>> {
    if inputs.len() != outputs.len() {
        return Err(Error::Mismatch(format!(
            "{} input images but {} output paths",
            inputs.len(),
            outputs.len()
        )));
    }
    let mut grids = Vec::new();
    for (ins, outs) in inputs.chunks(BATCH).zip(outputs.chunks(BATCH)) {
        let lrs = ins
            .iter()
            .map(|input| {
                let mut lr = to_lr(&load_rgb(input)?, input)?;
                if let Some(m) = mask {
                    apply_mask(&mut lr, m);
                }
                Ok(lr)
            })
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&RgbImage> = lrs.iter().collect();
        let (inpainted, results) = pipeline.run(&refs, 128)?;
        if inpainted.len() != ins.len() || results.len() != ins.len() {
            return Err(Error::Mismatch(format!(
                "the model returned {} outputs for {} faces ({} ...)",
                results.len(),
                ins.len(),
                ins[0].display()
            )));
        }
        for (k, (result, output)) in results.iter().zip(outs).enumerate() {
            save_png(result, output)?;
            if grid {
                grids.push(grid_row(&lrs[k], &inpainted[k], result));
            }
        }
    }
    Ok(grids)
}
