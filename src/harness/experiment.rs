//! The experiment file: one YAML document names everything a sweep needs (like BasicSR's option
//! files), parsed into these structs with unknown keys rejected.
//!
//! ```yaml
//! name: quickstart
//! data:
//!   prepared: results/quickstart/data      # the prepared dataset (made from `source` if missing)
//!   source: {synth: {count: 600, seed: 0}} # or {celeba: [ROOT], celeba_train: [EXTRA_ROOT]}
//!   split: official
//! method: {type: ofhnet, preset: tiny}
//! losses:
//!   inpaint_l2: {weight: 1.0}
//!   l2: {weight: 1.0}
//!   adversarial: {weight: 0.001}
//! stages:
//!   stage1: {steps: 100}
//!   stage2: {steps: 100, batch_size: 8}
//! evaluation: {protocols: [random]}
//! seeds: [0]
//! sweep:
//!   grid: {losses.adversarial.weight: [0.0, 0.001]}
//! ```
//!
//! A YAML error names the file, line and column; an unknown key also lists the accepted ones.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::data::occlusion::OcclusionProtocol;
use crate::train::config::{
    DiscriminatorSpec, GeneratorSpec, InpaintSpec, LossBlock, LossesSpec, OfhnetConfig, Preset,
    StageSpec, UpsampleSpec,
};
use crate::train::landmarks::LandmarkSpec;
use crate::{Error, Result};

/// Where the faces come from when the prepared dataset does not exist yet: exactly one of
/// `synth` and `celeba`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataSource {
    /// Synthetic faces drawn by `ofhnet data synth`.
    pub synth: Option<SynthSource>,
    /// One or more CelebA-layout roots, split by `data.split`.
    pub celeba: Option<Vec<PathBuf>>,
    /// CelebA-layout roots whose every face goes to the train split (with `celeba`), such as
    /// ../shared/data/celeba-extra.
    pub celeba_train: Option<Vec<PathBuf>>,
}

/// `data.source.synth`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthSource {
    pub count: usize,
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "default_per_identity")]
    pub per_identity: usize,
}

fn default_per_identity() -> usize {
    10
}

/// The dataset and its split (PROTOCOL.md fixes the crop and the downscaling).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// The prepared dataset directory.
    pub prepared: PathBuf,
    /// How to make it when it does not exist.
    #[serde(default)]
    pub source: Option<DataSource>,
    /// The split rule of `data import` (official, identity[:a/b], random:a/b).
    #[serde(default = "default_split")]
    pub split: String,
    #[serde(default)]
    pub split_seed: u64,
}

fn default_split() -> String {
    "official".into()
}

/// OFHNet's networks (paper Sec. 3.1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfhnetMethod {
    pub preset: Preset,
    pub inpaint: InpaintSpec,
    pub upsample: UpsampleSpec,
    pub discriminator: DiscriminatorSpec,
    /// Feed UpsampleNet the known pixels and InpaintNet's pixels only inside the hole.
    #[serde(default = "yes")]
    pub composite: bool,
}

fn yes() -> bool {
    true
}

/// What every baseline shares with OFHNet: the preset and the InpaintNet in front of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselineMethod {
    pub preset: Preset,
    pub inpaint: InpaintSpec,
    #[serde(default = "yes")]
    pub composite: bool,
}

/// IN+Ma (position-patch).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaMethod {
    pub preset: Preset,
    pub inpaint: InpaintSpec,
    #[serde(default = "yes")]
    pub composite: bool,
    pub patch: Option<usize>,
    pub overlap: Option<usize>,
    pub train_faces: Option<usize>,
    pub reg: Option<f64>,
}

/// IN+VDSR.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VdsrMethod {
    pub preset: Preset,
    pub inpaint: InpaintSpec,
    #[serde(default = "yes")]
    pub composite: bool,
    /// Layers (paper preset: 20).
    pub depth: Option<usize>,
    /// Channels (paper preset: 64).
    pub width: Option<usize>,
}

/// IN+FSRCNN.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FsrcnnMethod {
    pub preset: Preset,
    pub inpaint: InpaintSpec,
    #[serde(default = "yes")]
    pub composite: bool,
    pub d: Option<usize>,
    pub s: Option<usize>,
    pub m: Option<usize>,
}

/// IN+URDGN.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UrdgnMethod {
    pub preset: Preset,
    pub inpaint: InpaintSpec,
    #[serde(default = "yes")]
    pub composite: bool,
    pub widths: Option<[usize; 3]>,
    pub discriminator: DiscriminatorSpec,
}

