//! The run store: experiments, runs, shared models (stage-1 InpaintNets, landmark networks),
//! stages, training curves and per-image metrics, in SQLite (the default,
//! `results/ofhnet.sqlite`) or PostgreSQL (`postgres://...`, for workers on many machines).
//!
//! One schema and one set of queries serve both databases through sqlx's `Any` driver, with
//! runtime queries and the migrations under `migrations/`. SQLite runs in WAL mode with a 60 s
//! busy timeout, so several workers on one file wait for each other instead of failing with
//! "database is locked". Claims are one `UPDATE ... RETURNING` statement: SQLite serialises
//! writers, and PostgreSQL picks the row with `FOR UPDATE SKIP LOCKED`.
//!
//! The API is blocking: the store owns a small tokio runtime, so that training code (which is
//! synchronous) can call it from any thread.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, AssertSqlSafe, Executor, Row, SqlSafeStr};

use super::experiment::Experiment;
use super::sweep::RunSpec;
use crate::evaluate::Scores;
use crate::{Error, Result};

/// The default store, relative to the working directory.
pub const DEFAULT_DB: &str = "results/ofhnet.sqlite";

/// The migrations, embedded in the binary (oldest first).
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "run store",
    include_str!("../../migrations/0001_run_store.sql"),
)];

/// Unix time in seconds.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Which database a store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Run states.
pub mod status {
    pub const QUEUED: &str = "queued";
    pub const RUNNING: &str = "running";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
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
    pub status: String,
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
}

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
     finished_at, train_seconds, eval_seconds, artifacts, error";

fn run_row(r: &AnyRow) -> std::result::Result<RunRow, sqlx::Error> {
    Ok(RunRow {
        key: r.try_get("key")?,
        experiment: r.try_get("experiment")?,
        name: r.try_get("name")?,
        ordinal: r.try_get("ordinal")?,
        seed: r.try_get("seed")?,
        swept: r.try_get("swept")?,
        config: r.try_get("config")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        worker: r.try_get("worker")?,
        host: r.try_get("host")?,
        device: r.try_get("device")?,
        git_commit: r.try_get("git_commit")?,
        git_dirty: r.try_get("git_dirty")?,
        heartbeat: r.try_get("heartbeat")?,
        enqueued_at: r.try_get("enqueued_at")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        train_seconds: r.try_get("train_seconds")?,
        eval_seconds: r.try_get("eval_seconds")?,
        artifacts: r.try_get("artifacts")?,
        error: r.try_get("error")?,
    })
}

/// What [`Store::enqueue`] did.
#[derive(Clone, Debug, Default)]
pub struct EnqueueReport {
    /// Runs inserted now.
    pub added: Vec<String>,
    /// Runs that were already in the store (any status), left as they are.
    pub existing: Vec<String>,
}

/// What a worker gets when a shared model is asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum SharedClaim {
    /// It is done: use the file at this path.
    Ready(PathBuf),
    /// This run owns it now: train it (resuming whatever is at the path) and call
    /// [`Store::shared_done`].
    Train(PathBuf),
    /// Another live run is training it: wait.
    Wait { owner: String },
}

/// Counts of runs by status.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatusCounts {
    pub queued: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
}

impl StatusCounts {
    pub fn total(&self) -> i64 {
        self.queued + self.running + self.done + self.failed
    }
    /// Nothing left to do: every run done or failed.
    pub fn settled(&self) -> bool {
        self.queued == 0 && self.running == 0
    }
}

/// A stage row.
#[derive(Clone, Debug, Default)]
pub struct StageRow {
    pub stage: String,
    pub status: String,
    pub shared_key: Option<String>,
    pub reused: bool,
    pub checkpoint: Option<String>,
    pub steps: Option<i64>,
    pub images_per_s: Option<f64>,
    pub seconds: Option<f64>,
}

/// Mean metrics of one (protocol, method) of a run.
#[derive(Clone, Debug)]
pub struct MetricMeans {
    pub protocol: String,
    pub method: String,
    pub images: i64,
    pub psnr: f64,
    pub ssim: f64,
    pub psnr_y: f64,
    pub ssim_y: f64,
    pub nrmse: Option<f64>,
    pub iou: Option<f64>,
}

/// One evaluation's rows in the store: a (run, protocol, method) and how many images it scored.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricGroup {
    pub run_key: String,
    pub protocol: String,
    pub method: String,
    pub rows: i64,
}

