//! The paper's figures from the tables, drawn with plotters as SVG and PNG:
//! - occlusion size vs PSNR and vs SSIM, one line per method, with 95% intervals (Fig. 10);
//! - a grouped bar chart per corner position (Fig. 8);
//! - PSNR and SSIM per method under each protocol as bars with intervals (the loss ablation of
//!   Fig. 7's discussion, when the experiment sweeps the losses);
//! - training curves per run, one line per loss term.
//!
//! PNGs are rasterised with DejaVu Sans compiled into the binary (the `dejavu` crate), so they
//! render the same on a machine without any system font. SVGs name the `sans-serif` family
//! and leave the glyphs to the viewer.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::tables::Tables;
use super::{ReportData, file_stem, run_file_stem};
use crate::metrics::Metric;
use crate::{Error, Result};

/// One chart, as written.
#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    /// Relative to the report directory's `charts/`.
    pub png: PathBuf,
    pub svg: PathBuf,
    /// `size`, `position`, `bars` or `curves`.
    pub kind: &'static str,
}

/// What [`write_all`] produced.
#[derive(Clone, Debug, Default)]
pub struct Charts {
    pub charts: Vec<Chart>,
    pub files: Vec<PathBuf>,
    pub missing: Vec<String>,
}

/// Ten colours that stay apart in print and for common colour blindness (Tableau 10).
pub const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// Registers the embedded font for plotters' rasteriser (once per process).
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for family in ["sans-serif", "DejaVu Sans"] {
            // The bytes are a valid TrueType font; a failure would only mean no text.
            let _ =
                plotters::style::register_font(family, FontStyle::Normal, dejavu::sans::regular());
            let _ = plotters::style::register_font(family, FontStyle::Bold, dejavu::sans::bold());
        }
    });
}

/// A point with its interval.
#[derive(Clone, Copy, Debug)]
pub struct Bar {
    pub mean: f64,
    pub lower: f64,
    pub upper: f64,
}

/// Lines over a numeric x axis with error bars.
pub struct LineChart {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    /// `(label, points (x, value))`.
    pub series: Vec<(String, Vec<(f64, Bar)>)>,
    pub log_y: bool,
}

/// Bars per category, one per series, with error bars.
pub struct BarChart {
    pub title: String,
    pub y_desc: String,
    pub categories: Vec<String>,
    /// `(label, one value per category)`.
    pub series: Vec<(String, Vec<Option<Bar>>)>,
}

type DrawResult = std::result::Result<(), String>;

fn y_range(values: impl Iterator<Item = f64>, zero_floor: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.12).max(hi.abs() * 1e-3).max(1e-6);
    let lo = if zero_floor && lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    (lo, hi + pad)
}

/// The legend box every chart draws.
fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    position: SeriesLabelPosition,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(position)
        .draw()
        .map_err(|e| e.to_string())
}

