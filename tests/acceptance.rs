//! The paper-level claim on synthetic faces: OFHNet, trained for real (a few minutes on 2 cores),
//! beats IN+bicubic by a margin.
//!
//! This module's name sorts first on purpose: libtest starts tests in name order, so the longest
//! test of the binary starts at once and the others run beside it on the remaining thread,
//! instead of it starting last and running alone.

use burn::tensor::Device;
use indicatif::ProgressBar;
use ofhnet::data::dataset::Dataset;
use ofhnet::evaluate::{EvalOptions, MethodMeans, evaluate_model, means};
use ofhnet::methods::{bicubic, ofhnet as ofhnet_method};
use ofhnet::metrics::Metric;
use ofhnet::model::Model;
use ofhnet::train::log::TrainLog;
use ofhnet::train::stages::{TrainOptions, train};

use crate::common::make_synthetic_dataset;
use crate::train::tiny_config;

#[test]
fn ofhnet_trains_and_beats_bicubic() {
    // 1200 faces (840 to train on): on the 240 training faces of the shared set, UpsampleNet
    // would learn those faces rather than faces.
    let data = Dataset::open(&make_synthetic_dataset(1200, 3)).expect("dataset");
    let train_split = data.split("train").expect("train");
    let test_split = data.split("test").expect("test");
    let device = Device::flex();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("model");
    // Wider than `tiny`, with a cosine schedule and the global bicubic residual (an untrained
    // UpsampleNet is then IN+bicubic, so every step must earn its gain). Without the residual it
    // took 2,000 steps (half an hour) to get past bicubic at all; with it, 400.
    let mut config = tiny_config(150, 400);
    config.upsample.widths = Some([16, 16, 16]);
    config.upsample.head_width = Some(16);
    config.upsample.residual = Some(true);
    config.stage2.lr = 2e-3;
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

    let model = Model::load(&out, &device).expect("load");
    let scores = evaluate_model(
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
    let (ofh, bic) = (get(ofhnet_method::NAME), get(bicubic::NAME));
    // Issue 3's acceptance: OFHNet's RGB PSNR above IN+bicubic on the test split. SSIM and the
    // luma variants are pinned too, so that a regression in any of them shows.
    let v = |m: &MethodMeans, metric: Metric| m.get(metric).expect("scored");
    let report = format!(
        "OFHNet PSNR {:.3} SSIM {:.4} PSNR-Y {:.3} SSIM-Y {:.4}; IN+bicubic PSNR {:.3} SSIM {:.4} \
         PSNR-Y {:.3} SSIM-Y {:.4}",
        v(&ofh, Metric::Psnr),
        v(&ofh, Metric::Ssim),
        v(&ofh, Metric::PsnrY),
        v(&ofh, Metric::SsimY),
        v(&bic, Metric::Psnr),
        v(&bic, Metric::Ssim),
        v(&bic, Metric::PsnrY),
        v(&bic, Metric::SsimY)
    );
    // With the residual, merely matching IN+bicubic is the untrained network: ask for a margin
    // that only training gives (measured: see the closing note of issue 18's first session).
    for (metric, margin) in [
        (Metric::Psnr, 0.3),
        (Metric::Ssim, 0.01),
        (Metric::PsnrY, 0.3),
        (Metric::SsimY, 0.01),
    ] {
        assert!(v(&ofh, metric) > v(&bic, metric) + margin, "{report}");
    }
}
