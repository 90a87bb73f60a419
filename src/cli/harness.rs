//! The harness commands: `run`, `enqueue`, `worker`, `status`, `retry`, `show`, `diff` and
//! `slurm`.
//! Each takes `--db` (an SQLite file, the default `results/ofhnet.sqlite`, or a
//! `postgres://` URL).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;

use crate::harness::experiment::{self, Experiment, Override};
use crate::harness::store::{self, DEFAULT_DB, EnqueueReport, RunRow, RunStatus, Store, Versions};
use crate::harness::sweep::{self, RunSpec};
use crate::harness::worker::{WorkerOptions, restart_run, where_it_went, work, worker_info};
use crate::metrics::{Metric, Values, metric::text_table};

use super::progress_bar;

/// `--db`, shared by every harness command.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// The run store: an SQLite file or a postgres://user:pass@host/db URL.
    #[arg(long, env = "OFHNET_DB", default_value = DEFAULT_DB)]
    pub db: String,
}

impl DbArgs {
    pub fn open(&self) -> anyhow::Result<Store> {
        // The store's own error names the file or host (without a password).
        Store::open(&self.db).context("--db")
    }
}

/// The experiment file and its overrides.
#[derive(Debug, Clone, Args)]
pub struct ExperimentArgs {
    /// The experiment file (YAML; see experiments/README.md).
    pub experiment: PathBuf,
    /// A YAML file of overrides: a mapping from dotted paths to values, applied like `--set`
    /// and before it (e.g. experiments/paper/scales/smoke.yaml). Repeatable; later files win.
    #[arg(long = "overrides", value_name = "FILE")]
    pub overrides: Vec<PathBuf>,
    /// Override a field by its dotted path, e.g. `--set data.source.synth.count=200` or
    /// `--set method.preset=cpu` (values are read as YAML). A path inside a swept value
    /// (`method.preset` when `method` is swept) is set in every value of the sweep as well.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
}

impl ExperimentArgs {
    /// Loads the file and applies the overrides: the `--overrides` files in order, then `--set`.
    pub fn load(&self) -> anyhow::Result<Experiment> {
        let exp = experiment::load(&self.experiment)?;
        let mut overrides = Vec::new();
        for file in &self.overrides {
            overrides.extend(
                Override::read_file(file)
                    .with_context(|| format!("reading the overrides file {}", file.display()))?,
            );
        }
        for s in &self.set {
            overrides.push(Override::parse_set(s)?);
        }
        Ok(experiment::apply_overrides(
            &exp,
            &overrides,
            &self.experiment,
        )?)
    }

