//! The two-stage training of every learned method (paper Sec. 3.3): stage 1 trains InpaintNet
//! with Eq. 1; stage 2 trains the method's generator (OFHNet's UpsampleNet, or a baseline's)
//! with the discriminator when its losses need one, on stage 1's (frozen) outputs with Eq. 6. Adam for
//! every network; GAN training is a custom loop with two optimisers, as in burn's wgan example.
//!
//! A model directory holds:
//! ```text
//! config.json            the resolved TrainConfig
//! inpaint.bpk            InpaintNet after stage 1
//! upsample.bpk           the generator after stage 2 (UpsampleNet for OFHNet)
//! discriminator.bpk      the discriminator after stage 2
//! train_log.csv          stage,step,term,value
//! stage1/checkpoint/     model + optimiser + state.json, written atomically
//! stage2/checkpoint/
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::store::ModuleSnapshot;
use burn::tensor::{Device, Tensor};
use indicatif::ProgressBar;

use super::checkpoint::{
    CheckpointDir, CheckpointState, load_module, load_optimizer, params_finite, read_json,
    save_module, save_optimizer, write_json,
};
use super::config::{Keep, StageSpec, TrainConfig, ValMetric};
use super::log::TrainLog;
use super::sampler::Sampler;
use super::tensors::{hr_tensor, raw_to_tensor};
use crate::data::dataset::Split;
use crate::losses;
use crate::methods::{Generator, NetFn, NetMap};
use crate::nets::discriminator::Discriminator;
use crate::nets::inpaint::InpaintNet;
use crate::nets::landmark::LandmarkNet;
use crate::{Error, Result};

/// File names inside a model directory.
pub mod files {
    pub const CONFIG: &str = "config.json";
    pub const INPAINT: &str = "inpaint.bpk";
    pub const UPSAMPLE: &str = "upsample.bpk";
    pub const DISCRIMINATOR: &str = "discriminator.bpk";
    pub const LOG: &str = "train_log.csv";
    /// The faces a harness run keeps per protocol for the report's image grids.
    pub const SAMPLES: &str = "samples";
    /// Which weights stage 2 ended with: [`super::KeptCheckpoint`].
    pub const KEPT: &str = "kept.json";
}

/// `kept.json`: which checkpoint a model's final generator is.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeptCheckpoint {
    /// `best` (by a validation metric) or `last`.
    pub keep: Keep,
    /// The stage-2 step whose weights were kept (1-based, as the log counts).
    pub step: usize,
    /// The validation metric and its value at that step, when validation was on.
    pub metric: Option<ValMetric>,
    pub value: Option<f64>,
    /// Whether the kept weights are the EMA of the generator's.
    pub ema: bool,
}

/// Asked after each validation of a stage-2 run with its step and best value so far of the
/// validation metric; answers with a reason to stop the run (pruning), or `None` to go on.
#[derive(Clone)]
pub struct PruneHook(pub Arc<dyn Fn(usize, f64) -> Result<Option<String>> + Send + Sync>);

/// Scores stage 2's generator (its EMA when on) behind the InpaintNet, `composite` as the
/// configuration says, on the validation faces (the first `validation.faces` of the split that
/// `validation.split` names): mean `(PSNR, SSIM)`. The caller makes it (the harness from
/// [`crate::evaluate::validator`]), so that training does not depend on evaluation.
#[derive(Clone)]
pub struct Validator(pub Arc<ValidateFn>);

/// `(generator, inpaint, composite) -> (mean PSNR, mean SSIM)`.
pub type ValidateFn = dyn Fn(&Generator, &InpaintNet, bool) -> Result<(f64, f64)> + Send + Sync;

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Validator")
    }
}

impl std::fmt::Debug for PruneHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PruneHook")
    }
}

/// Options of [`train`] that are not part of the model's configuration.
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// The model directory.
    pub out: PathBuf,
    /// Continue from the last checkpoints in `out` (and from finished stages).
    pub resume: bool,
    /// Take stage 1's InpaintNet from this file instead of training it (stage-1 reuse).
    pub inpaint_from: Option<PathBuf>,
    /// Stop after this many steps of the current stage (for tests of resumption); the run is
    /// then incomplete and `--resume` continues it.
    pub stop_after: Option<usize>,
    /// Train (or resume) stage 1 only: the harness trains a shared InpaintNet this way.
    pub stage1_only: bool,
    /// Checked before every step: a worker's Ctrl-C or SIGTERM, or a lost run store, stops
    /// training between two steps (the last checkpoint stays).
    pub cancel: crate::interrupt::Cancel,
    /// What stage 2's `validation` block scores with (required when the block is set).
    pub validate: Option<Validator>,
    /// The pruning rule of a sweep, when it has one.
    pub prune: Option<PruneHook>,
}

