//! `ofhnet hallucinate`: a user's own faces through a trained OFHNet, or through any run of the
//! run store (OFHNet or a baseline, IN+bicubic and IN+Ma included), with its kept checkpoint.
//!
//! The inputs it accepts and how a directory is batched: [`crate::hallucinate`] (the library
//! module this command and `ofhnet bench step --which hallucinate` share).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use image::{GrayImage, RgbImage};

use crate::data::image_io::save_png;
use crate::evaluate::{Pipeline, Upscale};
use crate::hallucinate::{hallucinate_files, input_files};
use crate::harness::store::RunStatus;
use crate::methods::position_patch::PositionPatch;
use crate::model::Model;
use crate::nets::inpaint::InpaintNet;
use crate::train::checkpoint::load_module;
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
    /// Flip self-ensemble: average InpaintNet's and then the upscaler's outputs on each face and
    /// on its mirror image (twice the passes; off is the paper's single pass).
    #[arg(long)]
    pub self_ensemble: bool,
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
                self_ensemble: false,
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
                self_ensemble: false,
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

/// Runs `ofhnet hallucinate`.
pub fn run(args: &HallucinateArgs, device_spec: crate::device::DeviceSpec) -> anyhow::Result<()> {
    let device = device_spec.to_device()?;
    let loaded = load(args, &device)?;
    let pipeline = Pipeline {
        self_ensemble: args.self_ensemble,
        ..loaded.pipeline(&device)
    };
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
