//! The metrics against independent implementations (scikit-image 0.26, numpy 2.4) and the
//! `ofhnet metrics` command's behaviour and errors.
//!
//! Test images are drawn by formulas that the Python snippets repeat exactly:
//! ```python
//! def lcg_bytes(seed, n):
//!     s, out = seed, np.empty(n, np.int64)
//!     for i in range(n):
//!         s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
//!         out[i] = s >> 24
//!     return out
//!
//! def pattern(w, h):
//!     y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
//!     return ((x * 7 + y * 3 + c * 40 + (x * y) % 31) % 256).astype(np.uint8)
//!
//! def noisy(w, h, seed, amp):
//!     n = lcg_bytes(seed, w * h * 3).reshape(h, w, 3) % (2 * amp + 1) - amp
//!     return np.clip(pattern(w, h).astype(np.int64) + n, 0, 255).astype(np.uint8)
//!
//! def noise(w, h, seed):
//!     return lcg_bytes(seed, w * h * 3).reshape(h, w, 3).astype(np.uint8)
//! ```

use std::path::Path;

use image::{Rgb, RgbImage};
use ofhnet::cli::metrics::{MetricsArgs, run};
use ofhnet::data::Landmarks68;
use ofhnet::metrics::bootstrap::{
    BootstrapConfig, BootstrapPlan, bootstrap_mean, paired_bootstrap,
};
use ofhnet::metrics::parsing::{BROW_HALF_WIDTH, FaceClass, colorize, palette};
use ofhnet::metrics::{
    ImageMetrics, image_metrics, mean_iou, nrmse, parsing_map, psnr, psnr_y, ssim, ssim_y,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bytes `s >> 24` of the LCG `s <- 1664525 s + 1013904223 (mod 2^32)`, starting from `seed`.
fn lcg_bytes(seed: u32, n: usize) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 24) as u8
        })
        .collect()
}

fn pattern(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb(std::array::from_fn(|c| {
            ((x * 7 + y * 3 + c as u32 * 40 + (x * y) % 31) % 256) as u8
        }))
    })
}

fn noisy(w: u32, h: u32, seed: u32, amp: i32) -> RgbImage {
    let base = pattern(w, h);
    let noise = lcg_bytes(seed, (w * h * 3) as usize);
    let raw = base
        .as_raw()
        .iter()
        .zip(&noise)
        .map(|(&v, &n)| (i32::from(v) + i32::from(n) % (2 * amp + 1) - amp).clamp(0, 255) as u8)
        .collect();
    RgbImage::from_raw(w, h, raw).expect("buffer size")
}

fn noise(w: u32, h: u32, seed: u32) -> RgbImage {
    RgbImage::from_raw(w, h, lcg_bytes(seed, (w * h * 3) as usize)).expect("buffer size")
}

/// Far tighter than PROTOCOL's 1e-4: both sides compute in f64 and differ only in summation
/// order.
const TOL: f64 = 1e-9;

fn assert_close(what: &str, got: f64, expected: f64, tol: f64) {
    assert!(
        (got - expected).abs() <= tol,
        "{what}: got {got}, expected {expected} (tolerance {tol})"
    );
}

