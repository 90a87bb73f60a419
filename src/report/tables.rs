//! The paper's tables from the stored per-image metrics, computed with polars: every cell is
//! the mean over test images (over seeds: the mean of the per-seed means, with their spread)
//! and a 95% bootstrap interval, and every row also shows its paired difference to the
//! reference row (PROTOCOL "Significance").
//!
//! Table 1 is PSNR and SSIM, Table 2 landmark NRMSE and parsing IoU, as in the paper; a third
//! CSV per protocol holds every metric, luma variants included.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::{ReportData, file_stem, polars_error};
use crate::metrics::Metric;
use crate::metrics::bootstrap::{BootstrapConfig, BootstrapInterval, BootstrapPlan, Resample};
use crate::{Error, Result};

/// One metric of one row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cell {
    /// The mean over images (over seeds: the mean of the per-seed means).
    pub mean: f64,
    /// The 95% bootstrap interval of the mean over images (of the per-image means over seeds).
    pub lower: f64,
    pub upper: f64,
    /// Images with a value.
    pub images: usize,
    pub seeds: usize,
    /// The standard deviation of the per-seed means (ddof 1), with two seeds or more.
    pub seed_sd: Option<f64>,
    /// The paired difference `row - reference` over the images both have, unless this is the
    /// reference row or the reference has no values.
    pub diff: Option<BootstrapInterval>,
}

/// One row of the tables under one protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Index in [`ReportData::entities`].
    pub entity: usize,
    pub protocol: String,
    /// A cell per metric with values; a metric without values (no landmark detector) is absent.
    pub cells: HashMap<Metric, Cell>,
}

/// Every (entity, protocol) that has metric rows.
#[derive(Clone, Debug, Default)]
pub struct Tables {
    pub rows: Vec<Row>,
    /// What the intervals resampled.
    pub resample: Resample,
}

impl Tables {
    pub fn get(&self, entity: usize, protocol: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.entity == entity && r.protocol == protocol)
    }

    pub fn cell(&self, entity: usize, protocol: &str, metric: Metric) -> Option<&Cell> {
        self.get(entity, protocol)
            .and_then(|r| r.cells.get(&metric))
    }
}

fn column_values(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let c = df
        .column(name)
        .map_err(polars_error("reading a column"))?
        .cast(&DataType::Float64)
        .map_err(polars_error("reading a column"))?;
    Ok(c.f64()
        .map_err(polars_error("reading a column"))?
        .iter()
        .collect())
}

fn string_values(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let c = df.column(name).map_err(polars_error("reading a column"))?;
    Ok(c.str()
        .map_err(polars_error("reading a column"))?
        .iter()
        .map(|s| s.unwrap_or("").to_string())
        .collect())
}

