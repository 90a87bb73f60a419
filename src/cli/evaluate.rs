//! `ofhnet evaluate`: per-image PSNR/SSIM (RGB and Y), NRMSE and parsing IoU of OFHNet and of
//! IN+bicubic behind the same InpaintNet, on a prepared dataset's test split.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::data::dataset::Dataset;
use crate::data::occlusion::OcclusionProtocol;
use crate::evaluate::{EvalOptions, Pipeline, evaluate_pipeline, means, write_csv};
use crate::metrics::{Metric, Values, metric::text_table};
use crate::model::Model;
use crate::train::landmarks::load_landmark_net;

use super::progress_bar;

/// `ofhnet evaluate`
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// A model directory from `ofhnet train`.
    #[arg(long)]
    pub model: PathBuf,
    /// A prepared dataset.
    #[arg(long)]
    pub data: PathBuf,
    /// random, position:tl|tr|bl|br, or size:N.
    #[arg(long, default_value = "random")]
    pub occlusion: String,
    /// The evaluation landmark detector (from `ofhnet landmarks train --role eval`); without it
    /// NRMSE and IoU are not computed.
    #[arg(long)]
    pub landmarks: Option<PathBuf>,
    /// Split to evaluate on.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Per-image CSV (default MODEL/eval-OCCLUSION.csv).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Evaluate only the first N faces.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Flip self-ensemble: average each stage's outputs on the face and on its mirror image.
    #[arg(long)]
    pub self_ensemble: bool,
}

/// Runs `ofhnet evaluate`.
pub fn run(args: &EvaluateArgs, device_spec: crate::device::DeviceSpec) -> anyhow::Result<()> {
    let occlusion: OcclusionProtocol = args.occlusion.parse()?;
    let device = device_spec.to_device()?;
    let model = Model::load(&args.model, &device)?;
    let data = Dataset::open(&args.data)
        .with_context(|| format!("opening the prepared dataset {}", args.data.display()))?;
    let split = data.split(&args.split)?;
    let detector = match &args.landmarks {
        Some(dir) => Some(
            load_landmark_net(dir, &device)
                .with_context(|| format!("loading the evaluation detector {}", dir.display()))?,
        ),
        None => None,
    };
    let options = EvalOptions {
        occlusion,
        limit: args.limit,
        ..EvalOptions::default()
    };
    let bar = progress_bar(0, "evaluating");
    let started = std::time::Instant::now();
    let pipeline = Pipeline {
        self_ensemble: args.self_ensemble,
        ..model.pipeline()
    };
    let rows = evaluate_pipeline(&pipeline, &split, detector.as_ref(), &options, &bar)?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let csv = args.csv.clone().unwrap_or_else(|| {
        args.model.join(format!(
            "eval-{}.csv",
            occlusion.to_string().replace(':', "-")
        ))
    });
    write_csv(&csv, &rows)?;
    let faces = rows.len() / 2;
    println!(
        "{} faces of {}/{} with occlusion {occlusion} in {seconds:.1}s ({:.1} faces/s on {device_spec}); per-image rows in {}",
        faces,
        args.data.display(),
        args.split,
        faces as f64 / seconds.max(1e-9),
        csv.display()
    );
    let table: Vec<(Vec<String>, Values)> = means(&rows)
        .into_iter()
        .map(|m| (vec![m.method], m.values))
        .collect();
    print!("{}", text_table(&["method"], &table, &Metric::ALL));
    Ok(())
}
