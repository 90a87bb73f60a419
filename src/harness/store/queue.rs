//! Runs and their life: claimed by a worker, kept alive by its heartbeat, finished, failed or
//! pruned, and put back in the queue when their worker is gone.

use std::path::Path;
use std::time::Duration;

use sqlx::AssertSqlSafe;

use super::{Backend, Store, db_error, now};
use crate::harness::experiment::Experiment;
use crate::{Error, Result};

super::status_enum! {
    /// Where a run is in its life.
    RunStatus, "run" {
        Queued = "queued",
        Running = "running",
        Done = "done",
        Failed = "failed",
        /// A queued run that a newer definition of its experiment left out: never claimed,
        /// kept as history, queued again if a later definition brings its configuration back.
        Superseded = "superseded",
        /// Stopped early by the experiment's pruning rule; `retry EXP --pruned` runs it to the
        /// end.
        Pruned = "pruned",
    }
}

/// Which definitions of an experiment a listing covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versions {
    /// The runs of the experiment's current definition (what `status` and `report` show).
    Current,
    /// Every run the experiment ever had (`--all-versions`).
    All,
}

/// Who is working on a run, recorded with it.
#[derive(Clone, Debug, Default)]
pub struct WorkerInfo {
    /// `host:pid`, unique among live workers.
    pub id: String,
    pub host: String,
    /// The `--device` the worker computes on.
    pub device: String,
    pub git_commit: Option<String>,
    pub git_dirty: Option<bool>,
    /// The Slurm job (`SLURM_ARRAY_JOB_ID`, else `SLURM_JOB_ID`) and array task
    /// (`SLURM_ARRAY_TASK_ID`) the worker runs in, when Slurm started it.
    pub slurm_job: Option<String>,
    pub slurm_task: Option<String>,
}

/// A run row.
#[derive(Clone, Debug)]
pub struct RunRow {
    pub key: String,
    pub experiment: String,
    pub name: String,
    pub ordinal: i64,
    pub seed: i64,
    pub swept: String,
    pub config: String,
    pub status: RunStatus,
    pub attempts: i64,
    pub worker: Option<String>,
    pub host: Option<String>,
    pub device: Option<String>,
    pub git_commit: Option<String>,
    pub git_dirty: Option<i64>,
    pub heartbeat: Option<f64>,
    pub enqueued_at: f64,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    pub train_seconds: Option<f64>,
    pub eval_seconds: Option<f64>,
    pub artifacts: Option<String>,
    pub error: Option<String>,
    /// The version of the experiment's definition that added the run.
    pub version: i64,
    /// The latest version whose definition includes the run.
    pub last_version: i64,
    /// Whether the experiment's pruning rule may stop the run (`retry --pruned` clears it).
    pub prunable: bool,
    /// The Slurm job and array task whose worker last claimed the run.
    pub slurm_job: Option<String>,
    pub slurm_task: Option<String>,
}

super::from_row!(RunRow {
    key,
    experiment,
    name,
    ordinal,
    seed,
    swept,
    config,
    status: status,
    attempts,
    worker,
    host,
    device,
    git_commit,
    git_dirty,
    heartbeat,
    enqueued_at,
    started_at,
    finished_at,
    train_seconds,
    eval_seconds,
    artifacts,
    error,
    version,
    last_version,
    prunable: flag,
    slurm_job,
    slurm_task,
});

impl RunRow {
    /// The run's experiment, with its swept values applied.
    pub fn experiment_config(&self) -> Result<Experiment> {
        serde_json::from_str(&self.config).map_err(|e| {
            Error::invalid(
                "run store",
                format!("run {} ({}): stored config: {e}", self.name, self.key),
            )
        })
    }
}

const RUN_COLUMNS: &str = "key, experiment, name, ordinal, seed, swept, config, status, attempts, \
     worker, host, device, git_commit, git_dirty, heartbeat, enqueued_at, started_at, \
     finished_at, train_seconds, eval_seconds, artifacts, error, version, last_version, prunable, \
     slurm_job, slurm_task";

