//! Reading a face root in CelebA's own layout, real or synthetic:
//!
//! ```text
//! ROOT/img_align_celeba/*.jpg          178x218 aligned faces
//! ROOT/list_eval_partition.txt         name 0|1|2              (train, val, test)
//! ROOT/identity_CelebA.txt             name identity
//! ROOT/list_landmarks_align_celeba.txt count, header, name + 10 ints (5 points)
//! ROOT/landmarks68.txt                 optional: count, header, name + 136 numbers
//! ```
//!
//! A malformed line is an error naming the file and line. A row that is merely missing for an
//! image is recorded per image, so the importer can skip that image (or stop, with `--strict`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::landmarks::Landmarks68;
use crate::{Error, Result};

/// The image folder inside a CelebA root.
pub const IMAGE_DIR: &str = "img_align_celeba";
/// CelebA's official partition file.
pub const PARTITION_FILE: &str = "list_eval_partition.txt";
/// CelebA's identity file.
pub const IDENTITY_FILE: &str = "identity_CelebA.txt";
/// CelebA's five-point landmark file for the aligned images.
pub const LANDMARKS5_FILE: &str = "list_landmarks_align_celeba.txt";
/// The 68-point landmark file (not part of CelebA; see the data's SOURCE.txt).
pub const LANDMARKS68_FILE: &str = "landmarks68.txt";

/// CelebA's official partition of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Partition {
    Train,
    Val,
    Test,
}

/// What a CelebA root says about one image.
#[derive(Clone, Debug)]
pub struct Entry {
    /// File name inside `img_align_celeba`, e.g. `000002.jpg`.
    pub name: String,
    pub partition: Option<Partition>,
    pub identity: Option<u64>,
    /// CelebA's five points (image-left eye, image-right eye, nose, image-left and image-right
    /// mouth corner) in aligned-image coordinates.
    pub landmarks5: Option<[[f32; 2]; 5]>,
    /// The 68 iBUG points in aligned-image coordinates, when the root has `landmarks68.txt`.
    pub landmarks68: Option<Landmarks68>,
}

/// A CelebA-layout root and its annotations.
#[derive(Clone, Debug)]
pub struct CelebaRoot {
    pub root: PathBuf,
    /// Every image the root lists (the partition file's order, or the image folder's sorted
    /// listing when there is no partition file).
    pub entries: Vec<Entry>,
    /// Whether the root has `landmarks68.txt`.
    pub has_landmarks68: bool,
    pub has_partition: bool,
    pub has_identity: bool,
}

impl CelebaRoot {
    /// Path of an image of this root.
    pub fn image_path(&self, name: &str) -> PathBuf {
        self.root.join(IMAGE_DIR).join(name)
    }
}

/// Reads a CelebA-layout root's annotation files. Images are not opened here.
pub fn read_root(root: &Path) -> Result<CelebaRoot> {
    let image_dir = root.join(IMAGE_DIR);
    if !image_dir.is_dir() {
        return Err(Error::Dataset {
            path: root.to_path_buf(),
            message: format!(
                "not a CelebA-layout root: no `{IMAGE_DIR}/` folder (expected {IMAGE_DIR}/, \
                 {PARTITION_FILE}, {IDENTITY_FILE}, {LANDMARKS5_FILE}, optional {LANDMARKS68_FILE})"
            ),
        });
    }

    let partition = read_optional(&root.join(PARTITION_FILE), |path| {
        read_name_value_list(path, |path, line, v| match v {
            "0" => Ok(Partition::Train),
            "1" => Ok(Partition::Val),
            "2" => Ok(Partition::Test),
            other => Err(parse_error(
                path,
                line,
                format!("partition `{other}` is not 0, 1 or 2"),
            )),
        })
    })?;
    let identity = read_optional(&root.join(IDENTITY_FILE), read_identity_list)?;
    let landmarks5 = read_optional(&root.join(LANDMARKS5_FILE), |path| {
        read_point_list(path, 5).map(|m| {
            m.into_iter()
                .map(|(k, v)| {
                    let mut p = [[0.0f32; 2]; 5];
                    for (i, q) in p.iter_mut().enumerate() {
                        *q = [v[2 * i], v[2 * i + 1]];
                    }
                    (k, p)
                })
                .collect::<HashMap<_, _>>()
        })
    })?;
    let landmarks68 = read_optional(&root.join(LANDMARKS68_FILE), |path| {
        read_point_list(path, 68).map(|m| {
            m.into_iter()
                .filter_map(|(k, v)| Landmarks68::from_flat(&v).map(|l| (k, l)))
                .collect::<HashMap<_, _>>()
        })
    })?;

    // The partition file is CelebA's master list; without it, the image folder is.
    let names: Vec<(String, Option<Partition>)> = match &partition {
        Some(list) => list.iter().map(|(n, p)| (n.clone(), Some(*p))).collect(),
        None => list_images(&image_dir)?
            .into_iter()
            .map(|n| (n, None))
            .collect(),
    };
    let identity_map: Option<HashMap<String, u64>> =
        identity.map(|list| list.into_iter().collect());

    let entries = names
        .into_iter()
        .map(|(name, partition)| Entry {
            identity: identity_map.as_ref().and_then(|m| m.get(&name).copied()),
            landmarks5: landmarks5.as_ref().and_then(|m| m.get(&name).copied()),
            landmarks68: landmarks68.as_ref().and_then(|m| m.get(&name).copied()),
            partition,
            name,
        })
        .collect();

    Ok(CelebaRoot {
        root: root.to_path_buf(),
        entries,
        has_landmarks68: landmarks68.is_some(),
        has_partition: partition.is_some(),
        has_identity: identity_map.is_some(),
    })
}

