//! The prepared dataset: faces cropped, downscaled and split once, so training and evaluation
//! load them in a blink.
//!
//! ```text
//! DIR/manifest.json          format version, sources, split rule, protocol, counts, problems
//! DIR/{train,val,test}.safetensors
//!     hr           u8  [N, 128, 128, 3]   HR crops (PROTOCOL "HR ground truth")
//!     lr           u8  [N, 16, 16, 3]     antialiased bicubic 8x downscale, u8-rounded
//!     landmarks5   f32 [N, 5, 2]          CelebA's five points, HR-crop coordinates
//!     landmarks68  f32 [N, 68, 2]         68 iBUG points, HR-crop coordinates (if the source has them)
//!     identity     i64 [N]                identity, -1 where unknown
//!     source       i64 [N]                index into the manifest's sources
//!     metadata "names": JSON list of the images' file names
//! ```
//!
//! safetensors is a plain, documented format: `safetensors.numpy.load_file` reads a split in
//! Python as it is, which makes cross-checking against other tools easy.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use image::RgbImage;
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use super::celeba::{self, CelebaRoot, Partition};
use super::image_io::load_rgb;
use super::landmarks::Landmarks68;
use super::protocol::{ALIGNED_HEIGHT, ALIGNED_WIDTH, Protocol};
use super::resize::{crop_hr, downscale};
use crate::{Error, Result};

/// Version of the prepared format; bumped when the layout changes.
pub const FORMAT_VERSION: u32 = 1;
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";

/// The split names, in order.
pub const SPLITS: [&str; 3] = ["train", "val", "test"];

/// How images are assigned to train / val / test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum SplitRule {
    /// CelebA's `list_eval_partition.txt` (0 train, 1 val, 2 test).
    Official,
    /// Identities are shuffled with the seed and assigned by fraction, so no person is in two
    /// splits.
    Identity { fractions: [f64; 3] },
    /// Images are shuffled with the seed; `counts` holds exact counts or `fractions` shares.
    Random {
        counts: Option<[usize; 3]>,
        fractions: Option<[f64; 3]>,
    },
}

impl FromStr for SplitRule {
    type Err = Error;

    /// `official`, `identity[:TRAIN/TEST | :TRAIN/VAL/TEST]` (fractions),
    /// `random:TRAIN/TEST | random:TRAIN/VAL/TEST` (counts like `28000/2000`, or fractions like
    /// `0.9/0.1`).
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::invalid(
                "--split",
                format!(
                    "`{s}`: {why}; expected official, identity[:TRAIN/TEST], \
                     identity:TRAIN/VAL/TEST, random:TRAIN/TEST or random:TRAIN/VAL/TEST"
                ),
            )
        };
        let (rule, parts) = match s.split_once(':') {
            Some((r, p)) => (r, Some(p)),
            None => (s, None),
        };
        let numbers = |p: &str| -> Result<Vec<String>> {
            let v: Vec<String> = p.split('/').map(|x| x.trim().to_string()).collect();
            match v.len() {
                2 => Ok(vec![v[0].clone(), "0".into(), v[1].clone()]),
                3 => Ok(v),
                _ => Err(bad("give two or three parts separated by `/`")),
            }
        };
        let fractions = |v: &[String]| -> Result<[f64; 3]> {
            let f: Vec<f64> = v
                .iter()
                .map(|x| x.parse::<f64>().map_err(|_| bad("parts must be numbers")))
                .collect::<Result<_>>()?;
            let total: f64 = f.iter().sum();
            if f.iter().any(|x| !x.is_finite() || *x < 0.0) || total <= 0.0 {
                return Err(bad("parts must be non-negative and not all zero"));
            }
            Ok([f[0] / total, f[1] / total, f[2] / total])
        };
        match (rule, parts) {
            ("official", None) => Ok(SplitRule::Official),
            ("identity", None) => Ok(SplitRule::Identity {
                fractions: [0.8, 0.1, 0.1],
            }),
            ("identity", Some(p)) => Ok(SplitRule::Identity {
                fractions: fractions(&numbers(p)?)?,
            }),
            ("random", Some(p)) => {
                let v = numbers(p)?;
                if v.iter().all(|x| x.parse::<usize>().is_ok()) {
                    let c: Vec<usize> = v.iter().filter_map(|x| x.parse().ok()).collect();
                    Ok(SplitRule::Random {
                        counts: Some([c[0], c[1], c[2]]),
                        fractions: None,
                    })
                } else {
                    Ok(SplitRule::Random {
                        counts: None,
                        fractions: Some(fractions(&v)?),
                    })
                }
            }
            ("random", None) => Err(bad("random needs sizes")),
            _ => Err(bad("unknown rule")),
        }
    }
}

