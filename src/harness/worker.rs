//! Workers: claim a run from the store, execute it (data, landmark networks, stage 1, stage 2,
//! evaluation), record every number, and go on with the next.
//!
//! - A claim is atomic ([`Store::claim`]); while a run executes, a thread heartbeats it. A run
//!   whose heartbeat goes stale (its worker was killed) is put back in the queue by the next
//!   worker that looks, and resumes from its checkpoints: training writes them atomically and
//!   `train` continues from them.
//! - Models that runs share are trained once: a stage-1 InpaintNet is keyed by everything stage
//!   1 depends on (data, InpaintNet widths, Eq. 1's weight, stage-1 schedule, seed), so every run
//!   that differs only in stage 2 reuses it ([`Store::claim_shared`]). A stage-2 generator is
//!   keyed the same way by everything it depends on (data, the whole network and loss
//!   configuration, both schedules, seed, the semantic loss's landmark network), so experiments
//!   that evaluate the same model under other protocols (the paper's occlusion sweeps, Table 2)
//!   reuse the one Table 1 trained instead of training it again. Landmark networks are shared the
//!   same way.
//! - A run that fails (an error or a panic: a NaN loss, a missing file) is marked failed with the
//!   error text, and the worker goes on with the next run.
//! - Metric rows are written per (run, protocol) in one transaction that first deletes what a
//!   previous attempt left, so a resumed run never duplicates or loses a row.
//!
//! Artifacts: `results/<experiment>/<run-name>/` (the run's evaluation CSVs and sample faces) and
//! `results/<experiment>/shared/<key>/` (stage-1 InpaintNets, stage-2 models and landmark
//! networks, in the directory of the experiment whose run trained them first).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use indicatif::ProgressBar;

use super::experiment::{DataSpec, Experiment, PruneSpec};
use super::keys::{Got, Stage1Key, ensure_shared, landmark_key, landmark_networks, stage2_key};
use super::store::{
    self, RunRow, RunStatus, ScoredImage, StageRow, StageStatus, Store, Versions, WorkerInfo,
};
use crate::data::dataset::{self, Dataset, ImportOptions, SplitRule};
use crate::data::protocol::Protocol;
use crate::data::synth::{SynthOptions, write_celeba_root};
use crate::evaluate::{
    EvalOptions, Pipeline, SAMPLE_FACES, Upscale, evaluate_pipeline, save_samples, validator,
    write_csv,
};
use crate::methods::position_patch::PositionPatch;
use crate::model::Model;
use crate::nets::inpaint::InpaintNet;
use crate::nets::landmark::LandmarkNet;
use crate::train::checkpoint::{load_module, read_json};
use crate::train::config::{Keep, TrainConfig};
use crate::train::landmarks::{LandmarkSpec, load_landmark_net, train_landmarks};
use crate::train::log::TrainLog;
use crate::train::stages::{
    KeptCheckpoint, PruneHook, StageReport, TrainOptions, Validator, files, train,
};
use crate::{Error, Result};
use burn::module::Module;

/// How a worker behaves.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Only runs of this experiment.
    pub experiment: Option<String>,
    /// Stop after this many runs (`--once` is 1).
    pub max_runs: Option<usize>,
    /// How often a running run's heartbeat is written.
    pub heartbeat: Duration,
    /// A running run whose heartbeat is older than this goes back to the queue.
    pub stale_after: Duration,
    /// How long to sleep when there is nothing to claim but other runs are still running.
    pub poll: Duration,
    /// Keep polling for new runs when the queue is empty, instead of exiting.
    pub wait: bool,
    /// The results root (`results`).
    pub results: PathBuf,
    /// Progress bars (on a terminal) or none.
    pub progress: fn(u64, &'static str) -> ProgressBar,
    /// Stops the run in progress between two steps (set by a signal, or by a lost store).
    pub cancel: crate::interrupt::Cancel,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            experiment: None,
            max_runs: None,
            heartbeat: Duration::from_secs(10),
            stale_after: Duration::from_secs(120),
            poll: Duration::from_secs(2),
            wait: false,
            results: PathBuf::from("results"),
            progress: |_, _| ProgressBar::hidden(),
            cancel: crate::interrupt::Cancel::new(),
        }
    }
}

