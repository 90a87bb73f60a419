//! Timing of the work a training run and a user's inference consist of, for the side-by-side
//! benchmark against the PyTorch reference (`benches/reference/ofhnet_ref.py`, `scripts/bench.sh`).
//!
//! Each kind of work is the code training and inference run, not a copy of it:
//! - `stage1`: one [`Stage1Nets::step`] (Eq. 1) on a batch of occluded 16x16 faces;
//! - `stage2`: one [`Stage2Nets::step`] (InpaintNet, the discriminator step, the generator step
//!   of Eq. 6) on a batch, with the losses of the method (`ofhnet`: L2 + adversarial; the semantic
//!   structure loss when asked, through a fresh frozen landmark network);
//! - `infer1` / `inferbatch`: [`Ofhnet::hallucinate`] of one face / a batch (u8 in, u8 out).
//!
//! Inputs are random faces drawn once (u8 pixels, one black square of side 4..=8 in each 16x16
//! face, as PROTOCOL's training law), outside the timed region; the u8-to-float conversion is
//! inside it, as in training. The reference does the same (its module docs list the few places
//! where the two cannot be identical). Repeats continue one training run, so the first repeat
//! also allocates the optimiser state: report medians.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::model::Ofhnet;
use crate::train::config::{GeneratorSpec, OfhnetConfig, Preset, SemanticBlock};
use crate::train::landmarks::{LandmarkSpec, Role};
use crate::train::ofhnet::{Stage1Nets, Stage2Context, Stage2Nets};
use crate::train::tensors::raw_to_tensor;
use crate::{Error, Result};

/// The kinds of work.
pub const WORK: [&str; 4] = ["stage1", "stage2", "infer1", "inferbatch"];

/// What to time.
#[derive(Clone, Debug)]
pub struct StepBench {
    /// One of [`WORK`].
    pub which: String,
    pub preset: Preset,
    /// `upsample` (OFHNet), `vdsr`, `fsrcnn` or `urdgn`.
    pub generator: String,
    pub batch: usize,
    pub repeats: usize,
    /// Adds the semantic structure loss to stage 2 (weight 1).
    pub semantic: bool,
    pub seed: u64,
}

/// One timed repeat.
#[derive(Clone, Debug, Serialize)]
pub struct Repeat {
    pub seconds: f64,
    /// The process's peak resident set so far (VmHWM), MiB.
    pub peak_rss_mib: f64,
}

/// The result, in the reference's JSON shape.
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    pub which: String,
    pub preset: Preset,
    pub generator: String,
    pub batch: usize,
    pub threads: usize,
    pub device: String,
    pub implementation: String,
    pub peak_rss_mib_before: f64,
    pub repeats: Vec<Repeat>,
}

/// The process's peak resident set size in MiB (Linux `VmHWM`; 0 elsewhere).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn generator_spec(name: &str) -> Result<GeneratorSpec> {
    Ok(match name {
        "upsample" | "ofhnet" => GeneratorSpec::Upsample,
        "vdsr" => GeneratorSpec::Vdsr {
            depth: None,
            width: None,
        },
        "fsrcnn" => GeneratorSpec::Fsrcnn {
            d: None,
            s: None,
            m: None,
        },
        "urdgn" => GeneratorSpec::Urdgn { widths: None },
        other => {
            return Err(Error::invalid(
                "--generator",
                format!("`{other}`: expected upsample, vdsr, fsrcnn or urdgn"),
            ));
        }
    })
}

/// The configuration the work runs under: the preset's networks and the method's losses as the
/// harness trains them (VDSR and FSRCNN: L2; URDGN: L2 + adversarial; OFHNet: L2 + adversarial,
/// plus the semantic structure loss when asked).
pub fn bench_config(opts: &StepBench) -> Result<OfhnetConfig> {
    let mut c = OfhnetConfig::for_preset(opts.preset);
    c.generator = generator_spec(&opts.generator)?;
    c.seed = opts.seed;
    c.stage1.batch_size = opts.batch;
    c.stage2.batch_size = opts.batch;
    match c.generator {
        GeneratorSpec::Vdsr { .. } | GeneratorSpec::Fsrcnn { .. } => {
            c.losses.adversarial = None;
            c.losses.semantic = None;
        }
        GeneratorSpec::Urdgn { .. } => c.losses.semantic = None,
        GeneratorSpec::Upsample => {
            c.losses.semantic = opts.semantic.then_some(SemanticBlock {
                weight: 1.0,
                network: None,
            });
        }
    }
    Ok(c.resolved())
}

/// Random u8 faces: `(clean LR, occluded LR, HR)`, each `count` faces laid end to end (HWC).
fn random_faces(count: usize, rng: &mut ChaCha8Rng) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let lr_n = 16 * 16 * 3;
    let clean: Vec<u8> = (0..count * lr_n).map(|_| rng.random()).collect();
    let mut occluded = clean.clone();
    for face in occluded.chunks_mut(lr_n) {
        let side = rng.random_range(4..=8usize);
        let (x0, y0) = (
            rng.random_range(0..=16 - side),
            rng.random_range(0..=16 - side),
        );
        for y in y0..y0 + side {
            for x in x0..x0 + side {
                face[(y * 16 + x) * 3..(y * 16 + x) * 3 + 3].fill(0);
            }
        }
    }
    let hr: Vec<u8> = (0..count * 128 * 128 * 3).map(|_| rng.random()).collect();
    (clean, occluded, hr)
}

