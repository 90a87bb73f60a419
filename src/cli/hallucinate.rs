//! `ofhnet hallucinate`: a user's own faces through a trained OFHNet, or through any run of the
//! run store (OFHNet or a baseline, IN+bicubic and IN+Ma included), with its kept checkpoint.
//!
//! Accepted inputs: a 16x16 (occluded) face, used as it is; a 128x128 face (the protocol's HR
//! crop) or a 178x218 aligned CelebA-geometry face, brought to 16x16 per PROTOCOL.md (crop, then
//! antialiased bicubic). A `--mask` or `--mask-image` then blacks out the hole; without one the
//! input's exactly-black pixels are taken as the hole. A directory's faces go through the
//! networks [`BATCH`] at a time ([`hallucinate_files`], which `ofhnet bench step --which
//! hallucinate` times).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use image::{GrayImage, RgbImage};

use crate::data::image_io::{load_rgb, save_png};
use crate::data::protocol::{ALIGNED_HEIGHT, ALIGNED_WIDTH, Protocol};
use crate::data::resize::{crop_hr, downscale, upscale};
use crate::evaluate::{Pipeline, Upscale};
use crate::harness::store::RunStatus;
use crate::methods::position_patch::PositionPatch;
use crate::model::Model;
use crate::nets::inpaint::InpaintNet;
use crate::train::checkpoint::load_module;
use crate::{Error, Result};
use burn::module::Module;

/// `ofhnet hallucinate`
#[derive(Debug, Args)]
pub struct HallucinateArgs {
    /// A model directory from `ofhnet train`, or a run of the store (`--db`): its key, a key
    /// prefix, EXPERIMENT/NAME or EXPERIMENT/NAME@vN, of any method. A run's model is its kept
    /// checkpoint; IN+Ma's dictionaries are rebuilt from the run's prepared training split.
    #[arg(long, value_name = "DIR|RUN")]
    pub model: String,
    /// An image (PNG/JPEG) or a directory of images.
    #[arg(long)]
    pub input: PathBuf,
    /// Output PNG (for one input) or directory (for a directory input).
    #[arg(long)]
    pub out: PathBuf,
    /// A hole in 16x16 coordinates: x,y,w,h.
    #[arg(long, conflicts_with = "mask_image")]
    pub mask: Option<String>,
    /// A 16x16 mask image: non-black pixels are the hole.
    #[arg(long)]
    pub mask_image: Option<PathBuf>,
    /// Also write OUT-grid.png: input, inpainted LR, bicubic of the inpainted LR, output.
    #[arg(long)]
    pub grid: bool,
    #[command(flatten)]
    pub db: super::harness::DbArgs,
}

/// What `--model` named, loaded (one per process, so the variants' sizes do not matter).
#[allow(clippy::large_enum_variant)]
enum Loaded {
    /// A learned method's model directory (from `ofhnet train` or a run's stage 2).
    Model(Model),
    /// IN+bicubic or IN+Ma: a run's stage-1 InpaintNet, and IN+Ma's dictionaries.
    Baseline {
        inpaint: InpaintNet,
        composite: bool,
        dictionaries: Option<PositionPatch>,
        method: &'static str,
    },
}

impl Loaded {
    fn pipeline<'a>(&'a self, device: &'a burn::tensor::Device) -> Pipeline<'a> {
        match self {
            Loaded::Model(m) => Pipeline {
                inpaint: &m.inpaint,
                composite: m.config.composite,
                device,
                method: m.config.generator.method(),
                upscale: Upscale::Network(&m.generator),
            },
            Loaded::Baseline {
                inpaint,
                composite,
                dictionaries,
                method,
            } => Pipeline {
                inpaint,
                composite: *composite,
                device,
                method,
                upscale: match dictionaries {
                    Some(pp) => Upscale::PositionPatch(pp),
                    None => Upscale::Bicubic,
                },
            },
        }
    }
}