/// What one stage did.
#[derive(Clone, Debug, Default)]
pub struct StageReport {
    pub steps_run: usize,
    pub total_steps: usize,
    pub images_per_s: f64,
    /// Mean of each logged term over the last logged window.
    pub last_terms: Vec<(String, f64)>,
    /// Whether the stage was already complete (or reused) and nothing ran.
    pub skipped: bool,
    /// Whether the stage reached its last step.
    pub finished: bool,
}

/// What [`train`] did.
#[derive(Clone, Debug, Default)]
pub struct TrainReport {
    pub stage1: StageReport,
    pub stage2: StageReport,
}

/// Trains OFHNet on a prepared training split.
pub fn train(
    config: &TrainConfig,
    split: &Split,
    options: &TrainOptions,
    device: &Device,
    bar: &ProgressBar,
) -> Result<TrainReport> {
    config.validate()?;
    let mut config = config.resolved();
    // The landmark network is checked before stage 1 spends any time, and stored as an absolute
    // path so that the model directory can be resumed from anywhere.
    if let Some(network) = config.semantic_network_mut() {
        *network = std::fs::canonicalize(&*network).map_err(|e| Error::Io {
            path: network.clone(),
            source: std::io::Error::new(
                e.kind(),
                format!("losses.semantic.network: {e} (train one with `ofhnet landmarks train`)"),
            ),
        })?;
        super::landmarks::load_landmark_net(network, device)?;
    }
    if split.is_empty() {
        return Err(Error::invalid(
            "data",
            format!("the `{}` split is empty", split.name),
        ));
    }
    let out = &options.out;
    prepare_model_dir(&config, out, options.resume)?;
    let log = TrainLog::open(&out.join(files::LOG))?;

    let inpaint_path = out.join(files::INPAINT);
    let stage1 = if let Some(from) = &options.inpaint_from {
        let net = load_module(config.inpaint_config().init(device), from)?;
        save_module(&net, &inpaint_path)?;
        StageReport {
            skipped: true,
            finished: true,
            ..StageReport::default()
        }
    } else if stage_done(
        &inpaint_path,
        out,
        "stage1",
        config.stage1.total_steps(split.len()),
    ) {
        StageReport {
            skipped: true,
            finished: true,
            ..StageReport::default()
        }
    } else {
        let r = train_stage1(&config, split, out, &log, device, options, bar)?;
        if !r.finished {
            return Ok(TrainReport {
                stage1: r,
                stage2: StageReport::default(),
            });
        }
        r
    };
    if options.stage1_only {
        return Ok(TrainReport {
            stage1,
            stage2: StageReport::default(),
        });
    }
    let stage2 = if stage_done(
        &out.join(files::UPSAMPLE),
        out,
        "stage2",
        config.stage2.total_steps(split.len()),
    ) {
        StageReport {
            skipped: true,
            finished: true,
            ..StageReport::default()
        }
    } else {
        train_stage2(&config, split, out, &log, device, options, bar)?
    };
    Ok(TrainReport { stage1, stage2 })
}

/// A stage is done when its final weights exist and its checkpoint reached `total` steps; a
/// resumed run asked for more steps continues from that checkpoint.
fn stage_done(final_weights: &Path, out: &Path, stage: &str, total: usize) -> bool {
    if !final_weights.exists() {
        return false;
    }
    let ckpt = CheckpointDir::new(out.join(stage).join("checkpoint"));
    match ckpt.latest() {
        Some(dir) => read_json::<CheckpointState>(&dir.join("state.json"))
            .map(|s| s.step >= total)
            .unwrap_or(true),
        None => true,
    }
}

