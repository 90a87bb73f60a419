//! The one list of the metrics a method is scored on. Everything that stores, tabulates, prints
//! or writes scores iterates over [`Metric::ALL`]: the per-face [`Values`], the store's `metrics`
//! columns, the report's frames and tables, the CLI printers and the CSV files.
//!
//! Adding a metric is one variant here (with its arm in each `match` below: its column name,
//! title, unit, direction, decimals and its function in [`Metric::score`]) and one migration that
//! adds its column to the store's `metrics` table (nullable, so that rows scored before it stay).

use std::io::Write;
use std::path::Path;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::landmarks::nrmse;
use super::parsing::{mean_iou, parsing_map};
use super::psnr_ssim::{psnr, psnr_y, ssim, ssim_y};
use crate::data::landmarks::Landmarks68;
use crate::{Error, Result};

/// How many metrics there are.
pub const COUNT: usize = 6;

/// A metric of one output face against its ground truth (PROTOCOL.md, "Metrics").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// PSNR over all RGB samples, dB.
    Psnr,
    /// SSIM, the mean over the R, G and B channels (Wang et al.'s configuration).
    Ssim,
    /// PSNR of the BT.601 luma, dB.
    PsnrY,
    /// SSIM of the BT.601 luma.
    SsimY,
    /// 68-point NRMSE (x100) between the evaluation detector's points on the output and on the
    /// ground truth, normalised by the ground truth's outer-eye-corner distance.
    Nrmse,
    /// Mean IoU of the face-parsing maps drawn from those two sets of points.
    Iou,
}

/// Which way a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

/// What a metric is computed from: an output face, its ground truth and, with an evaluation
/// detector, the 68 points detected on each (`(ground truth, output)`).
#[derive(Clone, Copy, Debug)]
pub struct Face<'a> {
    pub reference: &'a RgbImage,
    pub output: &'a RgbImage,
    pub points: Option<(&'a Landmarks68, &'a Landmarks68)>,
}

impl Metric {
    /// Every metric, in the order of tables, columns and CSVs.
    pub const ALL: [Metric; COUNT] = [
        Metric::Psnr,
        Metric::Ssim,
        Metric::PsnrY,
        Metric::SsimY,
        Metric::Nrmse,
        Metric::Iou,
    ];

    /// The name in the store's columns, the CSV headers and the report's frames.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Psnr => "psnr",
            Metric::Ssim => "ssim",
            Metric::PsnrY => "psnr_y",
            Metric::SsimY => "ssim_y",
            Metric::Nrmse => "nrmse",
            Metric::Iou => "iou",
        }
    }

    /// The heading in tables, charts and printouts.
    pub fn title(self) -> &'static str {
        match self {
            Metric::Psnr => "PSNR (dB)",
            Metric::Ssim => "SSIM",
            Metric::PsnrY => "PSNR-Y (dB)",
            Metric::SsimY => "SSIM-Y",
            Metric::Nrmse => "NRMSE (x100)",
            Metric::Iou => "IoU",
        }
    }

    /// The unit ("" for a ratio).
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Psnr | Metric::PsnrY => "dB",
            Metric::Nrmse => "x100",
            Metric::Ssim | Metric::SsimY | Metric::Iou => "",
        }
    }

    pub fn direction(self) -> Direction {
        match self {
            Metric::Nrmse => Direction::LowerIsBetter,
            _ => Direction::HigherIsBetter,
        }
    }

    pub fn higher_is_better(self) -> bool {
        self.direction() == Direction::HigherIsBetter
    }

    /// Decimals shown in tables and printouts.
    pub fn decimals(self) -> usize {
        match self {
            Metric::Psnr | Metric::PsnrY | Metric::Nrmse => 2,
            Metric::Ssim | Metric::SsimY | Metric::Iou => 4,
        }
    }

    /// `v` with the metric's decimals.
    pub fn format(self, v: f64) -> String {
        format!("{v:.*}", self.decimals())
    }

    /// Whether the metric needs the evaluation detector's points (it is then missing without one).
    pub fn needs_points(self) -> bool {
        matches!(self, Metric::Nrmse | Metric::Iou)
    }

    /// The metric named `name` (its column name).
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The metric's value on one face; `None` when it needs points and the face has none.
    pub fn score(self, face: &Face) -> Result<Option<f64>> {
        let (r, o) = (face.reference, face.output);
        Ok(Some(match (self, face.points) {
            (Metric::Psnr, _) => psnr(r, o)?,
            (Metric::Ssim, _) => ssim(r, o)?,
            (Metric::PsnrY, _) => psnr_y(r, o)?,
            (Metric::SsimY, _) => ssim_y(r, o)?,
            (Metric::Nrmse, Some((gt, out))) => nrmse(gt, out)?,
            (Metric::Iou, Some((gt, out))) => mean_iou(&parsing_map(gt)?, &parsing_map(out)?)?,
            (Metric::Nrmse | Metric::Iou, None) => return Ok(None),
        }))
    }
}

