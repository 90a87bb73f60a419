//! Image grids like the paper's Figs. 6, 8 and 9: one PNG per protocol, a row per test face
//! and the columns occluded LR, InpaintNet output, each method, ground truth.
//!
//! The faces are those each run kept when it was evaluated (the first
//! [`crate::evaluate::SAMPLE_FACES`] of the test split, `samples/` in its directory), so the grid
//! shows exactly what was scored. IN+bicubic is the kept InpaintNet output upscaled as the
//! evaluation does; LR faces are enlarged by pixel repetition so that their pixels show.

use std::path::{Path, PathBuf};

use image::RgbImage;
use image::imageops::{FilterType, resize};
use plotters::prelude::*;

use super::charts::register_fonts;
use super::{ReportData, file_stem};
use crate::data::image_io::{load_rgb, save_png};
use crate::data::resize::upscale;
use crate::evaluate::SAMPLE_FACES;
use crate::methods::bicubic::NAME as IN_BICUBIC;
use crate::{Error, Result};

/// What [`write_all`] produced.
#[derive(Clone, Debug, Default)]
pub struct Grids {
    /// `(protocol, file)`.
    pub grids: Vec<(String, PathBuf)>,
    pub files: Vec<PathBuf>,
    pub missing: Vec<String>,
}

const CELL: u32 = 128;
const GAP: u32 = 6;
const HEADER: u32 = 46;

fn samples_dir(data: &ReportData, run_key: &str, protocol: &str) -> Option<PathBuf> {
    let run = data.run(run_key)?;
    let dir = PathBuf::from(run.row.artifacts.as_ref()?)
        .join(crate::train::stages::files::SAMPLES)
        .join(protocol.replace(':', "-"));
    dir.is_dir().then_some(dir)
}

fn load(dir: &Path, index: usize, what: &str) -> Option<RgbImage> {
    load_rgb(&dir.join(format!("{index:04}_{what}.png"))).ok()
}

fn enlarge(image: &RgbImage) -> RgbImage {
    if image.width() == CELL && image.height() == CELL {
        image.clone()
    } else {
        resize(image, CELL, CELL, FilterType::Nearest)
    }
}

/// One column: a title (two lines) and a picture per face (None: not available).
struct Column {
    title: (String, String),
    cells: Vec<Option<RgbImage>>,
}

fn draw_grid(columns: &[Column], faces: usize, path: &Path) -> Result<()> {
    register_fonts();
    let width = GAP + columns.len() as u32 * (CELL + GAP);
    let height = HEADER + faces as u32 * (CELL + GAP) + GAP;
    let mut buffer = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| {
            Error::invalid("report", format!("drawing {}: {e}", path.display()))
        };
        root.fill(&WHITE).map_err(err)?;
        let style = ("sans-serif", 13).into_font().color(&BLACK);
        let small = ("sans-serif", 11).into_font().color(&RGBColor(80, 80, 80));
        for (c, column) in columns.iter().enumerate() {
            let x = (GAP + c as u32 * (CELL + GAP)) as i32;
            root.draw_text(&column.title.0, &style, (x, 6))
                .map_err(err)?;
            root.draw_text(&column.title.1, &small, (x, 24))
                .map_err(err)?;
            for (f, cell) in column.cells.iter().enumerate() {
                let y = (HEADER + f as u32 * (CELL + GAP)) as i32;
                match cell {
                    Some(image) => {
                        let element = plotters::element::BitMapElement::with_owned_buffer(
                            (x, y),
                            (CELL, CELL),
                            image.as_raw().clone(),
                        );
                        if let Some(element) = element {
                            root.draw(&element).map_err(err)?;
                        }
                    }
                    None => {
                        root.draw(&Rectangle::new(
                            [(x, y), (x + CELL as i32, y + CELL as i32)],
                            RGBColor(225, 225, 225).filled(),
                        ))
                        .map_err(err)?;
                        root.draw_text("missing", &small, (x + 40, y + 58))
                            .map_err(err)?;
                    }
                }
            }
        }
        root.present().map_err(err)?;
    }
    let image = RgbImage::from_raw(width, height, buffer)
        .ok_or_else(|| Error::invalid("report", "grid buffer has the wrong size"))?;
    save_png(&image, path)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Writes one grid per protocol into `dir`.
pub fn write_all(data: &ReportData, dir: &Path) -> Result<Grids> {
    let mut out = Grids::default();
    for protocol in &data.protocols {
        // The first run with samples gives the occluded and inpainted columns.
        let Some(first) = data
            .runs
            .iter()
            .find_map(|r| samples_dir(data, &r.row.key, protocol))
        else {
            out.missing.push(format!(
                "image grid for {protocol}: no run kept sample faces (runs evaluated by an \
                 older ofhnet, or not evaluated yet)"
            ));
            continue;
        };
        let faces = (0..SAMPLE_FACES)
            .take_while(|&i| first.join(format!("{i:04}_gt.png")).is_file())
            .count();
        if faces == 0 {
            continue;
        }
        let mut columns = vec![
            Column {
                title: ("occluded LR".into(), "16x16, enlarged".into()),
                cells: (0..faces)
                    .map(|i| load(&first, i, "occluded").map(|im| enlarge(&im)))
                    .collect(),
            },
            Column {
                title: ("InpaintNet".into(), "16x16, enlarged".into()),
                cells: (0..faces)
                    .map(|i| load(&first, i, "inpainted").map(|im| enlarge(&im)))
                    .collect(),
            },
        ];
        for entity in &data.entities {
            let dirs: Vec<PathBuf> = entity
                .runs
                .iter()
                .filter_map(|(_, key)| samples_dir(data, key, protocol))
                .collect();
            let cells = (0..faces)
                .map(|i| {
                    let dir = dirs.first()?;
                    if entity.method == IN_BICUBIC {
                        load(dir, i, "inpainted").map(|lr| upscale(&lr, CELL, -0.5))
                    } else {
                        load(dir, i, "output")
                    }
                })
                .collect::<Vec<_>>();
            if dirs.is_empty() {
                out.missing.push(format!(
                    "image grid for {protocol}: no sample faces of {}",
                    entity.label
                ));
            }
            let variant = entity
                .variant
                .iter()
                .map(|(k, v)| format!("{}={v}", k.rsplit('.').next().unwrap_or(k)))
                .collect::<Vec<_>>()
                .join(",");
            columns.push(Column {
                title: (truncate(&entity.method, 18), truncate(&variant, 22)),
                cells,
            });
        }
        columns.push(Column {
            title: ("ground truth".into(), "128x128".into()),
            cells: (0..faces).map(|i| load(&first, i, "gt")).collect(),
        });
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(format!(
            "grid_{}.png",
            file_stem(&protocol.replace(':', "-"))
        ));
        draw_grid(&columns, faces, &path)?;
        out.files.push(path.clone());
        out.grids.push((
            protocol.clone(),
            path.file_name().map(PathBuf::from).unwrap_or_default(),
        ));
    }
    Ok(out)
}
