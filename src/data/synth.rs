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

use std::f32::consts::{PI, TAU};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use image::RgbImage;
use image::codecs::jpeg::JpegEncoder;
use indicatif::ProgressBar;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use tiny_skia::{
    Color, FillRule, GradientStop, LineCap, LineJoin, LinearGradient, Mask, Paint, Path as SkPath,
    PathBuilder, Pixmap, PixmapPaint, Point, RadialGradient, Rect, Shader, SpreadMode, Stroke,
    Transform,
};

use crate::data::celeba::{
    IDENTITY_FILE, IMAGE_DIR, LANDMARKS5_FILE, LANDMARKS68_FILE, PARTITION_FILE,
};
use crate::data::landmarks::{
    INNER_LIPS, JAW, LEFT_BROW, LEFT_EYE, Landmarks68, N_POINTS, NOSE_BASE, OUTER_LIPS, RIGHT_BROW,
    RIGHT_EYE,
};
use crate::data::protocol::{ALIGNED_HEIGHT, ALIGNED_WIDTH, Protocol};
use crate::{Error, Result};

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

// ---------------------------------------------------------------------------------------------
// Randomness

/// SplitMix64 of `a` and `b`: independent seeds for identities, images and splits.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_add(b.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn uniform(rng: &mut ChaCha8Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

/// A standard normal draw (Box-Muller), so no distribution crate is needed.
fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let u1 = 1.0 - rng.random::<f32>();
    let u2 = rng.random::<f32>();
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}

/// A normal draw with the given mean and deviation, clamped to `[lo, hi]`.
fn gauss(rng: &mut ChaCha8Rng, mean: f32, sd: f32, lo: f32, hi: f32) -> f32 {
    (mean + sd * normal(rng)).clamp(lo, hi)
}

