//! Timing of the work a training run and a user's inference consist of, for the side-by-side
//! benchmark against the PyTorch reference (`benches/reference/ofhnet_ref.py`, `scripts/bench.sh`).
//!
//! Each kind of work is the code training and inference run, not a copy of it:
//! - `stage1`: one [`Stage1Nets::step`] (Eq. 1) on a batch of occluded 16x16 faces;
//! - `stage2`: one [`Stage2Nets::step`] (InpaintNet, the discriminator step, the generator step
//!   of Eq. 6) on a batch, with the losses of the method (`ofhnet`: L2 + adversarial; the semantic
//!   structure loss when asked, through a fresh frozen landmark network);
//! - `infer1` / `inferbatch`: [`Model::hallucinate`] of one face / a batch (u8 in, u8 out);
//! - `evaluate`: what `ofhnet evaluate --landmarks` does with a test split of `batch` faces
//!   (660 by default, celeba6k's test split), [`evaluate_model`] with an evaluation detector: per
//!   face, the random protocol's hole (drawn from the face's name), InpaintNet and the generator
//!   (u8 out), IN+bicubic behind the same InpaintNet outputs, the detector's 68 points on the
//!   ground truth, the output and the bicubic face, and every metric of both methods (PSNR, SSIM,
//!   PSNR-Y, SSIM-Y, NRMSE, parsing IoU), in batches of 32. Not timed: loading the model and the
//!   split, writing the CSV;
//! - `hallucinate`: what `ofhnet hallucinate --model DIR --input DIR --out DIR` does with a
//!   directory of `batch` 128x128 PNG faces (1,000 by default; the protocol's HR crop, which
//!   each face is downscaled from per PROTOCOL), [`input_files`] and [`hallucinate_files`]:
//!   listing the directory, reading and downscaling each face, inference 32 faces at a time,
//!   writing each 128x128 output as PNG into a fresh directory. Not timed: loading the model.
//!
//! The networks are freshly initialised (weights do not change the work); `evaluate`'s detector
//! has the evaluation role's widths ([`Role::Eval`]).
//!
//! Inputs are random faces drawn once (u8 pixels, one black square of side 4..=8 in each 16x16
//! face, as PROTOCOL's training law), outside the timed region; the u8-to-float conversion is
//! inside it, as in training. `evaluate`'s split holds random u8 HR and LR faces; `hallucinate`'s
//! PNG faces are smooth random images (a random 16x16 face upscaled with the protocol's bicubic,
//! plus noise of +-3 grey levels, with a black square of side 32..=64 on the 8-pixel grid), so
//! that they compress about as photos do. The reference does the same (its module docs list the
//! few places where the two cannot be identical). Repeats continue one training run, so the
//! first repeat also allocates the optimiser state: report medians.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use image::RgbImage;
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::data::dataset::Split;
use crate::data::image_io::save_png;
use crate::data::resize::upscale;
use crate::evaluate::{EvalOptions, evaluate_model};
use crate::hallucinate::{hallucinate_files, input_files};
use crate::model::Model;
use crate::train::config::{GeneratorSpec, Preset, SemanticBlock, TrainConfig};
use crate::train::landmarks::{LandmarkSpec, Role};
use crate::train::stages::{Stage1Nets, Stage2Context, Stage2Nets};
use crate::train::tensors::raw_to_tensor;
use crate::{Error, Result};

/// The kinds of work.
pub const WORK: [&str; 6] = [
    "stage1",
    "stage2",
    "infer1",
    "inferbatch",
    "evaluate",
    "hallucinate",
];

/// The default batch of a kind of work: `evaluate`'s faces (celeba6k's test split), the
/// directory of faces `hallucinate` reads, else a training batch.
pub fn default_batch(which: &str) -> usize {
    match which {
        "evaluate" => 660,
        "hallucinate" => 1000,
        _ => 16,
    }
}