/// What a worker did.
#[derive(Clone, Debug, Default)]
pub struct WorkSummary {
    pub done: Vec<String>,
    /// `(run name, error)`.
    pub failed: Vec<(String, String)>,
    /// Runs this worker found stale and put back in the queue.
    pub requeued: Vec<String>,
    /// The run this worker stopped (a signal), why, and where it went (`queued`, or
    /// `superseded` when a newer definition left it out while it ran).
    pub interrupted: Option<(String, String, RunStatus)>,
    /// Runs the experiment's pruning rule stopped.
    pub pruned: Vec<String>,
}

/// `host:pid` and the code's git commit, for the store.
pub fn worker_info(device: &str) -> WorkerInfo {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let git_commit = git(&["rev-parse", "HEAD"]);
    let git_dirty = git_commit
        .as_ref()
        .and(git(&["status", "--porcelain", "--untracked-files=no"]))
        .map(|s| !s.is_empty());
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    WorkerInfo {
        id: format!("{host}:{}", std::process::id()),
        host,
        device: device.to_string(),
        git_commit,
        git_dirty,
        slurm_job: env("SLURM_ARRAY_JOB_ID").or_else(|| env("SLURM_JOB_ID")),
        slurm_task: env("SLURM_ARRAY_TASK_ID"),
    }
}

/// Whether a process of this machine is alive (Linux: `/proc/PID` exists; elsewhere assumed
/// alive, so only the heartbeat decides).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// Claims and executes runs until the queue is settled (or `max_runs`, or a stop signal). A
/// run stopped by a signal goes back to the queue at once. When the store stays unreachable
/// for longer than it retries, the worker gives up with [`Error::StoreUnreachable`]; the run it
/// held is requeued once the store is back (by the next worker on this host at once, by any
/// other after `stale_after`).
pub fn work(
    store: &Store,
    info: &WorkerInfo,
    device: &Device,
    options: &WorkerOptions,
) -> Result<WorkSummary> {
    let mut summary = WorkSummary::default();
    let mut executed = 0usize;
    loop {
        if options.max_runs.is_some_and(|m| executed >= m) || options.cancel.reason().is_some() {
            break;
        }
        let stale = store.requeue_stale(options.stale_after)?;
        let dead = store.requeue_dead_local(&info.host, process_alive)?;
        for ((name, status), why) in stale
            .into_iter()
            .map(|r| (r, "its worker stopped heartbeating"))
            .chain(
                dead.into_iter()
                    .map(|r| (r, "its worker on this host is gone")),
            )
        {
            if status == RunStatus::Superseded {
                eprintln!(
                    "`{name}` is history ({why}, and a newer definition of its experiment \
                     left it out): superseded, not requeued"
                );
            } else {
                eprintln!("requeued `{name}`: {why}");
                summary.requeued.push(name);
            }
        }
        let Some(run) = store.claim(info, options.experiment.as_deref())? else {
            let counts = store.counts(options.experiment.as_deref(), Versions::Current)?;
            // Runs that are still running may go stale and come back; wait for them.
            if counts.running > 0 || options.wait {
                std::thread::sleep(options.poll);
                continue;
            }
            break;
        };
        executed += 1;
        eprintln!(
            "[{}] {}/{} (attempt {}, key {})",
            info.id, run.experiment, run.name, run.attempts, run.key
        );
        match execute_claimed(store, info, device, options, &run) {
            Ok(outcome) => {
                eprintln!(
                    "done {}/{}: training {:.1}s, evaluation {:.1}s",
                    run.experiment, run.name, outcome.train_seconds, outcome.eval_seconds
                );
                summary.done.push(run.name.clone());
            }
            Err(RunEnd::Failed(message)) => {
                eprintln!("failed {}/{}: {message}", run.experiment, run.name);
                summary.failed.push((run.name.clone(), message));
            }
            Err(RunEnd::Pruned(why)) => {
                eprintln!(
                    "pruned {}/{}: {why} (`ofhnet retry {} --pruned` runs it to the end)",
                    run.experiment, run.name, run.experiment
                );
                summary.pruned.push(run.name.clone());
            }
            Err(RunEnd::Interrupted(why, status)) => {
                eprintln!(
                    "stopped {}/{} ({why}); {}",
                    run.experiment,
                    run.name,
                    where_it_went(status)
                );
                summary.interrupted = Some((run.name.clone(), why, status));
                break;
            }
            Err(RunEnd::StoreLost(e)) => return Err(e),
        }
    }
    Ok(summary)
}

/// Where a run that a worker stopped went, for its messages.
pub fn where_it_went(status: RunStatus) -> &'static str {
    if status == RunStatus::Superseded {
        "a newer definition of its experiment left it out: superseded, not requeued"
    } else {
        "it is back in the queue"
    }
}

