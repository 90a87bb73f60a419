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
use crate::methods::Method;
use crate::train::config::{LossesSpec, StageSpec, TrainConfig};
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
        let c = TrainConfig::default();
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
    /// Flip self-ensemble (our option, not the paper's single pass): each stage's output is
    /// the mean of its outputs on the face and on its mirror image, for every method of the
    /// run (IN+bicubic behind it included). Left out of the run key when off, so that the keys
    /// of runs written before it stay.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub self_ensemble: bool,
}

impl Default for EvaluationSpec {
    fn default() -> Self {
        Self {
            protocols: vec![OcclusionProtocol::Random],
            split: "test".into(),
            limit: None,
            batch_size: 32,
            self_ensemble: false,
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
    /// Stop hopeless runs of the sweep early by their validation curves (Optuna's
    /// MedianPruner rule). Unset: every run trains to the end.
    #[serde(default)]
    pub prune: Option<PruneSpec>,
}

/// `prune`: the median rule. After each validation of a run, its best value so far is compared
/// with the median of the values that the experiment's finished runs had at the same step; a
/// run below it (above, for a lower-is-better metric) stops and is marked `pruned`. Nothing is
/// pruned before `startup_runs` runs have finished or before step `warmup_steps`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneSpec {
    /// Finished runs needed before any run is pruned (Optuna's `n_startup_trials`).
    #[serde(default = "default_startup_runs")]
    pub startup_runs: usize,
    /// No pruning at earlier steps (Optuna's `n_warmup_steps`).
    #[serde(default)]
    pub warmup_steps: usize,
}

fn default_startup_runs() -> usize {
    2
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// Parses an experiment from YAML text; `path` names the file in errors. A value that is not
/// a finite number (`.nan`, `.inf`) and every other invalid value is reported with its own
/// dotted field and the line of its key.
pub fn parse(text: &str, path: &Path) -> Result<Experiment> {
    let document: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| Error::yaml(path, &e))?;
    if let Some((field, value)) = first_non_finite(&document, &mut Vec::new()) {
        return Err(located(
            text,
            path,
            &field,
            format!("{}: {value} is not a finite number", display_field(&field)),
        ));
    }
    let experiment: Experiment = serde_yaml::from_str(text).map_err(|e| Error::yaml(path, &e))?;
    experiment
        .check()
        .map_err(|(field, message)| located(text, path, &field, message))?;
    Ok(experiment)
}

/// A field's segments as a dotted path (a sweep axis, itself dotted, in brackets).
fn display_field(field: &[String]) -> String {
    let mut out = String::new();
    for part in field {
        if part.contains('.') || part.parse::<usize>().is_ok() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

/// The first float in a YAML document that is NaN or infinite, and where it is.
fn first_non_finite(
    value: &serde_yaml::Value,
    at: &mut Vec<String>,
) -> Option<(Vec<String>, String)> {
    match value {
        serde_yaml::Value::Number(n) => n
            .as_f64()
            .filter(|v| !v.is_finite())
            .map(|v| (at.clone(), format!("{v}"))),
        serde_yaml::Value::Mapping(m) => m.iter().find_map(|(k, v)| {
            at.push(match k {
                serde_yaml::Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            });
            let found = first_non_finite(v, at);
            at.pop();
            found
        }),
        serde_yaml::Value::Sequence(items) => items.iter().enumerate().find_map(|(i, v)| {
            at.push(i.to_string());
            let found = first_non_finite(v, at);
            at.pop();
            found
        }),
        serde_yaml::Value::Tagged(t) => first_non_finite(&t.value, at),
        _ => None,
    }
}

/// An error at the line of `field`'s key in `text`, or without a line when it cannot be found
/// (never a made-up one).
fn located(text: &str, path: &Path, field: &[String], message: String) -> Error {
    match locate(text, field) {
        Some((line, column)) => Error::Yaml {
            path: path.to_path_buf(),
            line,
            column,
            message,
        },
        None => Error::Parse {
            path: path.to_path_buf(),
            line: 0,
            message,
        },
    }
}

/// The 1-based line and column of the key at `field` (mapping keys; a sequence index points
/// at its parent key) in a YAML text, following block mappings by indentation and flow
/// mappings (`stage2: {lr: 1}`) within a line. `None` when the key is not written out (a
/// default, an anchor) or the layout is beyond this simple reader.
pub fn locate(text: &str, field: &[String]) -> Option<(usize, usize)> {
    let keys: Vec<&str> = field
        .iter()
        .map(String::as_str)
        .filter(|k| k.parse::<usize>().is_err())
        .collect();
    if keys.is_empty() {
        return None;
    }
    let key_at = |line: &str, from: usize, key: &str| -> Option<usize> {
        let mut start = from;
        while let Some(i) = line.get(start..)?.find(key) {
            let at = start + i;
            let before = line[..at].chars().last();
            let after = line[at + key.len()..].trim_start_matches(['"', '\'']);
            let quoted_ok = before.is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != '.');
            if quoted_ok && after.trim_start().starts_with(':') {
                return Some(at);
            }
            start = at + key.len();
        }
        None
    };
    let mut stack: Vec<(usize, String)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = match raw.find(" #") {
            Some(i) => &raw[..i],
            None if raw.trim_start().starts_with('#') => "",
            None => raw,
        };
        if line.trim().is_empty() || line.trim_start().starts_with("- ") {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body = line.trim_start();
        let Some(colon) = body.find(':') else {
            continue;
        };
        let key = body[..colon].trim().trim_matches(['"', '\'']).to_string();
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key));
        let depth = stack.len();
        let matches_prefix =
            depth <= keys.len() && stack.iter().zip(&keys).all(|((_, a), b)| a == b);
        if !matches_prefix {
            continue;
        }
        if depth == keys.len() {
            return Some((n + 1, indent + 1));
        }
        // The rest of the path inside a flow mapping on this line.
        let mut pos = indent + colon + 1;
        let mut found = None;
        for key in &keys[depth..] {
            match key_at(line, pos, key) {
                Some(at) => {
                    found = Some(at);
                    pos = at + key.len();
                }
                None => {
                    found = None;
                    break;
                }
            }
        }
        if let Some(at) = found {
            return Some((n + 1, at + 1));
        }
    }
    None
}