fn int_values(df: &DataFrame, name: &str) -> Result<Vec<i64>> {
    Ok(optional_int_values(df, name)?
        .into_iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

/// The image indices of one (entity, protocol), their identities and each metric's per-image
/// value.
type PerImage = (
    Vec<i64>,
    Vec<Option<i64>>,
    HashMap<Metric, Vec<Option<f64>>>,
);

fn optional_int_values(df: &DataFrame, name: &str) -> Result<Vec<Option<i64>>> {
    let c = df
        .column(name)
        .map_err(polars_error("reading a column"))?
        .cast(&DataType::Int64)
        .map_err(polars_error("reading a column"))?;
    Ok(c.i64()
        .map_err(polars_error("reading a column"))?
        .iter()
        .collect())
}

/// One interval to draw: its values and, when identities are resampled, each value's identity.
struct Job {
    values: Vec<f64>,
    identities: Vec<i64>,
}

/// Which draw of resamples an interval takes: the plain bootstrap's depends only on the number
/// of values, the cluster bootstrap's on which identity each value has.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum PlanKey {
    Images(usize),
    Identities(Vec<i64>),
}

/// Computes every row's cells.
pub fn compute(data: &ReportData, bootstrap: &BootstrapConfig) -> Result<Tables> {
    if data.metrics.height() == 0 {
        return Ok(Tables {
            rows: Vec::new(),
            resample: bootstrap.resample,
        });
    }
    let metric_cols: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();

    // Per-seed means, then their mean and spread over seeds.
    let per_seed = data
        .metrics
        .clone()
        .lazy()
        .group_by([col("entity"), col("protocol"), col("seed")])
        .agg(
            metric_cols
                .iter()
                .map(|c| col(*c).mean())
                .collect::<Vec<_>>(),
        )
        // In seed order (polars' group order varies from run to run), so that the spread over
        // seeds sums in one order and a report does not change between two runs.
        .sort(["entity", "protocol", "seed"], Default::default())
        .collect()
        .map_err(polars_error("per-seed means"))?;
    let mut over_seeds_aggs: Vec<Expr> = Vec::new();
    for c in &metric_cols {
        over_seeds_aggs.push(col(*c).mean().alias(*c));
        over_seeds_aggs.push(col(*c).std(1).alias(format!("{c}_seed_sd")));
    }
    over_seeds_aggs.push(col("seed").count().alias("seeds"));
    let over_seeds = per_seed
        .lazy()
        .group_by([col("entity"), col("protocol")])
        .agg(over_seeds_aggs)
        .collect()
        .map_err(polars_error("means over seeds"))?;

    // Per-image means over seeds: the bootstrap's units.
    let per_image = data
        .metrics
        .clone()
        .lazy()
        .group_by([col("entity"), col("protocol"), col("image")])
        .agg(
            metric_cols
                .iter()
                .map(|c| col(*c).mean())
                .chain([col("identity").first()])
                .collect::<Vec<_>>(),
        )
        .sort(["image"], Default::default())
        .collect()
        .map_err(polars_error("per-image means"))?;
    let parts = per_image
        .partition_by(["entity", "protocol"], true)
        .map_err(polars_error("grouping per-image means"))?;
    // (entity label, protocol) -> (images, per-metric values)
    let mut images: HashMap<(String, String), PerImage> = HashMap::new();
    for part in &parts {
        let entity = string_values(part, "entity")?;
        let protocol = string_values(part, "protocol")?;
        let (Some(e), Some(p)) = (entity.first(), protocol.first()) else {
            continue;
        };
        let mut values = HashMap::new();
        for m in Metric::ALL {
            values.insert(m, column_values(part, m.name())?);
        }
        images.insert(
            (e.clone(), p.clone()),
            (
                int_values(part, "image")?,
                optional_int_values(part, "identity")?,
                values,
            ),
        );
    }

    let entity_index: HashMap<&str, usize> = data
        .entities
        .iter()
        .enumerate()
        .map(|(i, e)| (e.label.as_str(), i))
        .collect();
    let reference_label = &data.entities[data.reference].label;
    let o_entity = string_values(&over_seeds, "entity")?;
    let o_protocol = string_values(&over_seeds, "protocol")?;
    let o_seeds = int_values(&over_seeds, "seeds")?;
    let mut o_means = HashMap::new();
    let mut o_sds = HashMap::new();
    for m in Metric::ALL {
        o_means.insert(m, column_values(&over_seeds, m.name())?);
        o_sds.insert(
            m,
            column_values(&over_seeds, &format!("{}_seed_sd", m.name()))?,
        );
    }

    // The cells, with their bootstrap intervals still to draw: every interval is a job (a
    // column of per-image values, or of paired differences), and jobs with the same number of
    // values share one draw of resamples (BootstrapPlan).
    struct Pending {
        metric: Metric,
        mean: f64,
        images: usize,
        seeds: usize,
        seed_sd: Option<f64>,
        ci: usize,
        diff: Option<usize>,
    }
    let by_identity = bootstrap.resample == Resample::Identities;
    let mut jobs: Vec<Job> = Vec::new();
    // With identities resampled: the (entity, protocol) whose faces lack one, and how many.
    let mut without_identity: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut pending_rows: Vec<(usize, String, Vec<Pending>)> = Vec::new();
    // In a fixed order (polars' group order varies from run to run): each interval's f32 product
    // depends slightly on its column's place in a block, and a report must not change between
    // two runs over the same store.
    let mut order: Vec<usize> = (0..over_seeds.height()).collect();
    order.sort_by(|&a, &b| (&o_entity[a], &o_protocol[a]).cmp(&(&o_entity[b], &o_protocol[b])));
    for i in order {
        let Some(&entity) = entity_index.get(o_entity[i].as_str()) else {
            continue;
        };
        let protocol = &o_protocol[i];
        let key = (o_entity[i].clone(), protocol.clone());
        let Some((imgs, identities, values)) = images.get(&key) else {
            continue;
        };
        if by_identity {
            let lacking = identities.iter().filter(|i| i.is_none()).count();
            if lacking > 0 {
                without_identity.insert(key.clone(), lacking);
                continue;
            }
        }
        let identity_of: HashMap<i64, i64> = imgs
            .iter()
            .zip(identities)
            .filter_map(|(im, id)| Some((*im, (*id)?)))
            .collect();
        let job = |pairs: Vec<(i64, f64)>| Job {
            identities: if by_identity {
                pairs
                    .iter()
                    .map(|(im, _)| identity_of.get(im).copied().unwrap_or(-1))
                    .collect()
            } else {
                Vec::new()
            },
            values: pairs.into_iter().map(|(_, v)| v).collect(),
        };
        let reference = images.get(&(reference_label.clone(), protocol.clone()));
        let mut cells = Vec::new();
        for m in Metric::ALL {
            let Some(mean) = o_means[&m][i] else {
                continue;
            };
            let present: Vec<(i64, f64)> = imgs
                .iter()
                .zip(&values[&m])
                .filter_map(|(im, v)| Some((*im, (*v)?)))
                .collect();
            if present.is_empty() || !mean.is_finite() {
                continue;
            }
            let seeds = o_seeds[i].max(0) as usize;
            let images_n = present.len();
            jobs.push(job(present));
            let ci = jobs.len() - 1;
            let diff = match reference {
                Some((ref_imgs, _, ref_values)) if &o_entity[i] != reference_label => {
                    let lookup: HashMap<i64, f64> = ref_imgs
                        .iter()
                        .zip(&ref_values[&m])
                        .filter_map(|(im, v)| v.map(|v| (*im, v)))
                        .collect();
                    let differences: Vec<(i64, f64)> = imgs
                        .iter()
                        .zip(&values[&m])
                        .filter_map(|(im, v)| Some((*im, v.as_ref().copied()? - *lookup.get(im)?)))
                        .collect();
                    if differences.is_empty() {
                        None
                    } else {
                        jobs.push(job(differences));
                        Some(jobs.len() - 1)
                    }
                }
                _ => None,
            };
            cells.push(Pending {
                metric: m,
                mean,
                images: images_n,
                seeds,
                seed_sd: if seeds > 1 { o_sds[&m][i] } else { None },
                ci,
                diff,
            });
        }
        pending_rows.push((entity, protocol.clone(), cells));
    }

    if !without_identity.is_empty() {
        let which: Vec<String> = without_identity
            .iter()
            .map(|((e, p), k)| format!("{k} faces of `{e}` under `{p}`"))
            .collect();
        return Err(Error::invalid(
            "report --resample identities",
            format!(
                "{} have no identity in the store (rows written before ofhnet stored \
                 identities, or a split without them); pass `--identities FILE` (a list of \
                 `name identity` lines, as CelebA's identity_CelebA.txt) or evaluate the runs \
                 again",
                which.join(", ")
            ),
        ));
    }

    // The intervals, one plan per draw of resamples: per number of values, or per list of
    // identities.
    let mut by_plan: BTreeMap<PlanKey, Vec<usize>> = BTreeMap::new();
    for (j, job) in jobs.iter_mut().enumerate() {
        let key = if by_identity {
            PlanKey::Identities(std::mem::take(&mut job.identities))
        } else {
            PlanKey::Images(job.values.len())
        };
        by_plan.entry(key).or_default().push(j);
    }
    let mut intervals: Vec<Option<BootstrapInterval>> = vec![None; jobs.len()];
    for (key, members) in by_plan {
        let plan = match &key {
            PlanKey::Images(n) => BootstrapPlan::new(*n, bootstrap)?,
            PlanKey::Identities(ids) => BootstrapPlan::clustered(ids, bootstrap)?,
        };
        let columns: Vec<&[f64]> = members.iter().map(|&j| jobs[j].values.as_slice()).collect();
        let found = plan.intervals(&columns, "report cells (per-image values)")?;
        for (&j, interval) in members.iter().zip(found) {
            intervals[j] = Some(interval);
        }
    }
    let interval = |j: usize| {
        intervals[j].ok_or_else(|| Error::invalid("report", "a bootstrap interval was not drawn"))
    };

    let mut rows = Vec::new();
    for (entity, protocol, pending) in pending_rows {
        let mut cells = HashMap::new();
        for p in pending {
            let ci = interval(p.ci)?;
            cells.insert(
                p.metric,
                Cell {
                    mean: p.mean,
                    lower: ci.lower,
                    upper: ci.upper,
                    images: p.images,
                    seeds: p.seeds,
                    seed_sd: p.seed_sd,
                    diff: p.diff.map(interval).transpose()?,
                },
            );
        }
        rows.push(Row {
            entity,
            protocol,
            cells,
        });
    }
    let protocol_order = |p: &str| {
        data.protocols
            .iter()
            .position(|q| q == p)
            .unwrap_or(usize::MAX)
    };
    rows.sort_by_key(|r| (protocol_order(&r.protocol), r.entity));
    Ok(Tables {
        rows,
        resample: bootstrap.resample,
    })
}

/// The cells the experiment asks for that have no rows, as sentences.
pub fn missing_cells(data: &ReportData, tables: &Tables) -> Vec<String> {
    let mut out = Vec::new();
    for (i, e) in data.entities.iter().enumerate() {
        for protocol in &data.protocols {
            let expected = e.runs.iter().any(|(_, key)| {
                data.run(key)
                    .is_some_and(|r| r.protocols.iter().any(|p| p == protocol))
            });
            if expected && tables.get(i, protocol).is_none() {
                let runs: Vec<String> = e
                    .runs
                    .iter()
                    .filter_map(|(_, k)| data.run(k))
                    .map(|r| format!("{} ({})", r.row.name, r.row.status))
                    .collect();
                out.push(format!(
                    "{} under {protocol}: no metric rows yet (runs: {})",
                    e.label,
                    runs.join(", ")
                ));
            }
        }
    }
    out
}

/// One of the paper's tables.
#[derive(Clone, Copy, Debug)]
pub struct TableSpec {
    /// File stem: `table1`.
    pub name: &'static str,
    pub title: &'static str,
    pub metrics: &'static [Metric],
}

pub const TABLE1: TableSpec = TableSpec {
    name: "table1",
    title: "Table 1: PSNR and SSIM",
    metrics: &[Metric::Psnr, Metric::Ssim],
};
pub const TABLE2: TableSpec = TableSpec {
    name: "table2",
    title: "Table 2: landmark NRMSE and parsing IoU",
    metrics: &[Metric::Nrmse, Metric::Iou],
};
pub const ALL_METRICS: TableSpec = TableSpec {
    name: "metrics",
    title: "Every metric",
    metrics: &Metric::ALL,
};

/// A table as text cells: the header and one line per row (before formatting for a format).
#[derive(Clone, Debug, PartialEq)]
pub struct TextTable {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Whether the table has any value (a Table 2 without a detector has none).
    pub has_values: bool,
}

fn fmt_value(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

fn fmt_signed(v: f64, decimals: usize) -> String {
    format!("{v:+.decimals$}")
}

/// The table for one protocol as text: a `Method` column, the differing swept values, then for
/// each metric the mean with its interval (and the spread over seeds) and the paired
/// difference to the reference, then the numbers of seeds and images.
pub fn text_table(
    data: &ReportData,
    tables: &Tables,
    spec: &TableSpec,
    protocol: &str,
) -> TextTable {
    let reference = &data.entities[data.reference].label;
    let mut header = vec!["Method".to_string()];
    header.extend(data.columns.iter().cloned());
    for m in spec.metrics {
        header.push(m.title().to_string());
        header.push(format!("Δ{} vs {reference}", m.title()));
    }
    header.push("seeds".into());
    header.push("images".into());
    let mut rows = Vec::new();
    let mut has_values = false;
    for (i, e) in data.entities.iter().enumerate() {
        let mut line = vec![e.method.clone()];
        for c in &data.columns {
            line.push(
                e.variant
                    .iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| "·".into()),
            );
        }
        let row = tables.get(i, protocol);
        if e.label.contains(" [") {
            // A label made unique by a key: show it in the method column.
            line[0] = e.label.clone();
        }
        let mut seeds = String::from("—");
        let mut images = String::from("—");
        let mut any = false;
        for m in spec.metrics {
            match row.and_then(|r| r.cells.get(m)) {
                Some(c) => {
                    any = true;
                    let d = m.decimals();
                    let mut text = format!(
                        "{} [{}, {}]",
                        fmt_value(c.mean, d),
                        fmt_value(c.lower, d),
                        fmt_value(c.upper, d)
                    );
                    if let Some(sd) = c.seed_sd {
                        text.push_str(&format!(" (sd {})", fmt_value(sd, d)));
                    }
                    line.push(text);
                    line.push(match &c.diff {
                        Some(b) => format!(
                            "{} [{}, {}]",
                            fmt_signed(b.mean, d),
                            fmt_signed(b.lower, d),
                            fmt_signed(b.upper, d)
                        ),
                        None if i == data.reference => "reference".into(),
                        None => "—".into(),
                    });
                    seeds = c.seeds.to_string();
                    images = c.images.to_string();
                }
                None => {
                    line.push(if row.is_some() {
                        "n/a".into()
                    } else {
                        "missing".into()
                    });
                    line.push("—".into());
                }
            }
        }
        has_values |= any;
        line.push(seeds);
        line.push(images);
        rows.push(line);
    }
    TextTable {
        header,
        rows,
        has_values,
    }
}

/// GitHub-flavoured Markdown.
pub fn markdown(table: &TextTable) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut out = format!(
        "| {} |\n|{}\n",
        table
            .header
            .iter()
            .map(|h| esc(h))
            .collect::<Vec<_>>()
            .join(" | "),
        table
            .header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
            .collect::<String>()
    );
    for row in &table.rows {
        out.push_str(&format!(
            "| {} |\n",
            row.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
        ));
    }
    out
}