struct Outcome {
    train_seconds: f64,
    eval_seconds: f64,
}

/// How a run that did not finish ended.
enum RunEnd {
    /// An error or a panic: the run is marked failed with this text.
    Failed(String),
    /// A stop signal: the run is back in the queue (or superseded, when a newer definition of
    /// its experiment left it out while it ran).
    Interrupted(String, RunStatus),
    /// The experiment's pruning rule stopped it: the run is marked pruned.
    Pruned(String),
    /// The store could not be reached: nothing could be recorded.
    StoreLost(Error),
}

/// Executes one claimed run with a heartbeat thread, and records the outcome. An error or a
/// panic inside the run marks it failed; a stop signal puts it back in the queue.
fn execute_claimed(
    store: &Store,
    info: &WorkerInfo,
    device: &Device,
    options: &WorkerOptions,
    run: &RunRow,
) -> std::result::Result<Outcome, RunEnd> {
    let stop = AtomicBool::new(false);
    let lost = AtomicBool::new(false);
    let store_error: Mutex<Option<Error>> = Mutex::new(None);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            let tick = Duration::from_millis(100);
            let mut since = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                since += tick;
                if since >= options.heartbeat {
                    since = Duration::ZERO;
                    match store.heartbeat(&run.key, &info.id) {
                        Ok(true) => {}
                        Ok(false) => lost.store(true, Ordering::Relaxed),
                        Err(e @ Error::StoreUnreachable { .. }) => {
                            // Retried for as long as the store allows: stop the run.
                            options.cancel.cancel(e.to_string());
                            if let Ok(mut slot) = store_error.lock() {
                                *slot = Some(e);
                            }
                            break;
                        }
                        Err(e) => eprintln!("heartbeat of {}: {e}", run.name),
                    }
                }
            }
        });
        let result =
            std::panic::catch_unwind(AssertUnwindSafe(|| execute(store, device, options, run)));
        stop.store(true, Ordering::Relaxed);
        result
    });
    let artifacts = run_dir(&options.results, run);
    if let Some(e) = store_error.lock().ok().and_then(|mut e| e.take()) {
        return Err(RunEnd::StoreLost(e));
    }
    let outcome = match result {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(e @ Error::StoreUnreachable { .. })) => return Err(RunEnd::StoreLost(e)),
        Ok(Err(Error::Interrupted(why))) => {
            let note = format!("worker {} stopped it: {why}", info.id);
            return match store.release(&run.key, &info.id, &note) {
                Ok(status) => Err(RunEnd::Interrupted(
                    why,
                    status.unwrap_or(RunStatus::Queued),
                )),
                Err(e) => Err(RunEnd::StoreLost(e)),
            };
        }
        Ok(Err(e @ Error::Pruned { .. })) => {
            let why = e.to_string();
            return match store.mark_pruned(&run.key, &info.id, &why) {
                Ok(_) => Err(RunEnd::Pruned(why)),
                Err(e) => Err(RunEnd::StoreLost(e)),
            };
        }
        Ok(Err(e)) if is_checkpoint_error(&e) => Err(format!(
            "{e}. The checkpoint cannot be resumed; start the run's unfinished stage again with \
             `ofhnet retry {} --restart {}` (the old checkpoint is moved aside, not deleted)",
            run.experiment, run.key
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(no message)".into())
        )),
    };
    let recorded = match &outcome {
        Ok(o) => store.finish(
            &run.key,
            &info.id,
            &artifacts,
            o.train_seconds,
            o.eval_seconds,
        ),
        Err(message) => store.fail(&run.key, &info.id, message),
    };
    match recorded {
        Ok(true) => {}
        Ok(false) => eprintln!(
            "{}: this worker lost the run (it was requeued as stale{}); its result was not \
             recorded, the run's current worker records its own",
            run.name,
            if lost.load(Ordering::Relaxed) {
                ", seen by the heartbeat"
            } else {
                ""
            }
        ),
        Err(e @ Error::StoreUnreachable { .. }) => return Err(RunEnd::StoreLost(e)),
        Err(e) => return Err(RunEnd::Failed(format!("recording the outcome: {e}"))),
    }
    outcome.map_err(RunEnd::Failed)
}