/// Counts of runs by status.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatusCounts {
    pub queued: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
    /// Queued runs of an older definition (only in [`Versions::All`] counts).
    pub superseded: i64,
    /// Runs the experiment's pruning rule stopped.
    pub pruned: i64,
}

impl StatusCounts {
    pub fn total(&self) -> i64 {
        self.queued + self.running + self.done + self.failed + self.superseded + self.pruned
    }
    /// Nothing left to do: every run done or failed.
    pub fn settled(&self) -> bool {
        self.queued == 0 && self.running == 0
    }
}

/// The status of a running run that goes back to the queue (its worker stopped or is gone):
/// `queued`, or `superseded` when a newer definition of its experiment left it out while it ran
/// (enqueue supersedes only the queued runs it leaves out).
const BACK_IN_QUEUE: &str = "CASE WHEN runs.last_version < \
     (SELECT e.version FROM experiments e WHERE e.name = runs.experiment) \
     THEN 'superseded' ELSE 'queued' END";

/// What [`BACK_IN_QUEUE`] gave.
fn back_in_queue(status: &str) -> RunStatus {
    if status == RunStatus::Superseded.as_str() {
        RunStatus::Superseded
    } else {
        RunStatus::Queued
    }
}

impl Store {
    /// Claims the oldest queued run (of `experiment`, if given) for `worker`, atomically: two
    /// workers never get the same run.
    pub fn claim(&self, worker: &WorkerInfo, experiment: Option<&str>) -> Result<Option<RunRow>> {
        let pick = match self.backend {
            Backend::Sqlite => {
                "SELECT key FROM runs WHERE status = 'queued' AND ($6 = '' OR experiment = $6) \
                 ORDER BY enqueued_at, ordinal LIMIT 1"
            }
            Backend::Postgres => {
                "SELECT key FROM runs WHERE status = 'queued' AND ($6 = '' OR experiment = $6) \
                 ORDER BY enqueued_at, ordinal LIMIT 1 FOR UPDATE SKIP LOCKED"
            }
        };
        let sql = format!(
            "UPDATE runs SET status = 'running', attempts = attempts + 1, worker = $1, \
             host = $2, device = $3, git_commit = $4, git_dirty = $5, heartbeat = $7, \
             started_at = $7, error = NULL, slurm_job = $8, slurm_task = $9 \
             WHERE key = ({pick}) AND status = 'queued' RETURNING {RUN_COLUMNS}"
        );
        let t = now();
        self.retrying("claiming a run", || {
            sqlx::query_as::<_, RunRow>(AssertSqlSafe(sql.clone()))
                .bind(worker.id.clone())
                .bind(worker.host.clone())
                .bind(worker.device.clone())
                .bind(worker.git_commit.clone())
                .bind(worker.git_dirty.map(i64::from))
                .bind(experiment.unwrap_or("").to_string())
                .bind(t)
                .bind(worker.slurm_job.clone())
                .bind(worker.slurm_task.clone())
                .fetch_optional(&self.pool)
        })
    }

    /// Records that `worker` is alive and still on `run`. Returns false when the run is no
    /// longer this worker's (it was requeued as stale and claimed by another).
    pub fn heartbeat(&self, run: &str, worker: &str) -> Result<bool> {
        let n = self
            .retrying("heartbeat", || {
                sqlx::query(
                    "UPDATE runs SET heartbeat = $1 WHERE key = $2 AND worker = $3 \
                     AND status = 'running'",
                )
                .bind(now())
                .bind(run.to_string())
                .bind(worker.to_string())
                .execute(&self.pool)
            })?
            .rows_affected();
        Ok(n == 1)
    }