/// Values from:
/// ```python
/// from skimage.metrics import structural_similarity, peak_signal_noise_ratio
/// from skimage.color import rgb2ycbcr
/// def metrics(a, b):
///     ya, yb = rgb2ycbcr(a)[..., 0], rgb2ycbcr(b)[..., 0]
///     kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
///     return (peak_signal_noise_ratio(a, b, data_range=255),
///             structural_similarity(a, b, channel_axis=2, **kw),
///             peak_signal_noise_ratio(ya, yb, data_range=255),
///             structural_similarity(ya, yb, **kw))
/// metrics(pattern(128, 128), noisy(128, 128, 1, 20))  # and the other pairs below
/// ```
#[test]
fn image_metrics_match_scikit_image() {
    let cases: [(&str, RgbImage, RgbImage, [f64; 4]); 4] = [
        (
            "128x128 pattern vs noisy(1, 20)",
            pattern(128, 128),
            noisy(128, 128, 1, 20),
            [
                26.69961006303612,
                0.8287379135939307,
                31.492234086030994,
                0.9095608302261424,
            ],
        ),
        (
            "37x23 pattern vs noisy(2, 60)",
            pattern(37, 23),
            noisy(37, 23, 2, 60),
            [
                17.505397650291222,
                0.4710104459516922,
                22.36219680208414,
                0.6058896196001857,
            ],
        ),
        (
            "11x11 noise(3) vs noise(4)",
            noise(11, 11, 3),
            noise(11, 11, 4),
            [
                7.803520729866419,
                -0.12404899711268214,
                12.125230360726123,
                -0.16770050232680256,
            ],
        ),
        (
            "16x16 pattern vs noisy(5, 5)",
            pattern(16, 16),
            noisy(16, 16, 5, 5),
            [
                38.23669943715124,
                0.9805583025402448,
                42.78494458738795,
                0.9919441431871729,
            ],
        ),
    ];
    for (name, a, b, [e_psnr, e_ssim, e_psnr_y, e_ssim_y]) in &cases {
        let m = image_metrics(a, b).expect("metrics");
        assert_close(&format!("{name} PSNR"), m.psnr, *e_psnr, TOL);
        assert_close(&format!("{name} SSIM"), m.ssim, *e_ssim, TOL);
        assert_close(&format!("{name} PSNR-Y"), m.psnr_y, *e_psnr_y, TOL);
        assert_close(&format!("{name} SSIM-Y"), m.ssim_y, *e_ssim_y, TOL);
        // The single-metric functions agree with the combined one.
        assert_eq!(psnr(a, b).expect("psnr"), m.psnr, "{name}");
        assert_close(
            &format!("{name} ssim()"),
            ssim(a, b).expect("ssim"),
            m.ssim,
            1e-15,
        );
        assert_close(
            &format!("{name} psnr_y()"),
            psnr_y(a, b).expect("psnr_y"),
            m.psnr_y,
            1e-12,
        );
        assert_close(
            &format!("{name} ssim_y()"),
            ssim_y(a, b).expect("ssim_y"),
            m.ssim_y,
            1e-15,
        );
    }
}

#[test]
fn identical_images_have_infinite_psnr_and_unit_ssim() {
    let a = noisy(40, 30, 9, 30);
    let m = image_metrics(&a, &a).expect("metrics");
    assert_eq!(m.psnr, f64::INFINITY);
    assert_eq!(m.psnr_y, f64::INFINITY);
    assert_close("SSIM", m.ssim, 1.0, 1e-12);
    assert_close("SSIM-Y", m.ssim_y, 1.0, 1e-12);
}

#[test]
fn image_metrics_reject_mismatched_and_tiny_images() {
    let err = image_metrics(&pattern(16, 16), &pattern(16, 17)).expect_err("size mismatch");
    let msg = err.to_string();
    assert!(msg.contains("16x16") && msg.contains("16x17"), "{msg}");

    let err = image_metrics(&pattern(10, 16), &pattern(10, 16)).expect_err("narrower than 11");
    let msg = err.to_string();
    assert!(
        msg.contains("at least 11x11") && msg.contains("10x16"),
        "{msg}"
    );
    // PSNR alone has no window.
    assert!(psnr(&pattern(10, 16), &noise(10, 16, 1)).is_ok());
}