/// Whether an error is a checkpoint that could not be read back (a truncated or corrupt file),
/// as opposed to one that could not be written (a full disk), for which a restart is no cure.
fn is_checkpoint_error(e: &Error) -> bool {
    let in_checkpoint = |path: &Path| {
        path.components().any(|c| {
            c.as_os_str()
                .to_str()
                .is_some_and(|s| s.starts_with("checkpoint") && !s.ends_with(".tmp"))
        })
    };
    match e {
        Error::Checkpoint { path, message } => {
            in_checkpoint(path) && !message.starts_with("cannot save")
        }
        Error::Parse { path, .. } => in_checkpoint(path),
        _ => false,
    }
}

/// Starts a run's unfinished stages again from their first step: the checkpoints of the
/// unfinished shared models it owns are moved aside (never deleted) and the run is queued.
/// Returns the moved directories, `(from, to)`.
pub fn restart_run(store: &Store, run: &RunRow) -> Result<Vec<(PathBuf, PathBuf)>> {
    if run.status == RunStatus::Running {
        return Err(Error::invalid(
            "RUN",
            format!(
                "{}/{} is running on {}; stop its worker first",
                run.experiment,
                run.name,
                run.worker.as_deref().unwrap_or("?")
            ),
        ));
    }
    let stamp = store::now() as u64;
    let mut moved = Vec::new();
    for shared in store.unfinished_shared(&run.key)? {
        let dir = shared.path;
        for sub in ["checkpoint", "stage1/checkpoint", "stage2/checkpoint"] {
            for suffix in ["", ".old", ".tmp"] {
                let from = PathBuf::from(format!("{}{suffix}", dir.join(sub).display()));
                if from.exists() {
                    let to = PathBuf::from(format!("{}.restarted-{stamp}", from.display()));
                    std::fs::rename(&from, &to).map_err(|e| Error::io(&from, e))?;
                    moved.push((from, to));
                }
            }
        }
    }
    store.requeue_run(&run.key)?;
    Ok(moved)
}

/// A run's artifact directory: `RESULTS/EXP/NAME/` for a run of an experiment's first
/// version, `RESULTS/EXP/NAME@vN/` for a run that version N added (a name can repeat across
/// versions; the pair is unique).
pub fn run_dir(results: &Path, run: &RunRow) -> PathBuf {
    let dir = if run.version <= 1 {
        run.name.clone()
    } else {
        format!("{}@v{}", run.name, run.version)
    };
    results.join(&run.experiment).join(dir)
}

fn execute(
    store: &Store,
    device: &Device,
    options: &WorkerOptions,
    run: &RunRow,
) -> Result<Outcome> {
    let exp = run.experiment_config()?;
    let data = ensure_dataset(&exp.data, options)?;
    let ctx = RunContext {
        store,
        device,
        options,
        run,
        exp: &exp,
        train_split: data.split("train")?,
        data: &data,
        shared_root: options.results.join(&run.experiment).join("shared"),
    };
    let started = Instant::now();
    let (config, s2_key) = ctx.train_config()?;
    let inpaint = ctx.stage1(&config)?;
    let stage2 = ctx.stage2(&config, &s2_key, &inpaint)?;
    let train_seconds = started.elapsed().as_secs_f64();
    let eval_started = Instant::now();
    ctx.evaluate(&config, &inpaint, &stage2)?;
    Ok(Outcome {
        train_seconds,
        eval_seconds: eval_started.elapsed().as_secs_f64(),
    })
}

/// What a run's stages share: the store, the device, the worker's options, the run and its
/// experiment, the data and where shared models live.
struct RunContext<'a> {
    store: &'a Store,
    device: &'a Device,
    options: &'a WorkerOptions,
    run: &'a RunRow,
    exp: &'a Experiment,
    data: &'a Dataset,
    train_split: crate::data::dataset::Split,
    shared_root: PathBuf,
}

/// What stage 2 left for evaluation.
enum Stage2Output {
    /// A learned generator's model directory (its InpaintNet included).
    Model(PathBuf),
    /// IN+Ma's dictionaries.
    Dictionaries(PositionPatch),
    /// IN+bicubic: nothing to train.
    Bicubic,
}

