//! Reports: table values against a direct computation from the inserted metric rows, the
//! bootstrap intervals, partial experiments, and a whole report of a real (tiny) experiment,
//! opened in headless Chromium.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ofhnet::evaluate::Scores;
use ofhnet::harness::experiment::parse;
use ofhnet::harness::store::{ScoredImage, StageRow, Store, WorkerInfo};
use ofhnet::harness::sweep::expand;
use ofhnet::metrics::bootstrap::{BootstrapConfig, Resample, bootstrap_mean};
use ofhnet::metrics::{Metric, Values};
use ofhnet::report;
use ofhnet::report::tables::{TABLE1, compute, missing_cells, text_table};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::synthetic_dataset;

fn ofhnet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ofhnet"))
}

const N_IMAGES: usize = 40;

/// An experiment of three methods (so four table rows with IN+bicubic) over two seeds and two
/// protocols. Nothing trains: the test writes the metric rows itself, for two of the methods.
const TABLES_YAML: &str = "name: tables\n\
data: {prepared: /nonexistent}\n\
evaluation: {protocols: [random, size:4]}\n\
seeds: [0, 1]\n\
reference: in_bicubic\n\
sweep:\n\
\x20 grid:\n\
\x20   method: [{type: ofhnet, preset: tiny}, {type: in_vdsr, preset: tiny}, {type: in_fsrcnn}]\n";

/// The metric values the test inserts: `(seed, protocol, method)` -> per-image scores.
type Inserted = HashMap<(u64, String, String), Vec<Scores>>;

fn random_scores(rng: &mut ChaCha8Rng, method: &str, protocol: &str, offset: f64) -> Vec<Scores> {
    (0..N_IMAGES)
        .map(|i| {
            let base = 20.0 + (i as f64) * 0.05;
            let mut values: Values = [
                (Metric::Psnr, base + offset + rng.random_range(-1.0..1.0)),
                (
                    Metric::Ssim,
                    0.5 + offset / 10.0 + rng.random_range(-0.05..0.05),
                ),
                (
                    Metric::PsnrY,
                    base + 1.0 + offset + rng.random_range(-1.0..1.0),
                ),
                (Metric::SsimY, 0.6 + rng.random_range(-0.05..0.05)),
                (Metric::Nrmse, 5.0 - offset + rng.random_range(-0.5..0.5)),
                (Metric::Iou, 0.6 + rng.random_range(-0.1..0.1)),
            ]
            .into_iter()
            .collect();
            // Any metric added later gets values too, so that these tests cover it unchanged.
            for m in Metric::ALL {
                if values.get(m).is_none() {
                    values.set(m, Some(1.0 + offset + rng.random_range(-0.5..0.5)));
                }
            }
            Scores {
                name: format!("{i:06}.jpg"),
                method: method.into(),
                occlusion: protocol.into(),
                values,
            }
        })
        .collect()
}

