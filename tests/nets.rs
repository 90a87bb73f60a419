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
    use ofhnet::train::config::{Preset, TrainConfig};
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
        let with = |generator: GeneratorSpec| TrainConfig {
            generator,
            ..TrainConfig::for_preset(preset)
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

/// Sets every float parameter to `amp * sin(0.37 k + 0.011 n)` (k its flat index, n its size),
/// an order-free fill that the PyTorch snippet below reproduces.
struct SineFill(f64);

impl burn::module::ModuleMapper for SineFill {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.shape();
        let n = shape.num_elements();
        let values: Vec<f32> = (0..n)
            .map(|k| (self.0 * (0.37 * k as f64 + 0.011 * n as f64).sin()) as f32)
            .collect();
        let filled = Tensor::<D>::from_data(
            burn::tensor::TensorData::new(values, shape),
            &tensor.device(),
        );
        burn::module::Param::from_mapped_value(id, filled, mapper)
    }
}

/// IN+EDSR's network against benches/reference/ofhnet_ref.py's `Edsr` (torch 2.9.0, float64),
/// which uses PyTorch's own `F.pixel_shuffle`: parameter counts of the three presets, and the
/// output of the tiny one with fixed weights. Generated with:
///
/// ```python
/// import sys, torch; sys.path.insert(0, "benches/reference"); from ofhnet_ref import Edsr
/// for b, w in [(2, 8), (8, 32), (16, 64)]: print(sum(p.numel() for p in Edsr(b, w).parameters()))
/// net = Edsr(blocks=2, width=8).double()
/// with torch.no_grad():
///     for p in net.parameters():
///         n = p.numel(); k = torch.arange(n, dtype=torch.float64)
///         p.copy_((0.12 * torch.sin(0.37 * k + 0.011 * n)).view_as(p))
///     k = torch.arange(2 * 3 * 16 * 16, dtype=torch.float64)
///     y = net((0.5 + 0.4 * torch.sin(0.3 * k)).view(2, 3, 16, 16))
/// print(y.mean(), (y ** 2).sum(), [y[i] for i in [(0, 0, 0, 0), (0, 1, 77, 5), (1, 2, 127, 127),
///                                               (1, 0, 64, 33), (0, 2, 3, 120)]])
/// ```
#[test]
fn edsr_matches_the_pytorch_reference() {
    use burn::module::Module;
    use ofhnet::methods::GeneratorSpec;
    use ofhnet::nets::edsr::EdsrConfig;
    use ofhnet::train::config::{Preset, TrainConfig};

    let d = device();
    for (preset, params) in [
        (Preset::Tiny, 10_371),
        (Preset::Cpu, 269_955),
        (Preset::Paper, 1_665_283),
    ] {
        let config = TrainConfig {
            generator: GeneratorSpec::Edsr(Default::default()),
            ..TrainConfig::for_preset(preset)
        };
        assert_eq!(config.generator_init(&d).num_params(), params, "{preset:?}");
    }
    let net = EdsrConfig::new()
        .with_blocks(2)
        .with_width(8)
        .init(&d)
        .map(&mut SineFill(0.12));
    let n = 2 * 3 * 16 * 16;
    let x: Vec<f32> = (0..n)
        .map(|k| (0.5 + 0.4 * (0.3 * k as f64).sin()) as f32)
        .collect();
    let x = Tensor::<4>::from_data(burn::tensor::TensorData::new(x, [2, 3, 16, 16]), &d);
    let y = net.forward(x);
    assert_eq!(y.dims(), [2, 3, 128, 128]);
    let values: Vec<f32> = y.into_data().try_to_vec::<f32>().expect("f32");
    let at = |b: usize, c: usize, row: usize, col: usize| {
        values[((b * 3 + c) * 128 + row) * 128 + col] as f64
    };
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64;
    let sumsq: f64 = values.iter().map(|&v| (v as f64).powi(2)).sum();
    assert!((mean - 0.477368390).abs() < 1e-5, "mean {mean}");
    assert!(
        (sumsq / 22512.313557757 - 1.0).abs() < 1e-5,
        "sum of squares {sumsq}"
    );
    for ((b, c, row, col), want) in [
        ((0, 0, 0, 0), 0.439131287),
        ((0, 1, 77, 5), 0.491919710),
        ((1, 2, 127, 127), 0.505136924),
        ((1, 0, 64, 33), 0.431068970),
        ((0, 2, 3, 120), 0.509855347),
    ] {
        let got = at(b, c, row, col);
        assert!(
            (got - want).abs() < 1e-5,
            "y[{b}, {c}, {row}, {col}] = {got}, want {want}"
        );
    }
}

/// The flip self-ensemble (`--self-ensemble`) is mirror-equivariant by construction: the
/// ensembled output of mirrored faces is the mirrored ensembled output of the faces (the
/// inpainted LR and the HR output), behind an untrained InpaintNet and UpsampleNet. A single pass
/// of the same untrained UpsampleNet is not, which is what makes the check bite. (The untrained
/// InpaintNet fills the hole with a near-constant, so its single pass is mirror-symmetric.)
#[test]
fn self_ensemble_is_mirror_equivariant() {
    use image::{RgbImage, imageops::flip_horizontal};
    use ofhnet::evaluate::{Pipeline, Upscale};
    use ofhnet::train::config::{Preset, TrainConfig};

    let d = device();
    let inpaint = InpaintNetConfig::new().init(&d);
    let generator = TrainConfig::for_preset(Preset::Tiny).generator_init(&d);
    let faces: Vec<RgbImage> = (0..2u32)
        .map(|s| {
            RgbImage::from_fn(16, 16, |x, y| {
                let v = |c: u32| {
                    ((x * 37 + y * 101 + c * 53 + s * 17).wrapping_mul(2654435761) >> 24) as u8
                };
                // A 4x4 hole (black, as the occlusions write it) off the vertical midline.
                if (3..7).contains(&x) && (5..9).contains(&y) {
                    image::Rgb([0, 0, 0])
                } else {
                    image::Rgb([v(0), v(1), v(2)])
                }
            })
        })
        .collect();
    let mirrored: Vec<RgbImage> = faces.iter().map(flip_horizontal).collect();
    let worst = |a: &[RgbImage], b: &[RgbImage]| {
        a.iter()
            .zip(b)
            .flat_map(|(p, q)| {
                flip_horizontal(p)
                    .into_raw()
                    .into_iter()
                    .zip(q.clone().into_raw())
            })
            .map(|(u, v)| u.abs_diff(v))
            .max()
            .unwrap_or(0)
    };
    let pipeline = |self_ensemble| Pipeline {
        inpaint: &inpaint,
        composite: true,
        self_ensemble,
        device: &d,
        method: "check",
        upscale: Upscale::Network(&generator),
    };
    let run = |self_ensemble, x: &[RgbImage]| {
        let refs: Vec<&RgbImage> = x.iter().collect();
        pipeline(self_ensemble).run(&refs, 128).expect("pipeline")
    };
    let (lr, hr) = run(true, &faces);
    let (lr_f, hr_f) = run(true, &mirrored);
    assert!(worst(&lr, &lr_f) <= 1, "inpainted LR");
    assert!(worst(&hr, &hr_f) <= 1, "HR output");
    let (_, single) = run(false, &faces);
    let (_, single_f) = run(false, &mirrored);
    assert!(
        worst(&single, &single_f) > 1,
        "a single pass is not equivariant"
    );
    assert_ne!(single, hr, "the ensemble changes the output");
}