/// What to time.
#[derive(Clone, Debug)]
pub struct StepBench {
    /// One of [`WORK`].
    pub which: String,
    pub preset: Preset,
    /// `upsample` (OFHNet), `vdsr`, `fsrcnn` or `urdgn`.
    pub generator: String,
    /// Faces per step; for `evaluate` and `hallucinate`, the faces of the whole run.
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

/// The generator a `--generator` name means (a `generator: {type: NAME}` tag, or `ofhnet`),
/// with its preset sizes.
fn generator_spec(name: &str) -> Result<GeneratorSpec> {
    let tag = if name == "ofhnet" { "upsample" } else { name };
    serde_json::from_value(serde_json::json!({ "type": tag }))
        .map_err(|e| Error::invalid("--generator", format!("`{name}`: {e}")))
}

/// The configuration the work runs under: the preset's networks and the method's losses as the
/// harness trains them (VDSR and FSRCNN: L2; URDGN: L2 + adversarial; OFHNet: L2 + adversarial,
/// plus the semantic structure loss when asked).
pub fn bench_config(opts: &StepBench) -> Result<TrainConfig> {
    let mut c = TrainConfig::for_preset(opts.preset);
    c.generator = generator_spec(&opts.generator)?;
    c.seed = opts.seed;
    c.stage1.batch_size = opts.batch;
    c.stage2.batch_size = opts.batch;
    c.losses = c.generator.losses(&c.losses);
    if matches!(c.generator, GeneratorSpec::Upsample(_)) {
        c.losses.semantic = opts.semantic.then_some(SemanticBlock {
            weight: 1.0,
            network: None,
        });
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

/// A test split of `count` random u8 faces (HR and LR drawn independently), named as CelebA's.
fn random_split(count: usize, rng: &mut ChaCha8Rng) -> Split {
    Split {
        name: "test".into(),
        names: (1..=count).map(|i| format!("{i:06}.jpg")).collect(),
        hr_size: 128,
        lr_size: 16,
        hr: (0..count * 128 * 128 * 3).map(|_| rng.random()).collect(),
        lr: (0..count * 16 * 16 * 3).map(|_| rng.random()).collect(),
        landmarks5: vec![[[0.0; 2]; 5]; count],
        landmarks68: None,
        identity: vec![0; count],
        source: (0..count as i64).collect(),
    }
}

/// Writes `count` smooth random 128x128 faces as `dir/NNNNNN.png`: a random 16x16 face upscaled
/// with the protocol's bicubic, plus noise of +-3 grey levels, with a black square of side
/// 32..=64 on the 8-pixel grid (an occluded face as a user's photo would have it).
fn write_random_faces(dir: &Path, count: usize, rng: &mut ChaCha8Rng) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for i in 0..count {
        let raw: Vec<u8> = (0..16 * 16 * 3).map(|_| rng.random()).collect();
        let lr = RgbImage::from_raw(16, 16, raw)
            .ok_or_else(|| Error::invalid("bench", "a face of the wrong size"))?;
        let mut face = upscale(&lr, 128, -0.5);
        for v in face.iter_mut() {
            *v = (i32::from(*v) + rng.random_range(-3..=3)).clamp(0, 255) as u8;
        }
        let side = rng.random_range(4..=8u32);
        let (x0, y0) = (
            rng.random_range(0..=16 - side),
            rng.random_range(0..=16 - side),
        );
        for y in 8 * y0..8 * (y0 + side) {
            for x in 8 * x0..8 * (x0 + side) {
                face.put_pixel(x, y, image::Rgb([0, 0, 0]));
            }
        }
        save_png(&face, &dir.join(format!("{:06}.png", i + 1)))?;
    }
    Ok(())
}

/// A model of freshly initialised networks of `config`, in inference mode.
fn fresh_model(config: &TrainConfig, device: &Device) -> Model {
    Model {
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
    }
}

/// A fresh directory `$TMPDIR/ofhnet-bench-WHAT-*`, removed when dropped.
pub fn temp_dir(what: &str) -> Result<tempfile::TempDir> {
    let tmp = std::env::temp_dir();
    tempfile::Builder::new()
        .prefix(&format!("ofhnet-bench-{what}-"))
        .tempdir_in(&tmp)
        .map_err(|e| Error::io(&tmp, e))
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
    // Up to four distinct batches, cycled, so no repeat sees exactly the previous input
    // (`evaluate` and `hallucinate` draw their own faces, once).
    let whole_runs = matches!(opts.which.as_str(), "evaluate" | "hallucinate");
    let pool: Vec<_> = (0..if whole_runs { 0 } else { opts.repeats.min(4) })
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
        "evaluate" => {
            let model = fresh_model(&config, device);
            let detector = LandmarkSpec::for_role(Role::Eval).net_config().init(device);
            let split = random_split(batch, &mut rng);
            let options = EvalOptions::default();
            for _ in 0..total {
                time(&mut || {
                    let rows = evaluate_model(
                        &model,
                        &split,
                        Some(&detector),
                        &options,
                        &ProgressBar::hidden(),
                    )?;
                    if rows.len() != 2 * split.len() {
                        return Err(Error::invalid("bench", "lost faces in the evaluation"));
                    }
                    Ok(())
                })?;
            }
        }
        "hallucinate" => {
            let model = fresh_model(&config, device);
            let pipeline = model.pipeline();
            let dir = temp_dir("hallucinate")?;
            let input = dir.path().join("faces");
            write_random_faces(&input, batch, &mut rng)?;
            for i in 0..total {
                let out = dir.path().join(format!("out-{i}"));
                time(&mut || {
                    let (inputs, outputs) = input_files(&input, &out)?;
                    hallucinate_files(&pipeline, &inputs, &outputs, None, false)?;
                    if outputs.len() != batch {
                        return Err(Error::invalid("bench", "lost faces in hallucinate"));
                    }
                    Ok(())
                })?;
                std::fs::remove_dir_all(&out).map_err(|e| Error::io(&out, e))?;
            }
        }
        _ => {
            let model = fresh_model(&config, device);
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

/// The harness's overhead, measured on a fresh SQLite store (or `db`).
#[derive(Clone, Debug)]
pub struct HarnessBench {
    /// Runs of the sweep that is expanded and enqueued.
    pub runs: usize,
    /// Metric rows written (in units of `images` rows per (run, protocol)).
    pub rows: usize,
    /// Runs of the experiment that is reported.
    pub report_runs: usize,
    /// Test images per (run, protocol) in the metric-row and report benchmarks.
    pub images: usize,
    /// Bootstrap resamples of the report.
    pub resamples: usize,
}

/// One measured overhead and its target.
#[derive(Clone, Debug, Serialize)]
pub struct Overhead {
    pub what: String,
    pub seconds: f64,
    pub target_seconds: f64,
}

/// An experiment of `n` runs (one swept axis: stage 2's steps).
fn sweep_experiment(name: &str, n: usize) -> Result<crate::harness::experiment::Experiment> {
    let steps: Vec<String> = (0..n).map(|i| (100 + i).to_string()).collect();
    let yaml = format!(
        "name: {name}\ndata: {{prepared: results/{name}/data}}\nmethod: {{type: ofhnet, preset: tiny}}\n\
         sweep:\n  grid:\n    stages.stage2.steps: [{}]\n",
        steps.join(", ")
    );
    crate::harness::experiment::parse(&yaml, std::path::Path::new("bench.yaml"))
}

/// Plausible random values of every metric.
fn fake_values(rng: &mut ChaCha8Rng) -> crate::metrics::Values {
    let mut v = crate::metrics::Values::default();
    for m in crate::metrics::Metric::ALL {
        let base = if m.unit() == "dB" { 20.0 } else { 0.6 };
        v.set(m, Some(base + 0.1 * base * rng.random::<f64>()));
    }
    v
}

/// Per-image scores of one (run, protocol): OFHNet and IN+bicubic rows, 30 faces per identity
/// (as celeba6k's val and test splits have).
fn fake_scores(images: usize, rng: &mut ChaCha8Rng) -> Vec<crate::harness::store::ScoredImage> {
    let mut rows = Vec::with_capacity(images * 2);
    for i in 0..images {
        for method in ["ofhnet", "in_bicubic"] {
            rows.push((
                i as i64,
                Some(i as i64 / 30),
                crate::evaluate::Scores {
                    name: format!("{i:06}.jpg"),
                    method: method.into(),
                    occlusion: "random".into(),
                    values: fake_values(rng),
                },
            ));
        }
    }
    rows
}

/// Times enqueueing a sweep, writing metric rows and reporting an experiment, in `dir`.
pub fn run_harness_bench(
    opts: &HarnessBench,
    dir: &std::path::Path,
    bar: &indicatif::ProgressBar,
) -> Result<Vec<Overhead>> {
    use crate::harness::store::Store;
    use crate::harness::sweep;
    use crate::harness::worker::worker_info;

    let db = dir.join("bench.sqlite").display().to_string();
    let store = Store::open(&db)?;
    let mut out = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(7);

    // 1. Expand and enqueue a sweep.
    bar.set_message("enqueue");
    let t = Instant::now();
    let exp = sweep_experiment("sweep", opts.runs)?;
    let specs = sweep::expand(&exp)?;
    store.enqueue(&exp, "bench.yaml", &specs)?;
    out.push(Overhead {
        what: format!("expand and enqueue a {}-run sweep", specs.len()),
        seconds: t.elapsed().as_secs_f64(),
        target_seconds: 2.0,
    });

    // 2. Write metric rows: `images` OFHNet + IN+bicubic rows per (run, protocol).
    bar.set_message("metric rows");
    let per = 2 * opts.images.max(1);
    let units = opts.rows.div_ceil(per);
    let keys: Vec<String> = specs.iter().map(|s| s.key.clone()).collect();
    let batches: Vec<_> = (0..units.min(8))
        .map(|_| fake_scores(opts.images.max(1), &mut rng))
        .collect();
    let t = Instant::now();
    for u in 0..units {
        let key = &keys[u % keys.len()];
        let protocol = format!("size:{}", u / keys.len());
        store.write_metrics(key, &protocol, &batches[u % batches.len()], 0.0)?;
    }
    out.push(Overhead {
        what: format!("write {} metric rows ({units} evaluations)", units * per),
        seconds: t.elapsed().as_secs_f64(),
        target_seconds: 10.0,
    });

    // 3. Report an experiment of `report_runs` finished runs.
    bar.set_message("report");
    let exp = sweep_experiment("reported", opts.report_runs)?;
    let specs = sweep::expand(&exp)?;
    store.enqueue(&exp, "bench.yaml", &specs)?;
    let worker = worker_info("cpu");
    while let Some(run) = store.claim(&worker, Some("reported"))? {
        // A sweep of stage-2 settings: every run behind one shared stage-1 InpaintNet.
        store.record_stage(
            &run.key,
            &crate::harness::store::StageRow {
                stage: "stage1".into(),
                status: crate::harness::store::StageStatus::Done,
                shared_key: Some("stage1-bench".into()),
                reused: true,
                ..Default::default()
            },
        )?;
        store.write_metrics(&run.key, "random", &batches[0], 0.0)?;
        store.finish(&run.key, &worker.id, dir, 1.0, 1.0)?;
    }
    let t = Instant::now();
    let data = crate::report::load(&store, "reported", None)?;
    let loaded = t.elapsed().as_secs_f64();
    let options = crate::report::ReportOptions {
        out: dir.join("report"),
        face_images: false,
        reference: None,
        bootstrap: crate::metrics::bootstrap::BootstrapConfig {
            resamples: opts.resamples,
            ..Default::default()
        },
        command: "ofhnet bench harness".into(),
    };
    let t_tables = Instant::now();
    let tables = crate::report::tables::compute(&data, &options.bootstrap)?;
    let tables_s = t_tables.elapsed().as_secs_f64();
    drop(tables);
    let t_write = Instant::now();
    crate::report::write(&data, &options)?;
    let written = t_write.elapsed().as_secs_f64();
    eprintln!(
        "report breakdown: load {loaded:.2} s; write {written:.2} s, of which the tables \
         (intervals) about {tables_s:.2} s"
    );
    out.push(Overhead {
        what: format!(
            "ofhnet report over {} runs ({} images each, {} resamples; load + write)",
            specs.len(),
            opts.images,
            opts.resamples
        ),
        seconds: loaded + written,
        target_seconds: 5.0,
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `evaluate` and `hallucinate` run the real code on a few faces of preset tiny: a report
    /// with the repeats and the faces asked for.
    #[test]
    fn evaluate_and_hallucinate_time_the_faces_asked_for() {
        let device = Device::default();
        for which in ["evaluate", "hallucinate"] {
            let opts = StepBench {
                which: which.into(),
                preset: Preset::Tiny,
                generator: "ofhnet".into(),
                batch: 3,
                repeats: 2,
                semantic: false,
                seed: 0,
            };
            let report = run_step_bench(&opts, &device, "cpu").expect(which);
            assert_eq!((report.batch, report.repeats.len()), (3, 2), "{which}");
            assert!(report.repeats.iter().all(|r| r.seconds > 0.0), "{which}");
        }
        assert_eq!(default_batch("evaluate"), 660);
        assert_eq!(default_batch("hallucinate"), 1000);
    }
}
