//! `ofhnet train`: OFHNet's two stages on a prepared dataset.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::data::dataset::Dataset;
use crate::train::config::{Preset, TrainConfig};
use crate::train::stages::{TrainOptions, TrainReport, train};

use super::progress_bar;

/// `ofhnet train`
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A prepared dataset (from `data import`); trains on its `train` split.
    #[arg(long)]
    pub data: PathBuf,
    /// The model directory to write (or to continue with --resume).
    #[arg(long)]
    pub out: PathBuf,
    /// A YAML or JSON file with the training configuration (see experiments/README.md);
    /// the flags below override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Network-size preset: tiny, cpu or paper.
    #[arg(long)]
    pub preset: Option<String>,
    /// Seed of initialisation, data order and training holes.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stage 1 optimiser steps.
    #[arg(long)]
    pub stage1_steps: Option<usize>,
    /// Stage 2 optimiser steps.
    #[arg(long)]
    pub stage2_steps: Option<usize>,
    /// Stage 1 epochs (when no step count is given).
    #[arg(long)]
    pub stage1_epochs: Option<f64>,
    /// Stage 2 epochs (when no step count is given).
    #[arg(long)]
    pub stage2_epochs: Option<f64>,
    /// Stage 2 batch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Log the losses every this many steps, in both stages (train_log.csv).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub log_every: Option<u64>,
    /// Turn the semantic structure loss on with this trained landmark network (a directory
    /// from `ofhnet landmarks train --role loss`).
    #[arg(long)]
    pub semantic_net: Option<PathBuf>,
    /// Weight of the semantic structure loss (default: the --config file's, else 1).
    #[arg(long)]
    pub semantic_weight: Option<f64>,
    /// Reuse this trained InpaintNet (an inpaint.bpk) instead of training stage 1.
    #[arg(long)]
    pub inpaint_from: Option<PathBuf>,
    /// Continue from the last checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
    /// Stop each stage after this many steps of this invocation (a checkpoint is written), with
    /// the stage's schedule (learning rate, warmup, validation) as the configuration's full length
    /// sets it; `--resume` continues. For a first look at a long run, or a time-sliced one.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub stop_after: Option<u64>,
}

/// Reads a training configuration from YAML or JSON, naming the file, line and field on error.
pub fn read_config(path: &Path) -> anyhow::Result<TrainConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_yaml::from_str(&text).map_err(|e| crate::Error::yaml(path, &e))?)
}

impl TrainArgs {
    /// The configuration: file, then flags.
    pub fn config(&self) -> anyhow::Result<TrainConfig> {
        let preset = match &self.preset {
            Some(p) => Some(
                serde_yaml::from_str::<Preset>(p)
                    .map_err(|_| anyhow::anyhow!("--preset `{p}`: expected tiny, cpu or paper"))?,
            ),
            None => None,
        };
        let mut c = match &self.config {
            Some(path) => read_config(path)?,
            None => TrainConfig::for_preset(preset.unwrap_or_default()),
        };
        if let Some(p) = preset {
            c.preset = p;
        }
        if let Some(s) = self.seed {
            c.seed = s;
        }
        if let Some(s) = self.stage1_steps {
            c.stage1.steps = Some(s);
        }
        if let Some(s) = self.stage2_steps {
            c.stage2.steps = Some(s);
        }
        if let Some(e) = self.stage1_epochs {
            c.stage1.epochs = e;
            c.stage1.steps = None;
        }
        if let Some(e) = self.stage2_epochs {
            c.stage2.epochs = e;
            c.stage2.steps = None;
        }
        if let Some(b) = self.batch_size {
            c.stage2.batch_size = b;
        }
        if let Some(n) = self.log_every {
            c.stage1.log_every = n as usize;
            c.stage2.log_every = n as usize;
        }
        if let Some(net) = &self.semantic_net {
            let weight = self
                .semantic_weight
                .or(c.losses.semantic.as_ref().map(|b| b.weight))
                .unwrap_or(1.0);
            c.losses.semantic = Some(crate::train::config::SemanticBlock {
                weight,
                network: Some(net.clone()),
            });
        } else if let Some(weight) = self.semantic_weight {
            match c.losses.semantic.as_mut() {
                Some(block) => block.weight = weight,
                None => anyhow::bail!(
                    "--semantic-weight: no semantic loss to weigh (name its landmark network \
                     with --semantic-net or in the --config file)"
                ),
            }
        }
        c.validate()?;
        Ok(c)
    }
}

/// Runs `ofhnet train`.
pub fn run(args: &TrainArgs, device_spec: crate::device::DeviceSpec) -> anyhow::Result<()> {
    let device = device_spec.to_device()?;
    let config = args.config()?;
    let data = Dataset::open(&args.data)
        .with_context(|| format!("opening the prepared dataset {}", args.data.display()))?;
    let split = data.split("train")?;
    let validate = match &config.stage2.validation {
        Some(v) => Some(crate::evaluate::validator(
            std::sync::Arc::new(data.split(&v.split)?),
            v.faces,
            &device,
        )?),
        None => None,
    };
    let options = TrainOptions {
        out: args.out.clone(),
        resume: args.resume,
        inpaint_from: args.inpaint_from.clone(),
        validate,
        stop_after: args.stop_after.map(|n| n as usize),
        ..TrainOptions::default()
    };
    let bar = progress_bar(0, "training");
    let start = Instant::now();
    let report = train(&config, &split, &options, &device, &bar)
        .with_context(|| format!("training into {}", args.out.display()))?;
    bar.finish_and_clear();
    print_report(
        &report,
        start.elapsed().as_secs_f64(),
        &args.out,
        device_spec,
    );
    Ok(())
}

fn print_report(report: &TrainReport, seconds: f64, out: &Path, device: crate::device::DeviceSpec) {
    for (name, r) in [("stage 1", &report.stage1), ("stage 2", &report.stage2)] {
        if r.skipped {
            println!("{name}: already done (reused)");
        } else if r.total_steps == 0 {
            println!("{name}: not started (stage 1 stopped first)");
        } else {
            let terms: Vec<String> = r
                .last_terms
                .iter()
                .map(|(t, v)| format!("{t} {v:.5}"))
                .collect();
            println!(
                "{name}: {} steps this run ({} in all), {:.2} images/s on {device}; last: {}",
                r.steps_run,
                r.total_steps,
                r.images_per_s,
                terms.join(", ")
            );
            if !r.finished {
                println!("{name}: stopped before its last step; --resume continues it");
            }
        }
    }
    println!("model in {} ({seconds:.1}s)", out.display());
}