fn draw_lines<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &LineChart) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let xs = c.series.iter().flat_map(|s| s.1.iter().map(|p| p.0));
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in xs {
        x0 = x0.min(x);
        x1 = x1.max(x);
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    let xpad = ((x1 - x0) * 0.06).max(0.5);
    // A log axis is drawn as log10 of the values on a linear one, labelled with the values.
    let y_of = |v: f64| if c.log_y { v.max(1e-300).log10() } else { v };
    let values = c.series.iter().flat_map(|s| {
        s.1.iter()
            .flat_map(|p| [p.1.lower, p.1.upper, p.1.mean].map(y_of))
    });
    let lines: Vec<Vec<[f64; 4]>> = c
        .series
        .iter()
        .map(|(_, points)| {
            points
                .iter()
                .map(|(x, b)| [*x, y_of(b.mean), y_of(b.lower), y_of(b.upper)])
                .collect()
        })
        .collect();
    let longest = c.series.iter().map(|s| s.0.chars().count()).max();
    let preferred = if c.log_y {
        Corner::UpperRight
    } else {
        Corner::LowerLeft
    };
    let place = legend_place(
        &lines,
        (x0 - xpad, x1 + xpad),
        y_range(values, false),
        longest.unwrap_or(0),
        preferred,
    );
    let (lo, hi) = place.y;
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(x0 - xpad..x1 + xpad, lo..hi)
        .map_err(err)?;
    let integral = c
        .series
        .iter()
        .all(|s| s.1.iter().all(|p| p.0.fract() == 0.0));
    let span = (x1 - x0).round() as usize;
    let x_format = |x: &f64| {
        if integral {
            format!("{x:.0}")
        } else {
            format!("{x}")
        }
    };
    let y_format = |y: &f64| {
        if c.log_y {
            let v = 10f64.powf(*y);
            if (0.01..1000.0).contains(&v) {
                format!("{v:.3}")
            } else {
                format!("{v:.1e}")
            }
        } else {
            format!("{y:.2}")
        }
    };
    chart
        .configure_mesh()
        .x_labels(if integral && span <= 24 { span + 1 } else { 10 })
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .x_desc(&c.x_desc)
        .y_desc(&c.y_desc)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(err)?;
    for (i, (label, points)) in c.series.iter().enumerate() {
        let col = color(i);
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|(x, b)| (*x, y_of(b.mean))),
                col.stroke_width(2),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], col.stroke_width(3)));
        // Intervals and markers where the points have them (not on training curves).
        let with_interval = points.iter().filter(|(_, b)| b.upper > b.lower);
        chart
            .draw_series(with_interval.clone().map(|(x, b)| {
                ErrorBar::new_vertical(
                    *x,
                    y_of(b.lower),
                    y_of(b.mean),
                    y_of(b.upper),
                    col.stroke_width(2),
                    10,
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(
                with_interval.map(|(x, b)| Circle::new((*x, y_of(b.mean)), 4, col.filled())),
            )
            .map_err(err)?;
    }
    draw_legend(&mut chart, place.corner.position())?;
    root.present().map_err(err)
}

/// A corner of the plotting area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Corner {
    UpperRight,
    UpperLeft,
    LowerRight,
    LowerLeft,
}

impl Corner {
    fn position(self) -> SeriesLabelPosition {
        match self {
            Corner::UpperRight => SeriesLabelPosition::UpperRight,
            Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
            Corner::LowerRight => SeriesLabelPosition::LowerRight,
            Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
        }
    }
}

/// Where a line chart's legend goes: its corner, and the y range to plot.
#[derive(Clone, Copy, Debug, PartialEq)]
struct LegendPlace {
    corner: Corner,
    y: (f64, f64),
}

/// The legend's corner (see [`legend_corner`]) and the plotted y range. When every corner's box
/// would hide drawn points (long labels over several crossing curves), the range grows on the
/// chosen corner's side by the box's height, so that the box sits in a band the lines leave empty.
fn legend_place(
    lines: &[Vec<[f64; 4]>],
    x: (f64, f64),
    y: (f64, f64),
    longest: usize,
    preferred: Corner,
) -> LegendPlace {
    let (corner, covered) = legend_corner(lines, x, y, longest, preferred);
    let box_h = legend_box(lines.len(), longest).1;
    if covered == 0 || box_h >= 0.6 {
        return LegendPlace { corner, y };
    }
    // The old range fills the fraction 1 - box_h of the new one; 2% more keeps a gap.
    let extra = (y.1 - y.0) * (box_h / (1.0 - box_h) + 0.02);
    let y = match corner {
        Corner::UpperRight | Corner::UpperLeft => (y.0, y.1 + extra),
        Corner::LowerRight | Corner::LowerLeft => (y.0 - extra, y.1),
    };
    LegendPlace { corner, y }
}

/// The legend box's width and height as fractions of the plotting area: its size follows
/// [`SIZE`], the label areas and the legend's 15-px font.
fn legend_box(series: usize, longest: usize) -> (f64, f64) {
    let (plot_w, plot_h) = (f64::from(SIZE.0) - 98.0, f64::from(SIZE.1) - 100.0);
    (
        ((40.0 + 8.5 * longest as f64) / plot_w).min(1.0),
        ((12.0 + 22.0 * series as f64) / plot_h).min(1.0),
    )
}

/// The corner for a line chart's legend: the one whose legend box would cover the fewest drawn
/// points (each line sampled along its segments, error bars included), so that the legend hides
/// no data; ties keep `preferred`. Returns the corner and how many sampled points it covers.
/// `lines`: per series, `[x, mean, lower, upper]` in plotted coordinates; `x`, `y`: the plotted
/// ranges; `longest`: the longest label, in characters.
fn legend_corner(
    lines: &[Vec<[f64; 4]>],
    x: (f64, f64),
    y: (f64, f64),
    longest: usize,
    preferred: Corner,
) -> (Corner, usize) {
    let (box_w, box_h) = legend_box(lines.len(), longest);
    let u = |v: f64| (v - x.0) / (x.1 - x.0);
    let v = |w: f64| (w - y.0) / (y.1 - y.0);
    let mut samples: Vec<(f64, f64)> = Vec::new();
    for line in lines {
        for p in line {
            for t in 0..=8 {
                let t = f64::from(t) / 8.0;
                samples.push((u(p[0]), v(p[2] + (p[3] - p[2]) * t)));
            }
        }
        for pair in line.windows(2) {
            for t in 0..20 {
                let t = f64::from(t) / 20.0;
                samples.push((
                    u(pair[0][0] + (pair[1][0] - pair[0][0]) * t),
                    v(pair[0][1] + (pair[1][1] - pair[0][1]) * t),
                ));
            }
        }
    }
    let covered = |corner: Corner| {
        samples
            .iter()
            .filter(|(a, b)| {
                let right = *a >= 1.0 - box_w;
                let left = *a <= box_w;
                let top = *b >= 1.0 - box_h;
                let bottom = *b <= box_h;
                match corner {
                    Corner::UpperRight => right && top,
                    Corner::UpperLeft => left && top,
                    Corner::LowerRight => right && bottom,
                    Corner::LowerLeft => left && bottom,
                }
            })
            .count()
    };
    let mut best = (preferred, covered(preferred));
    for corner in [
        Corner::UpperRight,
        Corner::UpperLeft,
        Corner::LowerRight,
        Corner::LowerLeft,
    ] {
        let n = covered(corner);
        if n < best.1 {
            best = (corner, n);
        }
    }
    best
}

fn draw_bars<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &BarChart) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let n_cat = c.categories.len().max(1);
    let n_series = c.series.len().max(1);
    let values = c.series.iter().flat_map(|s| {
        s.1.iter()
            .flatten()
            .flat_map(|b| [b.lower, b.upper, b.mean])
    });
    let (lo, hi) = y_range(values, true);
    // Room above the tallest bar for the legend.
    let hi = hi + (hi - lo) * (0.12 + 0.07 * c.series.len() as f64);
    let categories = c.categories.clone();
    let label_of = move |x: &f64| -> String {
        let r = x.round();
        if (x - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < categories.len() {
            categories[r as usize].clone()
        } else {
            String::new()
        }
    };
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..(n_cat as f64 - 0.5), lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * n_cat + 1)
        .x_label_formatter(&label_of)
        .y_desc(&c.y_desc)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(err)?;
    let width = 0.8 / n_series as f64;
    for (i, (label, bars)) in c.series.iter().enumerate() {
        let col = color(i);
        let x_of = move |cat: usize| cat as f64 - 0.4 + width * (i as f64 + 0.5);
        chart
            .draw_series(bars.iter().enumerate().filter_map(|(cat, b)| {
                let b = b.as_ref()?;
                let x = x_of(cat);
                Some(Rectangle::new(
                    [(x - width * 0.42, lo), (x + width * 0.42, b.mean)],
                    col.filled(),
                ))
            }))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], col.filled()));
        chart
            .draw_series(bars.iter().enumerate().filter_map(|(cat, b)| {
                let b = b.as_ref()?;
                Some(ErrorBar::new_vertical(
                    x_of(cat),
                    b.lower,
                    b.mean,
                    b.upper,
                    BLACK.stroke_width(2),
                    8,
                ))
            }))
            .map_err(err)?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(err)
}

