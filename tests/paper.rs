//! The smoke run of the paper's experiment suite: every file in experiments/paper/ parses,
//! expands, runs to completion on synthetic faces at the tiniest scale
//! (experiments/paper/scales/smoke.yaml) and reports, against one run store, so these files
//! cannot rot. The files share their data, loss, stage and landmark blocks, so the models are
//! trained once and reused across experiments; the counts below check that they still agree.

use std::path::{Path, PathBuf};
use std::process::Command;

use ofhnet::harness::store::Store;

use crate::common::RawSql;

fn paper_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/paper");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("experiments/paper")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn ofhnet(dir: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ofhnet"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run ofhnet");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "ofhnet {args:?} failed:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

#[test]
fn every_paper_experiment_completes_on_synthetic_faces() {
    let files = paper_files();
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for expected in [
        "table1",
        "table2",
        "ablation_losses",
        "occlusion_position",
        "occlusion_size",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let db = dir.join("store.sqlite").display().to_string();
    let smoke = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("experiments/paper/scales/smoke.yaml")
        .display()
        .to_string();
    let store = Store::open(&db).expect("open");
    for (file, name) in files.iter().zip(&names) {
        let file = file.display().to_string();
        let (dry, _) = ofhnet(
            dir,
            &[
                "enqueue",
                &file,
                "--overrides",
                &smoke,
                "--dry-run",
                "--db",
                &db,
            ],
        );
        let expected: usize = dry
            .lines()
            .next()
            .and_then(|l| l.split(": ").nth(1))
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{dry}"));
        assert!(expected >= 2, "{name}: {dry}");
        let (stdout, _) = ofhnet(dir, &["run", &file, "--overrides", &smoke, "--db", &db]);
        assert!(
            stdout.contains(&format!("{expected} runs: {expected} done")),
            "{name}: {stdout}"
        );
        // The experiment remembers how it was enqueued, for the report's provenance.
        let (status, _) = ofhnet(dir, &["status", "--db", &db]);
        assert!(status.contains("--overrides"), "{status}");
        // The report of each: tables, charts and the page, without face images.
        let out = dir.join("reports").join(name);
        ofhnet(
            dir,
            &[
                "report",
                name,
                "--db",
                &db,
                "--no-face-images",
                "--resamples",
                "200",
            ],
        );
        assert!(out.join("index.html").is_file(), "{name}: no index.html");
        assert!(
            !out.join("grids").exists(),
            "{name}: grids despite --no-face-images"
        );
        // Runs that evaluate another experiment's models draw that training's curves.
        let page = std::fs::read_to_string(out.join("index.html")).expect("page");
        assert!(!page.contains("none stored (done)"), "{name}: {page}");
    }

    // Table 1: seven methods, NRMSE and IoU from the evaluation detector for each.
    let table1: Vec<String> = store
        .query_strings(
            "SELECT DISTINCT m.method FROM metrics m JOIN runs r ON r.key = m.run_key \
             WHERE r.experiment = 'table1' ORDER BY m.method",
        )
        .expect("methods");
    assert_eq!(
        table1,
        [
            "in_bicubic",
            "in_edsr",
            "in_fsrcnn",
            "in_ma",
            "in_urdgn",
            "in_vdsr",
            "ofhnet"
        ]
    );
    let missing = store
        .query_strings("SELECT COUNT(*) FROM metrics WHERE nrmse IS NULL OR iou IS NULL")
        .expect("count");
    assert_eq!(missing, ["0"]);
    // Every file scores with the flip self-ensemble, and the tables and the page say so.
    let caption = std::fs::read_to_string(dir.join("reports/table1/tables/table1_random.md"))
        .expect("table1_random.md");
    assert!(
        caption.contains("random occlusion, flip self-ensemble; mean"),
        "{caption}"
    );
    let page = std::fs::read_to_string(dir.join("reports/table1/index.html")).expect("page");
    assert!(page.contains("Every output is a flip self-ensemble"));
    assert!(dir.join("reports/table2/tables/table2_random.md").is_file());
    assert!(
        dir.join("reports/occlusion_size/charts/size_psnr.svg")
            .is_file()
    );

    // Shared models of the five files of the suite: three InpaintNets (seed 0's, and one for
    // each of OFHNet's seeds 1 and 2: a seed is the whole pipeline's), the two landmark networks,
    // and fourteen stage-2 models (table1's VDSR, FSRCNN, URDGN, EDSR's and OFHNet's three seeds
    // each, and the ablation's five loss sets: its UpsampleNet is narrower than table1's, so its
    // L2 + semantic run is not table1's OFHNet); every other learned run reuses one of them.
    // More means the files' blocks drifted apart. (tune.yaml, the recipe sweep, trains stage-2 models of its own by design;
    // at this scale it shares stage 1 and the landmark networks.)
    let kinds = store
        .query_strings(
            "SELECT s.kind || '=' || COUNT(*) FROM shared s JOIN runs r ON r.key = s.owner \
             WHERE r.experiment <> 'tune' GROUP BY s.kind ORDER BY s.kind",
        )
        .expect("shared");
    assert_eq!(kinds, ["landmarks=2", "stage1=3", "stage2=14"]);
    let tune = store
        .query_strings("SELECT COUNT(*) FROM shared WHERE kind <> 'stage2'")
        .expect("shared");
    assert_eq!(
        tune,
        ["5"],
        "tune.yaml shares stage 1 and the landmark networks"
    );
    let reused = store
        .query_strings("SELECT COUNT(*) FROM stages WHERE stage = 'stage2' AND reused = 1")
        .expect("reused");
    // table2: 2, occlusion_position: 5, occlusion_size: 5.
    assert_eq!(reused, ["12"]);

    // reports/paper/README.md's measured section is filled by scripts/paper_readme.py from these
    // reports' CSV tables: every experiment's table appears, with the paper's numbers beside
    // Tables 1 and 2, and the paired verdicts are stated.
    // Every method paired against OFHNet, as reports/paper/README.md shows it.
    ofhnet(
        dir,
        &[
            "report",
            "table1",
            "--db",
            &db,
            "--no-face-images",
            "--resamples",
            "200",
            "--reference",
            "ofhnet",
            "--out",
            "reports/table1_vs_ofhnet",
        ],
    );
    let readme = dir.join("reports/README.md");
    std::fs::write(
        &readme,
        "# head\n\n<!-- measured:begin -->\nold\n<!-- measured:end -->\n\ntail\n",
    )
    .expect("readme");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/paper_readme.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--reports")
        .arg(dir.join("reports"))
        .output()
        .expect("python3 runs scripts/paper_readme.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&readme).expect("read");
    assert!(
        text.starts_with("# head\n") && text.ends_with("\ntail\n"),
        "{text}"
    );
    assert!(
        !text.contains("\nold\n") && !text.contains("Not finished"),
        "{text}"
    );
    for needle in [
        "### Table 1: random occlusion",
        "| IN+Ma (position-patch) |",
        "| OFHNet |",
        "| 20.44 |",
        "### Table 2: random occlusion",
        "| 13.61 |",
        "- OFHNet - IN+bicubic, PSNR:",
        "- OFHNet - IN+URDGN, SSIM (higher is better):",
        "### Every method against OFHNet, paired",
        "| Method | ΔPSNR vs OFHNet | ΔSSIM vs OFHNet | ΔNRMSE vs OFHNet | ΔIoU vs OFHNet |",
        "- Better than OFHNet with a paired 95% interval that excludes zero:",
        "### Loss ablation",
        "### Occlusion position (Fig. 8)",
        "| Method | position bl | position br | position tl | position tr |",
        "### Occlusion size (Figs. 9-10)",
        "| Method | size 2 | size 4 | size 6 | size 8 | size 10 |",
        "### Landmark networks",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    // Rows are the reports' numbers: OFHNet's PSNR cell equals the CSV's mean at two decimals.
    let csv =
        std::fs::read_to_string(dir.join("reports/table1/tables/table1_random.csv")).expect("csv");
    let psnr: f64 = csv
        .lines()
        .find(|l| l.starts_with("ofhnet,"))
        .and_then(|l| l.split(',').nth(3))
        .and_then(|v| v.parse().ok())
        .expect("ofhnet psnr in the csv");
    assert!(
        text.contains(&format!("| OFHNet | {psnr:.2} [")),
        "{psnr:.2}: {text}"
    );
}
