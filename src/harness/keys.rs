//! The models that runs share, in one place: their keys, and how a worker gets one.
//!
//! A shared model is trained once, by the first run that needs it, in
//! `results/<experiment>/shared/<key>/`, and every other run with the same key reuses it:
//! - a **stage-1 InpaintNet** is keyed by [`Stage1Key`]: the data and everything stage 1 depends
//!   on (seed, InpaintNet widths, Eq. 1's block, the stage-1 schedule), so every run that differs
//!   only in stage 2 reuses it;
//! - a **stage-2 generator** by [`stage2_key`]: the data, the whole training configuration and
//!   the semantic loss's landmark network, so experiments that only evaluate a model under other
//!   protocols (Table 2, the occlusion sweeps) reuse the one Table 1 trained;
//! - a **landmark network** by [`landmark_key`]: the data and its spec.
//!
//! Keys hash the canonical JSON of what they name ([`run_key`]). They name trained models in
//! every store, so their inputs keep their serialized shape: a new configuration field is an
//! option (unset options stay out of the hash), and a new stage-1 field is added to
//! [`Stage1Key`] on purpose.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::experiment::{DataSpec, Experiment};
use super::store::{SharedClaim, Store};
use super::sweep::run_key;
use crate::Result;
use crate::interrupt::Cancel;
use crate::losses::{LossBlock, LossesSpec};
use crate::nets::spec::InpaintSpec;
use crate::train::config::{StageSpec, TrainConfig};
use crate::train::landmarks::{LandmarkSpec, Role};

/// Everything a stage-1 InpaintNet depends on, and nothing else.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stage1Key {
    pub seed: u64,
    pub inpaint: InpaintSpec,
    /// Eq. 1's block.
    pub inpaint_l2: Option<LossBlock>,
    pub stage1: StageSpec,
}

impl Stage1Key {
    /// Stage 1's part of a run's training configuration.
    pub fn of(config: &TrainConfig) -> Self {
        Stage1Key {
            seed: config.seed,
            inpaint: config.inpaint.clone(),
            inpaint_l2: config.losses.inpaint_l2.clone(),
            stage1: config.stage1.clone(),
        }
    }

    /// The configuration that trains it: these fields, every other one at its default (so that
    /// no stage-2 choice reaches stage 1).
    pub fn config(&self) -> TrainConfig {
        let defaults = TrainConfig::default();
        TrainConfig {
            seed: self.seed,
            inpaint: self.inpaint.clone(),
            losses: LossesSpec {
                inpaint_l2: self.inpaint_l2.clone(),
                ..defaults.losses.clone()
            },
            stage1: self.stage1.clone(),
            ..defaults
        }
        .resolved()
    }

    /// `stage1-` and 16 hex digits.
    pub fn key(&self, data: &DataSpec) -> String {
        format!(
            "stage1-{}",
            run_key(&serde_json::json!({"data": data, "config": self.config()}))
        )
    }
}

/// The key of a stage-2 generator trained with `config` (before the semantic loss's network
/// directory is filled in: that depends on which experiment trained it first), with the
/// semantic loss's landmark network trained from `semantic_landmarks`.
pub fn stage2_key(
    data: &DataSpec,
    config: &TrainConfig,
    semantic_landmarks: Option<&LandmarkSpec>,
) -> String {
    format!(
        "stage2-{}",
        run_key(&serde_json::json!({
            "data": data,
            "config": config.resolved(),
            "semantic_landmarks": config.losses.semantic.as_ref().map(|_| semantic_landmarks),
        }))
    )
}

/// The key of the landmark network trained from `spec` on `data`.
pub fn landmark_key(data: &DataSpec, spec: &LandmarkSpec) -> String {
    format!(
        "landmarks-{}",
        run_key(&serde_json::json!({"data": data, "spec": spec}))
    )
}

/// The landmark networks a run uses: the semantic structure loss's, when it is trained from
/// `landmarks.loss` (not named by path), and the evaluation detector. `(role, key, spec)`.
pub fn landmark_networks(exp: &Experiment) -> Vec<(&'static str, String, LandmarkSpec)> {
    let mut out = Vec::new();
    if exp
        .losses
        .semantic
        .as_ref()
        .is_some_and(|b| b.network.is_none())
    {
        let spec = exp
            .landmarks
            .loss
            .clone()
            .unwrap_or_else(|| LandmarkSpec::for_role(Role::Loss));
        out.push(("loss", landmark_key(&exp.data, &spec), spec));
    }
    if let Some(spec) = &exp.landmarks.eval {
        out.push(("eval", landmark_key(&exp.data, spec), spec.clone()));
    }
    out
}

/// Where a shared model came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Got {
    /// Another run had trained it.
    Reused(PathBuf),
    /// This run trained (or finished training) it.
    Trained(PathBuf),
}

impl Got {
    pub fn path(&self) -> &Path {
        match self {
            Got::Reused(p) | Got::Trained(p) => p,
        }
    }
}

/// Gets the shared model `key` of `kind` for `run`: the trained one when it is there; else
/// claims it and trains it with `train` in its directory (resuming what a killed claimant left),
/// then marks it done; or, while another worker trains it, waits (every `poll`, stopping on
/// `cancel`).
pub fn ensure_shared(
    store: &Store,
    key: &str,
    kind: &str,
    dir: &Path,
    run: &str,
    wait: (&Cancel, std::time::Duration),
    train: impl FnOnce(&Path) -> Result<()>,
) -> Result<Got> {
    let (cancel, poll) = wait;
    loop {
        match store.claim_shared(key, kind, dir, run)? {
            SharedClaim::Ready(path) => return Ok(Got::Reused(path)),
            SharedClaim::Wait { .. } => {
                cancel.check()?;
                std::thread::sleep(poll)
            }
            SharedClaim::Train(path) => {
                train(&path)?;
                store.shared_done(key)?;
                return Ok(Got::Trained(path));
            }
        }
    }
}
