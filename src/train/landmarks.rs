//! Training the 68-point landmark networks (`ofhnet landmarks train`): the frozen network inside
//! the semantic structure loss (role `loss`) and the separate evaluation detector (role `eval`,
//! another seed and wider by default). Both learn from HR faces and the dataset's 68 points with
//! an L2 loss on coordinates divided by the face side, with Adam.
//!
//! A landmark directory holds `landmarks.json` (the spec and the test NRMSE), `landmarks.bpk`,
//! `train_log.csv` and `checkpoint/`.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::checkpoint::{
    CheckpointDir, CheckpointState, load_module, load_optimizer, read_json, save_module,
    save_optimizer, write_json,
};
use super::log::TrainLog;
use super::sampler::Sampler;
use super::tensors::hr_tensor;
use crate::data::dataset::Split;
use crate::data::landmarks::{Landmarks68, N_POINTS};
use crate::interrupt::Cancel;
use crate::metrics::landmarks::nrmse;
use crate::nets::landmark::{LandmarkNet, LandmarkNetConfig};
use crate::{Error, Result};

/// Which job a landmark network does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Frozen inside the semantic structure loss (Eq. 5).
    Loss,
    /// The evaluation detector for NRMSE and parsing IoU.
    Eval,
}

/// How a landmark network is built and trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LandmarkSpec {
    pub role: Role,
    pub widths: [usize; 4],
    pub hidden: usize,
    pub seed: u64,
    pub steps: Option<usize>,
    pub epochs: f64,
    pub batch_size: usize,
    pub lr: f64,
    pub checkpoint_every: usize,
    pub log_every: usize,
    /// Mirror each training face left-right with probability 1/2, its 68 points renumbered
    /// with the iBUG mirror permutation ([`crate::data::landmarks::MIRROR`]). Unset: no
    /// augmentation.
    pub hflip: Option<bool>,
}

impl Default for LandmarkSpec {
    fn default() -> Self {
        Self::for_role(Role::Loss)
    }
}

impl LandmarkSpec {
    /// The defaults of a role: the evaluation detector is wider and uses another seed.
    pub fn for_role(role: Role) -> Self {
        let net = match role {
            Role::Loss => LandmarkNetConfig::loss_default(),
            Role::Eval => LandmarkNetConfig::eval_default(),
        };
        Self {
            role,
            widths: net.widths,
            hidden: net.hidden,
            seed: match role {
                Role::Loss => 1,
                Role::Eval => 2,
            },
            steps: None,
            epochs: 10.0,
            batch_size: 32,
            lr: 1e-3,
            checkpoint_every: 100,
            log_every: 10,
            hflip: None,
        }
    }

    /// burn's network configuration.
    pub fn net_config(&self) -> LandmarkNetConfig {
        LandmarkNetConfig::new()
            .with_widths(self.widths)
            .with_hidden(self.hidden)
    }
}

/// `landmarks.json`: the spec and what training measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandmarkRecord {
    pub spec: LandmarkSpec,
    pub steps: usize,
    pub train_images: usize,
    pub images_per_s: f64,
    /// Mean NRMSE (PROTOCOL, x100) on the test split, when one was given.
    pub test_nrmse: Option<f64>,
    pub test_images: usize,
}

/// File names in a landmark directory.
pub mod files {
    pub const RECORD: &str = "landmarks.json";
    pub const WEIGHTS: &str = "landmarks.bpk";
    pub const LOG: &str = "train_log.csv";
}

fn points_tensor(
    split: &Split,
    idx: &[usize],
    flips: &[bool],
    device: &Device,
) -> Result<Tensor<2>> {
    let all = split.landmarks68.as_ref().ok_or_else(|| {
        Error::invalid(
            "data",
            "this dataset has no 68-point landmarks (import a root with landmarks68.txt)",
        )
    })?;
    let scale = split.hr_size as f32;
    let data: Vec<f32> = idx
        .iter()
        .zip(flips.iter().chain(std::iter::repeat(&false)))
        .flat_map(|(&i, &flip)| {
            if flip {
                all[i].mirrored(scale).to_flat()
            } else {
                all[i].to_flat()
            }
        })
        .map(|v| v / scale)
        .collect();
    Ok(Tensor::from_data(
        TensorData::new(data, [idx.len(), 2 * N_POINTS]),
        device,
    ))
}

