//! PSNR and SSIM between a reference (ground-truth) image and an output, on 8-bit RGB, as
//! `docs/PROTOCOL.md` ("Metrics") fixes them, with a Y-channel variant of each.
//!
//! - PSNR is `10 log10(255^2 / MSE)` in f64 over every RGB sample, with no border crop. Two
//!   identical images have MSE 0 and PSNR `+inf` (as scikit-image's `peak_signal_noise_ratio`
//!   returns); callers that average or print PSNR see that value as it is (Rust prints it `inf`).
//! - SSIM is Wang et al.'s index (IEEE TIP 13(4), 2004, Eq. 13) with an 11x11 Gaussian window of
//!   sigma 1.5, C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2 and population (co)variances, averaged over
//!   the valid region only and then over the three channels. This is exactly what
//!   `skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
//!   use_sample_covariance=False, data_range=255, channel_axis=2)` computes: scikit-image filters
//!   with `scipy.ndimage.gaussian_filter(truncate=3.5)` (radius `int(3.5 * 1.5 + 0.5) = 5`, weights
//!   `exp(-x^2 / (2 sigma^2))` for `x` in `-5..=5`, normalised to sum 1) in `mode='reflect'`, then
//!   crops `(11 - 1) / 2 = 5` pixels from every border of the SSIM map before averaging, so the
//!   padded values never reach the mean. Here only that valid region is filtered at all. Images
//!   must be at least 11x11.
//! - The Y variant is BT.601 luma as `skimage.color.rgb2ycbcr` gives it:
//!   `Y = 16 + 65.481 R + 128.553 G + 24.966 B` with `R, G, B` in `[0, 1]`, so `Y` lies in
//!   `[16, 235]`. `Y` is kept as f64 (not rounded to an integer) and PSNR-Y and SSIM-Y use a data
//!   range of 255 on it, as the common super-resolution toolkits do for `test_y_channel`.

use image::RgbImage;

use crate::{Error, Result};

/// The peak value of an 8-bit sample, the data range of every metric here.
pub const DATA_RANGE: f64 = 255.0;
/// Standard deviation of SSIM's Gaussian window.
pub const SSIM_SIGMA: f64 = 1.5;
/// Side of SSIM's window: `2 * int(3.5 * sigma + 0.5) + 1`, scipy's radius at `truncate=3.5`.
pub const SSIM_WINDOW: usize = 2 * SSIM_RADIUS + 1;
const SSIM_RADIUS: usize = 5;
const SSIM_K1: f64 = 0.01;
const SSIM_K2: f64 = 0.03;

/// The protocol's four image metrics for one (reference, output) pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageMetrics {
    /// PSNR in dB over the RGB samples; `+inf` for identical images.
    pub psnr: f64,
    /// SSIM averaged over the R, G and B channels.
    pub ssim: f64,
    /// PSNR in dB on BT.601 luma (f64, data range 255); `+inf` for identical luma.
    pub psnr_y: f64,
    /// SSIM on BT.601 luma (f64, data range 255).
    pub ssim_y: f64,
}

/// PSNR, SSIM, PSNR-Y and SSIM-Y of `output` against `reference`.
///
/// Fails with [`Error::Mismatch`] when the two sizes differ and with [`Error::InvalidValue`] when
/// the images are smaller than SSIM's 11x11 window.
pub fn image_metrics(reference: &RgbImage, output: &RgbImage) -> Result<ImageMetrics> {
    check_pair(reference, output)?;
    check_ssim_size(reference.width(), reference.height())?;
    let (w, h) = (reference.width() as usize, reference.height() as usize);
    let ref_planes = channel_planes(reference);
    let out_planes = channel_planes(output);
    let mut scratch = SsimScratch::new(w, h);
    let ssim = (0..3)
        .map(|c| scratch.mean_ssim(&ref_planes[c], &out_planes[c], DATA_RANGE))
        .sum::<f64>()
        / 3.0;
    let ref_y = luma_bt601(reference);
    let out_y = luma_bt601(output);
    Ok(ImageMetrics {
        psnr: psnr_u8(reference, output),
        ssim,
        psnr_y: psnr_from_mse(mse(&ref_y, &out_y), DATA_RANGE),
        ssim_y: scratch.mean_ssim(&ref_y, &out_y, DATA_RANGE),
    })
}

