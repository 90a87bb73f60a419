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

/// Parameter counts of every network at every preset, against the PyTorch reference in
/// benches/reference/ofhnet_ref.py, which the side-by-side benchmark times. burn's
/// `num_params` also counts BatchNorm's running mean and variance, so each expected value is
/// the reference's trainable parameters plus its BatchNorm running-statistic elements.
/// Generated with torch 2.9.0:
///
/// ```sh
/// for p in tiny cpu paper; do python benches/reference/ofhnet_ref.py shapes --preset $p; done
/// # each network's "params" (sum(p.numel() for p in net.parameters())) + "bn_running"
/// # (running_mean.numel() + running_var.numel() over its BatchNorm2d layers)
/// ```
#[test]
fn parameter_counts_match_the_pytorch_reference() {
    use burn::module::Module;
    use ofhnet::methods::GeneratorSpec;
    use ofhnet::train::config::{OfhnetConfig, Preset};
    use ofhnet::train::landmarks::{LandmarkSpec, Role};

    let d = device();
    // (preset, upsample, vdsr, fsrcnn, urdgn, discriminator) from the reference.
    let expected = [
        (
            Preset::Tiny,
            7_011 + 144,
            1_611,
            2_803,
            3_107 + 48,
            3_101 + 80,
        ),
        (
            Preset::Cpu,
            167_155 + 672,
            14_803,
            24_683,
            45_571 + 224,
            28_169 + 224,
        ),
        (
            Preset::Paper,
            10_326_083 + 5_376,
            668_227,
            24_683,
            2_658_307 + 1_792,
            437_537 + 896,
        ),
    ];
    for (preset, upsample, vdsr, fsrcnn, urdgn, disc) in expected {
        let with = |generator: GeneratorSpec| OfhnetConfig {
            generator,
            ..OfhnetConfig::for_preset(preset)
        };
        let count = |generator: GeneratorSpec| with(generator).generator_init(&d).num_params();
        let got = (
            count(GeneratorSpec::default()),
            count(GeneratorSpec::Vdsr(Default::default())),
            count(GeneratorSpec::Fsrcnn(Default::default())),
            count(GeneratorSpec::Urdgn(Default::default())),
            with(GeneratorSpec::default())
                .discriminator_config()
                .init(&d)
                .num_params(),
        );
        assert_eq!(got, (upsample, vdsr, fsrcnn, urdgn, disc), "{preset:?}");
        let inpaint = with(GeneratorSpec::default())
            .inpaint_config()
            .init(&d)
            .num_params();
        assert_eq!(inpaint, 126_819 + 800, "{preset:?}");
    }
    let landmarks = |spec: LandmarkSpec| spec.net_config().init(&d).num_params();
    assert_eq!(landmarks(LandmarkSpec::for_role(Role::Loss)), 195_736 + 320);
    let eval = LandmarkSpec {
        widths: [24, 48, 64, 96],
        hidden: 256,
        ..LandmarkSpec::for_role(Role::Eval)
    };
    assert_eq!(landmarks(eval), 523_080 + 464);
}