/// The same (f32) face as the Python snippets' `FACE`, in the 128x128 crop's coordinates.
#[rustfmt::skip]
const FACE: [[f32; 2]; 68] = [
    [22.10, 52.32], [23.03, 64.66], [25.04, 77.56], [28.68, 88.92], [34.54, 98.64], [40.51, 106.70],
    [47.73, 112.93], [55.81, 116.77], [64.40, 118.23], [72.29, 117.12], [79.84, 112.70], [87.42, 106.51],
    [93.33, 98.68], [98.89, 89.00], [102.91, 77.27], [105.19, 64.67], [105.61, 51.75], [30.15, 43.76],
    [36.40, 40.07], [43.26, 38.72], [49.31, 40.77], [56.01, 44.28], [72.11, 44.19], [78.17, 40.50],
    [85.01, 39.30], [91.39, 40.54], [97.65, 43.91], [63.86, 53.72], [64.35, 59.90], [64.58, 66.07],
    [64.38, 72.11], [56.14, 74.72], [59.95, 76.21], [63.92, 76.68], [68.37, 76.19], [72.14, 74.84],
    [36.30, 56.13], [41.71, 52.78], [48.36, 52.82], [54.06, 55.72], [47.75, 59.34], [42.04, 58.74],
    [74.31, 56.11], [80.06, 52.40], [85.93, 52.29], [91.63, 56.30], [85.97, 59.04], [79.86, 59.20],
    [45.62, 91.90], [50.62, 87.70], [58.37, 86.13], [63.94, 87.02], [70.30, 85.88], [77.07, 88.15],
    [81.88, 92.02], [77.21, 98.33], [70.72, 101.35], [63.60, 102.20], [57.25, 100.71], [50.94, 98.25],
    [49.61, 92.10], [58.23, 90.01], [64.18, 90.78], [69.76, 89.89], [77.74, 91.88], [70.36, 95.06],
    [63.87, 95.82], [58.36, 94.96],
];

fn face() -> Landmarks68 {
    Landmarks68(FACE)
}

/// The face scaled by 1.1 about (64, 64), in f32 as numpy's float32 arithmetic does it.
fn face_scaled() -> Landmarks68 {
    face()
        .translated(64.0, 64.0)
        .scaled(1.1)
        .translated(-64.0, -64.0)
}

/// Hand-computed: every point moved by (3, 4) is 5 px off; only one point moved by 34 px gives
/// sqrt(34^2 / 68) = sqrt(17). The outer eye corners are 50 px apart.
#[test]
fn nrmse_hand_computed() {
    let mut gt = [[0.0f32; 2]; 68];
    gt[36] = [10.0, 20.0];
    gt[45] = [60.0, 20.0];
    let gt = Landmarks68(gt);
    assert_close(
        "shift (3, 4)",
        nrmse(&gt, &gt.translated(-3.0, -4.0)).expect("nrmse"),
        10.0,
        1e-12,
    );
    let mut one = gt;
    one.0[7][1] += 34.0;
    assert_close(
        "one point",
        nrmse(&gt, &one).expect("nrmse"),
        2.0 * 17f64.sqrt(),
        1e-12,
    );
    assert_eq!(nrmse(&gt, &gt).expect("nrmse"), 0.0);
}

/// Values from:
/// ```python
/// FACE = np.array([...], np.float32).reshape(68, 2)  # the FACE constant above
/// def nrmse(gt, pred):
///     gt, pred = gt.astype(np.float64), pred.astype(np.float64)
///     rmse = np.sqrt(np.mean(np.sum((pred - gt) ** 2, axis=1)))
///     return rmse / np.linalg.norm(gt[36] - gt[45]) * 100
/// nrmse(FACE, (FACE + np.float32([3, 4])).astype(np.float32))
/// nrmse(FACE, ((FACE - np.float32(64)) * np.float32(1.1) + np.float32(64)).astype(np.float32))
/// ```
#[test]
fn nrmse_matches_numpy() {
    let shifted = face().translated(-3.0, -4.0);
    assert_close(
        "shifted",
        nrmse(&face(), &shifted).expect("nrmse"),
        9.036646659159757,
        1e-12,
    );
    assert_close(
        "scaled",
        nrmse(&face(), &face_scaled()).expect("nrmse"),
        5.935327094402984,
        1e-12,
    );
}