fn latex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '_' | '%' | '&' | '#' | '$' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            'Δ' => out.push_str("$\\Delta$"),
            '—' => out.push_str("---"),
            '·' => out.push_str("$\\cdot$"),
            _ => out.push(c),
        }
    }
    out
}

/// A booktabs `tabular`; intervals in a smaller font under the means.
pub fn latex(table: &TextTable, caption: &str) -> String {
    let cols = format!("l{}", "r".repeat(table.header.len().saturating_sub(1)));
    let mut out = format!(
        "% Generated by `ofhnet report` from the run store; needs \\usepackage{{booktabs}}.\n\
         \\begin{{table}}\n\\centering\n\\caption{{{}}}\n\\begin{{tabular}}{{{cols}}}\n\\toprule\n",
        latex_escape(caption)
    );
    out.push_str(
        &table
            .header
            .iter()
            .map(|h| latex_escape(h))
            .collect::<Vec<_>>()
            .join(" & "),
    );
    out.push_str(" \\\\\n\\midrule\n");
    for row in &table.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c.split_once(" [") {
                Some((mean, rest)) => format!(
                    "{} {{\\scriptsize [{}}}",
                    latex_escape(mean),
                    latex_escape(rest)
                ),
                None => latex_escape(c),
            })
            .collect();
        out.push_str(&cells.join(" & "));
        out.push_str(" \\\\\n");
    }
    out.push_str("\\bottomrule\n\\end{tabular}\n\\end{table}\n");
    out
}

