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
use crate::metrics::{Metric, Scores, Values};
use crate::{Error, Result};

/// The default store, relative to the working directory.
pub const DEFAULT_DB: &str = "results/ofhnet.sqlite";

/// One schema migration, with its SQL for each database (SQLite cannot drop a constraint, so a
/// migration may have to say the same thing two ways).
struct SchemaMigration {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

// `MIGRATIONS` (every file of migrations/, oldest first) and `SCHEMA_VERSION`, from build.rs.
include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

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
    /// A queued run that a newer definition of its experiment left out: never claimed, kept
    /// as history, queued again if a later definition brings its configuration back.
    pub const SUPERSEDED: &str = "superseded";
    /// Stopped early by the experiment's pruning rule; `retry EXP --pruned` runs it to the end.
    pub const PRUNED: &str = "pruned";
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
    /// The version of the experiment's definition that added the run.
    pub version: i64,
    /// The latest version whose definition includes the run.
    pub last_version: i64,
    /// Whether the experiment's pruning rule may stop the run (`retry --pruned` clears it).
    pub prunable: bool,
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
     finished_at, train_seconds, eval_seconds, artifacts, error, version, last_version, prunable";

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
        version: r.try_get("version")?,
        last_version: r.try_get("last_version")?,
        prunable: r.try_get::<i64, _>("prunable")? != 0,
    })
}

/// One field whose value differs between two configurations.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldChange {
    /// Dotted path, e.g. `stages.stage2.steps`.
    pub path: String,
    /// The value before (`-` when the field was absent).
    pub old: String,
    /// The value after.
    pub new: String,
}

/// A run that [`Store::enqueue`] added.
#[derive(Clone, Debug)]
pub struct AddedRun {
    pub name: String,
    pub key: String,
    /// The run of the previous definition with the same name, if any: its key and the fields
    /// that changed against it.
    pub replaces: Option<(String, Vec<FieldChange>)>,
}

/// What [`Store::enqueue`] did.
#[derive(Clone, Debug, Default)]
pub struct EnqueueReport {
    /// Runs whose configuration is new to the store.
    pub added: Vec<AddedRun>,
    /// Runs whose configuration was already in the store (any status), left as they are.
    pub existing: Vec<String>,
    /// Runs of the previous definition that this one leaves out (kept as history).
    pub retired: Vec<String>,
    /// The experiment's version after the call, and whether the call made it.
    pub version: i64,
    pub new_version: bool,
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
    /// The step whose weights the stage ended with.
    pub kept_step: Option<i64>,
    /// Why those: `best` (by a validation metric, named) or `last`.
    pub kept: Option<String>,
}

/// Mean metrics of one (protocol, method) of a run.
#[derive(Clone, Debug)]
pub struct MetricMeans {
    pub protocol: String,
    pub method: String,
    pub images: i64,
    pub values: Values,
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
    pub values: Values,
}

impl MetricRow {
    pub fn get(&self, metric: Metric) -> Option<f64> {
        self.values.get(metric)
    }
}