impl RunContext<'_> {
    /// The run's training configuration, with the semantic structure loss's landmark network
    /// (named in the file, or trained once, shared, from `landmarks.loss`), and stage 2's shared
    /// key: the configuration before the landmark network's directory is filled in (that
    /// directory depends on which experiment trained it first), plus its spec.
    fn train_config(&self) -> Result<(TrainConfig, String)> {
        let exp = self.exp;
        let mut config = exp.train_config(self.run.seed as u64);
        let s2_key = stage2_key(&exp.data, &config, exp.landmarks.loss.as_ref());
        if let Some(block) = config.losses.semantic.as_mut()
            && let Some((_, _, spec)) = landmark_networks(exp)
                .into_iter()
                .find(|(role, _, _)| *role == "loss")
        {
            block.network = Some(self.landmarks(&spec)?);
        }
        Ok((config, s2_key))
    }

    /// A landmark network, trained once and shared.
    fn landmarks(&self, spec: &LandmarkSpec) -> Result<PathBuf> {
        ensure_landmarks(
            self.store,
            &self.exp.data,
            spec,
            self.data,
            &self.shared_root,
            self.run,
            self.device,
            self.options,
        )
    }

    /// Stage 1, shared by every run with the same stage-1 configuration: the InpaintNet's file.
    fn stage1(&self, config: &TrainConfig) -> Result<PathBuf> {
        let (store, run, options) = (self.store, self.run, self.options);
        let s1 = Stage1Key::of(config);
        let s1_key = s1.key(&self.exp.data);
        let stage1_started = Instant::now();
        let got = ensure_shared(
            store,
            &s1_key,
            "stage1",
            &self.shared_root.join(&s1_key),
            &run.key,
            (&options.cancel, options.poll),
            |path| {
                let bar = (options.progress)(0, "stage 1");
                let report = train(
                    &s1.config(),
                    &self.train_split,
                    &TrainOptions {
                        out: path.to_path_buf(),
                        resume: true,
                        stage1_only: true,
                        cancel: options.cancel.clone(),
                        ..TrainOptions::default()
                    },
                    self.device,
                    &bar,
                )?;
                bar.finish_and_clear();
                store_curves(store, &run.key, &path.join(files::LOG))?;
                let seconds = stage1_started.elapsed().as_secs_f64();
                store.record_stage(
                    &run.key,
                    &done_row(
                        "stage1",
                        &s1_key,
                        &path.join(files::INPAINT),
                        Some((&report.stage1, seconds)),
                    ),
                )
            },
        )?;
        let inpaint = got.path().join(files::INPAINT);
        if let Got::Reused(_) = got {
            store.record_stage(&run.key, &done_row("stage1", &s1_key, &inpaint, None))?;
        }
        Ok(inpaint)
    }

    /// Stage 2: a learned generator (shared by key, resuming its checkpoints), IN+Ma's
    /// dictionaries, or nothing (IN+bicubic).
    fn stage2(&self, config: &TrainConfig, s2_key: &str, inpaint: &Path) -> Result<Stage2Output> {
        let (store, run, options, exp) = (self.store, self.run, self.options, self.exp);
        if exp.method.trains_stage2() {
            let got = ensure_shared(
                store,
                s2_key,
                "stage2",
                &self.shared_root.join(s2_key),
                &run.key,
                (&options.cancel, options.poll),
                |path| {
                    let validate = match &config.stage2.validation {
                        Some(v) => Some(validator(
                            Arc::new(self.data.split(&v.split)?),
                            v.faces,
                            self.device,
                        )?),
                        None => None,
                    };
                    let stage = Stage2 {
                        config,
                        train_split: &self.train_split,
                        validate,
                        prune: exp
                            .prune
                            .as_ref()
                            .filter(|_| run.prunable)
                            .zip(config.stage2.validation.as_ref())
                            .map(|(p, v)| median_pruner(store, run, p, v.metric.term())),
                        out: path,
                        inpaint,
                        key: s2_key,
                    };
                    train_generator(store, run, &stage, self.device, options)
                },
            )?;
            if let Got::Reused(path) = &got {
                eprintln!(
                    "{}: stage 2: reusing {} ({})",
                    run.name,
                    path.display(),
                    s2_key
                );
                let checkpoint = path.join(files::UPSAMPLE);
                store.record_stage(&run.key, &done_row("stage2", s2_key, &checkpoint, None))?;
            }
            Ok(Stage2Output::Model(got.path().to_path_buf()))
        } else if let Some(pp) = exp.method.position_patch() {
            let t = Instant::now();
            let built = PositionPatch::build(&self.train_split, &pp)?;
            eprintln!(
                "{}: IN+Ma dictionaries: {} positions from {} faces in {:.1}s",
                run.name,
                built.positions(),
                built.train_faces,
                t.elapsed().as_secs_f64()
            );
            store.record_stage(
                &run.key,
                &StageRow {
                    stage: "stage2".into(),
                    status: StageStatus::Done,
                    seconds: Some(t.elapsed().as_secs_f64()),
                    ..StageRow::default()
                },
            )?;
            Ok(Stage2Output::Dictionaries(built))
        } else {
            Ok(Stage2Output::Bicubic)
        }
    }

    /// Evaluates every protocol of the run not yet in the store: per-face metric rows (one
    /// transaction per protocol), a CSV beside them and a few sample faces for the grids.
    fn evaluate(&self, config: &TrainConfig, inpaint: &Path, stage2: &Stage2Output) -> Result<()> {
        let (store, run, options, exp, device) =
            (self.store, self.run, self.options, self.exp, self.device);
        let out = run_dir(&options.results, run);
        let detector: Option<LandmarkNet> = match &exp.landmarks.eval {
            Some(spec) => Some(load_landmark_net(&self.landmarks(spec)?, device)?),
            None => None,
        };
        // A learned method's model directory holds its InpaintNet too; the others load stage 1's.
        let model = match stage2 {
            Stage2Output::Model(dir) => Some(Model::load(dir, device)?),
            _ => None,
        };
        let inpaint_net: InpaintNet;
        let pipeline = match &model {
            Some(m) => Pipeline {
                inpaint: &m.inpaint,
                composite: m.config.composite,
                self_ensemble: exp.evaluation.self_ensemble,
                device,
                method: exp.method.label(),
                upscale: Upscale::Network(&m.generator),
            },
            None => {
                inpaint_net = load_module(config.inpaint_config().init(device), inpaint)?.valid();
                Pipeline {
                    inpaint: &inpaint_net,
                    composite: config.composite,
                    self_ensemble: exp.evaluation.self_ensemble,
                    device,
                    method: exp.method.label(),
                    upscale: match stage2 {
                        Stage2Output::Dictionaries(pp) => Upscale::PositionPatch(pp),
                        _ => Upscale::Bicubic,
                    },
                }
            }
        };
        let test = self.data.split(&exp.evaluation.split)?;
        // A face's position in the split and its identity (the split stores -1 where it has
        // none), for the store's rows.
        let index: HashMap<&str, (i64, Option<i64>)> = test
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let identity = test.identity.get(i).copied().filter(|&id| id >= 0);
                (n.as_str(), (i as i64, identity))
            })
            .collect();
        let done = store.evaluated(&run.key)?;
        for protocol in &exp.evaluation.protocols {
            let label = protocol.to_string();
            if done.contains(&label) {
                continue;
            }
            options.cancel.check()?;
            let t = Instant::now();
            let bar = (options.progress)(0, "evaluating");
            let eval_options = EvalOptions {
                occlusion: *protocol,
                batch_size: exp.evaluation.batch_size,
                limit: exp.evaluation.limit,
                ..EvalOptions::default()
            };
            let rows = evaluate_pipeline(&pipeline, &test, detector.as_ref(), &eval_options, &bar)?;
            bar.finish_and_clear();
            // A few faces kept as pictures for the report's image grids.
            save_samples(
                &pipeline,
                &test,
                &eval_options,
                &out.join(files::SAMPLES).join(label.replace(':', "-")),
                SAMPLE_FACES,
            )?;
            write_csv(
                &out.join(format!("eval-{}.csv", label.replace(':', "-"))),
                &rows,
            )?;
            let indexed: Vec<ScoredImage> = rows
                .into_iter()
                .map(|s| {
                    let (image, identity) =
                        index.get(s.name.as_str()).copied().unwrap_or((-1, None));
                    (image, identity, s)
                })
                .collect();
            store.write_metrics(&run.key, &label, &indexed, t.elapsed().as_secs_f64())?;
        }
        Ok(())
    }
}

