//! The stages of a run (which model each trained or reused, how fast, which step it kept)
//! and their training curves, validation curves included.

use std::collections::HashMap;

use sqlx::AssertSqlSafe;

use super::{Store, db_error, now, placeholders};
use crate::Result;

super::status_enum! {
    /// Where a stage of a run is.
    StageStatus, "stage" {
        Running = "running",
        Done = "done",
    }
}

/// A stage being recorded is running until it says otherwise.
impl Default for StageStatus {
    fn default() -> Self {
        StageStatus::Running
    }
}

/// A `stages` row.
#[derive(Clone, Debug, Default)]
pub struct StageRow {
    /// `stage1` or `stage2`.
    pub stage: String,
    pub status: StageStatus,
    /// The shared model the stage trained or reused.
    pub shared_key: Option<String>,
    /// Whether the model was another run's.
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

super::from_row!(StageRow {
    stage,
    status: status,
    shared_key,
    reused: flag,
    checkpoint,
    steps,
    images_per_s,
    seconds,
    kept_step,
    kept,
});

/// A stage with its run, as an experiment's stages are read.
struct KeyedStage {
    run_key: String,
    stage: StageRow,
}

super::from_row!(KeyedStage {
    run_key,
    stage: flatten
});

impl Store {
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
            .bind(stage.status.as_str())
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
        self.runtime
            .block_on(
                sqlx::query_as(
                    "SELECT stage, status, shared_key, reused, checkpoint, steps, images_per_s, \
                     seconds, kept_step, kept FROM stages WHERE run_key = $1 ORDER BY stage",
                )
                .bind(run.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("reading stages"))
    }

    /// The stages of every run of an experiment, by run key, in one query.
    pub fn experiment_stages(&self, experiment: &str) -> Result<HashMap<String, Vec<StageRow>>> {
        let rows: Vec<KeyedStage> = self
            .runtime
            .block_on(
                sqlx::query_as(
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
        for r in rows {
            out.entry(r.run_key).or_default().push(r.stage);
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

    /// The training-curve points of a run: `(stage, step, term, value)`, ordered.
    pub fn curves(&self, run: &str) -> Result<Vec<(String, i64, String, f64)>> {
        self.runtime
            .block_on(
                sqlx::query_as(
                    "SELECT stage, step, term, value FROM curves WHERE run_key = $1 \
                     ORDER BY stage, term, step",
                )
                .bind(run.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("reading training curves"))
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
        let n: i64 = self.retrying("reading finished runs", || {
            sqlx::query_scalar(
                "SELECT COUNT(*) AS n FROM runs WHERE experiment = $1 AND status = 'done' \
                 AND key <> $2 AND last_version = \
                 (SELECT e.version FROM experiments e WHERE e.name = $1)",
            )
            .bind(experiment.to_string())
            .bind(run.to_string())
            .fetch_one(&self.pool)
        })?;
        let values: Vec<f64> = self.retrying("reading validation curves", || {
            sqlx::query_scalar(
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
        Ok((n.max(0) as usize, values))
    }
}
