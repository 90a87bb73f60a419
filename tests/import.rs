//! `data import`: CelebA layout in, prepared dataset out; bad input reported with file names.

use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use ofhnet::Error;
use ofhnet::data::dataset::{Dataset, ImportOptions, SplitRule, import};
use ofhnet::data::protocol::Protocol;

use crate::common::write_mini_celeba;

fn options(roots: Vec<PathBuf>, out: &Path, split: &str) -> ImportOptions {
    ImportOptions {
        roots,
        train_roots: Vec::new(),
        out: out.to_path_buf(),
        split: split.parse().expect("valid split"),
        seed: 7,
        protocol: Protocol::default(),
        strict: false,
        force: false,
    }
}

#[test]
fn official_split_counts_crop_and_landmarks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("celeba");
    write_mini_celeba(&root, 9);
    let out = tmp.path().join("prepared");
    let summary = import(
        &options(vec![root], &out, "official"),
        &ProgressBar::hidden(),
    )
    .expect("import");
    assert_eq!(summary.manifest.counts["train"], 3);
    assert_eq!(summary.manifest.counts["val"], 3);
    assert_eq!(summary.manifest.counts["test"], 3);
    assert_eq!(summary.manifest.skipped, 0);

    let ds = Dataset::open(&out).expect("open");
    let test = ds.split("test").expect("test split");
    assert_eq!(test.names, vec!["000003.jpg", "000006.jpg", "000009.jpg"]);
    // Image 2 (0-based) has red = x + 20; the crop starts at x = 24, y = 66.
    let hr = test.hr_image(0);
    assert_eq!(hr.dimensions(), (128, 128));
    assert_eq!(hr.get_pixel(0, 0).0, [44, 66, 128]);
    assert_eq!(hr.get_pixel(10, 5).0, [54, 71, 128]);
    assert_eq!(test.lr_image(0).dimensions(), (16, 16));
    // Landmarks move into crop coordinates: point k was (30 + k, 70 + k).
    let l = test.landmarks68.as_ref().expect("68 points")[0];
    assert_eq!(l.0[0], [6.0, 4.0]);
    assert_eq!(l.0[67], [73.0, 71.0]);
    assert_eq!(test.landmarks5[0][0], [45.0, 46.0]);
    assert_eq!(test.identity, vec![101, 102, 104]);
}

#[test]
fn bad_images_and_rows_are_skipped_with_their_file_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("celeba");
    write_mini_celeba(&root, 6);
    let img_dir = root.join("img_align_celeba");
    std::fs::write(img_dir.join("000001.jpg"), b"this is not a jpeg").expect("corrupt");
    image::RgbImage::new(100, 120)
        .save_with_format(img_dir.join("000002.jpg"), image::ImageFormat::Png)
        .expect("small");
    // Drop image 3's 68-point row (and fix the count line, so the file stays well formed).
    let l68_path = root.join("landmarks68.txt");
    let text = std::fs::read_to_string(&l68_path).expect("read");
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("000003.jpg"))
        .collect();
    let mut kept = kept.join("\n");
    kept.replace_range(0..1, "5");
    std::fs::write(&l68_path, kept).expect("write");

    let out = tmp.path().join("prepared");
    let summary = import(
        &options(vec![root.clone()], &out, "official"),
        &ProgressBar::hidden(),
    )
    .expect("import skips bad images");
    assert_eq!(summary.manifest.skipped, 3);
    let messages: Vec<String> = summary.problems.iter().map(|p| p.to_string()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("000001.jpg") && m.contains("not a readable image")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("000002.jpg") && m.contains("100x120")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("landmarks68.txt") && m.contains("000003.jpg")),
        "{messages:?}"
    );
    let total: usize = summary.manifest.counts.values().sum();
    assert_eq!(total, 3);

    // --strict stops at the first bad image, names it, and writes nothing.
    let strict_out = tmp.path().join("strict");
    let mut strict = options(vec![root], &strict_out, "official");
    strict.strict = true;
    let err = import(&strict, &ProgressBar::hidden()).expect_err("strict fails");
    assert!(err.to_string().contains("000001.jpg"), "{err}");
    assert!(!strict_out.exists());
}