/// Creates the model directory or checks that it belongs to this configuration.
fn prepare_model_dir(config: &TrainConfig, out: &Path, resume: bool) -> Result<()> {
    let path = out.join(files::CONFIG);
    if path.exists() {
        if !resume {
            return Err(Error::invalid(
                "--out",
                format!(
                    "{} already holds a model; pass --resume to continue it, or choose another \
                     directory",
                    out.display()
                ),
            ));
        }
        // A resumed run may train longer or shorter and log or checkpoint at other intervals;
        // everything else must match what the directory was trained with.
        let stored: TrainConfig = read_json(&path)?;
        let mut same_run = stored.clone();
        // Model directories written before paths were stored absolute hold a relative one.
        if let Some(network) = same_run.semantic_network_mut()
            && let Ok(absolute) = std::fs::canonicalize(&*network)
        {
            *network = absolute;
        }
        for (s, c) in [
            (&mut same_run.stage1, &config.stage1),
            (&mut same_run.stage2, &config.stage2),
        ] {
            s.steps = c.steps;
            s.epochs = c.epochs;
            s.checkpoint_every = c.checkpoint_every;
            s.log_every = c.log_every;
        }
        if same_run != *config {
            return Err(Error::Mismatch(format!(
                "{}: the stored configuration differs from this run's (only the stages' steps, \
                 epochs, checkpoint_every and log_every may change on resume); resume with the \
                 same configuration, or train into another directory",
                path.display()
            )));
        }
        return write_json(&path, config);
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    write_json(&path, config)
}

/// A stage's batches and holes: the protocol's training law unless the stage sets `holes`,
/// mirrored faces when it sets `hflip`.
fn stage_sampler(split: &Split, spec: &StageSpec, seed: u64, tag: u64) -> Sampler {
    let sampler =
        Sampler::new(split.len(), spec.batch_size, seed, tag).with_hflip(spec.hflip == Some(true));
    match spec.holes {
        Some(h) => sampler.with_hole_sides(h.min, h.max),
        None => sampler,
    }
}

/// The LR faces of a batch, clean and with their training holes, and which of them were
/// mirrored (the HR faces must follow).
fn lr_batch(
    split: &Split,
    sampler: &Sampler,
    step: usize,
    idx: &[usize],
) -> (Vec<u8>, Vec<u8>, Vec<bool>) {
    let n = (split.lr_size * split.lr_size * 3) as usize;
    let mut clean = Vec::with_capacity(idx.len() * n);
    let mut occluded = Vec::with_capacity(idx.len() * n);
    let mut flips = Vec::with_capacity(idx.len());
    for (k, &i) in idx.iter().enumerate() {
        let mut img = split.lr_image(i);
        let flip = sampler.flip(step, k);
        if flip {
            image::imageops::flip_horizontal_in_place(&mut img);
        }
        flips.push(flip);
        clean.extend_from_slice(img.as_raw());
        let hole = sampler.hole(step, k, split.lr_size);
        occluded.extend_from_slice(hole.occlude(&img).as_raw());
    }
    (clean, occluded, flips)
}

fn to_tensor(flat: &[u8], count: usize, size: u32, device: &Device) -> Tensor<4> {
    let n = (size * size * 3) as usize;
    let raws: Vec<&[u8]> = (0..count).map(|i| &flat[i * n..(i + 1) * n]).collect();
    raw_to_tensor(&raws, size as usize, device)
}

/// The scalar value of a loss, or an error naming the term if it is not finite (`step` is
/// 0-based; the error counts from 1, as the log does).
fn finite(stage: &str, term: &str, step: usize, loss: &Tensor<1>) -> Result<f64> {
    let v = loss.clone().into_scalar::<f32>() as f64;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::NonFiniteLoss {
            stage: stage.into(),
            term: term.into(),
            step: step + 1,
            value: v,
            kept: String::new(),
        })
    }
}

/// Says in a non-finite-loss error which checkpoint was kept.
fn name_kept(e: Error, ckpt: &CheckpointDir) -> Error {
    match e {
        Error::NonFiniteLoss {
            stage,
            term,
            step,
            value,
            ..
        } => {
            let kept = match ckpt.latest().and_then(|dir| {
                read_json::<CheckpointState>(&dir.join("state.json"))
                    .ok()
                    .map(|s| (dir, s.step))
            }) {
                Some((dir, at)) => format!(
                    "The last good checkpoint (step {at}) is kept at {}.",
                    dir.display()
                ),
                None => "No checkpoint had been written yet.".into(),
            };
            Error::NonFiniteLoss {
                stage,
                term,
                step,
                value,
                kept,
            }
        }
        other => other,
    }
}

/// The error for weights that an update left non-finite, found before a checkpoint of them
/// was written.
fn nonfinite_weights(stage: &str, step: usize, ckpt: &CheckpointDir) -> Error {
    name_kept(
        Error::NonFiniteLoss {
            stage: stage.into(),
            term: "weights after the update".into(),
            step: step + 1,
            value: f64::NAN,
            kept: String::new(),
        },
        ckpt,
    )
}

/// Running means of the logged terms between two log rows.
#[derive(Default)]
struct Window {
    sums: Vec<(String, f64)>,
    count: usize,
}

impl Window {
    fn add(&mut self, terms: &[(&str, f64)]) {
        if self.sums.is_empty() {
            self.sums = terms.iter().map(|(t, _)| (t.to_string(), 0.0)).collect();
        }
        for ((_, s), (_, v)) in self.sums.iter_mut().zip(terms) {
            *s += v;
        }
        self.count += 1;
    }

