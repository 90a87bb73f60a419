//! Antialiased bicubic resampling, as PROTOCOL.md fixes the HR -> LR downscaling: Keys' cubic
//! kernel with `a = -0.5`, its support widened by the scale factor when shrinking (so it acts as a
//! low-pass filter), weights normalised per output pixel, pixel centres at `i + 0.5`.
//!
//! This is the algorithm of PIL's `Image.resize(size, Image.BICUBIC)` (`ImagingResample`) and of
//! MATLAB's `imresize(..., 'bicubic')`. PIL rounds its horizontal pass to u8 before the vertical
//! pass and uses fixed-point weights; here both passes run in f64 and only the result is rounded,
//! as MATLAB does. The two agree to well under the protocol's 0.5 grey-level tolerance (the test
//! `resize::matches_pil_bicubic` holds PIL's output).

use image::RgbImage;

use super::protocol::Protocol;
use crate::{Error, Result};

/// Keys' cubic convolution kernel with parameter `a`.
fn cubic(x: f64, a: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * a
    } else {
        0.0
    }
}

/// Per output pixel: the first input index and the normalised weights.
struct Taps {
    start: Vec<usize>,
    weights: Vec<Vec<f64>>,
}

fn taps(in_size: usize, out_size: usize, a: f64) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = 2.0 * filter_scale;
    let mut start = Vec::with_capacity(out_size);
    let mut weights = Vec::with_capacity(out_size);
    for o in 0..out_size {
        let center = (o as f64 + 0.5) * scale;
        // PIL truncates `center -/+ support + 0.5` towards zero and clamps to the image.
        let lo = ((center - support + 0.5).trunc().max(0.0)) as usize;
        let hi = ((center + support + 0.5).trunc() as usize).min(in_size);
        let mut w: Vec<f64> = (lo..hi)
            .map(|i| cubic((i as f64 - center + 0.5) / filter_scale, a))
            .collect();
        let total: f64 = w.iter().sum();
        if total != 0.0 {
            w.iter_mut().for_each(|v| *v /= total);
        }
        start.push(lo);
        weights.push(w);
    }
    Taps { start, weights }
}

/// The resampling of one axis as a dense `[out_size][in_size]` matrix (row `o` holds output
/// pixel `o`'s normalised weights): `out = M · in`, and a 2-D resize is `M_y · X · M_xᵀ`. The
/// same weights as [`resize_bicubic`], for networks that upscale inside the autodiff graph.
pub fn resample_matrix(in_size: usize, out_size: usize, a: f64) -> Vec<Vec<f64>> {
    let t = taps(in_size, out_size, a);
    t.start
        .iter()
        .zip(&t.weights)
        .map(|(&lo, w)| {
            let mut row = vec![0.0; in_size];
            for (k, wk) in w.iter().enumerate() {
                row[lo + k] = *wk;
            }
            row
        })
        .collect()
}

/// Resizes an RGB image to `width x height` with the antialiased bicubic filter (`a` is the
/// kernel parameter, -0.5 for the protocol).
pub fn resize_bicubic(src: &RgbImage, width: u32, height: u32, a: f64) -> RgbImage {
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    let (dw, dh) = (width as usize, height as usize);
    let hx = taps(sw, dw, a);
    let vy = taps(sh, dh, a);
    let raw = src.as_raw();

    // Horizontal pass: [sh, dw, 3] in f64.
    let mut horizontal = vec![0.0f64; sh * dw * 3];
    for y in 0..sh {
        for (x, (lo, w)) in hx.start.iter().zip(&hx.weights).enumerate() {
            let mut acc = [0.0f64; 3];
            for (k, wk) in w.iter().enumerate() {
                let p = (y * sw + lo + k) * 3;
                for c in 0..3 {
                    acc[c] += wk * raw[p + c] as f64;
                }
            }
            horizontal[(y * dw + x) * 3..(y * dw + x) * 3 + 3].copy_from_slice(&acc);
        }
    }

    // Vertical pass and rounding to u8.
    let mut out = vec![0u8; dh * dw * 3];
    for (y, (lo, w)) in vy.start.iter().zip(&vy.weights).enumerate() {
        for x in 0..dw {
            let mut acc = [0.0f64; 3];
            for (k, wk) in w.iter().enumerate() {
                let p = ((lo + k) * dw + x) * 3;
                for c in 0..3 {
                    acc[c] += wk * horizontal[p + c];
                }
            }
            for c in 0..3 {
                out[(y * dw + x) * 3 + c] = round_u8(acc[c]);
            }
        }
    }
    RgbImage::from_raw(width, height, out).expect("buffer length is width * height * 3")
}

/// Rounds half up and clamps to 0..=255, as an image saved to disk would hold the value.
pub fn round_u8(v: f64) -> u8 {
    (v + 0.5).floor().clamp(0.0, 255.0) as u8
}

/// The HR crop of an aligned face: `hr_size x hr_size` at `(crop_x, crop_y)`.
pub fn crop_hr(aligned: &RgbImage, protocol: &Protocol) -> Result<RgbImage> {
    let (w, h) = aligned.dimensions();
    if protocol.crop_x + protocol.hr_size > w || protocol.crop_y + protocol.hr_size > h {
        return Err(Error::Mismatch(format!(
            "a {w}x{h} image is too small for the {s}x{s} crop at ({x}, {y})",
            s = protocol.hr_size,
            x = protocol.crop_x,
            y = protocol.crop_y
        )));
    }
    Ok(image::imageops::crop_imm(
        aligned,
        protocol.crop_x,
        protocol.crop_y,
        protocol.hr_size,
        protocol.hr_size,
    )
    .to_image())
}

/// The LR face: the HR crop downscaled by the protocol's factor with the antialiased bicubic.
pub fn downscale(hr: &RgbImage, protocol: &Protocol) -> RgbImage {
    let lr = protocol.lr_size();
    resize_bicubic(hr, lr, lr, protocol.cubic_a)
}

/// Plain bicubic upscaling of an LR face to `size x size` (the IN+bicubic baseline and image
/// grids). Upscaling uses the kernel at its natural width, as PIL does.
pub fn upscale(lr: &RgbImage, size: u32, a: f64) -> RgbImage {
    resize_bicubic(lr, size, size, a)
}