/// What one stage-2 training needs.
struct Stage2<'a> {
    config: &'a TrainConfig,
    train_split: &'a crate::data::dataset::Split,
    /// What `validation` scores with.
    validate: Option<Validator>,
    /// The experiment's pruning rule, unless the run may not be pruned.
    prune: Option<PruneHook>,
    /// The shared model directory (resumed from its checkpoints).
    out: &'a Path,
    /// Stage 1's InpaintNet.
    inpaint: &'a Path,
    /// The shared key.
    key: &'a str,
}

/// Trains (or resumes) a stage-2 generator in its shared directory.
fn train_generator(
    store: &Store,
    run: &RunRow,
    stage: &Stage2,
    device: &Device,
    options: &WorkerOptions,
) -> Result<()> {
    let Stage2 {
        config,
        train_split,
        out,
        inpaint,
        key,
        ..
    } = *stage;
    let stage2_started = Instant::now();
    store.record_stage(
        &run.key,
        &StageRow {
            stage: "stage2".into(),
            status: StageStatus::Running,
            shared_key: Some(key.to_string()),
            ..StageRow::default()
        },
    )?;
    let bar = (options.progress)(0, "stage 2");
    let trained = train(
        config,
        train_split,
        &TrainOptions {
            out: out.to_path_buf(),
            resume: true,
            inpaint_from: Some(inpaint.to_path_buf()),
            cancel: options.cancel.clone(),
            validate: stage.validate.clone(),
            prune: stage.prune.clone(),
            ..TrainOptions::default()
        },
        device,
        &bar,
    );
    bar.finish_and_clear();
    if let Err(e @ Error::Pruned { .. }) = trained {
        // A pruned run's partial curves stay.
        store_curves(store, &run.key, &out.join(files::LOG))?;
        return Err(e);
    }
    let report = trained?;
    eprintln!(
        "{}: stage 2: {} steps this attempt ({} in all{})",
        run.name,
        report.stage2.steps_run,
        report.stage2.total_steps,
        if report.stage2.skipped {
            ", already trained"
        } else {
            ""
        }
    );
    store_curves(store, &run.key, &out.join(files::LOG))?;
    let kept_file = out.join(files::KEPT);
    let kept: Option<KeptCheckpoint> = if kept_file.exists() {
        Some(read_json(&kept_file)?)
    } else {
        None
    };
    store.record_stage(
        &run.key,
        &StageRow {
            kept_step: kept.as_ref().map(|k| k.step as i64),
            kept: kept.as_ref().map(describe_kept),
            ..done_row(
                "stage2",
                key,
                &out.join(files::UPSAMPLE),
                Some((&report.stage2, stage2_started.elapsed().as_secs_f64())),
            )
        },
    )?;
    Ok(())
}