/// One per-image metric row of a [`MetricGroup`].
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRow {
    pub image: i64,
    pub image_name: String,
    pub psnr: f64,
    pub ssim: f64,
    pub psnr_y: f64,
    pub ssim_y: f64,
    pub nrmse: Option<f64>,
    pub iou: Option<f64>,
}

/// A connection pool to the run store.
pub struct Store {
    runtime: tokio::runtime::Runtime,
    pool: AnyPool,
    backend: Backend,
    url: String,
}

fn db_error(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
    let what = what.into();
    move |source| Error::Store {
        what,
        message: source.to_string(),
    }
}

/// Turns `--db` into a URL: a plain path means an SQLite file (created if missing).
pub fn database_url(db: &str) -> String {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") || db.starts_with("sqlite:")
    {
        db.to_string()
    } else {
        format!("sqlite://{db}?mode=rwc")
    }
}

impl Store {
    /// Opens (and creates or migrates) the store at `db`: a path to an SQLite file, an
    /// `sqlite:` URL or a `postgres://` URL.
    pub fn open(db: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let url = database_url(db);
        let backend = if url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        if backend == Backend::Sqlite {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if let Some(parent) = Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ofhnet-store")
            .enable_all()
            .build()
            .map_err(|e| Error::io("tokio runtime", e))?;
        let pool = runtime.block_on(async {
            AnyPoolOptions::new()
                .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
                .acquire_timeout(Duration::from_secs(120))
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            // The busy timeout first, so that switching to WAL waits too.
                            conn.execute("PRAGMA busy_timeout = 60000").await?;
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            // Reports read hundreds of thousands of metric rows: map the file
                            // and keep 64 MiB of pages instead of a read call per page.
                            conn.execute("PRAGMA mmap_size = 1073741824").await?;
                            conn.execute("PRAGMA cache_size = -65536").await?;
                        }
                        Ok(())
                    })
                })
                .connect(&url)
                .await
        });
        let pool = pool.map_err(db_error(format!("opening {url}")))?;
        let store = Store {
            runtime,
            pool,
            backend,
            url,
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrate(&self) -> Result<()> {
        let migrations = MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    AssertSqlSafe(sql).into_sql_str(),
                    false,
                )
            })
            .collect();
        let migrator = Migrator::with_migrations(migrations);
        // PostgreSQL serialises migrators with an advisory lock; SQLite has none, so processes
        // opening a fresh file at once can race to create the tables. The loser's transaction
        // rolls back, and on a retry it finds the migration applied.
        let mut attempt = 0;
        loop {
            match self.runtime.block_on(migrator.run(&self.pool)) {
                Ok(()) => return Ok(()),
                Err(_) if self.backend == Backend::Sqlite && attempt < 10 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(50 * attempt));
                }
                Err(e) => {
                    return Err(Error::Store {
                        what: format!("migrating {}", self.url),
                        message: e.to_string(),
                    });
                }
            }
        }
    }

    /// Adds an experiment's runs. Runs already in the store (by key) are left as they are, so
    /// enqueueing twice adds nothing.
    pub fn enqueue(
        &self,
        experiment: &Experiment,
        source: &str,
        runs: &[RunSpec],
    ) -> Result<EnqueueReport> {
        let spec = serde_json::to_string(experiment)
            .map_err(|e| Error::invalid("experiment", e.to_string()))?;
        let t = now();
        let mut report = EnqueueReport::default();
        self.runtime
            .block_on(async {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO experiments (name, file, spec, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (name) DO UPDATE SET file = excluded.file, spec = excluded.spec, \
                 updated_at = excluded.updated_at",
                )
                .bind(experiment.name.clone())
                .bind(source.to_string())
                .bind(spec)
                .bind(t)
                .execute(&mut *tx)
                .await?;
                for (i, run) in runs.iter().enumerate() {
                    let config = serde_json::to_string(&run.config).unwrap_or_default();
                    let swept: serde_json::Map<String, serde_json::Value> =
                        run.swept.iter().cloned().collect();
                    let inserted = sqlx::query(
                        "INSERT INTO runs (key, experiment, name, ordinal, seed, swept, config, \
                     status, attempts, enqueued_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8) \
                     ON CONFLICT DO NOTHING",
                    )
                    .bind(run.key.clone())
                    .bind(experiment.name.clone())
                    .bind(run.name.clone())
                    .bind(i as i64)
                    .bind(run.seed as i64)
                    .bind(serde_json::Value::Object(swept).to_string())
                    .bind(config)
                    .bind(t)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 1 {
                        report.added.push(run.name.clone());
                    } else {
                        report.existing.push(run.name.clone());
                    }
                }
                tx.commit().await
            })
            .map_err(db_error(format!("enqueueing `{}`", experiment.name)))?;
        Ok(report)
    }

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
             started_at = $7, error = NULL \
             WHERE key = ({pick}) AND status = 'queued' RETURNING {RUN_COLUMNS}"
        );
        let t = now();
        let row = self
            .runtime
            .block_on(
                sqlx::query(AssertSqlSafe(sql))
                    .bind(worker.id.clone())
                    .bind(worker.host.clone())
                    .bind(worker.device.clone())
                    .bind(worker.git_commit.clone())
                    .bind(worker.git_dirty.map(i64::from))
                    .bind(experiment.unwrap_or("").to_string())
                    .bind(t)
                    .fetch_optional(&self.pool),
            )
            .map_err(db_error("claiming a run"))?;
        row.as_ref()
            .map(run_row)
            .transpose()
            .map_err(db_error("reading a claimed run"))
    }

    /// Records that `worker` is alive and still on `run`. Returns false when the run is no
    /// longer this worker's (it was requeued as stale and claimed by another).
    pub fn heartbeat(&self, run: &str, worker: &str) -> Result<bool> {
        let n = self
            .runtime
            .block_on(
                sqlx::query(
                    "UPDATE runs SET heartbeat = $1 WHERE key = $2 AND worker = $3 \
                     AND status = 'running'",
                )
                .bind(now())
                .bind(run.to_string())
                .bind(worker.to_string())
                .execute(&self.pool),
            )
            .map_err(db_error("heartbeat"))?
            .rows_affected();
        Ok(n == 1)
    }

    /// Puts running runs whose heartbeat is older than `stale_after` back in the queue; their
    /// next worker resumes from their checkpoints. Returns their names.
    pub fn requeue_stale(&self, stale_after: Duration) -> Result<Vec<String>> {
        let cutoff = now() - stale_after.as_secs_f64();
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "UPDATE runs SET status = 'queued', worker = NULL, \
                     error = 'requeued: worker ' || COALESCE(worker, '?') || ' stopped heartbeating' \
                     WHERE status = 'running' AND heartbeat < $1 RETURNING name",
                )
                .bind(cutoff)
                .fetch_all(&self.pool),
            )
            .map_err(db_error("requeueing stale runs"))?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("name"))
            .collect::<std::result::Result<_, _>>()
            .map_err(db_error("requeueing stale runs"))
    }

    /// Puts back in the queue the running runs of workers on `host` whose process is gone
    /// (`is_alive(pid)` false): a worker stopped with Ctrl-C or killed on this machine need not
    /// wait for its heartbeat to go stale. Returns the runs' names.
    pub fn requeue_dead_local(
        &self,
        host: &str,
        is_alive: impl Fn(u32) -> bool,
    ) -> Result<Vec<String>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "SELECT key, name, worker FROM runs WHERE status = 'running' AND host = $1",
                )
                .bind(host.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("looking for dead workers"))?;
        let mut names = Vec::new();
        for r in &rows {
            let (key, name, worker): (String, String, Option<String>) = (
                r.try_get("key")
                    .map_err(db_error("looking for dead workers"))?,
                r.try_get("name")
                    .map_err(db_error("looking for dead workers"))?,
                r.try_get("worker")
                    .map_err(db_error("looking for dead workers"))?,
            );
            let Some(worker) = worker else { continue };
            let pid = worker
                .rsplit_once(':')
                .and_then(|(h, p)| (h == host).then_some(p))
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_none_or(&is_alive) {
                continue;
            }
            let n = self
                .runtime
                .block_on(
                    sqlx::query(
                        "UPDATE runs SET status = 'queued', worker = NULL, \
                         error = 'requeued: worker ' || $1 || ' is gone' \
                         WHERE key = $2 AND worker = $1 AND status = 'running'",
                    )
                    .bind(worker.clone())
                    .bind(key)
                    .execute(&self.pool),
                )
                .map_err(db_error("requeueing a dead worker's run"))?
                .rows_affected();
            if n == 1 {
                names.push(name);
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
            .runtime
            .block_on(
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
                .execute(&self.pool),
            )
            .map_err(db_error("finishing a run"))?
            .rows_affected();
        Ok(n == 1)
    }

    /// Marks a run failed with its error text.
    pub fn fail(&self, run: &str, worker: &str, error: &str) -> Result<bool> {
        let n = self
            .runtime
            .block_on(
                sqlx::query(
                    "UPDATE runs SET status = 'failed', finished_at = $1, error = $2 \
                     WHERE key = $3 AND worker = $4 AND status = 'running'",
                )
                .bind(now())
                .bind(error.to_string())
                .bind(run.to_string())
                .bind(worker.to_string())
                .execute(&self.pool),
            )
            .map_err(db_error("marking a run failed"))?
            .rows_affected();
        Ok(n == 1)
    }

    /// Puts an experiment's failed runs back in the queue; returns their names.
    pub fn retry_failed(&self, experiment: &str) -> Result<Vec<String>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "UPDATE runs SET status = 'queued', worker = NULL, finished_at = NULL \
                     WHERE experiment = $1 AND status = 'failed' RETURNING name",
                )
                .bind(experiment.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error(format!("retrying `{experiment}`")))?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("name"))
            .collect::<std::result::Result<_, _>>()
            .map_err(db_error("retrying"))
    }

    /// Asks for a shared model (`key`, to live at `path`) on behalf of `run`: ready, ours to
    /// train, or being trained by another live run. The owner of an unfinished model whose run
    /// is no longer running (failed, requeued) loses it to the asker, who resumes its
    /// checkpoints.
    pub fn claim_shared(
        &self,
        key: &str,
        kind: &str,
        path: &Path,
        run: &str,
    ) -> Result<SharedClaim> {
        let t = now();
        let path_text = path.display().to_string();
        self.runtime
            .block_on(async {
                sqlx::query(
                    "INSERT INTO shared (key, kind, path, status, owner, created_at) \
                     VALUES ($1, $2, $3, 'training', $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(key.to_string())
                .bind(kind.to_string())
                .bind(path_text.clone())
                .bind(run.to_string())
                .bind(t)
                .execute(&self.pool)
                .await?;
                let row = sqlx::query(
                    "SELECT s.path, s.status, s.owner, r.status AS owner_status \
                     FROM shared s LEFT JOIN runs r ON r.key = s.owner WHERE s.key = $1",
                )
                .bind(key.to_string())
                .fetch_one(&self.pool)
                .await?;
                let stored: String = row.try_get("path")?;
                let status: String = row.try_get("status")?;
                let owner: String = row.try_get("owner")?;
                let owner_status: Option<String> = row.try_get("owner_status")?;
                if status == "done" {
                    return Ok(SharedClaim::Ready(PathBuf::from(stored)));
                }
                if owner == run {
                    return Ok(SharedClaim::Train(PathBuf::from(stored)));
                }
                if owner_status.as_deref() != Some(status::RUNNING) {
                    let taken = sqlx::query(
                        "UPDATE shared SET owner = $1 WHERE key = $2 AND owner = $3 \
                         AND status = 'training'",
                    )
                    .bind(run.to_string())
                    .bind(key.to_string())
                    .bind(owner.clone())
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    if taken == 1 {
                        return Ok(SharedClaim::Train(PathBuf::from(stored)));
                    }
                }
                Ok(SharedClaim::Wait { owner })
            })
            .map_err(db_error(format!("claiming shared model {key}")))
    }

    /// A shared model's directory and status (`training` or `done`), when the store has it.
    pub fn shared_entry(&self, key: &str) -> Result<Option<(PathBuf, String)>> {
        let row = self
            .runtime
            .block_on(
                sqlx::query("SELECT path, status FROM shared WHERE key = $1")
                    .bind(key.to_string())
                    .fetch_optional(&self.pool),
            )
            .map_err(db_error(format!("reading shared model {key}")))?;
        match row {
            None => Ok(None),
            Some(r) => {
                let path: String = r
                    .try_get("path")
                    .map_err(db_error(format!("reading shared model {key}")))?;
                let status: String = r
                    .try_get("status")
                    .map_err(db_error(format!("reading shared model {key}")))?;
                Ok(Some((PathBuf::from(path), status)))
            }
        }
    }

    /// Marks a shared model trained.
    pub fn shared_done(&self, key: &str) -> Result<()> {
        self.runtime
            .block_on(
                sqlx::query("UPDATE shared SET status = 'done', finished_at = $1 WHERE key = $2")
                    .bind(now())
                    .bind(key.to_string())
                    .execute(&self.pool),
            )
            .map_err(db_error("finishing a shared model"))?;
        Ok(())
    }

    /// Shared models trained for an experiment's runs, by kind: `(kind, trained, reused_by)`.
    pub fn shared_counts(&self, experiment: &str) -> Result<Vec<(String, i64)>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "SELECT s.kind AS kind, COUNT(*) AS n FROM shared s JOIN runs r \
                     ON r.key = s.owner WHERE r.experiment = $1 AND s.status = 'done' \
                     GROUP BY s.kind ORDER BY s.kind",
                )
                .bind(experiment.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("counting shared models"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("n")?)))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db_error("counting shared models"))
    }

    /// Records a stage of a run.
    pub fn record_stage(&self, run: &str, stage: &StageRow) -> Result<()> {
        self.runtime
            .block_on(
                sqlx::query(
                    "INSERT INTO stages (run_key, stage, status, shared_key, reused, checkpoint, \
                     steps, images_per_s, seconds, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (run_key, stage) DO UPDATE SET status = excluded.status, \
                     shared_key = excluded.shared_key, reused = excluded.reused, \
                     checkpoint = excluded.checkpoint, steps = excluded.steps, \
                     images_per_s = excluded.images_per_s, seconds = excluded.seconds, \
                     updated_at = excluded.updated_at",
                )
                // Not a cached statement: sqlx's Any driver sends a NULL f64 as a float4
                // parameter, and a cached statement would then refuse a later f64.
                .persistent(false)
                .bind(run.to_string())
                .bind(stage.stage.clone())
                .bind(stage.status.clone())
                .bind(stage.shared_key.clone())
                .bind(i64::from(stage.reused))
                .bind(stage.checkpoint.clone())
                .bind(stage.steps)
                .bind(stage.images_per_s)
                .bind(stage.seconds)
                .bind(now())
                .execute(&self.pool),
            )
            .map_err(db_error("recording a stage"))?;
        Ok(())
    }

    /// The stages of a run.
    pub fn stages(&self, run: &str) -> Result<Vec<StageRow>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "SELECT stage, status, shared_key, reused, checkpoint, steps, images_per_s, \
                     seconds FROM stages WHERE run_key = $1 ORDER BY stage",
                )
                .bind(run.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("reading stages"))?;
        rows.iter()
            .map(stage_row)
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db_error("reading stages"))
    }

    /// The stages of every run of an experiment, by run key, in one query.
    pub fn experiment_stages(&self, experiment: &str) -> Result<HashMap<String, Vec<StageRow>>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "SELECT s.run_key AS run_key, s.stage AS stage, s.status AS status, \
                     s.shared_key AS shared_key, s.reused AS reused, s.checkpoint AS checkpoint, \
                     s.steps AS steps, s.images_per_s AS images_per_s, s.seconds AS seconds \
                     FROM stages s JOIN runs r ON r.key = s.run_key WHERE r.experiment = $1 \
                     ORDER BY s.run_key, s.stage",
                )
                .bind(experiment.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("reading stages"))?;
        let mut out: HashMap<String, Vec<StageRow>> = HashMap::new();
        for r in &rows {
            let key: String = r.try_get("run_key").map_err(db_error("reading stages"))?;
            out.entry(key)
                .or_default()
                .push(stage_row(r).map_err(db_error("reading stages"))?);
        }
        Ok(out)
    }

    /// Writes training-curve points `(step, term, value)` of a run's stage; points already
    /// stored are overwritten, so writing a log again after a resume duplicates nothing.
    pub fn write_curves(
        &self,
        run: &str,
        stage: &str,
        points: &[(i64, String, f64)],
    ) -> Result<()> {
        const COLS: usize = 5;
        self.runtime
            .block_on(async {
                let mut tx = self.pool.begin().await?;
                for chunk in points.chunks(500) {
                    let sql = format!(
                        "INSERT INTO curves (run_key, stage, step, term, value) VALUES {} \
                         ON CONFLICT (run_key, stage, step, term) DO UPDATE SET value = excluded.value",
                        placeholders(self.backend(), chunk.len(), COLS)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
                    for (step, term, value) in chunk {
                        q = q
                            .bind(run.to_string())
                            .bind(stage.to_string())
                            .bind(*step)
                            .bind(term.clone())
                            .bind(*value);
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await
            })
            .map_err(db_error("writing training curves"))
    }

    /// The protocols of a run that already have their metric rows.
    pub fn evaluated(&self, run: &str) -> Result<Vec<String>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query("SELECT protocol FROM evaluations WHERE run_key = $1")
                    .bind(run.to_string())
                    .fetch_all(&self.pool),
            )
            .map_err(db_error("reading evaluations"))?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("protocol"))
            .collect::<std::result::Result<_, _>>()
            .map_err(db_error("reading evaluations"))
    }

    /// Writes the per-image metrics of one (run, protocol) in one transaction: rows a previous
    /// attempt left are replaced, so a resumed run never duplicates or loses a row.
    /// `image` indexes `rows` by the face's position in the split.
    pub fn write_metrics(
        &self,
        run: &str,
        protocol: &str,
        rows: &[(i64, Scores)],
        seconds: f64,
    ) -> Result<()> {
        const COLS: usize = 11;
        let images = {
            let mut names: Vec<i64> = rows.iter().map(|(i, _)| *i).collect();
            names.sort_unstable();
            names.dedup();
            names.len() as i64
        };
        self.runtime
            .block_on(async {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM metrics WHERE run_key = $1 AND protocol = $2")
                    .bind(run.to_string())
                    .bind(protocol.to_string())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM evaluations WHERE run_key = $1 AND protocol = $2")
                    .bind(run.to_string())
                    .bind(protocol.to_string())
                    .execute(&mut *tx)
                    .await?;
                for chunk in rows.chunks(400) {
                    let sql = format!(
                        "INSERT INTO metrics (run_key, protocol, method, image, image_name, psnr, \
                         ssim, psnr_y, ssim_y, nrmse, iou) VALUES {}",
                        placeholders(self.backend(), chunk.len(), COLS)
                    );
                    // Not cached: chunk sizes vary, and NULL metrics (see record_stage) must
                    // not fix a parameter's type for later rows.
                    let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
                    for (image, s) in chunk {
                        q = q
                            .bind(run.to_string())
                            .bind(protocol.to_string())
                            .bind(s.method.clone())
                            .bind(*image)
                            .bind(s.name.clone())
                            .bind(s.psnr)
                            .bind(s.ssim)
                            .bind(s.psnr_y)
                            .bind(s.ssim_y)
                            .bind(s.nrmse)
                            .bind(s.iou);
                    }
                    q.execute(&mut *tx).await?;
                }
                sqlx::query(
                    "INSERT INTO evaluations (run_key, protocol, images, seconds, finished_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(run.to_string())
                .bind(protocol.to_string())
                .bind(images)
                .bind(seconds)
                .bind(now())
                .execute(&mut *tx)
                .await?;
                tx.commit().await
            })
            .map_err(db_error(format!("writing metrics of {protocol}")))
    }

    /// Number of metric rows of a run.
    pub fn metric_count(&self, run: &str) -> Result<i64> {
        self.runtime
            .block_on(
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM metrics WHERE run_key = $1")
                    .bind(run.to_string())
                    .fetch_one(&self.pool),
            )
            .map_err(db_error("counting metrics"))
    }

    /// Mean metrics of a run per (protocol, method).
    pub fn metric_means(&self, run: &str) -> Result<Vec<MetricMeans>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "SELECT protocol, method, COUNT(*) AS n, AVG(psnr) AS psnr, AVG(ssim) AS ssim, \
                     AVG(psnr_y) AS psnr_y, AVG(ssim_y) AS ssim_y, AVG(nrmse) AS nrmse, \
                     AVG(iou) AS iou FROM metrics WHERE run_key = $1 \
                     GROUP BY protocol, method ORDER BY protocol, method",
                )
                .bind(run.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("reading metrics"))?;
        rows.iter()
            .map(|r| {
                Ok(MetricMeans {
                    protocol: r.try_get("protocol")?,
                    method: r.try_get("method")?,
                    images: r.try_get("n")?,
                    psnr: r.try_get("psnr")?,
                    ssim: r.try_get("ssim")?,
                    psnr_y: r.try_get("psnr_y")?,
                    ssim_y: r.try_get("ssim_y")?,
                    nrmse: r.try_get("nrmse")?,
                    iou: r.try_get("iou")?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db_error("reading metrics"))
    }

    /// The runs of an experiment (or of every experiment), in expansion order.
    pub fn runs(&self, experiment: Option<&str>) -> Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE ($1 = '' OR experiment = $1) \
             ORDER BY experiment, enqueued_at, ordinal"
        );
        let rows = self
            .runtime
            .block_on(
                sqlx::query(AssertSqlSafe(sql))
                    .bind(experiment.unwrap_or("").to_string())
                    .fetch_all(&self.pool),
            )
            .map_err(db_error("reading runs"))?;
        rows.iter()
            .map(run_row)
            .collect::<std::result::Result<_, _>>()
            .map_err(db_error("reading runs"))
    }

    /// One run, by key (or a unique key prefix of at least 4 characters), or by
    /// `EXPERIMENT/NAME`.
    pub fn find_run(&self, what: &str) -> Result<RunRow> {
        let all = self.runs(None)?;
        let matches: Vec<&RunRow> = all
            .iter()
            .filter(|r| {
                (what.len() >= 4 && r.key.starts_with(what))
                    || format!("{}/{}", r.experiment, r.name) == what
            })
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::invalid(
                "RUN",
                format!(
                    "no run `{what}`; give a run key (or 4+ leading characters) or EXPERIMENT/NAME"
                ),
            )),
            many => Err(Error::invalid(
                "RUN",
                format!(
                    "`{what}` matches {} runs: {}",
                    many.len(),
                    many.iter()
                        .map(|r| format!("{}/{} ({})", r.experiment, r.name, r.key))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// The experiments in the store: `(name, file)`.
    pub fn experiments(&self) -> Result<Vec<(String, String)>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query("SELECT name, file FROM experiments ORDER BY created_at, name")
                    .fetch_all(&self.pool),
            )
            .map_err(db_error("reading experiments"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("file")?)))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db_error("reading experiments"))
    }

    /// Counts of an experiment's runs (or every run) by status.
    pub fn counts(&self, experiment: Option<&str>) -> Result<StatusCounts> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "SELECT status, COUNT(*) AS n FROM runs WHERE ($1 = '' OR experiment = $1) \
                     GROUP BY status",
                )
                .bind(experiment.unwrap_or("").to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("counting runs"))?;
        let mut c = StatusCounts::default();
        for r in &rows {
            let s: String = r.try_get("status").map_err(db_error("counting runs"))?;
            let n: i64 = r.try_get("n").map_err(db_error("counting runs"))?;
            match s.as_str() {
                status::QUEUED => c.queued = n,
                status::RUNNING => c.running = n,
                status::DONE => c.done = n,
                _ => c.failed += n,
            }
        }
        Ok(c)
    }

    /// The file an experiment was last enqueued from and its parsed spec (JSON), if stored.
    pub fn experiment_record(&self, name: &str) -> Result<Option<(String, String)>> {
        let row = self
            .runtime
            .block_on(
                sqlx::query("SELECT file, spec FROM experiments WHERE name = $1")
                    .bind(name.to_string())
                    .fetch_optional(&self.pool),
            )
            .map_err(db_error("reading experiments"))?;
        row.map(|r| Ok((r.try_get("file")?, r.try_get("spec")?)))
            .transpose()
            .map_err(db_error("reading experiments"))
    }

    /// The evaluations an experiment's runs stored, in run order: which (run, protocol,
    /// method) has rows, and how many. Cheap (the primary-key index), so that a report can
    /// choose the evaluations it shows before it reads any row.
    pub fn metric_groups(&self, experiment: &str) -> Result<Vec<MetricGroup>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "SELECT m.run_key, m.protocol, m.method, COUNT(*) AS n, MIN(r.ordinal) AS o \
                     FROM metrics m JOIN runs r ON r.key = m.run_key WHERE r.experiment = $1 \
                     GROUP BY m.run_key, m.protocol, m.method \
                     ORDER BY o, m.run_key, m.protocol, m.method",
                )
                .bind(experiment.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("reading the evaluations"))?;
        rows.iter()
            .map(|r| {
                Ok(MetricGroup {
                    run_key: r.try_get(0)?,
                    protocol: r.try_get(1)?,
                    method: r.try_get(2)?,
                    rows: r.try_get(3)?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db_error("reading the evaluations"))
    }

    /// The per-image rows of each `(run, protocol, method)` in `groups`, ordered by image; an
    /// evaluation without rows gives an empty list. Large reads are split over up to as many
    /// connections as there are cores (each SQLite connection runs on its own thread, and rows
    /// are decoded on the calling threads).
    pub fn metric_rows(&self, groups: &[(&str, &str, &str)]) -> Result<Vec<Vec<MetricRow>>> {
        let threads = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .clamp(1, 4);
        if groups.len() < 64 || threads == 1 {
            return self.metric_rows_serial(groups);
        }
        let chunk = groups.len().div_ceil(threads);
        let read: Vec<Result<Vec<Vec<MetricRow>>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = groups
                .chunks(chunk)
                .map(|part| scope.spawn(move || self.metric_rows_serial(part)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Store {
                            what: "reading metrics".into(),
                            message: "a reader thread panicked".into(),
                        })
                    })
                })
                .collect()
        });
        let mut out = Vec::with_capacity(groups.len());
        for part in read {
            out.extend(part?);
        }
        Ok(out)
    }

    fn metric_rows_serial(&self, groups: &[(&str, &str, &str)]) -> Result<Vec<Vec<MetricRow>>> {
        self.runtime
            .block_on(async {
                let mut conn = self.pool.acquire().await?;
                let mut out = Vec::with_capacity(groups.len());
                for (run, protocol, method) in groups {
                    let rows = sqlx::query(
                        "SELECT image, image_name, psnr, ssim, psnr_y, ssim_y, nrmse, iou \
                         FROM metrics WHERE run_key = $1 AND protocol = $2 AND method = $3 \
                         ORDER BY image",
                    )
                    .bind(run.to_string())
                    .bind(protocol.to_string())
                    .bind(method.to_string())
                    .fetch_all(&mut *conn)
                    .await?;
                    out.push(
                        rows.iter()
                            .map(|r| {
                                Ok(MetricRow {
                                    image: r.try_get(0)?,
                                    image_name: r.try_get(1)?,
                                    psnr: r.try_get(2)?,
                                    ssim: r.try_get(3)?,
                                    psnr_y: r.try_get(4)?,
                                    ssim_y: r.try_get(5)?,
                                    nrmse: r.try_get(6)?,
                                    iou: r.try_get(7)?,
                                })
                            })
                            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?,
                    );
                }
                Ok(out)
            })
            .map_err(db_error("reading metrics"))
    }

    /// The training-curve points of a run: `(stage, step, term, value)`, ordered.
    pub fn curves(&self, run: &str) -> Result<Vec<(String, i64, String, f64)>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "SELECT stage, step, term, value FROM curves WHERE run_key = $1 \
                     ORDER BY stage, term, step",
                )
                .bind(run.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("reading training curves"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("stage")?,
                    r.try_get("step")?,
                    r.try_get("term")?,
                    r.try_get("value")?,
                ))
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db_error("reading training curves"))
    }

    /// Runs one SQL statement and returns the first column of every row as text (tests and
    /// diagnostics).
    pub fn query_strings(&self, sql: &str) -> Result<Vec<String>> {
        let rows = self
            .runtime
            .block_on(sqlx::query(AssertSqlSafe(sql.to_string())).fetch_all(&self.pool))
            .map_err(db_error(sql.to_string()))?;
        rows.iter()
            .map(|r| {
                r.try_get::<String, _>(0)
                    .or_else(|_| r.try_get::<i64, _>(0).map(|v| v.to_string()))
                    .or_else(|_| r.try_get::<f64, _>(0).map(|v| v.to_string()))
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(db_error(sql.to_string()))
    }
}

/// `($1, $2, ...), (...)` for `rows` rows of `cols` columns (works on SQLite and PostgreSQL).
fn placeholders(backend: Backend, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            match backend {
                // Anonymous parameters: SQLite looks up each numbered (`$N`) parameter by
                // name, linearly, which made a 4,400-parameter insert cost O(N^2) string
                // comparisons (85% of the time of writing metric rows).
                Backend::Sqlite => s.push('?'),
                Backend::Postgres => {
                    s.push('$');
                    s.push_str(&(r * cols + c + 1).to_string());
                }
            }
        }
        s.push(')');
    }
    s
}