/// PSNR in dB over all RGB samples, no border crop; `+inf` when the images are identical.
pub fn psnr(reference: &RgbImage, output: &RgbImage) -> Result<f64> {
    check_pair(reference, output)?;
    Ok(psnr_u8(reference, output))
}

/// SSIM (11x11 Gaussian window, valid region) per RGB channel, averaged over the channels.
pub fn ssim(reference: &RgbImage, output: &RgbImage) -> Result<f64> {
    check_pair(reference, output)?;
    check_ssim_size(reference.width(), reference.height())?;
    let (w, h) = (reference.width() as usize, reference.height() as usize);
    let ref_planes = channel_planes(reference);
    let out_planes = channel_planes(output);
    let mut scratch = SsimScratch::new(w, h);
    Ok((0..3)
        .map(|c| scratch.mean_ssim(&ref_planes[c], &out_planes[c], DATA_RANGE))
        .sum::<f64>()
        / 3.0)
}

/// PSNR in dB on BT.601 luma ([`luma_bt601`]) with data range 255.
pub fn psnr_y(reference: &RgbImage, output: &RgbImage) -> Result<f64> {
    check_pair(reference, output)?;
    Ok(psnr_from_mse(
        mse(&luma_bt601(reference), &luma_bt601(output)),
        DATA_RANGE,
    ))
}

/// SSIM on BT.601 luma ([`luma_bt601`]) with data range 255.
pub fn ssim_y(reference: &RgbImage, output: &RgbImage) -> Result<f64> {
    check_pair(reference, output)?;
    let (w, h) = (reference.width() as usize, reference.height() as usize);
    ssim_plane(
        &luma_bt601(reference),
        &luma_bt601(output),
        w,
        h,
        DATA_RANGE,
    )
}

/// BT.601 luma of every pixel, row-major: `16 + 65.481 R + 128.553 G + 24.966 B` with `R, G, B`
/// in `[0, 1]` (scikit-image's `rgb2ycbcr(image)[..., 0]`), unrounded.
pub fn luma_bt601(image: &RgbImage) -> Vec<f64> {
    image
        .pixels()
        .map(|p| {
            let [r, g, b] = p.0.map(|v| f64::from(v) / 255.0);
            r * 65.481 + g * 128.553 + b * 24.966 + 16.0
        })
        .collect()
}

/// Mean SSIM between two single-channel row-major planes of `width x height` samples whose values
/// span `data_range`, over the valid region (every pixel whose 11x11 window lies inside).
pub fn ssim_plane(
    reference: &[f64],
    output: &[f64],
    width: usize,
    height: usize,
    data_range: f64,
) -> Result<f64> {
    let n = width.checked_mul(height);
    if n != Some(reference.len()) || n != Some(output.len()) {
        return Err(Error::Mismatch(format!(
            "SSIM of a {width}x{height} plane needs {} samples per image, got {} and {}",
            width.saturating_mul(height),
            reference.len(),
            output.len()
        )));
    }
    check_ssim_size(
        u32::try_from(width).unwrap_or(u32::MAX),
        u32::try_from(height).unwrap_or(u32::MAX),
    )?;
    if !data_range.is_finite() || data_range <= 0.0 {
        return Err(Error::invalid(
            "SSIM data range",
            format!("must be a positive number, got {data_range}"),
        ));
    }
    Ok(SsimScratch::new(width, height).mean_ssim(reference, output, data_range))
}

fn check_pair(reference: &RgbImage, output: &RgbImage) -> Result<()> {
    if reference.dimensions() != output.dimensions() {
        return Err(Error::Mismatch(format!(
            "reference is {}x{} but output is {}x{}; metrics compare images of one size",
            reference.width(),
            reference.height(),
            output.width(),
            output.height()
        )));
    }
    if reference.width() == 0 || reference.height() == 0 {
        return Err(Error::invalid(
            "image size",
            "the images are empty (0 pixels)",
        ));
    }
    Ok(())
}

fn check_ssim_size(width: u32, height: u32) -> Result<()> {
    let min = SSIM_WINDOW as u32;
    if width < min || height < min {
        return Err(Error::invalid(
            "image size",
            format!(
                "SSIM needs images of at least {min}x{min} pixels (its Gaussian window), got \
                 {width}x{height}"
            ),
        ));
    }
    Ok(())
}

