//! Scoring a model the way the paper does (PROTOCOL "Metrics"): every test face is occluded by
//! the chosen protocol, run through the method, rounded to u8 and compared with its HR ground
//! truth: PSNR and SSIM (RGB and Y), and, with an evaluation landmark detector, the 68-point
//! NRMSE and the parsing-map IoU between the points detected on the output and on the ground
//! truth.
//!
//! The same function serves `ofhnet evaluate` and the harness.

use std::path::Path;
use std::sync::Arc;

use burn::tensor::Device;
use image::RgbImage;
use image::imageops::flip_horizontal;
use indicatif::ProgressBar;

use crate::data::dataset::Split;
use crate::data::landmarks::Landmarks68;
use crate::data::occlusion::OcclusionProtocol;
use crate::data::resize::upscale;
use crate::methods::position_patch::PositionPatch;
use crate::methods::{Generator, bicubic};
pub use crate::metrics::Scores;
use crate::metrics::{Face, Metric, Values};
use crate::model::Model;
use crate::nets::inpaint::InpaintNet;
use crate::nets::landmark::LandmarkNet;
use crate::train::stages::{Validator, inpaint_for_upsampling};
use crate::train::tensors::{images_to_tensor, tensor_to_images};
use crate::{Error, Result};

/// Options of an evaluation.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    pub occlusion: OcclusionProtocol,
    /// Seed mixed into the random protocol's per-image holes (PROTOCOL: 0).
    pub occlusion_seed: u64,
    pub batch_size: usize,
    /// Evaluate only the first N faces.
    pub limit: Option<usize>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            occlusion: OcclusionProtocol::Random,
            occlusion_seed: 0,
            batch_size: 32,
            limit: None,
        }
    }
}

/// How a pipeline turns the inpainted 16x16 face into 128x128.
pub enum Upscale<'a> {
    /// A learned stage-2 generator (OFHNet, VDSR, FSRCNN, URDGN).
    Network(&'a Generator),
    /// PIL's bicubic (IN+bicubic).
    Bicubic,
    /// Position-patch dictionaries (IN+Ma).
    PositionPatch(&'a PositionPatch),
}

/// A method behind a trained InpaintNet.
pub struct Pipeline<'a> {
    pub inpaint: &'a InpaintNet,
    /// Feed the upscaler the known pixels and InpaintNet's only inside the hole.
    pub composite: bool,
    /// Flip self-ensemble (Lim et al. 2017's "+", horizontal flips only): InpaintNet's output is
    /// the mean of its outputs on the face and on the mirrored face (mirrored back), and the
    /// upscaler's likewise on that mean. Bicubic is mirror-symmetric, so IN+bicubic changes only
    /// through InpaintNet. Off: the paper's single pass.
    pub self_ensemble: bool,
    pub device: &'a Device,
    /// The method's name in the rows.
    pub method: &'a str,
    pub upscale: Upscale<'a>,
}

impl Pipeline<'_> {
    /// The inpainted LR faces (the upscaler's input) and the method's HR outputs.
    pub fn run(
        &self,
        occluded: &[&RgbImage],
        hr_size: u32,
    ) -> Result<(Vec<RgbImage>, Vec<RgbImage>)> {
        let x = images_to_tensor(occluded, self.device);
        let (_, mut input) = inpaint_for_upsampling(self.inpaint, x.clone(), self.composite);
        if self.self_ensemble {
            let (_, mirrored) = inpaint_for_upsampling(self.inpaint, x.flip([3]), self.composite);
            input = (input + mirrored.flip([3])).mul_scalar(0.5);
        }
        let inpainted = tensor_to_images(input.clone());
        let outputs = match &self.upscale {
            Upscale::Network(g) if self.self_ensemble => {
                let mirrored = g.forward(input.clone().flip([3])).flip([3]);
                tensor_to_images((g.forward(input) + mirrored).mul_scalar(0.5))
            }
            Upscale::Network(g) => tensor_to_images(g.forward(input)),
            Upscale::Bicubic => inpainted
                .iter()
                .map(|lr| upscale(lr, hr_size, -0.5))
                .collect(),
            Upscale::PositionPatch(pp) => inpainted
                .iter()
                .map(|lr| {
                    let out = pp.hallucinate(lr)?;
                    if !self.self_ensemble {
                        return Ok(out);
                    }
                    let mirrored = flip_horizontal(&pp.hallucinate(&flip_horizontal(lr))?);
                    Ok(mean_image(&out, &mirrored))
                })
                .collect::<Result<_>>()?,
        };
        Ok((inpainted, outputs))
    }
}