fn split_faces(flat: &[u8], n: usize) -> Vec<&[u8]> {
    flat.chunks(n).collect()
}

/// Times `opts.repeats` repeats of the work on `device`.
pub fn run_step_bench(opts: &StepBench, device: &Device, device_name: &str) -> Result<StepReport> {
    if !WORK.contains(&opts.which.as_str()) {
        return Err(Error::invalid(
            "--which",
            format!("`{}`: expected one of {}", opts.which, WORK.join(", ")),
        ));
    }
    if opts.batch == 0 || opts.repeats == 0 {
        return Err(Error::invalid(
            "bench",
            "--batch and --repeats must be at least 1",
        ));
    }
    let config = bench_config(opts)?;
    let batch = if opts.which == "infer1" {
        1
    } else {
        opts.batch
    };
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed.wrapping_add(1000));
    // Up to four distinct batches, cycled, so no repeat sees exactly the previous input.
    let pool: Vec<_> = (0..opts.repeats.min(4))
        .map(|_| random_faces(batch, &mut rng))
        .collect();
    let before = peak_rss_mib();
    let mut repeats = Vec::with_capacity(opts.repeats);
    let mut time = |f: &mut dyn FnMut() -> Result<()>| -> Result<()> {
        let t = Instant::now();
        f()?;
        repeats.push(Repeat {
            seconds: t.elapsed().as_secs_f64(),
            peak_rss_mib: peak_rss_mib(),
        });
        Ok(())
    };
    let total = opts.repeats;
    match opts.which.as_str() {
        "stage1" => {
            let ad = device.clone().autodiff();
            let mut nets = Some(Stage1Nets::init(&config, &ad));
            for i in 0..total {
                let (clean, occluded, _) = &pool[i % pool.len()];
                time(&mut || {
                    let clean = raw_to_tensor(&split_faces(clean, 768), 16, &ad);
                    let occluded = raw_to_tensor(&split_faces(occluded, 768), 16, &ad);
                    let lr = config.stage1.lr * config.stage1.lr_factor(i, total);
                    let taken = nets
                        .take()
                        .ok_or_else(|| Error::invalid("bench", "a previous step failed"))?;
                    let (next, _) = taken.step(occluded, clean, 1.0, lr, i)?;
                    nets = Some(next);
                    Ok(())
                })?;
            }
        }
        "stage2" => {
            let ad = device.clone().autodiff();
            let inpaint = crate::train::seeded_init(device, config.seed, || {
                config.inpaint_config().init(device)
            })
            .valid();
            let landmark = config.losses.semantic.as_ref().map(|_| {
                LandmarkSpec::for_role(Role::Loss)
                    .net_config()
                    .init(&ad)
                    .freeze()
            });
            let ctx = Stage2Context {
                config: &config,
                inpaint: &inpaint,
                landmark: landmark.as_ref(),
                device,
                ad: &ad,
            };
            let mut nets = Some(Stage2Nets::init(&config, &ad));
            for i in 0..total {
                let (_, occluded, hr) = &pool[i % pool.len()];
                time(&mut || {
                    let occluded = raw_to_tensor(&split_faces(occluded, 768), 16, device);
                    let hr = raw_to_tensor(&split_faces(hr, 128 * 128 * 3), 128, &ad);
                    let taken = nets
                        .take()
                        .ok_or_else(|| Error::invalid("bench", "a previous step failed"))?;
                    let (next, _) = taken.step(&ctx, occluded, hr, i, total)?;
                    nets = Some(next);
                    Ok(())
                })?;
            }
        }
        _ => {
            let model = Ofhnet {
                dir: Default::default(),
                inpaint: crate::train::seeded_init(device, config.seed, || {
                    config.inpaint_config().init(device)
                })
                .valid(),
                generator: crate::train::seeded_init(device, config.seed.wrapping_add(2), || {
                    config.generator_init(device)
                })
                .valid(),
                config: config.clone(),
                device: device.clone(),
            };
            for i in 0..total {
                let (_, occluded, _) = &pool[i % pool.len()];
                let faces: Vec<RgbImage> = split_faces(occluded, 768)
                    .into_iter()
                    .map(|raw| {
                        RgbImage::from_raw(16, 16, raw.to_vec())
                            .ok_or_else(|| Error::invalid("bench", "a face of the wrong size"))
                    })
                    .collect::<Result<_>>()?;
                let refs: Vec<&RgbImage> = faces.iter().collect();
                time(&mut || {
                    let out = model.hallucinate(&refs);
                    if out.len() != refs.len() {
                        return Err(Error::invalid("bench", "lost faces in inference"));
                    }
                    Ok(())
                })?;
            }
        }
    }
    Ok(StepReport {
        which: opts.which.clone(),
        preset: opts.preset,
        generator: opts.generator.clone(),
        batch,
        threads: rayon::current_num_threads(),
        device: device_name.to_string(),
        implementation: format!("ofhnet {}", env!("CARGO_PKG_VERSION")),
        peak_rss_mib_before: before,
        repeats,
    })
}
