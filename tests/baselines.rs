//! The paper's baselines: shapes of the learned ones, their losses falling on synthetic faces,
//! IN+Ma's closed form against its weights solved directly. (Table 1's sweep in the harness is
//! `paper`'s smoke run.)

use burn::tensor::{Device, Tensor};
use indicatif::ProgressBar;
use nalgebra::DVector;
use ofhnet::data::dataset::Dataset;
use ofhnet::methods::GeneratorSpec;
use ofhnet::methods::position_patch::{PositionPatch, PositionPatchConfig};
use ofhnet::nets::fsrcnn::FsrcnnConfig;
use ofhnet::nets::urdgn::UrdgnConfig;
use ofhnet::nets::vdsr::VdsrConfig;
use ofhnet::train::config::{LossBlock, LossesSpec, Preset, TrainConfig};
use ofhnet::train::log::TrainLog;
use ofhnet::train::stages::{TrainOptions, train};

use crate::common::synthetic_dataset;

#[test]
fn learned_baselines_map_16_to_128() {
    let d = Device::flex();
    let lr = Tensor::<4>::ones([2, 3, 16, 16], &d).mul_scalar(0.5);
    let vdsr = VdsrConfig::new().with_depth(3).with_width(4).init(&d);
    assert_eq!(vdsr.forward(lr.clone()).dims(), [2, 3, 128, 128]);
    // The paper's FSRCNN(56, 12, 4) with one stride-8 transposed convolution.
    let fsrcnn = FsrcnnConfig::new().init(&d);
    assert_eq!(fsrcnn.forward(lr.clone()).dims(), [2, 3, 128, 128]);
    let urdgn = UrdgnConfig::new().with_widths([4, 4, 4]).init(&d);
    let out = urdgn.forward(lr);
    assert_eq!(out.dims(), [2, 3, 128, 128]);
    let v: Vec<f32> = out.into_data().convert::<f32>().try_to_vec().expect("f32");
    assert!(v.iter().all(|x| *x > 0.0 && *x < 1.0), "sigmoid output");
}

#[test]
#[should_panic(expected = "FSRCNN expects input of shape [batch, 3, 16, 16]")]
fn fsrcnn_names_the_expected_shape() {
    let d = Device::flex();
    FsrcnnConfig::new()
        .init(&d)
        .forward(Tensor::<4>::ones([1, 3, 32, 32], &d));
}

/// Trains a baseline generator briefly and returns its first and last logged L2.
fn l2_falls(generator: GeneratorSpec, adversarial: bool) -> (f64, f64) {
    let data = Dataset::open(synthetic_dataset()).expect("dataset");
    let split = data.split("train").expect("train");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut c = TrainConfig::for_preset(Preset::Tiny);
    c.generator = generator;
    c.losses = LossesSpec {
        inpaint_l2: Some(LossBlock { weight: 1.0 }),
        l2: Some(LossBlock { weight: 1.0 }),
        adversarial: adversarial.then_some(LossBlock { weight: 0.001 }),
        semantic: None,
    };
    c.stage1.steps = Some(20);
    c.stage1.batch_size = 16;
    c.stage2.steps = Some(60);
    c.stage2.batch_size = 8;
    c.stage2.lr = 3e-3;
    c.stage2.log_every = 5;
    let out = tmp.path().join("model");
    train(
        &c,
        &split,
        &TrainOptions {
            out: out.clone(),
            ..TrainOptions::default()
        },
        &Device::flex(),
        &ProgressBar::hidden(),
    )
    .expect("train");
    let l2: Vec<f64> = TrainLog::read(&out.join("train_log.csv"))
        .expect("log")
        .into_iter()
        .filter(|(stage, _, term, _)| stage == "stage2" && term == "l2")
        .map(|(_, _, _, v)| v)
        .collect();
    assert!(l2.len() >= 10, "{l2:?}");
    let first = l2[..2].iter().sum::<f64>() / 2.0;
    let last = l2[l2.len() - 2..].iter().sum::<f64>() / 2.0;
    (first, last)
}

#[test]
fn vdsr_loss_falls() {
    let (first, last) = l2_falls(GeneratorSpec::Vdsr(Default::default()), false);
    // VDSR starts at the bicubic face (it learns a residual), so its loss starts low and falls
    // less in relative terms than the others'.
    assert!(last < 0.9 * first, "VDSR L2 {first} -> {last}");
}

#[test]
fn fsrcnn_loss_falls() {
    let (first, last) = l2_falls(GeneratorSpec::Fsrcnn(Default::default()), false);
    assert!(last < 0.8 * first, "FSRCNN L2 {first} -> {last}");
}

#[test]
fn edsr_loss_falls() {
    let (first, last) = l2_falls(GeneratorSpec::Edsr(Default::default()), false);
    assert!(last < 0.8 * first, "EDSR L2 {first} -> {last}");
}