/// The size of every chart, in pixels.
pub const SIZE: (u32, u32) = (960, 600);

fn render(
    dir: &Path,
    stem: &str,
    draw: &dyn Fn(&DrawingArea<SVGBackend, Shift>) -> DrawResult,
    draw_png: &dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> DrawResult,
) -> Result<(PathBuf, PathBuf)> {
    register_fonts();
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    let chart_error = |path: &Path, message: String| {
        Error::invalid("report", format!("drawing {}: {message}", path.display()))
    };
    {
        let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
        draw(&root).map_err(|m| chart_error(&svg, m))?;
    }
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        draw_png(&root).map_err(|m| chart_error(&png, m))?;
    }
    Ok((png, svg))
}

/// Writes a line chart as `dir/stem.{svg,png}`.
pub fn write_lines(dir: &Path, stem: &str, chart: &LineChart) -> Result<(PathBuf, PathBuf)> {
    render(dir, stem, &|r| draw_lines(r, chart), &|r| {
        draw_lines(r, chart)
    })
}

/// Writes a bar chart as `dir/stem.{svg,png}`.
pub fn write_bars(dir: &Path, stem: &str, chart: &BarChart) -> Result<(PathBuf, PathBuf)> {
    render(dir, stem, &|r| draw_bars(r, chart), &|r| {
        draw_bars(r, chart)
    })
}