/// Enqueues [`TABLES_YAML`] and writes metric rows for every run and protocol of OFHNet and
/// VDSR except the VDSR run of seed 1 under size:4 (left missing on purpose); the FSRCNN runs
/// stay queued.
fn tables_store(dir: &Path) -> (Store, Inserted) {
    let db = dir.join("store.sqlite");
    let store = Store::open(&db.display().to_string()).expect("open");
    let exp = parse(TABLES_YAML, Path::new("tables.yaml")).expect("parse");
    let runs = expand(&exp).expect("expand");
    store.enqueue(&exp, "tables.yaml", &runs).expect("enqueue");
    let worker = WorkerInfo {
        id: "w".into(),
        host: "test".into(),
        device: "cpu".into(),
        git_commit: Some("0123456789abcdef".into()),
        git_dirty: Some(false),
        ..WorkerInfo::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut inserted = Inserted::new();
    // IN+bicubic is the same behind one stage 1: one set of values per (seed, protocol).
    let mut bicubic: HashMap<(u64, String), Vec<Scores>> = HashMap::new();
    for _ in 0..4 {
        let run = store.claim(&worker, None).expect("claim").expect("a run");
        let spec = runs.iter().find(|r| r.key == run.key).expect("spec");
        let method = spec.config.method.label();
        store
            .record_stage(
                &run.key,
                &StageRow {
                    stage: "stage1".into(),
                    status: ofhnet::harness::store::StageStatus::Done,
                    shared_key: Some(format!("stage1-seed{}", spec.seed)),
                    ..StageRow::default()
                },
            )
            .expect("stage");
        for protocol in ["random", "size:4"] {
            if method == "in_vdsr" && spec.seed == 1 && protocol == "size:4" {
                continue;
            }
            let offset = if method == "ofhnet" { 0.8 } else { 0.4 };
            let own = random_scores(&mut rng, method, protocol, offset);
            let bic = bicubic
                .entry((spec.seed, protocol.to_string()))
                .or_insert_with(|| random_scores(&mut rng, "in_bicubic", protocol, 0.0))
                .clone();
            let rows: Vec<ScoredImage> = own
                .iter()
                .chain(&bic)
                .map(|s| (s.name[..6].parse::<i64>().expect("index"), None, s.clone()))
                .collect();
            store
                .write_metrics(&run.key, protocol, &rows, 1.0)
                .expect("metrics");
            inserted.insert((spec.seed, protocol.into(), method.into()), own);
            inserted.insert((spec.seed, protocol.into(), "in_bicubic".into()), bic);
        }
        if !(method == "in_vdsr" && spec.seed == 1) {
            store
                .finish(&run.key, &worker.id, Path::new("x"), 1.0, 1.0)
                .expect("finish");
        }
    }
    (store, inserted)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn metric(s: &Scores, m: Metric) -> f64 {
    s.get(m).expect("every metric")
}

#[test]
fn table_values_equal_a_direct_computation_from_the_metric_rows() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (store, inserted) = tables_store(tmp.path());
    let data = report::load(&store, "tables", None).expect("load");
    let labels: Vec<&str> = data.entities.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["ofhnet", "in_vdsr", "in_fsrcnn", "in_bicubic"]);
    assert_eq!(data.entities[data.reference].label, "in_bicubic");
    assert!(
        data.columns.is_empty(),
        "the method axis is the method column"
    );
    let config = BootstrapConfig {
        resamples: 2000,
        ..BootstrapConfig::default()
    };
    let tables = compute(&data, &config).expect("compute");

    // Direct: per seed the mean over images, then the mean (and sd) over seeds.
    let values = |method: &str, seed: u64, protocol: &str| -> Option<&Vec<Scores>> {
        inserted.get(&(seed, protocol.into(), method.into()))
    };
    let mut checked = 0;
    for (e, entity) in data.entities.iter().enumerate() {
        if entity.method == "in_fsrcnn" {
            assert!(tables.get(e, "random").is_none(), "no rows, no cells");
            continue;
        }
        for protocol in ["random", "size:4"] {
            let seeds: Vec<u64> = [0u64, 1]
                .into_iter()
                .filter(|&s| values(&entity.method, s, protocol).is_some())
                .collect();
            for m in Metric::ALL {
                let cell = tables.cell(e, protocol, m).expect("cell");
                let per_seed: Vec<f64> = seeds
                    .iter()
                    .map(|&s| {
                        let v: Vec<f64> = values(&entity.method, s, protocol)
                            .expect("values")
                            .iter()
                            .map(|x| metric(x, m))
                            .collect();
                        mean(&v)
                    })
                    .collect();
                let expected = mean(&per_seed);
                assert!(
                    (cell.mean - expected).abs() < 1e-9,
                    "{} {protocol} {m:?}: {} vs {expected}",
                    entity.label,
                    cell.mean
                );
                assert_eq!(cell.seeds, seeds.len());
                assert_eq!(cell.images, N_IMAGES);
                assert!(cell.lower < cell.mean && cell.mean < cell.upper, "{cell:?}");
                match seeds.len() {
                    2 => {
                        let sd = (per_seed[0] - per_seed[1]).abs() / 2f64.sqrt();
                        let got = cell.seed_sd.expect("sd over two seeds");
                        assert!((got - sd).abs() < 1e-9, "sd {got} vs {sd}");
                    }
                    _ => assert_eq!(cell.seed_sd, None),
                }
                // The paired difference: per image, the mean over seeds of each, subtracted.
                if entity.method == "in_bicubic" {
                    assert!(cell.diff.is_none(), "the reference has no difference");
                } else {
                    let per_image = |method: &str, seeds: &[u64]| -> Vec<f64> {
                        (0..N_IMAGES)
                            .map(|i| {
                                mean(
                                    &seeds
                                        .iter()
                                        .map(|&s| {
                                            metric(&values(method, s, protocol).expect("v")[i], m)
                                        })
                                        .collect::<Vec<_>>(),
                                )
                            })
                            .collect()
                    };
                    let a = per_image(&entity.method, &seeds);
                    let b = per_image("in_bicubic", &[0, 1]);
                    let expected: f64 =
                        mean(&a.iter().zip(&b).map(|(x, y)| x - y).collect::<Vec<_>>());
                    let diff = cell.diff.expect("diff");
                    assert!(
                        (diff.mean - expected).abs() < 1e-9,
                        "{diff:?} vs {expected}"
                    );
                    assert_eq!(diff.n, N_IMAGES);
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 3 * 2 * Metric::ALL.len());

    // A partly finished experiment: the unfinished runs and the cells without rows are named,
    // and the table says `missing` rather than inventing a value.
    let unfinished = data.unfinished();
    assert_eq!(unfinished.len(), 3, "{unfinished:?}");
    assert!(unfinished[0].contains("in_vdsr") && unfinished[0].contains("running"));
    assert!(unfinished[1].contains("in_fsrcnn") && unfinished[1].contains("queued"));
    let missing = missing_cells(&data, &tables);
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert!(
        missing.iter().all(|m| m.starts_with("in_fsrcnn under ")),
        "{missing:?}"
    );
    let text = text_table(&data, &tables, &TABLE1, "random");
    assert_eq!(text.rows.len(), 4);
    assert_eq!(text.rows[2][1], "missing", "{:?}", text.rows[2]);
    assert!(text.rows[3][2].contains("reference"), "{:?}", text.rows[3]);
}

#[test]
fn bootstrap_intervals_are_stable_and_cover_the_true_difference() {
    // Synthetic rows: OFHNet = IN+bicubic + 0.3 dB + noise, over 400 images.
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&tmp.path().join("s.sqlite").display().to_string()).expect("open");
    let yaml = "name: boot\ndata: {prepared: /nonexistent}\nmethod: {type: ofhnet, preset: tiny}\n";
    let exp = parse(yaml, Path::new("boot.yaml")).expect("parse");
    let runs = expand(&exp).expect("expand");
    store.enqueue(&exp, "boot.yaml", &runs).expect("enqueue");
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let true_difference = 0.3;
    let rows: Vec<ScoredImage> = (0..400)
        .flat_map(|i| {
            let bic = 20.0 + rng.random_range(-3.0..3.0);
            let ofh = bic + true_difference + rng.random_range(-0.5..0.5);
            [("ofhnet", ofh), ("in_bicubic", bic)].map(|(method, psnr)| {
                (
                    i as i64,
                    None,
                    Scores {
                        name: format!("{i:06}.jpg"),
                        method: method.into(),
                        occlusion: "random".into(),
                        values: [
                            (Metric::Psnr, psnr),
                            (Metric::Ssim, 0.5),
                            (Metric::PsnrY, psnr),
                            (Metric::SsimY, 0.5),
                        ]
                        .into_iter()
                        .collect(),
                    },
                )
            })
        })
        .collect();
    store
        .write_metrics(&runs[0].key, "random", &rows, 1.0)
        .expect("metrics");
    let data = report::load(&store, "boot", Some("in_bicubic")).expect("load");
    let config = BootstrapConfig::default();
    let a = compute(&data, &config).expect("compute");
    let b = compute(&data, &config).expect("compute again");
    let cell = |t: &ofhnet::report::tables::Tables| {
        *t.cell(0, "random", Metric::Psnr).expect("ofhnet cell")
    };
    assert_eq!(cell(&a), cell(&b), "same seed, same interval");
    let diff = cell(&a).diff.expect("diff");
    assert!(
        diff.lower < true_difference && true_difference < diff.upper,
        "{diff:?}"
    );
    assert!(diff.upper - diff.lower < 0.1, "{diff:?}");
    let other = compute(&data, &BootstrapConfig { seed: 99, ..config }).expect("another seed");
    let d2 = cell(&other).diff.expect("diff");
    assert_ne!(d2.lower, diff.lower, "the seed drives the resampling");
    assert!((d2.lower - diff.lower).abs() < 0.01 && (d2.upper - diff.upper).abs() < 0.01);
    // No NRMSE rows: Table 2 has no values and is not written.
    assert!(a.cell(0, "random", Metric::Nrmse).is_none());
}

/// `--resample identities`: 20 people of 10 faces each, with an effect per person in OFHNet's
/// gain. The first person's rows have no stored identity: the report refuses, naming them, until
/// an identity file fills them in. The paired interval is then the bootstrap of the per-person
/// mean differences (equal group sizes), wider than the one over faces, around the same mean.
#[test]
fn identity_resampling_draws_whole_people_and_names_faces_without_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("s.sqlite");
    let store = Store::open(&db.display().to_string()).expect("open");
    let yaml = "name: people\ndata: {prepared: /nonexistent}\nmethod: {type: ofhnet, preset: tiny}\n\
                reference: in_bicubic\n";
    let exp = parse(yaml, Path::new("people.yaml")).expect("parse");
    let runs = expand(&exp).expect("expand");
    store.enqueue(&exp, "people.yaml", &runs).expect("enqueue");
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let effect: Vec<f64> = (0..20).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut differences = vec![0.0; 200];
    let rows: Vec<ScoredImage> = (0..200usize)
        .flat_map(|i| {
            let bic = 20.0 + rng.random_range(-3.0..3.0);
            let ofh = bic + 0.3 + effect[i / 10] + rng.random_range(-0.2..0.2);
            differences[i] = ofh - bic;
            let identity = (i >= 10).then_some(1000 + (i / 10) as i64);
            [("ofhnet", ofh), ("in_bicubic", bic)].map(|(method, psnr)| {
                let values: Values = [
                    (Metric::Psnr, psnr),
                    (Metric::Ssim, 0.5),
                    (Metric::PsnrY, psnr),
                    (Metric::SsimY, 0.5),
                ]
                .into_iter()
                .collect();
                let name = format!("{i:06}.jpg");
                let scores = Scores {
                    name,
                    method: method.into(),
                    occlusion: "random".into(),
                    values,
                };
                (i as i64, identity, scores)
            })
        })
        .collect();
    store
        .write_metrics(&runs[0].key, "random", &rows, 1.0)
        .expect("metrics");
    let mut data = report::load(&store, "people", None).expect("load");
    let config = BootstrapConfig {
        resamples: 2000,
        resample: Resample::Identities,
        ..BootstrapConfig::default()
    };
    let err = compute(&data, &config).expect_err("faces without identity");
    let text = err.to_string();
    assert!(
        text.contains("10 faces of `ofhnet` under `random`") && text.contains("--identities"),
        "{text}"
    );
    let first: HashMap<String, u64> = (0..10).map(|i| (format!("{i:06}.jpg"), 1000)).collect();
    assert_eq!(data.fill_identities(&first).expect("fill"), 20);
    let people = compute(&data, &config).expect("compute");
    let faces = compute(
        &data,
        &BootstrapConfig {
            resample: Resample::Images,
            ..config
        },
    )
    .expect("compute");
    let by_person = people
        .cell(0, "random", Metric::Psnr)
        .expect("cell")
        .diff
        .expect("diff");
    let by_face = faces
        .cell(0, "random", Metric::Psnr)
        .expect("cell")
        .diff
        .expect("diff");
    let person_means: Vec<f64> = differences
        .chunks(10)
        .map(|c| c.iter().sum::<f64>() / 10.0)
        .collect();
    let expected = bootstrap_mean(&person_means, &config).expect("over people");
    assert!((by_person.mean - by_face.mean).abs() < 1e-9);
    assert!(
        (by_person.lower - expected.lower).abs() < 1e-5
            && (by_person.upper - expected.upper).abs() < 1e-5,
        "{by_person:?} vs {expected:?}"
    );
    assert!(
        by_person.upper - by_person.lower > 2.0 * (by_face.upper - by_face.lower),
        "{by_person:?} vs {by_face:?}"
    );

    // The command line: the identity file fills the same rows, and the tables say what they
    // resampled.
    let file = tmp.path().join("identity_CelebA.txt");
    let lines: String = (0..10).map(|i| format!("{i:06}.jpg 1000\n")).collect();
    std::fs::write(&file, lines).expect("write");
    let out_dir = tmp.path().join("report");
    let out = ofhnet()
        .args([
            "report",
            "people",
            "--resample",
            "identities",
            "--identities",
        ])
        .arg(&file)
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("20 metric rows took their identity"),
        "{stdout}"
    );
    let table =
        std::fs::read_to_string(out_dir.join("tables").join("table1_random.md")).expect("table");
    assert!(table.contains("resampling identities"), "{table}");
}