/// One problem met while importing, reported with the file it concerns.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Problem {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// `manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    pub ofhnet_version: String,
    /// The CelebA-layout roots split by `split`, canonicalised.
    pub sources: Vec<String>,
    /// Roots whose every face went to the train split (identity-disjoint extra training data).
    #[serde(default)]
    pub train_sources: Vec<String>,
    pub split: SplitRule,
    pub seed: u64,
    pub protocol: Protocol,
    pub counts: BTreeMap<String, usize>,
    pub has_landmarks68: bool,
    /// Images skipped, and the first problems met (all of them are printed by the importer).
    pub skipped: usize,
    pub problems: Vec<Problem>,
}

/// Options of [`import`].
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Roots whose faces are split by `split`.
    pub roots: Vec<PathBuf>,
    /// Roots whose every face goes to the train split, such as celeba-extra next to celeba6k
    /// (their identities must not appear in `roots`' val and test splits).
    pub train_roots: Vec<PathBuf>,
    pub out: PathBuf,
    pub split: SplitRule,
    pub seed: u64,
    pub protocol: Protocol,
    /// Stop at the first bad image instead of skipping it.
    pub strict: bool,
    /// Replace an existing output directory (atomically).
    pub force: bool,
}

/// What [`import`] did.
#[derive(Clone, Debug)]
pub struct ImportSummary {
    pub manifest: Manifest,
    /// Every problem met (the manifest keeps the first few).
    pub problems: Vec<Problem>,
}

/// A sample before it is written.
struct Prepared {
    name: String,
    source: usize,
    identity: Option<u64>,
    hr: RgbImage,
    lr: RgbImage,
    landmarks5: [[f32; 2]; 5],
    landmarks68: Option<Landmarks68>,
}

