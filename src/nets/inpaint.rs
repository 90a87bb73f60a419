//! InpaintNet, the LR inpainting encoder-decoder of OFHNet (paper Sec. 3.1, "Inpainting
//! network"): it fills the hole of an occluded 16x16 face before upsampling.
//!
//! - Encoder: four blocks of Conv3x3 + ReLU + BN with strides 1, 1, 2, 2; with the default widths
//!   16, 32, 64, 64 the bottleneck is 64x4x4, the paper's 1024-d code.
//! - Decoder: two upsample modules, each nearest-neighbour 2x + BN + ReLU + Conv3x3 + BN + ReLU
//!   (the paper upsamples instead of using transposed convolutions).
//! - Then two convolutions and a sigmoid, giving an RGB image in [0, 1].

use super::fused::{batch_norm, conv2d, relu};
use burn::config::Config;
use burn::module::Module;
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use super::blocks::{bn, conv, expect_shape, upsample_nearest2x};

/// [`InpaintNet`]'s configuration.
#[derive(Config, Debug, PartialEq)]
pub struct InpaintNetConfig {
    /// Widths of the four encoder blocks (strides 1, 1, 2, 2).
    #[config(default = "[16, 32, 64, 64]")]
    pub encoder: [usize; 4],
    /// Widths of the two decoder upsample modules.
    #[config(default = "[64, 32]")]
    pub decoder: [usize; 2],
    /// Side of the LR face.
    #[config(default = 16)]
    pub size: usize,
}

/// Encoder block: Conv3x3 + ReLU + BN (the paper's order).
#[derive(Module, Debug)]
pub struct EncoderBlock {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

/// Decoder upsample module: nearest 2x + BN + ReLU + Conv3x3 + BN + ReLU.
#[derive(Module, Debug)]
pub struct UpsampleModule {
    pub bn_in: BatchNorm,
    pub conv: Conv2d,
    pub bn_out: BatchNorm,
}

/// The inpainting network.
#[derive(Module, Debug)]
pub struct InpaintNet {
    pub encoder: Vec<EncoderBlock>,
    pub decoder: Vec<UpsampleModule>,
    pub conv_a: Conv2d,
    pub conv_b: Conv2d,
    pub size: usize,
}

impl InpaintNetConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> InpaintNet {
        let strides = [1, 1, 2, 2];
        let mut c_in = 3;
        let mut encoder = Vec::new();
        for (w, s) in self.encoder.iter().zip(strides) {
            encoder.push(EncoderBlock {
                conv: conv(c_in, *w, 3, s, device),
                bn: bn(*w, device),
            });
            c_in = *w;
        }
        let mut decoder = Vec::new();
        for w in self.decoder {
            decoder.push(UpsampleModule {
                bn_in: bn(c_in, device),
                conv: conv(c_in, w, 3, 1, device),
                bn_out: bn(w, device),
            });
            c_in = w;
        }
        InpaintNet {
            encoder,
            decoder,
            conv_a: conv(c_in, c_in, 3, 1, device),
            conv_b: conv(c_in, 3, 3, 1, device),
            size: self.size,
        }
    }
}

impl InpaintNet {
    /// Inpaints occluded LR faces.
    ///
    /// # Shapes
    /// - input: occluded LR faces `[batch, 3, 16, 16]`, values in [0, 1], holes black
    /// - output: inpainted LR faces `[batch, 3, 16, 16]`, values in (0, 1)
    ///
    /// # Panics
    /// When the input is not `[batch, 3, size, size]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        expect_shape("InpaintNet", &x, 3, self.size);
        let mut h = x;
        for block in &self.encoder {
            h = batch_norm(&block.bn, relu(conv2d(&block.conv, h)));
        } // [batch, 64, 4, 4]: the 1024-d bottleneck
        for m in &self.decoder {
            h = upsample_nearest2x(h); // [batch, c, 2h, 2w]
            h = relu(batch_norm(&m.bn_in, h));
            h = relu(batch_norm(&m.bn_out, conv2d(&m.conv, h)));
        } // [batch, 32, 16, 16]
        h = relu(conv2d(&self.conv_a, h));
        sigmoid(conv2d(&self.conv_b, h)) // [batch, 3, 16, 16]
    }
}
