//! UpsampleNet, OFHNet's 8x upsampling network (paper Sec. 3.1, "Upsampling network"): three
//! residual-upsample blocks take the inpainted 16x16 face to 128x128.
//!
//! - An input convolution (3 -> width of the first block).
//! - Each residual-upsample block: Conv+BN+ReLU+Conv+BN+ReLU+Conv, summed with the block input,
//!   then nearest-neighbour 2x + BN + ReLU.
//! - Then three convolutions (ReLU between them) and a sigmoid.
//!
//! With `residual` (our option, not the paper's), the network predicts the difference to the
//! bicubic upscaling of its input (VDSR's global residual, Kim et al. 2016; the bicubic is
//! PROTOCOL's, exactly the IN+bicubic baseline's): the head's output
//! convolution starts at zero and is added to the bicubic image instead of going through the
//! sigmoid. An untrained network then outputs the bicubic face, and training only has to learn
//! the detail, which a short CPU-scale training reaches where the plain network stays blocky.
//!
//! The paper gives decreasing widths per block (512/256/128 in our reading) but not how a block
//! changes width while keeping its identity sum. Here the block's first convolution maps the
//! incoming width to the block's width and the skip path uses a 1x1 projection when the two
//! differ (ResNet's "option B"); with equal widths the skip is the identity, as in the paper's
//! figure.

use super::fused::{batch_norm, conv2d, relu};
use burn::config::Config;
use burn::module::Module;
use burn::nn::BatchNorm;
use burn::nn::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use super::blocks::{bn, conv, expect_shape, upsample_nearest2x};

/// Width presets of [`UpsampleNetConfig`].
pub mod presets {
    /// The paper's widths (our reading): 512, 256 and 128 channels at 16, 32 and 64 px.
    pub const PAPER: [usize; 3] = [512, 256, 128];
    /// Small enough to train an epoch of celeba6k (4,560 faces) in about 30 minutes on 2 CPU
    /// cores with burn-flex.
    pub const CPU: [usize; 3] = [64, 32, 16];
    /// For tests and CI smoke runs.
    pub const TINY: [usize; 3] = [8, 8, 8];
}

/// [`UpsampleNet`]'s configuration.
#[derive(Config, Debug, PartialEq)]
pub struct UpsampleNetConfig {
    /// Widths of the three residual-upsample blocks.
    #[config(default = "[64, 32, 16]")]
    pub widths: [usize; 3],
    /// Width of the two convolutions before the output convolution.
    #[config(default = 16)]
    pub head_width: usize,
    /// Side of the LR input.
    #[config(default = 16)]
    pub lr_size: usize,
    /// Predict the residual over the bicubic upscaling (zero-initialised output, no sigmoid).
    #[config(default = false)]
    pub residual: bool,
}

/// One residual-upsample block.
#[derive(Module, Debug)]
pub struct ResidualUpsampleBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub conv3: Conv2d,
    /// 1x1 projection of the block input when the width changes.
    pub skip: Option<Conv2d>,
    pub bn_up: BatchNorm,
}

impl ResidualUpsampleBlock {
    fn new(c_in: usize, c: usize, device: &Device) -> Self {
        Self {
            conv1: conv(c_in, c, 3, 1, device),
            bn1: bn(c, device),
            conv2: conv(c, c, 3, 1, device),
            bn2: bn(c, device),
            conv3: conv(c, c, 3, 1, device),
            skip: (c_in != c).then(|| conv(c_in, c, 1, 1, device)),
            bn_up: bn(c, device),
        }
    }

    /// # Shapes
    /// - input `[batch, c_in, s, s]`
    /// - output `[batch, c, 2s, 2s]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = relu(batch_norm(&self.bn1, conv2d(&self.conv1, x.clone())));
        let h = relu(batch_norm(&self.bn2, conv2d(&self.conv2, h)));
        let h = conv2d(&self.conv3, h); // [batch, c, s, s]
        let skip = match &self.skip {
            Some(p) => conv2d(p, x),
            None => x,
        };
        let h = upsample_nearest2x(h + skip); // [batch, c, 2s, 2s]
        relu(batch_norm(&self.bn_up, h))
    }
}