/// Imports one or more CelebA-layout roots into a prepared dataset at `options.out`.
///
/// The output is written to a temporary sibling directory and renamed into place only when
/// complete, so an existing dataset is never half-overwritten.
pub fn import(options: &ImportOptions, progress: &ProgressBar) -> Result<ImportSummary> {
    if options.roots.is_empty() {
        return Err(Error::invalid("--celeba", "give at least one root"));
    }
    if options.out.exists() && !options.force {
        return Err(Error::OutputExists(options.out.clone()));
    }
    let n_split = options.roots.len();
    let roots = options
        .roots
        .iter()
        .chain(&options.train_roots)
        .map(|r| celeba::read_root(r))
        .collect::<Result<Vec<_>>>()?;
    check_roots(&roots[..n_split], &options.split)?;
    let has_landmarks68 = roots.iter().all(|r| r.has_landmarks68);

    let mut problems = Vec::new();
    let jobs: Vec<(usize, &celeba::Entry)> = roots
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.entries.iter().map(move |e| (i, e)))
        .collect();
    progress.set_length(jobs.len() as u64);
    progress.set_message("reading faces");

    let results: Vec<std::result::Result<Prepared, Problem>> = jobs
        .par_iter()
        .map(|(source, entry)| {
            let out = prepare(&roots[*source], *source, entry, options, has_landmarks68);
            progress.inc(1);
            out
        })
        .collect();
    let mut samples = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(s) => samples.push(s),
            Err(p) if options.strict => {
                return Err(Error::Dataset {
                    path: p.path,
                    message: format!("{} (stopped by --strict)", p.message),
                });
            }
            Err(p) => problems.push(p),
        }
    }

    // Samples come in root order: those of the split roots first, then the train-only ones.
    let n_split_samples = samples.iter().take_while(|s| s.source < n_split).count();
    let mut assignment = assign_splits(
        &samples[..n_split_samples],
        &roots[..n_split],
        &options.split,
        options.seed,
    )?;
    assignment.resize(samples.len(), 0);
    progress.set_message("writing");

    let parent = options
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let leaf = options
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    let tmp = parent.join(format!(".{leaf}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;

    let written = (|| -> Result<Manifest> {
        let mut counts = BTreeMap::new();
        for (split_index, split) in SPLITS.iter().enumerate() {
            let members: Vec<&Prepared> = samples
                .iter()
                .zip(&assignment)
                .filter(|(_, a)| **a == split_index)
                .map(|(s, _)| s)
                .collect();
            write_split(
                &tmp.join(format!("{split}.safetensors")),
                &members,
                has_landmarks68,
            )?;
            counts.insert(split.to_string(), members.len());
        }
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            ofhnet_version: env!("CARGO_PKG_VERSION").to_string(),
            sources: roots[..n_split].iter().map(canonical_root).collect(),
            train_sources: roots[n_split..].iter().map(canonical_root).collect(),
            split: options.split.clone(),
            seed: options.seed,
            protocol: options.protocol.clone(),
            counts,
            has_landmarks68,
            skipped: problems.len(),
            problems: problems.iter().take(100).cloned().collect(),
        };
        let json = serde_json::to_string_pretty(&manifest)
            .map_err(|e| Error::Mismatch(format!("cannot encode the manifest: {e}")))?;
        let path = tmp.join(MANIFEST);
        std::fs::write(&path, json).map_err(|e| Error::io(&path, e))?;
        Ok(manifest)
    })();
    let manifest = match written {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    replace_dir(&tmp, &options.out)?;
    Ok(ImportSummary { manifest, problems })
}

fn canonical_root(r: &CelebaRoot) -> String {
    std::fs::canonicalize(&r.root)
        .unwrap_or_else(|_| r.root.clone())
        .display()
        .to_string()
}

/// The roots must hold what the split rule needs.
fn check_roots(roots: &[CelebaRoot], split: &SplitRule) -> Result<()> {
    for r in roots {
        let (needed, has) = match split {
            SplitRule::Official => (celeba::PARTITION_FILE, r.has_partition),
            SplitRule::Identity { .. } => (celeba::IDENTITY_FILE, r.has_identity),
            SplitRule::Random { .. } => continue,
        };
        if !has {
            return Err(Error::Dataset {
                path: r.root.join(needed),
                message: "missing; the chosen --split needs it".into(),
            });
        }
    }
    Ok(())
}

fn prepare(
    root: &CelebaRoot,
    source: usize,
    entry: &celeba::Entry,
    options: &ImportOptions,
    need68: bool,
) -> std::result::Result<Prepared, Problem> {
    let path = root.image_path(&entry.name);
    let problem = |file: PathBuf, message: String| Problem {
        path: file,
        message,
    };
    let Some(landmarks5) = entry.landmarks5 else {
        return Err(problem(
            root.root.join(celeba::LANDMARKS5_FILE),
            format!("no landmark row for `{}`", entry.name),
        ));
    };
    if need68 && entry.landmarks68.is_none() {
        return Err(problem(
            root.root.join(celeba::LANDMARKS68_FILE),
            format!("no landmark row for `{}`", entry.name),
        ));
    }
    if matches!(options.split, SplitRule::Identity { .. }) && entry.identity.is_none() {
        return Err(problem(
            root.root.join(celeba::IDENTITY_FILE),
            format!("no identity row for `{}`", entry.name),
        ));
    }
    let aligned = load_rgb(&path).map_err(|e| problem(path.clone(), inner_message(e)))?;
    if aligned.dimensions() != (ALIGNED_WIDTH, ALIGNED_HEIGHT) {
        return Err(problem(
            path.clone(),
            format!(
                "image is {}x{}, expected CelebA's aligned {ALIGNED_WIDTH}x{ALIGNED_HEIGHT}",
                aligned.width(),
                aligned.height()
            ),
        ));
    }
    let p = &options.protocol;
    let hr = crop_hr(&aligned, p).map_err(|e| problem(path.clone(), inner_message(e)))?;
    let lr = downscale(&hr, p);
    let (dx, dy) = (p.crop_x as f32, p.crop_y as f32);
    let mut l5 = landmarks5;
    for q in l5.iter_mut() {
        q[0] -= dx;
        q[1] -= dy;
    }
    Ok(Prepared {
        name: entry.name.clone(),
        source,
        identity: entry.identity,
        hr,
        lr,
        landmarks5: l5,
        landmarks68: entry.landmarks68.map(|l| l.translated(dx, dy)),
    })
}

/// The message of an error whose path is reported separately.
fn inner_message(e: Error) -> String {
    match e {
        Error::Image { message, .. } => format!("not a readable image ({message})"),
        Error::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Split index (0 train, 1 val, 2 test) per sample.
fn assign_splits(
    samples: &[Prepared],
    roots: &[CelebaRoot],
    rule: &SplitRule,
    seed: u64,
) -> Result<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    match rule {
        SplitRule::Official => {
            let partitions: HashMap<(usize, &str), Partition> = roots
                .iter()
                .enumerate()
                .flat_map(|(i, r)| {
                    r.entries
                        .iter()
                        .filter_map(move |e| e.partition.map(|p| ((i, e.name.as_str()), p)))
                })
                .collect();
            Ok(samples
                .iter()
                .map(|s| match partitions.get(&(s.source, s.name.as_str())) {
                    Some(Partition::Val) => 1,
                    Some(Partition::Test) => 2,
                    _ => 0,
                })
                .collect())
        }
        SplitRule::Identity { fractions } => {
            // CelebA's identity numbers are global, so the same number in two roots is one
            // person and lands in one split.
            let mut ids: Vec<u64> = samples
                .iter()
                .filter_map(|s| s.identity)
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            ids.sort_unstable();
            ids.shuffle(&mut rng);
            let bounds = cut_points(ids.len(), fractions);
            let split_of: HashMap<u64, usize> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| (*id, split_index(i, bounds)))
                .collect();
            Ok(samples
                .iter()
                .map(|s| {
                    s.identity
                        .and_then(|id| split_of.get(&id).copied())
                        .unwrap_or(0)
                })
                .collect())
        }
        SplitRule::Random { counts, fractions } => {
            let n = samples.len();
            let bounds = match (counts, fractions) {
                (Some(c), _) => {
                    let total: usize = c.iter().sum();
                    if total > n {
                        return Err(Error::invalid(
                            "--split",
                            format!("asks for {total} images, the sources hold {n} usable ones"),
                        ));
                    }
                    [c[0], c[0] + c[1], c[0] + c[1] + c[2]]
                }
                (None, Some(f)) => cut_points(n, f),
                (None, None) => cut_points(n, &[1.0, 0.0, 0.0]),
            };
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut rng);
            // Images past the requested counts are left out (split index 3).
            let mut out = vec![3usize; n];
            for (rank, i) in order.into_iter().enumerate() {
                out[i] = split_index(rank, bounds);
            }
            Ok(out)
        }
    }
}