/// The pixel-wise mean of two images of one size, rounded half up (as the networks' outputs
/// are rounded from the mean in [0, 1]).
fn mean_image(a: &RgbImage, b: &RgbImage) -> RgbImage {
    let raw = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&p, &q)| (p as u16 + q as u16).div_ceil(2) as u8)
        .collect();
    RgbImage::from_raw(a.width(), a.height(), raw).unwrap_or_else(|| a.clone())
}

/// The occluded LR faces of a split under a protocol.
pub fn occluded_faces(split: &Split, options: &EvalOptions, idx: &[usize]) -> Vec<RgbImage> {
    idx.iter()
        .map(|&i| {
            let lr = split.lr_image(i);
            match options
                .occlusion
                .hole(&split.names[i], split.lr_size, options.occlusion_seed)
            {
                Some(h) => h.occlude(&lr),
                None => lr,
            }
        })
        .collect()
}

/// Scores one output against its ground truth on every metric.
pub fn score(
    name: &str,
    method: &str,
    occlusion: &OcclusionProtocol,
    hr: &RgbImage,
    output: &RgbImage,
    points: Option<(&Landmarks68, &Landmarks68)>,
) -> Result<Scores> {
    Ok(Scores {
        name: name.to_string(),
        method: method.to_string(),
        occlusion: occlusion.to_string(),
        values: Values::score(&Face {
            reference: hr,
            output,
            points,
        })?,
    })
}

fn detect(detector: &LandmarkNet, faces: &[RgbImage], device: &Device) -> Vec<Landmarks68> {
    let refs: Vec<&RgbImage> = faces.iter().collect();
    detector.points(images_to_tensor(&refs, device))
}

/// Evaluates a trained model (OFHNet or a learned baseline) and, behind the same InpaintNet
/// outputs, IN+bicubic.
pub fn evaluate_model(
    model: &Model,
    split: &Split,
    detector: Option<&LandmarkNet>,
    options: &EvalOptions,
    bar: &ProgressBar,
) -> Result<Vec<Scores>> {
    evaluate_pipeline(&model.pipeline(), split, detector, options, bar)
}

impl Model {
    /// The model as a [`Pipeline`]: its InpaintNet and stage-2 generator, on its device.
    pub fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            inpaint: &self.inpaint,
            composite: self.config.composite,
            self_ensemble: false,
            device: &self.device,
            method: self.config.generator.method(),
            upscale: Upscale::Network(&self.generator),
        }
    }
}

/// Evaluates a method and, behind the same InpaintNet outputs, IN+bicubic (once, when the
/// method is IN+bicubic itself).
pub fn evaluate_pipeline(
    pipeline: &Pipeline,
    split: &Split,
    detector: Option<&LandmarkNet>,
    options: &EvalOptions,
    bar: &ProgressBar,
) -> Result<Vec<Scores>> {
    let n = options.limit.unwrap_or(split.len()).min(split.len());
    if n == 0 {
        return Err(Error::invalid(
            "data",
            format!("the `{}` split is empty", split.name),
        ));
    }
    bar.set_length(n as u64);
    let with_bicubic = pipeline.method != bicubic::NAME;
    let mut rows = Vec::with_capacity(2 * n);
    let all: Vec<usize> = (0..n).collect();
    for idx in all.chunks(options.batch_size.max(1)) {
        let occluded = occluded_faces(split, options, idx);
        let refs: Vec<&RgbImage> = occluded.iter().collect();
        let (inpainted, outs) = pipeline.run(&refs, split.hr_size)?;
        let hrs: Vec<RgbImage> = idx.iter().map(|&i| split.hr_image(i)).collect();
        let bic: Vec<RgbImage> = if with_bicubic {
            inpainted
                .iter()
                .map(|lr| upscale(lr, split.hr_size, -0.5))
                .collect()
        } else {
            Vec::new()
        };
        let (gt_pts, out_pts, bic_pts) = match detector {
            Some(d) => (
                Some(detect(d, &hrs, pipeline.device)),
                Some(detect(d, &outs, pipeline.device)),
                with_bicubic.then(|| detect(d, &bic, pipeline.device)),
            ),
            None => (None, None, None),
        };
        for (k, &i) in idx.iter().enumerate() {
            let name = &split.names[i];
            let mut methods_here = vec![(pipeline.method, &outs[k], &out_pts)];
            if with_bicubic {
                methods_here.push((bicubic::NAME, &bic[k], &bic_pts));
            }
            for (method, out, pts) in methods_here {
                let points = match (&gt_pts, pts) {
                    (Some(g), Some(p)) => Some((&g[k], &p[k])),
                    _ => None,
                };
                rows.push(score(
                    name,
                    method,
                    &options.occlusion,
                    &hrs[k],
                    out,
                    points,
                )?);
            }
        }
        bar.inc(idx.len() as u64);
    }
    Ok(rows)
}

