//! Per-image metric rows (one column per [`Metric`]) and the evaluations that wrote them: each
//! (run, protocol) is written whole in one transaction, so a resumed run never duplicates or
//! loses a row.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{Store, db_error, now, placeholders};
use crate::metrics::{Metric, Scores, Values};
use crate::{Error, Result};

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
    /// The face's identity (the person), where the split has one; `None` for rows written
    /// before the store kept identities (schema version 5).
    pub identity: Option<i64>,
    pub values: Values,
}

/// One face's scores as [`Store::write_metrics`] takes them: its index in the evaluated split,
/// its identity (where the split has one) and the scores of one method.
pub type ScoredImage = (i64, Option<i64>, Scores);

super::from_row!(MetricMeans { protocol, method, images = "n", values: flatten });
super::from_row!(MetricGroup { run_key, protocol, method, rows = "n" });
super::from_row!(MetricRow {
    image,
    image_name,
    identity,
    values: flatten
});

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

/// Every metric column of a row (by name, or as `AVG(name) AS name`): one column per
/// [`Metric`], so a new metric is read without a change here.
impl<'r> sqlx::FromRow<'r, AnyRow> for Values {
    fn from_row(row: &'r AnyRow) -> std::result::Result<Values, sqlx::Error> {
        let mut v = Values::default();
        for m in Metric::ALL {
            v.set(m, row.try_get::<Option<f64>, _>(m.name())?);
        }
        Ok(v)
    }
}

impl Store {
    /// The protocols of a run that already have their metric rows.
    pub fn evaluated(&self, run: &str) -> Result<Vec<String>> {
        self.retrying("reading evaluations", || {
            sqlx::query_scalar("SELECT protocol FROM evaluations WHERE run_key = $1")
                .bind(run.to_string())
                .fetch_all(&self.pool)
        })
    }

    /// Writes the per-image metrics of one (run, protocol) in one transaction: rows a previous
    /// attempt left are replaced, so a resumed run never duplicates or loses a row.
    /// Each row is `(image, identity, scores)`: the face's position in the split, its identity
    /// where the split has one, and one method's scores.
    pub fn write_metrics(
        &self,
        run: &str,
        protocol: &str,
        rows: &[ScoredImage],
        seconds: f64,
    ) -> Result<()> {
        let cols = 6 + Metric::ALL.len();
        let images = {
            let mut names: Vec<i64> = rows.iter().map(|(i, _, _)| *i).collect();
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
                    "INSERT INTO metrics (run_key, protocol, method, image, image_name, identity, \
                     {}) VALUES {}",
                    metric_columns(""),
                    placeholders(self.backend(), chunk.len(), cols)
                );
                // Not cached: chunk sizes vary, and NULL metrics (see record_stage) must
                // not fix a parameter's type for later rows.
                let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
                for (image, identity, s) in chunk {
                    q = q
                        .bind(run.to_string())
                        .bind(protocol.to_string())
                        .bind(s.method.clone())
                        .bind(*image)
                        .bind(s.name.clone())
                        .bind(*identity);
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
        self.runtime
            .block_on(
                sqlx::query_as(AssertSqlSafe(format!(
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
            .map_err(db_error("reading metrics"))
    }

    /// The evaluations an experiment's runs stored, in run order: which (run, protocol,
    /// method) has rows, and how many. Cheap (the primary-key index), so that a report can
    /// choose the evaluations it shows before it reads any row.
    pub fn metric_groups(&self, experiment: &str) -> Result<Vec<MetricGroup>> {
        self.runtime
            .block_on(
                sqlx::query_as(
                    "SELECT m.run_key AS run_key, m.protocol AS protocol, m.method AS method, \
                     COUNT(*) AS n, MIN(r.ordinal) AS o \
                     FROM metrics m JOIN runs r ON r.key = m.run_key WHERE r.experiment = $1 \
                     GROUP BY m.run_key, m.protocol, m.method \
                     ORDER BY o, m.run_key, m.protocol, m.method",
                )
                .bind(experiment.to_string())
                .fetch_all(&self.pool),
            )
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
                    let rows: Vec<MetricRow> = sqlx::query_as(AssertSqlSafe(format!(
                        "SELECT image, image_name, identity, {} \
                         FROM metrics WHERE run_key = $1 AND protocol = $2 AND method = $3 \
                         ORDER BY image",
                        metric_columns("")
                    )))
                    .bind(run.to_string())
                    .bind(protocol.to_string())
                    .bind(method.to_string())
                    .fetch_all(&mut *conn)
                    .await?;
                    out.push(rows);
                }
                Ok(out)
            })
            .map_err(db_error("reading metrics"))
    }
}
