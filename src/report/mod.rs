//! Reports regenerated from the run store: the paper's tables with bootstrap intervals
//! ([`tables`], polars), its charts ([`charts`], plotters), image grids ([`grids`]) and one
//! static HTML page ([`html`]) that ties them together with their provenance.
//!
//! The data flow is one way: [`load`] reads an experiment's runs, stages, curves and per-image
//! metric rows from the store and decides what each table row (an [`Entity`]) is; the writers
//! only read that. Nothing is computed from anything but stored rows: a cell without rows is
//! reported as missing, never filled in.
//!
//! # Rows of a table
//! A run contributes its own method's rows, labelled by the method and by the swept values that
//! differ between the experiment's runs (`ofhnet (adversarial.weight=0.001)`); the seed is not
//! part of a label, so the seeds of one configuration are aggregated into one row. Every run
//! also stores IN+bicubic behind its InpaintNet; runs that share a stage-1 InpaintNet (the
//! store records its key) share those rows, so they become one `in_bicubic` row, labelled by
//! the swept values its runs have in common.

pub mod charts;
pub mod grids;
pub mod html;
pub mod inspect;
pub mod tables;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::Value;

use crate::harness::experiment::Experiment;
use crate::harness::keys::landmark_networks;
use crate::harness::store::{RunRow, RunStatus, StageRow, Store, Versions};
use crate::harness::sweep::{short_path, value_label};
use crate::methods::bicubic::NAME as IN_BICUBIC;
use crate::metrics::Metric;
use crate::metrics::bootstrap::BootstrapConfig;
use crate::train::landmarks::{LandmarkRecord, LandmarkSpec, files as landmark_files};
use crate::{Error, Result};

/// What `ofhnet report` writes and how.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The report's directory (`reports/EXP` by default).
    pub out: PathBuf,
    /// Write the image grids (off for real faces whose licence forbids redistributing them).
    pub face_images: bool,
    /// The method (or row label) the paired differences are taken against; default: the
    /// experiment's `reference`, else the first row.
    pub reference: Option<String>,
    pub bootstrap: BootstrapConfig,
    /// The command line that made the report, for the provenance section.
    pub command: String,
}

/// One run as the report sees it.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub row: RunRow,
    /// The run's method (its rows in `metrics`).
    pub method: String,
    /// The swept values that differ between runs: `(short path, value)`.
    pub variant: Vec<(String, String)>,
    /// The protocols the run's configuration evaluates.
    pub protocols: Vec<String>,
    /// The stage-1 InpaintNet it runs behind (the shared key; the run key when unknown).
    pub stage1: String,
    pub stages: Vec<StageRow>,
    /// Scored with the flip self-ensemble (`evaluation.self_ensemble`).
    pub self_ensemble: bool,
}

/// How a report's runs were scored (`evaluation.self_ensemble`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scoring {
    OnePass,
    SelfEnsemble,
    Mixed,
}

impl Scoring {
    /// The clause that table captions add: empty for the single pass.
    pub fn caption(self) -> &'static str {
        match self {
            Scoring::OnePass => "",
            Scoring::SelfEnsemble => ", flip self-ensemble",
            Scoring::Mixed => ", some runs with the flip self-ensemble",
        }
    }

    /// The sentence that the HTML page's header adds: empty for the single pass.
    pub fn sentence(self) -> &'static str {
        match self {
            Scoring::OnePass => "",
            Scoring::SelfEnsemble => {
                " Every output is a flip self-ensemble: the mean of each stage's outputs on the \
                 face and on its mirror image (<code>evaluation.self_ensemble</code>), for every \
                 method and its IN+bicubic row; the paper scores one pass."
            }
            Scoring::Mixed => {
                " Some runs are scored with the flip self-ensemble \
                 (<code>evaluation.self_ensemble</code>) and some in one pass: compare with care."
            }
        }
    }
}

/// One row of the tables: a method under one configuration, over its seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Entity {
    /// `method` or `method (k=v, ...)`; unique within the report.
    pub label: String,
    pub method: String,
    pub variant: Vec<(String, String)>,
    /// `(seed, run key)` of the runs whose rows it takes, in seed order.
    pub runs: Vec<(i64, String)>,
}

/// Training-curve charts are drawn for at most this many runs (the first, in sweep order): a
/// 1,000-run sweep's report would otherwise be 1,000 charts.
pub const MAX_CURVE_CHARTS: usize = 24;