/// The [`Validator`] of stage 2's `validation` block: PROTOCOL's mean PSNR and SSIM (on
/// u8-rounded outputs) of the generator behind the InpaintNet on the first `faces` faces of
/// `split`, each with the "random" protocol's hole.
pub fn validator(split: Arc<Split>, faces: usize, device: &Device) -> Result<Validator> {
    if split.is_empty() {
        return Err(Error::invalid(
            "stage2.validation",
            format!("the `{}` split to validate on is empty", split.name),
        ));
    }
    let device = device.clone();
    Ok(Validator(Arc::new(move |generator, inpaint, composite| {
        let pipeline = Pipeline {
            inpaint,
            composite,
            self_ensemble: false,
            device: &device,
            method: "validation",
            upscale: Upscale::Network(generator),
        };
        let options = EvalOptions {
            limit: Some(faces),
            ..EvalOptions::default()
        };
        let rows = evaluate_pipeline(&pipeline, &split, None, &options, &ProgressBar::hidden())?;
        let mean = Values::mean(rows.iter().map(|r| &r.values));
        let get = |m: Metric| mean.get(m).unwrap_or(f64::NAN);
        Ok((get(Metric::Psnr), get(Metric::Ssim)))
    })))
}

/// How many test faces a run keeps as samples per protocol (the report's image grids).
pub const SAMPLE_FACES: usize = 6;

/// Saves the first `count` faces of `split` under `options.occlusion` as the report's image
/// grids need them: `dir/NNNN_{occluded,inpainted,output,gt}.png` (LR faces at 16x16, output and
/// ground truth at 128x128), NNNN being the face's index in the split.
pub fn save_samples(
    pipeline: &Pipeline,
    split: &Split,
    options: &EvalOptions,
    dir: &Path,
    count: usize,
) -> Result<()> {
    let n = count
        .min(options.limit.unwrap_or(split.len()))
        .min(split.len());
    if n == 0 {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let idx: Vec<usize> = (0..n).collect();
    let occluded = occluded_faces(split, options, &idx);
    let refs: Vec<&RgbImage> = occluded.iter().collect();
    let (inpainted, outputs) = pipeline.run(&refs, split.hr_size)?;
    for &i in &idx {
        let save = |image: &RgbImage, what: &str| {
            crate::data::image_io::save_png(image, &dir.join(format!("{i:04}_{what}.png")))
        };
        save(&occluded[i], "occluded")?;
        save(&inpainted[i], "inpainted")?;
        save(&outputs[i], "output")?;
        save(&split.hr_image(i), "gt")?;
    }
    Ok(())
}

/// Writes per-image scores as CSV (`name,method,occlusion` and every metric).
pub fn write_csv(path: &Path, rows: &[Scores]) -> Result<()> {
    crate::metrics::write_csv(
        path,
        &["name", "method", "occlusion"],
        rows.iter().map(|r| {
            (
                vec![r.name.as_str(), r.method.as_str(), r.occlusion.as_str()],
                &r.values,
            )
        }),
        &Metric::ALL,
    )
}

/// The mean scores of one method.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodMeans {
    pub method: String,
    pub images: usize,
    pub values: Values,
}

impl MethodMeans {
    pub fn get(&self, metric: Metric) -> Option<f64> {
        self.values.get(metric)
    }
}

/// Mean of each metric per method, in first-seen method order.
pub fn means(rows: &[Scores]) -> Vec<MethodMeans> {
    let mut methods: Vec<String> = Vec::new();
    for r in rows {
        if !methods.contains(&r.method) {
            methods.push(r.method.clone());
        }
    }
    methods
        .into_iter()
        .map(|m| {
            let sel: Vec<&Scores> = rows.iter().filter(|r| r.method == m).collect();
            MethodMeans {
                images: sel.len(),
                values: Values::mean(sel.iter().map(|r| &r.values)),
                method: m,
            }
        })
        .collect()
}