fn cut_points(n: usize, fractions: &[f64; 3]) -> [usize; 3] {
    let a = (n as f64 * fractions[0]).round() as usize;
    let b = (n as f64 * (fractions[0] + fractions[1])).round() as usize;
    [a.min(n), b.min(n), n]
}

fn split_index(rank: usize, bounds: [usize; 3]) -> usize {
    bounds.iter().position(|b| rank < *b).unwrap_or(3)
}

fn write_split(path: &Path, members: &[&Prepared], has68: bool) -> Result<()> {
    let n = members.len();
    let hr: Vec<u8> = members
        .iter()
        .flat_map(|s| s.hr.as_raw().iter().copied())
        .collect();
    let lr: Vec<u8> = members
        .iter()
        .flat_map(|s| s.lr.as_raw().iter().copied())
        .collect();
    let l5: Vec<u8> = members
        .iter()
        .flat_map(|s| s.landmarks5.iter().flat_map(|p| [p[0], p[1]]))
        .flat_map(f32::to_le_bytes)
        .collect();
    let l68: Vec<u8> = members
        .iter()
        .flat_map(|s| s.landmarks68.map(|l| l.to_flat()).unwrap_or_default())
        .flat_map(f32::to_le_bytes)
        .collect();
    let identity: Vec<u8> = members
        .iter()
        .flat_map(|s| s.identity.map(|i| i as i64).unwrap_or(-1).to_le_bytes())
        .collect();
    let source: Vec<u8> = members
        .iter()
        .flat_map(|s| (s.source as i64).to_le_bytes())
        .collect();
    let (hs, ls) = (
        members
            .first()
            .map(|s| s.hr.width() as usize)
            .unwrap_or(128),
        members.first().map(|s| s.lr.width() as usize).unwrap_or(16),
    );
    fn view<'a>(
        path: &Path,
        dtype: Dtype,
        shape: Vec<usize>,
        data: &'a [u8],
    ) -> Result<TensorView<'a>> {
        TensorView::new(dtype, shape, data).map_err(|e| {
            Error::Mismatch(format!("{}: cannot lay out a tensor: {e}", path.display()))
        })
    }
    let mut tensors = vec![
        ("hr", view(path, Dtype::U8, vec![n, hs, hs, 3], &hr)?),
        ("lr", view(path, Dtype::U8, vec![n, ls, ls, 3], &lr)?),
        ("landmarks5", view(path, Dtype::F32, vec![n, 5, 2], &l5)?),
        ("identity", view(path, Dtype::I64, vec![n], &identity)?),
        ("source", view(path, Dtype::I64, vec![n], &source)?),
    ];
    if has68 {
        tensors.push(("landmarks68", view(path, Dtype::F32, vec![n, 68, 2], &l68)?));
    }
    let names: Vec<&str> = members.iter().map(|s| s.name.as_str()).collect();
    let mut meta = HashMap::new();
    meta.insert(
        "names".to_string(),
        serde_json::to_string(&names).unwrap_or_else(|_| "[]".into()),
    );
    safetensors::serialize_to_file(tensors, Some(meta), path)
        .map_err(|e| Error::Mismatch(format!("{}: cannot write: {e}", path.display())))
}