/// Everything a report is made from.
pub struct ReportData {
    pub experiment: String,
    pub description: String,
    /// The YAML file it was last enqueued from and the parsed spec (JSON).
    pub file: Option<String>,
    pub spec: Option<String>,
    pub runs: Vec<RunInfo>,
    /// The short paths of the swept values that differ between runs (the tables' extra
    /// columns).
    pub columns: Vec<String>,
    pub entities: Vec<Entity>,
    /// Index of the reference entity in `entities`.
    pub reference: usize,
    /// Every protocol, in the order the experiment lists them.
    pub protocols: Vec<String>,
    /// One row per (entity, seed, protocol, image): columns `entity` (label), `seed`,
    /// `protocol`, `image`, `image_name`, `identity` (null where unknown), then one per
    /// [`Metric`] (its name; null where missing).
    pub metrics: DataFrame,
    /// Training-curve points per run key: `(stage, step, term, value)`.
    pub curves: HashMap<String, Vec<(String, i64, String, f64)>>,
    /// The landmark networks the runs use (the semantic loss's and the evaluation detector).
    pub landmarks: Vec<LandmarkInfo>,
}

/// A landmark network of the experiment, as the store and its directory describe it.
#[derive(Clone, Debug)]
pub struct LandmarkInfo {
    /// `loss` (the semantic structure loss's network) or `eval` (the evaluation detector).
    pub role: String,
    pub key: String,
    pub spec: LandmarkSpec,
    /// `done`, `training`, or `not trained`.
    pub status: String,
    /// `landmarks.json` of a trained network: steps, faces, speed and test NRMSE on clean HR.
    pub record: Option<LandmarkRecord>,
}

impl ReportData {
    /// How the runs were scored: in one pass, with the flip self-ensemble, or some of each.
    pub fn scoring(&self) -> Scoring {
        let with = self.runs.iter().filter(|r| r.self_ensemble).count();
        if with == 0 {
            Scoring::OnePass
        } else if with == self.runs.len() {
            Scoring::SelfEnsemble
        } else {
            Scoring::Mixed
        }
    }

    /// Gives each metric row without a stored identity the one `identities` has for its image
    /// name (rows written before the store kept identities); returns how many it filled.
    pub fn fill_identities(&mut self, identities: &HashMap<String, u64>) -> Result<usize> {
        let names = self
            .metrics
            .column("image_name")
            .map_err(polars_error("reading image names"))?
            .str()
            .map_err(polars_error("reading image names"))?
            .clone();
        let stored = self
            .metrics
            .column("identity")
            .map_err(polars_error("reading identities"))?
            .cast(&DataType::Int64)
            .map_err(polars_error("reading identities"))?
            .i64()
            .map_err(polars_error("reading identities"))?
            .clone();
        let mut filled = 0;
        let column: Vec<Option<i64>> = names
            .iter()
            .zip(stored.iter())
            .map(
                |(name, id)| match (id, name.and_then(|n| identities.get(n))) {
                    (Some(id), _) => Some(id),
                    (None, Some(&found)) => {
                        filled += 1;
                        i64::try_from(found).ok()
                    }
                    (None, None) => None,
                },
            )
            .collect();
        self.metrics
            .with_column(Column::new("identity".into(), column))
            .map_err(polars_error("filling identities"))?;
        Ok(filled)
    }

    /// Runs that are not done, as `name (key): status[: error]`.
    pub fn unfinished(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter(|r| r.row.status != RunStatus::Done)
            .map(|r| {
                let mut s = format!("run {} ({}): {}", r.row.name, r.row.key, r.row.status);
                if let Some(e) = &r.row.error {
                    s.push_str(": ");
                    s.push_str(e.lines().next().unwrap_or(""));
                }
                s
            })
            .collect()
    }

    /// The run with this key.
    pub fn run(&self, key: &str) -> Option<&RunInfo> {
        self.runs.iter().find(|r| r.row.key == key)
    }
}

/// A polars error as ofhnet's.
pub(crate) fn polars_error(what: &str) -> impl FnOnce(PolarsError) -> Error + '_ {
    move |e| Error::invalid("report", format!("{what}: {e}"))
}

/// Reads an experiment's current definition from the store. `reference` overrides the
/// experiment's reference method.
pub fn load(store: &Store, experiment: &str, reference: Option<&str>) -> Result<ReportData> {
    load_versions(store, experiment, reference, Versions::Current)
}

