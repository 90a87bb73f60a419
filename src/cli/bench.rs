//! `ofhnet bench`: timings for the side-by-side benchmark (scripts/bench.sh) and the harness's
//! overhead.

use clap::{Args, Subcommand};

use crate::bench::{
    HarnessBench, StepBench, default_batch, run_harness_bench, run_step_bench, temp_dir,
};
use crate::device::DeviceSpec;
use crate::train::config::Preset;

/// `ofhnet bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Time training steps, inference, an evaluation or `hallucinate` on a directory, on
    /// --device; prints JSON in the shape of benches/reference/ofhnet_ref.py's `step`.
    Step(StepArgs),
    /// Time the harness's overhead (enqueue a sweep, write metric rows, report an experiment)
    /// on a fresh SQLite store in a temporary directory, against its targets.
    Harness(HarnessArgs),
}

/// `ofhnet bench harness`
#[derive(Debug, Args)]
pub struct HarnessArgs {
    /// Runs of the sweep to expand and enqueue.
    #[arg(long, default_value_t = 10_000)]
    pub runs: usize,
    /// Metric rows to write.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: usize,
    /// Runs of the experiment to report.
    #[arg(long, default_value_t = 1_000)]
    pub report_runs: usize,
    /// Test images per evaluation (celeba6k's test split has 660).
    #[arg(long, default_value_t = 660)]
    pub images: usize,
    /// Bootstrap resamples of the report (the protocol's 10,000 by default).
    #[arg(long, default_value_t = 10_000)]
    pub resamples: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `ofhnet bench step`
#[derive(Debug, Args)]
pub struct StepArgs {
    /// stage1, stage2, infer1 (one face), inferbatch, evaluate (`ofhnet evaluate` with an
    /// evaluation detector on a test split) or hallucinate (`ofhnet hallucinate` on a directory
    /// of 128x128 PNG faces).
    #[arg(long, default_value = "stage2")]
    pub which: String,
    /// Network preset: tiny, cpu or paper.
    #[arg(long, default_value = "cpu")]
    pub preset: String,
    /// The stage-2 generator: upsample (OFHNet), vdsr, fsrcnn or urdgn.
    #[arg(long, default_value = "upsample")]
    pub generator: String,
    /// Faces per step (default 16); evaluate: the test split's faces (default 660);
    /// hallucinate: the directory's faces (default 1000).
    #[arg(long)]
    pub batch: Option<usize>,
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
                batch: a.batch.unwrap_or_else(|| default_batch(&a.which)),
                repeats: a.repeats,
                semantic: a.semantic,
                seed: a.seed,
            };
            let report = run_step_bench(&opts, &device.to_device()?, &device.to_string())?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        BenchCommand::Harness(a) => {
            let dir = temp_dir("harness")?;
            let bar = super::progress_bar(0, "harness");
            let results = run_harness_bench(
                &HarnessBench {
                    runs: a.runs,
                    rows: a.rows,
                    report_runs: a.report_runs,
                    images: a.images,
                    resamples: a.resamples,
                },
                dir.path(),
                &bar,
            );
            bar.finish_and_clear();
            drop(dir);
            let results = results?;
            if a.json {
                println!("{}", serde_json::to_string(&results)?);
            } else {
                println!("| harness work | seconds | target | met |\n|---|---:|---:|---|");
                for r in &results {
                    println!(
                        "| {} | {:.2} | < {:.0} | {} |",
                        r.what,
                        r.seconds,
                        r.target_seconds,
                        if r.seconds < r.target_seconds {
                            "yes"
                        } else {
                            "no"
                        }
                    );
                }
            }
            Ok(())
        }
    }
}
