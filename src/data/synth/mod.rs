//! Deterministic procedural synthetic faces in CelebA's aligned layout.
//!
//! The paper trains on CelebA's aligned faces (178x218, eyes level at y=112). Where CelebA is not at
//! hand (tests, the quickstart, a fresh machine) the project trains on these faces instead, so they
//! carry what a face hallucination network has to learn: a shaded skin-toned face oval, hair, eyes
//! with whites, iris and pupil, brows, nose shading, lips, an open mouth's dark inside, and a
//! background, varied over identities (face shape, feature sizes, skin, hair, eye colour) and over
//! images of one identity (pose with a little yaw, expression, lighting, background, clothes).
//!
//! Every face is drawn from its 68 iBUG-layout points (see [`crate::data::landmarks`]): the points are
//! made first, from the identity and the image's parameters, and the jaw line, eyes, brows, nose and
//! lips are then drawn through them, so each image carries the exact points of its features.
//!
//! Everything is a function of two seeds ([`render_face`]), so the same seeds give byte-identical
//! images on one platform, whatever the thread count. [`write_celeba_root`] writes a whole root in
//! the layout and text formats of the real data set.

mod canvas;
mod drawing;
mod geometry;
mod hair;
mod identity;
mod math;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use image::RgbImage;
use image::codecs::jpeg::JpegEncoder;
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::data::celeba::{
    IDENTITY_FILE, IMAGE_DIR, LANDMARKS5_FILE, LANDMARKS68_FILE, PARTITION_FILE,
};
use crate::data::landmarks::{Landmarks68, N_POINTS};
use crate::{Error, Result};

use drawing::draw_face;
use geometry::Face;
use identity::{Identity, Shot};
use math::mix;

/// JPEG quality of the written images.
pub const JPEG_QUALITY: u8 = 95;

/// What [`write_celeba_root`] makes.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthOptions {
    /// Number of images.
    pub count: usize,
    /// Seed of everything: identities, images and the split.
    pub seed: u64,
    /// Images per synthetic identity (the last identity may have fewer).
    pub images_per_identity: usize,
    /// Fraction of identities in the validation split (CelebA's `1`).
    pub val_fraction: f64,
    /// Fraction of identities in the test split (CelebA's `2`).
    pub test_fraction: f64,
}

impl Default for SynthOptions {
    /// 6,000 images of 600 identities split 76/13/11% like `celeba6k` (4560/780/660 images).
    fn default() -> Self {
        Self {
            count: 6000,
            seed: 0,
            images_per_identity: 10,
            val_fraction: 0.13,
            test_fraction: 0.11,
        }
    }
}

impl SynthOptions {
    /// Checks the ranges of the fields.
    pub fn validate(&self) -> Result<()> {
        if self.count == 0 {
            return Err(Error::invalid("count", "must be at least 1"));
        }
        if self.images_per_identity == 0 {
            return Err(Error::invalid("images_per_identity", "must be at least 1"));
        }
        for (field, f) in [
            ("val_fraction", self.val_fraction),
            ("test_fraction", self.test_fraction),
        ] {
            if !(0.0..1.0).contains(&f) {
                return Err(Error::invalid(
                    field,
                    format!("{f} is outside [0, 1); expected e.g. 0.13"),
                ));
            }
        }
        if self.val_fraction + self.test_fraction >= 1.0 {
            return Err(Error::invalid(
                "val_fraction + test_fraction",
                format!(
                    "{} + {} leaves no identity for training; expected a sum below 1",
                    self.val_fraction, self.test_fraction
                ),
            ));
        }
        Ok(())
    }
}

/// What [`write_celeba_root`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthSummary {
    /// The root directory.
    pub root: PathBuf,
    /// Number of images.
    pub images: usize,
    /// Number of identities.
    pub identities: usize,
    /// Images in the train, validation and test splits.
    pub split_images: [usize; 3],
    /// Identities in the train, validation and test splits.
    pub split_identities: [usize; 3],
}

/// One synthetic face: the aligned image and its exact landmark points.
#[derive(Clone, Debug)]
pub struct SynthFace {
    /// The 178x218 aligned image.
    pub image: RgbImage,
    /// The 68 points in the image's pixel coordinates.
    pub landmarks: Landmarks68,
}