#[test]
fn nrmse_rejects_degenerate_input() {
    let flat = Landmarks68([[5.0, 5.0]; 68]);
    let msg = nrmse(&flat, &face())
        .expect_err("zero normaliser")
        .to_string();
    assert!(msg.contains("points 37 and 46"), "{msg}");

    let mut bad = face();
    bad.0[10][1] = f32::NAN;
    let msg = nrmse(&face(), &bad).expect_err("NaN point").to_string();
    assert!(
        msg.contains("predicted") && msg.contains("point 11"),
        "{msg}"
    );
    let msg = nrmse(&bad, &face()).expect_err("NaN point").to_string();
    assert!(msg.contains("ground-truth"), "{msg}");
}

/// Values from an independent drawing with `skimage.draw.polygon` (which centres pixel (r, c)
/// on (r, c), hence the -0.5), checking first that no pixel centre lies on an edge, where the
/// two conventions could differ:
/// ```python
/// from skimage.draw import polygon
/// HALF = 1.5  # BROW_HALF_WIDTH
/// def polygons(p):
///     p = p.astype(np.float64)
///     idx = lambda *rs: np.concatenate([np.atleast_1d(np.array(r)) for r in rs]) - 1
///     brow = lambda a, b: np.concatenate([p[a-1:b] - [0, HALF], p[a-1:b][::-1] + [0, HALF]])
///     return [(1, p[idx(range(1, 18), range(27, 17, -1))]), (2, brow(18, 22)), (3, brow(23, 27)),
///             (4, p[idx(range(37, 43))]), (5, p[idx(range(43, 49))]),
///             (6, p[idx([28], range(32, 37))]), (7, p[idx(range(49, 56), range(65, 60, -1))]),
///             (8, p[idx(range(55, 61), [49], [61], range(68, 64, -1))]),
///             (9, p[idx(range(61, 69))])]
/// def parsing_map(p, size=128):
///     m = np.zeros((size, size), np.uint8)
///     for label, poly in polygons(p):
///         rr, cc = polygon(poly[:, 1] - 0.5, poly[:, 0] - 0.5, shape=m.shape)
///         m[rr, cc] = label
///     return m
/// def mean_iou(a, b):
///     return float(np.mean([((a == c) & (b == c)).sum() / ((a == c) | (b == c)).sum()
///                           for c in range(1, 10) if ((a == c) | (b == c)).any()]))
/// base = parsing_map(FACE)
/// [int((base == c).sum()) for c in range(10)]
/// mean_iou(base, parsing_map((FACE + np.float32([2.3, -1.7])).astype(np.float32)))
/// mean_iou(base, parsing_map(((FACE - np.float32(64)) * np.float32(1.1)
///                             + np.float32(64)).astype(np.float32)))
/// # smallest distance from a pixel centre to an edge: 0.0030, 0.00038 and 0.0033 px
/// ```
#[test]
fn parsing_maps_match_skimage_draw() {
    assert_eq!(
        BROW_HALF_WIDTH, 1.5,
        "the Python snippet assumes this half width"
    );
    let base = parsing_map(&face()).expect("map");
    assert_eq!((base.width(), base.height()), (128, 128));
    let counts: Vec<usize> = FaceClass::ALL.iter().map(|&c| base.count(c)).collect();
    assert_eq!(
        counts,
        vec![11226, 4242, 78, 78, 74, 79, 188, 123, 195, 101]
    );
    assert_eq!(mean_iou(&base, &base).expect("iou"), 1.0);

    let shifted = parsing_map(&face().translated(-2.3, 1.7)).expect("map");
    assert_close(
        "shifted",
        mean_iou(&base, &shifted).expect("iou"),
        0.44937867379273666,
        1e-12,
    );
    let scaled = parsing_map(&face_scaled()).expect("map");
    assert_close(
        "scaled",
        mean_iou(&base, &scaled).expect("iou"),
        0.42528458249489165,
        1e-12,
    );
}

