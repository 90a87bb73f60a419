//! Short OFHNet trainings on synthetic faces: losses fall, checkpoints round-trip, resume
//! continues. (The long one, OFHNet beating IN+bicubic, is in `acceptance`.)

use burn::tensor::Device;
use indicatif::ProgressBar;
use ofhnet::data::dataset::Dataset;
use ofhnet::model::Model;
use ofhnet::train::config::{Preset, TrainConfig};
use ofhnet::train::log::TrainLog;
use ofhnet::train::stages::{TrainOptions, train};

use crate::common::synthetic_dataset;

pub(crate) fn tiny_config(stage1: usize, stage2: usize) -> TrainConfig {
    let mut c = TrainConfig::for_preset(Preset::Tiny);
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

fn quick_config() -> TrainConfig {
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
    config: &TrainConfig,
    out: &std::path::Path,
    resume: bool,
    stop_after: Option<usize>,
) -> ofhnet::Result<ofhnet::train::stages::TrainReport> {
    let data = Dataset::open(synthetic_dataset()).expect("dataset");
    let split = data.split("train").expect("train");
    let validate = config.stage2.validation.as_ref().map(|v| {
        let val = std::sync::Arc::new(data.split(&v.split).expect("val split"));
        ofhnet::evaluate::validator(val, v.faces, &Device::flex()).expect("validator")
    });
    train(
        config,
        &split,
        &TrainOptions {
            out: out.to_path_buf(),
            resume,
            stop_after,
            validate,
            ..TrainOptions::default()
        },
        &Device::flex(),
        &ProgressBar::hidden(),
    )
}

fn run(config: &TrainConfig, out: &std::path::Path, resume: bool, stop_after: Option<usize>) {
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
    let err = serde_yaml::from_str::<TrainConfig>("preset: tiny\nstage2:\n  batch: 4\n")
        .expect_err("unknown key");
    let msg = err.to_string();
    assert!(
        msg.contains("unknown field `batch`") && msg.contains("batch_size"),
        "{msg}"
    );
    assert_eq!(err.location().map(|l| l.line()), Some(3));
    let mut c = TrainConfig::default();
    c.stage2.lr = f64::NAN;
    assert!(
        c.validate()
            .expect_err("nan")
            .to_string()
            .contains("stage2.lr")
    );
    let mut c = TrainConfig::default();
    c.stage2.lr_discriminator = 0.0;
    assert!(
        c.validate()
            .expect_err("zero")
            .to_string()
            .contains("stage2.lr_discriminator")
    );
    let mut c = TrainConfig::default();
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
    let c: TrainConfig =
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
    assert!(Model::load(&out, &Device::flex()).is_ok());
}

/// The outputs of a generator file on a fixed input (for comparing weights files).
fn generator_outputs(config: &TrainConfig, path: &std::path::Path) -> Vec<f32> {
    use burn::tensor::{Distribution, Tensor};
    let device = Device::flex();
    let g = ofhnet::train::stages::load_generator(config.resolved().generator_init(&device), path)
        .expect("load generator");
    device.seed(7);
    let x = Tensor::<4>::random([2, 3, 16, 16], Distribution::Uniform(0.0, 1.0), &device);
    use burn::module::Module;
    g.valid()
        .forward(x)
        .into_data()
        .try_to_vec::<f32>()
        .expect("floats")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Validation during stage 2 keeps the step of the best validation value (the first one on
/// ties) and the final generator is that step's; with EMA on, the saved generator is the average,
/// which differs from the raw weights.
#[test]
fn kept_best_checkpoint_is_the_best_validation_step_and_ema_weights_are_saved() {
    use ofhnet::train::config::{EmaSpec, Keep, ValMetric, ValidationSpec};
    use ofhnet::train::stages::{KeptCheckpoint, files};
    let tmp = tempfile::tempdir().expect("tmp");

    // Keep the best by PSNR, validating after every step.
    let mut best = quick_config();
    best.stage2.steps = Some(6);
    best.stage2.lr = 2e-2; // large steps, so that PSNR moves both ways between validations
    best.stage2.validation = Some(ValidationSpec {
        every: 1,
        faces: 4,
        metric: ValMetric::Psnr,
        keep: Keep::Best,
        split: "val".into(),
    });
    let out = tmp.path().join("best");
    run(&best, &out, false, None);
    let values: Vec<(usize, f64)> = TrainLog::read(&out.join(files::LOG))
        .expect("log")
        .into_iter()
        .filter(|(stage, _, term, _)| stage == "stage2" && term == "val_psnr")
        .map(|(_, step, _, v)| (step, v))
        .collect();
    assert_eq!(values.len(), 6, "one validation per step: {values:?}");
    let (want_step, want_value) = values
        .iter()
        .fold(None, |acc: Option<(usize, f64)>, &(s, v)| match acc {
            Some((_, b)) if b >= v => acc,
            _ => Some((s, v)),
        })
        .expect("values");
    let kept: KeptCheckpoint =
        serde_json::from_str(&std::fs::read_to_string(out.join(files::KEPT)).expect("kept.json"))
            .expect("kept.json parses");
    assert_eq!(kept.keep, Keep::Best);
    assert_eq!(kept.step, want_step, "{values:?}");
    assert_eq!(kept.value, Some(want_value));
    let final_out = generator_outputs(&best, &out.join(files::UPSAMPLE));
    let best_file = out.join("stage2/best/generator.bpk");
    assert!(max_abs_diff(&final_out, &generator_outputs(&best, &best_file)) < 1e-6);
    let last = ofhnet::train::checkpoint::CheckpointDir::new(out.join("stage2/checkpoint"))
        .latest()
        .expect("last checkpoint");
    if want_step != 6 {
        assert!(
            max_abs_diff(
                &final_out,
                &generator_outputs(&best, &last.join("generator.bpk"))
            ) > 1e-6,
            "the kept generator is not the last one"
        );
    }

    // EMA on, keep the last: the saved generator is the average, not the raw weights.
    let mut ema = quick_config();
    ema.stage2.ema = Some(EmaSpec { decay: 0.5 });
    let out = tmp.path().join("ema");
    run(&ema, &out, false, None);
    let last = ofhnet::train::checkpoint::CheckpointDir::new(out.join("stage2/checkpoint"))
        .latest()
        .expect("last checkpoint");
    let saved = generator_outputs(&ema, &out.join(files::UPSAMPLE));
    let averaged = generator_outputs(&ema, &last.join("generator_ema.bpk"));
    let raw = generator_outputs(&ema, &last.join("generator.bpk"));
    assert!(max_abs_diff(&saved, &averaged) < 1e-6, "EMA weights saved");
    assert!(
        max_abs_diff(&saved, &raw) > 1e-4,
        "EMA differs from the raw weights"
    );
    let kept: KeptCheckpoint =
        serde_json::from_str(&std::fs::read_to_string(out.join(files::KEPT)).expect("kept.json"))
            .expect("kept.json parses");
    assert!(kept.ema && kept.keep == Keep::Last && kept.step == 4);
}
