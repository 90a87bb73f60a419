//! IN+Ma: face hallucination by position-patch (Ma, Zhang and Qi, "Hallucinating face by
//! position-patch", Pattern Recognition 43(6), 2010), behind OFHNet's InpaintNet.
//!
//! For every patch position, the input LR patch `x` is written as a combination of the training
//! LR patches `y_i` at the same position, with weights that sum to one and minimise
//! `|x - sum_i w_i y_i|^2` (Ma et al.'s Eq. 5); the same weights combine the training HR patches
//! `h_i`, and overlapping HR patches are averaged.
//!
//! With thousands of training faces and a 27-dimensional LR patch the least-squares problem is
//! underdetermined, so the weights are regularised (Tikhonov, `lambda |w|^2`, as Ma et al. suggest
//! for a singular Gram matrix): `w = G^-1 1 / (1' G^-1 1)` with `G = Z'Z + lambda I` and `Z` the
//! columns `y_i - x`. The N x N system is never formed. With `y'_i = y_i - mean(y)`,
//! `x' = x - mean(y)`, `S = sum y'_i y'_i'` and `C = sum h_i y'_i'`, the Woodbury and
//! Sherman-Morrison identities reduce the combined HR patch exactly to
//!
//! ```text
//! sum_i w_i h_i = mean(h) + C (S + lambda I)^-1 x'
//! ```
//!
//! so building the dictionaries precomputes `mean(h)` and `M = C (S + lambda I)^-1` per position,
//! and hallucinating a face costs one small matrix-vector product per patch. A test checks this
//! against the weights solved directly. `lambda = reg * trace(S) / d`.
//!
//! Defaults, after Ma et al.'s experiments (LR patches of 3x3 overlapping by one pixel): `patch`
//! 3, `overlap` 1 (LR pixels; HR patches are 8x larger), every training face.

use image::{Rgb, RgbImage};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::dataset::Split;
use crate::{Error, Result};

/// IN+Ma's options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PositionPatchConfig {
    /// LR patch side, pixels.
    pub patch: usize,
    /// Overlap of neighbouring LR patches, pixels (less than `patch`).
    pub overlap: usize,
    /// Use only the first N training faces (default: all).
    pub train_faces: Option<usize>,
    /// Tikhonov regularisation of the weights, relative to the mean patch energy.
    pub reg: f64,
}

impl Default for PositionPatchConfig {
    fn default() -> Self {
        Self {
            patch: 3,
            overlap: 1,
            train_faces: None,
            reg: 1e-3,
        }
    }
}

impl PositionPatchConfig {
    /// Checks the options against an LR side.
    pub fn validate(&self, lr_size: usize) -> Result<()> {
        if self.patch == 0 || self.patch > lr_size {
            return Err(Error::invalid(
                "method.patch",
                format!("{} must be between 1 and the LR side {lr_size}", self.patch),
            ));
        }
        if self.overlap >= self.patch {
            return Err(Error::invalid(
                "method.overlap",
                format!(
                    "{} must be below the patch side {}",
                    self.overlap, self.patch
                ),
            ));
        }
        if !(self.reg.is_finite() && self.reg > 0.0) {
            return Err(Error::invalid("method.reg", "must be a positive number"));
        }
        Ok(())
    }

    /// Top-left LR coordinates of the patches along one axis: every `patch - overlap` pixels,
    /// and the last patch flush with the border.
    pub fn starts(&self, lr_size: usize) -> Vec<usize> {
        let step = self.patch - self.overlap;
        let last = lr_size - self.patch;
        let mut s: Vec<usize> = (0..=last).step_by(step).collect();
        if s.last() != Some(&last) {
            s.push(last);
        }
        s
    }
}

/// The dictionaries of one patch position.
struct Position {
    x: usize,
    y: usize,
    /// Mean LR patch (d).
    mean_lr: DVector<f64>,
    /// Mean HR patch (D).
    mean_hr: DVector<f64>,
    /// `C (S + lambda I)^-1`, D x d.
    map: DMatrix<f64>,
}

/// IN+Ma's patch dictionaries, built from a training split.
pub struct PositionPatch {
    pub config: PositionPatchConfig,
    pub lr_size: usize,
    pub scale: usize,
    pub train_faces: usize,
    positions: Vec<Position>,
}

/// A patch of an image as a vector in [0, 1]: rows, then columns, then channels.
fn patch_vector(pixels: &[u8], side: usize, x: usize, y: usize, p: usize) -> DVector<f64> {
    let mut v = Vec::with_capacity(p * p * 3);
    for row in y..y + p {
        for col in x..x + p {
            let i = (row * side + col) * 3;
            v.extend(pixels[i..i + 3].iter().map(|&b| b as f64 / 255.0));
        }
    }
    DVector::from_vec(v)
}