fn count_color(image: &image::RgbImage, rgb: (u8, u8, u8), tolerance: i32) -> usize {
    image
        .pixels()
        .filter(|p| {
            (p[0] as i32 - rgb.0 as i32).abs() <= tolerance
                && (p[1] as i32 - rgb.1 as i32).abs() <= tolerance
                && (p[2] as i32 - rgb.2 as i32).abs() <= tolerance
        })
        .count()
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn chromium_command(profile: &Path) -> Command {
    let mut c = Command::new(chromium().expect("chromium"));
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--virtual-time-budget=10000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// A sweep over the adversarial weight with every protocol kind and an evaluation detector,
/// run for real (tiny), then reported.
#[test]
fn report_of_a_real_experiment_has_every_file_and_renders_in_chromium() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let yaml = format!(
        "name: rep\n\
         description: a tiny sweep for the report test\n\
         data: {{prepared: '{}'}}\n\
         method: {{type: ofhnet, preset: tiny}}\n\
         losses: {{inpaint_l2: {{weight: 1.0}}, l2: {{weight: 1.0}}}}\n\
         stages:\n\
         \x20 stage1: {{steps: 4, batch_size: 4, checkpoint_every: 2, log_every: 1}}\n\
         \x20 stage2: {{steps: 6, batch_size: 2, checkpoint_every: 3, log_every: 1}}\n\
         landmarks:\n\
         \x20 eval: {{role: eval, seed: 2, steps: 4, batch_size: 8}}\n\
         evaluation: {{protocols: [random, position:tl, position:br, size:4, size:8], limit: 8, batch_size: 8}}\n\
         reference: in_bicubic\n\
         sweep:\n\
         \x20 grid: {{losses.adversarial.weight: [0.0, 0.001]}}\n",
        synthetic_dataset().display()
    );
    let file = tmp.path().join("rep.yaml");
    std::fs::write(&file, yaml).expect("write");
    let db = tmp.path().join("store.sqlite");
    let results = tmp.path().join("results");
    let run = ofhnet()
        .args(["run"])
        .arg(&file)
        .arg("--db")
        .arg(&db)
        .arg("--results")
        .arg(&results)
        .output()
        .expect("ofhnet run");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = tmp.path().join("report");
    let rep = ofhnet()
        .args(["report", "rep", "--resamples", "500", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("ofhnet report");
    let stdout = String::from_utf8_lossy(&rep.stdout);
    assert!(
        rep.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&rep.stderr)
    );

    let unknown = ofhnet()
        .args(["report", "nosuch", "--db"])
        .arg(&db)
        .output()
        .expect("ofhnet report");
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success());
    assert!(
        err.contains("no experiment `nosuch`") && err.contains("rep"),
        "{err}"
    );

    let protocols = ["random", "position-tl", "position-br", "size-4", "size-8"];
    let mut expected: Vec<String> = vec!["index.html".into(), "tables/landmark_networks.md".into()];
    for p in protocols {
        for t in ["table1", "table2", "metrics"] {
            for ext in ["md", "csv", "tex"] {
                expected.push(format!("tables/{t}_{p}.{ext}"));
            }
        }
        expected.push(format!("grids/grid_{p}.png"));
        for m in ["psnr", "ssim"] {
            for ext in ["png", "svg"] {
                expected.push(format!("charts/bars_{p}_{m}.{ext}"));
            }
        }
    }
    for m in ["psnr", "ssim"] {
        for ext in ["png", "svg"] {
            expected.push(format!("charts/size_{m}.{ext}"));
            expected.push(format!("charts/position_{m}.{ext}"));
        }
    }
    for run in [
        "adversarial.weight=0.0_seed=0",
        "adversarial.weight=0.001_seed=0",
    ] {
        for ext in ["png", "svg"] {
            expected.push(format!("charts/curves_{run}.{ext}"));
        }
    }
    for f in &expected {
        let p = out.join(f);
        assert!(
            p.is_file() && p.metadata().map(|m| m.len()).unwrap_or(0) > 0,
            "{f} missing; report said:\n{stdout}"
        );
    }
    // The landmark networks, trained and measured on the clean test faces.
    let lm = std::fs::read_to_string(out.join("tables/landmark_networks.md")).expect("md");
    let detector = lm
        .lines()
        .find(|l| l.starts_with("| evaluation detector |"))
        .unwrap_or_else(|| panic!("{lm}"));
    assert!(detector.contains("| done |"), "{lm}");
    let nrmse: f64 = detector
        .split('|')
        .nth(9)
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or_else(|| panic!("no NRMSE: {detector}"));
    assert!(nrmse.is_finite() && nrmse > 0.0, "{detector}");
    // The tables hold three rows with numbers in every Table 1 and Table 2 cell.
    let md = std::fs::read_to_string(out.join("tables/table1_random.md")).expect("md");
    assert!(
        md.contains("| ofhnet | 0.0 |") && md.contains("| in_bicubic | · |"),
        "{md}"
    );
    assert!(!md.contains("missing"), "{md}");
    let t2 = std::fs::read_to_string(out.join("tables/table2_size-8.csv")).expect("csv");
    assert_eq!(t2.lines().count(), 4, "{t2}");
    assert!(
        t2.lines()
            .next()
            .expect("header")
            .contains("nrmse_diff_lower")
    );
    // The grid has a column per method plus occluded, InpaintNet and ground truth, a row per
    // kept face.
    let grid = image::open(out.join("grids/grid_random.png"))
        .expect("grid")
        .into_rgb8();
    assert_eq!(grid.width(), 6 + 6 * (128 + 6));
    assert_eq!(grid.height(), 46 + 6 * (128 + 6) + 6);

    // For faces whose licence forbids redistribution: no grids, and the page says why.
    let public = tmp.path().join("public");
    let rep = ofhnet()
        .args([
            "report",
            "rep",
            "--resamples",
            "200",
            "--no-face-images",
            "--db",
        ])
        .arg(&db)
        .arg("--out")
        .arg(&public)
        .output()
        .expect("ofhnet report --no-face-images");
    assert!(rep.status.success());
    assert!(!public.join("grids").exists());
    let page = std::fs::read_to_string(public.join("index.html")).expect("page");
    assert!(page.contains("--no-face-images") && !page.contains("grids/"));
    // Written again over an older report: what this report does not write any more (the faces
    // of a report with face images, a chart of a run no longer in the experiment) is removed
    // from the folders the report owns; the user's own files beside them stay.
    let written: Vec<_> = std::fs::read_dir(public.join("charts"))
        .expect("charts")
        .map(|e| e.expect("entry").file_name())
        .collect();
    std::fs::create_dir_all(public.join("grids/random")).expect("mkdir");
    std::fs::write(public.join("grids/random/face.png"), b"old face").expect("write");
    std::fs::write(public.join("charts/curves_old_run.png"), b"old chart").expect("write");
    std::fs::write(public.join("notes.txt"), b"mine").expect("write");
    let rep = ofhnet()
        .args([
            "report",
            "rep",
            "--resamples",
            "200",
            "--no-face-images",
            "--db",
        ])
        .arg(&db)
        .arg("--out")
        .arg(&public)
        .output()
        .expect("ofhnet report over an older one");
    assert!(rep.status.success());
    assert!(!public.join("grids").exists(), "old face images left");
    assert!(!public.join("charts/curves_old_run.png").exists());
    assert!(
        public.join("notes.txt").is_file(),
        "a user's file was removed"
    );
    for name in &written {
        assert!(public.join("charts").join(name).is_file(), "{name:?}");
    }
    assert!(String::from_utf8_lossy(&rep.stdout).contains("removed 2 files"));

    // The same store and options give the same numbers, to the last digit, on every run.
    let again = tmp.path().join("again");
    let rep = ofhnet()
        .args([
            "report",
            "rep",
            "--resamples",
            "500",
            "--no-face-images",
            "--db",
        ])
        .arg(&db)
        .arg("--out")
        .arg(&again)
        .output()
        .expect("ofhnet report again");
    assert!(rep.status.success());
    let mut compared = 0;
    for entry in std::fs::read_dir(out.join("tables")).expect("tables") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "csv") {
            let name = path.file_name().expect("name");
            let first = std::fs::read(&path).expect("first");
            let second = std::fs::read(again.join("tables").join(name)).expect("second");
            assert!(
                first == second,
                "{} differs between two reports",
                path.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 10, "{compared} csv tables compared");

    // Headless Chromium: every picture decodes, the tables are there, and the screenshot shows
    // the table headers and the charts' colours.
    let Some(_) = chromium() else {
        if std::env::var_os("OFHNET_REQUIRE_CHROMIUM").is_some() {
            panic!("OFHNET_REQUIRE_CHROMIUM is set but /usr/bin/chromium is missing");
        }
        eprintln!("skipped the Chromium check: install Debian's chromium (.ci/run does)");
        return;
    };
    let page = format!("file://{}", out.join("index.html").display());
    let dom = chromium_command(&tmp.path().join("profile1"))
        .arg("--dump-dom")
        .arg(&page)
        .output()
        .expect("chromium --dump-dom");
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom_text.contains("data-broken=\"0\""),
        "broken pictures or no load event: {}",
        &dom_text[..dom_text.len().min(400)]
    );
    let images = expected.iter().filter(|f| f.ends_with(".png")).count();
    assert!(
        dom_text.contains(&format!("data-images=\"{images}\"")),
        "expected {images} pictures on the page"
    );
    assert!(
        dom_text.contains("data-tables=\"10\""),
        "5 protocols x 2 tables"
    );
    let shot = tmp.path().join("shot.png");
    let status = chromium_command(&tmp.path().join("profile2"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1400,6000")
        .arg(&page)
        .output()
        .expect("chromium --screenshot");
    assert!(
        shot.is_file(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let shot = image::open(&shot).expect("screenshot").into_rgb8();
    let header = count_color(&shot, ofhnet::report::html::HEADER_RGB, 2);
    assert!(header > 5_000, "table headers: {header} pixels");
    let line = count_color(&shot, ofhnet::report::charts::PALETTE[0], 12);
    let line2 = count_color(&shot, ofhnet::report::charts::PALETTE[1], 12);
    assert!(
        line > 500 && line2 > 500,
        "chart colours: {line}, {line2} pixels"
    );
    if let Ok(keep) = std::env::var("OFHNET_KEEP_REPORT") {
        let _ = std::fs::create_dir_all(&keep);
        let _ = Command::new("cp").arg("-r").arg(&out).arg(&keep).status();
        let _ = shot.save(Path::new(&keep).join("screenshot.png"));
    }
}

/// `ofhnet export tensorboard` read back by TensorBoard's own event reader: every curve point
/// and final metric of the store, once, also after a second export into the same directory.
#[test]
fn tensorboard_export_reads_back_in_tensorboards_reader() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (store, _) = tables_store(tmp.path());
    let runs = store
        .runs(Some("tables"), ofhnet::harness::store::Versions::Current)
        .expect("runs");
    let curves: Vec<(i64, String, f64)> = vec![
        (1, "l2".into(), 0.5),
        (2, "l2".into(), 0.25),
        (200, "val_psnr".into(), 21.5),
        (400, "val_psnr".into(), 22.125),
    ];
    store
        .write_curves(&runs[0].key, "stage2", &curves)
        .expect("curves");
    store
        .write_curves(&runs[0].key, "stage1", &[(5, "l2".into(), 0.125)])
        .expect("curves");

    // What the files must hold, from the store.
    let mut want: HashMap<String, HashMap<String, Vec<(i64, f32)>>> = HashMap::new();
    for run in &runs {
        let dir = ofhnet::interop::tensorboard::run_dir_name(run);
        let mut tags: HashMap<String, Vec<(i64, f32)>> = HashMap::new();
        let points = store.curves(&run.key).expect("curves");
        let last = points
            .iter()
            .filter(|p| p.0 == "stage2")
            .map(|p| p.1)
            .max()
            .unwrap_or(0);
        for (stage, step, term, value) in points {
            tags.entry(format!("{stage}/{term}"))
                .or_default()
                .push((step, value as f32));
        }
        for m in store.metric_means(&run.key).expect("means") {
            for metric in Metric::ALL {
                if let Some(v) = m.values.get(metric) {
                    let tag = format!("final/{}/{}/{}", m.protocol, m.method, metric.name());
                    tags.entry(tag).or_default().push((last, v as f32));
                }
            }
        }
        if !tags.is_empty() {
            want.insert(dir, tags);
        }
    }
    assert!(want.len() >= 2 && want.values().any(|t| t.contains_key("stage2/val_psnr")));

    let out = tmp.path().join("tb");
    for _ in 0..2 {
        let written = ofhnet::interop::tensorboard::export(&store, "tables", &out).expect("export");
        assert_eq!(written.len(), want.len());
    }
    let Some(py) = crate::common::python_with("tensorboard") else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tensorboard_read.py");
    let read = Command::new(py)
        .arg(script)
        .arg(&out)
        .output()
        .expect("python");
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let got: HashMap<String, HashMap<String, Vec<(i64, f32)>>> =
        serde_json::from_slice(&read.stdout).expect("json");
    assert_eq!(got, want);
}