/// The row of a finished shared stage: trained in this attempt (its report and seconds), or
/// reused (`None`).
fn done_row(
    stage: &str,
    key: &str,
    checkpoint: &Path,
    trained: Option<(&StageReport, f64)>,
) -> StageRow {
    StageRow {
        stage: stage.into(),
        status: StageStatus::Done,
        shared_key: Some(key.to_string()),
        reused: trained.is_none(),
        checkpoint: Some(checkpoint.display().to_string()),
        steps: trained.map(|(r, _)| r.total_steps as i64),
        images_per_s: trained.map(|(r, _)| r.images_per_s),
        seconds: trained.map(|(_, s)| s),
        ..StageRow::default()
    }
}

/// How `show` and `status` say which checkpoint a stage kept.
pub fn describe_kept(k: &KeptCheckpoint) -> String {
    let what = match k.keep {
        Keep::Best => "best",
        Keep::Last => "last",
    };
    let mut out = format!("{what} (step {})", k.step);
    if let (Some(m), Some(v)) = (k.metric, k.value) {
        out.push_str(&format!(", {} {v:.4}", m.term()));
    }
    if k.ema {
        out.push_str(", EMA weights");
    }
    out
}

/// The median rule of Optuna's `MedianPruner` over the store's validation curves: at a
/// validation step, a run whose best value so far is below the median of the values that the
/// experiment's finished runs had at that step stops, once `startup_runs` runs have finished
/// and from step `warmup_steps` on. Both validation metrics (PSNR, SSIM) are higher-is-better.
pub fn median_pruner(store: &Store, run: &RunRow, spec: &PruneSpec, term: &str) -> PruneHook {
    let store = store.clone();
    let (experiment, key, term) = (run.experiment.clone(), run.key.clone(), term.to_string());
    let spec = spec.clone();
    PruneHook(Arc::new(move |step: usize, best: f64| {
        if step < spec.warmup_steps {
            return Ok(None);
        }
        let (finished, values) =
            store.finished_curve_values(&experiment, &key, &term, step as i64)?;
        if finished < spec.startup_runs || values.is_empty() {
            return Ok(None);
        }
        let median = median(&values);
        Ok((best < median).then(|| {
            format!(
                "best {term} {best:.4} by step {step} is below the median {median:.4} of {} \
                 finished runs at that step",
                values.len()
            )
        }))
    }))
}