/// Loads `--model`: a model directory when it is one, else a run of the store.
fn load(args: &HallucinateArgs, device: &burn::tensor::Device) -> anyhow::Result<Loaded> {
    let dir = Path::new(&args.model);
    if dir.join(crate::train::stages::files::CONFIG).exists() {
        return Ok(Loaded::Model(Model::load(dir, device)?));
    }
    if dir.is_dir() {
        anyhow::bail!(
            "--model {}: a directory, but not a model directory (no {}); give a model \
             directory from `ofhnet train` or a run of the store",
            args.model,
            crate::train::stages::files::CONFIG
        );
    }
    let db = &args.db.db;
    if !db.contains(':') && !Path::new(db).exists() {
        anyhow::bail!(
            "--model {}: not a model directory, and there is no run store at {db} to find a run \
             in (give --db)",
            args.model
        );
    }
    let store = args.db.open()?;
    let run = store
        .find_run(&args.model)
        .with_context(|| format!("--model {}: not a model directory, nor a run", args.model))?;
    let who = format!("{}/{} ({})", run.experiment, run.name, run.key);
    anyhow::ensure!(
        run.status == RunStatus::Done,
        "--model {}: run {who} is {}; only a finished run has a kept checkpoint",
        args.model,
        run.status
    );
    let exp = run.experiment_config()?;
    let stages = store.stages(&run.key)?;
    let weights = |stage: &str| -> anyhow::Result<PathBuf> {
        stages
            .iter()
            .find(|s| s.stage == stage)
            .and_then(|s| s.checkpoint.clone())
            .map(PathBuf::from)
            .ok_or_else(|| anyhow::anyhow!("run {who}: the store names no {stage} weights"))
    };
    if exp.method.trains_stage2() {
        let upsample = weights("stage2")?;
        let model_dir = upsample.parent().unwrap_or(Path::new("."));
        let model = Model::load(model_dir, device)
            .with_context(|| format!("loading the kept checkpoint of {who}"))?;
        eprintln!("{who}: {} ({})", exp.method.label(), model_dir.display());
        return Ok(Loaded::Model(model));
    }
    let config = exp.train_config(run.seed as u64);
    let inpaint_path = weights("stage1")?;
    let inpaint = load_module(config.inpaint_config().init(device), &inpaint_path)
        .with_context(|| format!("loading the InpaintNet of {who}"))?
        .valid();
    let dictionaries = match exp.method.position_patch() {
        Some(pp) => {
            let data =
                crate::data::dataset::Dataset::open(&exp.data.prepared).with_context(|| {
                    format!(
                        "IN+Ma rebuilds its dictionaries from the run's training split, {}",
                        exp.data.prepared.display()
                    )
                })?;
            Some(PositionPatch::build(&data.split("train")?, &pp)?)
        }
        None => None,
    };
    eprintln!("{who}: {} ({})", exp.method.label(), inpaint_path.display());
    Ok(Loaded::Baseline {
        inpaint,
        composite: config.composite,
        dictionaries,
        method: exp.method.label(),
    })
}

/// The accepted input sizes, for error messages.
const ACCEPTED: &str =
    "16x16 (an LR face), 128x128 (the protocol's HR crop) or 178x218 (a CelebA-aligned face)";

/// Brings an input face to the protocol's 16x16.
pub fn to_lr(image: &RgbImage, path: &Path) -> Result<RgbImage> {
    let protocol = Protocol::default();
    match image.dimensions() {
        (16, 16) => Ok(image.clone()),
        (128, 128) => Ok(downscale(image, &protocol)),
        (w, h) if (w, h) == (ALIGNED_WIDTH, ALIGNED_HEIGHT) => {
            Ok(downscale(&crop_hr(image, &protocol)?, &protocol))
        }
        (w, h) => Err(Error::ImageSize {
            path: path.to_path_buf(),
            found_w: w,
            found_h: h,
            expected: format!("one of {ACCEPTED}"),
        }),
    }
}

fn parse_mask(spec: &str) -> anyhow::Result<GrayImage> {
    let v: Vec<u32> = spec
        .split(',')
        .map(|s| s.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("--mask `{spec}`: expected x,y,w,h in 16x16 pixels"))?;
    anyhow::ensure!(
        v.len() == 4,
        "--mask `{spec}`: expected four numbers x,y,w,h"
    );
    let (x, y, w, h) = (v[0], v[1], v[2], v[3]);
    anyhow::ensure!(
        w > 0 && h > 0 && x + w <= 16 && y + h <= 16,
        "--mask `{spec}`: the rectangle must be non-empty and lie inside the 16x16 face"
    );
    Ok(GrayImage::from_fn(16, 16, |px, py| {
        image::Luma([if px >= x && px < x + w && py >= y && py < y + h {
            255
        } else {
            0
        }])
    }))
}

fn apply_mask(lr: &mut RgbImage, mask: &GrayImage) {
    for (x, y, p) in mask.enumerate_pixels() {
        if p.0[0] > 0 {
            lr.put_pixel(x, y, image::Rgb([0, 0, 0]));
        }
    }
}

fn nearest(img: &RgbImage, size: u32) -> RgbImage {
    image::imageops::resize(img, size, size, image::imageops::FilterType::Nearest)
}

/// The side-by-side grid: occluded input, inpainted LR (both x8 nearest), bicubic, output.
pub fn grid_row(occluded: &RgbImage, inpainted: &RgbImage, output: &RgbImage) -> RgbImage {
    let size = output.width();
    let tiles = [
        nearest(occluded, size),
        nearest(inpainted, size),
        upscale(inpainted, size, -0.5),
        output.clone(),
    ];
    let gap = 4;
    let mut out = RgbImage::from_pixel(
        4 * size + 5 * gap,
        size + 2 * gap,
        image::Rgb([255, 255, 255]),
    );
    for (i, t) in tiles.iter().enumerate() {
        image::imageops::replace(
            &mut out,
            t,
            (gap + i as u32 * (size + gap)) as i64,
            gap as i64,
        );
    }
    out
}

