//! The networks' shape contracts and their messages for wrong inputs.

use burn::tensor::{Device, Tensor};
use ofhnet::nets::discriminator::DiscriminatorConfig;
use ofhnet::nets::inpaint::InpaintNetConfig;
use ofhnet::nets::landmark::LandmarkNetConfig;
use ofhnet::nets::upsample::{UpsampleNetConfig, presets};

fn device() -> Device {
    Device::flex()
}

#[test]
fn shapes() {
    let d = device();
    let lr = Tensor::<4>::ones([2, 3, 16, 16], &d);
    let hr = Tensor::<4>::ones([2, 3, 128, 128], &d);
    let inpaint = InpaintNetConfig::new().init(&d);
    assert_eq!(inpaint.forward(lr.clone()).dims(), [2, 3, 16, 16]);
    let up = UpsampleNetConfig::new().with_widths(presets::TINY).init(&d);
    let out = up.forward(lr);
    assert_eq!(out.dims(), [2, 3, 128, 128]);
    let v: Vec<f32> = out.into_data().convert::<f32>().try_to_vec().expect("f32");
    assert!(v.iter().all(|x| *x > 0.0 && *x < 1.0), "sigmoid output");
    let disc = DiscriminatorConfig::new().init(&d);
    assert_eq!(disc.forward(hr.clone()).dims(), [2, 1]);
    let lm = LandmarkNetConfig::new().init(&d);
    assert_eq!(lm.forward(hr.clone()).dims(), [2, 136]);
    assert_eq!(lm.points(hr).len(), 2);
}

#[test]
fn inpaint_bottleneck_is_1024() {
    // The paper's 1024-d code: 64 channels at 4x4 after strides 1, 1, 2, 2.
    let cfg = InpaintNetConfig::new();
    assert_eq!(cfg.encoder[3] * (16 / 4) * (16 / 4), 1024);
}

#[test]
#[should_panic(
    expected = "UpsampleNet expects input of shape [batch, 3, 16, 16], got [1, 3, 32, 32]"
)]
fn upsample_rejects_wrong_size() {
    let d = device();
    let up = UpsampleNetConfig::new().with_widths(presets::TINY).init(&d);
    up.forward(Tensor::<4>::ones([1, 3, 32, 32], &d));
}

#[test]
#[should_panic(
    expected = "InpaintNet expects input of shape [batch, 3, 16, 16], got [1, 1, 16, 16]"
)]
fn inpaint_rejects_grey_input() {
    let d = device();
    InpaintNetConfig::new()
        .init(&d)
        .forward(Tensor::<4>::ones([1, 1, 16, 16], &d));
}

#[test]
#[should_panic(expected = "Discriminator expects input of shape [batch, 3, 128, 128]")]
fn discriminator_rejects_lr_faces() {
    let d = device();
    DiscriminatorConfig::new()
        .init(&d)
        .forward(Tensor::<4>::ones([1, 3, 16, 16], &d));
}
