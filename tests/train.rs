//! Short OFHNet trainings on synthetic faces: losses fall, checkpoints round-trip, resume
//! continues, and OFHNet beats IN+bicubic.

use burn::tensor::Device;
use indicatif::ProgressBar;
use ofhnet::data::dataset::Dataset;
use ofhnet::evaluate::{EvalOptions, evaluate_ofhnet, means, methods};
use ofhnet::model::Ofhnet;
use ofhnet::train::config::{OfhnetConfig, Preset};
use ofhnet::train::log::TrainLog;
use ofhnet::train::ofhnet::{TrainOptions, train};

use crate::common::{make_synthetic_dataset, synthetic_dataset};

fn tiny_config(stage1: usize, stage2: usize) -> OfhnetConfig {
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

#[test]
fn ofhnet_trains_and_beats_bicubic() {
    // 1200 faces (840 to train on): on the 240 training faces of the shared set, 2000 steps of
    // batch 8 are 67 epochs, and UpsampleNet learns those faces rather than faces.
    let data = Dataset::open(&make_synthetic_dataset(1200, 3)).expect("dataset");
    let train_split = data.split("train").expect("train");
    let test_split = data.split("test").expect("test");
    let device = Device::flex();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("model");
    // Wider than `tiny` and with a cosine schedule, so that two thousand small steps are enough
    // to get past bicubic on the synthetic faces (at 1000 steps it still trails by ~0.1 dB RGB).
    let mut config = tiny_config(150, 2000);
    config.upsample.widths = Some([16, 16, 16]);
    config.upsample.head_width = Some(16);
    config.stage2.lr = 3e-3;
    config.stage2.lr_schedule = ofhnet::train::config::LrSchedule::Cosine;
    config.stage2.log_every = 50;
    // The adversarial term at 1e-4 (tiny's default is 1e-3): on celeba6k, 1e-4 and above
    // traded PSNR for texture and streaks, 1e-5 beat IN+bicubic (session 2's closing note).
    config.losses.adversarial = Some(ofhnet::train::config::LossBlock { weight: 1e-4 });
    let report = train(
        &config,
        &train_split,
        &TrainOptions {
            out: out.clone(),
            ..TrainOptions::default()
        },
        &device,
        &ProgressBar::hidden(),
    )
    .expect("train");
    assert!(report.stage1.finished && report.stage2.finished);

    // The loss terms fall: compare the first and last logged windows.
    let rows = TrainLog::read(&out.join("train_log.csv")).expect("log");
    let series = |stage: &str, term: &str| -> Vec<f64> {
        rows.iter()
            .filter(|r| r.0 == stage && r.2 == term)
            .map(|r| r.3)
            .collect()
    };
    let inpaint = series("stage1", "inpaint_l2");
    let l2 = series("stage2", "l2");
    eprintln!("stage 1 inpaint_l2 {inpaint:?}\nstage 2 l2 {l2:?}");
    assert!(inpaint.last() < inpaint.first(), "{inpaint:?}");
    assert!(l2.last() < l2.first(), "{l2:?}");

    let model = Ofhnet::load(&out, &device).expect("load");
    let scores = evaluate_ofhnet(
        &model,
        &test_split,
        None,
        &EvalOptions::default(),
        &ProgressBar::hidden(),
    )
    .expect("evaluate");
    let m = means(&scores);
    eprintln!("{m:?}");
    let get = |name: &str| m.iter().find(|r| r.method == name).cloned().expect(name);
    let (ofh, bic) = (get(methods::OFHNET), get(methods::IN_BICUBIC));
    // Issue 3's acceptance: OFHNet's RGB PSNR above IN+bicubic on the test split. SSIM and the
    // luma variants are pinned too, so that a regression in any of them shows.
    let report = format!(
        "OFHNet PSNR {:.3} SSIM {:.4} PSNR-Y {:.3} SSIM-Y {:.4}; IN+bicubic PSNR {:.3} SSIM {:.4} \
         PSNR-Y {:.3} SSIM-Y {:.4}",
        ofh.psnr, ofh.ssim, ofh.psnr_y, ofh.ssim_y, bic.psnr, bic.ssim, bic.psnr_y, bic.ssim_y
    );
    assert!(ofh.psnr > bic.psnr, "{report}");
    assert!(ofh.ssim > bic.ssim, "{report}");
    assert!(ofh.psnr_y > bic.psnr_y, "{report}");
    assert!(ofh.ssim_y > bic.ssim_y, "{report}");
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
fn try_run(
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