/// The metric columns of the `metrics` table, in [`Metric::ALL`]'s order.
fn metric_columns(prefix: &str) -> String {
    Metric::ALL
        .iter()
        .map(|m| format!("{prefix}{}", m.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads every metric column of a row (by name, or as `AVG(name) AS name`).
fn read_values(row: &AnyRow) -> std::result::Result<Values, sqlx::Error> {
    let mut v = Values::default();
    for m in Metric::ALL {
        v.set(m, row.try_get::<Option<f64>, _>(m.name())?);
    }
    Ok(v)
}

/// A connection pool to the run store. Clones share the pool and the runtime (a pruning hook
/// inside training holds one).
#[derive(Clone)]
pub struct Store {
    runtime: std::sync::Arc<tokio::runtime::Runtime>,
    pool: AnyPool,
    backend: Backend,
    url: String,
    /// The store as messages name it (no password).
    shown: String,
    /// How long worker operations retry while the database cannot be reached.
    retry_for: Duration,
}

/// The error of a store that could not be opened, naming the file or host and the cause.
fn open_error(backend: Backend, shown: &str, url: &str, cause: &str) -> Error {
    match backend {
        Backend::Sqlite
            if cause.contains("file is not a database") || cause.contains("code: 26") =>
        {
            Error::Store {
                what: format!("opening {shown}"),
                message: "not an SQLite database (SQLite: file is not a database); give the \
                          path of a run store or of a new file"
                    .into(),
            }
        }
        Backend::Sqlite => Error::Store {
            what: format!("opening {shown}"),
            message: cause.to_string(),
        },
        Backend::Postgres => Error::Store {
            what: format!("opening {shown}"),
            message: format!("cannot reach PostgreSQL at {}: {cause}", postgres_host(url)),
        },
    }
}

fn db_error(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
    let what = what.into();
    move |source| Error::Store {
        what,
        message: source.to_string(),
    }
}

/// Where a `--db` points, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreUrl {
    /// The URL handed to sqlx (an SQLite URL always carries a `mode`; `rwc` unless given).
    pub url: String,
    pub backend: Backend,
    /// The SQLite file, or `None` for PostgreSQL and in-memory SQLite.
    pub sqlite_file: Option<PathBuf>,
}

/// Turns `--db` into a URL. A plain path means an SQLite file, created if missing, and so does
/// every `sqlite:` URL form that sqlx documents (`sqlite:data.db`, `sqlite://data.db`,
/// `sqlite:///abs/data.db`, `sqlite::memory:`, with or without `?mode=...`): a URL without a
/// `mode` is opened with `mode=rwc`, as a plain path is.
pub fn parse_db(db: &str) -> StoreUrl {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return StoreUrl {
            url: db.to_string(),
            backend: Backend::Postgres,
            sqlite_file: None,
        };
    }
    let (database, params) = if db.starts_with("sqlite:") {
        let rest = db
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        match rest.split_once('?') {
            Some((d, p)) => (d.to_string(), Some(p.to_string())),
            None => (rest.to_string(), None),
        }
    } else {
        (db.to_string(), None)
    };
    let params = params.unwrap_or_default();
    let has_mode = params.split('&').any(|kv| kv.starts_with("mode="));
    let memory = database == ":memory:" || params.split('&').any(|kv| kv == "mode=memory");
    let mut query = params.clone();
    if !has_mode && !memory {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("mode=rwc");
    }
    let encoded = if db.starts_with("sqlite:") {
        database.clone()
    } else {
        // sqlx percent-decodes the path: keep a plain path's `%`, `?` and `#` literal.
        database
            .replace('%', "%25")
            .replace('?', "%3F")
            .replace('#', "%23")
    };
    let sqlite_file = match (memory, db.starts_with("sqlite:")) {
        (true, _) => None,
        (false, true) => Some(PathBuf::from(
            percent_decode(&database).unwrap_or_else(|| database.clone()),
        )),
        (false, false) => Some(PathBuf::from(db)),
    };
    let url = if memory {
        // sqlx names every connection's `:memory:` database anew, so a pool would see as many
        // databases as it has connections: one named, shared in-memory database instead.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        format!(
            "sqlite:file:ofhnet-memory-{}-{}?mode=memory&cache=shared",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    } else if query.is_empty() {
        format!("sqlite://{encoded}")
    } else {
        format!("sqlite://{encoded}?{query}")
    };
    StoreUrl {
        url,
        backend: Backend::Sqlite,
        sqlite_file,
    }
}

/// `%XX` decoding of an SQLite URL's path (sqlx decodes it the same way).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A URL for messages: a PostgreSQL password is replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

/// The `host:port` of a PostgreSQL URL, for messages.
fn postgres_host(url: &str) -> String {
    let rest = url.split_once("://").map(|x| x.1).unwrap_or(url);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map(|x| x.1).unwrap_or(authority);
    if host.is_empty() {
        "localhost".into()
    } else {
        host.to_string()
    }
}

/// Errors that mean the database cannot be reached right now (a restart, a network cut), as
/// opposed to errors of the statement itself.
fn is_connection_error(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => true,
        // PostgreSQL: class 08 (connection exception), 57P01-57P03 (shutdown, cannot connect now).
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// How long a store keeps retrying an operation while the database cannot be reached, unless
/// `OFHNET_STORE_RETRY` (seconds) says otherwise.
pub const DEFAULT_STORE_RETRY: Duration = Duration::from_secs(120);

/// The SQLite settings of every connection.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection) -> std::result::Result<(), sqlx::Error> {
    // The busy timeout first, so that switching to WAL waits too.
    conn.execute("PRAGMA busy_timeout = 60000").await?;
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute("PRAGMA synchronous = NORMAL").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    // Reports read hundreds of thousands of metric rows: map the file and keep 64 MiB of pages
    // instead of a read call per page.
    conn.execute("PRAGMA mmap_size = 1073741824").await?;
    conn.execute("PRAGMA cache_size = -65536").await?;
    Ok(())
}

impl Store {
    /// Opens (and creates or migrates) the store at `db`: a path to an SQLite file, an
    /// `sqlite:` URL or a `postgres://` URL. Fails at once, naming the file or host, when the
    /// file is not an SQLite database, the server cannot be reached, or the store was written
    /// by a newer ofhnet.
    pub fn open(db: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let parsed = parse_db(db);
        let StoreUrl {
            url,
            backend,
            sqlite_file,
        } = parsed.clone();
        if let Some(file) = &sqlite_file {
            if file.is_dir() {
                return Err(Error::Store {
                    what: format!("opening {}", file.display()),
                    message: "it is a directory; give the path of an SQLite file".into(),
                });
            }
            if let Some(parent) = file.parent()
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
        let shown = match &sqlite_file {
            Some(f) => f.display().to_string(),
            None => redact_url(&url),
        };
        // One connection first, with a deadline: a pool would retry a refused connection or a
        // file that is not a database until its acquire timeout, and then say only that.
        runtime.block_on(async {
            use sqlx::Connection;
            let attempt = async {
                let mut conn = sqlx::AnyConnection::connect(&url).await?;
                if backend == Backend::Sqlite {
                    sqlite_pragmas(&mut conn).await?;
                    conn.execute("SELECT COUNT(*) FROM sqlite_master").await?;
                }
                conn.close().await
            };
            match tokio::time::timeout(Duration::from_secs(15), attempt).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(open_error(backend, &shown, &url, &e.to_string())),
                Err(_) => Err(open_error(backend, &shown, &url, "no answer within 15 s")),
            }
        })?;
        let retry_for = std::env::var("OFHNET_STORE_RETRY")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_STORE_RETRY);
        let memory = backend == Backend::Sqlite && sqlite_file.is_none();
        let pool = runtime.block_on(async {
            AnyPoolOptions::new()
                .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
                // An in-memory database lives as long as one of its connections.
                .min_connections(u32::from(memory))
                .idle_timeout((!memory).then_some(Duration::from_secs(600)))
                .max_lifetime((!memory).then_some(Duration::from_secs(1800)))
                // Short: a store that cannot be reached is retried by `Store::retrying`, which
                // must get control back well within its own deadline.
                .acquire_timeout(
                    (retry_for / 4).clamp(Duration::from_secs(1), Duration::from_secs(30)),
                )
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            sqlite_pragmas(conn).await?;
                        }
                        Ok(())
                    })
                })
                .connect(&url)
                .await
        });
        let pool = pool.map_err(|e| open_error(backend, &shown, &url, &e.to_string()))?;
        let store = Store {
            runtime: std::sync::Arc::new(runtime),
            pool,
            backend,
            url,
            shown,
            retry_for,
        };
        store.check_schema_version()?;
        store.migrate(sqlite_file.as_deref())?;
        Ok(store)
    }

    /// The database URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The store as messages name it: the SQLite file, or the URL without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How long worker operations retry while the database cannot be reached.
    pub fn set_retry_for(&mut self, retry_for: Duration) {
        self.retry_for = retry_for;
    }

    /// Refuses a store whose schema is newer than this binary's.
    fn check_schema_version(&self) -> Result<()> {
        let found = self.runtime.block_on(
            sqlx::query_scalar::<_, i64>("SELECT MAX(version) FROM _sqlx_migrations")
                .fetch_one(&self.pool),
        );
        // No bookkeeping table yet: a new store.
        let Ok(found) = found else { return Ok(()) };
        if found > SCHEMA_VERSION {
            return Err(Error::Store {
                what: format!("opening {}", self.shown),
                message: format!(
                    "the store has schema version {found}, written by a newer ofhnet; this \
                     ofhnet knows schema versions up to {SCHEMA_VERSION}. Use the newer ofhnet \
                     (nothing in the store was changed)"
                ),
            });
        }
        Ok(())
    }

    fn migrate(&self, sqlite_file: Option<&Path>) -> Result<()> {
        let migrations = MIGRATIONS
            .iter()
            .map(|m| {
                let sql = match self.backend {
                    Backend::Sqlite => m.sqlite,
                    Backend::Postgres => m.postgres,
                };
                Migration::new(
                    m.version,
                    m.description.into(),
                    MigrationType::Simple,
                    AssertSqlSafe(sql).into_sql_str(),
                    false,
                )
            })
            .collect();
        let migrator = Migrator::with_migrations(migrations);
        // PostgreSQL serialises migrators with an advisory lock; SQLite has none, so processes
        // opening one file serialise on a lock of its directory (an flock, which SQLite's own
        // POSIX locks do not see), and a loser of any remaining race retries.
        let _guard = match sqlite_file.and_then(|f| f.parent()) {
            Some(dir) => {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                let handle = std::fs::File::open(dir).map_err(|e| Error::io(dir, e))?;
                handle.lock().map_err(|e| Error::io(dir, e))?;
                Some(handle)
            }
            None => None,
        };
        let mut attempt = 0;
        loop {
            let result = self.runtime.block_on(async {
                let mut conn = self
                    .pool
                    .acquire()
                    .await
                    .map_err(sqlx::migrate::MigrateError::from)?;
                if self.backend == Backend::Sqlite {
                    // Migration 2 rebuilds `runs`, which other tables reference: SQLite's
                    // documented procedure turns foreign keys off around it (a no-op inside a
                    // transaction, so here, outside the migrator's).
                    conn.execute("PRAGMA foreign_keys = OFF").await?;
                }
                let result = migrator.run(&mut *conn).await;
                if self.backend == Backend::Sqlite {
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                }
                result
            });
            match result {
                Ok(()) => return Ok(()),
                Err(_) if self.backend == Backend::Sqlite && attempt < 10 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(50 * attempt));
                }
                Err(e) => {
                    return Err(Error::Store {
                        what: format!("migrating {}", self.shown),
                        message: e.to_string(),
                    });
                }
            }
        }
    }

    /// Runs a database operation, retrying it with backoff for up to `retry_for` while the
    /// database cannot be reached (PostgreSQL restarting, the network cut). `make` builds the
    /// operation anew for every attempt; a transaction that failed was rolled back whole.
    fn retrying<T, Fut>(&self, what: &str, make: impl Fn() -> Fut) -> Result<T>
    where
        Fut: std::future::Future<Output = std::result::Result<T, sqlx::Error>>,
    {
        let started = std::time::Instant::now();
        let mut wait = Duration::from_millis(250);
        let mut warned = false;
        loop {
            match self.runtime.block_on(make()) {
                Ok(v) => return Ok(v),
                Err(e) if is_connection_error(&e) => {
                    let waited = started.elapsed();
                    if waited >= self.retry_for {
                        return Err(Error::StoreUnreachable {
                            store: self.shown.clone(),
                            seconds: waited.as_secs_f64(),
                            message: e.to_string(),
                        });
                    }
                    if !warned {
                        eprintln!(
                            "run store {}: {what}: {e}; retrying for up to {:.0} s",
                            self.shown,
                            self.retry_for.as_secs_f64()
                        );
                        warned = true;
                    }
                    std::thread::sleep(wait.min(self.retry_for.saturating_sub(waited)));
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    return Err(Error::Store {
                        what: what.to_string(),
                        message: e.to_string(),
                    });
                }
            }
        }
    }

    /// Adds an experiment's runs. A run is its key (the hash of its resolved configuration):
    /// runs already in the store are left as they are, so enqueueing twice adds nothing, and
    /// an edited experiment adds a run for every changed configuration. When the set of runs
    /// changes, the experiment gets a new version: the runs of older versions stay as history
    /// (queued ones become `superseded`), and `status`/`report` show the new version.
    pub fn enqueue(
        &self,
        experiment: &Experiment,
        source: &str,
        runs: &[RunSpec],
    ) -> Result<EnqueueReport> {
        let spec = serde_json::to_string(experiment)
            .map_err(|e| Error::invalid("experiment", e.to_string()))?;
        let mut configs = Vec::with_capacity(runs.len());
        for run in runs {
            configs.push(
                serde_json::to_string(&run.config)
                    .map_err(|e| Error::invalid("experiment", e.to_string()))?,
            );
        }
        let t = now();
        let name = experiment.name.clone();
        let (version, new_version, previous, inserted) = self
            .runtime
            .block_on(async {
                let mut tx = self.pool.begin().await?;
                // A write first: concurrent enqueues of one experiment (the tasks of a job
                // array) take turns instead of each making a version.
                sqlx::query(
                    "INSERT INTO experiments (name, file, spec, created_at, updated_at, version) \
                     VALUES ($1, $2, $3, $4, $4, 0) \
                     ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
                )
                .bind(name.clone())
                .bind(source.to_string())
                .bind(spec.clone())
                .bind(t)
                .execute(&mut *tx)
                .await?;
                let current: i64 =
                    sqlx::query_scalar("SELECT version FROM experiments WHERE name = $1")
                        .bind(name.clone())
                        .fetch_one(&mut *tx)
                        .await?;
                let previous: Vec<(String, String, String)> = sqlx::query(
                    "SELECT v.run_key, v.name, r.config FROM version_runs v \
                     JOIN runs r ON r.key = v.run_key \
                     WHERE v.experiment = $1 AND v.version = $2 ORDER BY v.ordinal",
                )
                .bind(name.clone())
                .bind(current)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<std::result::Result<_, sqlx::Error>>()?;
                let unchanged = current > 0
                    && previous.len() == runs.len()
                    && previous
                        .iter()
                        .zip(runs)
                        .all(|(p, r)| p.0 == r.key && p.1 == r.name);
                if unchanged {
                    // Only what changes no run (the description, the file's path) is updated.
                    for sql in [
                        "UPDATE experiments SET file = $2, spec = $3 WHERE name = $1",
                        "UPDATE experiment_versions SET file = $2, spec = $3 \
                         WHERE experiment = $1 AND version = $4",
                    ] {
                        sqlx::query(sql)
                            .bind(name.clone())
                            .bind(source.to_string())
                            .bind(spec.clone())
                            .bind(current)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    return Ok((current, false, previous, Vec::new()));
                }
                let version = current + 1;
                sqlx::query(
                    "UPDATE experiments SET file = $2, spec = $3, version = $4 WHERE name = $1",
                )
                .bind(name.clone())
                .bind(source.to_string())
                .bind(spec.clone())
                .bind(version)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO experiment_versions (experiment, version, file, spec, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(name.clone())
                .bind(version)
                .bind(source.to_string())
                .bind(spec.clone())
                .bind(t)
                .execute(&mut *tx)
                .await?;
                let mut inserted = Vec::with_capacity(runs.len());
                for (i, (run, config)) in runs.iter().zip(&configs).enumerate() {
                    let swept: serde_json::Map<String, serde_json::Value> =
                        run.swept.iter().cloned().collect();
                    let added = sqlx::query(
                        "INSERT INTO runs (key, experiment, name, ordinal, seed, swept, config, \
                         status, attempts, enqueued_at, version, last_version) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $9, $9) \
                         ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(run.key.clone())
                    .bind(name.clone())
                    .bind(run.name.clone())
                    .bind(i as i64)
                    .bind(run.seed as i64)
                    .bind(serde_json::Value::Object(swept).to_string())
                    .bind(config.clone())
                    .bind(t)
                    .bind(version)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    if !added {
                        // A configuration an older definition had: it belongs to this one too
                        // (and a superseded one is wanted again).
                        sqlx::query(
                            "UPDATE runs SET last_version = $2, status = CASE WHEN status = \
                             'superseded' THEN 'queued' ELSE status END WHERE key = $1",
                        )
                        .bind(run.key.clone())
                        .bind(version)
                        .execute(&mut *tx)
                        .await?;
                    }
                    inserted.push(added);
                }
                // The version's membership, many rows per statement (as metric rows are).
                let members: Vec<(usize, &RunSpec)> = runs.iter().enumerate().collect();
                for chunk in members.chunks(400) {
                    let sql = format!(
                        "INSERT INTO version_runs (experiment, version, run_key, name, ordinal) \
                         VALUES {}",
                        placeholders(self.backend, chunk.len(), 5)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
                    for (i, run) in chunk {
                        q = q
                            .bind(name.clone())
                            .bind(version)
                            .bind(run.key.clone())
                            .bind(run.name.clone())
                            .bind(*i as i64);
                    }
                    q.execute(&mut *tx).await?;
                }
                // Queued runs that the new definition leaves out are never claimed.
                sqlx::query(
                    "UPDATE runs SET status = 'superseded' WHERE experiment = $1 \
                     AND last_version < $2 AND status = 'queued'",
                )
                .bind(name.clone())
                .bind(version)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok((version, true, previous, inserted))
            })
            .map_err(db_error(format!("enqueueing `{}`", experiment.name)))?;
        let mut report = EnqueueReport {
            version,
            new_version,
            ..EnqueueReport::default()
        };
        if !new_version {
            report.existing = runs.iter().map(|r| r.name.clone()).collect();
            return Ok(report);
        }
        for ((run, config), added) in runs.iter().zip(&configs).zip(&inserted) {
            if !added {
                report.existing.push(run.name.clone());
                continue;
            }
            let replaces = previous
                .iter()
                .find(|p| p.1 == run.name && p.0 != run.key)
                .map(|p| {
                    let changes = match (
                        serde_json::from_str::<serde_json::Value>(&p.2),
                        serde_json::from_str::<serde_json::Value>(config),
                    ) {
                        (Ok(a), Ok(b)) => super::sweep::config_diff(&a, &b),
                        _ => Vec::new(),
                    };
                    (p.0.clone(), changes)
                });
            report.added.push(AddedRun {
                name: run.name.clone(),
                key: run.key.clone(),
                replaces,
            });
        }
        // Runs that are neither kept nor replaced by a run of the same name.
        report.retired = previous
            .iter()
            .filter(|p| !runs.iter().any(|r| r.key == p.0 || r.name == p.1))
            .map(|p| p.1.clone())
            .collect();
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
        let row = self.retrying("claiming a run", || {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(worker.id.clone())
                .bind(worker.host.clone())
                .bind(worker.device.clone())
                .bind(worker.git_commit.clone())
                .bind(worker.git_dirty.map(i64::from))
                .bind(experiment.unwrap_or("").to_string())
                .bind(t)
                .fetch_optional(&self.pool)
        })?;
        row.as_ref()
            .map(run_row)
            .transpose()
            .map_err(db_error("reading a claimed run"))
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
    /// next worker resumes from their checkpoints. Returns their names.
    pub fn requeue_stale(&self, stale_after: Duration) -> Result<Vec<String>> {
        let cutoff = now() - stale_after.as_secs_f64();
        let rows = self.retrying("requeueing stale runs", || sqlx::query(
                    "UPDATE runs SET status = 'queued', worker = NULL, \
                     error = 'requeued: worker ' || COALESCE(worker, '?') || ' stopped heartbeating' \
                     WHERE status = 'running' AND heartbeat < $1 RETURNING name",
                )
                .bind(cutoff)
                .fetch_all(&self.pool),)?;
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
        let rows = self.retrying("looking for dead workers", || {
            sqlx::query("SELECT key, name, worker FROM runs WHERE status = 'running' AND host = $1")
                .bind(host.to_string())
                .fetch_all(&self.pool)
        })?;
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
                .retrying("requeueing a dead worker's run", || {
                    sqlx::query(
                        "UPDATE runs SET status = 'queued', worker = NULL, \
                         error = 'requeued: worker ' || $1 || ' is gone' \
                         WHERE key = $2 AND worker = $1 AND status = 'running'",
                    )
                    .bind(worker.clone())
                    .bind(key.clone())
                    .execute(&self.pool)
                })?
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
        self.end_running(run, worker, status::FAILED, error)
    }

    /// Ends a run that this worker holds with a final status (`failed`, `pruned`) and its
    /// reason. Returns false when the run was not this worker's any more.
    fn end_running(&self, run: &str, worker: &str, to: &str, why: &str) -> Result<bool> {
        let n = self
            .retrying(&format!("marking a run {to}"), || {
                sqlx::query(
                    "UPDATE runs SET status = $1, finished_at = $2, error = $3 \
                     WHERE key = $4 AND worker = $5 AND status = 'running'",
                )
                .bind(to.to_string())
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
    /// saying why. Returns false when the run was not this worker's any more.
    pub fn release(&self, run: &str, worker: &str, why: &str) -> Result<bool> {
        let n = self
            .retrying("putting a run back in the queue", || {
                sqlx::query(
                    "UPDATE runs SET status = 'queued', worker = NULL, error = $1 \
                     WHERE key = $2 AND worker = $3 AND status = 'running'",
                )
                .bind(format!("requeued: {why}"))
                .bind(run.to_string())
                .bind(worker.to_string())
                .execute(&self.pool)
            })?
            .rows_affected();
        Ok(n == 1)
    }

    /// Marks a run that this worker holds as stopped by the pruning rule. Returns false when
    /// the run was not this worker's any more.
    pub fn mark_pruned(&self, run: &str, worker: &str, why: &str) -> Result<bool> {
        self.end_running(run, worker, status::PRUNED, why)
    }

    /// Puts an experiment's pruned runs (of its current definition) back in the queue, never
    /// to be pruned again: they resume from their checkpoints and train to the end. Returns
    /// their names.
    pub fn retry_pruned(&self, experiment: &str) -> Result<Vec<String>> {
        self.requeue_status(experiment, status::PRUNED)
    }

    /// Puts an experiment's runs (of its current definition) that have status `from` (`failed`,
    /// `pruned`) back in the queue; a pruned one is not pruned again. Returns their names.
    fn requeue_status(&self, experiment: &str, from: &str) -> Result<Vec<String>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "UPDATE runs SET status = 'queued', worker = NULL, finished_at = NULL, \
                     prunable = CASE WHEN status = 'pruned' THEN 0 ELSE prunable END \
                     WHERE experiment = $1 AND status = $2 AND last_version = \
                     (SELECT e.version FROM experiments e WHERE e.name = $1) RETURNING name",
                )
                .bind(experiment.to_string())
                .bind(from.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error(format!(
                "retrying the {from} runs of `{experiment}`"
            )))?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("name"))
            .collect::<std::result::Result<_, _>>()
            .map_err(db_error("retrying"))
    }

    /// What the pruning rule compares a run with: the number of finished runs of the
    /// experiment's current definition (other than `run`), and the values of curve `term` of
    /// stage 2 that they had at `step`.
    pub fn finished_curve_values(
        &self,
        experiment: &str,
        run: &str,
        term: &str,
        step: i64,
    ) -> Result<(usize, Vec<f64>)> {
        let finished = self.retrying("reading finished runs", || {
            sqlx::query(
                "SELECT COUNT(*) AS n FROM runs WHERE experiment = $1 AND status = 'done' \
                 AND key <> $2 AND last_version = \
                 (SELECT e.version FROM experiments e WHERE e.name = $1)",
            )
            .bind(experiment.to_string())
            .bind(run.to_string())
            .fetch_one(&self.pool)
        })?;
        let n: i64 = finished
            .try_get("n")
            .map_err(db_error("reading finished runs"))?;
        let rows = self.retrying("reading validation curves", || {
            sqlx::query(
                "SELECT c.value AS value FROM curves c JOIN runs r ON r.key = c.run_key \
                 WHERE r.experiment = $1 AND r.status = 'done' AND r.key <> $2 \
                 AND r.last_version = (SELECT e.version FROM experiments e WHERE e.name = $1) \
                 AND c.stage = 'stage2' AND c.term = $3 AND c.step = $4",
            )
            .bind(experiment.to_string())
            .bind(run.to_string())
            .bind(term.to_string())
            .bind(step)
            .fetch_all(&self.pool)
        })?;
        let values = rows
            .iter()
            .map(|r| r.try_get::<f64, _>("value"))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(db_error("reading validation curves"))?;
        Ok((n.max(0) as usize, values))
    }

    /// Puts an experiment's failed runs (of its current definition) back in the queue;
    /// returns their names.
    pub fn retry_failed(&self, experiment: &str) -> Result<Vec<String>> {
        self.requeue_status(experiment, status::FAILED)
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

    /// The shared models (`key`, `kind`, `path`) that a run owns and that are not finished:
    /// the ones whose checkpoints it would resume.
    pub fn unfinished_shared(&self, run: &str) -> Result<Vec<(String, String, PathBuf)>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "SELECT key, kind, path FROM shared WHERE owner = $1 AND status = 'training' \
                     ORDER BY key",
                )
                .bind(run.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("reading shared models"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    PathBuf::from(r.try_get::<String, _>(2)?),
                ))
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db_error("reading shared models"))
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
        let path_text = &path_text;
        self.retrying(&format!("claiming shared model {key}"), || async move {
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
        self.retrying("finishing a shared model", || {
            sqlx::query("UPDATE shared SET status = 'done', finished_at = $1 WHERE key = $2")
                .bind(now())
                .bind(key.to_string())
                .execute(&self.pool)
        })?;
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
        self.retrying("recording a stage", || {
            sqlx::query(
                "INSERT INTO stages (run_key, stage, status, shared_key, reused, checkpoint, \
                     steps, images_per_s, seconds, updated_at, kept_step, kept) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (run_key, stage) DO UPDATE SET status = excluded.status, \
                     shared_key = excluded.shared_key, reused = excluded.reused, \
                     checkpoint = excluded.checkpoint, steps = excluded.steps, \
                     images_per_s = excluded.images_per_s, seconds = excluded.seconds, \
                     updated_at = excluded.updated_at, kept_step = excluded.kept_step, \
                     kept = excluded.kept",
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
            .bind(stage.kept_step)
            .bind(stage.kept.clone())
            .execute(&self.pool)
        })?;
        Ok(())
    }

    /// The stages of a run.
    pub fn stages(&self, run: &str) -> Result<Vec<StageRow>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "SELECT stage, status, shared_key, reused, checkpoint, steps, images_per_s, \
                     seconds, kept_step, kept FROM stages WHERE run_key = $1 ORDER BY stage",
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
                     s.steps AS steps, s.images_per_s AS images_per_s, s.seconds AS seconds, \
                     s.kept_step AS kept_step, s.kept AS kept \
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
        self.retrying("writing training curves", || async move {
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
    }

    /// The protocols of a run that already have their metric rows.
    pub fn evaluated(&self, run: &str) -> Result<Vec<String>> {
        let rows = self.retrying("reading evaluations", || {
            sqlx::query("SELECT protocol FROM evaluations WHERE run_key = $1")
                .bind(run.to_string())
                .fetch_all(&self.pool)
        })?;
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
        let cols = 5 + Metric::ALL.len();
        let images = {
            let mut names: Vec<i64> = rows.iter().map(|(i, _)| *i).collect();
            names.sort_unstable();
            names.dedup();
            names.len() as i64
        };
        self.retrying(&format!("writing metrics of {protocol}"), || async move {
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
                    "INSERT INTO metrics (run_key, protocol, method, image, image_name, {}) \
                     VALUES {}",
                    metric_columns(""),
                    placeholders(self.backend(), chunk.len(), cols)
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
                        .bind(s.name.clone());
                    for m in Metric::ALL {
                        q = q.bind(s.get(m));
                    }
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
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT protocol, method, COUNT(*) AS n, {} FROM metrics WHERE run_key = $1 \
                     GROUP BY protocol, method ORDER BY protocol, method",
                    Metric::ALL
                        .iter()
                        .map(|m| format!("AVG({0}) AS {0}", m.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
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
                    values: read_values(r)?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db_error("reading metrics"))
    }

    /// The runs of an experiment (or of every experiment), in expansion order: those of its
    /// current definition, or every run it ever had.
    pub fn runs(&self, experiment: Option<&str>, versions: Versions) -> Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE ($1 = '' OR experiment = $1) AND ($2 = 1 OR \
             last_version = (SELECT e.version FROM experiments e WHERE e.name = runs.experiment)) \
             ORDER BY experiment, last_version, enqueued_at, ordinal"
        );
        let rows = self
            .runtime
            .block_on(
                sqlx::query(AssertSqlSafe(sql))
                    .bind(experiment.unwrap_or("").to_string())
                    .bind(i64::from(versions == Versions::All))
                    .fetch_all(&self.pool),
            )
            .map_err(db_error("reading runs"))?;
        rows.iter()
            .map(run_row)
            .collect::<std::result::Result<_, _>>()
            .map_err(db_error("reading runs"))
    }

    /// The current version of an experiment's definition (0 when the store does not have it).
    pub fn experiment_version(&self, experiment: &str) -> Result<i64> {
        let v = self
            .runtime
            .block_on(
                sqlx::query_scalar::<_, i64>("SELECT version FROM experiments WHERE name = $1")
                    .bind(experiment.to_string())
                    .fetch_optional(&self.pool),
            )
            .map_err(db_error("reading experiments"))?;
        Ok(v.unwrap_or(0))
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
                    sqlx::query(
                        "SELECT run_key, version FROM version_runs WHERE experiment = $1 \
                         AND name = $2 AND ($3 = 0 OR version = $3) ORDER BY version DESC",
                    )
                    .bind(exp.to_string())
                    .bind(name.to_string())
                    .bind(version.unwrap_or(0))
                    .fetch_all(&self.pool),
                )
                .map_err(db_error("finding a run"))?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<std::result::Result<_, sqlx::Error>>()
                .map_err(db_error("finding a run"))?;
            if let Some((key, _)) = keys.first() {
                return self.find_run(key);
            }
        }
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE key LIKE $1 ORDER BY key");
        let prefix: String = what.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let rows = if what.len() >= 4 && prefix.len() == what.len() {
            self.runtime
                .block_on(
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(format!("{prefix}%"))
                        .fetch_all(&self.pool),
                )
                .map_err(db_error("finding a run"))?
        } else {
            Vec::new()
        };
        let matches: Vec<RunRow> = rows
            .iter()
            .map(run_row)
            .collect::<std::result::Result<_, _>>()
            .map_err(db_error("finding a run"))?;
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

    /// The versions of an experiment's definition that include a run, oldest first.
    pub fn run_versions(&self, run: &str) -> Result<Vec<(i64, String)>> {
        let rows = self
            .runtime
            .block_on(
                sqlx::query(
                    "SELECT version, name FROM version_runs WHERE run_key = $1 ORDER BY version",
                )
                .bind(run.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("reading versions"))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db_error("reading versions"))
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

    /// Counts of an experiment's runs (or every run) by status, in the current definitions
    /// or in all of them. Retries while the store cannot be reached (workers poll it).
    pub fn counts(&self, experiment: Option<&str>, versions: Versions) -> Result<StatusCounts> {
        let experiment = experiment.unwrap_or("").to_string();
        let all = i64::from(versions == Versions::All);
        let rows = self.retrying("counting runs", || {
            sqlx::query(
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
        for r in &rows {
            let s: String = r.try_get("status").map_err(db_error("counting runs"))?;
            let n: i64 = r.try_get("n").map_err(db_error("counting runs"))?;
            match s.as_str() {
                status::QUEUED => c.queued = n,
                status::RUNNING => c.running = n,
                status::DONE => c.done = n,
                status::SUPERSEDED => c.superseded = n,
                status::PRUNED => c.pruned = n,
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
                    let rows = sqlx::query(AssertSqlSafe(format!(
                        "SELECT image, image_name, {} \
                         FROM metrics WHERE run_key = $1 AND protocol = $2 AND method = $3 \
                         ORDER BY image",
                        metric_columns("")
                    )))
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
                                    values: read_values(r)?,
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
        kept_step: r.try_get("kept_step")?,
        kept: r.try_get("kept")?,
    })
}
