//! Synthetic faces: determinism, points where the features are, and the written CelebA root.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use image::RgbImage;
use indicatif::ProgressBar;
use ofhnet::Error;
use ofhnet::data::celeba::{Partition, read_root};
use ofhnet::data::landmarks::{LEFT_BROW, LEFT_EYE, Landmarks68, RIGHT_BROW, RIGHT_EYE};
use ofhnet::data::synth::{SynthOptions, render_face, write_celeba_root};

type V2 = [f32; 2];

fn luma(image: &RgbImage, x: i32, y: i32) -> f32 {
    let x = x.clamp(0, image.width() as i32 - 1) as u32;
    let y = y.clamp(0, image.height() as i32 - 1) as u32;
    let [r, g, b] = image.get_pixel(x, y).0;
    0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32
}

/// Mean luminance of the (2r+1)^2 pixels around `p`.
fn patch(image: &RgbImage, p: V2, r: i32) -> f32 {
    let (cx, cy) = (p[0].round() as i32, p[1].round() as i32);
    let mut sum = 0.0;
    for dy in -r..=r {
        for dx in -r..=r {
            sum += luma(image, cx + dx, cy + dy);
        }
    }
    sum / ((2 * r + 1) * (2 * r + 1)) as f32
}

fn inside(poly: &[V2], p: V2) -> bool {
    let mut hit = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[j]);
        if (a[1] > p[1]) != (b[1] > p[1])
            && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
        {
            hit = !hit;
        }
        j = i;
    }
    hit
}

/// Luminances of the pixels whose centres lie inside the polygon.
fn lumas_inside(image: &RgbImage, poly: &[V2]) -> Vec<f32> {
    let mut out = Vec::new();
    for y in 0..image.height() as i32 {
        for x in 0..image.width() as i32 {
            if inside(poly, [x as f32 + 0.5, y as f32 + 0.5]) {
                out.push(luma(image, x, y));
            }
        }
    }
    out
}

fn centroid(points: &[V2]) -> V2 {
    let n = points.len() as f32;
    let s = points
        .iter()
        .fold([0.0, 0.0], |a, p| [a[0] + p[0], a[1] + p[1]]);
    [s[0] / n, s[1] / n]
}

/// Mean luminance of plain cheek skin: below each eye, about halfway down to the nose tip.
fn cheek(image: &RgbImage, l: &Landmarks68) -> f32 {
    let tip = l.0[30];
    let mut sum = 0.0;
    for eye in [RIGHT_EYE, LEFT_EYE] {
        let c = l.centroid(eye);
        sum += patch(image, [c[0], c[1] + 0.55 * (tip[1] - c[1])], 2);
    }
    sum / 2.0
}

#[test]
fn same_seeds_give_identical_faces() {
    let a = render_face(11, 42);
    let b = render_face(11, 42);
    assert_eq!(a.image.dimensions(), (178, 218));
    assert!(a.image.as_raw() == b.image.as_raw(), "pixels differ");
    assert_eq!(a.landmarks, b.landmarks);
}

#[test]
fn different_seeds_give_different_faces() {
    let base = render_face(11, 42);
    for (identity, image) in [(11, 43), (12, 42), (12, 43)] {
        let other = render_face(identity, image);
        let changed = base
            .image
            .as_raw()
            .iter()
            .zip(other.image.as_raw())
            .filter(|(a, b)| a.abs_diff(**b) > 20)
            .count();
        assert!(
            changed > 178 * 218 * 3 / 10,
            "({identity}, {image}): only {changed} values differ clearly"
        );
        assert_ne!(base.landmarks, other.landmarks);
    }
}