#[test]
fn urdgn_loss_falls() {
    let (first, last) = l2_falls(GeneratorSpec::Urdgn(Default::default()), true);
    assert!(last < 0.8 * first, "URDGN L2 {first} -> {last}");
}

fn patch(pixels: &[u8], side: usize, x: usize, y: usize, p: usize) -> DVector<f64> {
    let mut v = Vec::new();
    for row in y..y + p {
        for col in x..x + p {
            let i = (row * side + col) * 3;
            v.extend(pixels[i..i + 3].iter().map(|&b| b as f64 / 255.0));
        }
    }
    DVector::from_vec(v)
}

#[test]
fn position_patch_closed_form_equals_the_solved_weights() {
    let data = Dataset::open(synthetic_dataset()).expect("dataset");
    let train_split = data.split("train").expect("train");
    let test = data.split("test").expect("test");
    let n = 60;
    let config = PositionPatchConfig {
        train_faces: Some(n),
        reg: 1e-2,
        ..PositionPatchConfig::default()
    };
    let pp = PositionPatch::build(&train_split, &config).expect("build");
    // 16 px, patches of 3 overlapping by 1: starts 0, 2, ..., 12 and 13.
    assert_eq!(config.starts(16), vec![0, 2, 4, 6, 8, 10, 12, 13]);
    assert_eq!(pp.positions(), 64);

    // Position index 9 is (x, y) = (2, 2).
    let (x0, y0, p) = (2, 2, 3);
    let lr_n = 16 * 16 * 3;
    let hr_n = 128 * 128 * 3;
    let lr: Vec<DVector<f64>> = (0..n)
        .map(|i| patch(&train_split.lr[i * lr_n..(i + 1) * lr_n], 16, x0, y0, p))
        .collect();
    let hr: Vec<DVector<f64>> = (0..n)
        .map(|i| {
            patch(
                &train_split.hr[i * hr_n..(i + 1) * hr_n],
                128,
                x0 * 8,
                y0 * 8,
                p * 8,
            )
        })
        .collect();
    let x = patch(&test.lr[..lr_n], 16, x0, y0, p);
    let w = PositionPatch::direct_weights(&lr, &x, pp.lambda_for(&lr));
    assert!(
        (w.iter().sum::<f64>() - 1.0).abs() < 1e-9,
        "weights sum to one"
    );
    let direct = hr
        .iter()
        .zip(&w)
        .fold(DVector::zeros(hr[0].len()), |acc, (h, wi)| acc + h * *wi);
    let closed = pp.position_patch(9, &x);
    let diff = (&direct - &closed).amax();
    assert!(
        diff < 1e-6,
        "closed form differs from the solved weights by {diff}"
    );

    // A whole face: 128x128, and closer to the ground truth than a flat grey face.
    let out = pp.hallucinate(&test.lr_image(0)).expect("hallucinate");
    assert_eq!(out.dimensions(), (128, 128));
    let gt = test.hr_image(0);
    let mse = |a: &[u8], b: &[u8]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
            .sum::<f64>()
            / a.len() as f64
    };
    let grey = vec![128u8; gt.as_raw().len()];
    assert!(mse(out.as_raw(), gt.as_raw()) < mse(&grey, gt.as_raw()));
    assert!(
        pp.hallucinate(&test.hr_image(0)).is_err(),
        "wrong size is refused"
    );
}

/// VDSR's bicubic upscaling equals PyTorch's at half-pixel centres (a = -0.75, clamped borders).
/// Generated with torch 2.9.0:
///
/// ```python
/// x = torch.tensor([[0.0, 1.0, 0.5], [0.25, 0.75, 1.0], [1.0, 0.0, 0.5]]).reshape(1, 1, 3, 3)
/// F.interpolate(x, size=(6, 6), mode="bicubic", align_corners=False).flatten()
/// ```
#[test]
fn vdsr_bicubic_matches_pytorch_half_pixel() {
    let d = Device::flex();
    let x = Tensor::<1>::from_floats([0.0, 1.0, 0.5, 0.25, 0.75, 1.0, 1.0, 0.0, 0.5], &d)
        .reshape([1, 1, 3, 3]);
    let y: Vec<f32> = ofhnet::nets::vdsr::bicubic(x, 6)
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .expect("f32");
    let expected = [
        -0.137398, 0.232502, 0.848934, 1.006195, 0.615479, 0.386189, -0.06881, 0.255032, 0.792622,
        0.992035, 0.740662, 0.595119, 0.03289, 0.287159, 0.705288, 0.979279, 0.954407, 0.945118,
        0.434959, 0.457066, 0.488689, 0.652435, 0.855835, 0.980137, 0.910347, 0.668804, 0.265141,
        0.196075, 0.50061, 0.680401, 1.201256, 0.798191, 0.127789, -0.082001, 0.287292, 0.502781,
    ];
    assert_eq!(y.len(), expected.len());
    for (i, (a, b)) in y.iter().zip(expected).enumerate() {
        assert!((a - b).abs() < 1e-5, "value {i}: burn {a} vs PyTorch {b}");
    }
}
