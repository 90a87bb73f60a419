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

use crate::common::synthetic_dataset;

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
    let data = Dataset::open(synthetic_dataset()).expect("dataset");
    let train_split = data.split("train").expect("train");
    let test_split = data.split("test").expect("test");
    let device = Device::flex();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("model");
    let config = tiny_config(150, 120);
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
    let psnr = |name: &str| {
        m.iter()
            .find(|r| r.method == name)
            .map(|r| r.psnr)
            .expect(name)
    };
    assert!(
        psnr(methods::OFHNET) > psnr(methods::IN_BICUBIC),
        "OFHNet {} dB vs IN+bicubic {} dB",
        psnr(methods::OFHNET),
        psnr(methods::IN_BICUBIC)
    );
}
