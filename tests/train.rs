//! Short OFHNet trainings on synthetic faces: losses fall, checkpoints round-trip, resume
//! continues. (The long one, OFHNet beating IN+bicubic, is in `acceptance`.)

use burn::tensor::Device;
use indicatif::ProgressBar;
use ofhnet::data::dataset::Dataset;
use ofhnet::model::Ofhnet;
use ofhnet::train::config::{OfhnetConfig, Preset};
use ofhnet::train::log::TrainLog;
use ofhnet::train::ofhnet::{TrainOptions, train};

use crate::common::synthetic_dataset;

pub(crate) fn tiny_config(stage1: usize, stage2: usize) -> OfhnetConfig {
    let mut c = OfhnetConfig::for_preset(Preset::Tiny);
    c.stage1.steps = Some(stage1);
    c.stage1.batch_size = 32;
    c.stage1.lr = 3e-3;
    c.stage1.log_every = 5;
    c.stage2.steps = Some(stage2);
    c.stage2.batch_size = 8;
    c.stage2.lr = 2e-3;
    c.stage2.log_every = 5;
    c
}

fn quick_config() -> OfhnetConfig {
    let mut c = tiny_config(6, 4);
    c.stage1.checkpoint_every = 2;
    c.stage1.log_every = 1;
    c.stage2.checkpoint_every = 2;
    c.stage2.log_every = 1;
    c.stage2.batch_size = 4;
    c
}

/// Trains `config` on the shared synthetic faces into `out`.
pub(crate) fn try_run(
    config: &OfhnetConfig,
    out: &std::path::Path,
    resume: bool,
    stop_after: Option<usize>,
) -> ofhnet::Result<ofhnet::train::ofhnet::TrainReport> {
    let data = Dataset::open(synthetic_dataset()).expect("dataset");
    let split = data.split("train").expect("train");
    train(
        config,
        &split,
        &TrainOptions {
            out: out.to_path_buf(),
            resume,
            inpaint_from: None,
            stop_after,
            stage1_only: false,
            cancel: Default::default(),
        },
        &Device::flex(),
        &ProgressBar::hidden(),
    )
}

fn run(config: &OfhnetConfig, out: &std::path::Path, resume: bool, stop_after: Option<usize>) {
    try_run(config, out, resume, stop_after).expect("train");
}

#[test]
fn same_seed_same_losses_and_resume_continues_exactly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = quick_config();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    run(&config, &a, false, None);
    run(&config, &b, false, None);
    let log_a = TrainLog::read(&a.join("train_log.csv")).expect("log a");
    let losses = |rows: &[(String, usize, String, f64)]| -> Vec<(String, usize, String, f64)> {
        rows.iter()
            .filter(|r| r.2 != "images_per_s")
            .cloned()
            .collect()
    };
    assert_eq!(
        losses(&log_a),
        losses(&TrainLog::read(&b.join("train_log.csv")).expect("log b")),
        "the same seed must give the same losses on the CPU"
    );

    // Interrupted after 3 steps of stage 1, then after 1 step of stage 2; each resume continues
    // from the last checkpoint (steps 2 and 6+0) and ends where the uninterrupted run ended.
    run(&config, &c, false, Some(3));
    assert!(!c.join("inpaint.bpk").exists());
    let err =
        try_run(&config, &c, false, None).expect_err("an existing model directory needs --resume");
    assert!(err.to_string().contains("--resume"), "{err}");
    run(&config, &c, true, Some(100));
    run(&config, &c, true, None);
    let log_c = TrainLog::read(&c.join("train_log.csv")).expect("log c");
    assert_eq!(losses(&log_a), losses(&log_c));

    // Resuming may change the length of training, not what is trained.
    let mut changed = config.clone();
    changed.stage2.lr = 0.5;
    let err = try_run(&changed, &c, true, None).expect_err("another learning rate");
    assert!(
        err.to_string().contains("stored configuration differs"),
        "{err}"
    );
}

#[test]
fn checkpoint_round_trip_gives_the_same_outputs() {
    use burn::tensor::{Distribution, Tensor};
    use ofhnet::nets::upsample::{UpsampleNetConfig, presets};
    use ofhnet::train::checkpoint::{load_module, save_module};
    let tmp = tempfile::tempdir().expect("tempdir");
    let device = Device::flex();
    let config = UpsampleNetConfig::new().with_widths(presets::TINY);
    let net = config.init(&device);
    let x = Tensor::<4>::random([2, 3, 16, 16], Distribution::Default, &device);
    let before: Vec<f32> = net
        .forward(x.clone())
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .expect("f32");
    let path = tmp.path().join("net.bpk");
    save_module(&net, &path).expect("save");
    let loaded = load_module(config.init(&device), &path).expect("load");
    let after: Vec<f32> = loaded
        .forward(x)
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .expect("f32");
    assert_eq!(before, after);

    // Weights of other widths are refused with a message naming the file.
    let other = UpsampleNetConfig::new()
        .with_widths([4, 4, 4])
        .init(&device);
    let err = load_module(other, &path).expect_err("wrong widths");
    assert!(err.to_string().contains("net.bpk"), "{err}");
}

#[test]
fn training_config_rejects_unknown_keys_and_bad_values() {
    let err = serde_yaml::from_str::<OfhnetConfig>("preset: tiny\nstage2:\n  batch: 4\n")
        .expect_err("unknown key");
    let msg = err.to_string();
    assert!(
        msg.contains("unknown field `batch`") && msg.contains("batch_size"),
        "{msg}"
    );
    assert_eq!(err.location().map(|l| l.line()), Some(3));
    let mut c = OfhnetConfig::default();
    c.stage2.lr = f64::NAN;
    assert!(
        c.validate()
            .expect_err("nan")
            .to_string()
            .contains("stage2.lr")
    );
    let mut c = OfhnetConfig::default();
    c.stage2.lr_discriminator = 0.0;
    assert!(
        c.validate()
            .expect_err("zero")
            .to_string()
            .contains("stage2.lr_discriminator")
    );
    let mut c = OfhnetConfig::default();
    c.losses.l2 = None;
    c.losses.adversarial = None;
    assert!(
        c.validate()
            .expect_err("no loss")
            .to_string()
            .contains("losses")
    );
    // A semantic loss without a trained landmark network is refused before any training.
    let mut c = quick_config();
    c.losses.semantic = Some(ofhnet::train::config::SemanticBlock {
        weight: 1.0,
        network: Some("no/such/landmarks".into()),
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let err =
        try_run(&c, &tmp.path().join("m"), false, None).expect_err("missing landmark network");
    let msg = err.to_string();
    assert!(
        msg.contains("no/such/landmarks") && msg.contains("losses.semantic.network"),
        "{msg}"
    );
    assert!(!tmp.path().join("m").exists(), "nothing is written");
    // A `losses` block lists exactly the losses that are on.
    let c: OfhnetConfig =
        serde_yaml::from_str("losses:\n  inpaint_l2: {weight: 1}\n  l2: {weight: 1}\n")
            .expect("parse");
    assert!(c.losses.adversarial.is_none() && c.losses.semantic.is_none());
}

#[test]
fn resume_extends_a_finished_stage() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("m");
    let mut config = quick_config();
    run(&config, &out, false, None);
    config.stage2.steps = Some(6);
    let report = try_run(&config, &out, true, None).expect("extend");
    assert!(report.stage1.skipped);
    assert_eq!((report.stage2.steps_run, report.stage2.total_steps), (2, 6));
    assert!(Ofhnet::load(&out, &Device::flex()).is_ok());
}
