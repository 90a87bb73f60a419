//! `ofhnet bench`: timings for the side-by-side benchmark (scripts/bench.sh) and the harness's
//! overhead.

use clap::{Args, Subcommand};

use crate::bench::{StepBench, run_step_bench};
use crate::device::DeviceSpec;
use crate::train::config::Preset;

/// `ofhnet bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Time training steps or inference on --device; prints JSON in the shape of
    /// benches/reference/ofhnet_ref.py's `step`.
    Step(StepArgs),
}

/// `ofhnet bench step`
#[derive(Debug, Args)]
pub struct StepArgs {
    /// stage1, stage2, infer1 (one face) or inferbatch.
    #[arg(long, default_value = "stage2")]
    pub which: String,
    /// Network preset: tiny, cpu or paper.
    #[arg(long, default_value = "cpu")]
    pub preset: String,
    /// The stage-2 generator: upsample (OFHNet), vdsr, fsrcnn or urdgn.
    #[arg(long, default_value = "upsample")]
    pub generator: String,
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Add the semantic structure loss (a fresh frozen landmark network) to stage 2.
    #[arg(long)]
    pub semantic: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(cmd: &BenchCommand, device: DeviceSpec) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Step(a) => {
            let preset: Preset = serde_yaml::from_str(&a.preset).map_err(|_| {
                anyhow::anyhow!("--preset `{}`: expected tiny, cpu or paper", a.preset)
            })?;
            let opts = StepBench {
                which: a.which.clone(),
                preset,
                generator: a.generator.clone(),
                batch: a.batch,
                repeats: a.repeats,
                semantic: a.semantic,
                seed: a.seed,
            };
            let report = run_step_bench(&opts, &device.to_device()?, &device.to_string())?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
    }
}