fn psnr_u8(reference: &RgbImage, output: &RgbImage) -> f64 {
    // Squared differences of u8 samples are integers: summing them in u64 is exact, as numpy's
    // f64 mean of them is for any image under 2^37 samples.
    let sum: u64 = reference
        .as_raw()
        .iter()
        .zip(output.as_raw())
        .map(|(&a, &b)| u64::from(a.abs_diff(b)).pow(2))
        .sum();
    psnr_from_mse(sum as f64 / reference.as_raw().len() as f64, DATA_RANGE)
}

fn mse(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>() / a.len() as f64
}

fn psnr_from_mse(mse: f64, data_range: f64) -> f64 {
    // mse == 0 gives +inf, which is what the metric means for identical images.
    10.0 * (data_range * data_range / mse).log10()
}

/// The three channels of an RGB image as row-major f64 planes.
fn channel_planes(image: &RgbImage) -> [Vec<f64>; 3] {
    let n = image.as_raw().len() / 3;
    let mut planes = [
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    ];
    for p in image.pixels() {
        for (plane, &v) in planes.iter_mut().zip(&p.0) {
            plane.push(f64::from(v));
        }
    }
    planes
}

/// scipy's 1-D Gaussian weights for sigma 1.5 at `truncate=3.5`: radius 5, normalised to sum 1.
fn gaussian_weights() -> [f64; SSIM_WINDOW] {
    let mut w = [0.0; SSIM_WINDOW];
    for (i, wi) in w.iter_mut().enumerate() {
        let x = i as f64 - SSIM_RADIUS as f64;
        *wi = (-0.5 / (SSIM_SIGMA * SSIM_SIGMA) * x * x).exp();
    }
    let sum: f64 = w.iter().sum();
    w.map(|v| v / sum)
}

/// The vertical filtering pass's buffer, reused across the planes of one image.
struct SsimScratch {
    width: usize,
    height: usize,
    weights: [f64; SSIM_WINDOW],
    /// Vertically filtered `[x, y, x^2, y^2, xy]` at each of `(height - 10) x width` pixels.
    columns: Vec<[f64; 5]>,
}

impl SsimScratch {
    /// `width` and `height` must be at least [`SSIM_WINDOW`].
    fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            weights: gaussian_weights(),
            columns: vec![[0.0; 5]; (height + 1 - SSIM_WINDOW) * width],
        }
    }

    /// Mean of the SSIM map over its valid region. The Gaussian filter is separable: a vertical
    /// pass over the rows whose window fits, then a horizontal pass over the columns whose window
    /// fits; the result at every valid pixel equals scipy's 2-D filter there, whatever its padding.
    fn mean_ssim(&mut self, x: &[f64], y: &[f64], data_range: f64) -> f64 {
        let w = self.width;
        let valid_h = self.height + 1 - SSIM_WINDOW;
        let valid_w = w + 1 - SSIM_WINDOW;
        self.columns.fill([0.0; 5]);
        for (r, out) in self.columns.chunks_exact_mut(w).enumerate() {
            for (k, &wk) in self.weights.iter().enumerate() {
                let row = (r + k) * w..(r + k + 1) * w;
                for (o, (&a, &b)) in out.iter_mut().zip(x[row.clone()].iter().zip(&y[row])) {
                    o[0] += wk * a;
                    o[1] += wk * b;
                    o[2] += wk * (a * a);
                    o[3] += wk * (b * b);
                    o[4] += wk * (a * b);
                }
            }
        }
        let c1 = (SSIM_K1 * data_range).powi(2);
        let c2 = (SSIM_K2 * data_range).powi(2);
        let mut total = 0.0;
        for row in self.columns.chunks_exact(w) {
            for window in row.windows(SSIM_WINDOW) {
                let mut m = [0.0; 5];
                for (v, &wk) in window.iter().zip(&self.weights) {
                    for (mi, vi) in m.iter_mut().zip(v) {
                        *mi += wk * vi;
                    }
                }
                let [ux, uy, uxx, uyy, uxy] = m;
                let vx = uxx - ux * ux;
                let vy = uyy - uy * uy;
                let vxy = uxy - ux * uy;
                let num = (2.0 * ux * uy + c1) * (2.0 * vxy + c2);
                let den = (ux * ux + uy * uy + c1) * (vx + vy + c2);
                total += num / den;
            }
        }
        total / (valid_h * valid_w) as f64
    }
}