#[test]
fn malformed_annotation_line_names_file_and_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("celeba");
    write_mini_celeba(&root, 4);
    let path = root.join("list_landmarks_align_celeba.txt");
    let mut text = std::fs::read_to_string(&path).expect("read");
    text = text.replacen("000002.jpg 69 112", "000002.jpg 69 eye", 1);
    std::fs::write(&path, text).expect("write");
    let err = import(
        &options(vec![root], &tmp.path().join("out"), "official"),
        &ProgressBar::hidden(),
    )
    .expect_err("malformed");
    match &err {
        Error::Parse { path, line, .. } => {
            assert!(path.ends_with("list_landmarks_align_celeba.txt"));
            assert_eq!(*line, 4);
        }
        other => panic!("expected a parse error, got {other}"),
    }
    assert!(err.to_string().contains("`eye` is not a number"), "{err}");
}

#[test]
fn existing_output_is_kept_unless_forced_and_replaced_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("celeba");
    write_mini_celeba(&root, 6);
    let out = tmp.path().join("prepared");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::write(out.join("keep.txt"), "old").expect("write");
    let err = import(
        &options(vec![root.clone()], &out, "official"),
        &ProgressBar::hidden(),
    )
    .expect_err("exists");
    assert!(matches!(err, Error::OutputExists(_)), "{err}");
    assert!(out.join("keep.txt").exists());

    // A forced import that fails leaves the old directory as it was.
    let mut failing = options(
        vec![root.clone(), tmp.path().join("nope")],
        &out,
        "official",
    );
    failing.force = true;
    assert!(import(&failing, &ProgressBar::hidden()).is_err());
    assert!(out.join("keep.txt").exists());

    let mut forced = options(vec![root], &out, "official");
    forced.force = true;
    import(&forced, &ProgressBar::hidden()).expect("forced import");
    assert!(!out.join("keep.txt").exists());
    assert!(Dataset::open(&out).is_ok());
}

#[test]
fn identity_and_random_splits() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("celeba");
    write_mini_celeba(&root, 20);
    let out = tmp.path().join("identity");
    let summary = import(
        &options(vec![root.clone()], &out, "identity:0.5/0.5"),
        &ProgressBar::hidden(),
    )
    .expect("identity import");
    let ds = Dataset::open(&out).expect("open");
    let train = ds.split("train").expect("train");
    let test = ds.split("test").expect("test");
    assert!(!train.is_empty() && !test.is_empty());
    assert_eq!(train.len() + test.len(), 20);
    assert!(train.identity.iter().all(|id| !test.identity.contains(id)));
    assert_eq!(summary.manifest.counts["val"], 0);

    let out = tmp.path().join("random");
    let summary = import(
        &options(vec![root.clone()], &out, "random:12/5"),
        &ProgressBar::hidden(),
    )
    .expect("random import");
    assert_eq!(summary.manifest.counts["train"], 12);
    assert_eq!(summary.manifest.counts["test"], 5);

    let err = import(
        &options(vec![root], &tmp.path().join("too-many"), "random:30/5"),
        &ProgressBar::hidden(),
    )
    .expect_err("too many");
    assert!(err.to_string().contains("35"), "{err}");
}

#[test]
fn split_rules_parse_and_reject_typos() {
    assert_eq!(
        "official".parse::<SplitRule>().ok(),
        Some(SplitRule::Official)
    );
    assert!(matches!(
        "random:28000/2000".parse::<SplitRule>(),
        Ok(SplitRule::Random {
            counts: Some([28000, 0, 2000]),
            ..
        })
    ));
    for bad in ["oficial", "random", "random:1/2/3/4", "identity:a/b"] {
        let err = bad.parse::<SplitRule>().expect_err(bad);
        assert!(err.to_string().contains("--split"), "{err}");
    }
}

#[test]
fn two_synthetic_roots_with_identity_split_share_no_identity() {
    use ofhnet::data::synth::{SynthOptions, write_celeba_root};
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut roots = Vec::new();
    for seed in [11, 12] {
        let root = tmp.path().join(format!("synth-{seed}"));
        let options = SynthOptions {
            count: 40,
            seed,
            images_per_identity: 4,
            ..SynthOptions::default()
        };
        write_celeba_root(&root, &options, &ProgressBar::hidden()).expect("synth");
        roots.push(root);
    }
    let out = tmp.path().join("both");
    let summary = import(
        &options(roots, &out, "identity:0.7/0.3"),
        &ProgressBar::hidden(),
    )
    .expect("import both roots");
    assert_eq!(summary.manifest.sources.len(), 2);
    let ds = Dataset::open(&out).expect("open");
    let train = ds.split("train").expect("train");
    let test = ds.split("test").expect("test");
    assert_eq!(train.len() + test.len(), 80);
    assert!(!test.is_empty());
    // Both roots contribute to both splits, and no identity crosses the split.
    for split in [&train, &test] {
        assert!(split.source.contains(&0) && split.source.contains(&1));
    }
    let train_ids: std::collections::HashSet<i64> = train.identity.iter().copied().collect();
    assert!(test.identity.iter().all(|id| !train_ids.contains(id)));
}