/// Reads an experiment from the store: its current definition, or every definition it had
/// (`Versions::All`). A row never mixes runs of two definitions: with the history, every run's
/// variant names its version (when there is more than one).
pub fn load_versions(
    store: &Store,
    experiment: &str,
    reference: Option<&str>,
    versions: Versions,
) -> Result<ReportData> {
    let rows = store.runs(Some(experiment), versions)?;
    let several_versions = rows
        .first()
        .is_some_and(|f| rows.iter().any(|r| r.last_version != f.last_version));
    if rows.is_empty() {
        let known: Vec<String> = store.experiments()?.into_iter().map(|e| e.0).collect();
        return Err(Error::invalid(
            "EXP",
            format!(
                "no experiment `{experiment}` in {}; it has: {}",
                store.url(),
                if known.is_empty() {
                    "none (run `ofhnet run FILE` first)".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ));
    }
    let record = store.experiment_record(experiment)?;
    let (file, spec) = match record {
        Some((f, s)) => (Some(f), Some(s)),
        None => (None, None),
    };
    let spec_experiment: Option<Experiment> =
        spec.as_deref().and_then(|s| serde_json::from_str(s).ok());

    // The swept values of every run, and the paths whose values differ.
    let mut swept: Vec<Vec<(String, Value)>> = Vec::with_capacity(rows.len());
    for r in &rows {
        let v: Value = serde_json::from_str(&r.swept).map_err(|e| {
            Error::invalid(
                "run store",
                format!("run {} ({}): stored swept values: {e}", r.name, r.key),
            )
        })?;
        let pairs = match v {
            Value::Object(m) => m.into_iter().collect(),
            _ => Vec::new(),
        };
        swept.push(pairs);
    }
    let mut configs = Vec::with_capacity(rows.len());
    for r in &rows {
        configs.push(r.experiment_config()?);
    }
    let labels: Vec<&str> = configs.iter().map(|c| c.method.label()).collect();
    let differing = differing_paths(&swept, &labels);
    let value_of = |i: usize, path: &str| -> Option<&Value> {
        swept[i].iter().find(|(p, _)| p == path).map(|(_, v)| v)
    };
    let mut columns: Vec<String> = differing.iter().map(|p| short_path(p)).collect();
    if several_versions {
        columns.insert(0, "version".into());
    }

    let mut all_stages = store.experiment_stages(experiment)?;
    let mut runs = Vec::with_capacity(rows.len());
    for (i, (row, config)) in rows.into_iter().zip(&configs).enumerate() {
        let mut variant: Vec<(String, String)> = differing
            .iter()
            .map(|p| {
                (
                    short_path(p),
                    value_of(i, p)
                        .map(value_label)
                        .unwrap_or_else(|| "-".into()),
                )
            })
            .collect();
        if several_versions {
            variant.insert(0, ("version".into(), format!("v{}", row.last_version)));
        }
        let stages = all_stages.remove(&row.key).unwrap_or_default();
        let mut stage1 = stages
            .iter()
            .find(|s| s.stage == "stage1")
            .and_then(|s| s.shared_key.clone())
            .unwrap_or_else(|| row.key.clone());
        if several_versions {
            // IN+bicubic rows are grouped by InpaintNet; two definitions are two groups.
            stage1 = format!("{stage1}@v{}", row.last_version);
        }
        runs.push(RunInfo {
            method: config.method.label().to_string(),
            variant,
            protocols: config
                .evaluation
                .protocols
                .iter()
                .map(|p| p.to_string())
                .collect(),
            stage1,
            stages,
            self_ensemble: config.evaluation.self_ensemble,
            row,
        });
    }

    let groups_stored = store.metric_groups(experiment)?;
    let with_bicubic_rows: HashSet<&str> = groups_stored
        .iter()
        .filter(|g| g.method == IN_BICUBIC)
        .map(|g| g.run_key.as_str())
        .collect();
    let (entities, source) = entities(&runs, &with_bicubic_rows);

    // Metric rows: each entity takes, per protocol, the rows of one run per seed (the group's
    // IN+bicubic rows come from the first member run that has them). The choice is made on the
    // stored evaluations; only the chosen ones are read.
    let seed_of: HashMap<&str, i64> = runs
        .iter()
        .map(|r| (r.row.key.as_str(), r.row.seed))
        .collect();
    // (entity label, seed, protocol) -> the chosen evaluation (run key, method); `groups_stored`
    // is in run order, so the first run wins.
    let mut chosen: HashMap<(String, i64, String), (&str, &str)> = HashMap::new();
    for g in &groups_stored {
        let Some(label) = source.get(&(g.run_key.clone(), g.method.clone())) else {
            continue;
        };
        let seed = seed_of.get(g.run_key.as_str()).copied().unwrap_or(0);
        chosen
            .entry((label.clone(), seed, g.protocol.clone()))
            .or_insert((g.run_key.as_str(), g.method.as_str()));
    }
    let mut picks: Vec<_> = chosen.iter().collect();
    picks.sort();
    let wanted_rows: Vec<(&str, &str, &str)> = picks
        .iter()
        .map(|((_, _, protocol), (run, method))| (*run, protocol.as_str(), *method))
        .collect();
    let read = store.metric_rows(&wanted_rows)?;
    let total: usize = read.iter().map(Vec::len).sum();
    let mut c_entity = Vec::with_capacity(total);
    let mut c_seed = Vec::with_capacity(total);
    let mut c_protocol = Vec::with_capacity(total);
    let mut c_image = Vec::with_capacity(total);
    let mut c_name = Vec::with_capacity(total);
    let mut c_identity = Vec::with_capacity(total);
    let mut values: Vec<Vec<Option<f64>>> = Metric::ALL
        .iter()
        .map(|_| Vec::with_capacity(total))
        .collect();
    for (((label, seed, protocol), _), rows) in picks.iter().zip(read) {
        for m in rows {
            c_entity.push(label.clone());
            c_seed.push(*seed);
            c_protocol.push(protocol.clone());
            c_image.push(m.image);
            c_name.push(m.image_name);
            c_identity.push(m.identity);
            for (column, (_, v)) in values.iter_mut().zip(m.values.iter()) {
                column.push(v);
            }
        }
    }
    let mut metrics = df!(
        "entity" => c_entity,
        "seed" => c_seed,
        "protocol" => c_protocol,
        "image" => c_image,
        "image_name" => c_name,
        "identity" => c_identity,
    )
    .map_err(polars_error("building the metric table"))?;
    for (m, column) in Metric::ALL.iter().zip(values) {
        metrics
            .with_column(Column::new(m.name().into(), column))
            .map_err(polars_error("building the metric table"))?;
    }

    let mut protocols: Vec<String> = Vec::new();
    for r in &runs {
        for p in &r.protocols {
            if !protocols.contains(p) {
                protocols.push(p.clone());
            }
        }
    }
    for g in &groups_stored {
        if !protocols.contains(&g.protocol) {
            protocols.push(g.protocol.clone());
        }
    }

    let wanted = reference
        .map(str::to_string)
        .or_else(|| spec_experiment.as_ref().and_then(|e| e.reference.clone()))
        .or_else(|| configs.first().and_then(|c| c.reference.clone()));
    let reference = match &wanted {
        None => 0,
        Some(w) => entities
            .iter()
            .position(|e| &e.label == w)
            .or_else(|| entities.iter().position(|e| &e.method == w))
            .ok_or_else(|| {
                Error::invalid(
                    "reference",
                    format!(
                        "`{w}` is neither a method nor a row of experiment `{experiment}`; its \
                         rows are: {}",
                        entities
                            .iter()
                            .map(|e| e.label.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?,
    };

    let mut curves = HashMap::new();
    for r in runs.iter().take(MAX_CURVE_CHARTS) {
        let mut points = store.curves(&r.row.key)?;
        // A stage that reused another run's model (Table 2 and the sweeps evaluate Table 1's)
        // logged nothing itself: its curves are those of the run that trained the model.
        for stage in r.stages.iter().filter(|s| s.reused) {
            if points.iter().any(|p| p.0 == stage.stage) {
                continue;
            }
            let Some(key) = &stage.shared_key else {
                continue;
            };
            if let Some(shared) = store.shared_entry(key)? {
                let owner = store.curves(&shared.owner)?;
                points.extend(owner.into_iter().filter(|p| p.0 == stage.stage));
            }
        }
        points.sort_by(|a, b| (&a.0, &a.2, a.1).cmp(&(&b.0, &b.2, b.1)));
        curves.insert(r.row.key.clone(), points);
    }

    let mut landmarks: Vec<LandmarkInfo> = Vec::new();
    for c in &configs {
        for (role, key, spec) in landmark_networks(c) {
            if landmarks.iter().any(|l| l.key == key) {
                continue;
            }
            let (status, record) = match store.shared_entry(&key)? {
                None => ("not trained".to_string(), None),
                Some(shared) => {
                    let record = std::fs::read_to_string(shared.path.join(landmark_files::RECORD))
                        .ok()
                        .and_then(|t| serde_json::from_str::<LandmarkRecord>(&t).ok());
                    (shared.status.to_string(), record)
                }
            };
            landmarks.push(LandmarkInfo {
                role: role.to_string(),
                key,
                spec,
                status,
                record,
            });
        }
    }

    Ok(ReportData {
        experiment: experiment.to_string(),
        description: spec_experiment
            .as_ref()
            .map(|e| e.description.clone())
            .or_else(|| configs.first().map(|c| c.description.clone()))
            .unwrap_or_default(),
        file,
        spec,
        runs,
        columns,
        entities,
        reference,
        protocols,
        metrics,
        curves,
        landmarks,
    })
}

/// What [`write`] produced.
#[derive(Clone, Debug, Default)]
pub struct ReportSummary {
    /// Every file written, relative to the report directory.
    pub files: Vec<PathBuf>,
    /// What the report could not show, and why.
    pub missing: Vec<String>,
    /// Files of an older report in the same folder that this one did not write (removed).
    pub removed: Vec<PathBuf>,
}

/// The folders of a report directory that the report owns: files in them that a report did not
/// write are an older report's, and are removed.
const OWNED: [&str; 3] = ["tables", "charts", "grids"];

/// Writes the whole report into `options.out`.
pub fn write(data: &ReportData, options: &ReportOptions) -> Result<ReportSummary> {
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut summary = ReportSummary::default();
    let tables = tables::compute(data, &options.bootstrap)?;
    summary.missing.extend(data.unfinished());
    summary.missing.extend(tables::missing_cells(data, &tables));
    summary
        .files
        .extend(tables::write_all(data, &tables, &out.join("tables"))?);
    let charts = charts::write_all(data, &tables, &out.join("charts"))?;
    summary.files.extend(charts.files.iter().cloned());
    summary.missing.extend(charts.missing.iter().cloned());
    let grids = if options.face_images {
        let g = grids::write_all(data, &out.join("grids"))?;
        summary.missing.extend(g.missing.iter().cloned());
        summary.files.extend(g.files.iter().cloned());
        Some(g)
    } else {
        None
    };
    let page = html::write(
        data,
        &tables,
        &charts,
        grids.as_ref(),
        &summary.missing,
        options,
        &out.join("index.html"),
    )?;
    summary.files.push(page);
    let strip = |p: &Path| {
        p.strip_prefix(out)
            .map(Path::to_path_buf)
            .unwrap_or(p.into())
    };
    summary.files = summary.files.iter().map(|p| strip(p)).collect();
    let written: HashSet<&Path> = summary.files.iter().map(PathBuf::as_path).collect();
    let mut removed = Vec::new();
    for dir in OWNED {
        remove_unwritten(out, Path::new(dir), &written, &mut removed)?;
    }
    summary.removed = removed;
    Ok(summary)
}

/// Removes the files under `out/rel` that are not in `written` (paths relative to `out`), and
/// the folders left empty; records each removed file in `removed`.
fn remove_unwritten(
    out: &Path,
    rel: &Path,
    written: &HashSet<&Path>,
    removed: &mut Vec<PathBuf>,
) -> Result<()> {
    let dir = out.join(rel);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&dir, e))?;
        let path = rel.join(entry.file_name());
        let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if kind.is_dir() {
            remove_unwritten(out, &path, written, removed)?;
        } else if !written.contains(path.as_path()) {
            std::fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            removed.push(path);
        }
    }
    let empty = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .next()
        .is_none();
    if empty {
        std::fs::remove_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    Ok(())
}

/// A file name made of letters, digits, `-`, `_`, `=` and `.` only.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The longest file stem [`run_file_stem`] writes as it is.
pub const MAX_RUN_STEM: usize = 96;

/// A run's file stem: [`file_stem`] of its name, or, for a name longer than [`MAX_RUN_STEM`]
/// (a sweep of many axes names its runs by all of them), its first 72 characters (cut at a
/// separator), its last value (the seed) and the run key's first 12 digits: a path that every
/// file system and checkout takes (a component is at most 255 bytes, and Windows' paths 260
/// characters), still unique and still readable.
pub fn run_file_stem(name: &str, key: &str) -> String {
    let stem = file_stem(name);
    if stem.len() <= MAX_RUN_STEM {
        return stem;
    }
    // Cut at the name's last separator (`,` between values, `+` inside a block) within 72
    // characters, so that no value is cut in two.
    let head: String = name.chars().take(72).collect();
    let head = match head.rfind([',', '+']) {
        Some(i) if i > 0 => file_stem(&head[..i]),
        _ => file_stem(&head),
    };
    // The last value (the seed) is worth keeping in sight.
    let tail = name
        .rsplit(',')
        .next()
        .filter(|t| t.len() <= 12)
        .map(|t| format!("-{}", file_stem(t)))
        .unwrap_or_default();
    let key: String = key.chars().take(12).collect();
    format!("{head}{tail}-{}", file_stem(&key))
}

/// `YYYY-MM-DD HH:MM:SS UTC` for Unix seconds.
pub fn utc(seconds: f64) -> String {
    let s = seconds.floor() as i64;
    let (days, rem) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The swept paths whose values differ between runs (`swept[i]`: run i's `(path, value)`), in
/// first-seen order: the report's variant columns. A swept `method` is no column when its values
/// and the runs' method labels (`labels[i]`) match one to one: the method column says it all;
/// nor is a path that takes one value per method label when the method is swept.
fn differing_paths(swept: &[Vec<(String, Value)>], labels: &[&str]) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for pairs in swept {
        for (p, _) in pairs {
            if !paths.contains(p) {
                paths.push(p.clone());
            }
        }
    }
    let value_of = |i: usize, path: &str| -> Option<&Value> {
        swept[i].iter().find(|(p, _)| p == path).map(|(_, v)| v)
    };
    let mut differing: Vec<String> = paths
        .into_iter()
        .filter(|p| {
            let first = value_of(0, p);
            (1..swept.len()).any(|i| value_of(i, p) != first)
        })
        .collect();
    // A swept `method` reads as the method column when its values and the labels match one
    // to one.
    if differing.iter().any(|p| p == "method") {
        let mut values: Vec<String> = Vec::new();
        let mut distinct: Vec<&str> = Vec::new();
        for (i, label) in labels.iter().enumerate() {
            let v = value_of(i, "method")
                .map(|v| v.to_string())
                .unwrap_or_default();
            if !values.contains(&v) {
                values.push(v);
            }
            if !distinct.contains(label) {
                distinct.push(label);
            }
        }
        if values.len() == distinct.len() {
            differing.retain(|p| p != "method");
        }
    }
    // A path zipped with a swept `method` that takes one value per method label (table1.yaml's
    // `losses.adversarial`: off for OFHNet, the file's weight for the baselines) is part of
    // each method's configuration, as the method's own options are (which upsample widths, for
    // instance): no column. It stays a column where it tells runs of one method apart.
    let method_swept = swept.iter().flatten().any(|(p, _)| p == "method");
    if method_swept {
        differing.retain(|p| {
            p == "method"
                || (0..swept.len()).any(|i| {
                    (0..i).any(|j| labels[j] == labels[i] && value_of(j, p) != value_of(i, p))
                })
        });
    }
    differing
}

/// The rows of the report's tables: each run's own method under its variant (seeds of one
/// configuration together), and one IN+bicubic per stage-1 InpaintNet, taken from the runs
/// behind it (an explicit `in_bicubic` run stands for its group; a group none of whose runs has
/// reached stage 1, nor has IN+bicubic rows in `with_bicubic_rows`, has none yet). Also returns
/// which entity each (run key, metric method) feeds. Entities are in run order, with IN+bicubic
/// where an explicit in_bicubic run stands, else after the runs' own methods.
fn entities(
    runs: &[RunInfo],
    with_bicubic_rows: &HashSet<&str>,
) -> (Vec<Entity>, HashMap<(String, String), String>) {
    // Entities: each run's own method, and one IN+bicubic per stage-1 InpaintNet.
    let label_of = |method: &str, variant: &[(String, String)]| {
        if variant.is_empty() {
            method.to_string()
        } else {
            let v: Vec<String> = variant.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{method} ({})", v.join(", "))
        }
    };
    let mut entities: Vec<Entity> = Vec::new();
    // (run key, metric method) -> entity label, for the rows this report takes.
    let mut source: HashMap<(String, String), String> = HashMap::new();
    let add = |entities: &mut Vec<Entity>,
               method: &str,
               variant: Vec<(String, String)>,
               seed: i64,
               run: &str,
               distinguish: &str| {
        let mut label = label_of(method, &variant);
        let taken = |label: &str| {
            entities
                .iter()
                .find(|e| e.label == label)
                .is_some_and(|e| e.runs.iter().any(|(s, _)| *s == seed))
        };
        if taken(&label) {
            label = format!("{label} [{distinguish}]");
        }
        match entities.iter_mut().find(|e| e.label == label) {
            Some(e) => e.runs.push((seed, run.to_string())),
            None => entities.push(Entity {
                label: label.clone(),
                method: method.to_string(),
                variant,
                runs: vec![(seed, run.to_string())],
            }),
        }
        label
    };
    for r in runs.iter().filter(|r| r.method != IN_BICUBIC) {
        let label = add(
            &mut entities,
            &r.method,
            r.variant.clone(),
            r.row.seed,
            &r.row.key,
            &r.row.key[..6.min(r.row.key.len())],
        );
        source.insert((r.row.key.clone(), r.method.clone()), label);
    }
    // IN+bicubic: group runs by stage 1 (in run order); an explicit in_bicubic run keeps its
    // place in the order.
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        match groups.iter_mut().find(|g| g.0 == r.stage1) {
            Some(g) => g.1.push(i),
            None => groups.push((r.stage1.clone(), vec![i])),
        }
    }
    for (stage1, members) in &groups {
        // Runs that have not reached stage 1 yet have no IN+bicubic of their own.
        let started = members.iter().any(|&m| {
            runs[m].method == IN_BICUBIC
                || runs[m].stages.iter().any(|s| s.stage == "stage1")
                || with_bicubic_rows.contains(runs[m].row.key.as_str())
        });
        if !started {
            continue;
        }
        let first = &runs[members[0]];
        let variant: Vec<(String, String)> = first
            .variant
            .iter()
            .filter(|(k, v)| {
                members
                    .iter()
                    .all(|&m| runs[m].variant.iter().any(|(k2, v2)| k2 == k && v2 == v))
            })
            .cloned()
            .collect();
        // The run whose IN+bicubic rows stand for the group: an explicit in_bicubic run if
        // there is one, else the first.
        let owner = members
            .iter()
            .copied()
            .find(|&m| runs[m].method == IN_BICUBIC)
            .unwrap_or(members[0]);
        let label = add(
            &mut entities,
            IN_BICUBIC,
            variant,
            first.row.seed,
            &runs[owner].row.key,
            &stage1[..stage1.len().min(16)],
        );
        for &m in members {
            source.insert(
                (runs[m].row.key.clone(), IN_BICUBIC.to_string()),
                label.clone(),
            );
        }
    }
    // Order: the runs' own methods in run order, with IN+bicubic where an explicit in_bicubic
    // run stands, else after them.
    let position = |e: &Entity| -> usize {
        let (_, key) = &e.runs[0];
        let ordinal = runs.iter().position(|r| &r.row.key == key).unwrap_or(0);
        if e.method == IN_BICUBIC && runs[ordinal].method != IN_BICUBIC {
            runs.len() + ordinal
        } else {
            ordinal
        }
    };
    entities.sort_by_key(|e| position(e));
    for e in &mut entities {
        e.runs.sort();
    }
    (entities, source)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::harness::store::{RunStatus, StageStatus};

    fn run(key: &str, method: &str, seed: i64, stage1: Option<&str>) -> RunInfo {
        let row = RunRow {
            key: key.into(),
            experiment: "e".into(),
            name: format!("{method},seed={seed}"),
            ordinal: 0,
            seed,
            swept: "{}".into(),
            config: "{}".into(),
            status: RunStatus::Done,
            attempts: 1,
            worker: None,
            host: None,
            device: None,
            git_commit: None,
            git_dirty: None,
            heartbeat: None,
            enqueued_at: 0.0,
            started_at: None,
            finished_at: None,
            train_seconds: None,
            eval_seconds: None,
            artifacts: None,
            error: None,
            version: 1,
            last_version: 1,
            prunable: false,
            slurm_job: None,
            slurm_task: None,
        };
        let stages = stage1
            .map(|k| StageRow {
                stage: "stage1".into(),
                status: StageStatus::Done,
                shared_key: Some(k.into()),
                ..StageRow::default()
            })
            .into_iter()
            .collect();
        RunInfo {
            method: method.into(),
            variant: Vec::new(),
            protocols: vec!["random".into()],
            stage1: stage1.unwrap_or(key).into(),
            stages,
            self_ensemble: false,
            row,
        }
    }

    /// A short run name is its file stem as it is; a long one (table1.yaml's OFHNet runs are
    /// named by eight swept values) is cut to a stem that any checkout takes, told apart by key.
    #[test]
    fn a_long_run_name_gets_a_short_stem_that_the_key_keeps_unique() {
        assert_eq!(
            run_file_stem("weight=0.01,seed=0", "0123456789abcdef"),
            "weight=0.01_seed=0"
        );
        let long = format!("method=ofhnet,{},seed=0", "stage2.batch_size=8,".repeat(10));
        let a = run_file_stem(&long, "0123456789abcdef");
        let b = run_file_stem(&long.replace("seed=0", "seed=1"), "fedcba9876543210");
        assert!(
            a.len() <= MAX_RUN_STEM && b.len() <= MAX_RUN_STEM,
            "{a} {b}"
        );
        assert!(a.starts_with("method=ofhnet_stage2.batch_size=8"), "{a}");
        assert!(
            a.contains("batch_size=8-seed=0"),
            "no value cut in two: {a}"
        );
        assert!(a.ends_with("-seed=0-0123456789ab"), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_swept_method_is_no_column_and_constant_paths_are_dropped() {
        let swept = |m: &str, lr: f64| {
            vec![
                ("method".to_string(), json!({"type": m})),
                ("stages.stage2.lr".to_string(), json!(lr)),
                ("data.split".to_string(), json!("official")),
            ]
        };
        // The learning rate tells OFHNet's two runs apart: a column.
        let runs = [
            swept("in_vdsr", 0.1),
            swept("ofhnet", 0.2),
            swept("ofhnet", 0.4),
        ];
        assert_eq!(
            differing_paths(&runs, &["in_vdsr", "ofhnet", "ofhnet"]),
            ["stages.stage2.lr"]
        );
        // One value per method (a loss block zipped with the method, as in table1.yaml): part
        // of the method's configuration, no column.
        let runs = [swept("in_vdsr", 0.1), swept("ofhnet", 0.2)];
        assert!(differing_paths(&runs, &["in_vdsr", "ofhnet"]).is_empty());
        // Two presets of one method: the method values differ but the labels do not, so the
        // column stays.
        let runs = [
            vec![(
                "method".to_string(),
                json!({"type": "ofhnet", "preset": "tiny"}),
            )],
            vec![(
                "method".to_string(),
                json!({"type": "ofhnet", "preset": "cpu"}),
            )],
        ];
        assert_eq!(differing_paths(&runs, &["ofhnet", "ofhnet"]), ["method"]);
    }

    #[test]
    fn seeds_make_one_entity_and_each_inpaintnet_its_in_bicubic_seed() {
        // table1's shape: an explicit IN+bicubic run, OFHNet at seeds 0..2 (seeds 1 and 2
        // behind their own InpaintNets), and a run that has not reached stage 1 yet.
        let runs = [
            run("k-bicubic", IN_BICUBIC, 0, Some("stage1-a")),
            run("k-of0", "ofhnet", 0, Some("stage1-a")),
            run("k-of1", "ofhnet", 1, Some("stage1-b")),
            run("k-of2", "ofhnet", 2, Some("stage1-c")),
            run("k-vdsr", "in_vdsr", 0, None),
        ];
        let (found, source) = entities(&runs, &HashSet::new());
        let rows: Vec<(&str, Vec<(i64, &str)>)> = found
            .iter()
            .map(|e| {
                let runs = e.runs.iter().map(|(s, k)| (*s, k.as_str())).collect();
                (e.label.as_str(), runs)
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "in_bicubic",
                    vec![(0, "k-bicubic"), (1, "k-of1"), (2, "k-of2")]
                ),
                ("ofhnet", vec![(0, "k-of0"), (1, "k-of1"), (2, "k-of2")]),
                ("in_vdsr", vec![(0, "k-vdsr")]),
            ]
        );
        // OFHNet seed 1's IN+bicubic rows come from its own run (its InpaintNet); seed 0's
        // from the explicit run, which stands for its group.
        let feeds = |key: &str, method: &str| source.get(&(key.into(), method.into())).cloned();
        assert_eq!(feeds("k-of1", IN_BICUBIC).as_deref(), Some("in_bicubic"));
        assert_eq!(feeds("k-of0", IN_BICUBIC).as_deref(), Some("in_bicubic"));
        assert_eq!(feeds("k-of2", "ofhnet").as_deref(), Some("ofhnet"));
        assert_eq!(feeds("k-vdsr", IN_BICUBIC), None, "not at stage 1 yet");
        // Once its IN+bicubic rows are stored, a run counts as started.
        let stored: HashSet<&str> = ["k-vdsr"].into_iter().collect();
        let (found, _) = entities(&runs, &stored);
        assert!(
            found.iter().any(|e| e.label == "in_bicubic [k-vdsr]"),
            "{found:?}"
        );
    }
}
