//! The report's page: `index.html`, one static file that needs no server and no network. It
//! shows the tables, links the Markdown/CSV/LaTeX files, shows the charts (PNG, linking the
//! SVG) and image grids, says what is missing, and records the provenance: every run with its
//! status, host, device, git commit, dates and configuration, and the commands that made it.
//!
//! A few lines of script check, once the page has loaded, that every picture decoded; a broken
//! one is marked on the page, and the counts land in `<body data-*>` attributes that tests read.

use std::path::{Path, PathBuf};

use super::charts::Charts;
use super::grids::Grids;
use super::tables::{TABLE1, TABLE2, Tables, text_table};
use super::{ReportData, ReportOptions, file_stem, utc};
use crate::harness::store::now;
use crate::{Error, Result};

/// HTML-escapes text.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The background of table headers; the screenshot test looks for it.
pub const HEADER_RGB: (u8, u8, u8) = (0xd9, 0xe4, 0xf5);

fn style() -> String {
    let (r, g, b) = HEADER_RGB;
    format!(
        "body {{ font-family: 'DejaVu Sans', Verdana, sans-serif; margin: 24px auto; \
         max-width: 1280px; color: #1a1a1a; padding: 0 16px; }}\n\
         h1 {{ font-size: 26px; }} h2 {{ margin-top: 36px; border-bottom: 1px solid #ccc; }}\n\
         table {{ border-collapse: collapse; margin: 10px 0 4px; font-size: 13px; }}\n\
         th {{ background: rgb({r}, {g}, {b}); text-align: left; }}\n\
         th, td {{ border: 1px solid #b8c2d0; padding: 4px 8px; }}\n\
         td.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}\n\
         .files {{ font-size: 12px; color: #555; margin-bottom: 18px; }}\n\
         figure {{ display: inline-block; margin: 8px 12px 16px 0; vertical-align: top; }}\n\
         figure img {{ max-width: 620px; border: 1px solid #ddd; }}\n\
         figure.grid img {{ max-width: 100%; }}\n\
         figcaption {{ font-size: 12px; color: #444; max-width: 620px; }}\n\
         .missing {{ background: #fff4e0; border-left: 4px solid #e09b2d; padding: 6px 12px; }}\n\
         .broken {{ outline: 4px solid red; }}\n\
         pre {{ background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }}\n\
         code {{ background: #f2f2f2; padding: 1px 4px; }}\n"
    )
}

const SCRIPT: &str = "window.addEventListener('load', function () {\n\
  var imgs = document.querySelectorAll('img');\n\
  var broken = 0;\n\
  imgs.forEach(function (im) {\n\
    if (!im.complete || im.naturalWidth === 0) {\n\
      broken += 1;\n\
      im.classList.add('broken');\n\
      im.alt = 'missing picture: ' + im.getAttribute('src');\n\
    }\n\
  });\n\
  document.body.dataset.images = String(imgs.length);\n\
  document.body.dataset.broken = String(broken);\n\
  document.body.dataset.tables = String(document.querySelectorAll('table.result').length);\n\
});\n";