/// Moves the finished `tmp` directory to `out`, replacing an existing `out` only after the new
/// one is complete.
fn replace_dir(tmp: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        let old = out.with_file_name(format!(
            ".{}.old-{}",
            out.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            std::process::id()
        ));
        std::fs::rename(out, &old).map_err(|e| Error::io(out, e))?;
        std::fs::rename(tmp, out).map_err(|e| Error::io(out, e))?;
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    } else {
        std::fs::rename(tmp, out).map_err(|e| Error::io(out, e))?;
    }
    Ok(())
}

/// One split of a prepared dataset, in memory.
#[derive(Clone, Debug)]
pub struct Split {
    pub name: String,
    pub names: Vec<String>,
    pub hr_size: u32,
    pub lr_size: u32,
    /// `[N, hr, hr, 3]` u8, row-major.
    pub hr: Vec<u8>,
    /// `[N, lr, lr, 3]` u8, row-major.
    pub lr: Vec<u8>,
    pub landmarks5: Vec<[[f32; 2]; 5]>,
    pub landmarks68: Option<Vec<Landmarks68>>,
    pub identity: Vec<i64>,
    pub source: Vec<i64>,
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the split is empty.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The HR face `i`.
    pub fn hr_image(&self, i: usize) -> RgbImage {
        let n = (self.hr_size * self.hr_size * 3) as usize;
        RgbImage::from_raw(
            self.hr_size,
            self.hr_size,
            self.hr[i * n..(i + 1) * n].to_vec(),
        )
        .expect("split buffers are checked when loaded")
    }