#[test]
fn parsing_map_rejects_non_finite_points_and_colours_classes() {
    let mut bad = face();
    bad.0[0][0] = f32::INFINITY;
    let msg = parsing_map(&bad).expect_err("inf point").to_string();
    assert!(msg.contains("point 1 "), "{msg}");

    let base = parsing_map(&face()).expect("map");
    let image = colorize(&base);
    assert_eq!(image.dimensions(), (128, 128));
    assert_eq!(image.get_pixel(0, 0).0, palette(FaceClass::Background));
    assert_eq!(
        image.get_pixel(64, 100).0,
        palette(base.get(64, 100).expect("inside"))
    );
    let mut colours: Vec<[u8; 3]> = FaceClass::ALL.iter().map(|&c| palette(c)).collect();
    colours.sort();
    colours.dedup();
    assert_eq!(
        colours.len(),
        FaceClass::ALL.len(),
        "palette colours must be distinct"
    );
}

/// Deterministic uniform values in [0, 1) from the LCG, for synthetic per-image rows.
fn uniform(seed: u32, n: usize) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            f64::from(s) / 4_294_967_296.0
        })
        .collect()
}

/// Rows of two methods whose per-image values differ by 0.5 plus zero-mean noise.
fn shifted_rows(n: usize) -> (Vec<f64>, Vec<f64>) {
    let base = uniform(11, n);
    let noise = uniform(12, n);
    let b: Vec<f64> = base.iter().map(|v| 20.0 + 4.0 * v).collect();
    let a = b
        .iter()
        .zip(&noise)
        .map(|(v, e)| v + 0.5 + 2.0 * (e - 0.5))
        .collect();
    (a, b)
}

#[test]
fn paired_bootstrap_is_deterministic_and_covers_the_shift() {
    let config = BootstrapConfig::default();
    assert_eq!((config.resamples, config.level), (10_000, 0.95));
    let (a, b) = shifted_rows(200);
    let first = paired_bootstrap(&a, &b, &config).expect("interval");
    let again = paired_bootstrap(&a, &b, &config).expect("interval");
    assert_eq!(first, again, "a fixed seed gives the same interval");
    let other_seed = BootstrapConfig {
        seed: config.seed + 1,
        ..config
    };
    assert_ne!(
        paired_bootstrap(&a, &b, &other_seed).expect("interval"),
        first
    );

    assert_eq!(first.n, 200);
    let mean: f64 = a.iter().zip(&b).map(|(x, y)| x - y).sum::<f64>() / 200.0;
    assert_close("mean difference", first.mean, mean, 1e-12);
    assert!(
        first.lower < first.mean && first.mean < first.upper,
        "{first:?}"
    );
    assert!(
        first.lower < 0.5 && 0.5 < first.upper,
        "true shift 0.5 outside {first:?}"
    );
    assert!(first.lower > 0.0, "the shift is significant: {first:?}");
}

/// The differences are uniform on [-0.5, 1.5) (sd 1/sqrt(3)), so the 95% interval's half-width is
/// about 1.96 / sqrt(3 n): it shrinks like 1/sqrt(n).
#[test]
fn paired_bootstrap_narrows_with_more_samples() {
    let config = BootstrapConfig::default();
    let width = |n: usize| {
        let (a, b) = shifted_rows(n);
        let iv = paired_bootstrap(&a, &b, &config).expect("interval");
        assert!(iv.lower < 0.5 && 0.5 < iv.upper, "n = {n}: {iv:?}");
        iv.upper - iv.lower
    };
    let (small, large) = (width(100), width(2500));
    assert!(
        large < small / 3.0,
        "widths {small} (n = 100) and {large} (n = 2500)"
    );
    let expected = 2.0 * 1.96 / (3.0f64 * 2500.0).sqrt();
    assert!(
        (large / expected - 1.0).abs() < 0.1,
        "width {large}, normal theory {expected}"
    );
}