#[test]
fn images_of_one_identity_keep_its_features() {
    // The inner eye corner distance is fixed by the identity; pose and expression move it only a
    // little, while other identities spread it over several pixels.
    let inner = |l: &Landmarks68| l.0[42][0] - l.0[39][0];
    let spread = |id: u64| {
        let v: Vec<f32> = (0..6)
            .map(|s| inner(&render_face(id, s).landmarks))
            .collect();
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        (
            mean,
            v.iter().map(|x| (x - mean).abs()).fold(0.0f32, f32::max),
        )
    };
    let per_identity: Vec<(f32, f32)> = (0..8).map(spread).collect();
    let means: Vec<f32> = per_identity.iter().map(|p| p.0).collect();
    let range = means.iter().cloned().fold(f32::MIN, f32::max)
        - means.iter().cloned().fold(f32::MAX, f32::min);
    for (mean, dev) in &per_identity {
        assert!(*dev < 3.0, "identity with mean {mean} varies by {dev}");
    }
    assert!(range > 2.0, "identities all alike: means {means:?}");
}

#[test]
fn landmarks_lie_inside_the_hr_crop_near_celeba_positions() {
    for seed in 0..120u64 {
        let face = render_face(seed / 3, seed);
        let l = face.landmarks;
        assert!(l.is_finite());
        for (i, p) in l.0.iter().enumerate() {
            assert!(
                (24.0..=152.0).contains(&p[0]) && (66.0..=194.0).contains(&p[1]),
                "seed {seed}: point {} at {p:?} is outside the 128x128 crop",
                i + 1
            );
        }
        // CelebA's mean five points, give or take pose and face shape.
        let expected = [
            [69.5, 112.5],
            [107.5, 112.5],
            [88.5, 134.5],
            [71.0, 152.5],
            [106.0, 152.5],
        ];
        for (k, (p, e)) in l.five_points().iter().zip(expected).enumerate() {
            let d = ((p[0] - e[0]).powi(2) + (p[1] - e[1]).powi(2)).sqrt();
            assert!(
                d < 14.0,
                "seed {seed}: five-point {k} at {p:?}, {d} px from {e:?}"
            );
        }
        // The chin is the jaw's lowest point and below the mouth.
        assert!(
            l.0[8][1] > l.0[57][1] + 8.0,
            "seed {seed}: chin not below the mouth"
        );
    }
}