/// The method a run trains and evaluates: a closed, tagged set (`type: ...`). Every method runs
/// behind the same InpaintNet (stage 1); only OFHNet uses the semantic structure loss, VDSR and
/// FSRCNN train with L2 alone, URDGN with L2 and the adversarial loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Method {
    /// OFHNet: InpaintNet + UpsampleNet with the discriminator and the semantic structure loss.
    Ofhnet(OfhnetMethod),
    /// IN+bicubic: the inpainted face upscaled 8x (PIL's bicubic).
    InBicubic(BaselineMethod),
    /// IN+Ma: position-patch (Ma et al. 2010).
    InMa(MaMethod),
    /// IN+VDSR (Kim et al. 2016).
    InVdsr(VdsrMethod),
    /// IN+FSRCNN (Dong et al. 2016).
    InFsrcnn(FsrcnnMethod),
    /// IN+URDGN (Yu & Porikli 2016).
    InUrdgn(UrdgnMethod),
}

impl Default for Method {
    fn default() -> Self {
        Method::Ofhnet(OfhnetMethod {
            composite: true,
            ..OfhnetMethod::default()
        })
    }
}

impl Method {
    /// The name the store and reports use for the method.
    pub fn label(&self) -> &'static str {
        use crate::methods::names::*;
        match self {
            Method::Ofhnet(_) => OFHNET,
            Method::InBicubic(_) => IN_BICUBIC,
            Method::InMa(_) => IN_MA,
            Method::InVdsr(_) => IN_VDSR,
            Method::InFsrcnn(_) => IN_FSRCNN,
            Method::InUrdgn(_) => IN_URDGN,
        }
    }

    /// Whether the method trains a stage-2 generator.
    pub fn trains_stage2(&self) -> bool {
        !matches!(self, Method::InBicubic(_) | Method::InMa(_))
    }

    /// IN+Ma's options, for an IN+Ma method.
    pub fn position_patch(&self) -> Option<crate::methods::position_patch::PositionPatchConfig> {
        let Method::InMa(m) = self else {
            return None;
        };
        let d = crate::methods::position_patch::PositionPatchConfig::default();
        Some(crate::methods::position_patch::PositionPatchConfig {
            patch: m.patch.unwrap_or(d.patch),
            overlap: m.overlap.unwrap_or(d.overlap),
            train_faces: m.train_faces.or(d.train_faces),
            reg: m.reg.unwrap_or(d.reg),
        })
    }
}

/// The two training stages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StagesSpec {
    /// Stage 1: InpaintNet with Eq. 1.
    pub stage1: StageSpec,
    /// Stage 2: the method's upsampler (for OFHNet with Eq. 6).
    pub stage2: StageSpec,
}

impl Default for StagesSpec {
    fn default() -> Self {
        let c = OfhnetConfig::default();
        Self {
            stage1: c.stage1,
            stage2: c.stage2,
        }
    }
}

/// The landmark networks a run needs: the semantic-structure loss network (when the loss is on)
/// and the evaluation detector (for NRMSE and IoU). Each is trained once per spec and shared by
/// every run that names the same spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LandmarksSpec {
    pub loss: Option<LandmarkSpec>,
    pub eval: Option<LandmarkSpec>,
}

/// How runs are scored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationSpec {
    /// Occlusion protocols: random, position:tl|tr|bl|br, size:N.
    pub protocols: Vec<OcclusionProtocol>,
    /// The split evaluated on.
    pub split: String,
    /// Only the first N faces.
    pub limit: Option<usize>,
    pub batch_size: usize,
}

impl Default for EvaluationSpec {
    fn default() -> Self {
        Self {
            protocols: vec![OcclusionProtocol::Random],
            split: "test".into(),
            limit: None,
            batch_size: 32,
        }
    }
}

/// Sweep axes over dotted paths of the experiment. `grid` axes multiply; `zip` axes advance
/// together and must have equal lengths.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SweepSpec {
    pub grid: IndexMap<String, Vec<serde_json::Value>>,
    pub zip: IndexMap<String, Vec<serde_json::Value>>,
}

/// An experiment file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Names the experiment in the run store and under `results/`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub data: DataSpec,
    #[serde(default)]
    pub method: Method,
    #[serde(default)]
    pub losses: LossesSpec,
    #[serde(default)]
    pub stages: StagesSpec,
    #[serde(default)]
    pub landmarks: LandmarksSpec,
    #[serde(default)]
    pub evaluation: EvaluationSpec,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub sweep: SweepSpec,
    /// The method the reports compare against (default: the first run's).
    #[serde(default)]
    pub reference: Option<String>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// Parses an experiment from YAML text; `path` names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Experiment> {
    let experiment: Experiment = serde_yaml::from_str(text).map_err(|e| Error::yaml(path, &e))?;
    experiment.validate(path)?;
    Ok(experiment)
}

