//! `ofhnet data synth | import | inspect`: make, import and look at face data.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::data::dataset::{self, ImportOptions, SplitRule};
use crate::data::occlusion::OcclusionProtocol;
use crate::data::protocol::Protocol;
use crate::data::synth::{self, SynthOptions};
use crate::report::inspect::{self, InspectOptions};

use super::progress_bar;

/// `ofhnet data ...`
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Draw deterministic synthetic faces with exact 68-point landmarks, written as a
    /// CelebA-layout root that `data import` reads.
    Synth(SynthArgs),
    /// Crop, downscale and split CelebA-layout roots into a prepared dataset (PROTOCOL.md).
    Import(ImportArgs),
    /// Draw a grid of HR faces with landmarks and parsing maps, LR faces and occluded LR faces.
    Inspect(InspectArgs),
}

/// `ofhnet data synth`
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output directory (a new CelebA-layout root).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of images.
    #[arg(long, default_value_t = 600)]
    pub count: usize,
    /// Seed: the same seed draws the same faces, byte for byte.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Images per synthetic identity.
    #[arg(long, default_value_t = 10)]
    pub per_identity: usize,
    /// Replace an existing synthetic root at --out (only one that `data synth` wrote).
    #[arg(long)]
    pub force: bool,
}

/// `ofhnet data import`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A CelebA-layout root (img_align_celeba/, list_eval_partition.txt, identity_CelebA.txt,
    /// list_landmarks_align_celeba.txt, optional landmarks68.txt). Repeat to merge roots.
    #[arg(long = "celeba", required = true)]
    pub roots: Vec<PathBuf>,
    /// A CelebA-layout root whose every face goes to the train split (repeatable), e.g.
    /// identity-disjoint extra training faces.
    #[arg(long = "train-celeba")]
    pub train_roots: Vec<PathBuf>,
    /// Output directory of the prepared dataset.
    #[arg(long)]
    pub out: PathBuf,
    /// official | identity[:TRAIN/TEST] | identity:TRAIN/VAL/TEST | random:TRAIN/TEST
    /// | random:TRAIN/VAL/TEST (counts or fractions).
    #[arg(long, default_value = "official")]
    pub split: String,
    /// Seed of the identity and random splits.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop at the first bad image instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// Replace an existing output directory (the old one is kept until the new one is complete).
    #[arg(long)]
    pub force: bool,
}

/// `ofhnet data inspect`
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A prepared dataset (from `data import`).
    pub dir: PathBuf,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// Occlusion to show: random, position:tl|tr|bl|br, size:N, or none.
    #[arg(long, default_value = "random")]
    pub occlusion: String,
    /// Split to draw from.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Number of faces (rows).
    #[arg(long, default_value_t = 8)]
    pub count: usize,
    /// Index of the first face.
    #[arg(long, default_value_t = 0)]
    pub first: usize,
}

/// Runs `ofhnet data ...`.
pub fn run(cmd: &DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Synth(args) => run_synth(args),
        DataCommand::Import(args) => run_import(args),
        DataCommand::Inspect(args) => run_inspect(args),
    }
}

fn run_synth(args: &SynthArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.count > 0, "--count must be at least 1");
    anyhow::ensure!(args.per_identity > 0, "--per-identity must be at least 1");
    let options = SynthOptions {
        count: args.count,
        seed: args.seed,
        images_per_identity: args.per_identity,
        ..SynthOptions::default()
    };
    if args.force && args.out.exists() {
        remove_synthetic_root(&args.out)?;
    }
    let start = Instant::now();
    let bar = progress_bar(args.count as u64, "drawing faces");
    let summary = synth::write_celeba_root(&args.out, &options, &bar)
        .with_context(|| format!("writing synthetic faces to {}", args.out.display()))?;
    bar.finish_and_clear();
    println!(
        "wrote {} synthetic faces of {} identities to {} in {:.1}s: train {}, val {}, test {} images",
        summary.images,
        summary.identities,
        args.out.display(),
        start.elapsed().as_secs_f64(),
        summary.split_images[0],
        summary.split_images[1],
        summary.split_images[2],
    );
    Ok(())
}

/// Removes a root that `data synth` wrote, and refuses anything else.
fn remove_synthetic_root(dir: &std::path::Path) -> anyhow::Result<()> {
    let source = dir.join("SOURCE.txt");
    let is_synthetic = std::fs::read_to_string(&source)
        .map(|s| s.contains("ofhnet data synth"))
        .unwrap_or(false);
    anyhow::ensure!(
        is_synthetic,
        "{}: --force replaces only a root written by `ofhnet data synth` (its SOURCE.txt says so); \
         this one is not, so it is left alone",
        dir.display()
    );
    std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))
}

fn run_import(args: &ImportArgs) -> anyhow::Result<()> {
    let split: SplitRule = args.split.parse()?;
    for root in args.roots.iter().chain(&args.train_roots) {
        anyhow::ensure!(
            root.exists(),
            "{}: no such directory (pass a CelebA-layout root to --celeba or --train-celeba)",
            root.display()
        );
    }
    let options = ImportOptions {
        roots: args.roots.clone(),
        train_roots: args.train_roots.clone(),
        out: args.out.clone(),
        split,
        seed: args.seed,
        protocol: Protocol::default(),
        strict: args.strict,
        force: args.force,
    };
    let start = Instant::now();
    let bar = progress_bar(0, "reading faces");
    let summary = dataset::import(&options, &bar)
        .with_context(|| format!("importing into {}", args.out.display()))?;
    bar.finish_and_clear();
    for p in &summary.problems {
        eprintln!("skipped: {p}");
    }
    let m = &summary.manifest;
    let count = |s: &str| m.counts.get(s).copied().unwrap_or(0);
    println!(
        "imported {} images into {} in {:.1}s: train {}, val {}, test {}; skipped {}{}",
        count("train") + count("val") + count("test"),
        args.out.display(),
        start.elapsed().as_secs_f64(),
        count("train"),
        count("val"),
        count("test"),
        m.skipped,
        if m.has_landmarks68 {
            ""
        } else {
            " (no landmarks68.txt: 68-point landmarks are absent)"
        }
    );
    Ok(())
}

fn run_inspect(args: &InspectArgs) -> anyhow::Result<()> {
    let occlusion: OcclusionProtocol = args.occlusion.parse()?;
    let ds = dataset::Dataset::open(&args.dir)
        .with_context(|| format!("opening the prepared dataset {}", args.dir.display()))?;
    let split = ds.split(&args.split)?;
    let options = InspectOptions {
        occlusion,
        first: args.first,
        count: args.count,
    };
    let grid = inspect::grid(&split, &options)?;
    crate::data::image_io::save_png(&grid, &args.out)?;
    println!(
        "wrote {} ({} faces of {}/{}); columns: {}",
        args.out.display(),
        args.count.min(split.len().saturating_sub(args.first)),
        args.dir.display(),
        args.split,
        inspect::COLUMNS.join(" | ")
    );
    Ok(())
}
