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
//! synchronous) can call it from any thread. Every SQL statement of the project is in this
//! folder, one file per concern, each with the row types (`sqlx::FromRow`) and statuses it reads:
//!
//! - this file: opening, migrating and retrying (the connection);
//! - [`url`]: what `--db` means;
//! - [`experiments`]: experiment definitions and their versions (`enqueue`);
//! - [`queue`]: runs and their life (`claim`, `heartbeat`, `finish`, requeueing, [`RunStatus`]);
//! - [`shared`]: models shared between runs (stage 1, stage 2, landmark networks);
//! - [`stages`]: the stages of a run and their training curves;
//! - [`metrics`]: per-image metric rows and evaluations.

mod experiments;
mod metrics;
mod queue;
mod shared;
mod stages;
mod url;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, AssertSqlSafe, Executor, Row, SqlSafeStr};

use crate::{Error, Result};

pub use crate::harness::sweep::FieldChange;
pub use experiments::{AddedRun, EnqueueReport};
pub use metrics::{MetricGroup, MetricMeans, MetricRow, ScoredImage};
pub use queue::{RunRow, RunStatus, StatusCounts, Versions, WorkerInfo};
pub use shared::{SharedClaim, SharedRow, SharedStatus};
pub use stages::{StageRow, StageStatus};
pub use url::{StoreUrl, parse_db, redact_url};

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
            message: format!(
                "cannot reach PostgreSQL at {}: {cause}",
                url::postgres_host(url)
            ),
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
}

/// A status column that holds a text this ofhnet does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} status `{found}` in the run store")]
pub struct UnknownStatus {
    what: &'static str,
    found: String,
}

/// The statuses a text column can hold: one enum per column, spelled in the store as
/// [`as_str`](Self::as_str) says.
macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];

            /// The text the store holds.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::harness::store::UnknownStatus;
            fn try_from(s: String) -> std::result::Result<Self, Self::Error> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or($crate::harness::store::UnknownStatus { what: $what, found: s })
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
use status_enum;

/// Reads a status column into its enum; a text this ofhnet does not know is a decode error that
/// names the column.
fn read_status<T>(row: &AnyRow, column: &str) -> std::result::Result<T, sqlx::Error>
where
    T: TryFrom<String, Error = UnknownStatus>,
{
    let text: String = row.try_get(column)?;
    T::try_from(text).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: Box::new(e),
    })
}

/// `impl sqlx::FromRow` for a row type of the store: each field from the column of its name
/// (`field = "column"` for another name), converted as its marker says: `status` (a status
/// enum, from its text), `flag` (a 0/1 integer, as SQLite stores booleans), `path` (a path, from
/// its text) or `flatten` (a type that reads itself from the whole row).
macro_rules! from_row {
    ($ty:ident { $($field:ident $(= $col:literal)? $(: $how:ident)?),* $(,)? }) => {
        impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for $ty {
            fn from_row(row: &'r sqlx::any::AnyRow) -> std::result::Result<Self, sqlx::Error> {
                #[allow(unused_imports)]
                use sqlx::Row;
                Ok($ty {
                    $($field: $crate::harness::store::from_row!(@get row, $crate::harness::store::from_row!(@col $field $(, $col)?) $(, $how)?)),*
                })
            }
        }
    };
    (@col $field:ident) => { stringify!($field) };
    (@col $field:ident, $col:literal) => { $col };
    (@get $row:ident, $col:expr) => { $row.try_get($col)? };
    (@get $row:ident, $col:expr, status) => { $crate::harness::store::read_status($row, $col)? };
    (@get $row:ident, $col:expr, flag) => { $row.try_get::<i64, _>($col)? != 0 };
    (@get $row:ident, $col:expr, path) => {
        std::path::PathBuf::from($row.try_get::<String, _>($col)?)
    };
    (@get $row:ident, $col:expr, flatten) => { sqlx::FromRow::from_row($row)? };
}
use from_row;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_and_an_unknown_one_names_its_column_and_text() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::try_from(s.as_str().to_string()).ok(), Some(*s));
        }
        for s in StageStatus::ALL {
            assert_eq!(StageStatus::try_from(s.to_string()).ok(), Some(*s));
        }
        for s in SharedStatus::ALL {
            assert_eq!(SharedStatus::try_from(s.to_string()).ok(), Some(*s));
        }
        assert_eq!(format!("[{:<8}]", RunStatus::Done), "[done    ]");

        // A run whose status a newer ofhnet wrote: reading it fails, naming what it found.
        let store = Store::open("sqlite::memory:").expect("store");
        store
            .runtime
            .block_on(async {
                sqlx::query("INSERT INTO experiments VALUES ('e', 'e.yaml', '{}', 0, 0, 1)")
                    .execute(&store.pool)
                    .await?;
                sqlx::query(
                    "INSERT INTO runs (key, experiment, name, ordinal, seed, swept, config, \
                     status, enqueued_at, version, last_version) \
                     VALUES ('k', 'e', 'n', 0, 0, '{}', '{}', 'paused', 0, 1, 1)",
                )
                .execute(&store.pool)
                .await
            })
            .expect("insert");
        let err = store
            .runs(Some("e"), Versions::Current)
            .expect_err("unknown status")
            .to_string();
        assert!(err.contains("status") && err.contains("`paused`"), "{err}");
        // Counting treats it as failed: no worker will run it.
        assert_eq!(
            store
                .counts(Some("e"), Versions::Current)
                .expect("counts")
                .failed,
            1
        );
    }
}
