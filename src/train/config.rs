//! The training configuration of OFHNet: networks, loss blocks and the two stages. Parsed from
//! YAML or JSON into these structs (unknown keys are rejected) and converted into burn configs.
//! The harness's experiment files embed the same structs.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::losses::{LossBlock, LossesSpec, SemanticBlock};
use crate::methods::Generator;
pub use crate::methods::GeneratorSpec;
use crate::nets::discriminator::DiscriminatorConfig;
use crate::nets::inpaint::InpaintNetConfig;
pub use crate::nets::spec::{DiscriminatorSpec, InpaintSpec, Preset, UpsampleSpec};
use crate::nets::upsample::UpsampleNetConfig;
use crate::{Error, Result};

/// How the learning rate changes over a stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// The same rate throughout (the paper names Adam and no schedule).
    #[default]
    Constant,
    /// Cosine decay from `lr` to 0 over the stage's steps.
    Cosine,
}

/// One training stage (paper Sec. 3.3: Adam).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StageSpec {
    /// Optimiser steps; when unset, `epochs` passes over the training split.
    pub steps: Option<usize>,
    /// Passes over the training split (used when `steps` is unset).
    pub epochs: f64,
    pub batch_size: usize,
    /// Adam's learning rate (the generator's in stage 2).
    pub lr: f64,
    /// The discriminator's learning rate in stage 2.
    pub lr_discriminator: f64,
    /// Learning-rate schedule (applies to both networks of stage 2).
    pub lr_schedule: LrSchedule,
    /// Write a checkpoint every this many steps (and at the end).
    pub checkpoint_every: usize,
    /// Log the loss terms every this many steps.
    pub log_every: usize,
    /// Linear learning-rate warmup over the first this many steps (from `lr / warmup_steps` to
    /// `lr`), then the schedule. Unset: no warmup. (An option, as every field added to the
    /// schema must be: unset options stay out of run keys.)
    pub warmup_steps: Option<usize>,
    /// Mirror each training face left-right with probability 1/2 (a fresh draw every time the
    /// face is used). Unset: no augmentation.
    pub hflip: Option<bool>,
    /// The sides of the training holes (the training law of PROTOCOL.md draws them uniformly
    /// from 4..=8). Unset: the protocol's law.
    pub holes: Option<HoleSides>,
    /// Validation during training (stage 2 only): PSNR and SSIM on a fixed subset of the val
    /// split every `every` steps, and the checkpoint kept by them. Unset: none, the last
    /// weights are kept.
    pub validation: Option<ValidationSpec>,
    /// An exponential moving average of the generator's weights (stage 2 only): validated and
    /// saved instead of the raw weights. Unset: none.
    pub ema: Option<EmaSpec>,
}

/// The range of training-hole sides, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoleSides {
    pub min: u32,
    pub max: u32,
}

/// A validation metric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValMetric {
    #[default]
    Psnr,
    Ssim,
}

impl ValMetric {
    /// The curve term it is logged under.
    pub fn term(self) -> &'static str {
        match self {
            ValMetric::Psnr => "val_psnr",
            ValMetric::Ssim => "val_ssim",
        }
    }
}

/// Which weights a stage ends with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The weights at the best validation value of `metric` (the first step on ties).
    #[default]
    Best,
    /// The weights after the last step.
    Last,
}

/// `stages.stage2.validation`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationSpec {
    /// Validate every this many steps (and after the last step).
    pub every: usize,
    /// The first this many faces of the split, each with the "random" protocol's hole.
    #[serde(default = "default_val_faces")]
    pub faces: usize,
    /// The metric that chooses the kept checkpoint (and that pruning compares).
    #[serde(default)]
    pub metric: ValMetric,
    #[serde(default)]
    pub keep: Keep,
    /// The split validated on (tune on val, report on test).
    #[serde(default = "default_val_split")]
    pub split: String,
}

fn default_val_faces() -> usize {
    64
}

fn default_val_split() -> String {
    "val".into()
}

/// `stages.stage2.ema`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmaSpec {
    /// `ema <- decay * ema + (1 - decay) * weights` after every step (BatchNorm statistics too).
    pub decay: f64,
}

impl Default for StageSpec {
    fn default() -> Self {
        Self {
            steps: None,
            epochs: 1.0,
            batch_size: 16,
            lr: 1e-3,
            lr_discriminator: 1e-4,
            lr_schedule: LrSchedule::Constant,
            checkpoint_every: 100,
            log_every: 10,
            warmup_steps: None,
            hflip: None,
            holes: None,
            validation: None,
            ema: None,
        }
    }
}