    /// The LR face `i` (not occluded).
    pub fn lr_image(&self, i: usize) -> RgbImage {
        let n = (self.lr_size * self.lr_size * 3) as usize;
        RgbImage::from_raw(
            self.lr_size,
            self.lr_size,
            self.lr[i * n..(i + 1) * n].to_vec(),
        )
        .expect("split buffers are checked when loaded")
    }
}

/// A prepared dataset directory.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Dataset {
    /// Opens a prepared dataset and checks its manifest.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::Parse {
            path: path.clone(),
            line: e.line(),
            message: e.to_string(),
        })?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(Error::Dataset {
                path,
                message: format!(
                    "format version {} is not the supported {FORMAT_VERSION}; re-import it",
                    manifest.format_version
                ),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// Loads one split (`train`, `val` or `test`).
    pub fn split(&self, name: &str) -> Result<Split> {
        if !SPLITS.contains(&name) {
            return Err(Error::invalid(
                "split",
                format!("`{name}`; expected train, val or test"),
            ));
        }
        let path = self.dir.join(format!("{name}.safetensors"));
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let bad = |message: String| Error::Dataset {
            path: path.clone(),
            message,
        };
        let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
        let (_, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
        let names: Vec<String> = metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get("names"))
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| bad("no `names` metadata".into()))?;
        let n = names.len();
        let tensor = |key: &str, dtype: Dtype, rank: usize| -> Result<TensorView<'_>> {
            let t = st
                .tensor(key)
                .map_err(|_| bad(format!("no `{key}` tensor")))?;
            if t.dtype() != dtype || t.shape().len() != rank || t.shape()[0] != n {
                return Err(bad(format!(
                    "`{key}` is {:?} {:?}, expected {dtype:?} with {n} rows",
                    t.dtype(),
                    t.shape()
                )));
            }
            Ok(t)
        };
        let hr = tensor("hr", Dtype::U8, 4)?;
        let lr = tensor("lr", Dtype::U8, 4)?;
        let hr_size = hr.shape()[1] as u32;
        let lr_size = lr.shape()[1] as u32;
        let f32s = |t: TensorView<'_>| -> Vec<f32> {
            t.data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        let i64s = |t: TensorView<'_>| -> Vec<i64> {
            t.data()
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect()
        };
        let l5 = f32s(tensor("landmarks5", Dtype::F32, 3)?);
        let landmarks5 = l5
            .chunks_exact(10)
            .map(|c| {
                let mut p = [[0.0f32; 2]; 5];
                for (i, q) in p.iter_mut().enumerate() {
                    *q = [c[2 * i], c[2 * i + 1]];
                }
                p
            })
            .collect();
        let landmarks68 = if self.manifest.has_landmarks68 {
            let flat = f32s(tensor("landmarks68", Dtype::F32, 3)?);
            Some(
                flat.chunks_exact(136)
                    .filter_map(Landmarks68::from_flat)
                    .collect(),
            )
        } else {
            None
        };
        Ok(Split {
            name: name.to_string(),
            names,
            hr_size,
            lr_size,
            hr: hr.data().to_vec(),
            lr: lr.data().to_vec(),
            landmarks5,
            landmarks68,
            identity: i64s(tensor("identity", Dtype::I64, 1)?),
            source: i64s(tensor("source", Dtype::I64, 1)?),
        })
    }
}