/// The median of a non-empty list (the mean of the middle two for an even count, as numpy's).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Reads a model directory's training log into the store.
fn store_curves(store: &Store, run: &str, log: &Path) -> Result<()> {
    if !log.exists() {
        return Ok(());
    }
    let mut by_stage: HashMap<String, Vec<(i64, String, f64)>> = HashMap::new();
    for (stage, step, term, value) in TrainLog::read(log)? {
        by_stage
            .entry(stage)
            .or_default()
            .push((step as i64, term, value));
    }
    for (stage, points) in by_stage {
        store.write_curves(run, &stage, &points)?;
    }
    Ok(())
}

/// A landmark network shared by every run that asks for the same spec on the same data.
#[allow(clippy::too_many_arguments)]
fn ensure_landmarks(
    store: &Store,
    data_spec: &DataSpec,
    spec: &LandmarkSpec,
    data: &Dataset,
    shared_root: &Path,
    run: &RunRow,
    device: &Device,
    options: &WorkerOptions,
) -> Result<PathBuf> {
    let key = landmark_key(data_spec, spec);
    let got = ensure_shared(
        store,
        &key,
        "landmarks",
        &shared_root.join(&key),
        &run.key,
        (&options.cancel, options.poll),
        |path| {
            let train_split = data.split("train")?;
            let test = data.split("test").ok();
            let bar = (options.progress)(0, "landmarks");
            train_landmarks(
                spec,
                &train_split,
                test.as_ref(),
                path,
                device,
                &bar,
                &options.cancel,
            )?;
            bar.finish_and_clear();
            Ok(())
        },
    )?;
    Ok(got.path().to_path_buf())
}

/// Opens the experiment's prepared dataset, making it from `data.source` when it is missing.
/// Workers racing to make it each build a private copy and rename it into place; the first
/// rename wins and the others use it.
pub fn ensure_dataset(spec: &DataSpec, options: &WorkerOptions) -> Result<Dataset> {
    let target = &spec.prepared;
    if target.join("manifest.json").exists() {
        return Dataset::open(target);
    }
    let Some(source) = &spec.source else {
        return Err(Error::invalid(
            "data.prepared",
            format!(
                "{} is not a prepared dataset and the experiment gives no `data.source` to make \
                 it from (or run `ofhnet data import` first)",
                target.display()
            ),
        ));
    };
    let split: SplitRule = spec
        .split
        .parse()
        .map_err(|e| Error::invalid("data.split", format!("{e}")))?;
    let tmp = PathBuf::from(format!("{}.tmp-{}", target.display(), std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    let roots = match (&source.synth, &source.celeba) {
        (Some(synth), None) => {
            let faces = tmp.join("faces");
            let bar = (options.progress)(synth.count as u64, "drawing faces");
            write_celeba_root(
                &faces,
                &SynthOptions {
                    count: synth.count,
                    seed: synth.seed,
                    images_per_identity: synth.per_identity,
                    ..SynthOptions::default()
                },
                &bar,
            )?;
            bar.finish_and_clear();
            vec![faces]
        }
        (None, Some(roots)) => {
            for root in roots {
                if !root.exists() {
                    return Err(Error::invalid(
                        "data.source.celeba",
                        format!("{} does not exist", root.display()),
                    ));
                }
            }
            for root in source.celeba_train.iter().flatten() {
                if !root.exists() {
                    return Err(Error::invalid(
                        "data.source.celeba_train",
                        format!("{} does not exist", root.display()),
                    ));
                }
            }
            roots.clone()
        }
        _ => {
            return Err(Error::invalid(
                "data.source",
                "give exactly one of `synth` and `celeba`",
            ));
        }
    };
    let prepared = tmp.join("prepared");
    let bar = (options.progress)(0, "importing");
    dataset::import(
        &ImportOptions {
            roots,
            train_roots: source.celeba_train.clone().unwrap_or_default(),
            out: prepared.clone(),
            split,
            seed: spec.split_seed,
            protocol: Protocol::default(),
            strict: false,
            force: false,
        },
        &bar,
    )?;
    bar.finish_and_clear();
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let renamed = std::fs::rename(&prepared, target);
    let _ = std::fs::remove_dir_all(&tmp);
    if let Err(e) = renamed
        && !target.join("manifest.json").exists()
    {
        return Err(Error::io(target, e));
    }
    Dataset::open(target)
}