/// An index drawn with the given weights.
fn pick(rng: &mut ChaCha8Rng, weights: &[f32]) -> usize {
    let total: f32 = weights.iter().sum();
    let mut u = rng.random::<f32>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

// ---------------------------------------------------------------------------------------------
// Colours and small vector helpers

type V2 = [f32; 2];
type V3 = [f32; 3];
/// sRGB in [0, 1].
type Rgb = [f32; 3];

fn rgb8(r: u8, g: u8, b: u8) -> Rgb {
    [r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0]
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

fn mix_rgb(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        lerp(a[0], b[0], t),
        lerp(a[1], b[1], t),
        lerp(a[2], b[2], t),
    ]
}

fn scale_rgb(a: Rgb, s: f32) -> Rgb {
    [a[0] * s, a[1] * s, a[2] * s]
}

fn mul_rgb(a: Rgb, b: Rgb) -> Rgb {
    [a[0] * b[0], a[1] * b[1], a[2] * b[2]]
}

fn palette(stops: &[Rgb], t: f32) -> Rgb {
    let t = t.clamp(0.0, (stops.len() - 1) as f32);
    let i = (t.floor() as usize).min(stops.len() - 2);
    mix_rgb(stops[i], stops[i + 1], t - i as f32)
}

fn hsv(h: f32, s: f32, v: f32) -> Rgb {
    let h = (h.rem_euclid(1.0)) * 6.0;
    let c = v * s;
    let x = c * (1.0 - ((h % 2.0) - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r + m, g + m, b + m]
}

fn add2(a: V2, b: V2) -> V2 {
    [a[0] + b[0], a[1] + b[1]]
}

fn sub2(a: V2, b: V2) -> V2 {
    [a[0] - b[0], a[1] - b[1]]
}

fn lerp2(a: V2, b: V2, t: f32) -> V2 {
    [lerp(a[0], b[0], t), lerp(a[1], b[1], t)]
}

fn len2(a: V2) -> f32 {
    (a[0] * a[0] + a[1] * a[1]).sqrt()
}

fn mean2(points: &[V2]) -> V2 {
    let n = points.len() as f32;
    let s = points
        .iter()
        .fold([0.0, 0.0], |acc, p| [acc[0] + p[0], acc[1] + p[1]]);
    [s[0] / n, s[1] / n]
}

// ---------------------------------------------------------------------------------------------
// Identity and image parameters

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HairLength {
    Bald,
    Short,
    Bob,
    Long,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fringe {
    None,
    Bangs,
    Swept,
}

/// What stays the same over all images of one synthetic person. Lengths are in pixels of the
/// aligned image at scale 1, in the face's own frame: x to the image's right, y down, origin at
/// the middle of the eye line.
#[derive(Clone, Debug)]
struct Identity {
    masculine: bool,
    /// Half the face's width at the ears (jaw points 1 and 17).
    half_width: f32,
    /// Superellipse exponent of the jaw: below 2 a pointed chin, above 2 a square jaw.
    jaw_exponent: f32,
    /// Height of jaw points 1 and 17 below the eye line.
    ear_level: f32,
    /// Height of the chin below the eye line.
    chin_drop: f32,
    eye_half_spacing: f32,
    eye_width: f32,
    eye_height: f32,
    /// How much higher the outer eye corner sits than the inner one.
    eye_tilt: f32,
    brow_height: f32,
    brow_arch: f32,
    brow_thickness: f32,
    brow_length: f32,
    nose_length: f32,
    nose_half_width: f32,
    philtrum: f32,
    mouth_half_width: f32,
    upper_lip: f32,
    lower_lip: f32,
    cupid: f32,
    /// Small left/right differences: eye heights, brow heights, mouth corner, jaw width.
    asym: [f32; 4],
    skin: Rgb,
    lip: Rgb,
    hair: Rgb,
    brow: Rgb,
    iris: Rgb,
    hair_length: HairLength,
    fringe: Fringe,
    curly: bool,
    hair_volume: f32,
    hairline: f32,
    bangs: f32,
    recede: f32,
    part: f32,
    beard: f32,
    lash: f32,
    blush: f32,
    moles: Vec<V2>,
}

impl Identity {
    fn sample(rng: &mut ChaCha8Rng) -> Self {
        let masculine = rng.random_bool(0.45);
        let m = if masculine { 1.0 } else { 0.0 };
        let half_width = gauss(rng, 42.0 + 1.5 * m, 2.0, 38.0, 47.0);
        let jaw_exponent = if masculine {
            uniform(rng, 2.0, 2.8)
        } else {
            uniform(rng, 1.7, 2.4)
        };
        let ear_level = uniform(rng, -1.0, 3.0);
        let chin_drop = gauss(rng, 69.0, 2.0, 64.0, 72.5);
        let eye_half_spacing = gauss(rng, 19.1, 0.8, 17.3, 21.0);
        let eye_width = gauss(rng, 15.2, 0.9, 13.0, 17.0);
        let eye_height = gauss(rng, 5.0, 0.5, 3.8, 6.3);
        let eye_tilt = uniform(rng, 0.2, 2.4);
        let brow_height = gauss(rng, 13.5, 1.2, 11.0, 16.5);
        let brow_arch = uniform(rng, 2.5, 5.5);
        let brow_thickness = if masculine {
            uniform(rng, 3.2, 4.8)
        } else {
            uniform(rng, 2.6, 3.8)
        };
        let brow_length = gauss(rng, 27.0, 1.5, 23.0, 31.0);
        let nose_length = gauss(rng, 23.0, 1.4, 19.5, 26.5);
        let nose_half_width = gauss(rng, 8.0 + 0.6 * m, 0.7, 6.5, 10.5);
        let philtrum = uniform(rng, 4.0, 7.5);
        let mouth_half_width = gauss(rng, 17.3, 1.1, 14.5, 20.5);
        let (upper_lip, lower_lip) = if masculine {
            (uniform(rng, 2.5, 4.0), uniform(rng, 4.0, 6.5))
        } else {
            (uniform(rng, 3.2, 5.0), uniform(rng, 5.0, 7.5))
        };
        let cupid = uniform(rng, 0.3, 1.3);
        let asym = [
            gauss(rng, 0.0, 0.4, -1.0, 1.0),
            gauss(rng, 0.0, 0.5, -1.2, 1.2),
            gauss(rng, 0.0, 0.4, -1.0, 1.0),
            gauss(rng, 0.0, 0.012, -0.03, 0.03),
        ];
        // The mouth must leave room for a chin below it.
        let lower_lip_bottom = nose_length + 7.6 + philtrum + upper_lip + lower_lip;
        let chin_drop = chin_drop.max(lower_lip_bottom + 17.0);

        let skin_tones = [
            rgb8(234, 202, 182),
            rgb8(230, 190, 164),
            rgb8(226, 178, 144),
            rgb8(200, 147, 110),
            rgb8(172, 120, 86),
            rgb8(130, 86, 60),
            rgb8(90, 60, 44),
        ];
        let darkness = rng.random::<f32>().powf(1.6) * 6.0;
        let base = palette(&skin_tones, darkness);
        // Lighter or darker, redder or yellower; independent channel noise would make green skin.
        let lightness = 1.0 + gauss(rng, 0.0, 0.03, -0.08, 0.08);
        let red = gauss(rng, 0.0, 0.02, -0.05, 0.05);
        let yellow = gauss(rng, 0.0, 0.03, -0.07, 0.07);
        let skin = [
            base[0] * lightness * (1.0 + red),
            base[1] * lightness * (1.0 - 0.5 * red),
            base[2] * lightness * (1.0 - yellow),
        ];
        let natural_lip = mul_rgb(skin, [0.84, 0.6, 0.62]);
        let lip = if !masculine && rng.random_bool(0.4) {
            let colour = if rng.random_bool(0.5) {
                rgb8(176, 52, 68)
            } else {
                rgb8(200, 104, 118)
            };
            mix_rgb(natural_lip, colour, uniform(rng, 0.3, 0.7))
        } else {
            natural_lip
        };

        let hair_colours = [
            rgb8(26, 22, 22),
            rgb8(56, 39, 30),
            rgb8(96, 66, 44),
            rgb8(140, 104, 70),
            rgb8(196, 160, 104),
            rgb8(222, 204, 168),
            rgb8(126, 56, 32),
            rgb8(158, 156, 152),
        ];
        let mut weights = [0.3, 0.25, 0.18, 0.08, 0.1, 0.03, 0.04, 0.02];
        if darkness > 3.5 {
            // Darker skin: mostly black or dark brown hair.
            weights = [0.6, 0.3, 0.06, 0.01, 0.01, 0.0, 0.0, 0.02];
        }
        let h = hair_colours[pick(rng, &weights)];
        let hair = [
            h[0] * (1.0 + 0.08 * normal(rng)),
            h[1] * (1.0 + 0.08 * normal(rng)),
            h[2] * (1.0 + 0.08 * normal(rng)),
        ];
        // Even fair-haired people's brows read darker than their skin.
        let brow = [
            (hair[0] * 0.75).min(skin[0] * 0.45),
            (hair[1] * 0.75).min(skin[1] * 0.4),
            (hair[2] * 0.75).min(skin[2] * 0.4),
        ];
        let iris_colours = [
            rgb8(58, 36, 24),
            rgb8(98, 62, 36),
            rgb8(120, 98, 54),
            rgb8(82, 112, 74),
            rgb8(78, 118, 164),
            rgb8(108, 118, 128),
        ];
        let iris_weights = if darkness > 2.5 {
            [0.6, 0.35, 0.05, 0.0, 0.0, 0.0]
        } else {
            [0.25, 0.25, 0.15, 0.1, 0.18, 0.07]
        };
        let iris = iris_colours[pick(rng, &iris_weights)];

        let hair_length = if masculine {
            [
                HairLength::Bald,
                HairLength::Short,
                HairLength::Bob,
                HairLength::Long,
            ][pick(rng, &[0.08, 0.8, 0.08, 0.04])]
        } else {
            [HairLength::Short, HairLength::Bob, HairLength::Long][pick(rng, &[0.1, 0.3, 0.6])]
        };
        let fringe = if hair_length == HairLength::Bald {
            Fringe::None
        } else {
            let bangs = if masculine { 0.1 } else { 0.25 };
            [Fringe::None, Fringe::Bangs, Fringe::Swept][pick(rng, &[0.55, bangs, 0.2])]
        };
        let curly = rng.random_bool(if darkness > 3.5 { 0.5 } else { 0.12 });
        let hair_volume = uniform(rng, 0.0, 8.0) + if curly { 6.0 } else { 0.0 };
        let hairline = gauss(rng, 40.0, 3.0, 33.0, 47.0);
        let bangs = uniform(rng, 17.0, 24.0);
        let recede = if masculine && rng.random_bool(0.3) {
            uniform(rng, 3.0, 10.0)
        } else {
            0.0
        };
        let part = uniform(rng, -1.0, 1.0);
        let beard = if masculine && rng.random_bool(0.35) {
            uniform(rng, 0.25, 0.85)
        } else {
            0.0
        };
        let lash = if masculine {
            uniform(rng, 0.5, 0.75)
        } else {
            uniform(rng, 0.75, 1.0)
        };
        let blush = if masculine {
            uniform(rng, 0.0, 0.08)
        } else {
            uniform(rng, 0.05, 0.2)
        };
        let n_moles = pick(rng, &[0.6, 0.3, 0.1]);
        let moles = (0..n_moles)
            .map(|_| {
                let side = if rng.random_bool(0.5) { -1.0 } else { 1.0 };
                [side * uniform(rng, 10.0, 30.0), uniform(rng, 8.0, 50.0)]
            })
            .collect();

        Self {
            masculine,
            half_width,
            jaw_exponent,
            ear_level,
            chin_drop,
            eye_half_spacing,
            eye_width,
            eye_height,
            eye_tilt,
            brow_height,
            brow_arch,
            brow_thickness,
            brow_length,
            nose_length,
            nose_half_width,
            philtrum,
            mouth_half_width,
            upper_lip,
            lower_lip,
            cupid,
            asym,
            skin,
            lip,
            hair,
            brow,
            iris,
            hair_length,
            fringe,
            curly,
            hair_volume,
            hairline,
            bangs,
            recede,
            part,
            beard,
            lash,
            blush,
            moles,
        }
    }

    /// Depth of the head's surface at `(x, y)`: an ellipsoid whose depth axis passes through the
    /// ears, so that yaw moves the nose more than the eyes and the eyes more than the jaw line.
    fn surface_z(&self, x: f32, y: f32) -> f32 {
        let wx = self.half_width * 1.05;
        let r = 1.0 - (x / wx).powi(2) - ((y - 8.0) / 92.0).powi(2);
        0.75 * self.half_width * r.max(0.0).sqrt()
    }
}

/// What changes from one image of a person to the next.
#[derive(Clone, Debug)]
struct Shot {
    yaw: f32,
    pitch: f32,
    roll: f32,
    scale: f32,
    shift: V2,
    smile: f32,
    /// Vertical opening of the lips in pixels.
    mouth_gap: f32,
    brow_raise: f32,
    eye_open: f32,
    gaze: V2,
    /// Unit vector towards the light, in image axes (z towards the viewer).
    light: V3,
    ambient: f32,
    exposure: f32,
    tint: Rgb,
    clothes: Rgb,
    neckline: f32,
    noise: f32,
}

impl Shot {
    fn sample(rng: &mut ChaCha8Rng) -> Self {
        let yaw = gauss(rng, 0.0, 0.14, -0.32, 0.32);
        let pitch = gauss(rng, 0.0, 0.05, -0.12, 0.12);
        let roll = gauss(rng, 0.0, 0.035, -0.08, 0.08);
        let scale = gauss(rng, 1.0, 0.025, 0.94, 1.06);
        let shift = [
            gauss(rng, 0.0, 1.0, -2.5, 2.5),
            gauss(rng, 0.0, 1.0, -2.5, 2.5),
        ];
        let smile = if rng.random_bool(0.55) {
            uniform(rng, 0.3, 1.0)
        } else {
            uniform(rng, 0.0, 0.15)
        };
        let mouth_gap = if smile > 0.3 && rng.random_bool(0.7) {
            uniform(rng, 2.0, 9.0)
        } else if rng.random_bool(0.12) {
            uniform(rng, 1.0, 8.0)
        } else {
            uniform(rng, 0.0, 0.4)
        };
        let brow_raise = gauss(rng, 0.0, 0.4, -0.6, 1.2);
        let eye_open = if rng.random_bool(0.05) {
            uniform(rng, 0.1, 0.35)
        } else {
            gauss(rng, 1.0, 0.1, 0.7, 1.25) * (1.0 - 0.15 * smile)
        };
        let gaze = [
            gauss(rng, 0.0, 0.25, -0.5, 0.5),
            gauss(rng, 0.0, 0.15, -0.4, 0.4),
        ];
        let azimuth = uniform(rng, -1.2, 1.2);
        let elevation = uniform(rng, 0.1, 0.6);
        let light = [
            azimuth.sin() * elevation.cos(),
            -elevation.sin(),
            azimuth.cos() * elevation.cos(),
        ];
        let ambient = uniform(rng, 0.35, 0.7);
        let exposure = gauss(rng, 1.0, 0.05, 0.86, 1.08);
        // Warmer or cooler light, never green or magenta.
        let warmth = gauss(rng, 0.0, 0.025, -0.06, 0.06);
        let tint = [1.0 + warmth, 1.0, 1.0 - warmth];
        let clothes = hsv(
            rng.random::<f32>(),
            uniform(rng, 0.0, 0.7),
            uniform(rng, 0.1, 0.9),
        );
        let neckline = uniform(rng, 0.0, 1.0);
        let noise = uniform(rng, 1.5, 3.5);
        Self {
            yaw,
            pitch,
            roll,
            scale,
            shift,
            smile,
            mouth_gap,
            brow_raise,
            eye_open,
            gaze,
            light,
            ambient,
            exposure,
            tint,
            clothes,
            neckline,
            noise,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Geometry: the 68 points in the face's frame, and the pose that puts them in the image

/// Yaw, pitch, roll, scale and shift from the face's frame to the aligned image. The middle of
/// the eye line stays at CelebA's eye position, as alignment by the eyes would leave it.
#[derive(Clone, Copy, Debug)]
struct Pose {
    cos_yaw: f32,
    sin_yaw: f32,
    cos_pitch: f32,
    sin_pitch: f32,
    cos_roll: f32,
    sin_roll: f32,
    scale: f32,
    origin: V2,
    anchor: V2,
}

/// Where the middle of the eye line sits in CelebA's aligned images.
const EYE_MID: V2 = [89.0, 112.0];

impl Pose {
    fn new(shot: &Shot, scale: f32, shift: V2, anchor_z: f32) -> Self {
        let mut pose = Self {
            cos_yaw: shot.yaw.cos(),
            sin_yaw: shot.yaw.sin(),
            cos_pitch: shot.pitch.cos(),
            sin_pitch: shot.pitch.sin(),
            cos_roll: shot.roll.cos(),
            sin_roll: shot.roll.sin(),
            scale,
            origin: add2(EYE_MID, shift),
            anchor: [0.0, 0.0],
        };
        pose.anchor = pose.rotate([0.0, 0.0, anchor_z]);
        pose
    }

    /// Yaw then pitch, orthographic.
    fn rotate(&self, p: V3) -> V2 {
        let x = p[0] * self.cos_yaw + p[2] * self.sin_yaw;
        let z = -p[0] * self.sin_yaw + p[2] * self.cos_yaw;
        let y = p[1] * self.cos_pitch - z * self.sin_pitch;
        [x, y]
    }

    fn project(&self, p: V3) -> V2 {
        let [x, y] = sub2(self.rotate(p), self.anchor);
        let xr = self.cos_roll * x - self.sin_roll * y;
        let yr = self.sin_roll * x + self.cos_roll * y;
        [
            self.origin[0] + self.scale * xr,
            self.origin[1] + self.scale * yr,
        ]
    }
}

/// A face placed in the image: its pose and its 68 points.
struct Face {
    pose: Pose,
    /// Points in the face's frame, with depth.
    canon: [V3; N_POINTS],
    /// Points in the image.
    pts: [V2; N_POINTS],
}

impl Face {
    fn build(id: &Identity, shot: &Shot) -> Self {
        let canon = canonical_points(id, shot);
        let anchor_z = id.surface_z(id.eye_half_spacing, 1.3) - 4.0;
        let protocol = Protocol::default();
        let (lo_x, lo_y) = (protocol.crop_x as f32 + 1.0, protocol.crop_y as f32 + 1.0);
        let (hi_x, hi_y) = (
            (protocol.crop_x + protocol.hr_size) as f32 - 1.0,
            (protocol.crop_y + protocol.hr_size) as f32 - 1.0,
        );
        let (mut scale, mut shift) = (shot.scale, shot.shift);
        // A large face, pose and open mouth together can push the chin out of the HR crop; the
        // face then shrinks a little, so that every point stays inside.
        loop {
            let pose = Pose::new(shot, scale, shift, anchor_z);
            let pts = canon.map(|p| pose.project(p));
            let inside = pts
                .iter()
                .all(|p| p[0] >= lo_x && p[0] <= hi_x && p[1] >= lo_y && p[1] <= hi_y);
            if inside || scale < 0.6 {
                return Self { pose, canon, pts };
            }
            scale *= 0.97;
            shift = [shift[0] * 0.7, shift[1] * 0.7];
        }
    }

    fn p(&self, i: usize) -> V2 {
        self.pts[i]
    }

    /// A point of the face's frame, on the head's surface, in the image.
    fn surface(&self, id: &Identity, x: f32, y: f32) -> V2 {
        self.pose.project([x, y, id.surface_z(x, y)])
    }

    /// A point of the face's frame at depth `z`, in the image.
    fn at(&self, x: f32, y: f32, z: f32) -> V2 {
        self.pose.project([x, y, z])
    }

    fn range(&self, r: std::ops::Range<usize>) -> Vec<V2> {
        self.pts[r].to_vec()
    }
}

/// The 68 points in the face's frame (iBUG order), with depth.
fn canonical_points(id: &Identity, shot: &Shot) -> [V3; N_POINTS] {
    let mut p = [[0.0f32; 3]; N_POINTS];
    let z = |x: f32, y: f32| id.surface_z(x, y);

    // Jaw: a superellipse from the ears to the chin, with points spaced evenly along it as dlib's
    // are; an open mouth drops the chin.
    let jaw_drop = 0.45 * shot.mouth_gap;
    let half = jaw_half(id);
    let depth = id.chin_drop - id.ear_level;
    for k in 0..9 {
        let [x, y] = half[k];
        let t = ((y - id.ear_level) / depth).clamp(0.0, 1.0);
        let y = y + jaw_drop * t * t;
        let left = [-x * (1.0 - id.asym[3]), y];
        let right = [x * (1.0 + id.asym[3]), y];
        p[JAW.start + k] = [left[0], left[1], z(left[0], left[1])];
        p[JAW.end - 1 - k] = [right[0], right[1], z(right[0], right[1])];
    }

    // Brows, outer end to inner end for the subject's right brow (image left).
    let raise = shot.brow_raise;
    for side in [-1.0f32, 1.0] {
        let cx = side * id.eye_half_spacing;
        let lift = if side < 0.0 { id.asym[1] } else { -id.asym[1] } * 0.5;
        for k in 0..5 {
            let u = k as f32 / 4.0;
            // Outer end at u = 0; x runs from outer to inner.
            let x = cx + side * (0.59 - u) * id.brow_length;
            let shape = ((u - 0.48) / 0.52).abs().powf(2.4);
            let y = -id.brow_height + id.brow_arch * shape - raise * (2.0 + 1.5 * u) + lift;
            let index = if side < 0.0 {
                RIGHT_BROW.start + k
            } else {
                LEFT_BROW.end - 1 - k
            };
            p[index] = [x, y, z(x, y) + 2.0];
        }
    }

    // Nose: bridge from the eye line to the tip, then the base from wing to wing.
    let nl = id.nose_length;
    let nw = id.nose_half_width;
    let bridge = [(0.5, 1.0), (nl * 0.34, 4.0), (nl * 0.67, 7.5), (nl, 11.0)];
    for (k, (y, dz)) in bridge.into_iter().enumerate() {
        p[27 + k] = [0.0, y, z(0.0, y) + dz];
    }
    let base = [
        (-nw, nl + 4.8, 2.0),
        (-nw * 0.5, nl + 6.3, 5.0),
        (0.0, nl + 7.6, 6.0),
        (nw * 0.5, nl + 6.3, 5.0),
        (nw, nl + 4.8, 2.0),
    ];
    for (k, (x, y, dz)) in base.into_iter().enumerate() {
        p[NOSE_BASE.start + k] = [x, y, z(x, y) + dz];
    }

    // Eyes: corners on a tilted line, lids above and below it.
    for side in [-1.0f32, 1.0] {
        let cx = side * id.eye_half_spacing;
        let cy = 1.3 + side * id.asym[0] * 0.5;
        let w = id.eye_width;
        let open = shot.eye_open;
        let up = 0.69 * id.eye_height * open;
        let lo = 0.31 * id.eye_height * (0.6 + 0.4 * open);
        // f runs from the outer corner (-0.5) to the inner corner (+0.5).
        let at = |f: f32, dy: f32| {
            let x = cx - side * f * w;
            let y = cy + id.eye_tilt * f + dy;
            [x, y, z(x, y) - 4.0]
        };
        let outer = at(-0.5, 0.0);
        let upper_outer = at(-0.19, -up);
        let upper_inner = at(0.18, -up * 0.97);
        let inner = at(0.5, 0.0);
        let lower_inner = at(0.16, lo);
        let lower_outer = at(-0.2, lo * 1.05);
        if side < 0.0 {
            p[RIGHT_EYE.start..RIGHT_EYE.end].copy_from_slice(&[
                outer,
                upper_outer,
                upper_inner,
                inner,
                lower_inner,
                lower_outer,
            ]);
        } else {
            p[LEFT_EYE.start..LEFT_EYE.end].copy_from_slice(&[
                inner,
                upper_inner,
                upper_outer,
                outer,
                lower_outer,
                lower_inner,
            ]);
        }
    }

    // Lips: the lip line y0, corners lifted by a smile, the lower lip dropped by the opening.
    let smile = shot.smile;
    let gap = shot.mouth_gap;
    let y0 = nl + 7.6 + id.philtrum + id.upper_lip;
    let mw = id.mouth_half_width + 2.2 * smile;
    let ul = id.upper_lip;
    let ll = id.lower_lip;
    let corner = |side: f32| y0 + 0.3 - 2.8 * smile + side * id.asym[2] * 0.5;
    let mut put = |i: usize, x: f32, y: f32, dz: f32| p[i] = [x, y, z(x, y) + dz];
    put(48, -mw, corner(-1.0), 0.5);
    put(49, -0.64 * mw, y0 - 0.72 * ul - 0.8 * smile, 2.5);
    put(50, -0.28 * mw, y0 - ul, 3.0);
    put(51, 0.0, y0 - ul + id.cupid, 3.0);
    put(52, 0.28 * mw, y0 - ul, 3.0);
    put(53, 0.64 * mw, y0 - 0.72 * ul - 0.8 * smile, 2.5);
    put(54, mw, corner(1.0), 0.5);
    let lower = |f: f32| y0 + gap * f * (1.0 + 0.1 * smile);
    put(55, 0.64 * mw, lower(0.75) + ll * 0.75 - smile, 2.0);
    put(56, 0.28 * mw, lower(0.95) + ll * 0.97, 2.5);
    put(57, 0.0, lower(1.0) + ll, 2.5);
    put(58, -0.28 * mw, lower(0.95) + ll * 0.97, 2.5);
    put(59, -0.64 * mw, lower(0.75) + ll * 0.75 - smile, 2.0);
    let inner_corner = |side: f32| lerp(corner(side), y0, 0.3);
    put(60, -(mw - 2.6), inner_corner(-1.0), 1.0);
    put(61, -0.27 * mw, y0 - 0.1, 1.5);
    put(62, 0.0, y0, 1.5);
    put(63, 0.27 * mw, y0 - 0.1, 1.5);
    put(64, mw - 2.6, inner_corner(1.0), 1.0);
    put(65, 0.27 * mw, y0 - 0.1 + lower(0.93) - y0, 1.5);
    put(66, 0.0, lower(1.0), 1.5);
    put(67, -0.27 * mw, y0 - 0.1 + lower(0.93) - y0, 1.5);
    p
}

/// Nine points along the image-right half of the jaw, from the ear (point 17) to the chin
/// (point 9), evenly spaced along the curve.
fn jaw_half(id: &Identity) -> [V2; 9] {
    const SAMPLES: usize = 256;
    let n = id.jaw_exponent;
    let curve: Vec<V2> = (0..=SAMPLES)
        .map(|i| {
            let phi = (i as f32 / SAMPLES as f32) * PI / 2.0;
            [
                id.half_width * phi.cos().max(0.0).powf(2.0 / n),
                id.ear_level + (id.chin_drop - id.ear_level) * phi.sin().max(0.0).powf(2.0 / n),
            ]
        })
        .collect();
    let mut cumulative = vec![0.0f32; curve.len()];
    for i in 1..curve.len() {
        cumulative[i] = cumulative[i - 1] + len2(sub2(curve[i], curve[i - 1]));
    }
    let total = cumulative[SAMPLES];
    let mut out = [[0.0; 2]; 9];
    let mut j = 0;
    for (k, slot) in out.iter_mut().enumerate() {
        let target = total * k as f32 / 8.0;
        while j + 1 < SAMPLES && cumulative[j + 1] < target {
            j += 1;
        }
        let span = (cumulative[j + 1] - cumulative[j]).max(1e-6);
        let t = ((target - cumulative[j]) / span).clamp(0.0, 1.0);
        *slot = lerp2(curve[j], curve[j + 1], t);
    }
    out[8] = [0.0, id.chin_drop];
    out
}

/// The point at angle `theta` (0 image right, pi/2 up) of a superellipse with half axes `rx`,
/// `ry` and exponent `n` (2 an ellipse, larger boxier), relative to its centre.
fn superellipse(theta: f32, rx: f32, ry: f32, n: f32) -> V2 {
    let (c, s) = (theta.cos(), theta.sin());
    [
        rx * c.signum() * c.abs().powf(2.0 / n),
        -ry * s.signum() * s.abs().powf(2.0 / n),
    ]
}

/// The jaw line's half width at height `y` of the face's frame (for hair that frames the face).
fn jaw_x_at(id: &Identity, y: f32) -> f32 {
    if y <= id.ear_level {
        return id.half_width;
    }
    let t = ((y - id.ear_level) / (id.chin_drop - id.ear_level)).clamp(0.0, 1.0);
    let s = t.powf(id.jaw_exponent / 2.0);
    id.half_width * (1.0 - s * s).max(0.0).sqrt().powf(2.0 / id.jaw_exponent)
}

// ---------------------------------------------------------------------------------------------
// Drawing primitives

fn color(c: Rgb, alpha: f32) -> Color {
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    Color::from_rgba8(q(c[0]), q(c[1]), q(c[2]), q(alpha))
}

fn solid(c: Rgb, alpha: f32) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(color(c, alpha));
    paint
}

fn round_stroke(width: f32) -> Stroke {
    Stroke {
        width,
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        ..Stroke::default()
    }
}

/// Appends a Catmull-Rom curve through `pts` to a builder whose current point is `pts[0]`.
fn curve_through(pb: &mut PathBuilder, pts: &[V2]) {
    let n = pts.len();
    for i in 0..n.saturating_sub(1) {
        let p0 = pts[i.saturating_sub(1)];
        let p1 = pts[i];
        let p2 = pts[i + 1];
        let p3 = pts[(i + 2).min(n - 1)];
        let c1 = [p1[0] + (p2[0] - p0[0]) / 6.0, p1[1] + (p2[1] - p0[1]) / 6.0];
        let c2 = [p2[0] - (p3[0] - p1[0]) / 6.0, p2[1] - (p3[1] - p1[1]) / 6.0];
        pb.cubic_to(c1[0], c1[1], c2[0], c2[1], p2[0], p2[1]);
    }
}

/// A smooth open curve through the points.
fn open_curve(pts: &[V2]) -> Option<SkPath> {
    let first = pts.first()?;
    let mut pb = PathBuilder::new();
    pb.move_to(first[0], first[1]);
    curve_through(&mut pb, pts);
    pb.finish()
}

/// A smooth closed curve through the points.
fn closed_curve(pts: &[V2]) -> Option<SkPath> {
    let n = pts.len();
    if n < 3 {
        return None;
    }
    let mut pb = PathBuilder::new();
    pb.move_to(pts[0][0], pts[0][1]);
    for i in 0..n {
        let p0 = pts[(i + n - 1) % n];
        let p1 = pts[i];
        let p2 = pts[(i + 1) % n];
        let p3 = pts[(i + 2) % n];
        let c1 = [p1[0] + (p2[0] - p0[0]) / 6.0, p1[1] + (p2[1] - p0[1]) / 6.0];
        let c2 = [p2[0] - (p3[0] - p1[0]) / 6.0, p2[1] - (p3[1] - p1[1]) / 6.0];
        pb.cubic_to(c1[0], c1[1], c2[0], c2[1], p2[0], p2[1]);
    }
    pb.close();
    pb.finish()
}

/// A closed shape made of smooth pieces that meet at corners (an eye, a lip).
fn pieces(parts: &[&[V2]]) -> Option<SkPath> {
    let first = parts.first()?.first()?;
    let mut pb = PathBuilder::new();
    pb.move_to(first[0], first[1]);
    for part in parts {
        curve_through(&mut pb, part);
    }
    pb.close();
    pb.finish()
}

fn polygon(pts: &[V2]) -> Option<SkPath> {
    let first = pts.first()?;
    let mut pb = PathBuilder::new();
    pb.move_to(first[0], first[1]);
    for p in &pts[1..] {
        pb.line_to(p[0], p[1]);
    }
    pb.close();
    pb.finish()
}

fn ellipse(centre: V2, rx: f32, ry: f32, angle: f32) -> Option<SkPath> {
    let rect = Rect::from_xywh(centre[0] - rx, centre[1] - ry, 2.0 * rx, 2.0 * ry)?;
    PathBuilder::from_oval(rect)?.transform(Transform::from_rotate_at(
        angle.to_degrees(),
        centre[0],
        centre[1],
    ))
}

/// The same points moved by `d`.
fn shifted(pts: &[V2], d: V2) -> Vec<V2> {
    pts.iter().map(|p| add2(*p, d)).collect()
}

const W: u32 = ALIGNED_WIDTH;
const H: u32 = ALIGNED_HEIGHT;

/// A 178x218 RGBA drawing surface.
struct Canvas {
    pm: Pixmap,
}

impl Canvas {
    fn new() -> Self {
        Self {
            pm: Pixmap::new(W, H).expect("178x218 is a valid pixmap size"),
        }
    }

    fn fill(&mut self, path: Option<SkPath>, c: Rgb, alpha: f32, mask: Option<&Mask>) {
        if let Some(path) = path {
            self.pm.fill_path(
                &path,
                &solid(c, alpha),
                FillRule::Winding,
                Transform::identity(),
                mask,
            );
        }
    }

    fn stroke(
        &mut self,
        path: Option<SkPath>,
        c: Rgb,
        alpha: f32,
        width: f32,
        mask: Option<&Mask>,
    ) {
        if let Some(path) = path {
            self.pm.stroke_path(
                &path,
                &solid(c, alpha),
                &round_stroke(width),
                Transform::identity(),
                mask,
            );
        }
    }

    fn fill_shader(
        &mut self,
        path: Option<SkPath>,
        shader: Option<Shader<'static>>,
        mask: Option<&Mask>,
    ) {
        if let (Some(path), Some(shader)) = (path, shader) {
            let paint = Paint {
                shader,
                ..Paint::default()
            };
            self.pm.fill_path(
                &path,
                &paint,
                FillRule::Winding,
                Transform::identity(),
                mask,
            );
        }
    }

    /// A soft elliptical spot: `alpha` at the centre fading to nothing at the radii.
    fn spot(&mut self, centre: V2, rx: f32, ry: f32, c: Rgb, alpha: f32, mask: Option<&Mask>) {
        if rx <= 0.1 || ry <= 0.1 {
            return;
        }
        let shader = RadialGradient::new(
            Point::from_xy(0.0, 0.0),
            0.0,
            Point::from_xy(0.0, 0.0),
            1.0,
            vec![
                GradientStop::new(0.0, color(c, alpha)),
                GradientStop::new(0.5, color(c, alpha * 0.6)),
                GradientStop::new(1.0, color(c, 0.0)),
            ],
            SpreadMode::Pad,
            Transform::from_row(rx, 0.0, 0.0, ry, centre[0], centre[1]),
        );
        let rect = Rect::from_xywh(centre[0] - rx, centre[1] - ry, 2.0 * rx, 2.0 * ry)
            .map(PathBuilder::from_rect);
        self.fill_shader(rect, shader, mask);
    }

    fn composite(&mut self, layer: &Canvas, mask: Option<&Mask>) {
        self.pm.draw_pixmap(
            0,
            0,
            layer.pm.as_ref(),
            &PixmapPaint::default(),
            Transform::identity(),
            mask,
        );
    }

    /// Three box blurs of radius `r` (close to a Gaussian), on premultiplied RGBA.
    fn blur(&mut self, r: usize) {
        self.box_blur(r, 3);
    }

    /// `passes` box blurs of radius `r`, on premultiplied RGBA.
    fn box_blur(&mut self, r: usize, passes: usize) {
        let mut buf: Vec<f32> = self.pm.data().iter().map(|&v| v as f32).collect();
        box_blur(&mut buf, W as usize, H as usize, 4, r, passes);
        for (d, v) in self.pm.data_mut().iter_mut().zip(&buf) {
            *d = v.round().clamp(0.0, 255.0) as u8;
        }
        // Premultiplied colour must not exceed alpha after rounding.
        for px in self.pm.data_mut().chunks_exact_mut(4) {
            let a = px[3];
            for c in &mut px[..3] {
                *c = (*c).min(a);
            }
        }
    }
}

fn new_mask() -> Mask {
    Mask::new(W, H).expect("178x218 is a valid mask size")
}

fn add_to_mask(mask: &mut Mask, path: &Option<SkPath>) {
    if let Some(path) = path {
        mask.fill_path(path, FillRule::Winding, true, Transform::identity());
    }
}

/// Box blur with clamped edges on an interleaved buffer, `passes` times.
fn box_blur(buf: &mut [f32], w: usize, h: usize, ch: usize, r: usize, passes: usize) {
    if r == 0 {
        return;
    }
    let norm = 1.0 / (2 * r + 1) as f32;
    let mut tmp = vec![0.0f32; buf.len()];
    for _ in 0..passes {
        for y in 0..h {
            for c in 0..ch {
                let at = |x: isize| (y * w + x.clamp(0, w as isize - 1) as usize) * ch + c;
                let mut acc: f32 = (-(r as isize)..=r as isize).map(|x| buf[at(x)]).sum();
                for x in 0..w as isize {
                    tmp[at(x)] = acc * norm;
                    acc += buf[at(x + r as isize + 1)] - buf[at(x - r as isize)];
                }
            }
        }
        for x in 0..w {
            for c in 0..ch {
                let at = |y: isize| (y.clamp(0, h as isize - 1) as usize * w + x) * ch + c;
                let mut acc: f32 = (-(r as isize)..=r as isize).map(|y| tmp[at(y)]).sum();
                for y in 0..h as isize {
                    buf[at(y)] = acc * norm;
                    acc += tmp[at(y + r as isize + 1)] - tmp[at(y - r as isize)];
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The face, layer by layer

/// Hair shapes in image coordinates.
struct HairShapes {
    /// Hair behind the head (bob and long hair), drawn before the face.
    back: Option<SkPath>,
    /// Hair on the head, drawn after the face.
    front: Option<SkPath>,
    /// A shaved head's stubble, drawn thinly over the skull.
    stubble: Option<SkPath>,
    /// The edge between hair and forehead, left to right.
    hairline: Vec<V2>,
    /// The outer edge of the back hair, for loose strands.
    back_edge: Vec<V2>,
    /// The outer edge of the hair on the head.
    front_edge: Vec<V2>,
    /// Where strands flow from.
    crown: V2,
}

fn draw_face(id: &Identity, shot: &Shot, face: &Face, rng: &mut ChaCha8Rng) -> RgbImage {
    let mut canvas = Canvas::new();
    draw_background(&mut canvas, rng);

    let skin = id.skin;
    let hair = hair_shapes(id, face);
    let mut head_mask = new_mask();

    draw_clothes(&mut canvas, id, shot, face);
    if hair.back.is_some() {
        draw_hair_mass(&mut canvas, id, &hair, HairMass::Back, rng);
    }

    // Neck, with the jaw's shadow on it.
    let w = id.half_width;
    let neck_z = 0.2 * 0.75 * w;
    let neck_pts: Vec<V2> = [
        (-0.5 * w, 25.0),
        (0.5 * w, 25.0),
        (0.55 * w, 88.0),
        (w, 110.0),
        (-w, 110.0),
        (-0.55 * w, 88.0),
    ]
    .iter()
    .map(|&(x, y)| face.at(x, y, neck_z))
    .collect();
    let neck = polygon(&neck_pts);
    let mut neck_mask = new_mask();
    add_to_mask(&mut neck_mask, &neck);
    canvas.fill(neck.clone(), scale_rgb(skin, 0.88), 1.0, None);
    let mut shadow = Canvas::new();
    shadow.fill(
        closed_curve(&shifted(&face.range(JAW), [0.0, 5.0])),
        scale_rgb(skin, 0.35),
        0.6,
        None,
    );
    shadow.blur(3);
    canvas.composite(&shadow, Some(&neck_mask));
    add_to_mask(&mut head_mask, &neck);

    // Ears, mostly hidden behind the face.
    for side in [-1.0f32, 1.0] {
        let centre = face.at(side * (w - 1.0), 10.0, -6.0);
        let angle = shot.roll;
        let ear = ellipse(centre, 4.8 * face.pose.scale, 12.5 * face.pose.scale, angle);
        canvas.fill(ear.clone(), scale_rgb(skin, 0.93), 1.0, None);
        let inner = ellipse(
            add2(centre, [side * 1.3, 0.5]),
            2.2 * face.pose.scale,
            8.0 * face.pose.scale,
            angle,
        );
        canvas.fill(inner, scale_rgb(skin, 0.7), 0.45, None);
        add_to_mask(&mut head_mask, &ear);
    }

    // The face and skull: the jaw line closed by an arc over the top of the head.
    let mut outline = face.range(JAW);
    let ear_level = id.ear_level;
    for k in 1..16 {
        let theta = PI * k as f32 / 16.0;
        let [x, y] = superellipse(theta, w + 3.0 * theta.sin().sqrt(), 86.0, 2.4);
        outline.push(face.surface(id, x, ear_level + y));
    }
    let face_path = closed_curve(&outline);
    let mut face_mask = new_mask();
    add_to_mask(&mut face_mask, &face_path);
    canvas.fill(face_path.clone(), skin, 1.0, None);
    add_to_mask(&mut head_mask, &face_path);

    draw_skin_shading(&mut canvas, id, shot, face, &hair, &face_path, &face_mask);
    draw_beard(&mut canvas, id, face, &face_mask, rng);
    for mole in &id.moles {
        let c = face.surface(id, mole[0], mole[1]);
        canvas.fill(
            ellipse(c, 0.9, 0.8, 0.0),
            mul_rgb(skin, [0.45, 0.33, 0.28]),
            0.75,
            Some(&face_mask),
        );
    }
    draw_eyes(&mut canvas, id, shot, face);
    draw_brows(&mut canvas, id, face, rng);
    draw_nose(&mut canvas, id, face);
    draw_mouth(&mut canvas, id, shot, face);

    // Hair on the head, over the forehead's edge.
    if hair.stubble.is_some() {
        canvas.fill(hair.stubble.clone(), id.hair, 0.3, Some(&face_mask));
    }
    let front_mask = draw_hair_mass(&mut canvas, id, &hair, HairMass::Front, rng);
    let gloss = face.surface(id, shot.light[0] * 18.0, -52.0);
    canvas.spot(gloss, 26.0, 14.0, [1.0, 0.97, 0.9], 0.16, Some(&front_mask));
    add_to_mask(&mut head_mask, &hair.front);

    let centre = face.at(0.0, 14.0, 0.0);
    let axes = [
        id.half_width * 1.12 * face.pose.scale,
        84.0 * face.pose.scale,
    ];
    apply_lighting(&mut canvas, &head_mask, centre, axes, shot);
    finish(&canvas, &face_mask, shot, rng)
}

fn draw_background(canvas: &mut Canvas, rng: &mut ChaCha8Rng) {
    let hue = rng.random::<f32>();
    let c1 = hsv(hue, uniform(rng, 0.05, 0.55), uniform(rng, 0.2, 0.95));
    let c2 = if rng.random_bool(0.5) {
        hsv(
            hue + uniform(rng, -0.1, 0.1),
            uniform(rng, 0.05, 0.55),
            uniform(rng, 0.2, 0.95),
        )
    } else {
        hsv(
            rng.random::<f32>(),
            uniform(rng, 0.05, 0.5),
            uniform(rng, 0.2, 0.95),
        )
    };
    let angle = uniform(rng, 0.0, TAU);
    let (dx, dy) = (angle.cos() * 120.0, angle.sin() * 120.0);
    let shader = LinearGradient::new(
        Point::from_xy(89.0 - dx, 109.0 - dy),
        Point::from_xy(89.0 + dx, 109.0 + dy),
        vec![
            GradientStop::new(0.0, color(c1, 1.0)),
            GradientStop::new(1.0, color(c2, 1.0)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    );
    let full = Rect::from_xywh(0.0, 0.0, W as f32, H as f32).map(PathBuilder::from_rect);
    canvas.fill(full, c1, 1.0, None);
    canvas.fill_shader(
        Rect::from_xywh(0.0, 0.0, W as f32, H as f32).map(PathBuilder::from_rect),
        shader,
        None,
    );
    // Out-of-focus scenery: blobs and panels of other colours.
    let n = rng.random_range(2..9);
    for _ in 0..n {
        let c = if rng.random_bool(0.6) {
            mix_rgb(c1, c2, rng.random::<f32>())
        } else {
            hsv(
                rng.random::<f32>(),
                uniform(rng, 0.0, 0.7),
                uniform(rng, 0.1, 1.0),
            )
        };
        let c = scale_rgb(c, uniform(rng, 0.7, 1.2));
        let alpha = uniform(rng, 0.25, 0.9);
        let x = uniform(rng, -20.0, W as f32 + 20.0);
        let y = uniform(rng, -20.0, H as f32 + 20.0);
        let path = if rng.random_bool(0.5) {
            let r = uniform(rng, 8.0, 50.0);
            ellipse([x, y], r, r * uniform(rng, 0.6, 1.4), 0.0)
        } else {
            Rect::from_xywh(x, y, uniform(rng, 10.0, 90.0), uniform(rng, 10.0, 120.0))
                .map(PathBuilder::from_rect)
        };
        canvas.fill(path, c, alpha, None);
    }
    let r = rng.random_range(3..8);
    canvas.blur(r);
}

fn draw_clothes(canvas: &mut Canvas, id: &Identity, shot: &Shot, face: &Face) {
    let w = id.half_width;
    let neck_depth = lerp(6.0, 26.0, shot.neckline);
    let shape: Vec<V2> = [
        (-160.0, 140.0),
        (-160.0, 102.0),
        (-(w + 30.0), 89.0),
        (-0.78 * w, 83.0),
        (-0.35 * w, 86.0 + neck_depth * 0.6),
        (0.0, 86.0 + neck_depth),
        (0.35 * w, 86.0 + neck_depth * 0.6),
        (0.78 * w, 83.0),
        (w + 30.0, 89.0),
        (160.0, 102.0),
        (160.0, 140.0),
    ]
    .iter()
    .map(|&(x, y)| face.at(x, y, 0.0))
    .collect();
    let top = face.at(0.0, 82.0, 0.0);
    let shader = LinearGradient::new(
        Point::from_xy(top[0], top[1]),
        Point::from_xy(top[0], top[1] + 40.0),
        vec![
            GradientStop::new(0.0, color(shot.clothes, 1.0)),
            GradientStop::new(1.0, color(scale_rgb(shot.clothes, 0.7), 1.0)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    );
    canvas.fill_shader(closed_curve(&shape), shader, None);
}

/// Hair outlines for the identity's style, placed by the pose.
fn hair_shapes(id: &Identity, face: &Face) -> HairShapes {
    let w = id.half_width;
    let vol = id.hair_volume;
    let crown = face.surface(id, id.part * 14.0, -78.0);
    let bald = id.hair_length == HairLength::Bald;
    let bumps = |theta: f32| {
        if id.curly {
            1.0 + 0.035 * (theta * 11.0 + id.part * 5.0).sin()
        } else {
            1.0
        }
    };

    // The hairline, from the image-left temple to the image-right temple.
    let brow_top = face.canon[RIGHT_BROW.start..LEFT_BROW.end]
        .iter()
        .map(|p| p[1])
        .fold(f32::INFINITY, f32::min)
        - id.brow_thickness
        - 2.0;
    let temple = w - 1.5;
    let mut hairline_canon = Vec::new();
    for k in 0..=24 {
        let x = -temple + 2.0 * temple * k as f32 / 24.0;
        let a = (x.abs() / temple).min(1.0);
        let full = if bald {
            id.hairline + 14.0
        } else {
            id.hairline
        };
        let mut y = match id.fringe {
            Fringe::None => {
                -full + (full - 4.0) * a.powf(3.2)
                    - id.recede * (-((a - 0.55) / 0.18).powi(2)).exp()
            }
            Fringe::Bangs => {
                let wave = 0.9 * (x * 0.8 + id.part * 3.0).sin();
                -id.bangs + (id.bangs - 4.0) * a.powi(6) + wave
            }
            Fringe::Swept => {
                let toward = (x * id.part.signum() / temple + 1.0) * 0.5;
                let s = toward * toward * (3.0 - 2.0 * toward);
                let base = lerp(-id.bangs * 0.9, -full * 0.95, s);
                base + (-4.0 - base) * a.powi(5)
            }
        };
        if a < 0.9 {
            y = y.min(brow_top);
        }
        hairline_canon.push([x, y]);
    }
    let hairline: Vec<V2> = hairline_canon
        .iter()
        .map(|p| face.surface(id, p[0], p[1]))
        .collect();

    let long = matches!(id.hair_length, HairLength::Bob | HairLength::Long);
    let side_bottom = if long { 16.0 } else { 7.0 };

    // Front: over the top from the image-right side to the image-left side, down the side, along
    // the hairline and back up the other side.
    let rx = w + 6.0 + vol * 0.8;
    let ry = 88.0 + vol * 0.6;
    let mut front = Vec::new();
    front.push(face.surface(id, rx, side_bottom));
    for k in 0..=24 {
        let theta = PI * k as f32 / 24.0;
        let [x, y] = superellipse(theta, rx * bumps(theta), ry * bumps(theta), 2.5);
        front.push(face.at(x, id.ear_level - 2.0 + y, 0.0));
    }
    front.push(face.surface(id, -rx, side_bottom));
    let dome_end = front.len();
    // Down the face's left side, in front of the ear.
    let side_inner = |y: f32| jaw_x_at(id, y) + if long { 1.5 } else { 0.5 };
    for &y in &[side_bottom, side_bottom * 0.5, -4.0] {
        front.push(face.surface(id, -side_inner(y), y));
    }
    front.extend(hairline.iter().copied());
    for &y in &[-4.0, side_bottom * 0.5, side_bottom] {
        front.push(face.surface(id, side_inner(y), y));
    }
    let mut front_edge = Vec::new();
    let mut back_edge = Vec::new();
    let front_path = if bald {
        // Only a short band above the ears keeps its hair; the top is stubble (drawn thin, on
        // the skull only).
        let band = |side: f32| -> Vec<V2> {
            [
                (w + 1.5, side_bottom),
                (w + 4.0, -14.0),
                (w + 3.0, -30.0),
                (w - 3.0, -24.0),
                (w - 3.5, -6.0),
                (w - 1.0, side_bottom),
            ]
            .iter()
            .map(|&(x, y)| face.surface(id, side * x, y))
            .collect()
        };
        let mut pb = PathBuilder::new();
        for side in [&band(-1.0), &band(1.0)] {
            pb.move_to(side[0][0], side[0][1]);
            curve_through(&mut pb, side);
            pb.close();
        }
        pb.finish()
    } else {
        front_edge = front[..dome_end].to_vec();
        closed_curve(&front)
    };

    let back = if long {
        let bottom = if id.hair_length == HairLength::Long {
            118.0
        } else {
            58.0 + vol
        };
        let flare = if id.hair_length == HairLength::Long {
            14.0 + vol
        } else {
            7.0 + vol
        };
        let brx = rx + 3.0;
        let bry = ry + 2.0;
        let mut pts = vec![face.at(brx + flare, bottom, -10.0)];
        pts.push(face.at(brx + flare * 0.5, bottom * 0.5, -10.0));
        for k in 0..=24 {
            let theta = PI * k as f32 / 24.0;
            let r = bumps(theta + 0.3);
            let [x, y] = superellipse(theta, brx * r, bry * r, 2.5);
            pts.push(face.at(x, id.ear_level - 2.0 + y, -10.0));
        }
        pts.push(face.at(-brx - flare * 0.5, bottom * 0.5, -10.0));
        pts.push(face.at(-brx - flare, bottom, -10.0));
        pts.push(face.at(0.0, bottom + 6.0, -10.0));
        back_edge = pts[..pts.len() - 1].to_vec();
        closed_curve(&pts)
    } else {
        None
    };

    let stubble = if bald { closed_curve(&front) } else { None };
    HairShapes {
        back,
        front: front_path,
        stubble,
        hairline,
        back_edge,
        front_edge,
        crown,
    }
}

/// Which of [`HairShapes`]' masses to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HairMass {
    Back,
    Front,
}

/// A mass of hair: a soft-edged fill, strands inside it and a few loose strands across its outer
/// edge. Returns the mass's mask.
fn draw_hair_mass(
    canvas: &mut Canvas,
    id: &Identity,
    hair: &HairShapes,
    which: HairMass,
    rng: &mut ChaCha8Rng,
) -> Mask {
    let (path, edge, colour, count) = match which {
        // Behind the head, in its shade; the head's lighting leaves it alone.
        HairMass::Back => (&hair.back, &hair.back_edge, scale_rgb(id.hair, 0.8), 240),
        HairMass::Front => (&hair.front, &hair.front_edge, id.hair, 320),
    };
    let mut mask = new_mask();
    add_to_mask(&mut mask, path);
    if path.is_none() {
        return mask;
    }
    let mut layer = Canvas::new();
    layer.fill(path.clone(), colour, 1.0, None);
    layer.blur(1);
    canvas.composite(&layer, None);
    draw_strands(canvas, id, colour, hair, &mask, rng, count);
    if edge.len() >= 2 {
        for _ in 0..50 {
            let i = rng.random_range(0..edge.len() - 1);
            let p = lerp2(edge[i], edge[i + 1], rng.random::<f32>());
            let out = sub2(p, hair.crown);
            let d = len2(out).max(1.0);
            let out = [out[0] / d, out[1] / d];
            let length = uniform(rng, 2.0, if id.curly { 5.0 } else { 7.0 });
            let bend = uniform(rng, -2.0, 2.0);
            let start = add2(p, [-out[0] * 2.5, -out[1] * 2.5]);
            let end = add2(p, [out[0] * length, out[1] * length]);
            let mut pb = PathBuilder::new();
            pb.move_to(start[0], start[1]);
            pb.quad_to(p[0] - out[1] * bend, p[1] + out[0] * bend, end[0], end[1]);
            canvas.stroke(
                pb.finish(),
                scale_rgb(colour, uniform(rng, 0.7, 1.3)),
                uniform(rng, 0.25, 0.5),
                uniform(rng, 0.5, 1.0),
                None,
            );
        }
    }
    mask
}

/// Thin strokes of lighter and darker hair flowing away from the crown, clipped to `mask`.
fn draw_strands(
    canvas: &mut Canvas,
    id: &Identity,
    colour: Rgb,
    hair: &HairShapes,
    mask: &Mask,
    rng: &mut ChaCha8Rng,
    count: usize,
) {
    let data = mask.data();
    let mut drawn = 0;
    let mut tries = 0;
    while drawn < count && tries < count * 8 {
        tries += 1;
        let x = uniform(rng, 0.0, W as f32);
        let y = uniform(rng, 0.0, H as f32);
        if data[(y as usize).min(H as usize - 1) * W as usize + (x as usize).min(W as usize - 1)]
            < 128
        {
            continue;
        }
        drawn += 1;
        let from_crown = sub2([x, y], hair.crown);
        let d = len2(from_crown).max(1.0);
        let mut dir = [from_crown[0] / d, from_crown[1] / d];
        if y > hair.crown[1] + 60.0 {
            // Long hair falls.
            dir = [dir[0] * 0.4, 1.0];
        }
        let (length, bend) = if id.curly {
            (uniform(rng, 3.0, 8.0), uniform(rng, -4.0, 4.0))
        } else {
            (uniform(rng, 8.0, 26.0), uniform(rng, -3.0, 3.0))
        };
        if id.curly {
            let a = uniform(rng, 0.0, TAU);
            dir = [a.cos(), a.sin()];
        }
        let end = [x + dir[0] * length, y + dir[1] * length];
        let mid = [
            x + dir[0] * length * 0.5 - dir[1] * bend,
            y + dir[1] * length * 0.5 + dir[0] * bend,
        ];
        let mut pb = PathBuilder::new();
        pb.move_to(x, y);
        pb.quad_to(mid[0], mid[1], end[0], end[1]);
        let c = if rng.random_bool(0.5) {
            mix_rgb(colour, [1.0, 0.97, 0.9], uniform(rng, 0.08, 0.25))
        } else {
            scale_rgb(colour, uniform(rng, 0.4, 0.8))
        };
        canvas.stroke(
            pb.finish(),
            c,
            uniform(rng, 0.3, 0.6),
            uniform(rng, 0.5, 1.2),
            Some(mask),
        );
    }
}

/// Soft shadows and highlights that make the skin round: contour, eye sockets, nose sides,
/// under the nose and lip, the hairline, smile folds, blush.
fn draw_skin_shading(
    canvas: &mut Canvas,
    id: &Identity,
    shot: &Shot,
    face: &Face,
    hair: &HairShapes,
    face_path: &Option<SkPath>,
    face_mask: &Mask,
) {
    let skin = id.skin;
    let dark = mul_rgb(skin, [0.5, 0.42, 0.4]);
    let mut soft = Canvas::new();
    soft.stroke(face_path.clone(), dark, 0.3, 8.0, None);
    let light_side = if shot.light[0] >= 0.0 { 1.0 } else { -1.0 };
    for side in [-1.0f32, 1.0] {
        let strength = if side == light_side { 0.18 } else { 0.5 };
        let (top, tip, wing) = if side < 0.0 {
            (face.p(27), face.p(30), face.p(31))
        } else {
            (face.p(27), face.p(30), face.p(35))
        };
        let nw = len2(sub2(face.p(35), face.p(31))) * 0.5;
        let line = [
            add2(top, [side * 3.5, 1.0]),
            add2(lerp2(top, tip, 0.55), [side * nw * 0.45, 0.0]),
            add2(tip, [side * nw * 0.62, 0.5]),
            add2(wing, [side * -0.5, -2.5]),
        ];
        soft.stroke(open_curve(&line), dark, strength, 2.8, None);
        // The nostril wing's roundness.
        soft.fill(
            ellipse(add2(wing, [side * -0.8, -1.6]), nw * 0.4, 2.4, 0.0),
            dark,
            0.3,
            None,
        );
        // Cheek shadow under the cheekbone, stronger on the unlit side.
        let cheek = [
            face.surface(id, side * (id.eye_half_spacing + 9.0), 22.0),
            face.surface(id, side * (id.eye_half_spacing + 4.0), 36.0),
        ];
        let cheek_alpha = if id.masculine { 0.2 } else { 0.12 };
        soft.stroke(
            open_curve(&cheek),
            dark,
            cheek_alpha * if side == light_side { 0.5 } else { 1.0 },
            5.0,
            None,
        );
    }
    soft.stroke(
        open_curve(&shifted(&face.range(NOSE_BASE), [0.0, 1.6])),
        dark,
        0.45,
        2.6,
        None,
    );
    let under_lip = [
        add2(face.p(58), [0.0, 2.6]),
        add2(face.p(57), [0.0, 3.2]),
        add2(face.p(56), [0.0, 2.6]),
    ];
    soft.stroke(open_curve(&under_lip), dark, 0.3, 3.0, None);
    soft.stroke(
        open_curve(&shifted(&hair.hairline, [0.0, 1.5])),
        scale_rgb(dark, 0.8),
        0.35,
        5.0,
        None,
    );
    if shot.smile > 0.25 {
        for (wing, corner, side) in [
            (face.p(31), face.p(48), -1.0),
            (face.p(35), face.p(54), 1.0),
        ] {
            let fold = [
                add2(wing, [side * 1.5, -1.0]),
                add2(lerp2(wing, corner, 0.55), [side * 3.5, 0.0]),
                add2(corner, [side * 3.0, 3.0]),
            ];
            soft.stroke(open_curve(&fold), dark, 0.35 * shot.smile, 1.4, None);
        }
    }
    soft.blur(2);
    canvas.composite(&soft, Some(face_mask));

    for (range, side) in [(RIGHT_EYE, -1.0f32), (LEFT_EYE, 1.0)] {
        let c = mean2(&face.range(range));
        canvas.spot(
            add2(c, [side * 1.0, -2.5]),
            id.eye_width * 0.85 * face.pose.scale,
            (id.eye_height * 1.5 + 2.5) * face.pose.scale,
            dark,
            0.35,
            Some(face_mask),
        );
        let cheek = face.surface(id, side * (id.eye_half_spacing + 4.0), 26.0);
        canvas.spot(
            cheek,
            10.0,
            7.0,
            [0.86, 0.36, 0.36],
            id.blush + 0.1 * shot.smile,
            Some(face_mask),
        );
    }
    canvas.spot(
        lerp2(face.p(30), face.p(33), 0.6),
        len2(sub2(face.p(35), face.p(31))) * 0.3,
        2.2,
        dark,
        0.35,
        Some(face_mask),
    );
    let highlight = mix_rgb(skin, [1.0, 1.0, 1.0], 0.6);
    let lit = [shot.light[0] * 2.0, shot.light[1] * 2.0];
    canvas.spot(
        add2(face.p(30), lit),
        3.2,
        3.0,
        highlight,
        0.35,
        Some(face_mask),
    );
    canvas.spot(
        add2(lerp2(face.p(27), face.p(29), 0.5), lit),
        2.0,
        6.0,
        highlight,
        0.18,
        Some(face_mask),
    );
    canvas.spot(
        face.surface(id, shot.light[0] * 10.0, -24.0),
        16.0,
        8.0,
        highlight,
        0.14,
        Some(face_mask),
    );
    canvas.spot(
        add2(face.p(8), [0.0, -5.0]),
        7.0,
        4.0,
        highlight,
        0.12,
        Some(face_mask),
    );
}

fn draw_beard(
    canvas: &mut Canvas,
    id: &Identity,
    face: &Face,
    face_mask: &Mask,
    rng: &mut ChaCha8Rng,
) {
    if id.beard <= 0.0 {
        return;
    }
    let p = |i: usize| face.p(i);
    let base = p(33);
    let mut region: Vec<V2> = face.pts[2..=14].to_vec();
    region.push(add2(p(54), [5.0, -3.0]));
    region.push([p(35)[0] + 1.0, base[1] + 1.5]);
    region.push([base[0], base[1] + 2.0]);
    region.push([p(31)[0] - 1.0, base[1] + 1.5]);
    region.push(add2(p(48), [-5.0, -3.0]));
    let path = closed_curve(&region);
    let colour = scale_rgb(id.hair, 0.85);
    // Thicker on the chin than up the cheeks.
    let shader = LinearGradient::new(
        Point::from_xy(base[0], base[1]),
        Point::from_xy(p(8)[0], p(8)[1]),
        vec![
            GradientStop::new(0.0, color(colour, 0.35 * id.beard)),
            GradientStop::new(1.0, color(colour, 0.85 * id.beard)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    );
    let mut soft = Canvas::new();
    soft.fill_shader(path.clone(), shader, None);
    let moustache = [
        add2(p(31), [-2.0, 1.0]),
        add2(p(33), [0.0, 1.5]),
        add2(p(35), [2.0, 1.0]),
        add2(p(54), [1.0, -1.0]),
        add2(p(52), [0.0, -0.8]),
        add2(p(50), [0.0, -0.8]),
        add2(p(48), [-1.0, -1.0]),
    ];
    soft.fill(closed_curve(&moustache), colour, 0.55 * id.beard, None);
    soft.blur(2);
    canvas.composite(&soft, Some(face_mask));

    let mut mask = new_mask();
    add_to_mask(&mut mask, &path);
    let data = mask.data();
    let wanted = (500.0 * id.beard) as usize;
    let (mut drawn, mut tries) = (0, 0);
    while drawn < wanted && tries < wanted * 30 {
        tries += 1;
        let x = uniform(rng, 0.0, W as f32);
        let y = uniform(rng, 0.0, H as f32);
        let at = (y as usize).min(H as usize - 1) * W as usize + (x as usize).min(W as usize - 1);
        if data[at] < 128 {
            continue;
        }
        drawn += 1;
        let a = uniform(rng, 0.0, TAU);
        let len = uniform(rng, 1.0, 2.5);
        let mut pb = PathBuilder::new();
        pb.move_to(x, y);
        pb.line_to(x + a.cos() * len * 0.5, y + a.sin().abs() * len);
        let shade = if rng.random_bool(0.5) { 0.5 } else { 1.2 };
        canvas.stroke(
            pb.finish(),
            scale_rgb(id.hair, shade),
            0.3,
            0.6,
            Some(face_mask),
        );
    }
}

fn draw_eyes(canvas: &mut Canvas, id: &Identity, shot: &Shot, face: &Face) {
    let skin = id.skin;
    let sclera = scale_rgb(mix_rgb([0.95, 0.93, 0.91], skin, 0.12), 0.93);
    let lash = scale_rgb(mix_rgb([0.08, 0.06, 0.06], id.brow, 0.3), 1.0);
    for (range, side) in [(RIGHT_EYE, -1.0f32), (LEFT_EYE, 1.0)] {
        let e = face.range(range);
        // Both eyes as [outer, upper outer, upper inner, inner, lower inner, lower outer].
        let e = if side < 0.0 {
            e
        } else {
            vec![e[3], e[2], e[1], e[0], e[5], e[4]]
        };
        let upper = [e[0], e[1], e[2], e[3]];
        let lower = [e[3], e[4], e[5], e[0]];
        let eye = pieces(&[&upper, &lower]);
        let mut eye_mask = new_mask();
        add_to_mask(&mut eye_mask, &eye);

        // Lid crease above the eye.
        let lid_height = len2(sub2(e[1], e[5])).max(0.5);
        let crease: Vec<V2> = upper
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let lift = if k == 1 || k == 2 {
                    0.7 * lid_height + 1.8
                } else {
                    1.0
                };
                add2(*p, [side * if k == 0 { -0.5 } else { 0.0 }, -lift])
            })
            .collect();
        canvas.stroke(open_curve(&crease), scale_rgb(skin, 0.6), 0.4, 0.9, None);

        canvas.fill(eye.clone(), sclera, 1.0, None);
        let width = len2(sub2(e[3], e[0]));
        let mid = lerp2(e[0], e[3], 0.5);
        let r = 0.22 * width;
        let centre = add2(
            mid,
            [
                shot.gaze[0] * width * 0.16,
                -0.12 * lid_height + shot.gaze[1] * lid_height * 0.3,
            ],
        );
        let iris = RadialGradient::new(
            Point::from_xy(centre[0], centre[1]),
            0.0,
            Point::from_xy(centre[0], centre[1]),
            r,
            vec![
                GradientStop::new(0.0, color(scale_rgb(id.iris, 1.1), 1.0)),
                GradientStop::new(0.75, color(id.iris, 1.0)),
                GradientStop::new(1.0, color(scale_rgb(id.iris, 0.5), 1.0)),
            ],
            SpreadMode::Pad,
            Transform::identity(),
        );
        canvas.fill_shader(ellipse(centre, r, r, 0.0), iris, Some(&eye_mask));
        canvas.fill(
            ellipse(centre, r * 0.42, r * 0.42, 0.0),
            [0.04, 0.03, 0.03],
            1.0,
            Some(&eye_mask),
        );
        canvas.fill(
            ellipse(add2(centre, [-0.35 * r, -0.35 * r]), 0.55, 0.55, 0.0),
            [1.0, 1.0, 1.0],
            0.85,
            Some(&eye_mask),
        );
        // The upper lid's shadow on the eyeball, then lashes along the lid, a little beyond the
        // outer corner.
        canvas.stroke(
            open_curve(&shifted(&upper, [0.0, 0.8])),
            scale_rgb(skin, 0.35),
            0.45,
            1.6,
            Some(&eye_mask),
        );
        let wing = add2(e[0], [side * -1.2 * id.lash, -0.6]);
        let mut lash_line = vec![wing];
        lash_line.extend_from_slice(&upper[..3]);
        lash_line.push(lerp2(upper[2], upper[3], 0.7));
        canvas.stroke(
            open_curve(&lash_line),
            lash,
            0.6 + 0.35 * id.lash,
            0.9 + 0.7 * id.lash,
            None,
        );
        canvas.stroke(open_curve(&lower), scale_rgb(skin, 0.5), 0.35, 0.7, None);
    }
}

fn draw_brows(canvas: &mut Canvas, id: &Identity, face: &Face, rng: &mut ChaCha8Rng) {
    let mut soft = Canvas::new();
    for (range, outer_first) in [(RIGHT_BROW, true), (LEFT_BROW, false)] {
        let mut b = face.range(range);
        if !outer_first {
            b.reverse();
        }
        // Outer end first: a band around the points, thin at the outer end, full towards the inner.
        let t = id.brow_thickness * face.pose.scale;
        let n = b.len();
        let mut upper = Vec::with_capacity(n);
        let mut lower = Vec::with_capacity(n);
        for k in 0..n {
            let prev = b[k.saturating_sub(1)];
            let next = b[(k + 1).min(n - 1)];
            let d = sub2(next, prev);
            let l = len2(d).max(1e-3);
            // The normal that points up in the image.
            let mut normal = [d[1] / l, -d[0] / l];
            if normal[1] > 0.0 {
                normal = [-normal[0], -normal[1]];
            }
            let u = k as f32 / (n - 1) as f32;
            let half = 0.5 * t * (0.4 + 0.6 * (u * 1.4).min(1.0));
            upper.push(add2(b[k], [normal[0] * half, normal[1] * half]));
            lower.push(add2(b[k], [-normal[0] * half, -normal[1] * half]));
        }
        let mut outline = upper.clone();
        outline.extend(lower.iter().rev());
        soft.fill(closed_curve(&outline), id.brow, 0.92, None);
        for _ in 0..14 {
            let k = uniform(rng, 0.0, (n - 1) as f32);
            let i = (k as usize).min(n - 2);
            let a = lerp2(lower[i], upper[i], uniform(rng, 0.0, 1.0));
            let d = sub2(b[i + 1], b[i]);
            let mut pb = PathBuilder::new();
            pb.move_to(a[0], a[1]);
            pb.line_to(a[0] + d[0] * 0.5, a[1] + d[1] * 0.5 - 0.8);
            soft.stroke(pb.finish(), scale_rgb(id.brow, 0.7), 0.35, 0.6, None);
        }
    }
    soft.box_blur(1, 1);
    canvas.composite(&soft, None);
}

fn draw_nose(canvas: &mut Canvas, id: &Identity, face: &Face) {
    let skin = id.skin;
    let base = face.range(NOSE_BASE);
    for (a, b, side) in [(base[0], base[1], -1.0f32), (base[4], base[3], 1.0)] {
        let centre = add2(lerp2(a, b, 0.55), [0.0, -0.9]);
        let d = sub2(b, a);
        let angle = d[1].atan2(d[0]) + if side > 0.0 { PI } else { 0.0 };
        let rx = len2(d) * 0.42;
        canvas.fill(
            ellipse(centre, rx.max(0.8), 0.95, angle),
            mul_rgb(skin, [0.3, 0.22, 0.2]),
            0.8,
            None,
        );
        let crease = [
            add2(a, [-side * 1.5, -4.5]),
            add2(a, [side * 1.2, -2.2]),
            add2(a, [-side * 0.3, 0.3]),
        ];
        canvas.stroke(open_curve(&crease), scale_rgb(skin, 0.55), 0.4, 0.9, None);
    }
}

fn draw_mouth(canvas: &mut Canvas, id: &Identity, shot: &Shot, face: &Face) {
    let p = |i: usize| face.p(i);
    let outer = face.range(OUTER_LIPS);
    let inner = face.range(INNER_LIPS);
    let upper_outer: Vec<V2> = outer[0..7].to_vec();
    let lower_outer: Vec<V2> = vec![
        outer[6], outer[7], outer[8], outer[9], outer[10], outer[11], outer[0],
    ];
    let inner_upper: Vec<V2> = vec![
        p(48),
        inner[0],
        inner[1],
        inner[2],
        inner[3],
        inner[4],
        p(54),
    ];
    let inner_lower: Vec<V2> = vec![
        p(54),
        inner[4],
        inner[5],
        inner[6],
        inner[7],
        inner[0],
        p(48),
    ];
    let inner_upper_rev: Vec<V2> = inner_upper.iter().rev().copied().collect();
    let inner_lower_rev: Vec<V2> = inner_lower.iter().rev().copied().collect();

    let gap = len2(sub2(p(66), p(62)));
    let open = gap > 0.6;
    if open {
        let mouth = pieces(&[&inner_upper, &inner_lower]);
        let mut mouth_mask = new_mask();
        add_to_mask(&mut mouth_mask, &mouth);
        canvas.fill(mouth, [0.12, 0.04, 0.05], 1.0, None);
        if gap > 6.0 {
            let tongue = add2(p(66), [0.0, gap * 0.05]);
            canvas.spot(
                tongue,
                len2(sub2(p(65), p(67))) * 0.6,
                gap * 0.3,
                [0.5, 0.2, 0.22],
                0.45,
                Some(&mouth_mask),
            );
        }
        if gap > 2.0 && shot.smile > 0.2 {
            let teeth_h = (0.35 * gap).min(3.0);
            let mut teeth: Vec<V2> = inner_upper.clone();
            teeth.extend(shifted(&inner_upper_rev, [0.0, teeth_h]));
            canvas.fill(
                closed_curve(&teeth),
                [0.9, 0.87, 0.8],
                1.0,
                Some(&mouth_mask),
            );
            for k in 1..6 {
                let at = lerp2(p(60), p(64), k as f32 / 6.0);
                let mut pb = PathBuilder::new();
                pb.move_to(at[0], at[1] - 1.0);
                pb.line_to(at[0], at[1] + teeth_h + 1.0);
                canvas.stroke(pb.finish(), [0.55, 0.5, 0.46], 0.35, 0.5, Some(&mouth_mask));
            }
            if gap > 8.0 {
                let mut lower_teeth: Vec<V2> = inner_lower.clone();
                lower_teeth.extend(shifted(&inner_lower_rev, [0.0, -1.6]));
                canvas.fill(
                    closed_curve(&lower_teeth),
                    [0.8, 0.77, 0.7],
                    0.8,
                    Some(&mouth_mask),
                );
            }
        }
    }

    canvas.fill(
        pieces(&[&upper_outer, &inner_upper_rev]),
        scale_rgb(id.lip, 0.86),
        1.0,
        None,
    );
    canvas.fill(pieces(&[&lower_outer, &inner_lower_rev]), id.lip, 1.0, None);
    let shine = add2(lerp2(p(57), p(66), 0.45), [shot.light[0] * 2.0, 0.0]);
    canvas.spot(
        shine,
        len2(sub2(p(56), p(58))) * 0.7,
        id.lower_lip * 0.3 + 0.5,
        mix_rgb(id.lip, [1.0, 1.0, 1.0], 0.5),
        0.35,
        None,
    );
    // The line between the lips, darkest where they meet.
    let line_alpha = if open { 0.35 } else { 0.75 };
    canvas.stroke(
        open_curve(&inner_upper),
        mul_rgb(id.lip, [0.35, 0.25, 0.25]),
        line_alpha,
        if open { 0.8 } else { 1.1 },
        None,
    );
    for corner in [p(48), p(54)] {
        canvas.spot(
            corner,
            1.6,
            1.3,
            mul_rgb(id.skin, [0.3, 0.2, 0.2]),
            0.5,
            None,
        );
    }
}

/// Lambert shading of the head as an ellipsoid, lit from the shot's direction.
fn apply_lighting(canvas: &mut Canvas, mask: &Mask, centre: V2, axes: V2, shot: &Shot) {
    let l = shot.light;
    let amb = shot.ambient;
    let frontal = amb + (1.0 - amb) * l[2].max(0.0);
    let m = mask.data();
    let data = canvas.pm.data_mut();
    for y in 0..H as usize {
        for x in 0..W as usize {
            let k = m[y * W as usize + x];
            if k == 0 {
                continue;
            }
            let u = (x as f32 + 0.5 - centre[0]) / axes[0];
            let v = (y as f32 + 0.5 - centre[1]) / axes[1];
            let r2 = u * u + v * v;
            let n = if r2 < 1.0 {
                [u, v, (1.0 - r2).sqrt()]
            } else {
                let r = r2.sqrt();
                [u / r, v / r, 0.0]
            };
            let diffuse = (n[0] * l[0] + n[1] * l[1] + n[2] * l[2]).max(0.0);
            let f = ((amb + (1.0 - amb) * diffuse) / frontal).clamp(0.4, 1.15);
            let f = 1.0 + (k as f32 / 255.0) * (f - 1.0);
            let i = (y * W as usize + x) * 4;
            for c in 0..3 {
                data[i + c] = (data[i + c] as f32 * f).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Skin texture, exposure and colour cast, a slight camera blur and sensor noise.
fn finish(canvas: &Canvas, face_mask: &Mask, shot: &Shot, rng: &mut ChaCha8Rng) -> RgbImage {
    let (w, h) = (W as usize, H as usize);
    let mut buf = vec![0.0f32; w * h * 3];
    for (i, px) in canvas.pm.data().chunks_exact(4).enumerate() {
        for c in 0..3 {
            buf[i * 3 + c] = px[c] as f32;
        }
    }
    // Mottled skin: smooth random fields at two scales.
    let coarse = noise_field(rng, 9, 11);
    let fine = noise_field(rng, 30, 36);
    let m = face_mask.data();
    for y in 0..h {
        for x in 0..w {
            let k = m[y * w + x] as f32 / 255.0;
            if k == 0.0 {
                continue;
            }
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let t = 1.0 + k * (0.035 * coarse.at(fx, fy) + 0.02 * fine.at(fx, fy));
            for c in 0..3 {
                buf[(y * w + x) * 3 + c] *= t;
            }
        }
    }
    for px in buf.chunks_exact_mut(3) {
        for (v, tint) in px.iter_mut().zip(shot.tint) {
            *v *= shot.exposure * tint;
        }
    }
    blur3(&mut buf, w, h);
    let mut out = RgbImage::new(W, H);
    for (i, px) in out.pixels_mut().enumerate() {
        let luma = shot.noise * normal(rng);
        for c in 0..3 {
            let v = buf[i * 3 + c] + luma + 0.5 * shot.noise * normal(rng);
            px.0[c] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Weights 0.2, 0.6, 0.2 along each axis (about sigma 0.63 px), clamped edges.
fn blur3(buf: &mut [f32], w: usize, h: usize) {
    let mut tmp = buf.to_vec();
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let at = |xx: usize| buf[(y * w + xx) * 3 + c];
                tmp[(y * w + x) * 3 + c] =
                    0.2 * at(x.saturating_sub(1)) + 0.6 * at(x) + 0.2 * at((x + 1).min(w - 1));
            }
        }
    }
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let at = |yy: usize| tmp[(yy * w + x) * 3 + c];
                buf[(y * w + x) * 3 + c] =
                    0.2 * at(y.saturating_sub(1)) + 0.6 * at(y) + 0.2 * at((y + 1).min(h - 1));
            }
        }
    }
}

/// A grid of standard normal values, sampled bilinearly over the unit square.
struct NoiseField {
    gw: usize,
    gh: usize,
    values: Vec<f32>,
}

fn noise_field(rng: &mut ChaCha8Rng, gw: usize, gh: usize) -> NoiseField {
    NoiseField {
        gw,
        gh,
        values: (0..gw * gh).map(|_| normal(rng)).collect(),
    }
}

impl NoiseField {
    fn at(&self, fx: f32, fy: f32) -> f32 {
        let x = fx * (self.gw - 1) as f32;
        let y = fy * (self.gh - 1) as f32;
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.gw - 1), (y0 + 1).min(self.gh - 1));
        let (tx, ty) = (x - x0 as f32, y - y0 as f32);
        let v = |xx: usize, yy: usize| self.values[yy * self.gw + xx];
        lerp(
            lerp(v(x0, y0), v(x1, y0), tx),
            lerp(v(x0, y1), v(x1, y1), tx),
            ty,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mirrored face's points are the mirrored points: a face turned by `yaw` and the same
    /// face turned by `-yaw` are each other's mirror images (with its asymmetries, roll and
    /// sideways shift set to zero), so flipping the first one's points about the image's
    /// vertical midline with the iBUG renumbering must land on the second one's, point by point.
    #[test]
    fn a_mirrored_face_has_the_mirrored_points() {
        let width = 178.0; // the aligned image; EYE_MID sits on its midline
        for seed in 0..8u64 {
            let mut id = Identity::sample(&mut ChaCha8Rng::seed_from_u64(seed));
            id.asym = [0.0; 4];
            let mut shot = Shot::sample(&mut ChaCha8Rng::seed_from_u64(100 + seed));
            shot.roll = 0.0;
            shot.shift[0] = 0.0;
            shot.yaw = 0.05 + 0.03 * seed as f32;
            let turned = Landmarks68(Face::build(&id, &shot).pts);
            shot.yaw = -shot.yaw;
            let mirror_image = Landmarks68(Face::build(&id, &shot).pts);
            let flipped = turned.mirrored(width);
            for i in 0..N_POINTS {
                let (a, b) = (flipped.0[i], mirror_image.0[i]);
                assert!(
                    (a[0] - b[0]).abs() < 1e-3 && (a[1] - b[1]).abs() < 1e-3,
                    "seed {seed}, point {}: mirrored {a:?}, mirror face's {b:?}",
                    i + 1
                );
            }
            // And the renumbering is not the identity: without it the eyes would swap sides.
            let unpermuted: Vec<f32> = turned.0.iter().map(|p| width - p[0]).collect();
            assert!((unpermuted[36] - mirror_image.0[36][0]).abs() > 10.0);
        }
    }

    #[test]
    fn the_mirror_permutation_is_an_involution() {
        for (i, &j) in crate::data::landmarks::MIRROR.iter().enumerate() {
            assert_eq!(crate::data::landmarks::MIRROR[j], i, "point {}", i + 1);
        }
    }
}