    fn means(&self) -> Vec<(String, f64)> {
        let n = self.count.max(1) as f64;
        self.sums.iter().map(|(t, s)| (t.clone(), s / n)).collect()
    }

    fn message(&self) -> String {
        self.means()
            .iter()
            .map(|(t, v)| format!("{t} {v:.4}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Shared bookkeeping of a stage loop.
struct StageLoop<'a> {
    name: &'static str,
    log: &'a TrainLog,
    bar: &'a ProgressBar,
    window: Window,
    last: Vec<(String, f64)>,
    started: Instant,
    images: usize,
}

impl<'a> StageLoop<'a> {
    fn new(
        name: &'static str,
        log: &'a TrainLog,
        bar: &'a ProgressBar,
        start: usize,
        total: usize,
    ) -> Self {
        bar.set_length(total as u64);
        bar.set_position(start as u64);
        bar.set_message(name);
        Self {
            name,
            log,
            bar,
            window: Window::default(),
            last: Vec::new(),
            started: Instant::now(),
            images: 0,
        }
    }

    fn images_per_s(&self) -> f64 {
        self.images as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    fn after_step(
        &mut self,
        step: usize,
        total: usize,
        log_every: usize,
        batch: usize,
        terms: &[(&str, f64)],
    ) -> Result<()> {
        self.images += batch;
        self.window.add(terms);
        self.bar.set_position(step as u64 + 1);
        if (step + 1).is_multiple_of(log_every) || step + 1 == total {
            let mut rows: Vec<(&str, f64)> = Vec::new();
            let means = self.window.means();
            for (t, v) in &means {
                rows.push((t.as_str(), *v));
            }
            let ips = self.images_per_s();
            rows.push(("images_per_s", ips));
            self.log.append(self.name, step + 1, &rows)?;
            self.bar.set_message(format!(
                "{} {} | {ips:.1} img/s",
                self.name,
                self.window.message()
            ));
            self.last = means;
            self.window = Window::default();
        }
        Ok(())
    }
}

/// Stage 1's trainable state: InpaintNet and its Adam.
pub struct Stage1Nets {
    pub model: InpaintNet,
    pub optim: ModuleOptimizer,
}

impl Stage1Nets {
    /// Fresh networks on the autodiff device `ad`, seeded from the configuration.
    pub fn init(config: &TrainConfig, ad: &Device) -> Self {
        Self {
            model: super::seeded_init(ad, config.seed, || config.inpaint_config().init(ad)),
            optim: AdamConfig::new().init(),
        }
    }

    /// One optimisation step of Eq. 1 on a batch (`[batch, 3, 16, 16]` occluded and clean LR
    /// faces on the autodiff device); returns the networks and the unweighted loss.
    pub fn step(
        self,
        occluded: Tensor<4>,
        clean: Tensor<4>,
        weight: f64,
        lr: f64,
        step: usize,
    ) -> Result<(Self, f64)> {
        let Self { model, mut optim } = self;
        let inpainted = model.forward(occluded); // [batch, 3, 16, 16]
        let l2 = losses::inpainting_loss(inpainted, clean);
        let v = finite("stage1", "inpaint_l2", step, &l2)?;
        let loss = l2.mul_scalar(weight);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = optim.step(lr, model, grads);
        Ok((Self { model, optim }, v))
    }
}

/// Stage 2's trainable state: the generator, the discriminator and their Adams.
pub struct Stage2Nets {
    pub generator: Generator,
    pub discriminator: Discriminator,
    pub optim_g: ModuleOptimizer,
    pub optim_d: ModuleOptimizer,
}

/// What a stage-2 step reads besides the trainable state.
pub struct Stage2Context<'a> {
    pub config: &'a TrainConfig,
    /// The frozen stage-1 InpaintNet (on `device`).
    pub inpaint: &'a InpaintNet,
    /// The frozen landmark network of the semantic structure loss (on `ad`), when it is on.
    pub landmark: Option<&'a LandmarkNet>,
    /// The plain device, where InpaintNet runs.
    pub device: &'a Device,
    /// The autodiff device, where the trained networks live.
    pub ad: &'a Device,
}

impl Stage2Nets {
    /// Fresh networks on the autodiff device `ad`, seeded from the configuration.
    pub fn init(config: &TrainConfig, ad: &Device) -> Self {
        let (generator, discriminator) =
            super::seeded_init(ad, config.seed.wrapping_add(2), || {
                (
                    config.generator_init(ad),
                    config.discriminator_config().init(ad),
                )
            });
        Self {
            generator,
            discriminator,
            optim_g: AdamConfig::new().init(),
            optim_d: AdamConfig::new().with_beta_1(0.5).init(),
        }
    }

    /// One optimisation step: InpaintNet fills the holes of `occluded` (`[batch, 3, 16, 16]`
    /// on the plain device), then the discriminator step (Eq. 3, when the adversarial block is
    /// on) and the generator step (Eq. 6) against `hr` (`[batch, 3, 128, 128]` on the autodiff
    /// device). Returns the networks and the logged terms.
    pub fn step(
        self,
        ctx: &Stage2Context,
        occluded: Tensor<4>,
        hr: Tensor<4>,
        step: usize,
        total: usize,
    ) -> Result<(Self, Vec<(&'static str, f64)>)> {
        let Self {
            generator,
            mut discriminator,
            mut optim_g,
            mut optim_d,
        } = self;
        let config = ctx.config;
        let spec = &config.stage2;
        let w_l2 = config.losses.l2.as_ref().map(|b| b.weight);
        // A zero weight switches the block off: no discriminator step, and no adversarial
        // term (it would add nothing to the generator's gradient).
        let w_adv = config
            .losses
            .adversarial
            .as_ref()
            .map(|b| b.weight)
            .filter(|w| *w > 0.0);
        let w_ss = config.losses.semantic.as_ref().map(|b| b.weight);
        let (_, input) = inpaint_for_upsampling(ctx.inpaint, occluded, config.composite);
        let input = Tensor::<4>::from_data(input.into_data(), ctx.ad); // [batch, 3, 16, 16]

        let fake = generator.forward(input); // [batch, 3, 128, 128]
        let mut terms: Vec<(&'static str, f64)> = Vec::new();

        // Discriminator step (Eq. 3) on detached fakes.
        if w_adv.is_some() {
            let real_logits = discriminator.forward(hr.clone());
            let fake_logits = discriminator.forward(fake.clone().detach());
            let d_loss = losses::discriminator_loss(real_logits, fake_logits);
            terms.push((
                "discriminator",
                finite("stage2", "discriminator", step, &d_loss)?,
            ));
            let grads = GradientsParams::from_grads(d_loss.backward(), &discriminator);
            discriminator = optim_d.step(
                spec.lr_discriminator * spec.lr_factor(step, total),
                discriminator,
                grads,
            );
        }

        // Generator step (Eq. 6).
        let mut total_loss: Option<Tensor<1>> = None;
        let mut add = |term: Tensor<1>, weight: f64| {
            let t = term.mul_scalar(weight);
            total_loss = Some(match total_loss.take() {
                Some(acc) => acc + t,
                None => t,
            });
        };
        if let Some(w) = w_l2 {
            let l2 = losses::upsampling_loss(fake.clone(), hr.clone());
            terms.push(("l2", finite("stage2", "l2", step, &l2)?));
            add(l2, w);
        }
        if let Some(w) = w_adv {
            // The generator's gradient flows through the discriminator, but the discriminator's
            // own weights are not updated here: a copy that requires no gradients spares the
            // backward pass their weight gradients (the same loss, value and generator update).
            let frozen = discriminator.clone().no_grad();
            let adv = losses::generator_adversarial_loss(frozen.forward(fake.clone()));
            terms.push(("adversarial", finite("stage2", "adversarial", step, &adv)?));
            add(adv, w);
        }
        if let (Some(w), Some(net)) = (w_ss, ctx.landmark) {
            let ss = losses::semantic_structure_loss(
                net.forward(fake.clone()),
                net.forward(hr.clone()).detach(),
            );
            terms.push(("semantic", finite("stage2", "semantic", step, &ss)?));
            add(ss, w);
        }
        let Some(loss) = total_loss else {
            return Err(Error::invalid("losses", "stage 2 has no loss term"));
        };
        terms.push(("total", finite("stage2", "total", step, &loss)?));
        let grads = GradientsParams::from_grads(loss.backward(), &generator);
        let generator = optim_g.step(spec.lr * spec.lr_factor(step, total), generator, grads);
        Ok((
            Self {
                generator,
                discriminator,
                optim_g,
                optim_d,
            },
            terms,
        ))
    }
}

fn train_stage1(
    config: &TrainConfig,
    split: &Split,
    out: &Path,
    log: &TrainLog,
    device: &Device,
    options: &TrainOptions,
    bar: &ProgressBar,
) -> Result<StageReport> {
    let spec = &config.stage1;
    let weight = config
        .losses
        .inpaint_l2
        .as_ref()
        .map(|b| b.weight)
        .unwrap_or(1.0);
    let ad = device.clone().autodiff();
    let Stage1Nets {
        mut model,
        mut optim,
    } = Stage1Nets::init(config, &ad);
    let ckpt = CheckpointDir::new(out.join("stage1").join("checkpoint"));
    let (start, elapsed0) = match ckpt.latest() {
        Some(dir) => {
            model = load_module(model, &dir.join("model.bpk"))?;
            optim = optim
                .load(dir.join("optim.bpk"))
                .map_err(|e| Error::Checkpoint {
                    path: dir.join("optim.bpk"),
                    message: e.to_string(),
                })?;
            let state: CheckpointState = read_json(&dir.join("state.json"))?;
            (state.step, state.elapsed_s)
        }
        None => (0, 0.0),
    };
    log.truncate_after("stage1", start)?;
    let sampler = stage_sampler(split, spec, config.seed, 1);
    let total = spec.total_steps(split.len());
    let mut lp = StageLoop::new("stage1", log, bar, start, total);
    let mut steps_run = 0;
    for step in start..total {
        if options.stop_after.is_some_and(|s| steps_run >= s) {
            break;
        }
        let idx = sampler.batch(step);
        let (clean, occluded, _) = lr_batch(split, &sampler, step, &idx);
        let clean = to_tensor(&clean, idx.len(), split.lr_size, &ad);
        let occluded = to_tensor(&occluded, idx.len(), split.lr_size, &ad);
        let nets = Stage1Nets { model, optim };
        options.cancel.check()?;
        let (nets, v) = nets
            .step(
                occluded,
                clean,
                weight,
                spec.lr * spec.lr_factor(step, total),
                step,
            )
            .map_err(|e| name_kept(e, &ckpt))?;
        (model, optim) = (nets.model, nets.optim);
        lp.after_step(step, total, spec.log_every, idx.len(), &[("inpaint_l2", v)])?;
        steps_run += 1;
        if (step + 1).is_multiple_of(spec.checkpoint_every) || step + 1 == total {
            let state = CheckpointState {
                step: step + 1,
                total_steps: total,
                elapsed_s: elapsed0 + lp.started.elapsed().as_secs_f64(),
            };
            if !params_finite(&model) {
                return Err(nonfinite_weights("stage1", step, &ckpt));
            }
            ckpt.write(&state, |dir| {
                save_module(&model, &dir.join("model.bpk"))?;
                optim
                    .save(dir.join("optim.bpk"))
                    .map_err(|e| Error::Checkpoint {
                        path: dir.join("optim.bpk"),
                        message: e.to_string(),
                    })
            })?;
        }
    }
    let finished = start + steps_run >= total;
    if finished {
        save_module(&model, &out.join(files::INPAINT))?;
    }
    Ok(StageReport {
        steps_run,
        total_steps: total,
        images_per_s: lp.images_per_s(),
        last_terms: lp.last,
        skipped: false,
        finished,
    })
}

/// Feeds UpsampleNet the known pixels of the occluded input and InpaintNet's pixels inside the
/// hole. Hole pixels are the exactly black ones (PROTOCOL sets occluded pixels to 0).
pub fn composite(occluded: Tensor<4>, inpainted: Tensor<4>) -> Tensor<4> {
    let mask = occluded.clone().sum_dim(1).lower_equal_elem(1e-6).float(); // [batch, 1, h, w], 1 inside the hole
    let keep = mask.clone().neg().add_scalar(1.0);
    occluded * keep + inpainted * mask
}

/// Runs a (frozen, inference-mode) InpaintNet and prepares UpsampleNet's input.
pub fn inpaint_for_upsampling(
    inpaint: &InpaintNet,
    occluded: Tensor<4>,
    composite_known: bool,
) -> (Tensor<4>, Tensor<4>) {
    let inpainted = inpaint.forward(occluded.clone());
    let input = if composite_known {
        composite(occluded, inpainted.clone())
    } else {
        inpainted.clone()
    };
    (inpainted, input)
}

/// Loads a trained landmark network for the semantic structure loss, frozen on the autodiff
/// device: no gradients to its weights, BatchNorm in inference mode (no statistics updates).
pub fn frozen_landmark_net(dir: &Path, ad: &Device) -> Result<LandmarkNet> {
    let net = super::landmarks::load_landmark_net(dir, ad)?;
    Ok(net.freeze())
}

fn train_stage2(
    config: &TrainConfig,
    split: &Split,
    out: &Path,
    log: &TrainLog,
    device: &Device,
    options: &TrainOptions,
    bar: &ProgressBar,
) -> Result<StageReport> {
    let spec = &config.stage2;
    let ad = device.clone().autodiff();
    let validation = match &spec.validation {
        Some(v) => match &options.validate {
            Some(validate) => Some((v, validate.clone())),
            None => {
                return Err(Error::invalid(
                    "stage2.validation",
                    format!(
                        "nothing to validate with: the `{}` split is not given",
                        v.split
                    ),
                ));
            }
        },
        None => None,
    };

    let inpaint: InpaintNet = load_module(
        config.inpaint_config().init(device),
        &out.join(files::INPAINT),
    )?
    .valid();
    let landmark = match config
        .losses
        .semantic
        .as_ref()
        .and_then(|b| b.network.as_ref())
    {
        Some(dir) => Some(frozen_landmark_net(dir, &ad)?),
        None => None,
    };
    let Stage2Nets {
        mut generator,
        mut discriminator,
        mut optim_g,
        mut optim_d,
    } = Stage2Nets::init(config, &ad);

    let ckpt = CheckpointDir::new(out.join("stage2").join("checkpoint"));
    let mut ema: Option<Generator> = None;
    let (start, elapsed0) = match ckpt.latest() {
        Some(dir) => {
            generator = load_generator(generator, &dir.join("generator.bpk"))?;
            discriminator = load_module(discriminator, &dir.join("discriminator.bpk"))?;
            optim_g = load_optimizer(optim_g, &dir.join("optim_g.bpk"))?;
            optim_d = load_optimizer(optim_d, &dir.join("optim_d.bpk"))?;
            let ema_file = dir.join(EMA_FILE);
            if spec.ema.is_some() && ema_file.exists() {
                ema = Some(load_generator(config.generator_init(device), &ema_file)?);
            }
            let state: CheckpointState = read_json(&dir.join("state.json"))?;
            (state.step, state.elapsed_s)
        }
        None => (0, 0.0),
    };
    if spec.ema.is_some() && ema.is_none() {
        ema = Some(generator.valid());
    }
    log.truncate_after("stage2", start)?;
    // The best validation value so far, from the log (which a resumed run has cut back to its
    // checkpoint), and the kept-best weights.
    let best_dir = CheckpointDir::new(out.join("stage2").join("best"));
    let mut best: Option<(usize, f64)> = match &validation {
        Some((v, _)) => TrainLog::read(&out.join(files::LOG))?
            .into_iter()
            .filter(|(st, step, term, _)| {
                st == "stage2" && *step <= start && term == v.metric.term()
            })
            .fold(
                None,
                |acc: Option<(usize, f64)>, (_, step, _, value)| match acc {
                    Some((_, b)) if b >= value => acc,
                    _ => Some((step, value)),
                },
            ),
        None => None,
    };
    let context = Stage2Context {
        config,
        inpaint: &inpaint,
        landmark: landmark.as_ref(),
        device,
        ad: &ad,
    };
    let sampler = stage_sampler(split, spec, config.seed, 2);
    let total = spec.total_steps(split.len());
    let mut lp = StageLoop::new("stage2", log, bar, start, total);
    let mut steps_run = 0;
    for step in start..total {
        if options.stop_after.is_some_and(|s| steps_run >= s) {
            break;
        }
        let idx = sampler.batch(step);
        let (_, occluded, flips) = lr_batch(split, &sampler, step, &idx);
        let occluded = to_tensor(&occluded, idx.len(), split.lr_size, device);
        let hr = hr_tensor(split, &idx, &flips, &ad); // [batch, 3, 128, 128], mirrored as the LR
        let nets = Stage2Nets {
            generator,
            discriminator,
            optim_g,
            optim_d,
        };
        options.cancel.check()?;
        let (nets, terms) = nets
            .step(&context, occluded, hr, step, total)
            .map_err(|e| name_kept(e, &ckpt))?;
        Stage2Nets {
            generator,
            discriminator,
            optim_g,
            optim_d,
        } = nets;
        if let (Some(e), Some(spec_ema)) = (ema.take(), &spec.ema) {
            let (updated, _) = super::ema::update(e, &generator.valid(), spec_ema.decay);
            ema = Some(updated);
        }

        lp.after_step(step, total, spec.log_every, idx.len(), &terms)?;
        steps_run += 1;
        let done = step + 1;
        let mut prune_reason = None;
        if let Some((v, validate)) = &validation
            && (done.is_multiple_of(v.every) || done == total)
        {
            let scored = ema.clone().unwrap_or_else(|| generator.valid());
            let (psnr, ssim) = (validate.0)(&scored, &inpaint, config.composite)?;
            log.append("stage2", done, &[("val_psnr", psnr), ("val_ssim", ssim)])?;
            let value = match v.metric {
                ValMetric::Psnr => psnr,
                ValMetric::Ssim => ssim,
            };
            if !value.is_finite() {
                return Err(name_kept(
                    Error::NonFiniteLoss {
                        stage: "stage2".into(),
                        term: v.metric.term().into(),
                        step: done,
                        value,
                        kept: String::new(),
                    },
                    &ckpt,
                ));
            }
            // Strictly better: on ties the earlier step stays.
            if best.is_none_or(|(_, b)| value > b) {
                best = Some((done, value));
                if v.keep == Keep::Best {
                    let state = CheckpointState {
                        step: done,
                        total_steps: total,
                        elapsed_s: elapsed0 + lp.started.elapsed().as_secs_f64(),
                    };
                    best_dir.write(&state, |dir| {
                        save_generator(&scored, &dir.join("generator.bpk"))
                    })?;
                }
            }
            if let (Some(hook), Some((_, b))) = (&options.prune, best) {
                prune_reason = (hook.0)(done, b)?;
            }
        }
        if done.is_multiple_of(spec.checkpoint_every) || done == total || prune_reason.is_some() {
            let state = CheckpointState {
                step: done,
                total_steps: total,
                elapsed_s: elapsed0 + lp.started.elapsed().as_secs_f64(),
            };
            if !(params_finite(&generator) && params_finite(&discriminator)) {
                return Err(nonfinite_weights("stage2", step, &ckpt));
            }
            ckpt.write(&state, |dir| {
                save_generator(&generator, &dir.join("generator.bpk"))?;
                if let Some(e) = &ema {
                    save_generator(e, &dir.join(EMA_FILE))?;
                }
                save_module(&discriminator, &dir.join("discriminator.bpk"))?;
                save_optimizer(&optim_g, &dir.join("optim_g.bpk"))?;
                save_optimizer(&optim_d, &dir.join("optim_d.bpk"))
            })?;
        }
        if let Some(reason) = prune_reason {
            return Err(Error::Pruned { step: done, reason });
        }
    }
    let finished = start + steps_run >= total;
    if finished {
        save_module(&discriminator, &out.join(files::DISCRIMINATOR))?;
        let keep_best = validation
            .as_ref()
            .is_some_and(|(v, _)| v.keep == Keep::Best);
        let best_weights = best_dir.latest().map(|d| d.join("generator.bpk"));
        let (kept, kept_step) = match (keep_best, best, best_weights) {
            (true, Some((at, _)), Some(path)) => {
                (load_generator(config.generator_init(device), &path)?, at)
            }
            _ => (ema.clone().unwrap_or_else(|| generator.valid()), total),
        };
        let value = best
            .filter(|(at, _)| *at == kept_step)
            .map(|(_, v)| v)
            .or_else(|| {
                // keep: last with validation: the last validation's value.
                let (v, _) = validation.as_ref()?;
                TrainLog::read(&out.join(files::LOG))
                    .ok()?
                    .into_iter()
                    .rev()
                    .find(|(st, step, term, _)| {
                        st == "stage2" && *step == total && term == v.metric.term()
                    })
                    .map(|(_, _, _, value)| value)
            });
        write_json(
            &out.join(files::KEPT),
            &KeptCheckpoint {
                keep: if keep_best { Keep::Best } else { Keep::Last },
                step: kept_step,
                metric: validation.as_ref().map(|(v, _)| v.metric),
                value,
                ema: spec.ema.is_some(),
            },
        )?;
        // The generator last: its presence marks the model as complete.
        save_generator(&kept, &out.join(files::UPSAMPLE))?;
    }
    Ok(StageReport {
        steps_run,
        total_steps: total,
        images_per_s: lp.images_per_s(),
        last_terms: lp.last,
        skipped: false,
        finished,
    })
}

/// The EMA generator's file in a stage-2 checkpoint.
const EMA_FILE: &str = "generator_ema.bpk";

/// Saves a generator's network itself (not the enum around it), so that an UpsampleNet file
/// reads the same whichever way it was written.
pub fn save_generator(generator: &Generator, path: &Path) -> Result<()> {
    struct Save<'a>(&'a Path);
    impl NetFn for Save<'_> {
        type Out = Result<()>;
        fn call<M: Module + ModuleSnapshot>(self, net: &M) -> Result<()> {
            save_module(net, self.0)
        }
    }
    generator.with_net(Save(path))
}

/// Loads weights written by [`save_generator`] into a generator of the same kind.
pub fn load_generator(generator: Generator, path: &Path) -> Result<Generator> {
    struct Load<'a>(&'a Path);
    impl NetMap for Load<'_> {
        fn call<M: Module + ModuleSnapshot>(self, net: M) -> Result<M> {
            load_module(net, self.0)
        }
    }
    generator.map_net(Load(path))
}