/// Creates a database on the PostgreSQL server at `server_url` and returns the URL of the new
/// database (for tests and for setting up a shared store).
pub fn create_postgres_database(server_url: &str, name: &str) -> Result<String> {
    use sqlx::Connection;
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::invalid(
            "database name",
            format!("`{name}`: use letters, digits and `_`"),
        ));
    }
    sqlx::any::install_default_drivers();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    runtime
        .block_on(async {
            let mut conn = sqlx::AnyConnection::connect(server_url).await?;
            conn.execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await?;
            conn.close().await
        })
        .map_err(db_error(format!(
            "creating database {name} on {server_url}"
        )))?;
    let base = match server_url.rfind('/') {
        Some(i) if i > "postgres://".len() => &server_url[..i],
        _ => server_url,
    };
    Ok(format!("{base}/{name}"))
}

/// A `stages` row.
fn stage_row(r: &sqlx::any::AnyRow) -> std::result::Result<StageRow, sqlx::Error> {
    Ok(StageRow {
        stage: r.try_get("stage")?,
        status: r.try_get("status")?,
        shared_key: r.try_get("shared_key")?,
        reused: r.try_get::<i64, _>("reused")? != 0,
        checkpoint: r.try_get("checkpoint")?,
        steps: r.try_get("steps")?,
        images_per_s: r.try_get("images_per_s")?,
        seconds: r.try_get("seconds")?,
    })
}
