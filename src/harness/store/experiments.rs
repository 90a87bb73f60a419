//! Experiment definitions and their versions: `enqueue` adds an experiment's runs, keyed by
//! their configurations, and makes a new version whenever the set of runs changes.

use sqlx::AssertSqlSafe;

use super::{Store, db_error, now, placeholders};
use crate::harness::experiment::Experiment;
use crate::harness::sweep::{FieldChange, RunSpec};
use crate::{Error, Result};

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

impl Store {
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
                let previous: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT v.run_key, v.name, r.config FROM version_runs v \
                     JOIN runs r ON r.key = v.run_key \
                     WHERE v.experiment = $1 AND v.version = $2 ORDER BY v.ordinal",
                )
                .bind(name.clone())
                .bind(current)
                .fetch_all(&mut *tx)
                .await?;
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
                        (Ok(a), Ok(b)) => crate::harness::sweep::config_diff(&a, &b),
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

    /// The versions of an experiment's definition that include a run, oldest first.
    pub fn run_versions(&self, run: &str) -> Result<Vec<(i64, String)>> {
        self.runtime
            .block_on(
                sqlx::query_as(
                    "SELECT version, name FROM version_runs WHERE run_key = $1 ORDER BY version",
                )
                .bind(run.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("reading versions"))
    }

    /// The experiments in the store: `(name, file)`.
    pub fn experiments(&self) -> Result<Vec<(String, String)>> {
        self.runtime
            .block_on(
                sqlx::query_as("SELECT name, file FROM experiments ORDER BY created_at, name")
                    .fetch_all(&self.pool),
            )
            .map_err(db_error("reading experiments"))
    }

    /// The file an experiment was last enqueued from and its parsed spec (JSON), if stored.
    pub fn experiment_record(&self, name: &str) -> Result<Option<(String, String)>> {
        self.runtime
            .block_on(
                sqlx::query_as("SELECT file, spec FROM experiments WHERE name = $1")
                    .bind(name.to_string())
                    .fetch_optional(&self.pool),
            )
            .map_err(db_error("reading experiments"))
    }
}
