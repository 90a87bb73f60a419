//! Models shared between runs (stage-1 InpaintNets, stage-2 models, landmark networks): claimed
//! by the first run that needs one, trained once, and reused by every run with the same key.

use std::path::{Path, PathBuf};

use super::{RunStatus, Store, db_error, now};
use crate::Result;

super::status_enum! {
    /// Where a shared model is.
    SharedStatus, "shared model" {
        /// Its owner run is training it (or was, and another run may take it over).
        Training = "training",
        Done = "done",
    }
}

/// A `shared` row.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedRow {
    pub key: String,
    /// `stage1`, `stage2` or `landmarks`.
    pub kind: String,
    /// The model's directory.
    pub path: PathBuf,
    pub status: SharedStatus,
    /// The run that trains (or trained) it.
    pub owner: String,
}

/// The owner's view of a shared model when it is asked for: the row and its owner run's status.
struct ClaimView {
    shared: SharedRow,
    owner_status: Option<String>,
}

super::from_row!(SharedRow {
    key,
    kind,
    path: path,
    status: status,
    owner
});
super::from_row!(ClaimView {
    shared: flatten,
    owner_status
});

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

const SHARED_COLUMNS: &str = "s.key AS key, s.kind AS kind, s.path AS path, s.status AS status, \
     s.owner AS owner";

impl Store {
    /// The shared models that a run owns and that are not finished: the ones whose checkpoints
    /// it would resume.
    pub fn unfinished_shared(&self, run: &str) -> Result<Vec<SharedRow>> {
        self.runtime
            .block_on(
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {SHARED_COLUMNS} FROM shared s WHERE s.owner = $1 \
                     AND s.status = 'training' ORDER BY s.key"
                )))
                .bind(run.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("reading shared models"))
    }

    /// Every shared model in the store, by key.
    pub fn shared_models(&self) -> Result<Vec<SharedRow>> {
        self.runtime
            .block_on(
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {SHARED_COLUMNS} FROM shared s ORDER BY s.key"
                )))
                .fetch_all(&self.pool),
            )
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
        let view_sql = format!(
            "SELECT {SHARED_COLUMNS}, r.status AS owner_status \
             FROM shared s LEFT JOIN runs r ON r.key = s.owner WHERE s.key = $1"
        );
        let view_sql = &view_sql;
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
            let ClaimView {
                shared,
                owner_status,
            } = sqlx::query_as(sqlx::AssertSqlSafe(view_sql.clone()))
                .bind(key.to_string())
                .fetch_one(&self.pool)
                .await?;
            if shared.status == SharedStatus::Done {
                return Ok(SharedClaim::Ready(shared.path));
            }
            if shared.owner == run {
                return Ok(SharedClaim::Train(shared.path));
            }
            if owner_status.as_deref() != Some(RunStatus::Running.as_str()) {
                let taken = sqlx::query(
                    "UPDATE shared SET owner = $1 WHERE key = $2 AND owner = $3 \
                         AND status = 'training'",
                )
                .bind(run.to_string())
                .bind(key.to_string())
                .bind(shared.owner.clone())
                .execute(&self.pool)
                .await?
                .rows_affected();
                if taken == 1 {
                    return Ok(SharedClaim::Train(shared.path));
                }
            }
            Ok(SharedClaim::Wait {
                owner: shared.owner,
            })
        })
    }

    /// A shared model, when the store has it.
    pub fn shared_entry(&self, key: &str) -> Result<Option<SharedRow>> {
        self.runtime
            .block_on(
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {SHARED_COLUMNS} FROM shared s WHERE s.key = $1"
                )))
                .bind(key.to_string())
                .fetch_optional(&self.pool),
            )
            .map_err(db_error(format!("reading shared model {key}")))
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

    /// Shared models trained for an experiment's runs, by kind: `(kind, count)`.
    pub fn shared_counts(&self, experiment: &str) -> Result<Vec<(String, i64)>> {
        self.runtime
            .block_on(
                sqlx::query_as(
                    "SELECT s.kind AS kind, COUNT(*) AS n FROM shared s JOIN runs r \
                     ON r.key = s.owner WHERE r.experiment = $1 AND s.status = 'done' \
                     GROUP BY s.kind ORDER BY s.kind",
                )
                .bind(experiment.to_string())
                .fetch_all(&self.pool),
            )
            .map_err(db_error("counting shared models"))
    }
}