/// The numbers behind a table as a polars frame: one row per table row, the means, interval
/// ends, spreads and paired differences as numeric columns (empty where there is no value).
pub fn frame(
    data: &ReportData,
    tables: &Tables,
    spec: &TableSpec,
    protocol: &str,
) -> Result<DataFrame> {
    let n = data.entities.len();
    let mut columns: Vec<Column> = Vec::new();
    columns.push(Column::new(
        "method".into(),
        data.entities
            .iter()
            .map(|e| e.method.clone())
            .collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "label".into(),
        data.entities
            .iter()
            .map(|e| e.label.clone())
            .collect::<Vec<_>>(),
    ));
    for c in &data.columns {
        let values: Vec<Option<String>> = data
            .entities
            .iter()
            .map(|e| {
                e.variant
                    .iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| v.clone())
            })
            .collect();
        columns.push(Column::new(c.as_str().into(), values));
    }
    columns.push(Column::new(
        "protocol".into(),
        vec![protocol.to_string(); n],
    ));
    let cell = |i: usize, m: Metric| tables.cell(i, protocol, m);
    for &m in spec.metrics {
        let name = m.name();
        let pick = |f: &dyn Fn(&super::tables::Cell) -> Option<f64>| -> Vec<Option<f64>> {
            (0..n).map(|i| cell(i, m).and_then(f)).collect()
        };
        columns.push(Column::new(name.into(), pick(&|c| Some(c.mean))));
        columns.push(Column::new(
            format!("{name}_lower").into(),
            pick(&|c| Some(c.lower)),
        ));
        columns.push(Column::new(
            format!("{name}_upper").into(),
            pick(&|c| Some(c.upper)),
        ));
        columns.push(Column::new(
            format!("{name}_seed_sd").into(),
            pick(&|c| c.seed_sd),
        ));
        columns.push(Column::new(
            format!("{name}_diff").into(),
            pick(&|c| c.diff.map(|d| d.mean)),
        ));
        columns.push(Column::new(
            format!("{name}_diff_lower").into(),
            pick(&|c| c.diff.map(|d| d.lower)),
        ));
        columns.push(Column::new(
            format!("{name}_diff_upper").into(),
            pick(&|c| c.diff.map(|d| d.upper)),
        ));
    }
    let first = spec.metrics.first().copied().unwrap_or(Metric::Psnr);
    columns.push(Column::new(
        "seeds".into(),
        (0..n)
            .map(|i| cell(i, first).map(|c| c.seeds as i64))
            .collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "images".into(),
        (0..n)
            .map(|i| cell(i, first).map(|c| c.images as i64))
            .collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "reference".into(),
        vec![data.entities[data.reference].label.clone(); n],
    ));
    DataFrame::new_infer_height(columns).map_err(polars_error("building a table"))
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Writes Table 1, Table 2 and the all-metrics table of every protocol as Markdown, CSV and
/// LaTeX into `dir`; returns the files.
/// The landmark networks of the experiment: role, spec, training and test NRMSE on clean HR
/// test faces (PROTOCOL's NRMSE, x100).
pub fn landmark_table(data: &ReportData) -> TextTable {
    let header = [
        "network",
        "key",
        "status",
        "widths",
        "hidden",
        "steps",
        "train faces",
        "images/s",
        "test NRMSE (clean HR)",
        "test faces",
    ]
    .map(String::from)
    .to_vec();
    let rows = data
        .landmarks
        .iter()
        .map(|l| {
            let widths = l
                .spec
                .widths
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join("-");
            let r = l.record.as_ref();
            let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            vec![
                match l.role.as_str() {
                    "loss" => "semantic structure loss".to_string(),
                    "eval" => "evaluation detector".to_string(),
                    other => other.to_string(),
                },
                l.key.clone(),
                l.status.clone(),
                widths,
                l.spec.hidden.to_string(),
                or_dash(r.map(|r| r.steps.to_string())),
                or_dash(r.map(|r| r.train_images.to_string())),
                or_dash(r.map(|r| format!("{:.1}", r.images_per_s))),
                or_dash(r.and_then(|r| r.test_nrmse).map(|v| format!("{v:.3}"))),
                or_dash(r.map(|r| r.test_images.to_string())),
            ]
        })
        .collect();
    TextTable {
        header,
        rows,
        has_values: !data.landmarks.is_empty(),
    }
}