#[test]
fn eyes_brows_and_open_mouths_are_where_their_points_are() {
    let mut open_mouths = 0;
    for seed in 0..60u64 {
        let face = render_face(1000 + seed, seed);
        let (img, l) = (&face.image, &face.landmarks);
        let skin = cheek(img, l);
        for eye in [RIGHT_EYE, LEFT_EYE] {
            let poly: Vec<V2> = l.0[eye.clone()].to_vec();
            let opening = poly[4][1].max(poly[5][1]) - poly[1][1].min(poly[2][1]);
            if opening < 3.0 {
                continue; // a blink
            }
            let v = lumas_inside(img, &poly);
            let (lo, hi) = v
                .iter()
                .fold((f32::MAX, f32::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
            assert!(
                lo < skin - 25.0 && hi - lo > 60.0,
                "seed {seed}: eye at {:?} has luminance {lo}..{hi}, cheek {skin}",
                centroid(&poly)
            );
        }
        // Brows against the skin between them (points 22 and 23 are their inner ends), which
        // sits at their height and so in much the same light.
        let between = patch(img, centroid(&[l.0[21], l.0[22]]), 1);
        for brow in [RIGHT_BROW, LEFT_BROW] {
            // The inner three points, where the brow is thickest.
            let pts = &l.0[brow.clone()];
            let inner = if brow == RIGHT_BROW {
                &pts[2..]
            } else {
                &pts[..3]
            };
            let mean = inner.iter().map(|p| patch(img, *p, 0)).sum::<f32>() / 3.0;
            assert!(
                mean < 0.85 * between,
                "seed {seed}: brow luminance {mean}, skin between the brows {between}"
            );
        }
        // Points 63 and 67 are the middle of the inner lips.
        let gap = l.0[66][1] - l.0[62][1];
        if gap > 6.0 {
            open_mouths += 1;
            let poly: Vec<V2> = l.0[60..68].to_vec();
            let mut darkest = f32::MAX;
            for y in l.0[62][1] as i32..=l.0[66][1] as i32 {
                for x in l.0[60][0] as i32..=l.0[64][0] as i32 {
                    let p = [x as f32 + 0.5, y as f32 + 0.5];
                    let around = [[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]];
                    if inside(&poly, p)
                        && around
                            .iter()
                            .all(|d| inside(&poly, [p[0] + d[0], p[1] + d[1]]))
                    {
                        darkest = darkest.min(patch(img, p, 1));
                    }
                }
            }
            assert!(
                darkest < 0.55 * skin,
                "seed {seed}: open mouth's darkest patch {darkest}, cheek {skin}"
            );
        }
    }
    assert!(
        open_mouths >= 5,
        "only {open_mouths} open mouths in 60 faces"
    );
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn opts(count: usize, seed: u64, per: usize) -> SynthOptions {
    SynthOptions {
        count,
        seed,
        images_per_identity: per,
        ..SynthOptions::default()
    }
}

#[test]
fn written_root_has_celeba_layout_and_formats() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("synth");
    let summary = write_celeba_root(&root, &opts(23, 5, 5), &ProgressBar::hidden()).expect("write");
    assert_eq!(summary.images, 23);
    assert_eq!(summary.identities, 5);
    assert_eq!(summary.split_identities, [3, 1, 1]);
    assert_eq!(summary.split_images.iter().sum::<usize>(), 23);
    // Nothing but the root is left beside it.
    let siblings: Vec<_> = std::fs::read_dir(tmp.path()).expect("list").collect();
    assert_eq!(siblings.len(), 1);

    let names: Vec<String> = (1..=23).map(|i| format!("{i:06}.jpg")).collect();
    let partition = read_lines(&root.join("list_eval_partition.txt"));
    let identity = read_lines(&root.join("identity_CelebA.txt"));
    let five = read_lines(&root.join("list_landmarks_align_celeba.txt"));
    let sixty_eight = read_lines(&root.join("landmarks68.txt"));
    assert_eq!(partition.len(), 23);
    assert_eq!(identity.len(), 23);
    assert_eq!(five[0], "23");
    assert_eq!(
        five[1],
        "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y \
         rightmouth_x rightmouth_y"
    );
    assert_eq!(sixty_eight[0], "23");
    let header: Vec<String> = (1..=68).map(|i| format!("x{i} y{i}")).collect();
    assert_eq!(sixty_eight[1], header.join(" "));
    assert_eq!(five.len(), 25);
    assert_eq!(sixty_eight.len(), 25);

    let mut splits = Vec::new();
    let mut images_of: BTreeMap<u64, usize> = BTreeMap::new();
    let mut split_of: BTreeMap<u64, BTreeSet<u8>> = BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        let p: Vec<&str> = partition[i].split(' ').collect();
        let d: Vec<&str> = identity[i].split(' ').collect();
        assert_eq!((p[0], d[0]), (name.as_str(), name.as_str()));
        let split: u8 = p[1].parse().expect("split");
        let id: u64 = d[1].parse().expect("identity");
        splits.push(split);
        *images_of.entry(id).or_default() += 1;
        split_of.entry(id).or_default().insert(split);

        let f: Vec<&str> = five[i + 2].split(' ').collect();
        assert_eq!(f[0], name);
        let f: Vec<i64> = f[1..].iter().map(|v| v.parse().expect("integer")).collect();
        assert_eq!(f.len(), 10);
        let s: Vec<&str> = sixty_eight[i + 2].split(' ').collect();
        assert_eq!(s[0], name);
        assert_eq!(s.len(), 137);
        assert!(
            s[1..]
                .iter()
                .all(|v| v.split_once('.').is_some_and(|(_, d)| d.len() == 2))
        );
        let values: Vec<f32> = s[1..].iter().map(|v| v.parse().expect("number")).collect();
        let l = Landmarks68::from_flat(&values).expect("136 numbers");
        for (k, p) in l.five_points().iter().enumerate() {
            assert!(
                (p[0] - f[2 * k] as f32).abs() <= 0.51
                    && (p[1] - f[2 * k + 1] as f32).abs() <= 0.51
            );
        }

        let image = image::open(root.join("img_align_celeba").join(name)).expect("decode");
        assert_eq!(image.width(), 178);
        assert_eq!(image.height(), 218);
    }
    // Train first, then validation, then test, as in CelebA; whole identities per split.
    assert!(
        splits.windows(2).all(|w| w[0] <= w[1]),
        "splits out of order: {splits:?}"
    );
    assert!(
        split_of.values().all(|s| s.len() == 1),
        "an identity in two splits"
    );
    assert_eq!(images_of.len(), 5);
    assert_eq!(images_of.values().filter(|&&n| n == 5).count(), 4);

    let source = std::fs::read_to_string(root.join("SOURCE.txt")).expect("SOURCE.txt");
    assert!(
        source.contains("ofhnet data synth --count 23 --seed 5"),
        "{source}"
    );

    // The project's own reader takes it as it takes the real data.
    let read = read_root(&root).expect("read_root");
    assert_eq!(read.entries.len(), 23);
    assert!(read.has_landmarks68 && read.has_partition && read.has_identity);
    let tests = read
        .entries
        .iter()
        .filter(|e| e.partition == Some(Partition::Test))
        .count();
    assert_eq!(tests, summary.split_images[2]);
    assert!(
        read.entries
            .iter()
            .all(|e| e.landmarks68.is_some() && e.landmarks5.is_some())
    );
}

#[test]
fn same_options_write_identical_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write_celeba_root(&a, &opts(6, 9, 3), &ProgressBar::hidden()).expect("write a");
    write_celeba_root(&b, &opts(6, 9, 3), &ProgressBar::hidden()).expect("write b");
    let c = tmp.path().join("c");
    write_celeba_root(&c, &opts(6, 10, 3), &ProgressBar::hidden()).expect("write c");
    for file in [
        "img_align_celeba/000001.jpg",
        "img_align_celeba/000006.jpg",
        "landmarks68.txt",
        "list_eval_partition.txt",
        "identity_CelebA.txt",
    ] {
        let read = |root: &Path| std::fs::read(root.join(file)).expect("read");
        assert!(read(&a) == read(&b), "{file} differs between equal runs");
        if file.ends_with(".jpg") || file == "landmarks68.txt" {
            assert!(read(&a) != read(&c), "{file} is the same for another seed");
        }
    }
}