impl PositionPatch {
    /// Builds the dictionaries from the clean LR and HR faces of `split` (its first
    /// `config.train_faces`).
    pub fn build(split: &Split, config: &PositionPatchConfig) -> Result<Self> {
        let lr_size = split.lr_size as usize;
        let hr_size = split.hr_size as usize;
        config.validate(lr_size)?;
        if !hr_size.is_multiple_of(lr_size) {
            return Err(Error::invalid(
                "data",
                format!("HR side {hr_size} is not a multiple of LR side {lr_size}"),
            ));
        }
        let scale = hr_size / lr_size;
        let n = config.train_faces.unwrap_or(split.len()).min(split.len());
        if n < 2 {
            return Err(Error::invalid(
                "method.train_faces",
                format!("IN+Ma needs at least 2 training faces, the split has {n}"),
            ));
        }
        let (lr_n, hr_n) = (lr_size * lr_size * 3, hr_size * hr_size * 3);
        let p = config.patch;
        let starts = config.starts(lr_size);
        let coords: Vec<(usize, usize)> = starts
            .iter()
            .flat_map(|&y| starts.iter().map(move |&x| (x, y)))
            .collect();
        let positions = coords
            .par_iter()
            .map(|&(x, y)| {
                let lr: Vec<DVector<f64>> = (0..n)
                    .map(|i| patch_vector(&split.lr[i * lr_n..(i + 1) * lr_n], lr_size, x, y, p))
                    .collect();
                let hr: Vec<DVector<f64>> = (0..n)
                    .map(|i| {
                        let img = &split.hr[i * hr_n..(i + 1) * hr_n];
                        patch_vector(img, hr_size, x * scale, y * scale, p * scale)
                    })
                    .collect();
                let d = lr[0].len();
                let big_d = hr[0].len();
                let mean_lr = lr.iter().fold(DVector::zeros(d), |a, v| a + v) / n as f64;
                let mean_hr = hr.iter().fold(DVector::zeros(big_d), |a, v| a + v) / n as f64;
                let mut s = DMatrix::<f64>::zeros(d, d);
                let mut c = DMatrix::<f64>::zeros(big_d, d);
                for (l, h) in lr.iter().zip(&hr) {
                    let yc = l - &mean_lr;
                    s.ger(1.0, &yc, &yc, 1.0);
                    c.ger(1.0, h, &yc, 1.0);
                }
                let lambda = config.reg * s.trace() / d as f64 + 1e-12;
                for k in 0..d {
                    s[(k, k)] += lambda;
                }
                // map' = (S + lambda I)^-1 C'
                let chol = s.cholesky().ok_or_else(|| {
                    Error::invalid(
                        "method.reg",
                        "the regularised patch covariance is not positive definite",
                    )
                })?;
                let map = chol.solve(&c.transpose()).transpose();
                Ok(Position {
                    x,
                    y,
                    mean_lr,
                    mean_hr,
                    map,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config: config.clone(),
            lr_size,
            scale,
            train_faces: n,
            positions,
        })
    }

    /// Hallucinates one (inpainted) LR face.
    ///
    /// # Errors
    /// When the face is not `lr_size x lr_size`.
    pub fn hallucinate(&self, lr: &RgbImage) -> Result<RgbImage> {
        let side = self.lr_size;
        if lr.width() as usize != side || lr.height() as usize != side {
            return Err(Error::invalid(
                "IN+Ma input",
                format!("{}x{}, expected {side}x{side}", lr.width(), lr.height()),
            ));
        }
        let hr_side = side * self.scale;
        let hp = self.config.patch * self.scale;
        let mut sum = vec![0.0f64; hr_side * hr_side * 3];
        let mut count = vec![0u32; hr_side * hr_side];
        for pos in &self.positions {
            let x = patch_vector(lr.as_raw(), side, pos.x, pos.y, self.config.patch) - &pos.mean_lr;
            let h = &pos.mean_hr + &pos.map * x;
            let (hx, hy) = (pos.x * self.scale, pos.y * self.scale);
            for r in 0..hp {
                for c in 0..hp {
                    let pix = (hy + r) * hr_side + hx + c;
                    count[pix] += 1;
                    for ch in 0..3 {
                        sum[pix * 3 + ch] += h[(r * hp + c) * 3 + ch];
                    }
                }
            }
        }
        Ok(RgbImage::from_fn(hr_side as u32, hr_side as u32, |x, y| {
            let pix = y as usize * hr_side + x as usize;
            let n = count[pix].max(1) as f64;
            let v = |ch: usize| ((sum[pix * 3 + ch] / n) * 255.0).round().clamp(0.0, 255.0) as u8;
            Rgb([v(0), v(1), v(2)])
        }))
    }

    /// The combination weights of one patch solved directly (an N x N system): for tests of the
    /// closed form.
    pub fn direct_weights(lr_patches: &[DVector<f64>], x: &DVector<f64>, lambda: f64) -> Vec<f64> {
        let n = lr_patches.len();
        let d = x.len();
        let z = DMatrix::from_fn(d, n, |r, c| lr_patches[c][r] - x[r]);
        let mut g = z.transpose() * &z;
        for k in 0..n {
            g[(k, k)] += lambda;
        }
        let a = g
            .lu()
            .solve(&DVector::from_element(n, 1.0))
            .unwrap_or_else(|| DVector::zeros(n));
        let total = a.sum();
        a.iter().map(|v| v / total).collect()
    }

    /// The HR patch of one position (by index) for an LR patch vector: for tests.
    pub fn position_patch(&self, index: usize, x: &DVector<f64>) -> DVector<f64> {
        let pos = &self.positions[index];
        &pos.mean_hr + &pos.map * (x - &pos.mean_lr)
    }

    /// Number of patch positions.
    pub fn positions(&self) -> usize {
        self.positions.len()
    }

    /// The regularisation `lambda` used at one position is `reg * trace(S) / d`; tests recompute
    /// it from the patches.
    pub fn lambda_for(&self, lr_patches: &[DVector<f64>]) -> f64 {
        let n = lr_patches.len() as f64;
        let d = lr_patches[0].len();
        let mean = lr_patches.iter().fold(DVector::zeros(d), |a, v| a + v) / n;
        let trace: f64 = lr_patches.iter().map(|v| (v - &mean).norm_squared()).sum();
        self.config.reg * trace / d as f64 + 1e-12
    }
}