/// Faces per network call when hallucinating a directory (the evaluation's batch).
pub const BATCH: usize = 32;

/// The images `input` names and the PNG each is written to: for a directory, its PNG and JPEG
/// files in name order, each to `out/STEM.png` (creating `out`); for a file, `input` to `out`.
pub fn input_files(input: &Path, out: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    if !input.is_dir() {
        return Ok((vec![input.to_path_buf()], vec![out.to_path_buf()]));
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(input).map_err(|e| Error::io(input, e))? {
        let path = entry.map_err(|e| Error::io(input, e))?.path();
        if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::invalid(
            "--input",
            format!("{}: no PNG or JPEG images", input.display()),
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let outs = files
        .iter()
        .map(|f| {
            let stem = f.file_stem().unwrap_or_default().to_string_lossy();
            out.join(format!("{stem}.png"))
        })
        .collect();
    Ok((files, outs))
}

/// Hallucinates each of `inputs` into the PNG at the same index of `outputs`: reads it, brings it
/// to 16x16 ([`to_lr`]), blacks out `mask`, runs `pipeline` on [`BATCH`] faces at a time and
/// writes the 128x128 result. With `grid`, returns each face's [`grid_row`].
pub fn hallucinate_files(
    pipeline: &Pipeline,
    inputs: &[PathBuf],
    outputs: &[PathBuf],
    mask: Option<&GrayImage>,
    grid: bool,
) -> Result<Vec<RgbImage>> {
    if inputs.len() != outputs.len() {
        return Err(Error::Mismatch(format!(
            "{} input images but {} output paths",
            inputs.len(),
            outputs.len()
        )));
    }
    let mut grids = Vec::new();
    for (ins, outs) in inputs.chunks(BATCH).zip(outputs.chunks(BATCH)) {
        let lrs = ins
            .iter()
            .map(|input| {
                let mut lr = to_lr(&load_rgb(input)?, input)?;
                if let Some(m) = mask {
                    apply_mask(&mut lr, m);
                }
                Ok(lr)
            })
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&RgbImage> = lrs.iter().collect();
        let (inpainted, results) = pipeline.run(&refs, 128)?;
        if inpainted.len() != ins.len() || results.len() != ins.len() {
            return Err(Error::Mismatch(format!(
                "the model returned {} outputs for {} faces ({} ...)",
                results.len(),
                ins.len(),
                ins[0].display()
            )));
        }
        for (k, (result, output)) in results.iter().zip(outs).enumerate() {
            save_png(result, output)?;
            if grid {
                grids.push(grid_row(&lrs[k], &inpainted[k], result));
            }
        }
    }
    Ok(grids)
}

/// Runs `ofhnet hallucinate`.
pub fn run(args: &HallucinateArgs, device_spec: crate::device::DeviceSpec) -> anyhow::Result<()> {
    let device = device_spec.to_device()?;
    let loaded = load(args, &device)?;
    let pipeline = loaded.pipeline(&device);
    let mask = match (&args.mask, &args.mask_image) {
        (Some(spec), _) => Some(parse_mask(spec)?),
        (None, Some(path)) => {
            let m = image::open(path)
                .with_context(|| format!("reading the mask {}", path.display()))?
                .into_luma8();
            anyhow::ensure!(
                m.dimensions() == (16, 16),
                "{}: the mask is {}x{}, expected 16x16",
                path.display(),
                m.width(),
                m.height()
            );
            Some(m)
        }
        (None, None) => None,
    };
    let (inputs, outputs) = input_files(&args.input, &args.out)?;
    let grids = hallucinate_files(&pipeline, &inputs, &outputs, mask.as_ref(), args.grid)?;
    if args.grid && !grids.is_empty() {
        let (w, h) = grids[0].dimensions();
        let mut sheet = RgbImage::new(w, h * grids.len() as u32);
        for (i, g) in grids.iter().enumerate() {
            image::imageops::replace(&mut sheet, g, 0, (i as u32 * h) as i64);
        }
        let path = if args.input.is_dir() {
            args.out.join("grid.png")
        } else {
            let stem = args.out.file_stem().unwrap_or_default().to_string_lossy();
            args.out.with_file_name(format!("{stem}-grid.png"))
        };
        save_png(&sheet, &path)?;
        println!(
            "grid (input | inpainted LR | bicubic | {}) in {}",
            pipeline.method,
            path.display()
        );
    }
    println!("wrote {} face(s) to {}", outputs.len(), args.out.display());
    Ok(())
}