impl StageSpec {
    /// The learning-rate factor at `step` of `total` steps.
    pub fn lr_factor(&self, step: usize, total: usize) -> f64 {
        let schedule = match self.lr_schedule {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine => {
                let t = step as f64 / total.max(1) as f64;
                0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        };
        let warmup = match self.warmup_steps {
            Some(w) if w > 0 && step < w => (step + 1) as f64 / w as f64,
            _ => 1.0,
        };
        schedule * warmup
    }

    /// Checks the optional blocks; `(field, message)` on error. Validation and EMA apply to
    /// stage 2 only.
    pub fn check(&self, stage2: bool) -> std::result::Result<(), (String, String)> {
        if let Some(h) = self.holes
            && !(1 <= h.min && h.min <= h.max && h.max <= 16)
        {
            return Err((
                "holes".into(),
                format!(
                    "min {} and max {}: need 1 <= min <= max <= 16 (LR pixels)",
                    h.min, h.max
                ),
            ));
        }
        if let Some(v) = &self.validation {
            if !stage2 {
                return Err(("validation".into(), "only stage 2 is validated".into()));
            }
            if v.every == 0 || v.faces == 0 {
                return Err((
                    "validation".into(),
                    "every and faces must be at least 1".into(),
                ));
            }
            if !crate::data::dataset::SPLITS.contains(&v.split.as_str()) {
                return Err((
                    "validation.split".into(),
                    format!("`{}`; expected train, val or test", v.split),
                ));
            }
        }
        if let Some(e) = &self.ema {
            if !stage2 {
                return Err(("ema".into(), "only stage 2's generator is averaged".into()));
            }
            if !(e.decay.is_finite() && e.decay > 0.0 && e.decay < 1.0) {
                return Err((
                    "ema.decay".into(),
                    format!("{}: must lie strictly between 0 and 1", e.decay),
                ));
            }
        }
        Ok(())
    }

    /// The number of optimiser steps for a split of `n` images.
    pub fn total_steps(&self, n: usize) -> usize {
        match self.steps {
            Some(s) => s,
            None => {
                let per_epoch = (n / self.batch_size.max(1)).max(1);
                ((per_epoch as f64) * self.epochs).ceil().max(1.0) as usize
            }
        }
    }
}

/// The whole training configuration of a run: OFHNet's, or a baseline's with its generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub preset: Preset,
    pub seed: u64,
    pub inpaint: InpaintSpec,
    pub upsample: UpsampleSpec,
    /// The stage-2 generator (default: UpsampleNet; the baselines set it).
    pub generator: GeneratorSpec,
    pub discriminator: DiscriminatorSpec,
    pub losses: LossesSpec,
    /// Stage 1: InpaintNet with Eq. 1.
    pub stage1: StageSpec,
    /// Stage 2: UpsampleNet and the discriminator with Eq. 6.
    pub stage2: StageSpec,
    /// Feed UpsampleNet the input's known pixels and InpaintNet's pixels only inside the hole
    /// (instead of InpaintNet's whole output).
    pub composite: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            preset: Preset::Cpu,
            seed: 0,
            inpaint: InpaintSpec::default(),
            upsample: UpsampleSpec::default(),
            generator: GeneratorSpec::default(),
            discriminator: DiscriminatorSpec::default(),
            losses: LossesSpec::default(),
            stage1: StageSpec {
                batch_size: 64,
                ..StageSpec::default()
            },
            stage2: StageSpec::default(),
            composite: true,
        }
    }
}

impl TrainConfig {
    /// The defaults of a preset.
    pub fn for_preset(preset: Preset) -> Self {
        Self {
            preset,
            ..Self::default()
        }
    }

    /// Fills every preset-dependent value, so the saved configuration says exactly what ran.
    pub fn resolved(&self) -> Self {
        let mut c = self.clone();
        c.upsample.widths = Some(c.upsample.widths.unwrap_or(c.preset.upsample_widths()));
        c.upsample.head_width = Some(c.upsample.head_width.unwrap_or(c.preset.head_width()));
        c.discriminator.widths = Some(
            c.discriminator
                .widths
                .unwrap_or(c.preset.discriminator_widths()),
        );
        c.generator = c.generator.resolved(c.preset);
        c
    }

    /// The semantic structure loss's landmark network, when that loss is on and names one.
    pub fn semantic_network_mut(&mut self) -> Option<&mut PathBuf> {
        self.losses
            .semantic
            .as_mut()
            .and_then(|b| b.network.as_mut())
    }

