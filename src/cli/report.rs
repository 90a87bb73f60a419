//! `ofhnet report`: an experiment's tables, charts, image grids and HTML page, regenerated from
//! the run store.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::harness::DbArgs;
use crate::metrics::bootstrap::{BootstrapConfig, Resample};
use crate::report::{ReportOptions, write};

/// `ofhnet report`
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The experiment's name in the store.
    pub experiment: String,
    /// The report's directory [default: reports/EXP].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Leave out the image grids (for faces whose licence forbids redistributing images made
    /// from them, such as CelebA).
    #[arg(long)]
    pub no_face_images: bool,
    /// The method (or row label) the paired differences are taken against [default: the
    /// experiment's `reference`, else the first row].
    #[arg(long)]
    pub reference: Option<String>,
    /// Also the runs of the experiment's older definitions, each row labelled with its version.
    #[arg(long)]
    pub all_versions: bool,
    /// Bootstrap resamples per interval.
    #[arg(long, default_value_t = crate::metrics::bootstrap::DEFAULT_RESAMPLES)]
    pub resamples: usize,
    /// Seed of the bootstrap's resampling.
    #[arg(long, default_value_t = crate::metrics::bootstrap::DEFAULT_SEED)]
    pub bootstrap_seed: u64,
    /// What the bootstrap resamples: `images` (each face independently, PROTOCOL's default)
    /// or `identities` (the people, with all their faces: the cluster bootstrap, the honest
    /// interval for a claim about new people when a split has several faces per person).
    #[arg(long, value_enum, default_value_t = Resample::Images)]
    pub resample: Resample,
    /// A file of `name identity` lines (CelebA's identity_CelebA.txt) for the metric rows that
    /// have no identity in the store (written before ofhnet stored identities).
    #[arg(long, value_name = "FILE")]
    pub identities: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let store = args.db.open()?;
    let versions = if args.all_versions {
        crate::harness::store::Versions::All
    } else {
        crate::harness::store::Versions::Current
    };
    let data = crate::report::load_versions(
        &store,
        &args.experiment,
        args.reference.as_deref(),
        versions,
    )
    .with_context(|| format!("reading experiment `{}`", args.experiment))?;
    let mut data = data;
    if let Some(file) = &args.identities {
        let list = crate::data::celeba::read_identity_list(file)
            .with_context(|| format!("reading identities from {}", file.display()))?;
        let filled = data.fill_identities(&list.into_iter().collect())?;
        println!(
            "{filled} metric rows took their identity from {}",
            file.display()
        );
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(&args.experiment));
    // `ofhnet` rather than the binary's path, so the command reads the same on every machine.
    let command = std::iter::once("ofhnet".to_string())
        .chain(std::env::args().skip(1))
        .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
        .collect::<Vec<_>>()
        .join(" ");
    let options = ReportOptions {
        out: out.clone(),
        face_images: !args.no_face_images,
        reference: args.reference.clone(),
        bootstrap: BootstrapConfig {
            resamples: args.resamples,
            seed: args.bootstrap_seed,
            resample: args.resample,
            ..BootstrapConfig::default()
        },
        command,
    };
    let summary = write(&data, &options)
        .with_context(|| format!("writing the report into {}", out.display()))?;
    println!(
        "report of {} ({} runs, {} rows) in {}: {} files; open {}",
        data.experiment,
        data.runs.len(),
        data.entities.len(),
        out.display(),
        summary.files.len(),
        out.join("index.html").display()
    );
    if !summary.removed.is_empty() {
        println!(
            "removed {} files of an older report in {} (not written by this one)",
            summary.removed.len(),
            out.display()
        );
    }
    if !summary.missing.is_empty() {
        println!("missing from the report:");
        for m in &summary.missing {
            println!("  - {m}");
        }
    }
    Ok(())
}