/// Draws one face. `identity_seed` fixes who it is (face shape, feature sizes and spacing, skin,
/// hair, eye colour); `image_seed` fixes this picture of them (pose, expression, lighting,
/// background, clothes, noise).
///
/// Every landmark lies inside the protocol's 128x128 HR crop (top-left (24, 66)).
pub fn render_face(identity_seed: u64, image_seed: u64) -> SynthFace {
    let identity = Identity::sample(&mut ChaCha8Rng::seed_from_u64(mix(identity_seed, 0x1d)));
    let mut rng = ChaCha8Rng::seed_from_u64(mix(image_seed, 0x5407));
    let shot = Shot::sample(&mut rng);
    let face = Face::build(&identity, &shot);
    let image = draw_face(&identity, &shot, &face, &mut rng);
    SynthFace {
        image,
        landmarks: Landmarks68(face.pts),
    }
}

/// Writes a CelebA-layout root of synthetic faces at `out`: `img_align_celeba/000001.jpg ...`,
/// `list_eval_partition.txt`, `identity_CelebA.txt`, `list_landmarks_align_celeba.txt`,
/// `landmarks68.txt` and `SOURCE.txt`, in the real data's formats.
///
/// Whole identities go to one split. Images are numbered train first, then validation, then
/// test, as in CelebA. The root is written into a temporary sibling directory and renamed into
/// place at the end, so a failed run leaves nothing half-written. `out` must not exist or be an
/// empty directory ([`Error::OutputExists`] otherwise). `progress` gets the image count as length
/// and one tick per image.
pub fn write_celeba_root(
    out: &Path,
    opts: &SynthOptions,
    progress: &ProgressBar,
) -> Result<SynthSummary> {
    opts.validate()?;
    let replace_empty_dir = check_output(out)?;
    let name = out
        .file_name()
        .ok_or_else(|| Error::invalid("output", format!("{} has no final name", out.display())))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;

    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".partial-{}", std::process::id()));
    let tmp = parent.join(tmp_name);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    let guard = TempDir(Some(tmp.clone()));
    let image_dir = tmp.join(IMAGE_DIR);
    fs::create_dir_all(&image_dir).map_err(|e| Error::io(&image_dir, e))?;

    let plan = plan_images(opts);
    progress.set_length(plan.images.len() as u64);
    let landmarks = plan
        .images
        .par_iter()
        .map(|entry| {
            let face = render_face(entry.identity_seed, entry.image_seed);
            write_jpeg(&face.image, &image_dir.join(&entry.name))?;
            progress.inc(1);
            Ok(face.landmarks)
        })
        .collect::<Result<Vec<_>>>()?;

    write_text_files(&tmp, opts, &plan, &landmarks)?;

    if replace_empty_dir {
        fs::remove_dir(out).map_err(|e| Error::io(out, e))?;
    }
    fs::rename(&tmp, out).map_err(|e| Error::io(out, e))?;
    guard.keep();

    Ok(SynthSummary {
        root: out.to_path_buf(),
        images: plan.images.len(),
        identities: plan.identities,
        split_images: plan.split_images,
        split_identities: plan.split_identities,
    })
}

/// `Ok(true)` when `out` is an empty directory to replace, `Ok(false)` when it does not exist.
fn check_output(out: &Path) -> Result<bool> {
    match fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(out, e)),
        Ok(meta) if meta.is_dir() => {
            let mut entries = fs::read_dir(out).map_err(|e| Error::io(out, e))?;
            if entries.next().is_none() {
                Ok(true)
            } else {
                Err(Error::OutputExists(out.to_path_buf()))
            }
        }
        Ok(_) => Err(Error::OutputExists(out.to_path_buf())),
    }
}

/// Removes a temporary directory when dropped, unless kept.
struct TempDir(Option<PathBuf>);

impl TempDir {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Best effort: the error that got us here is the one worth reporting.
            let _ = fs::remove_dir_all(path);
        }
    }
}

/// One image to write.
struct PlannedImage {
    name: String,
    identity: usize,
    split: u8,
    identity_seed: u64,
    image_seed: u64,
}

/// The images of a root, in file order.
struct Plan {
    images: Vec<PlannedImage>,
    identities: usize,
    split_images: [usize; 3],
    split_identities: [usize; 3],
}