    /// Checks values that serde cannot, naming the field.
    pub fn validate(&self) -> Result<()> {
        let positive = |field: &str, v: usize| {
            if v == 0 {
                Err(Error::invalid(field, "must be at least 1"))
            } else {
                Ok(())
            }
        };
        for (name, s) in [("stage1", &self.stage1), ("stage2", &self.stage2)] {
            positive(&format!("{name}.batch_size"), s.batch_size)?;
            positive(&format!("{name}.checkpoint_every"), s.checkpoint_every)?;
            positive(&format!("{name}.log_every"), s.log_every)?;
            for (field, lr) in [("lr", s.lr), ("lr_discriminator", s.lr_discriminator)] {
                if !(lr.is_finite() && lr > 0.0) {
                    return Err(Error::invalid(
                        format!("{name}.{field}"),
                        "must be a positive number",
                    ));
                }
            }
            if !(s.epochs.is_finite() && s.epochs > 0.0) {
                return Err(Error::invalid(
                    format!("{name}.epochs"),
                    "must be a positive number",
                ));
            }
            if let Err((field, message)) = s.check(name == "stage2") {
                return Err(Error::invalid(format!("{name}.{field}"), message));
            }
        }
        let widths = self
            .inpaint
            .encoder
            .iter()
            .chain(&self.inpaint.decoder)
            .chain(self.upsample.widths.iter().flatten())
            .chain(self.discriminator.widths.iter().flatten());
        if widths.into_iter().any(|w| *w == 0) {
            return Err(Error::invalid("widths", "every width must be at least 1"));
        }
        let weights = [
            (
                "losses.inpaint_l2.weight",
                self.losses.inpaint_l2.as_ref().map(|b| b.weight),
            ),
            (
                "losses.l2.weight",
                self.losses.l2.as_ref().map(|b| b.weight),
            ),
            (
                "losses.adversarial.weight",
                self.losses.adversarial.as_ref().map(|b| b.weight),
            ),
            (
                "losses.semantic.weight",
                self.losses.semantic.as_ref().map(|b| b.weight),
            ),
        ];
        for (field, w) in weights {
            if let Some(w) = w
                && !(w.is_finite() && w >= 0.0)
            {
                return Err(Error::invalid(field, "must be a non-negative number"));
            }
        }
        if let Some(block) = &self.losses.semantic
            && block.network.is_none()
        {
            return Err(Error::invalid(
                "losses.semantic.network",
                "name a trained landmark network (a directory from `ofhnet landmarks train \
                 --role loss`)",
            ));
        }
        if self.losses.inpaint_l2.is_none() {
            return Err(Error::invalid(
                "losses.inpaint_l2",
                "stage 1 needs its L2 loss (Eq. 1); give it a weight",
            ));
        }
        if self.losses.l2.is_none()
            && self.losses.adversarial.is_none()
            && self.losses.semantic.is_none()
        {
            return Err(Error::invalid(
                "losses",
                "stage 2 needs at least one of l2, adversarial, semantic",
            ));
        }
        Ok(())
    }

    /// burn's InpaintNet configuration.
    pub fn inpaint_config(&self) -> InpaintNetConfig {
        InpaintNetConfig::new()
            .with_encoder(self.inpaint.encoder)
            .with_decoder(self.inpaint.decoder)
    }

    /// burn's UpsampleNet configuration.
    pub fn upsample_config(&self) -> UpsampleNetConfig {
        self.upsample.net_config(self.preset)
    }

    /// Builds the stage-2 generator on `device`.
    pub fn generator_init(&self, device: &burn::tensor::Device) -> Generator {
        let r = self.resolved();
        r.generator.init(r.preset, &r.upsample, device)
    }

    /// burn's discriminator configuration.
    pub fn discriminator_config(&self) -> DiscriminatorConfig {
        let r = self.resolved();
        DiscriminatorConfig::new()
            .with_widths(r.discriminator.widths.unwrap_or([8, 8, 16, 16, 32, 32]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_ramps_linearly_then_hands_over_to_the_schedule() {
        let stage = StageSpec {
            warmup_steps: Some(4),
            ..StageSpec::default()
        };
        let f: Vec<f64> = (0..6).map(|s| stage.lr_factor(s, 100)).collect();
        assert_eq!(f, vec![0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
        let cosine = StageSpec {
            warmup_steps: Some(2),
            lr_schedule: LrSchedule::Cosine,
            ..StageSpec::default()
        };
        let plain = StageSpec {
            lr_schedule: LrSchedule::Cosine,
            ..StageSpec::default()
        };
        assert!((cosine.lr_factor(0, 10) - 0.5 * plain.lr_factor(0, 10)).abs() < 1e-12);
        assert_eq!(cosine.lr_factor(5, 10), plain.lr_factor(5, 10));
        assert_eq!(
            StageSpec::default().lr_factor(0, 10),
            1.0,
            "no warmup unless asked"
        );
    }

    #[test]
    fn training_choices_are_checked_naming_the_field() {
        let mut c = TrainConfig::for_preset(Preset::Tiny);
        c.stage1.validation = Some(ValidationSpec {
            every: 10,
            faces: 8,
            metric: ValMetric::Psnr,
            keep: Keep::Best,
            split: "val".into(),
        });
        let e = c
            .validate()
            .expect_err("stage 1 is not validated")
            .to_string();
        assert!(e.contains("stage1.validation"), "{e}");
        let mut c = TrainConfig::for_preset(Preset::Tiny);
        c.stage2.ema = Some(EmaSpec { decay: 1.0 });
        let e = c.validate().expect_err("decay 1 never moves").to_string();
        assert!(e.contains("stage2.ema.decay"), "{e}");
        let mut c = TrainConfig::for_preset(Preset::Tiny);
        c.stage2.holes = Some(HoleSides { min: 6, max: 3 });
        let e = c.validate().expect_err("min above max").to_string();
        assert!(e.contains("stage2.holes"), "{e}");
        let yaml = "stage2: {validation: {every: 5, metric: lpips}}";
        assert!(
            serde_yaml::from_str::<TrainConfig>(yaml).is_err(),
            "unknown metric"
        );
    }
}