#[test]
fn refuses_a_non_empty_output_and_fills_an_empty_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let full = tmp.path().join("full");
    std::fs::create_dir(&full).expect("mkdir");
    std::fs::write(full.join("keep.txt"), "mine").expect("write");
    let err =
        write_celeba_root(&full, &opts(2, 0, 1), &ProgressBar::hidden()).expect_err("must refuse");
    assert!(
        matches!(err, Error::OutputExists(ref p) if p == &full),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(full.join("keep.txt")).expect("kept"),
        "mine"
    );

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    write_celeba_root(&empty, &opts(2, 0, 1), &ProgressBar::hidden()).expect("write");
    assert!(empty.join("img_align_celeba/000002.jpg").is_file());
}

#[test]
fn rejects_options_out_of_range() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("x");
    for (o, field) in [
        (opts(0, 0, 10), "count"),
        (opts(5, 0, 0), "images_per_identity"),
        (
            SynthOptions {
                val_fraction: 0.6,
                test_fraction: 0.5,
                ..SynthOptions::default()
            },
            "val_fraction + test_fraction",
        ),
    ] {
        let err = write_celeba_root(&out, &o, &ProgressBar::hidden()).expect_err("invalid");
        assert!(
            matches!(err, Error::InvalidValue { field: ref f, .. } if f == field),
            "{err}"
        );
        assert!(!out.exists());
    }
}