fn plan_images(opts: &SynthOptions) -> Plan {
    let per = opts.images_per_identity;
    let n_ids = opts.count.div_ceil(per);
    let size = |k: usize| {
        if k + 1 < n_ids {
            per
        } else {
            opts.count - per * (n_ids - 1)
        }
    };
    let mut rng = ChaCha8Rng::seed_from_u64(mix(opts.seed, 0x5b11));
    let mut order: Vec<usize> = (0..n_ids).collect();
    order.shuffle(&mut rng);
    let [n_val, n_test] = split_counts(n_ids, opts.val_fraction, opts.test_fraction);
    let mut split_of = vec![0u8; n_ids];
    for (rank, &k) in order.iter().enumerate() {
        split_of[k] = if rank < n_test {
            2
        } else if rank < n_test + n_val {
            1
        } else {
            0
        };
    }

    let mut images = Vec::with_capacity(opts.count);
    let mut split_images = [0; 3];
    let mut split_identities = [0; 3];
    for split in 0..3u8 {
        let mut shots: Vec<(usize, usize)> = (0..n_ids)
            .filter(|&k| split_of[k] == split)
            .flat_map(|k| (0..size(k)).map(move |j| (k, j)))
            .collect();
        // CelebA's files are not grouped by person; neither are these.
        shots.shuffle(&mut rng);
        split_images[split as usize] = shots.len();
        split_identities[split as usize] = split_of.iter().filter(|&&s| s == split).count();
        for (k, j) in shots {
            images.push(PlannedImage {
                name: String::new(),
                identity: k,
                split,
                identity_seed: mix(opts.seed, 0x1000_0000 + k as u64),
                image_seed: mix(mix(opts.seed, 0x2000_0000 + k as u64), j as u64),
            });
        }
    }
    for (i, image) in images.iter_mut().enumerate() {
        image.name = format!("{:06}.jpg", i + 1);
    }
    Plan {
        images,
        identities: n_ids,
        split_images,
        split_identities,
    }
}

/// Identities in the validation and test splits: the fractions rounded, at least one each where
/// asked for and there are identities enough, and always at least one training identity.
fn split_counts(n_ids: usize, val_fraction: f64, test_fraction: f64) -> [usize; 2] {
    let count = |f: f64| {
        let n = (n_ids as f64 * f).round() as usize;
        if f > 0.0 && n == 0 && n_ids >= 3 {
            1
        } else {
            n
        }
    };
    let (mut val, mut test) = (count(val_fraction), count(test_fraction));
    while val + test >= n_ids && val + test > 0 {
        if val >= test {
            val -= 1;
        } else {
            test -= 1;
        }
    }
    [val, test]
}

fn write_jpeg(image: &RgbImage, path: &Path) -> Result<()> {
    let file = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut writer = BufWriter::new(file);
    JpegEncoder::new_with_quality(&mut writer, JPEG_QUALITY)
        .encode_image(image)
        .map_err(|e| Error::image(path, e))?;
    writer.flush().map_err(|e| Error::io(path, e))
}

fn write_text_files(
    root: &Path,
    opts: &SynthOptions,
    plan: &Plan,
    landmarks: &[Landmarks68],
) -> Result<()> {
    let n = plan.images.len();
    let mut partition = String::new();
    let mut identity = String::new();
    let mut five = format!(
        "{n}\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y \
         rightmouth_x rightmouth_y\n"
    );
    let header68: Vec<String> = (1..=N_POINTS).map(|i| format!("x{i} y{i}")).collect();
    let mut sixty_eight = format!("{n}\n{}\n", header68.join(" "));
    for (entry, points) in plan.images.iter().zip(landmarks) {
        partition.push_str(&format!("{} {}\n", entry.name, entry.split));
        identity.push_str(&format!("{} {}\n", entry.name, entry.identity + 1));
        five.push_str(&entry.name);
        for p in points.five_points() {
            five.push_str(&format!(" {} {}", p[0].round() as i64, p[1].round() as i64));
        }
        five.push('\n');
        sixty_eight.push_str(&entry.name);
        for v in points.to_flat() {
            sixty_eight.push_str(&format!(" {v:.2}"));
        }
        sixty_eight.push('\n');
    }
    let source = format!(
        "{n} synthetic faces in CelebA's aligned layout (178x218 JPEG, quality {JPEG_QUALITY}), made by \
         `ofhnet data synth --count {} --seed {}` ({} images per identity, validation fraction {}, \
         test fraction {}).\nNo real person is shown; the faces are drawn procedurally from their 68 \
         points.\nlist_eval_partition.txt: 0 train, 1 validation, 2 test; whole identities per split.\n\
         identity_CelebA.txt: synthetic identity ids, 1-based.\n\
         list_landmarks_align_celeba.txt: CelebA's five points, from the 68, rounded.\n\
         landmarks68.txt: the exact 68 iBUG-layout points the faces were drawn from.\n",
        opts.count, opts.seed, opts.images_per_identity, opts.val_fraction, opts.test_fraction
    );
    for (file, text) in [
        (PARTITION_FILE, partition),
        (IDENTITY_FILE, identity),
        (LANDMARKS5_FILE, five),
        (LANDMARKS68_FILE, sixty_eight),
        ("SOURCE.txt", source),
    ] {
        let path = root.join(file);
        fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}