/// Reads and parses an experiment file.
/// One override of an experiment's field: a dotted path, its value, and where it came from
/// (`--set ...`, or `FILE: `path``), which its errors name.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub path: String,
    pub value: serde_json::Value,
    pub origin: String,
}

impl Override {
    /// `PATH=VALUE`, as `--set` takes it: the value is read as YAML, and a non-finite number is
    /// refused.
    pub fn parse_set(s: &str) -> Result<Override> {
        let origin = format!("--set `{s}`");
        let Some((path, text)) = s.split_once('=') else {
            return Err(Error::invalid(origin, "expected PATH=VALUE"));
        };
        let yaml: serde_yaml::Value = serde_yaml::from_str(text)
            .map_err(|e| Error::invalid(&origin, format!("the value is not YAML: {e}")))?;
        if let Some(v) = yaml.as_f64().filter(|v| !v.is_finite()) {
            return Err(Error::invalid(
                &origin,
                format!("{}: {v} is not a finite number", path.trim()),
            ));
        }
        let value = serde_json::to_value(&yaml)
            .map_err(|e| Error::invalid(&origin, format!("the value is not YAML: {e}")))?;
        Ok(Override {
            path: path.trim().to_string(),
            value,
            origin,
        })
    }

    /// The overrides of a file that maps dotted paths to values (such as
    /// experiments/paper/scales/smoke.yaml), in the file's order.
    pub fn read_file(file: &Path) -> Result<Vec<Override>> {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
        let map: serde_yaml::Mapping = serde_yaml::from_str(&text).map_err(|e| {
            Error::invalid(
                file.display().to_string(),
                format!("expected a mapping of dotted paths to values: {e}"),
            )
        })?;
        map.into_iter()
            .map(|(key, v)| {
                let Some(path) = key.as_str() else {
                    return Err(Error::invalid(
                        file.display().to_string(),
                        format!("the key {key:?} is not a dotted path"),
                    ));
                };
                let origin = format!("{}: `{path}`", file.display());
                let value =
                    serde_json::to_value(v).map_err(|e| Error::invalid(&origin, e.to_string()))?;
                Ok(Override {
                    path: path.to_string(),
                    value,
                    origin,
                })
            })
            .collect()
    }
}