/// PROTOCOL's bicubic upscaling (Keys' kernel with a = -0.5, PIL's weights; the IN+bicubic
/// baseline's) of a batch, inside the autodiff graph: `M · X · Mᵀ` per channel, with the fixed
/// matrix of [`crate::data::resize::resample_matrix`].
///
/// # Shapes
/// - input `[batch, c, s, s]`
/// - output `[batch, c, size, size]`
pub fn protocol_bicubic(x: Tensor<4>, size: usize) -> Tensor<4> {
    let [b, c, s, _] = x.dims();
    let device = x.device();
    let m: Vec<f32> = crate::data::resize::resample_matrix(s, size, -0.5)
        .into_iter()
        .flatten()
        .map(|v| v as f32)
        .collect();
    let m = Tensor::<3>::from_data(burn::tensor::TensorData::new(m, [1, size, s]), &device)
        .expand([b * c, size, s]); // [b*c, size, s]
    let x = x.reshape([b * c, s, s]); // [b*c, s, s]
    m.clone()
        .matmul(x)
        .matmul(m.swap_dims(1, 2)) // [b*c, size, size]
        .reshape([b, c, size, size])
}

/// The 8x upsampling network (the generator of stage 2).
#[derive(Module, Debug)]
pub struct UpsampleNet {
    pub input: Conv2d,
    pub blocks: Vec<ResidualUpsampleBlock>,
    pub head1: Conv2d,
    pub head2: Conv2d,
    pub output: Conv2d,
    pub lr_size: usize,
    pub residual: bool,
}

impl UpsampleNetConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> UpsampleNet {
        let mut c_in = self.widths[0];
        let input = conv(3, c_in, 3, 1, device);
        let mut blocks = Vec::new();
        for w in self.widths {
            blocks.push(ResidualUpsampleBlock::new(c_in, w, device));
            c_in = w;
        }
        UpsampleNet {
            input,
            blocks,
            head1: conv(c_in, self.head_width, 3, 1, device),
            head2: conv(self.head_width, self.head_width, 3, 1, device),
            output: if self.residual {
                Conv2dConfig::new([self.head_width, 3], [3, 3])
                    .with_padding(burn::nn::PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_initializer(Initializer::Zeros)
                    .init(device)
            } else {
                conv(self.head_width, 3, 3, 1, device)
            },
            lr_size: self.lr_size,
            residual: self.residual,
        }
    }
}

impl UpsampleNet {
    /// Hallucinates HR faces from (inpainted) LR faces.
    ///
    /// # Shapes
    /// - input: `[batch, 3, 16, 16]`, values in [0, 1]
    /// - output: `[batch, 3, 128, 128]`, values in (0, 1) (with `residual`: the bicubic face
    ///   plus the predicted detail, not clamped)
    ///
    /// # Panics
    /// When the input is not `[batch, 3, lr_size, lr_size]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        expect_shape("UpsampleNet", &x, 3, self.lr_size);
        let base = self
            .residual
            .then(|| protocol_bicubic(x.clone(), self.lr_size * 8)); // [batch, 3, 128, 128]
        let mut h = conv2d(&self.input, x); // [batch, w0, 16, 16]
        for block in &self.blocks {
            h = block.forward(h);
        } // [batch, w2, 128, 128]
        h = relu(conv2d(&self.head1, h));
        h = relu(conv2d(&self.head2, h));
        match base {
            Some(up) => up + conv2d(&self.output, h), // [batch, 3, 128, 128]
            None => sigmoid(conv2d(&self.output, h)), // [batch, 3, 128, 128]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::tensors::{images_to_tensor, tensor_to_images};

    /// The in-graph bicubic is the IN+bicubic baseline's upscaling (resize_bicubic, itself
    /// tested against PIL): on u8 faces the two agree exactly after rounding, so an untrained
    /// residual UpsampleNet (zero output convolution) is IN+bicubic.
    #[test]
    fn protocol_bicubic_is_the_baselines_upscaling_and_residual_starts_there() {
        let device = Device::default();
        let faces: Vec<image::RgbImage> = (0..2u32)
            .map(|k| {
                image::RgbImage::from_fn(16, 16, |x, y| {
                    let v = |a: u32| ((x * 37 + y * 91 + a * 53 + k * 17) % 256) as u8;
                    image::Rgb([v(1), v(2), v(3)])
                })
            })
            .collect();
        let refs: Vec<&image::RgbImage> = faces.iter().collect();
        let x = images_to_tensor(&refs, &device);
        let want: Vec<image::RgbImage> = faces
            .iter()
            .map(|f| crate::data::resize::upscale(f, 128, -0.5))
            .collect();
        let close = |got: &[image::RgbImage]| {
            got.iter().zip(&want).all(|(g, w)| {
                g.as_raw()
                    .iter()
                    .zip(w.as_raw())
                    .all(|(a, b)| (*a as i32 - *b as i32).abs() <= 1)
            })
        };
        assert!(close(&tensor_to_images(protocol_bicubic(x.clone(), 128))));
        let net = UpsampleNetConfig::new()
            .with_widths([4, 4, 4])
            .with_head_width(4)
            .with_residual(true)
            .init(&device);
        assert!(close(&tensor_to_images(net.forward(x))));
    }
}