    /// Puts running runs whose heartbeat is older than `stale_after` back in the queue; their
    /// next worker resumes from their checkpoints. A run that a newer definition of its
    /// experiment left out while it ran becomes `superseded` instead (history, never claimed).
    /// Returns their names and new status.
    pub fn requeue_stale(&self, stale_after: Duration) -> Result<Vec<(String, RunStatus)>> {
        let cutoff = now() - stale_after.as_secs_f64();
        let sql = format!(
            "UPDATE runs SET status = {BACK_IN_QUEUE}, worker = NULL, \
             error = 'requeued: worker ' || COALESCE(worker, '?') || ' stopped heartbeating' \
             WHERE status = 'running' AND heartbeat < $1 RETURNING name, status"
        );
        let rows = self.retrying("requeueing stale runs", || {
            sqlx::query_as::<_, (String, String)>(AssertSqlSafe(sql.clone()))
                .bind(cutoff)
                .fetch_all(&self.pool)
        })?;
        Ok(rows
            .into_iter()
            .map(|(name, status)| (name, back_in_queue(&status)))
            .collect())
    }

    /// Puts back in the queue the running runs of workers on `host` whose process is gone
    /// (`is_alive(pid)` false): a worker stopped with Ctrl-C or killed on this machine need not
    /// wait for its heartbeat to go stale. Returns the runs' names and new status (`superseded`
    /// where a newer definition of the experiment left the run out, as in
    /// [`Store::requeue_stale`]).
    pub fn requeue_dead_local(
        &self,
        host: &str,
        is_alive: impl Fn(u32) -> bool,
    ) -> Result<Vec<(String, RunStatus)>> {
        let rows: Vec<(String, String, Option<String>)> =
            self.retrying("looking for dead workers", || {
                sqlx::query_as(
                    "SELECT key, name, worker FROM runs WHERE status = 'running' AND host = $1",
                )
                .bind(host.to_string())
                .fetch_all(&self.pool)
            })?;
        let mut names = Vec::new();
        for (key, name, worker) in rows {
            let Some(worker) = worker else { continue };
            let pid = worker
                .rsplit_once(':')
                .and_then(|(h, p)| (h == host).then_some(p))
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_none_or(&is_alive) {
                continue;
            }
            let sql = format!(
                "UPDATE runs SET status = {BACK_IN_QUEUE}, worker = NULL, \
                 error = 'requeued: worker ' || $1 || ' is gone' \
                 WHERE key = $2 AND worker = $1 AND status = 'running' RETURNING status"
            );
            let status = self.retrying("requeueing a dead worker's run", || {
                sqlx::query_scalar::<_, String>(AssertSqlSafe(sql.clone()))
                    .bind(worker.clone())
                    .bind(key.clone())
                    .fetch_optional(&self.pool)
            })?;
            if let Some(status) = status {
                names.push((name, back_in_queue(&status)));
            }
        }
        Ok(names)
    }

    /// Marks a run done. Returns false when the run was not this worker's any more.
    pub fn finish(
        &self,
        run: &str,
        worker: &str,
        artifacts: &Path,
        train_seconds: f64,
        eval_seconds: f64,
    ) -> Result<bool> {
        let n = self
            .retrying("finishing a run", || {
                sqlx::query(
                    "UPDATE runs SET status = 'done', finished_at = $1, train_seconds = $2, \
                     eval_seconds = $3, artifacts = $4, error = NULL \
                     WHERE key = $5 AND worker = $6 AND status = 'running'",
                )
                .bind(now())
                .bind(train_seconds)
                .bind(eval_seconds)
                .bind(artifacts.display().to_string())
                .bind(run.to_string())
                .bind(worker.to_string())
                .execute(&self.pool)
            })?
            .rows_affected();
        Ok(n == 1)
    }

    /// Marks a run failed with its error text.
    pub fn fail(&self, run: &str, worker: &str, error: &str) -> Result<bool> {
        self.end_running(run, worker, RunStatus::Failed, error)
    }

    /// Ends a run that this worker holds with a final status (`failed`, `pruned`) and its
    /// reason. Returns false when the run was not this worker's any more.
    fn end_running(&self, run: &str, worker: &str, to: RunStatus, why: &str) -> Result<bool> {
        let n = self
            .retrying(&format!("marking a run {to}"), || {
                sqlx::query(
                    "UPDATE runs SET status = $1, finished_at = $2, error = $3 \
                     WHERE key = $4 AND worker = $5 AND status = 'running'",
                )
                .bind(to.as_str())
                .bind(now())
                .bind(why.to_string())
                .bind(run.to_string())
                .bind(worker.to_string())
                .execute(&self.pool)
            })?
            .rows_affected();
        Ok(n == 1)
    }