/// Reads an identity file in CelebA's layout (`identity_CelebA.txt`: one `name identity` line
/// per image), in file order; a malformed line or a repeated name fails naming the file and line.
pub fn read_identity_list(path: &Path) -> Result<Vec<(String, u64)>> {
    read_name_value_list(path, |path, line, v| {
        v.parse::<u64>()
            .map_err(|_| parse_error(path, line, format!("identity `{v}` is not a whole number")))
    })
}

fn parse_error(path: &Path, line: usize, message: String) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        line,
        message,
    }
}

fn read_optional<T>(path: &Path, read: impl FnOnce(&Path) -> Result<T>) -> Result<Option<T>> {
    if path.exists() {
        read(path).map(Some)
    } else {
        Ok(None)
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// `name value` per line; a duplicate name is an error.
fn read_name_value_list<T>(
    path: &Path,
    parse: impl Fn(&Path, usize, &str) -> Result<T>,
) -> Result<Vec<(String, T)>> {
    let text = read_text(path)?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let mut fields = line.split_whitespace();
        let Some(name) = fields.next() else { continue };
        let (Some(value), None) = (fields.next(), fields.next()) else {
            return Err(parse_error(
                path,
                line_no,
                format!("expected `NAME VALUE`, found `{line}`"),
            ));
        };
        if !seen.insert(name.to_string()) {
            return Err(parse_error(
                path,
                line_no,
                format!("`{name}` is listed twice"),
            ));
        }
        out.push((name.to_string(), parse(path, line_no, value)?));
    }
    Ok(out)
}

/// CelebA's landmark format: a count line, a header line, then `name` and `2 * points` numbers.
fn read_point_list(path: &Path, points: usize) -> Result<HashMap<String, Vec<f32>>> {
    let text = read_text(path)?;
    let mut lines = text.lines().enumerate();
    let count = match lines.next() {
        Some((_, l)) => l
            .trim()
            .parse::<usize>()
            .map_err(|_| parse_error(path, 1, format!("expected the row count, found `{l}`")))?,
        None => return Err(parse_error(path, 1, "the file is empty".into())),
    };
    let header = lines.next().map(|(_, l)| l).unwrap_or_default();
    let header_fields = header.split_whitespace().count();
    if header_fields != 2 * points {
        return Err(parse_error(
            path,
            2,
            format!(
                "expected a header of {} column names, found {header_fields}",
                2 * points
            ),
        ));
    }
    let mut out = HashMap::with_capacity(count);
    for (i, line) in lines {
        let line_no = i + 1;
        let mut fields = line.split_whitespace();
        let Some(name) = fields.next() else { continue };
        let values = fields
            .map(|f| {
                f.parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| parse_error(path, line_no, format!("`{f}` is not a number")))
            })
            .collect::<Result<Vec<f32>>>()?;
        if values.len() != 2 * points {
            return Err(parse_error(
                path,
                line_no,
                format!(
                    "`{name}` has {} numbers, expected {} ({points} points)",
                    values.len(),
                    2 * points
                ),
            ));
        }
        if out.insert(name.to_string(), values).is_some() {
            return Err(parse_error(
                path,
                line_no,
                format!("`{name}` is listed twice"),
            ));
        }
    }
    if out.len() != count {
        return Err(parse_error(
            path,
            1,
            format!(
                "the count line says {count} rows, the file has {}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

fn list_images(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".jpg") || lower.ends_with(".jpeg") || lower.ends_with(".png") {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}
