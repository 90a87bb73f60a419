//! The `ofhnet` binary end to end: kill and resume, hallucinate, and error messages.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::synthetic_dataset;

fn ofhnet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ofhnet"))
}

fn checkpoint_step(model: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(model.join("stage1/checkpoint/state.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["step"].as_u64().map(|s| s as usize)
}

#[test]
fn sigkill_then_resume_continues_from_the_checkpoint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("config.yaml");
    std::fs::write(
        &config,
        "preset: tiny\nstage1: {steps: 400, batch_size: 16, checkpoint_every: 5, log_every: 1}\n\
         stage2: {steps: 2, batch_size: 2}\n",
    )
    .expect("config");
    let model = tmp.path().join("model");
    let data = synthetic_dataset();
    let args = |resume: bool| {
        let mut c = ofhnet();
        c.args(["train", "--data"])
            .arg(data)
            .arg("--out")
            .arg(&model)
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if resume {
            c.arg("--resume");
        }
        c
    };
    let mut child = args(false).spawn().expect("spawn");
    let started = Instant::now();
    while checkpoint_step(&model).unwrap_or(0) < 10 {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no checkpoint written"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("SIGKILL"); // std's kill() is SIGKILL on Unix
    child.wait().expect("wait");
    let at_kill = checkpoint_step(&model).expect("a checkpoint survives the kill");
    assert!(at_kill < 400, "killed before the end");

    let out = args(true).output().expect("resume");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected = format!("stage 1: {} steps this run (400 in all)", 400 - at_kill);
    assert!(
        stdout.contains(&expected),
        "expected `{expected}` in:\n{stdout}"
    );

    // Every step is logged exactly once.
    let log = std::fs::read_to_string(model.join("train_log.csv")).expect("log");
    let steps: Vec<usize> = log
        .lines()
        .filter(|l| l.starts_with("stage1,") && l.contains(",inpaint_l2,"))
        .filter_map(|l| l.split(',').nth(1)?.parse().ok())
        .collect();
    assert_eq!(steps, (1..=400).collect::<Vec<_>>());
}

#[test]
fn hallucinate_rejects_unsupported_sizes_and_writes_a_grid() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = tmp.path().join("model");
    let status = ofhnet()
        .args([
            "train",
            "--preset",
            "tiny",
            "--stage1-steps",
            "2",
            "--stage2-steps",
            "2",
            "--batch-size",
            "2",
            "--data",
        ])
        .arg(synthetic_dataset())
        .arg("--out")
        .arg(&model)
        .stdout(Stdio::null())
        .status()
        .expect("train");
    assert!(status.success());

    let bad = tmp.path().join("bad.png");
    image::RgbImage::new(40, 30).save(&bad).expect("write");
    let out = ofhnet()
        .args(["hallucinate", "--model"])
        .arg(&model)
        .arg("--input")
        .arg(&bad)
        .arg("--out")
        .arg(tmp.path().join("o.png"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.png") && err.contains("40x30") && err.contains("16x16"),
        "{err}"
    );

    let inputs = tmp.path().join("faces");
    std::fs::create_dir_all(&inputs).expect("mkdir");
    image::RgbImage::from_pixel(16, 16, image::Rgb([120, 90, 80]))
        .save(inputs.join("a.png"))
        .expect("write");
    image::RgbImage::from_pixel(128, 128, image::Rgb([120, 90, 80]))
        .save(inputs.join("b.png"))
        .expect("write");
    let outdir = tmp.path().join("outs");
    let out = ofhnet()
        .args(["hallucinate", "--grid", "--mask", "4,4,6,6", "--model"])
        .arg(&model)
        .arg("--input")
        .arg(&inputs)
        .arg("--out")
        .arg(&outdir)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["a.png", "b.png"] {
        let img = image::open(outdir.join(name)).expect("output").into_rgb8();
        assert_eq!(img.dimensions(), (128, 128));
    }
    let grid = image::open(outdir.join("grid.png"))
        .expect("grid")
        .into_rgb8();
    assert_eq!(grid.height(), 2 * (128 + 8));
}

#[test]
fn unknown_device_and_missing_backend_are_explained() {
    let out = ofhnet()
        .args(["--device", "tpu", "device"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown device `tpu`"));
    if !cfg!(feature = "cuda") {
        let out = ofhnet()
            .args(["--device", "cuda:0", "device"])
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains("--features cuda"), "{err}");
    }
    let out = ofhnet()
        .args(["--device", "cpu", "device"])
        .output()
        .expect("run");
    assert!(out.status.success());
}

#[test]
fn auto_device_is_the_fastest_compiled_cpu_backend() {
    use ofhnet::device::DeviceSpec;
    let auto: DeviceSpec = "auto".parse().expect("auto parses");
    let expected = if cfg!(feature = "tch") {
        DeviceSpec::TchCpu
    } else {
        DeviceSpec::Flex
    };
    assert_eq!(auto, expected);
    assert!(auto.is_compiled());
    assert!("auto:1".parse::<DeviceSpec>().is_err());
    // The binary's default is `auto`, and what it resolved to is what `device` reports.
    let out = ofhnet()
        .env_remove("OFHNET_DEVICE")
        .arg("device")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(expected.backend()), "{text}");
}

#[test]
fn the_binary_tunes_glibc_malloc_unless_the_user_did() {
    // In this test process: no MALLOC_* variable is set by the test runner.
    if std::env::vars().any(|(k, _)| k.starts_with("MALLOC_") || k == "GLIBC_TUNABLES") {
        return;
    }
    let tuned = ofhnet::alloc::tune();
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        let ofhnet::alloc::Tuned::Applied(settings) = &tuned else {
            panic!("expected the settings to apply, got {tuned:?}");
        };
        let names: Vec<&str> = settings.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["M_MMAP_THRESHOLD", "M_TRIM_THRESHOLD", "M_TOP_PAD"]);
        assert!(settings.iter().all(|(_, ok)| *ok), "{settings:?}");
    } else {
        assert_eq!(tuned, ofhnet::alloc::Tuned::Unsupported);
    }
    // The binary leaves a user's own settings alone and says so.
    let out = ofhnet()
        .env("OFHNET_DEBUG_ALLOC", "1")
        .env("MALLOC_ARENA_MAX", "2")
        .args(["--device", "cpu", "device"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("UserSettings([\"MALLOC_ARENA_MAX\"])"),
        "{err}"
    );
}
