//! URDGN's generator (Yu and Porikli, "Ultra-Resolving Face Images by Discriminative Generative
//! Networks", ECCV 2016), the IN+URDGN baseline of the OFHNet paper's Tables 1 and 2.
//!
//! URDGN's generator upsamples a 16x16 face to 128x128 with transposed-convolution layers and
//! is trained with a pixel-wise L2 loss plus an adversarial loss against a discriminator. Its
//! text does not fix every width and kernel, so here (our reading, documented as a choice):
//! - three transposed convolutions (4x4, stride 2, padding 1), each doubling the size, each
//!   followed by BatchNorm and ReLU, with `widths` channels (the paper preset 512/256/128, the
//!   cpu preset 64/32/16, like UpsampleNet's, so the two generators are compared at equal
//!   widths);
//! - then a 5x5 convolution to 3 channels and a sigmoid;
//! - the discriminator is OFHNet's ([`super::discriminator::Discriminator`]) rather than
//!   URDGN's own (convolutions with max pooling and two dense layers), so that the adversarial
//!   term is the same in both methods and only the generators differ.

use super::fused::{batch_norm, conv2d, relu};
use burn::config::Config;
use burn::module::Module;
use burn::nn::BatchNorm;
use burn::nn::conv::{ConvTranspose2d, ConvTranspose2dConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use super::blocks::{bn, conv, expect_shape};
use burn::nn::conv::Conv2d;

/// [`UrdgnGenerator`]'s configuration.
#[derive(Config, Debug, PartialEq)]
pub struct UrdgnConfig {
    /// Channels of the three transposed convolutions.
    #[config(default = "[64, 32, 16]")]
    pub widths: [usize; 3],
    #[config(default = 16)]
    pub lr_size: usize,
}

/// One 2x transposed convolution with BatchNorm and ReLU.
#[derive(Module, Debug)]
pub struct UpBlock {
    pub deconv: ConvTranspose2d,
    pub bn: BatchNorm,
}

/// URDGN's generator.
#[derive(Module, Debug)]
pub struct UrdgnGenerator {
    pub ups: Vec<UpBlock>,
    pub output: Conv2d,
    pub lr_size: usize,
}

impl UrdgnConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> UrdgnGenerator {
        let mut c_in = 3;
        let mut ups = Vec::new();
        for w in self.widths {
            ups.push(UpBlock {
                deconv: ConvTranspose2dConfig::new([c_in, w], [4, 4])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .init(device),
                bn: bn(w, device),
            });
            c_in = w;
        }
        UrdgnGenerator {
            ups,
            output: conv(c_in, 3, 5, 1, device),
            lr_size: self.lr_size,
        }
    }
}

impl UrdgnGenerator {
    /// # Shapes
    /// - input `[batch, 3, 16, 16]` in [0, 1]
    /// - output `[batch, 3, 128, 128]` in (0, 1)
    ///
    /// # Panics
    /// When the input is not `[batch, 3, lr_size, lr_size]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        expect_shape("URDGN", &x, 3, self.lr_size);
        let mut h = x;
        for up in &self.ups {
            h = relu(batch_norm(&up.bn, up.deconv.forward(h))); // size doubles
        }
        sigmoid(conv2d(&self.output, h)) // [batch, 3, 128, 128]
    }
}