/// Reads and parses an experiment file.
pub fn load(path: &Path) -> Result<Experiment> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text, path)
}

impl Experiment {
    /// Checks what serde cannot: names, seeds, sweep axes.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let bad = |message: String| Error::Parse {
            path: path.to_path_buf(),
            line: 0,
            message,
        };
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(bad(format!(
                "name `{}`: use letters, digits, `-`, `_` and `.` (it names a folder)",
                self.name
            )));
        }
        if self.seeds.is_empty() {
            return Err(bad("seeds: give at least one seed".into()));
        }
        if let Some(source) = &self.data.source
            && source.celeba_train.is_some()
            && source.celeba.is_none()
        {
            return Err(bad(
                "data.source.celeba_train: give the roots to split in `celeba` as well".into(),
            ));
        }
        if let Some(source) = &self.data.source
            && source.synth.is_some() == source.celeba.is_some()
        {
            return Err(bad(
                "data.source: give exactly one of `synth: {count: N}` and `celeba: [ROOT, ...]`"
                    .into(),
            ));
        }
        self.data
            .split
            .parse::<crate::data::dataset::SplitRule>()
            .map_err(|e| bad(format!("data.split: {e}")))?;
        for (axis, values) in self.sweep.grid.iter().chain(&self.sweep.zip) {
            if values.is_empty() {
                return Err(bad(format!("sweep: axis `{axis}` has no values")));
            }
            if axis == "seeds" || axis.starts_with("sweep") || axis == "name" {
                return Err(bad(format!("sweep: `{axis}` cannot be swept")));
            }
        }
        let lengths: Vec<usize> = self.sweep.zip.values().map(Vec::len).collect();
        if lengths.windows(2).any(|w| w[0] != w[1]) {
            return Err(bad(format!(
                "sweep.zip: every axis needs the same number of values, found {lengths:?}"
            )));
        }
        Ok(())
    }

    /// The training configuration of this (fully resolved, single-seed) experiment. For the
    /// baselines, the generator is theirs and the loss blocks are those their papers train with:
    /// L2 alone (VDSR, FSRCNN) or L2 and adversarial (URDGN), with this file's weights where it
    /// gives them.
    pub fn ofhnet_config(&self, seed: u64) -> OfhnetConfig {
        let losses = &self.losses;
        let l2_only = LossesSpec {
            inpaint_l2: losses.inpaint_l2.clone(),
            l2: Some(losses.l2.clone().unwrap_or(LossBlock { weight: 1.0 })),
            adversarial: None,
            semantic: None,
        };
        let base = |preset: Preset, inpaint: &InpaintSpec, composite: bool| OfhnetConfig {
            preset,
            seed,
            inpaint: inpaint.clone(),
            losses: l2_only.clone(),
            stage1: self.stages.stage1.clone(),
            stage2: self.stages.stage2.clone(),
            composite,
            ..OfhnetConfig::default()
        };
        let config = match &self.method {
            Method::Ofhnet(m) => OfhnetConfig {
                upsample: m.upsample.clone(),
                discriminator: m.discriminator.clone(),
                losses: self.losses.clone(),
                ..base(m.preset, &m.inpaint, m.composite)
            },
            Method::InBicubic(m) => base(m.preset, &m.inpaint, m.composite),
            Method::InMa(m) => base(m.preset, &m.inpaint, m.composite),
            Method::InVdsr(m) => OfhnetConfig {
                generator: GeneratorSpec::Vdsr {
                    depth: m.depth,
                    width: m.width,
                },
                ..base(m.preset, &m.inpaint, m.composite)
            },
            Method::InFsrcnn(m) => OfhnetConfig {
                generator: GeneratorSpec::Fsrcnn {
                    d: m.d,
                    s: m.s,
                    m: m.m,
                },
                ..base(m.preset, &m.inpaint, m.composite)
            },
            Method::InUrdgn(m) => OfhnetConfig {
                generator: GeneratorSpec::Urdgn { widths: m.widths },
                discriminator: m.discriminator.clone(),
                losses: LossesSpec {
                    adversarial: Some(
                        losses
                            .adversarial
                            .clone()
                            .unwrap_or(LossBlock { weight: 0.001 }),
                    ),
                    ..l2_only.clone()
                },
                ..base(m.preset, &m.inpaint, m.composite)
            },
        };
        config.resolved()
    }
}