pub fn write_all(data: &ReportData, tables: &Tables, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    if !data.landmarks.is_empty() {
        let md = dir.join("landmark_networks.md");
        write_text(
            &md,
            &format!(
                "### Landmark networks ({}; NRMSE on clean 128x128 test faces, x100)\n\n{}",
                data.experiment,
                markdown(&landmark_table(data))
            ),
        )?;
        files.push(md);
    }
    for protocol in &data.protocols {
        for spec in [TABLE1, TABLE2, ALL_METRICS] {
            let text = text_table(data, tables, &spec, protocol);
            if spec.name == TABLE2.name && !text.has_values {
                continue;
            }
            let stem = format!("{}_{}", spec.name, file_stem(&protocol.replace(':', "-")));
            let caption = format!(
                "{} ({}, {} occlusion{}; mean [95% bootstrap interval{}] over test images)",
                spec.title,
                data.experiment,
                protocol,
                data.scoring().caption(),
                match tables.resample {
                    Resample::Images => "",
                    Resample::Identities => ", resampling identities",
                }
            );
            let md = dir.join(format!("{stem}.md"));
            write_text(&md, &format!("### {caption}\n\n{}", markdown(&text)))?;
            let tex = dir.join(format!("{stem}.tex"));
            write_text(&tex, &latex(&text, &caption))?;
            let csv = dir.join(format!("{stem}.csv"));
            let mut df = frame(data, tables, &spec, protocol)?;
            let mut file = std::fs::File::create(&csv).map_err(|e| Error::io(&csv, e))?;
            CsvWriter::new(&mut file)
                .include_header(true)
                .finish(&mut df)
                .map_err(polars_error("writing a CSV table"))?;
            files.extend([md, csv, tex]);
        }
    }
    Ok(files)
}