/// Trains a landmark network into `out`, resuming from its checkpoint if one is there, and
/// measures its NRMSE on `test`.
pub fn train_landmarks(
    spec: &LandmarkSpec,
    split: &Split,
    test: Option<&Split>,
    out: &Path,
    device: &Device,
    bar: &ProgressBar,
    cancel: &Cancel,
) -> Result<LandmarkRecord> {
    if split.is_empty() {
        return Err(Error::invalid("data", "the training split is empty"));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let spec_path = out.join("spec.json");
    if spec_path.exists() {
        // The length of training may change between attempts (to extend or shorten a run);
        // the network, seed, batch and learning rate may not.
        let stored: LandmarkSpec = read_json(&spec_path)?;
        let same_run = LandmarkSpec {
            steps: spec.steps,
            epochs: spec.epochs,
            checkpoint_every: spec.checkpoint_every,
            log_every: spec.log_every,
            ..stored.clone()
        };
        if same_run != *spec {
            return Err(Error::Mismatch(format!(
                "{}: this directory holds a landmark network trained with another spec \
                 (only steps, epochs, checkpoint_every and log_every may change on resume)",
                spec_path.display()
            )));
        }
    }
    write_json(&spec_path, spec)?;
    let log = TrainLog::open(&out.join(files::LOG))?;
    let ad = device.clone().autodiff();
    let mut net = super::seeded_init(&ad, spec.seed, || spec.net_config().init(&ad));
    let mut optim = AdamConfig::new().init();
    let ckpt = CheckpointDir::new(out.join("checkpoint"));
    let (start, elapsed0) = match ckpt.latest() {
        Some(dir) => {
            net = load_module(net, &dir.join("model.bpk"))?;
            optim = load_optimizer(optim, &dir.join("optim.bpk"))?;
            let state: CheckpointState = read_json(&dir.join("state.json"))?;
            (state.step, state.elapsed_s)
        }
        None => (0, 0.0),
    };
    log.truncate_after("landmarks", start)?;
    let sampler = Sampler::new(split.len(), spec.batch_size, spec.seed, 3)
        .with_hflip(spec.hflip == Some(true));
    let total = match spec.steps {
        Some(s) => s,
        None => ((sampler.batches_per_epoch() as f64) * spec.epochs)
            .ceil()
            .max(1.0) as usize,
    };
    bar.set_length(total as u64);
    bar.set_position(start as u64);
    let started = Instant::now();
    let mut images = 0usize;
    let mut window = (0.0f64, 0usize);
    for step in start..total {
        // A worker's stop signal (or a lost run store) stops here; the next attempt resumes
        // from the last checkpoint.
        cancel.check()?;
        let idx = sampler.batch(step);
        let flips: Vec<bool> = (0..idx.len()).map(|k| sampler.flip(step, k)).collect();
        let x = hr_tensor(split, &idx, &flips, &ad);
        let target = points_tensor(split, &idx, &flips, &ad)?;
        let loss = crate::losses::mse(net.forward(x), target);
        let v = loss.clone().into_scalar::<f32>() as f64;
        if !v.is_finite() {
            return Err(Error::NonFiniteLoss {
                stage: "landmarks".into(),
                term: "l2".into(),
                step: step + 1,
                value: v,
                kept: "The last landmark checkpoint is kept.".into(),
            });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(spec.lr, net, grads);
        images += idx.len();
        window = (window.0 + v, window.1 + 1);
        bar.set_position(step as u64 + 1);
        if (step + 1).is_multiple_of(spec.log_every) || step + 1 == total {
            let ips = images as f64 / started.elapsed().as_secs_f64().max(1e-9);
            // RMSE in pixels is easier to read than the normalised MSE.
            let rmse_px = (window.0 / window.1.max(1) as f64).sqrt() * split.hr_size as f64;
            log.append(
                "landmarks",
                step + 1,
                &[
                    ("l2", window.0 / window.1.max(1) as f64),
                    ("rmse_px", rmse_px),
                    ("images_per_s", ips),
                ],
            )?;
            bar.set_message(format!("landmarks rmse {rmse_px:.2}px | {ips:.1} img/s"));
            window = (0.0, 0);
        }
        if (step + 1).is_multiple_of(spec.checkpoint_every) || step + 1 == total {
            let state = CheckpointState {
                step: step + 1,
                total_steps: total,
                elapsed_s: elapsed0 + started.elapsed().as_secs_f64(),
            };
            ckpt.write(&state, |dir| {
                save_module(&net, &dir.join("model.bpk"))?;
                save_optimizer(&optim, &dir.join("optim.bpk"))
            })?;
        }
    }
    let images_per_s = images as f64 / started.elapsed().as_secs_f64().max(1e-9);
    save_module(&net, &out.join(files::WEIGHTS))?;
    let net = net.valid();
    let (test_nrmse, test_images) = match test {
        Some(t) if !t.is_empty() => (Some(mean_nrmse(&net, t, device)?), t.len()),
        _ => (None, 0),
    };
    let record = LandmarkRecord {
        spec: spec.clone(),
        steps: total,
        train_images: split.len(),
        images_per_s,
        test_nrmse,
        test_images,
    };
    write_json(&out.join(files::RECORD), &record)?;
    Ok(record)
}

/// Loads a trained landmark network (from its directory) on `device`.
pub fn load_landmark_net(dir: &Path, device: &Device) -> Result<LandmarkNet> {
    let spec: LandmarkSpec = read_json(&dir.join("spec.json"))?;
    load_module(spec.net_config().init(device), &dir.join(files::WEIGHTS))
}

/// Detects 68 points on HR faces given as a `[batch, 3, 128, 128]` tensor.
pub fn detect(net: &LandmarkNet, faces: Tensor<4>) -> Vec<Landmarks68> {
    net.points(faces)
}

/// Mean NRMSE of the network's points against the split's 68-point labels.
pub fn mean_nrmse(net: &LandmarkNet, split: &Split, device: &Device) -> Result<f64> {
    let labels = split
        .landmarks68
        .as_ref()
        .ok_or_else(|| Error::invalid("data", "this dataset has no 68-point landmarks"))?;
    let mut sum = 0.0;
    for chunk in (0..split.len()).collect::<Vec<_>>().chunks(32) {
        let found = detect(net, hr_tensor(split, chunk, &[], device));
        for (&i, p) in chunk.iter().zip(&found) {
            sum += nrmse(&labels[i], p)?;
        }
    }
    Ok(sum / split.len().max(1) as f64)
}