    /// Puts a run that this worker stopped (a signal, a lost store) back in the queue at once,
    /// saying why: `queued`, or `superseded` when a newer definition of its experiment left it
    /// out while it ran. Returns `None` when the run was not this worker's any more.
    pub fn release(&self, run: &str, worker: &str, why: &str) -> Result<Option<RunStatus>> {
        let status = self.retrying("putting a run back in the queue", || {
            sqlx::query_scalar::<_, String>(AssertSqlSafe(format!(
                "UPDATE runs SET status = {BACK_IN_QUEUE}, worker = NULL, error = $1 \
                 WHERE key = $2 AND worker = $3 AND status = 'running' RETURNING status"
            )))
            .bind(format!("requeued: {why}"))
            .bind(run.to_string())
            .bind(worker.to_string())
            .fetch_optional(&self.pool)
        })?;
        Ok(status.as_deref().map(back_in_queue))
    }

    /// Marks a run that this worker holds as stopped by the pruning rule. Returns false when
    /// the run was not this worker's any more.
    pub fn mark_pruned(&self, run: &str, worker: &str, why: &str) -> Result<bool> {
        self.end_running(run, worker, RunStatus::Pruned, why)
    }

    /// Puts an experiment's pruned runs (of its current definition) back in the queue, never
    /// to be pruned again: they resume from their checkpoints and train to the end. Returns
    /// their names.
    pub fn retry_pruned(&self, experiment: &str) -> Result<Vec<String>> {
        self.requeue_status(experiment, RunStatus::Pruned)
    }

    /// Puts an experiment's runs (of its current definition) that have status `from` (`failed`,
    /// `pruned`) back in the queue; a pruned one is not pruned again. Returns their names.
    fn requeue_status(&self, experiment: &str, from: RunStatus) -> Result<Vec<String>> {
        self.runtime
            .block_on(
                sqlx::query_scalar(
                    "UPDATE runs SET status = 'queued', worker = NULL, finished_at = NULL, \
                     prunable = CASE WHEN status = 'pruned' THEN 0 ELSE prunable END \
                     WHERE experiment = $1 AND status = $2 AND last_version = \
                     (SELECT e.version FROM experiments e WHERE e.name = $1) RETURNING name",
                )
                .bind(experiment.to_string())
                .bind(from.as_str())
                .fetch_all(&self.pool),
            )
            .map_err(db_error(format!(
                "retrying the {from} runs of `{experiment}`"
            )))
    }

    /// Puts an experiment's failed runs (of its current definition) back in the queue;
    /// returns their names.
    pub fn retry_failed(&self, experiment: &str) -> Result<Vec<String>> {
        self.requeue_status(experiment, RunStatus::Failed)
    }

    /// Puts one run that is not running (failed, done or queued) back in the queue. Returns
    /// false when it is running.
    pub fn requeue_run(&self, run: &str) -> Result<bool> {
        let n = self
            .runtime
            .block_on(
                sqlx::query(
                    "UPDATE runs SET status = 'queued', worker = NULL, finished_at = NULL \
                     WHERE key = $1 AND status <> 'running'",
                )
                .bind(run.to_string())
                .execute(&self.pool),
            )
            .map_err(db_error("requeueing a run"))?
            .rows_affected();
        Ok(n == 1)
    }