#[test]
fn train_only_roots_go_whole_to_train_and_leave_the_test_split_alone() {
    use ofhnet::data::synth::{SynthOptions, write_celeba_root};
    let tmp = tempfile::tempdir().expect("tempdir");
    let make = |name: &str, count: usize, seed: u64| {
        let root = tmp.path().join(name);
        let options = SynthOptions {
            count,
            seed,
            images_per_identity: 4,
            ..SynthOptions::default()
        };
        write_celeba_root(&root, &options, &ProgressBar::hidden()).expect("synth");
        root
    };
    let main = make("main", 40, 11);
    let extra = make("extra", 24, 13);
    let alone = import(
        &options(vec![main.clone()], &tmp.path().join("alone"), "official"),
        &ProgressBar::hidden(),
    )
    .expect("import alone");
    let mut with_extra = options(vec![main], &tmp.path().join("with"), "official");
    with_extra.train_roots = vec![extra];
    let both = import(&with_extra, &ProgressBar::hidden()).expect("import with extra");
    let (a, b) = (&alone.manifest.counts, &both.manifest.counts);
    assert_eq!(b["train"], a["train"] + 24, "{a:?} {b:?}");
    assert_eq!((b["val"], b["test"]), (a["val"], a["test"]));
    assert_eq!(both.manifest.sources.len(), 1);
    assert_eq!(both.manifest.train_sources.len(), 1);
    // The test split holds the same faces as without the extra root.
    let test_a = ofhnet::data::dataset::Dataset::open(&tmp.path().join("alone"))
        .and_then(|d| d.split("test"))
        .expect("test split");
    let test_b = ofhnet::data::dataset::Dataset::open(&tmp.path().join("with"))
        .and_then(|d| d.split("test"))
        .expect("test split");
    assert_eq!(test_a.names, test_b.names);
}

/// scripts/landmarks68.py (dlib's 68-point predictor) on synthetic faces, whose exact points
/// the generator knows: its file is read by the importer, and its points land near the exact
/// ones. Skips without the script's venv (PyPI), unless CI's OFHNET_REQUIRE_PYTHON is set.
#[test]
fn landmarks68_script_finds_the_synthetic_faces_points() {
    use ofhnet::data::celeba::{LANDMARKS68_FILE, read_root};
    use ofhnet::data::synth::{SynthOptions, write_celeba_root};
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("synth");
    let options = SynthOptions {
        count: 24,
        seed: 5,
        ..SynthOptions::default()
    };
    write_celeba_root(&root, &options, &ProgressBar::hidden()).expect("synth");
    let exact = read_root(&root).expect("root");
    // The root as a CelebA download has it: no 68-point file.
    std::fs::remove_file(root.join(LANDMARKS68_FILE)).expect("remove");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/landmarks68.py");
    let run = std::process::Command::new("python3")
        .arg(&script)
        .arg(&root)
        .output()
        .expect("python3");
    if run.status.code() == Some(3) {
        assert!(
            std::env::var_os("OFHNET_REQUIRE_PYTHON").is_none(),
            "OFHNET_REQUIRE_PYTHON is set but landmarks68.py could not set up its venv: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        eprintln!("skipped: landmarks68.py could not set up its venv (no PyPI)");
        return;
    }
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let predicted = read_root(&root).expect("root with the predicted points");
    assert!(predicted.has_landmarks68);
    let mut errors = Vec::new();
    for (e, p) in exact.entries.iter().zip(&predicted.entries) {
        assert_eq!(e.name, p.name);
        let (Some(e68), Some(p68)) = (&e.landmarks68, &p.landmarks68) else {
            panic!("{}: no 68 points", e.name);
        };
        let mean = e68
            .0
            .iter()
            .zip(&p68.0)
            .map(|(a, b)| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt())
            .sum::<f32>()
            / 68.0;
        errors.push(mean);
    }
    errors.sort_by(f32::total_cmp);
    let median = errors[errors.len() / 2];
    eprintln!("landmarks68.py on synthetic faces: mean point error per face {errors:?}");
    // Measured on 2026-12-06 (dlib-bin 20.0.1): 1.55 to 2.94 px per face, median 2.1 px, on
    // 178x218 faces whose eyes are about 40 px apart; dlib found all 24 faces itself.
    assert!(median < 3.0, "median error {median} px: {errors:?}");
    assert!(errors[errors.len() - 1] < 4.5, "worst face: {errors:?}");
}