/// Applies `overrides` in order to the experiment read from `file`, then reads it again and
/// validates it. A field inside a swept value (`method.preset` under a sweep of `method`) is set
/// in every value of that axis too, so that one file serves every scale; a path
/// `sweep.grid.AXIS` (or `sweep.zip.AXIS`) sets the axis `AXIS`, itself a dotted path.
pub fn apply_overrides(
    exp: &Experiment,
    overrides: &[Override],
    file: &Path,
) -> Result<Experiment> {
    if overrides.is_empty() {
        return Ok(exp.clone());
    }
    let mut value = serde_json::to_value(exp)
        .map_err(|e| Error::invalid(file.display().to_string(), e.to_string()))?;
    for o in overrides {
        override_field(&mut value, o)?;
    }
    let exp: Experiment = serde_json::from_value(value).map_err(|e| {
        let origins: Vec<&str> = overrides.iter().map(|o| o.origin.as_str()).collect();
        Error::invalid(
            format!("{} after {}", file.display(), origins.join(", ")),
            e.to_string(),
        )
    })?;
    exp.validate(file)?;
    Ok(exp)
}

fn override_field(value: &mut serde_json::Value, o: &Override) -> Result<()> {
    let path = o.path.as_str();
    for kind in ["grid", "zip"] {
        if let Some(serde_json::Value::Object(axes)) =
            value.get_mut("sweep").and_then(|sw| sw.get_mut(kind))
        {
            for (axis, values) in axes.iter_mut() {
                let Some(rest) = path.strip_prefix(&format!("{axis}.")) else {
                    continue;
                };
                if let serde_json::Value::Array(values) = values {
                    for item in values.iter_mut().filter(|x| x.is_object()) {
                        super::sweep::set_path(item, rest, o.value.clone()).map_err(|e| {
                            Error::invalid(
                                format!("{} in sweep.{kind}.{axis}", o.origin),
                                e.to_string(),
                            )
                        })?;
                    }
                }
            }
        }
    }
    for kind in ["grid", "zip"] {
        if let Some(axis) = path.strip_prefix(&format!("sweep.{kind}."))
            && let Some(root) = value.as_object_mut()
        {
            let sweep = root.entry("sweep").or_insert(serde_json::Value::Null);
            if !sweep.is_object() {
                *sweep = serde_json::json!({});
            }
            if let Some(block) = sweep.as_object_mut() {
                let axes = block.entry(kind).or_insert(serde_json::Value::Null);
                if !axes.is_object() {
                    *axes = serde_json::json!({});
                }
                if let Some(axes) = axes.as_object_mut() {
                    // `null` takes the axis out (a scale file that sets a field for every run
                    // drops the file's axis over it; no such axis: nothing to do).
                    if o.value.is_null() {
                        axes.remove(axis);
                    } else {
                        axes.insert(axis.to_string(), o.value.clone());
                    }
                    return Ok(());
                }
            }
        }
    }
    super::sweep::set_path(value, path, o.value.clone())
        .map_err(|e| Error::invalid(&o.origin, e.to_string()))
}

pub fn load(path: &Path) -> Result<Experiment> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text, path)
}

impl Experiment {
    /// Checks what serde cannot: names, seeds, sweep axes, numbers in range. `path` names the
    /// file; the error has no line (the values may come from overrides).
    pub fn validate(&self, path: &Path) -> Result<()> {
        self.check().map_err(|(_, message)| Error::Parse {
            path: path.to_path_buf(),
            line: 0,
            message,
        })
    }

