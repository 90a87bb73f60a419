//! `ofhnet metrics REF OUT [--csv FILE]`: PSNR, SSIM, PSNR-Y and SSIM-Y (see
//! [`crate::metrics::psnr_ssim`]) between two images, or between two directories of same-named
//! images.
//!
//! Directories are matched by file stem, so `000001.jpg` (a reference) pairs with `000001.png`
//! (an output); PNG and JPEG files (`.png`, `.jpg`, `.jpeg`, any case) are read, other files are
//! ignored. A stem present on one side only is an error that lists the stems, unless
//! `--allow-missing` is given, which compares the common stems and warns with the others.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use image::RgbImage;
use rayon::prelude::*;

use crate::Error;
use crate::data::image_io::load_rgb;
use crate::data::protocol::HR_SIZE;
use crate::metrics::{Face, Metric, Values};

/// `ofhnet metrics REF OUT`
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Reference (ground-truth) image, or a directory of them.
    #[arg(value_name = "REF")]
    pub reference: PathBuf,
    /// Output image, or a directory of images named like the references (any of .png, .jpg, .jpeg).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// Write one row per image (name,psnr,ssim,psnr_y,ssim_y) to this CSV file; an identical pair
    /// has PSNR `inf`.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// With directories: compare the names found on both sides and warn about the others, instead
    /// of failing.
    #[arg(long)]
    pub allow_missing: bool,
}

/// The file extensions read from directories, lowercase.
const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Metrics of one (reference, output) pair.
struct Row {
    name: String,
    metrics: Values,
}

/// The metrics of an image pair: those that need no landmark points.
fn image_metrics() -> Vec<Metric> {
    Metric::ALL
        .into_iter()
        .filter(|m| !m.needs_points())
        .collect()
}

/// Runs `ofhnet metrics`.
pub fn run(args: &MetricsArgs) -> anyhow::Result<()> {
    let (ref_dir, out_dir) = (is_dir(&args.reference)?, is_dir(&args.output)?);
    let rows = match (ref_dir, out_dir) {
        (false, false) => {
            let metrics = compare_files(&args.reference, &args.output)?;
            print_metrics(&metrics);
            let name = args.output.file_name().map_or_else(
                || args.output.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            vec![Row { name, metrics }]
        }
        (true, true) => {
            let rows = compare_dirs(args)?;
            println!(
                "{} image pairs (references in {}, outputs in {})",
                rows.len(),
                args.reference.display(),
                args.output.display()
            );
            print_metrics(&mean_metrics(&rows));
            let identical = rows
                .iter()
                .filter(|r| r.metrics.get(Metric::Psnr).is_some_and(f64::is_infinite))
                .count();
            if identical > 0 {
                println!(
                    "{identical} pairs are identical (PSNR inf), so the mean PSNR is inf; the CSV \
                     has every pair's value"
                );
            }
            rows
        }
        (true, false) => bail!(
            "REF {} is a directory but OUT {} is not; give two image files or two directories",
            args.reference.display(),
            args.output.display()
        ),
        (false, true) => bail!(
            "OUT {} is a directory but REF {} is not; give two image files or two directories",
            args.output.display(),
            args.reference.display()
        ),
    };
    if let Some(csv) = &args.csv {
        write_csv(csv, &rows).with_context(|| format!("writing {}", csv.display()))?;
        println!("wrote {} rows to {}", rows.len(), csv.display());
    }
    Ok(())
}

fn is_dir(path: &Path) -> anyhow::Result<bool> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    Ok(meta.is_dir())
}

/// Loads both images, checks that their sizes agree and computes the metrics.
fn compare_files(reference: &Path, output: &Path) -> anyhow::Result<Values> {
    let ref_image = load_rgb(reference)?;
    let out_image = load_rgb(output)?;
    check_sizes(reference, &ref_image, output, &out_image)?;
    Values::score(&Face {
        reference: &ref_image,
        output: &out_image,
        points: None,
    })
    .with_context(|| {
        format!(
            "comparing {} (reference) with {} (output)",
            reference.display(),
            output.display()
        )
    })
}