fn html_table(header: &[String], rows: &[Vec<String>], class: &str) -> String {
    let mut s = format!("<table class=\"{class}\">\n<tr>");
    for h in header {
        s.push_str(&format!("<th>{}</th>", escape(h)));
    }
    s.push_str("</tr>\n");
    for row in rows {
        s.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let numeric = i > 0
                && c.chars()
                    .next()
                    .is_some_and(|ch| ch.is_ascii_digit() || ch == '+' || ch == '-');
            s.push_str(&format!(
                "<td{}>{}</td>",
                if numeric { " class=\"num\"" } else { "" },
                escape(c)
            ));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    s
}

/// Writes `index.html` at `path`.
#[allow(clippy::too_many_arguments)]
pub fn write(
    data: &ReportData,
    tables: &Tables,
    charts: &Charts,
    grids: Option<&Grids>,
    missing: &[String],
    options: &ReportOptions,
    path: &Path,
) -> Result<PathBuf> {
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>ofhnet report: {}</title>\n<style>\n{}</style>\n</head>\n<body>\n",
        escape(&data.experiment),
        style()
    ));
    h.push_str(&format!(
        "<h1>ofhnet report: {}</h1>\n<p>{}</p>\n",
        escape(&data.experiment),
        escape(&data.description)
    ));
    let done = data
        .runs
        .iter()
        .filter(|r| r.row.status == crate::harness::store::RunStatus::Done)
        .count();
    h.push_str(&format!(
        "<p>{done} of {} runs done. Generated {} by ofhnet {} from <code>{}</code>. Cells: mean \
         over test images [95% percentile bootstrap interval, {} resamples{}, seed {}]; Δ columns: \
         paired difference to <b>{}</b> over the same images; with several seeds, the mean of \
         the per-seed means and (sd) their spread.{}</p>\n",
        data.runs.len(),
        utc(now()),
        env!("CARGO_PKG_VERSION"),
        escape(&options.command),
        options.bootstrap.resamples,
        match options.bootstrap.resample {
            crate::metrics::bootstrap::Resample::Images => "",
            crate::metrics::bootstrap::Resample::Identities =>
                " of identities (all faces of each identity drawn)",
        },
        options.bootstrap.seed,
        escape(&data.entities[data.reference].label),
        data.scoring().sentence(),
    ));
    if !missing.is_empty() {
        h.push_str("<div class=\"missing\"><b>Missing from this report</b><ul>\n");
        for m in missing {
            h.push_str(&format!("<li>{}</li>\n", escape(m)));
        }
        h.push_str("</ul></div>\n");
    }

    h.push_str("<h2>Tables</h2>\n");
    for protocol in &data.protocols {
        for spec in [TABLE1, TABLE2] {
            let t = text_table(data, tables, &spec, protocol);
            if spec.name == TABLE2.name && !t.has_values {
                h.push_str(&format!(
                    "<p class=\"files\">{} under {}: no NRMSE/IoU rows (the experiment names no \
                     <code>landmarks.eval</code> detector).</p>\n",
                    spec.title,
                    escape(protocol)
                ));
                continue;
            }
            let stem = format!("{}_{}", spec.name, file_stem(&protocol.replace(':', "-")));
            h.push_str(&format!(
                "<h3>{}: {} occlusion</h3>\n",
                escape(spec.title),
                escape(protocol)
            ));
            h.push_str(&html_table(&t.header, &t.rows, "result"));
            h.push_str(&format!(
                "<div class=\"files\">as <a href=\"tables/{stem}.md\">Markdown</a>, \
                 <a href=\"tables/{stem}.csv\">CSV</a>, <a href=\"tables/{stem}.tex\">LaTeX</a>; \
                 every metric: <a href=\"tables/metrics_{p}.csv\">CSV</a></div>\n",
                p = file_stem(&protocol.replace(':', "-"))
            ));
        }
    }

    let figure = |h: &mut String, title: &str, png: &Path, svg: &Path| {
        h.push_str(&format!(
            "<figure><a href=\"charts/{}\"><img src=\"charts/{}\" alt=\"{}\"></a>\
             <figcaption>{} (<a href=\"charts/{}\">SVG</a>)</figcaption></figure>\n",
            escape(&svg.to_string_lossy()),
            escape(&png.to_string_lossy()),
            escape(title),
            escape(title),
            escape(&svg.to_string_lossy()),
        ));
    };
    h.push_str("<h2>Charts</h2>\n");
    for kind in ["size", "position", "bars"] {
        for c in charts.charts.iter().filter(|c| c.kind == kind) {
            figure(&mut h, &c.title, &c.png, &c.svg);
        }
    }
    h.push_str("<h2>Image grids</h2>\n");
    match grids {
        None => h.push_str(
            "<p>Left out (<code>--no-face-images</code>): the faces' licence forbids \
             redistributing them or images derived from them.</p>\n",
        ),
        Some(g) if g.grids.is_empty() => {
            h.push_str("<p>No run kept sample faces.</p>\n");
        }
        Some(g) => {
            for (protocol, file) in &g.grids {
                h.push_str(&format!(
                    "<figure class=\"grid\"><img src=\"grids/{}\" alt=\"grid {}\">\
                     <figcaption>{} occlusion: occluded LR, InpaintNet output, each method, \
                     ground truth; the first test faces</figcaption></figure>\n",
                    escape(&file.to_string_lossy()),
                    escape(protocol),
                    escape(protocol)
                ));
            }
        }
    }
    h.push_str("<h2>Training curves</h2>\n");
    for c in charts.charts.iter().filter(|c| c.kind == "curves") {
        figure(&mut h, &c.title, &c.png, &c.svg);
    }

    if !data.landmarks.is_empty() {
        let t = super::tables::landmark_table(data);
        h.push_str(
            "<h2>Landmark networks</h2>\n<p>The semantic structure loss's network and the \
             evaluation detector that scores NRMSE and parsing IoU, with their NRMSE on the clean \
             128x128 test faces. <a href=\"tables/landmark_networks.md\">md</a></p>\n",
        );
        h.push_str(&html_table(&t.header, &t.rows, "landmarks"));
    }

    h.push_str("<h2>Provenance</h2>\n");
    if let Some(file) = &data.file {
        h.push_str(&format!(
            "<p>Experiment file <code>{}</code>. Reproduce with <code>ofhnet run {}</code> then \
             <code>{}</code>.</p>\n",
            escape(file),
            escape(file),
            escape(&options.command)
        ));
    }
    let header: Vec<String> = [
        "run",
        "key",
        "status",
        "attempts",
        "host",
        "device",
        "git commit",
        "started",
        "finished",
        "train s",
        "eval s",
        "stage 1",
        "kept (stage 2)",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<String>> = data
        .runs
        .iter()
        .map(|r| {
            let row = &r.row;
            let commit = match (&row.git_commit, row.git_dirty) {
                (Some(c), Some(1)) => format!("{} (dirty)", &c[..c.len().min(12)]),
                (Some(c), _) => c[..c.len().min(12)].to_string(),
                (None, _) => "—".into(),
            };
            let stage1 = r
                .stages
                .iter()
                .find(|s| s.stage == "stage1")
                .map(|s| if s.reused { "reused" } else { "trained" })
                .unwrap_or("—");
            let kept = r
                .stages
                .iter()
                .find(|s| s.stage == "stage2")
                .and_then(|s| s.kept.clone())
                .unwrap_or_else(|| "—".into());
            vec![
                row.name.clone(),
                row.key.clone(),
                row.status.to_string(),
                row.attempts.to_string(),
                row.host.clone().unwrap_or_else(|| "—".into()),
                row.device.clone().unwrap_or_else(|| "—".into()),
                commit,
                row.started_at.map(utc).unwrap_or_else(|| "—".into()),
                row.finished_at.map(utc).unwrap_or_else(|| "—".into()),
                row.train_seconds
                    .map(|s| format!("{s:.1}"))
                    .unwrap_or_else(|| "—".into()),
                row.eval_seconds
                    .map(|s| format!("{s:.1}"))
                    .unwrap_or_else(|| "—".into()),
                stage1.to_string(),
                kept,
            ]
        })
        .collect();
    h.push_str(&html_table(&header, &rows, "runs"));
    for r in &data.runs {
        let pretty = serde_json::from_str::<serde_json::Value>(&r.row.config)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| r.row.config.clone());
        h.push_str(&format!(
            "<details><summary>configuration of {}</summary><pre>{}</pre></details>\n",
            escape(&r.row.name),
            escape(&pretty)
        ));
        if let Some(e) = &r.row.error {
            h.push_str(&format!(
                "<details open><summary>error of {}</summary><pre>{}</pre></details>\n",
                escape(&r.row.name),
                escape(e)
            ));
        }
    }
    if let Some(spec) = &data.spec {
        let pretty = serde_json::from_str::<serde_json::Value>(spec)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| spec.clone());
        h.push_str(&format!(
            "<details><summary>the experiment as enqueued</summary><pre>{}</pre></details>\n",
            escape(&pretty)
        ));
    }
    h.push_str(&format!("<script>\n{SCRIPT}</script>\n</body>\n</html>\n"));
    std::fs::write(path, h).map_err(|e| Error::io(path, e))?;
    Ok(path.to_path_buf())
}