#[test]
fn bootstrap_mean_and_edge_cases() {
    let config = BootstrapConfig::default();
    let iv = bootstrap_mean(&[1.0, 2.0, 3.0, 4.0, 5.0], &config).expect("interval");
    assert_eq!((iv.mean, iv.n), (3.0, 5));
    assert!(
        1.0 <= iv.lower && iv.lower < 3.0 && 3.0 < iv.upper && iv.upper <= 5.0,
        "{iv:?}"
    );

    let constant = paired_bootstrap(&[3.0; 10], &[1.0; 10], &config).expect("interval");
    assert_eq!(
        (constant.mean, constant.lower, constant.upper),
        (2.0, 2.0, 2.0)
    );

    let msg = paired_bootstrap(&[1.0, 2.0], &[1.0], &config)
        .expect_err("lengths")
        .to_string();
    assert!(msg.contains("2 values") && msg.contains("has 1"), "{msg}");
    let msg = bootstrap_mean(&[], &config).expect_err("empty").to_string();
    assert!(msg.contains("no values"), "{msg}");
    let msg = paired_bootstrap(&[1.0, 2.0, 3.0], &[1.0, f64::NAN, 3.0], &config)
        .expect_err("NaN")
        .to_string();
    assert!(
        msg.contains("method b") && msg.contains("value 1") && msg.contains("NaN"),
        "{msg}"
    );
    let msg = bootstrap_mean(&[1.0, f64::INFINITY], &config)
        .expect_err("inf")
        .to_string();
    assert!(msg.contains("value 1") && msg.contains("inf"), "{msg}");
    let bad_level = BootstrapConfig {
        level: 1.0,
        ..config
    };
    assert!(bootstrap_mean(&[1.0, 2.0], &bad_level).is_err());
    let no_resamples = BootstrapConfig {
        resamples: 0,
        ..config
    };
    assert!(bootstrap_mean(&[1.0, 2.0], &no_resamples).is_err());
}

fn save(image: &RgbImage, path: &Path) {
    image
        .save_with_format(path, image::ImageFormat::Png)
        .expect("write test image");
}

fn args(reference: &Path, output: &Path, csv: Option<&Path>, allow_missing: bool) -> MetricsArgs {
    MetricsArgs {
        reference: reference.to_path_buf(),
        output: output.to_path_buf(),
        csv: csv.map(Path::to_path_buf),
        allow_missing,
    }
}

#[test]
fn cli_size_mismatch_names_both_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reference = dir.path().join("000001.jpg");
    let output = dir.path().join("000001_out.png");
    save(&pattern(178, 218), &reference);
    save(&pattern(128, 128), &output);
    let err = run(&args(&reference, &output, None, false)).expect_err("size mismatch");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("000001.jpg") && msg.contains("000001_out.png"),
        "{msg}"
    );
    assert!(
        msg.contains("178x218") && msg.contains("128x128 HR crops"),
        "{msg}"
    );

    // Other sizes: no HR hint, but both files and sizes.
    save(&pattern(20, 20), &output);
    let msg = format!(
        "{:#}",
        run(&args(&reference, &output, None, false)).expect_err("mismatch")
    );
    assert!(msg.contains("20x20") && msg.contains("000001.jpg"), "{msg}");
    assert!(!msg.contains("HR crops"), "{msg}");
}

#[test]
fn cli_rejects_tiny_images_file_and_directory_mixes_and_missing_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tiny = dir.path().join("tiny.png");
    save(&pattern(8, 8), &tiny);
    let msg = format!(
        "{:#}",
        run(&args(&tiny, &tiny, None, false)).expect_err("tiny")
    );
    assert!(
        msg.contains("tiny.png") && msg.contains("at least 11x11"),
        "{msg}"
    );

    let msg = format!(
        "{:#}",
        run(&args(dir.path(), &tiny, None, false)).expect_err("mixed")
    );
    assert!(
        msg.contains("is a directory") && msg.contains("tiny.png"),
        "{msg}"
    );

    let missing = dir.path().join("nope.png");
    let msg = format!(
        "{:#}",
        run(&args(&missing, &tiny, None, false)).expect_err("missing")
    );
    assert!(msg.contains("nope.png"), "{msg}");
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .expect("read csv")
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn row_metrics(row: &[String]) -> ImageMetrics {
    let v: Vec<f64> = row[1..]
        .iter()
        .map(|s| s.parse().expect("number"))
        .collect();
    ImageMetrics {
        psnr: v[0],
        ssim: v[1],
        psnr_y: v[2],
        ssim_y: v[3],
    }
}