    /// The runs of an experiment (or of every experiment), in expansion order: those of its
    /// current definition, or every run it ever had.
    pub fn runs(&self, experiment: Option<&str>, versions: Versions) -> Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE ($1 = '' OR experiment = $1) AND ($2 = 1 OR \
             last_version = (SELECT e.version FROM experiments e WHERE e.name = runs.experiment)) \
             ORDER BY experiment, last_version, enqueued_at, ordinal"
        );
        self.runtime
            .block_on(
                sqlx::query_as(AssertSqlSafe(sql))
                    .bind(experiment.unwrap_or("").to_string())
                    .bind(i64::from(versions == Versions::All))
                    .fetch_all(&self.pool),
            )
            .map_err(db_error("reading runs"))
    }

    /// One run, by key (or a unique key prefix of at least 4 characters), or by
    /// `EXPERIMENT/NAME` (the run of that name in the current definition, or else in the latest
    /// one that has the name) or `EXPERIMENT/NAME@vN` (in version N).
    pub fn find_run(&self, what: &str) -> Result<RunRow> {
        let by_name = what.split_once('/').map(|(exp, rest)| {
            match rest
                .rsplit_once("@v")
                .and_then(|(n, v)| Some((n, v.parse::<i64>().ok()?)))
            {
                Some((name, v)) => (exp, name, Some(v)),
                None => (exp, rest, None),
            }
        });
        if let Some((exp, name, version)) = by_name {
            let keys: Vec<(String, i64)> = self
                .runtime
                .block_on(
                    sqlx::query_as(
                        "SELECT run_key, version FROM version_runs WHERE experiment = $1 \
                         AND name = $2 AND ($3 = 0 OR version = $3) ORDER BY version DESC",
                    )
                    .bind(exp.to_string())
                    .bind(name.to_string())
                    .bind(version.unwrap_or(0))
                    .fetch_all(&self.pool),
                )
                .map_err(db_error("finding a run"))?;
            if let Some((key, _)) = keys.first() {
                return self.find_run(key);
            }
        }
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE key LIKE $1 ORDER BY key");
        let prefix: String = what.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let matches: Vec<RunRow> = if what.len() >= 4 && prefix.len() == what.len() {
            self.runtime
                .block_on(
                    sqlx::query_as(AssertSqlSafe(sql))
                        .bind(format!("{prefix}%"))
                        .fetch_all(&self.pool),
                )
                .map_err(db_error("finding a run"))?
        } else {
            Vec::new()
        };
        match matches.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Error::invalid(
                "RUN",
                format!(
                    "no run `{what}`; give a run key (or 4+ leading characters), \
                     EXPERIMENT/NAME or EXPERIMENT/NAME@vN"
                ),
            )),
            many => Err(Error::invalid(
                "RUN",
                format!(
                    "`{what}` matches {} runs: {}",
                    many.len(),
                    many.iter()
                        .map(|r| format!("{}/{}@v{} ({})", r.experiment, r.name, r.version, r.key))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// Counts of an experiment's runs (or every run) by status, in the current definitions
    /// or in all of them. Retries while the store cannot be reached (workers poll it).
    pub fn counts(&self, experiment: Option<&str>, versions: Versions) -> Result<StatusCounts> {
        let experiment = experiment.unwrap_or("").to_string();
        let all = i64::from(versions == Versions::All);
        let rows: Vec<(String, i64)> = self.retrying("counting runs", || {
            sqlx::query_as(
                "SELECT status, COUNT(*) AS n FROM runs WHERE ($1 = '' OR experiment = $1) \
                 AND ($2 = 1 OR last_version = \
                 (SELECT e.version FROM experiments e WHERE e.name = runs.experiment)) \
                 GROUP BY status",
            )
            .bind(experiment.clone())
            .bind(all)
            .fetch_all(&self.pool)
        })?;
        let mut c = StatusCounts::default();
        for (status, n) in rows {
            // A status this ofhnet does not know counts as failed: nothing will run it.
            match RunStatus::try_from(status) {
                Ok(RunStatus::Queued) => c.queued = n,
                Ok(RunStatus::Running) => c.running = n,
                Ok(RunStatus::Done) => c.done = n,
                Ok(RunStatus::Superseded) => c.superseded = n,
                Ok(RunStatus::Pruned) => c.pruned = n,
                Ok(RunStatus::Failed) | Err(_) => c.failed += n,
            }
        }
        Ok(c)
    }
}
