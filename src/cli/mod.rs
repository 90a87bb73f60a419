//! The `ofhnet` command line: one module per subcommand, each with its own args struct and `run`.
//! The library returns [`crate::Error`]; this layer adds context with `anyhow`.

use clap::{Parser, Subcommand};

use crate::device::DeviceSpec;

pub mod bench;
pub mod data;
pub mod evaluate;
pub mod hallucinate;
pub mod harness;
pub mod interop;
pub mod landmarks;
pub mod metrics;
pub mod report;
pub mod train;

/// Hallucinating very low-resolution and obscured faces (OFHNet): data, training, evaluation and
/// experiment tracking.
#[derive(Debug, Parser)]
#[command(name = "ofhnet", version, about, propagate_version = true)]
pub struct Cli {
    /// Compute device: auto (tch-cpu when built with the `tch` feature, else cpu), cpu
    /// (burn-flex), tch-cpu, tch-cuda[:N] (LibTorch) or cuda[:N] (burn-cuda).
    #[arg(long, global = true, default_value = "auto", env = "OFHNET_DEVICE")]
    pub device: String,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make, import and look at face data.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// PSNR, SSIM (RGB and Y) between two images or two directories of same-named images.
    Metrics(metrics::MetricsArgs),
    /// Train OFHNet's two stages on a prepared dataset.
    Train(train::TrainArgs),
    /// Train the landmark networks (semantic structure loss, evaluation detector).
    #[command(subcommand)]
    Landmarks(landmarks::LandmarksCommand),
    /// Score a trained model (and IN+bicubic behind its InpaintNet) on a test split.
    Evaluate(evaluate::EvaluateArgs),
    /// Turn occluded tiny faces into 128x128 faces with a trained model.
    Hallucinate(hallucinate::HallucinateArgs),
    /// Check that a --device is usable: build a tensor on it and print the backend.
    Device,
    /// Enqueue an experiment, then work on it until every run is done or failed.
    Run(harness::RunArgs),
    /// Expand an experiment into runs and add them to the queue (`--dry-run`: print them).
    Enqueue(harness::EnqueueArgs),
    /// Claim and execute queued runs (many workers may share one store).
    Worker(harness::WorkerArgs),
    /// Summarise the experiments in the store, or list one experiment's runs.
    Status(harness::StatusArgs),
    /// Put an experiment's failed runs back in the queue.
    Retry(harness::RetryArgs),
    /// Everything stored about one run: provenance, stages, metric means, config.
    Show(harness::ShowArgs),
    /// The configuration fields that differ between two runs.
    Diff(harness::DiffArgs),
    /// Write an sbatch job-array script whose tasks are workers on a shared store.
    Slurm(harness::SlurmArgs),
    /// Tables, charts, image grids and an HTML page of an experiment, from the run store.
    Report(report::ReportArgs),
    /// Writes a trained model's networks as safetensors with PyTorch's names (see
    /// benches/reference/exchange.py), or with `tensorboard`, an experiment's curves as
    /// TensorBoard event files.
    Export(interop::ExportArgs),
    /// Builds a model directory from an export directory (safetensors written by `ofhnet
    /// export` or by PyTorch).
    Import(interop::ImportArgs),
    /// Timings: training steps and inference (for scripts/bench.sh), the harness's overhead.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

impl Cli {
    /// The parsed `--device`.
    pub fn device_spec(&self) -> anyhow::Result<DeviceSpec> {
        Ok(self.device.parse::<DeviceSpec>()?)
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if matches!(
        cli.command,
        Command::Status(_) | Command::Show(_) | Command::Diff(_)
    ) {
        // Listings end quietly when their reader goes away (`ofhnet status | head`), as Unix
        // tools do, instead of panicking on the closed pipe. Workers keep the default.
        crate::interrupt::exit_quietly_on_closed_pipe();
    }
    crate::nets::fused::check_env()?;
    match &cli.command {
        Command::Data(cmd) => data::run(cmd),
        Command::Metrics(args) => metrics::run(args),
        Command::Train(args) => train::run(args, cli.device_spec()?),
        Command::Landmarks(cmd) => landmarks::run(cmd, cli.device_spec()?),
        Command::Evaluate(args) => evaluate::run(args, cli.device_spec()?),
        Command::Hallucinate(args) => hallucinate::run(args, cli.device_spec()?),
        Command::Device => device_check(&cli),
        Command::Run(args) => {
            let spec = cli.device_spec()?;
            harness::run(args, &spec.to_string(), &spec.to_device()?)
        }
        Command::Enqueue(args) => harness::enqueue(args),
        Command::Worker(args) => {
            let spec = cli.device_spec()?;
            harness::worker(args, &spec.to_string(), &spec.to_device()?)
        }
        Command::Status(args) => harness::status(args),
        Command::Retry(args) => harness::retry(args),
        Command::Show(args) => harness::show(args),
        Command::Diff(args) => harness::diff(args),
        Command::Slurm(args) => harness::slurm(args, &cli.device_spec()?.to_string()),
        Command::Report(args) => report::run(args),
        Command::Export(args) => interop::export(args, cli.device_spec()?),
        Command::Import(args) => interop::import(args, cli.device_spec()?),
        Command::Bench(cmd) => bench::run(cmd, cli.device_spec()?),
    }
}

fn device_check(cli: &Cli) -> anyhow::Result<()> {
    use burn::tensor::Tensor;
    let spec = cli.device_spec()?;
    let device = spec.to_device()?;
    let a = Tensor::<2>::ones([2, 3], &device);
    let b = Tensor::<2>::ones([3, 2], &device);
    let sum: f32 = a.matmul(b).sum().into_scalar::<f32>();
    println!(
        "device {spec} ({}): 2x3 ones @ 3x2 ones sums to {sum}",
        spec.backend()
    );
    anyhow::ensure!(
        (sum - 12.0).abs() < 1e-4,
        "device {spec} computed {sum}, expected 12"
    );
    Ok(())
}

/// A progress bar on standard error (hidden when it is not a terminal).
pub fn progress_bar(len: u64, message: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    let style = indicatif::ProgressStyle::with_template(
        "{msg:>14} [{bar:40}] {pos}/{len} {per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(message);
    bar
}