#[test]
fn cli_directories_write_per_image_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (refs, outs) = (dir.path().join("ref"), dir.path().join("out"));
    std::fs::create_dir_all(&refs).expect("mkdir");
    std::fs::create_dir_all(&outs).expect("mkdir");
    // Matched by stem across extensions; load_rgb reads the format from the content.
    save(&pattern(32, 24), &refs.join("b.jpg"));
    save(&noisy(32, 24, 3, 20), &outs.join("b.png"));
    save(&pattern(32, 24), &refs.join("a.png"));
    save(&pattern(32, 24), &outs.join("a.PNG"));
    std::fs::write(refs.join("notes.txt"), "not an image").expect("write");

    let csv = dir.path().join("report/metrics.csv");
    run(&args(&refs, &outs, Some(&csv), false)).expect("directories");
    let rows = read_csv(&csv);
    // The header: the name, then every metric that needs no landmark points.
    let header: Vec<&str> = std::iter::once("name")
        .chain(
            ofhnet::metrics::Metric::ALL
                .iter()
                .filter(|m| !m.needs_points())
                .map(|m| m.name()),
        )
        .collect();
    assert_eq!(rows[0], header);
    assert_eq!(&header[..5], ["name", "psnr", "ssim", "psnr_y", "ssim_y"]);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1][0], "a");
    assert_eq!(rows[1][1], "inf", "identical images print PSNR as inf");
    assert_eq!(rows[2][0], "b");
    let expected = image_metrics(&pattern(32, 24), &noisy(32, 24, 3, 20)).expect("metrics");
    assert_eq!(
        row_metrics(&rows[2]),
        expected,
        "CSV numbers round-trip exactly"
    );

    // A name on one side only is an error that lists it, unless --allow-missing.
    save(&pattern(32, 24), &refs.join("c.png"));
    let msg = format!(
        "{:#}",
        run(&args(&refs, &outs, None, false)).expect_err("missing c")
    );
    assert!(
        msg.contains("1 image(s) with no same-named") && msg.contains(": c;"),
        "{msg}"
    );
    assert!(msg.contains("--allow-missing"), "{msg}");
    run(&args(&refs, &outs, Some(&csv), true)).expect("allow missing");
    assert_eq!(read_csv(&csv).len(), 3);

    // Two files, one row named after the output.
    run(&args(
        &refs.join("b.jpg"),
        &outs.join("b.png"),
        Some(&csv),
        false,
    ))
    .expect("files");
    let rows = read_csv(&csv);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][0], "b.png");
    assert_eq!(row_metrics(&rows[1]), expected);
}

/// The report's batched intervals (one draw of resamples, a matrix product, selection instead
/// of a sort) equal the one-at-a-time bootstrap's: same resamples, same order statistics; only
/// the order of the floating-point sums differs.
#[test]
fn bootstrap_plan_equals_one_interval_at_a_time() {
    let config = BootstrapConfig {
        resamples: 2_001,
        ..BootstrapConfig::default()
    };
    let n = 97;
    let columns: Vec<Vec<f64>> = (0..40)
        .map(|c| {
            (0..n)
                .map(|i| ((i * 37 + c * 11) % 101) as f64 * 0.37 + (c as f64).sin())
                .collect()
        })
        .collect();
    let refs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let plan = BootstrapPlan::new(n, &config).expect("plan");
    let batched = plan.intervals(&refs, "test columns").expect("intervals");
    assert_eq!(batched.len(), columns.len());
    for (c, b) in columns.iter().zip(&batched) {
        let one = bootstrap_mean(c, &config).expect("interval");
        assert_eq!(one.n, b.n);
        for (x, y) in [
            (one.mean, b.mean),
            (one.lower, b.lower),
            (one.upper, b.upper),
        ] {
            // The plan's product runs in f32 on centred values (the spread here is ~37).
            assert!((x - y).abs() < 1e-4, "{one:?} vs {b:?}");
        }
    }
    // A column of another length and a non-finite value are refused, naming what they are.
    let short = vec![1.0; n - 1];
    let err = plan.intervals(&[&short], "short").expect_err("length");
    assert!(err.to_string().contains("96 values"), "{err}");
    let mut nan = vec![1.0; n];
    nan[5] = f64::NAN;
    let err = plan.intervals(&[&nan], "with a NaN").expect_err("nan");
    assert!(err.to_string().contains("value 5"), "{err}");
}

