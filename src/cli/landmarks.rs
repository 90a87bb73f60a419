//! `ofhnet landmarks train`: the semantic-structure loss network and the evaluation detector.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::data::dataset::Dataset;
use crate::train::landmarks::{LandmarkSpec, Role, train_landmarks};

use super::progress_bar;

/// `ofhnet landmarks ...`
#[derive(Debug, Subcommand)]
pub enum LandmarksCommand {
    /// Train a 68-point landmark network on HR faces and report its NRMSE on the test split.
    Train(LandmarksTrainArgs),
}

/// `ofhnet landmarks train`
#[derive(Debug, Args)]
pub struct LandmarksTrainArgs {
    /// A prepared dataset with 68-point landmarks.
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory (resumes from its checkpoint if it has one).
    #[arg(long)]
    pub out: PathBuf,
    /// `loss` (frozen inside the semantic structure loss) or `eval` (the evaluation detector;
    /// wider and another seed by default).
    #[arg(long, default_value = "loss")]
    pub role: String,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub steps: Option<usize>,
    #[arg(long)]
    pub epochs: Option<f64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Widths of the four conv stages, e.g. 16,32,48,64.
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<usize>>,
}

/// Runs `ofhnet landmarks ...`.
pub fn run(cmd: &LandmarksCommand, device: crate::device::DeviceSpec) -> anyhow::Result<()> {
    match cmd {
        LandmarksCommand::Train(args) => run_train(args, device),
    }
}

fn run_train(
    args: &LandmarksTrainArgs,
    device_spec: crate::device::DeviceSpec,
) -> anyhow::Result<()> {
    let role = match args.role.as_str() {
        "loss" => Role::Loss,
        "eval" => Role::Eval,
        other => anyhow::bail!("--role `{other}`: expected loss or eval"),
    };
    let mut spec = LandmarkSpec::for_role(role);
    if let Some(s) = args.seed {
        spec.seed = s;
    }
    if let Some(s) = args.steps {
        spec.steps = Some(s);
    }
    if let Some(e) = args.epochs {
        spec.epochs = e;
    }
    if let Some(b) = args.batch_size {
        anyhow::ensure!(b > 0, "--batch-size must be at least 1");
        spec.batch_size = b;
    }
    if let Some(w) = &args.widths {
        anyhow::ensure!(
            w.len() == 4 && w.iter().all(|x| *x > 0),
            "--widths: give four positive widths, e.g. 16,32,48,64"
        );
        spec.widths = [w[0], w[1], w[2], w[3]];
    }
    let device = device_spec.to_device()?;
    let data = Dataset::open(&args.data)
        .with_context(|| format!("opening the prepared dataset {}", args.data.display()))?;
    let train = data.split("train")?;
    let test = data.split("test")?;
    let bar = progress_bar(0, "landmarks");
    let record = train_landmarks(
        &spec,
        &train,
        Some(&test),
        &args.out,
        &device,
        &bar,
        &crate::interrupt::Cancel::new(),
    )
    .with_context(|| format!("training landmarks into {}", args.out.display()))?;
    bar.finish_and_clear();
    println!(
        "landmark network ({:?}) in {}: {} steps on {} faces at {:.1} images/s on {device_spec}; \
         test NRMSE {} over {} faces",
        record.spec.role,
        args.out.display(),
        record.steps,
        record.train_images,
        record.images_per_s,
        record
            .test_nrmse
            .map(|v| format!("{v:.3}"))
            .unwrap_or_else(|| "n/a".into()),
        record.test_images
    );
    Ok(())
}