    /// What [`Experiment::validate`] checks, with the offending field's path.
    pub fn check(&self) -> std::result::Result<(), (Vec<String>, String)> {
        let field = |p: &str| -> Vec<String> { p.split('.').map(String::from).collect() };
        let bad = |p: &str, message: String| Err((field(p), message));
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return bad(
                "name",
                format!(
                    "name `{}`: use letters, digits, `-`, `_` and `.` (it names a folder)",
                    self.name
                ),
            );
        }
        if self.seeds.is_empty() {
            return bad("seeds", "seeds: give at least one seed".into());
        }
        if let Some(source) = &self.data.source
            && source.celeba_train.is_some()
            && source.celeba.is_none()
        {
            return bad(
                "data.source.celeba_train",
                "data.source.celeba_train: give the roots to split in `celeba` as well".into(),
            );
        }
        if let Some(source) = &self.data.source
            && source.synth.is_some() == source.celeba.is_some()
        {
            return bad(
                "data.source",
                "data.source: give exactly one of `synth: {count: N}` and `celeba: [ROOT, ...]`"
                    .into(),
            );
        }
        if let Err(e) = self.data.split.parse::<crate::data::dataset::SplitRule>() {
            return bad("data.split", format!("data.split: {e}"));
        }
        for (name, stage) in [
            ("stage1", &self.stages.stage1),
            ("stage2", &self.stages.stage2),
        ] {
            for (key, v) in [
                ("lr", stage.lr),
                ("lr_discriminator", stage.lr_discriminator),
                ("epochs", stage.epochs),
            ] {
                if !(v.is_finite() && v > 0.0) {
                    let p = format!("stages.{name}.{key}");
                    return bad(&p, format!("{p}: must be a positive number, not {v}"));
                }
            }
            for (key, v) in [
                ("batch_size", Some(stage.batch_size)),
                ("checkpoint_every", Some(stage.checkpoint_every)),
                ("log_every", Some(stage.log_every)),
                ("steps", stage.steps),
            ] {
                if v == Some(0) {
                    let p = format!("stages.{name}.{key}");
                    return bad(&p, format!("{p}: must be at least 1"));
                }
            }
            if let Err((key, message)) = stage.check(name == "stage2") {
                let p = format!("stages.{name}.{key}");
                return bad(&p, format!("{p}: {message}"));
            }
        }
        if let Some(prune) = &self.prune {
            if self.stages.stage2.validation.is_none() {
                return bad(
                    "prune",
                    "prune: pruning compares validation curves; give \
                     stages.stage2.validation too"
                        .into(),
                );
            }
            if prune.startup_runs == 0 {
                return bad(
                    "prune.startup_runs",
                    "prune.startup_runs: must be at least 1".into(),
                );
            }
        }
        let weights = [
            (
                "inpaint_l2",
                self.losses.inpaint_l2.as_ref().map(|b| b.weight),
            ),
            ("l2", self.losses.l2.as_ref().map(|b| b.weight)),
            (
                "adversarial",
                self.losses.adversarial.as_ref().map(|b| b.weight),
            ),
            ("semantic", self.losses.semantic.as_ref().map(|b| b.weight)),
        ];
        for (key, w) in weights {
            if let Some(w) = w
                && !(w.is_finite() && w >= 0.0)
            {
                let p = format!("losses.{key}.weight");
                return bad(&p, format!("{p}: must be a non-negative number, not {w}"));
            }
        }
        if self.evaluation.batch_size == 0 {
            return bad(
                "evaluation.batch_size",
                "evaluation.batch_size: must be at least 1".into(),
            );
        }
        if self.evaluation.limit == Some(0) {
            return bad(
                "evaluation.limit",
                "evaluation.limit: must be at least 1".into(),
            );
        }
        for (kind, axes) in [("grid", &self.sweep.grid), ("zip", &self.sweep.zip)] {
            for (axis, values) in axes {
                let at = vec!["sweep".to_string(), kind.to_string(), axis.clone()];
                if values.is_empty() {
                    return Err((at, format!("sweep: axis `{axis}` has no values")));
                }
                if axis.starts_with("sweep") || axis == "name" {
                    return Err((at, format!("sweep: `{axis}` cannot be swept")));
                }
                if axis == super::sweep::SEEDS_AXIS {
                    for v in values {
                        super::sweep::seed_list(v).map_err(|e| (at.clone(), e.to_string()))?;
                    }
                }
            }
        }
        let lengths: Vec<usize> = self.sweep.zip.values().map(Vec::len).collect();
        if lengths.windows(2).any(|w| w[0] != w[1]) {
            return bad(
                "sweep.zip",
                format!("sweep.zip: every axis needs the same number of values, found {lengths:?}"),
            );
        }
        Ok(())
    }

    /// The training configuration of this (fully resolved, single-seed) experiment. For the
    /// baselines, the generator is theirs and the loss blocks are those their papers train with:
    /// L2 alone (VDSR, FSRCNN) or L2 and adversarial (URDGN), with this file's weights where it
    /// gives them.
    pub fn train_config(&self, seed: u64) -> TrainConfig {
        let method = self.method.spec();
        let (preset, inpaint, composite) = method.base();
        let training = method.training(&self.losses);
        TrainConfig {
            preset,
            seed,
            inpaint: inpaint.clone(),
            generator: training.generator,
            upsample: training.upsample,
            discriminator: training.discriminator,
            losses: training.losses,
            stage1: self.stages.stage1.clone(),
            stage2: self.stages.stage2.clone(),
            composite,
        }
        .resolved()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "name: o\n\
        data: {prepared: d, source: {synth: {count: 20}}}\n\
        stages: {stage1: {steps: 2}, stage2: {steps: 2}}\n\
        sweep:\n  grid:\n    method: [{type: ofhnet, preset: tiny}, {type: in_vdsr, preset: tiny}]\n";

    fn with(sets: &[&str]) -> Result<Experiment> {
        let path = Path::new("o.yaml");
        let exp = parse(BASE, path).expect("base");
        let overrides: Vec<Override> = sets
            .iter()
            .map(|s| Override::parse_set(s))
            .collect::<Result<_>>()?;
        apply_overrides(&exp, &overrides, path)
    }

    /// `evaluation.self_ensemble` reaches the run's key only when on: the runs stored before
    /// the key existed keep theirs.
    #[test]
    fn self_ensemble_is_out_of_the_run_key_when_off() {
        let key = |sets: &[&str]| -> Vec<String> {
            let exp = with(sets).expect("apply");
            crate::harness::sweep::expand(&exp)
                .expect("expand")
                .into_iter()
                .map(|r| r.key)
                .collect()
        };
        let plain = key(&[]);
        assert_eq!(key(&["evaluation.self_ensemble=false"]), plain);
        let on = key(&["evaluation.self_ensemble=true"]);
        assert!(
            on.iter().zip(&plain).all(|(a, b)| a != b),
            "{on:?} {plain:?}"
        );
        let exp = with(&["evaluation.self_ensemble=true"]).expect("apply");
        assert!(exp.evaluation.self_ensemble);
    }

    /// `enqueue --write-configs` writes a run's training configuration as YAML for `ofhnet
    /// train --config`: it reads back as the same configuration (baseline and OFHNet alike).
    #[test]
    fn a_runs_training_configuration_reads_back_from_yaml() {
        let exp = with(&["stages.stage2.warmup_steps=3"]).expect("apply");
        for run in crate::harness::sweep::expand(&exp).expect("expand") {
            let config = run.config.train_config(run.seed);
            let yaml = serde_yaml::to_string(&config).expect("write");
            let back: TrainConfig = serde_yaml::from_str(&yaml).expect("read back");
            assert_eq!(back, config, "{}", run.name);
            assert_eq!(back.stage2.warmup_steps, Some(3));
        }
    }

    #[test]
    fn set_parses_path_and_yaml_value_and_refuses_what_is_not() {
        let o = Override::parse_set(" stages.stage2.lr = 0.004").expect("parse");
        assert_eq!(o.path, "stages.stage2.lr");
        assert_eq!(o.value, serde_json::json!(0.004));
        let e = Override::parse_set("stages.stage2.lr").expect_err("no =");
        assert!(e.to_string().contains("PATH=VALUE"), "{e}");
        let e = Override::parse_set("stages.stage2.lr=.nan").expect_err("NaN");
        assert!(e.to_string().contains("not a finite number"), "{e}");
    }

    /// An axis beats the stage block that an override sets (the file's own rule: axes apply on
    /// top of the blocks), so a scale that sets a swept field for every run takes the axis out
    /// with `sweep.zip.AXIS: null`; other axes, and files without that axis, are left alone.
    #[test]
    fn an_axis_set_to_null_by_an_override_is_gone() {
        let base = "name: o\n\
            data: {prepared: d, source: {synth: {count: 20}}}\n\
            stages: {stage1: {steps: 2}, stage2: {steps: 2}}\n\
            sweep:\n  zip:\n    method: [{type: ofhnet, preset: tiny}, {type: in_vdsr, preset: tiny}]\n    \
            stages.stage2.steps: [40, 80]\n    stages.stage2.batch_size: [8, 4]\n";
        let path = Path::new("o.yaml");
        let exp = parse(base, path).expect("base");
        let stage2 = |sets: &[&str]| -> Vec<(Option<usize>, usize)> {
            let overrides: Vec<Override> = sets
                .iter()
                .map(|s| Override::parse_set(s).expect("set"))
                .collect();
            let exp = apply_overrides(&exp, &overrides, path).expect("apply");
            crate::harness::sweep::expand(&exp)
                .expect("expand")
                .into_iter()
                .map(|r| {
                    (
                        r.config.stages.stage2.steps,
                        r.config.stages.stage2.batch_size,
                    )
                })
                .collect()
        };
        assert_eq!(stage2(&[]), [(Some(40), 8), (Some(80), 4)]);
        assert_eq!(
            stage2(&["stages.stage2={steps: 3}"]),
            [(Some(40), 8), (Some(80), 4)]
        );
        assert_eq!(
            stage2(&[
                "stages.stage2={steps: 3}",
                "sweep.zip.stages.stage2.steps=null"
            ]),
            [(Some(3), 8), (Some(3), 4)]
        );
        let d = crate::train::config::StageSpec::default().batch_size;
        assert_eq!(
            stage2(&[
                "stages.stage2={epochs: 2}",
                "sweep.zip.stages.stage2.steps=null",
                "sweep.zip.stages.stage2.batch_size=null",
                "sweep.zip.stages.stage2.lr=null",
            ]),
            [(None, d), (None, d)]
        );
    }

    #[test]
    fn a_path_inside_a_swept_value_is_set_in_every_value() {
        let exp = with(&["method.preset=cpu"]).expect("apply");
        let presets: Vec<serde_json::Value> = exp.sweep.grid["method"]
            .iter()
            .map(|m| m["preset"].clone())
            .collect();
        assert_eq!(
            presets,
            [serde_json::json!("cpu"), serde_json::json!("cpu")]
        );
    }

    #[test]
    fn a_sweep_axis_is_one_dotted_path_and_later_overrides_win() {
        let exp = with(&[
            "sweep.grid.losses.adversarial.weight=[0.0, 0.01]",
            "stages.stage2.steps=3",
            "stages.stage2.steps=5",
        ])
        .expect("apply");
        assert_eq!(
            exp.sweep.grid["losses.adversarial.weight"],
            vec![serde_json::json!(0.0), serde_json::json!(0.01)]
        );
        assert_eq!(exp.stages.stage2.steps, Some(5));
    }

    #[test]
    fn an_override_that_breaks_the_schema_names_its_origin() {
        let e = with(&["stages.stage2.lr=fast"]).expect_err("a string lr");
        assert!(
            e.to_string().contains("--set `stages.stage2.lr=fast`"),
            "{e}"
        );
        let e = with(&["stages.stage2.lr=0"]).expect_err("zero lr");
        assert!(e.to_string().contains("stages.stage2.lr"), "{e}");
    }
}