/// The cluster bootstrap. With groups of equal size its intervals are the plain bootstrap's
/// over the group means (same generator, one draw per group); with unequal groups each
/// resample's mean is over the values it drew, which a direct loop over the same draws checks;
/// and a random effect per group widens the interval over the one that resamples values.
#[test]
fn clustered_plan_resamples_whole_groups() {
    let config = BootstrapConfig {
        resamples: 2_001,
        ..BootstrapConfig::default()
    };
    // 23 groups of 5 values, listed in a shuffled order with labels that are not 0..23.
    let (g, m) = (23usize, 5usize);
    let order: Vec<usize> = (0..g * m).map(|i| (i * 47) % (g * m)).collect();
    let labels: Vec<i64> = order.iter().map(|&i| 1000 + 7 * (i / m) as i64).collect();
    let values: Vec<f64> = order
        .iter()
        .map(|&i| ((i / m) as f64 * 1.3).sin() * 2.0 + ((i * 13) % 7) as f64 * 0.1)
        .collect();
    let plan = BootstrapPlan::clustered(&labels, &config).expect("plan");
    assert_eq!((plan.n(), plan.groups()), (g * m, g));
    let got = plan.intervals(&[&values], "values").expect("interval")[0];
    let group_means: Vec<f64> = (0..g)
        .map(|k| {
            let v: Vec<f64> = labels
                .iter()
                .zip(&values)
                .filter(|(l, _)| **l == 1000 + 7 * k as i64)
                .map(|(_, v)| *v)
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        })
        .collect();
    let expected = bootstrap_mean(&group_means, &config).expect("over group means");
    for (x, y) in [
        (got.mean, expected.mean),
        (got.lower, expected.lower),
        (got.upper, expected.upper),
    ] {
        assert!((x - y).abs() < 1e-5, "{got:?} vs {expected:?}");
    }
    let by_values = BootstrapPlan::new(g * m, &config)
        .expect("plan")
        .intervals(&[&values], "values")
        .expect("interval")[0];
    assert!(
        got.upper - got.lower > 1.5 * (by_values.upper - by_values.lower),
        "a group effect widens the interval: {got:?} vs {by_values:?}"
    );

    // Unequal groups (sizes 1 to 4): a direct loop over the same draws.
    let labels: Vec<i64> = (0..10i64)
        .flat_map(|k| vec![k; 1 + k as usize % 4])
        .collect();
    let values: Vec<f64> = (0..labels.len()).map(|i| (i as f64 * 0.7).cos()).collect();
    let small = BootstrapConfig {
        resamples: 501,
        ..config
    };
    let got = BootstrapPlan::clustered(&labels, &small)
        .expect("plan")
        .intervals(&[&values], "values")
        .expect("interval")[0];
    let mut rng = ChaCha8Rng::seed_from_u64(small.seed);
    let mut means: Vec<f64> = (0..small.resamples)
        .map(|_| {
            let (mut sum, mut count) = (0.0, 0usize);
            for _ in 0..10 {
                let k = rng.random_range(0..10usize) as i64;
                for (l, v) in labels.iter().zip(&values) {
                    if *l == k {
                        sum += v;
                        count += 1;
                    }
                }
            }
            sum / count as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    // numpy's linear percentile at 2.5% and 97.5% of 501 sorted means: ranks 12.5 and 487.5.
    let lower = (means[12] + means[13]) / 2.0;
    let upper = (means[487] + means[488]) / 2.0;
    assert!((got.lower - lower).abs() < 1e-5, "{got:?} vs {lower}");
    assert!((got.upper - upper).abs() < 1e-5, "{got:?} vs {upper}");
}