fn bar(tables: &Tables, entity: usize, protocol: &str, metric: Metric) -> Option<Bar> {
    tables.cell(entity, protocol, metric).map(|c| Bar {
        mean: c.mean,
        lower: c.lower,
        upper: c.upper,
    })
}

/// A run as its table row and seed (`ofhnet, seed 0`): shorter than the run's name, which spells
/// out every swept value; the name where no row holds the run.
fn short_run_label(data: &ReportData, run: &super::RunInfo) -> String {
    data.entities
        .iter()
        .find(|e| e.method == run.method && e.runs.iter().any(|(_, k)| k == &run.row.key))
        .map(|e| format!("{}, seed {}", e.label, run.row.seed))
        .unwrap_or_else(|| run.row.name.clone())
}

/// Writes every chart the experiment's protocols and curves allow into `dir`.
pub fn write_all(data: &ReportData, tables: &Tables, dir: &Path) -> Result<Charts> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Charts::default();
    let push = |out: &mut Charts, title: String, kind, (png, svg): (PathBuf, PathBuf)| {
        out.files.push(png.clone());
        out.files.push(svg.clone());
        out.charts.push(Chart {
            title,
            png: png.file_name().map(PathBuf::from).unwrap_or_default(),
            svg: svg.file_name().map(PathBuf::from).unwrap_or_default(),
            kind,
        });
    };

    // Occlusion size vs PSNR / SSIM (Fig. 10).
    let sizes: Vec<(f64, &String)> = data
        .protocols
        .iter()
        .filter_map(|p| Some((p.strip_prefix("size:")?.parse::<f64>().ok()?, p)))
        .collect();
    if sizes.is_empty() {
        out.missing
            .push("occlusion-size charts: the experiment evaluates no `size:N` protocol".into());
    } else {
        for metric in [Metric::Psnr, Metric::Ssim] {
            let series: Vec<(String, Vec<(f64, Bar)>)> = data
                .entities
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let mut points: Vec<(f64, Bar)> = sizes
                        .iter()
                        .filter_map(|(s, p)| Some((*s, bar(tables, i, p, metric)?)))
                        .collect();
                    points.sort_by(|a, b| a.0.total_cmp(&b.0));
                    (e.label.clone(), points)
                })
                .filter(|(_, p)| !p.is_empty())
                .collect();
            let title = format!(
                "{}: occlusion size vs {} (95% intervals)",
                data.experiment,
                metric.title()
            );
            let chart = LineChart {
                title: title.clone(),
                x_desc: "side of the centred square hole (LR pixels)".into(),
                y_desc: metric.title().into(),
                series,
                log_y: false,
            };
            let stem = format!("size_{}", metric.name());
            push(&mut out, title, "size", write_lines(dir, &stem, &chart)?);
        }
    }

    // Corner positions (Fig. 8).
    let corners: Vec<&String> = data
        .protocols
        .iter()
        .filter(|p| p.starts_with("position:"))
        .collect();
    if corners.is_empty() {
        out.missing.push(
            "corner-position charts: the experiment evaluates no `position:*` protocol".into(),
        );
    } else {
        for metric in [Metric::Psnr, Metric::Ssim] {
            let chart = BarChart {
                title: format!(
                    "{}: {} per occluded corner (95% intervals)",
                    data.experiment,
                    metric.title()
                ),
                y_desc: metric.title().into(),
                categories: corners
                    .iter()
                    .map(|p| match p.trim_start_matches("position:") {
                        "tl" => "top left".to_string(),
                        "tr" => "top right".to_string(),
                        "bl" => "bottom left".to_string(),
                        "br" => "bottom right".to_string(),
                        other => other.to_string(),
                    })
                    .collect(),
                series: data
                    .entities
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        (
                            e.label.clone(),
                            corners.iter().map(|p| bar(tables, i, p, metric)).collect(),
                        )
                    })
                    .collect(),
            };
            let stem = format!("position_{}", metric.name());
            let title = chart.title.clone();
            push(&mut out, title, "position", write_bars(dir, &stem, &chart)?);
        }
    }

    // Every method under each protocol (the loss ablation, when the losses are swept).
    for protocol in &data.protocols {
        for metric in [Metric::Psnr, Metric::Ssim] {
            let series: Vec<(String, Vec<Option<Bar>>)> = data
                .entities
                .iter()
                .enumerate()
                .map(|(i, e)| (e.label.clone(), vec![bar(tables, i, protocol, metric)]))
                .filter(|(_, b)| b[0].is_some())
                .collect();
            if series.is_empty() {
                continue;
            }
            let chart = BarChart {
                title: format!(
                    "{}: {} per method, {protocol} occlusion (95% intervals)",
                    data.experiment,
                    metric.title()
                ),
                y_desc: metric.title().into(),
                categories: vec![protocol.clone()],
                series,
            };
            let stem = format!(
                "bars_{}_{}",
                file_stem(&protocol.replace(':', "-")),
                metric.name()
            );
            let title = chart.title.clone();
            push(&mut out, title, "bars", write_bars(dir, &stem, &chart)?);
        }
    }

    // Training curves per run (of the first MAX_CURVE_CHARTS runs; see `load`).
    if data.runs.len() > super::MAX_CURVE_CHARTS {
        out.missing.push(format!(
            "training curves: drawn for the first {} of {} runs; `ofhnet show RUN` lists any \
             run's stages, and the store holds every curve",
            super::MAX_CURVE_CHARTS,
            data.runs.len()
        ));
    }
    for run in data.runs.iter().take(super::MAX_CURVE_CHARTS) {
        let points = match data.curves.get(&run.row.key) {
            Some(p) if !p.is_empty() => p,
            _ => {
                if run.method != crate::methods::bicubic::NAME
                    && run.method != crate::methods::ma::NAME
                {
                    out.missing.push(format!(
                        "training curves of {}: none stored ({})",
                        run.row.name, run.row.status
                    ));
                }
                continue;
            }
        };
        let mut series: Vec<(String, Vec<(f64, Bar)>)> = Vec::new();
        // Throughput is logged with the losses; it is not a loss. Validation values get their
        // own charts (below), on their own scale.
        for (stage, step, term, value) in points
            .iter()
            .filter(|p| p.2 != "images_per_s" && !p.2.starts_with("val_"))
        {
            let label = format!("{stage} {term}");
            let b = Bar {
                mean: *value,
                lower: *value,
                upper: *value,
            };
            match series.iter_mut().find(|s| s.0 == label) {
                Some(s) => s.1.push((*step as f64, b)),
                None => series.push((label, vec![(*step as f64, b)])),
            }
        }
        let log_y = series.iter().all(|s| s.1.iter().all(|p| p.1.mean > 0.0));
        // A name of many swept values is wider than the chart: its row and seed instead.
        let who = if run.row.name.len() > super::MAX_RUN_STEM {
            short_run_label(data, run)
        } else {
            run.row.name.clone()
        };
        let title = format!("{}: training curves of {who}", data.experiment);
        let chart = LineChart {
            title: title.clone(),
            x_desc: "step".into(),
            y_desc: if log_y {
                "loss (log scale)".into()
            } else {
                "loss".into()
            },
            series,
            log_y,
        };
        let stem = format!("curves_{}", run_file_stem(&run.row.name, &run.row.key));
        push(&mut out, title, "curves", write_lines(dir, &stem, &chart)?);
    }

    // Validation during training: one chart per metric, one line per run (a pruned run's
    // line stops where it was stopped).
    for (term, unit) in [("val_psnr", "PSNR (dB)"), ("val_ssim", "SSIM")] {
        let mut series: Vec<(String, Vec<(f64, Bar)>)> = Vec::new();
        for run in data.runs.iter().take(super::MAX_CURVE_CHARTS) {
            let Some(points) = data.curves.get(&run.row.key) else {
                continue;
            };
            let line: Vec<(f64, Bar)> = points
                .iter()
                .filter(|p| p.2 == term)
                .map(|(_, step, _, value)| {
                    (
                        *step as f64,
                        Bar {
                            mean: *value,
                            lower: *value,
                            upper: *value,
                        },
                    )
                })
                .collect();
            if !line.is_empty() {
                // A legend as wide as the chart hides lines.
                let name = short_run_label(data, run);
                let label = if run.row.status == crate::harness::store::RunStatus::Pruned {
                    format!("{name} (pruned)")
                } else {
                    name
                };
                series.push((label, line));
            }
        }
        if series.is_empty() {
            continue;
        }
        let title = format!(
            "{}: validation {} during training",
            data.experiment,
            unit.split(' ').next().unwrap_or(unit)
        );
        let chart = LineChart {
            title: title.clone(),
            x_desc: "stage-2 step".into(),
            y_desc: format!("validation {unit}"),
            series,
            log_y: false,
        };
        push(
            &mut out,
            title,
            "curves",
            write_lines(dir, &format!("validation_{term}"), &chart)?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(points: &[(f64, f64)]) -> Vec<[f64; 4]> {
        points.iter().map(|&(x, y)| [x, y, y, y]).collect()
    }

    #[test]
    fn the_legend_goes_where_it_hides_no_line() {
        // A validation curve that climbs from the lower left to the upper right: the preferred
        // lower-left corner would hide its start, so the legend moves to a free corner.
        let rising = [line(&[(0.0, 0.0), (5.0, 6.0), (10.0, 10.0)])];
        let (corner, _) = legend_corner(&rising, (0.0, 10.0), (0.0, 10.0), 12, Corner::LowerLeft);
        assert!(
            matches!(corner, Corner::UpperLeft | Corner::LowerRight),
            "{corner:?}"
        );
        // A flat line along the top leaves the preferred corner free: it is kept.
        let flat = [line(&[(0.0, 9.5), (10.0, 9.5)])];
        let (corner, _) = legend_corner(&flat, (0.0, 10.0), (0.0, 10.0), 12, Corner::LowerLeft);
        assert_eq!(corner, Corner::LowerLeft);
        // An error bar counts: a tall interval in the lower left sends the legend elsewhere.
        let bar = [vec![[0.2, 5.0, 0.0, 10.0], [10.0, 5.0, 4.9, 5.1]]];
        let (corner, _) = legend_corner(&bar, (0.0, 10.0), (0.0, 10.0), 12, Corner::LowerLeft);
        assert!(
            matches!(corner, Corner::UpperRight | Corner::LowerRight),
            "{corner:?}"
        );
    }

    #[test]
    fn a_legend_that_hides_a_line_in_every_corner_gets_a_band_of_its_own() {
        // Five curves zigzagging over the whole area with long labels (the loss ablation's
        // validation chart): every corner covers points, so the range grows on the chosen side
        // and then the same box covers none.
        let zigzag = |phase: f64| {
            line(
                &(0..=12)
                    .map(|i| (f64::from(i), 5.0 + 5.0 * (f64::from(i) + phase).sin()))
                    .collect::<Vec<_>>(),
            )
        };
        let lines: Vec<_> = (0..5).map(|k| zigzag(f64::from(k))).collect();
        let (x, y, longest) = ((0.0, 12.0), (0.0, 10.0), 70);
        let (_, covered) = legend_corner(&lines, x, y, longest, Corner::LowerLeft);
        assert!(covered > 0, "the test needs a chart with no free corner");
        let place = legend_place(&lines, x, y, longest, Corner::LowerLeft);
        assert!(place.y.0 < y.0 || place.y.1 > y.1, "{place:?}");
        assert!(place.y.0 <= y.0 && place.y.1 >= y.1, "{place:?}");
        assert_eq!(
            legend_corner(&lines, x, place.y, longest, place.corner),
            (place.corner, 0)
        );
        // A free corner leaves the range as it is.
        let flat = [line(&[(0.0, 9.5), (12.0, 9.5)])];
        let place = legend_place(&flat, x, y, 12, Corner::LowerLeft);
        assert_eq!(
            place,
            LegendPlace {
                corner: Corner::LowerLeft,
                y
            }
        );
    }
}