/// One value per metric; `None` where a metric was not scored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Values([Option<f64>; COUNT]);

impl Values {
    /// Every metric of one face.
    pub fn score(face: &Face) -> Result<Values> {
        let mut v = Values::default();
        for m in Metric::ALL {
            v.set(m, m.score(face)?);
        }
        Ok(v)
    }

    pub fn get(&self, metric: Metric) -> Option<f64> {
        self.0[metric as usize]
    }

    pub fn set(&mut self, metric: Metric, value: Option<f64>) {
        self.0[metric as usize] = value;
    }

    /// `(metric, value)` in [`Metric::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (Metric, Option<f64>)> + '_ {
        Metric::ALL.into_iter().map(|m| (m, self.get(m)))
    }

    /// The mean of each metric over the values that have it (`None` where none has).
    pub fn mean<'a>(items: impl IntoIterator<Item = &'a Values>) -> Values {
        let mut sums = [(0.0, 0usize); COUNT];
        for v in items {
            for (m, x) in v.iter() {
                if let Some(x) = x {
                    sums[m as usize].0 += x;
                    sums[m as usize].1 += 1;
                }
            }
        }
        let mut out = Values::default();
        for m in Metric::ALL {
            let (s, n) = sums[m as usize];
            out.set(m, (n > 0).then(|| s / n as f64));
        }
        out
    }
}

/// Values from `(metric, value)` pairs; the others are missing.
impl FromIterator<(Metric, f64)> for Values {
    fn from_iter<I: IntoIterator<Item = (Metric, f64)>>(pairs: I) -> Self {
        let mut v = Values::default();
        for (m, x) in pairs {
            v.set(m, Some(x));
        }
        v
    }
}

/// The scores of one method on one test face.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub name: String,
    pub method: String,
    pub occlusion: String,
    pub values: Values,
}

impl Scores {
    pub fn get(&self, metric: Metric) -> Option<f64> {
        self.values.get(metric)
    }
}

/// A CSV field: quoted (RFC 4180) when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes a CSV file: `columns` then, per row, its leading text fields and its metric values
/// (in [`Metric::ALL`]'s order, empty where missing). Creates the parent directory.
pub fn write_csv<'a>(
    path: &Path,
    columns: &[&str],
    rows: impl IntoIterator<Item = (Vec<&'a str>, &'a Values)>,
    metrics: &[Metric],
) -> Result<()> {
    let mut out = String::new();
    let header: Vec<&str> = columns
        .iter()
        .copied()
        .chain(metrics.iter().map(|m| m.name()))
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for (text, values) in rows {
        let fields: Vec<String> = text
            .into_iter()
            .map(csv_field)
            .chain(
                metrics
                    .iter()
                    .map(|m| values.get(*m).map(|v| v.to_string()).unwrap_or_default()),
            )
            .collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(out.as_bytes()).map_err(|e| Error::io(path, e))
}

/// A plain-text table for the terminal: `columns` (left-aligned), then one right-aligned column
/// per metric of `metrics` (its name as heading, its decimals, `-` where missing).
pub fn text_table(columns: &[&str], rows: &[(Vec<String>, Values)], metrics: &[Metric]) -> String {
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|(text, _)| text.get(i).map_or(0, String::len))
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |text: Vec<String>, cells: Vec<String>| {
        let mut out: Vec<String> = text
            .iter()
            .zip(&widths)
            .map(|(t, w)| format!("{t:<w$}"))
            .collect();
        out.extend(cells.iter().map(|c| format!("{c:>8}")));
        out.join(" ").trim_end().to_string() + "\n"
    };
    let mut out = line(
        columns.iter().map(|c| c.to_string()).collect(),
        metrics.iter().map(|m| m.name().to_string()).collect(),
    );
    for (text, values) in rows {
        let cells = metrics
            .iter()
            .map(|m| values.get(*m).map_or("-".to_string(), |v| m.format(v)))
            .collect();
        out.push_str(&line(text.clone(), cells));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_values_index_by_metric() {
        for (i, m) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(m as usize, i, "ALL is in declaration order");
            assert_eq!(Metric::from_name(m.name()), Some(m));
        }
        let mut a = Values::default();
        a.set(Metric::Psnr, Some(20.0));
        a.set(Metric::Iou, Some(0.5));
        let mut b = Values::default();
        b.set(Metric::Psnr, Some(22.0));
        let m = Values::mean([&a, &b]);
        assert_eq!(m.get(Metric::Psnr), Some(21.0));
        assert_eq!(
            m.get(Metric::Iou),
            Some(0.5),
            "the mean of the rows that have it"
        );
        assert_eq!(m.get(Metric::Nrmse), None);
    }

    #[test]
    fn csv_fields_with_commas_and_quotes_are_quoted() {
        assert_eq!(csv_field("a.png"), "a.png");
        assert_eq!(csv_field("a,b.png"), "\"a,b.png\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
