//! `ofhnet export` and `ofhnet import`: a model's weights to and from safetensors with PyTorch's
//! names, and (`ofhnet export tensorboard`) an experiment's curves as TensorBoard event files.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::harness::DbArgs;
use crate::device::DeviceSpec;
use crate::interop::weights;

/// `ofhnet export --model DIR --out DIR`, or `ofhnet export tensorboard EXP --out DIR`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub what: Option<ExportCommand>,
    /// A model directory (from `ofhnet train`, a harness run's `model/`, or `ofhnet import`).
    #[arg(long, required = true)]
    pub model: Option<PathBuf>,
    /// The export directory (created; files in it are replaced).
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
}

/// What else `ofhnet export` writes.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// An experiment's training and validation curves and final metrics as TensorBoard event
    /// files, one directory per run (`tensorboard --logdir DIR`).
    Tensorboard(TensorboardArgs),
}

/// `ofhnet export tensorboard EXP --out DIR`
#[derive(Debug, Args)]
pub struct TensorboardArgs {
    /// The experiment's name.
    pub experiment: String,
    /// The log directory (one subdirectory per run; earlier event files there are replaced).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `ofhnet import --from DIR --out DIR`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An export directory: config.json, networks.json and the safetensors files.
    #[arg(long)]
    pub from: PathBuf,
    /// The model directory to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `ofhnet export`.
pub fn export(args: &ExportArgs, device_spec: DeviceSpec) -> anyhow::Result<()> {
    if let Some(ExportCommand::Tensorboard(tb)) = &args.what {
        return tensorboard(tb);
    }
    let (Some(model), Some(out)) = (&args.model, &args.out) else {
        anyhow::bail!("`ofhnet export` needs --model and --out");
    };
    let device = device_spec.to_device()?;
    let exported = weights::export(model, out, &device)
        .with_context(|| format!("exporting the model {}", model.display()))?;
    for (path, count) in &exported.tensors {
        println!("{} ({count} tensors)", path.display());
    }
    println!(
        "{}: {} with {} (load it in PyTorch with benches/reference/exchange.py)",
        out.join(weights::names::NETWORKS).display(),
        exported.networks.inpaint.class,
        exported.networks.generator.class,
    );
    Ok(())
}

fn tensorboard(args: &TensorboardArgs) -> anyhow::Result<()> {
    let store = args.db.open()?;
    let runs = crate::interop::tensorboard::export(&store, &args.experiment, &args.out)
        .with_context(|| format!("exporting the curves of `{}`", args.experiment))?;
    for r in &runs {
        println!("{} ({} scalars)", r.file.display(), r.scalars);
    }
    println!(
        "{} runs; view them with `tensorboard --logdir {}`",
        runs.len(),
        args.out.display()
    );
    Ok(())
}

/// Runs `ofhnet import`.
pub fn import(args: &ImportArgs, device_spec: DeviceSpec) -> anyhow::Result<()> {
    let device = device_spec.to_device()?;
    let networks = weights::import(&args.from, &args.out, &device).with_context(|| {
        format!(
            "importing {} into the model directory {}",
            args.from.display(),
            args.out.display()
        )
    })?;
    println!(
        "{}: a model directory for {} ({} + {})",
        args.out.display(),
        networks.method,
        networks.inpaint.class,
        networks.generator.class
    );
    Ok(())
}