    /// The file and its overrides as they would be typed after `ofhnet run`, so that a
    /// report can say how to reproduce the experiment.
    pub fn source(&self) -> String {
        let quote = |s: &str| {
            if s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+".contains(c))
            {
                s.to_string()
            } else {
                format!("'{}'", s.replace('\'', "'\\''"))
            }
        };
        std::iter::once(self.experiment.display().to_string())
            .chain(self.to_args())
            .map(|a| quote(&a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The overrides as command-line arguments, for scripts that re-run the same command.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for f in &self.overrides {
            args.push("--overrides".to_string());
            args.push(f.display().to_string());
        }
        for s in &self.set {
            args.push("--set".to_string());
            args.push(s.clone());
        }
        args
    }
}

/// `ofhnet enqueue`
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    #[command(flatten)]
    pub experiment: ExperimentArgs,
    /// Print the expanded runs without touching the store.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write each run's training configuration to DIR/KEY.yaml, for `ofhnet train
    /// --config` (to train or debug one run outside the harness; scripts/fused-check.sh reads
    /// one). Runs whose method trains no network are left out.
    #[arg(long, value_name = "DIR")]
    pub write_configs: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `ofhnet run`
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub experiment: ExperimentArgs,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub worker: WorkerFlags,
}

/// Flags of a worker.
#[derive(Debug, Clone, Args)]
pub struct WorkerFlags {
    /// Where run artifacts go: RESULTS/<experiment>/<run-name>/.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Seconds between heartbeats of a running run.
    #[arg(long, default_value_t = 10.0)]
    pub heartbeat: f64,
    /// Seconds without a heartbeat after which a running run goes back to the queue.
    #[arg(long, default_value_t = 120.0)]
    pub stale_after: f64,
}

impl WorkerFlags {
    fn options(&self, experiment: Option<String>) -> anyhow::Result<WorkerOptions> {
        if !(self.heartbeat > 0.0 && self.stale_after > self.heartbeat) {
            bail!(
                "--heartbeat must be positive and below --stale-after (got {} and {})",
                self.heartbeat,
                self.stale_after
            );
        }
        Ok(WorkerOptions {
            experiment,
            heartbeat: Duration::from_secs_f64(self.heartbeat),
            stale_after: Duration::from_secs_f64(self.stale_after),
            poll: Duration::from_secs_f64((self.heartbeat / 2.0).clamp(0.2, 5.0)),
            results: self.results.clone(),
            progress: progress_bar,
            ..WorkerOptions::default()
        })
    }
}

/// `ofhnet worker`
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Execute at most one run, then exit.
    #[arg(long)]
    pub once: bool,
    /// Execute at most N runs, then exit.
    #[arg(long, value_name = "N")]
    pub max_runs: Option<usize>,
    /// Only runs of this experiment.
    #[arg(long)]
    pub experiment: Option<String>,
    /// Keep waiting for new runs when the queue is empty (instead of exiting).
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub flags: WorkerFlags,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `ofhnet status`
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// An experiment name: list its runs (default: a summary of every experiment).
    pub experiment: Option<String>,
    /// Also the runs of the experiment's older definitions (history), with their versions.
    #[arg(long)]
    pub all_versions: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `ofhnet retry`
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The experiment name.
    pub experiment: String,
    /// Put the failed runs back in the queue.
    #[arg(long)]
    pub failed: bool,
    /// Put the runs that the pruning rule stopped back in the queue: they resume from their
    /// checkpoints and train to the end, never pruned again.
    #[arg(long)]
    pub pruned: bool,
    /// Start this run's unfinished stage again from its first step (a corrupt checkpoint): its
    /// checkpoints are moved aside, not deleted. A key, key prefix or EXP/NAME; repeatable.
    #[arg(long, value_name = "RUN")]
    pub restart: Vec<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `ofhnet show`
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A run key (or its first 4+ characters), EXPERIMENT/RUN-NAME (the current definition's
    /// run) or EXPERIMENT/RUN-NAME@vN (version N's).
    pub run: String,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `ofhnet diff`
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The first run: a key, a key prefix, EXPERIMENT/NAME or EXPERIMENT/NAME@vN.
    pub a: String,
    /// The second run.
    pub b: String,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `ofhnet slurm`
#[derive(Debug, Args)]
pub struct SlurmArgs {
    #[command(flatten)]
    pub experiment: ExperimentArgs,
    /// Number of array tasks, each one `ofhnet worker`.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Write the script here (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Time limit per task (sbatch --time).
    #[arg(long, default_value = "24:00:00")]
    pub time: String,
    /// Extra `#SBATCH` lines, e.g. `--sbatch "--gres=gpu:1" --sbatch "--partition=gpu"`.
    #[arg(long = "sbatch", value_name = "OPTION")]
    pub sbatch: Vec<String>,
    /// The ofhnet each task runs: by default `ofhnet` from the task's PATH, so the script works
    /// on any node that has ofhnet installed.
    #[arg(long, value_name = "PATH", default_value = "ofhnet")]
    pub bin: String,
    /// Submit the script with `sbatch` (writing it to --out, default `ofhnet-EXP.sbatch`) and
    /// print the job id.
    #[arg(long)]
    pub submit: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

fn check_runs(exp: &Experiment, file: &Path) -> anyhow::Result<Vec<RunSpec>> {
    let runs = sweep::expand(exp).with_context(|| format!("expanding {}", file.display()))?;
    for r in &runs {
        // A swept value is checked with the experiment's own field names.
        r.config
            .validate(file)
            .with_context(|| format!("run `{}`", r.name))?;
        let mut config = r.config.train_config(r.seed);
        // A semantic loss without a named network gets one trained from `landmarks.loss`.
        if let Some(block) = config.losses.semantic.as_mut()
            && block.network.is_none()
        {
            block.network = Some(PathBuf::from("landmarks.loss"));
        }
        config
            .validate()
            .with_context(|| format!("{}: run `{}`", file.display(), r.name))?;
    }
    Ok(runs)
}

/// `ofhnet enqueue`
pub fn enqueue(args: &EnqueueArgs) -> anyhow::Result<()> {
    let exp = args.experiment.load()?;
    let file = &args.experiment.experiment;
    let runs = check_runs(&exp, file)?;
    if let Some(dir) = &args.write_configs {
        write_train_configs(&exp, file, &runs, dir)?;
    }
    if args.dry_run {
        println!("{}: {} runs", exp.name, runs.len());
        for r in &runs {
            println!("  {}  {}", r.key, r.name);
        }
        return Ok(());
    }
    let store = args.db.open()?;
    let report = store.enqueue(&exp, &args.experiment.source(), &runs)?;
    println!(
        "{}: {} runs, {} added, {} already in {} (version {}{})",
        exp.name,
        runs.len(),
        report.added.len(),
        report.existing.len(),
        store.shown(),
        report.version,
        if report.new_version && report.version > 1 {
            ", a new definition"
        } else {
            ""
        }
    );
    print_enqueue_changes(&report);
    Ok(())
}

/// Writes the training configuration of each run that trains a network to `dir/KEY.yaml`, headed
/// by what the file leaves to the command line: the data and the semantic loss's landmark network
/// (the worker trains that one from `landmarks.loss`, so the file names none).
fn write_train_configs(
    exp: &Experiment,
    file: &Path,
    runs: &[RunSpec],
    dir: &Path,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = 0;
    for r in runs.iter().filter(|r| r.config.method.trains_stage2()) {
        let config = r.config.train_config(r.seed);
        let yaml = serde_yaml::to_string(&config)
            .with_context(|| format!("run `{}`: writing its configuration", r.name))?;
        let mut head = format!(
            "# Training configuration of run {} of experiment `{}` ({}):\n#   {}\n\
             # Train it alone: ofhnet train --config THIS --data {} --out DIR",
            r.key,
            exp.name,
            file.display(),
            r.name,
            exp.data.prepared.display(),
        );
        if config.losses.semantic.is_some() {
            head.push_str(" --semantic-net LANDMARKS\n# (LANDMARKS: a network from `ofhnet landmarks train --role loss`, as the\n# experiment's `landmarks.loss` block trains it)");
        }
        let path = dir.join(format!("{}.yaml", r.key));
        std::fs::write(&path, format!("{head}\n{yaml}"))
            .with_context(|| format!("writing {}", path.display()))?;
        written += 1;
    }
    println!(
        "{}: wrote {written} training configurations to {}",
        exp.name,
        dir.display()
    );
    Ok(())
}

/// Which runs an enqueue added, what each changed against the run it replaces, and which runs
/// of the previous definition it left out.
fn print_enqueue_changes(report: &EnqueueReport) {
    if report.version <= 1 {
        return;
    }
    for a in &report.added {
        match &a.replaces {
            Some((old, changes)) => {
                let what: Vec<String> = changes
                    .iter()
                    .map(|c| format!("{}: {} -> {}", c.path, c.old, c.new))
                    .collect();
                println!(
                    "  new  {} ({}) replaces {}: {}",
                    a.name,
                    a.key,
                    old,
                    if what.is_empty() {
                        "no field changed (a new key for the same configuration: the key's \
                         canonical form changed with an ofhnet upgrade)"
                            .to_string()
                    } else {
                        what.join(", ")
                    }
                );
            }
            None => println!("  new  {} ({})", a.name, a.key),
        }
    }
    for name in &report.retired {
        println!("  left out of this version (kept as history): {name}");
    }
}

/// `ofhnet run`
pub fn run(args: &RunArgs, device_name: &str, device: &burn::tensor::Device) -> anyhow::Result<()> {
    let exp = args.experiment.load()?;
    let file = &args.experiment.experiment;
    let runs = check_runs(&exp, file)?;
    let store = args.db.open()?;
    let report = store.enqueue(&exp, &args.experiment.source(), &runs)?;
    eprintln!(
        "{}: {} runs ({} new, version {})",
        exp.name,
        runs.len(),
        report.added.len(),
        report.version
    );
    print_enqueue_changes(&report);
    crate::interrupt::install_signal_handlers()?;
    let start = Instant::now();
    let info = worker_info(device_name);
    let options = args.worker.options(Some(exp.name.clone()))?;
    let summary = work(&store, &info, device, &options)?;
    eprintln!(
        "this worker: {} done, {} failed{} in {:.1}s",
        summary.done.len(),
        summary.failed.len(),
        if summary.pruned.is_empty() {
            String::new()
        } else {
            format!(", {} pruned", summary.pruned.len())
        },
        start.elapsed().as_secs_f64()
    );
    if let Some((name, why, status)) = &summary.interrupted {
        if *status == RunStatus::Superseded {
            bail!("stopped by {why}: `{name}`: {}", where_it_went(*status));
        }
        bail!("stopped by {why}: `{name}` is back in the queue; `ofhnet run` again continues it");
    }
    print_experiment(&store, &exp.name, Versions::Current)?;
    let counts = store.counts(Some(&exp.name), Versions::Current)?;
    if counts.failed > 0 {
        bail!(
            "{} of {} runs failed (`ofhnet show EXPERIMENT/RUN` for the error, `ofhnet retry {} \
             --failed` to run them again)",
            counts.failed,
            counts.total(),
            exp.name
        );
    }
    Ok(())
}

/// `ofhnet worker`
pub fn worker(
    args: &WorkerArgs,
    device_name: &str,
    device: &burn::tensor::Device,
) -> anyhow::Result<()> {
    let store = args.db.open()?;
    let info = worker_info(device_name);
    let mut options = args.flags.options(args.experiment.clone())?;
    options.max_runs = if args.once { Some(1) } else { args.max_runs };
    options.wait = args.wait;
    eprintln!("worker {} on {} ({})", info.id, store.shown(), device_name);
    crate::interrupt::install_signal_handlers()?;
    let summary = work(&store, &info, device, &options)?;
    if let Some((name, why, status)) = &summary.interrupted {
        eprintln!(
            "worker {}: stopped by {why}; `{name}`: {}",
            info.id,
            where_it_went(*status)
        );
    }
    eprintln!(
        "worker {}: {} done, {} failed",
        info.id,
        summary.done.len(),
        summary.failed.len()
    );
    Ok(())
}

fn duration(r: &RunRow) -> String {
    match (r.started_at, r.finished_at) {
        (Some(s), Some(f)) if f >= s => format!("{:.1}s", f - s),
        (Some(s), None) => format!("{:.0}s so far", store::now() - s),
        _ => "-".into(),
    }
}

/// The pruned and superseded counts, when there are any.
fn extra_counts(c: &store::StatusCounts) -> String {
    let mut out = String::new();
    if c.pruned > 0 {
        out.push_str(&format!(", {} pruned", c.pruned));
    }
    if c.superseded > 0 {
        out.push_str(&format!(", {} superseded", c.superseded));
    }
    out
}

fn print_experiment(store: &Store, name: &str, versions: Versions) -> anyhow::Result<()> {
    let runs = store.runs(Some(name), versions)?;
    if runs.is_empty() {
        bail!("no experiment `{name}` in {}", store.shown());
    }
    let current = store.experiment_version(name)?;
    let c = store.counts(Some(name), versions)?;
    println!(
        "{name} (version {current}{}): {} runs: {} done, {} running, {} queued, {} failed{}",
        if versions == Versions::All {
            ", with the history"
        } else {
            ""
        },
        c.total(),
        c.done,
        c.running,
        c.queued,
        c.failed,
        extra_counts(&c)
    );
    for (kind, n) in store.shared_counts(name)? {
        let what = match kind.as_str() {
            "stage1" => "stage-1 trainings (InpaintNet)",
            "landmarks" => "landmark networks",
            other => other,
        };
        println!("  {n} {what}");
    }
    let width = runs.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let all = versions == Versions::All;
    // Runs that Slurm workers claimed name their job and array task (JOB_TASK, as in the
    // job's log file name).
    let slurm = runs.iter().any(|r| r.slurm_job.is_some());
    println!(
        "  {}{:<width$}  {:<10} {:>3}  {:>14}  {:>8} {:>7}  key{}",
        if all { "ver  " } else { "" },
        "run",
        "status",
        "try",
        "time",
        "PSNR",
        "SSIM",
        if slurm { "               slurm" } else { "" }
    );
    for r in &runs {
        let means = store.metric_means(&r.key)?;
        // The headline numbers: the run's method under the random protocol (or the first).
        // (IN+bicubic rows stand beside every run; they are the headline only of an IN+bicubic run.)
        let main = means.iter().min_by_key(|m| {
            (
                m.method == crate::methods::bicubic::NAME,
                m.protocol != "random",
            )
        });
        let (psnr, ssim) = match main {
            Some(m) => (
                m.values
                    .get(Metric::Psnr)
                    .map_or("-".into(), |v| format!("{v:.3}")),
                m.values
                    .get(Metric::Ssim)
                    .map_or("-".into(), |v| format!("{v:.4}")),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "  {}{:<width$}  {:<10} {:>3}  {:>14}  {:>8} {:>7}  {}{}",
            if all {
                format!("{:<5}", format!("v{}", r.last_version))
            } else {
                String::new()
            },
            r.name,
            r.status,
            r.attempts,
            duration(r),
            psnr,
            ssim,
            &r.key,
            if slurm {
                format!("  {}", slurm_ids(r))
            } else {
                String::new()
            }
        );
        if let Some(e) = r
            .error
            .as_deref()
            .filter(|_| r.status == store::RunStatus::Failed)
        {
            println!("      error: {}", e.lines().next().unwrap_or(""));
        }
    }
    Ok(())
}

/// `JOB_TASK` of the Slurm worker that last claimed a run (`-` outside Slurm).
fn slurm_ids(r: &store::RunRow) -> String {
    match (&r.slurm_job, &r.slurm_task) {
        (Some(j), Some(t)) => format!("{j}_{t}"),
        (Some(j), None) => j.clone(),
        _ => "-".into(),
    }
}

/// `ofhnet status`
pub fn status(args: &StatusArgs) -> anyhow::Result<()> {
    let store = args.db.open()?;
    match &args.experiment {
        Some(name) => print_experiment(
            &store,
            name,
            if args.all_versions {
                Versions::All
            } else {
                Versions::Current
            },
        ),
        None => {
            let experiments = store.experiments()?;
            if experiments.is_empty() {
                println!("no experiments in {}", store.shown());
            }
            for (name, file) in experiments {
                let versions = if args.all_versions {
                    Versions::All
                } else {
                    Versions::Current
                };
                let c = store.counts(Some(&name), versions)?;
                println!(
                    "{name} ({file}, version {}): {} runs: {} done, {} running, {} queued, {} \
                     failed{}",
                    store.experiment_version(&name)?,
                    c.total(),
                    c.done,
                    c.running,
                    c.queued,
                    c.failed,
                    extra_counts(&c)
                );
            }
            Ok(())
        }
    }
}

/// `ofhnet retry`
pub fn retry(args: &RetryArgs) -> anyhow::Result<()> {
    if !args.failed && !args.pruned && args.restart.is_empty() {
        bail!(
            "say which runs to retry: `ofhnet retry {} --failed`, `--pruned` or `--restart RUN`",
            args.experiment
        );
    }
    let store = args.db.open()?;
    for what in &args.restart {
        let run = store.find_run(what)?;
        if run.experiment != args.experiment {
            bail!(
                "--restart {what}: the run belongs to `{}`, not `{}`",
                run.experiment,
                args.experiment
            );
        }
        let moved = restart_run(&store, &run)?;
        println!(
            "{}/{}: back in the queue; its unfinished stages start from step 0",
            run.experiment, run.name
        );
        for (from, to) in moved {
            println!("  moved {} -> {}", from.display(), to.display());
        }
    }
    if args.pruned {
        let names = store.retry_pruned(&args.experiment)?;
        print_requeued(&args.experiment, "pruned", ", to train to the end", &names);
    }
    if args.failed {
        let names = store.retry_failed(&args.experiment)?;
        print_requeued(&args.experiment, "failed", "", &names);
    }
    Ok(())
}

fn print_requeued(experiment: &str, what: &str, note: &str, names: &[String]) {
    println!(
        "{experiment}: {} {what} runs back in the queue{note}{}",
        names.len(),
        if names.is_empty() {
            String::new()
        } else {
            format!(": {}", names.join(", "))
        }
    );
}

/// `ofhnet show`
pub fn show(args: &ShowArgs) -> anyhow::Result<()> {
    let store = args.db.open()?;
    let r = store.find_run(&args.run)?;
    println!("run        {}/{}", r.experiment, r.name);
    println!("key        {}", r.key);
    println!("version    {}", version_line(&store, &r)?);
    println!("status     {} (attempts {})", r.status, r.attempts);
    println!("seed       {}", r.seed);
    println!("swept      {}", r.swept);
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!(
        "worker     {} on {} ({})",
        opt(&r.worker),
        opt(&r.host),
        opt(&r.device)
    );
    println!(
        "code       {}{}",
        opt(&r.git_commit),
        match r.git_dirty {
            Some(1) => " (dirty)",
            _ => "",
        }
    );
    if r.slurm_job.is_some() {
        println!("slurm      {} (job_task)", slurm_ids(&r));
    }
    println!("time       {}", duration(&r));
    if let (Some(t), Some(e)) = (r.train_seconds, r.eval_seconds) {
        println!("           training {t:.1}s, evaluation {e:.1}s");
    }
    println!("artifacts  {}", opt(&r.artifacts));
    if let Some(e) = &r.error {
        println!("error      {e}");
    }
    for s in store.stages(&r.key)? {
        println!(
            "{:<10} {}{}{}{}",
            s.stage,
            s.status,
            if s.reused { ", reused" } else { "" },
            s.steps.map(|n| format!(", {n} steps")).unwrap_or_default(),
            s.images_per_s
                .map(|v| format!(", {v:.1} images/s"))
                .unwrap_or_default()
        );
        if let Some(c) = &s.checkpoint {
            println!("           {c}");
        }
        if let Some(k) = &s.kept {
            println!("           kept: {k}");
        }
    }
    let means = store.metric_means(&r.key)?;
    if !means.is_empty() {
        let table: Vec<(Vec<String>, Values)> = means
            .into_iter()
            .map(|m| (vec![m.protocol, m.method, m.images.to_string()], m.values))
            .collect();
        print!(
            "{}",
            text_table(&["protocol", "method", "images"], &table, &Metric::ALL)
        );
    }
    println!("config     {}", r.config);
    Ok(())
}

/// Which versions of its experiment's definition a run belongs to, and which is current.
fn version_line(store: &Store, r: &RunRow) -> anyhow::Result<String> {
    let current = store.experiment_version(&r.experiment)?;
    let versions: Vec<String> = store
        .run_versions(&r.key)?
        .iter()
        .map(|(v, _)| format!("v{v}"))
        .collect();
    Ok(format!(
        "in {} of `{}` (current: v{current}{})",
        if versions.is_empty() {
            "no version".to_string()
        } else {
            versions.join(", ")
        },
        r.experiment,
        if r.last_version == current {
            ""
        } else {
            "; this run is history"
        }
    ))
}

/// `ofhnet diff`: the configuration fields that differ between two runs, one per line on
/// standard output (which runs and versions on standard error).
pub fn diff(args: &DiffArgs) -> anyhow::Result<()> {
    let store = args.db.open()?;
    let a = store.find_run(&args.a)?;
    let b = store.find_run(&args.b)?;
    for (label, r) in [("a", &a), ("b", &b)] {
        eprintln!(
            "{label}: {}/{} ({}), {}",
            r.experiment,
            r.name,
            r.key,
            version_line(&store, r)?
        );
    }
    let parse = |r: &RunRow| -> anyhow::Result<serde_json::Value> {
        serde_json::from_str(&r.config)
            .with_context(|| format!("run {}: its stored config is not JSON", r.key))
    };
    let changes = sweep::config_diff(&parse(&a)?, &parse(&b)?);
    if changes.is_empty() {
        eprintln!("the two runs have the same configuration");
    }
    for c in changes {
        println!("{}: {} -> {}", c.path, c.old, c.new);
    }
    Ok(())
}

/// `ofhnet slurm`: an sbatch job-array script whose tasks are workers on the shared store.
pub fn slurm(args: &SlurmArgs, device_name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(args.workers >= 1, "--workers must be at least 1");
    let exp = args.experiment.load()?;
    let file = &args.experiment.experiment;
    check_runs(&exp, file)?;
    if args.db.db.starts_with("sqlite:") || !args.db.db.contains("://") {
        eprintln!(
            "note: {} is an SQLite file; workers on several hosts need it on a shared filesystem \
             with working locks, or use --db postgres://...",
            args.db.db
        );
    }
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let sets: String = args
        .experiment
        .to_args()
        .chunks(2)
        .map(|pair| format!(" {} {}", pair[0], quote(&pair[1])))
        .collect();
    let mut script = String::new();
    script.push_str("#!/bin/bash\n");
    script.push_str(&format!("#SBATCH --job-name=ofhnet-{}\n", exp.name));
    script.push_str(&format!("#SBATCH --array=1-{}\n", args.workers));
    script.push_str(&format!("#SBATCH --time={}\n", args.time));
    script.push_str("#SBATCH --output=ofhnet-%A_%a.log\n");
    for o in &args.sbatch {
        script.push_str(&format!("#SBATCH {o}\n"));
    }
    script.push_str(&format!(
        "# Written by `ofhnet slurm` for {} ({} runs). Each array task is one worker on the\n\
         # shared run store; enqueueing is idempotent, so every task may do it. Paths are as\n\
         # given, relative to the directory sbatch is run from (the job's working directory).\n\
         # A task that Slurm cancels (scancel, the time limit) puts its run back in the queue\n\
         # for another task; each run records the job and task that ran it (`ofhnet status`).\n\
         set -euo pipefail\n\
         export OFHNET_DB={}\n\
         {} enqueue {}{}\n\
         exec {} --device {} worker --experiment {}\n",
        file.display(),
        sweep::expand(&exp)?.len(),
        quote(&args.db.db),
        quote(&args.bin),
        quote(&file.display().to_string()),
        sets,
        quote(&args.bin),
        quote(device_name),
        quote(&exp.name),
    ));
    if args.submit {
        let path = args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("ofhnet-{}.sbatch", exp.name)));
        std::fs::write(&path, &script).with_context(|| format!("writing {}", path.display()))?;
        let out = std::process::Command::new("sbatch")
            .arg("--parsable")
            .arg(&path)
            .output()
            .context("running sbatch (is Slurm's client installed and on PATH?)")?;
        if !out.status.success() {
            bail!(
                "sbatch {} failed: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
        let stdout = String::from_utf8_lossy(&out.stdout);
        let job = stdout.trim().split(';').next().unwrap_or("").to_string();
        eprintln!(
            "submitted {} as job {job} (array tasks 1-{}; logs ofhnet-{job}_N.log)",
            path.display(),
            args.workers
        );
        println!("{job}");
        return Ok(());
    }
    match &args.out {
        Some(path) => {
            std::fs::write(path, &script).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "wrote {} (submit with `sbatch {}`)",
                path.display(),
                path.display()
            );
        }
        None => print!("{script}"),
    }
    Ok(())
}