fn check_sizes(
    reference: &Path,
    ref_image: &RgbImage,
    output: &Path,
    out_image: &RgbImage,
) -> anyhow::Result<()> {
    if ref_image.dimensions() == out_image.dimensions() {
        return Ok(());
    }
    let (rw, rh) = ref_image.dimensions();
    let hint = if out_image.dimensions() == (HR_SIZE, HR_SIZE) {
        format!(
            "; outputs are {HR_SIZE}x{HR_SIZE} HR faces, so the references must be the \
             protocol's {HR_SIZE}x{HR_SIZE} HR crops, not whole aligned images"
        )
    } else {
        String::new()
    };
    Err(Error::ImageSize {
        path: output.to_path_buf(),
        found_w: out_image.width(),
        found_h: out_image.height(),
        expected: format!("{rw}x{rh} like its reference {}{hint}", reference.display()),
    }
    .into())
}

/// The images of a directory by file stem; two files with one stem are an error.
fn list_images(dir: &Path) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let mut images: BTreeMap<String, PathBuf> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let is_image = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if !is_image || !path.is_file() {
            continue;
        }
        let Some(stem) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        if let Some(previous) = images.get(&stem) {
            bail!(
                "{} and {} have the same name `{stem}`; a directory must hold one image per name",
                previous.display(),
                path.display()
            );
        }
        images.insert(stem, path);
    }
    Ok(images)
}

fn compare_dirs(args: &MetricsArgs) -> anyhow::Result<Vec<Row>> {
    let refs = list_images(&args.reference)?;
    let outs = list_images(&args.output)?;
    let only_ref: Vec<&str> = refs
        .keys()
        .filter(|k| !outs.contains_key(*k))
        .map(String::as_str)
        .collect();
    let only_out: Vec<&str> = outs
        .keys()
        .filter(|k| !refs.contains_key(*k))
        .map(String::as_str)
        .collect();
    if !only_ref.is_empty() || !only_out.is_empty() {
        let mut message = String::new();
        for (names, here, there) in [
            (&only_ref, &args.reference, &args.output),
            (&only_out, &args.output, &args.reference),
        ] {
            if !names.is_empty() {
                let _ = write!(
                    message,
                    "{} has {} image(s) with no same-named image in {}: {}; ",
                    here.display(),
                    names.len(),
                    there.display(),
                    name_list(names)
                );
            }
        }
        if args.allow_missing {
            eprintln!("warning: {message}comparing the other names");
        } else {
            bail!("{message}pass --allow-missing to compare the names found on both sides");
        }
    }
    let pairs: Vec<(&String, &PathBuf, &PathBuf)> = refs
        .iter()
        .filter_map(|(name, r)| outs.get(name).map(|o| (name, r, o)))
        .collect();
    if pairs.is_empty() {
        bail!(
            "no same-named images (.png, .jpg, .jpeg) in {} and {}",
            args.reference.display(),
            args.output.display()
        );
    }
    pairs
        .par_iter()
        .map(|&(name, r, o)| {
            Ok(Row {
                name: name.clone(),
                metrics: compare_files(r, o)?,
            })
        })
        .collect()
}

/// Up to ten names, then how many more.
fn name_list(names: &[&str]) -> String {
    const SHOWN: usize = 10;
    let mut list = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        let _ = write!(list, " and {} more", names.len() - SHOWN);
    }
    list
}

fn mean_metrics(rows: &[Row]) -> Values {
    Values::mean(rows.iter().map(|r| &r.metrics))
}

fn print_metrics(values: &Values) {
    for m in image_metrics() {
        if let Some(v) = values.get(m) {
            println!("{:<12} {v:.4}", m.title());
        }
    }
}

/// Writes the rows as CSV with full-precision numbers (`inf` for an identical pair's PSNR).
fn write_csv(path: &Path, rows: &[Row]) -> crate::Result<()> {
    crate::metrics::write_csv(
        path,
        &["name"],
        rows.iter().map(|r| (vec![r.name.as_str()], &r.metrics)),
        &image_metrics(),
    )
}
