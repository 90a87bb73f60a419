//! VDSR (Kim, Lee and Lee, "Accurate Image Super-Resolution Using Very Deep Convolutional
//! Networks", CVPR 2016), the IN+VDSR baseline of the OFHNet paper's Table 1.
//!
//! The LR face is first upscaled 8x by bicubic interpolation; `depth` 3x3 convolutions (ReLU
//! between them, `width` channels, the last one to 3 channels) predict the residual that is added
//! to it. The paper's network is 20 layers x 64 channels and works on the luma channel; here it
//! works on RGB (3 channels in and out) like every other method, so that the metrics compare
//! like with like. The bicubic upscaling is burn's (PyTorch's convolution, a = -0.75, half-pixel
//! centres); upscaling needs no antialiasing, and the residual absorbs the difference to PIL's
//! a = -0.5 kernel.

use super::fused::{conv2d, relu};
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};

use super::blocks::{conv, expect_shape};

/// [`Vdsr`]'s configuration.
#[derive(Config, Debug, PartialEq)]
pub struct VdsrConfig {
    /// Convolution layers, the first and the last included (the paper: 20).
    #[config(default = 20)]
    pub depth: usize,
    /// Channels of the hidden layers (the paper: 64).
    #[config(default = 64)]
    pub width: usize,
    #[config(default = 16)]
    pub lr_size: usize,
    #[config(default = 128)]
    pub hr_size: usize,
}

/// The VDSR network.
#[derive(Module, Debug)]
pub struct Vdsr {
    pub first: Conv2d,
    pub body: Vec<Conv2d>,
    pub last: Conv2d,
    pub lr_size: usize,
    pub hr_size: usize,
}

impl VdsrConfig {
    /// Builds the network on `device`.
    ///
    /// # Panics
    /// When `depth < 2`.
    pub fn init(&self, device: &Device) -> Vdsr {
        assert!(self.depth >= 2, "VDSR needs at least 2 layers");
        Vdsr {
            first: conv(3, self.width, 3, 1, device),
            body: (0..self.depth - 2)
                .map(|_| conv(self.width, self.width, 3, 1, device))
                .collect(),
            last: conv(self.width, 3, 3, 1, device),
            lr_size: self.lr_size,
            hr_size: self.hr_size,
        }
    }
}

/// Bicubic upscaling of a batch (`[batch, 3, s, s]` to `[batch, 3, size, size]`).
pub fn bicubic(x: Tensor<4>, size: usize) -> Tensor<4> {
    interpolate(
        x,
        // Half-pixel centres (burn's default aligns the corners, which stretches a 16-pixel
        // face over 127/15 instead of 8 output pixels per input pixel).
        InterpolateOptions::new(InterpolateMode::Bicubic)
            .with_output_size([size, size])
            .with_align_corners(false),
    )
}

impl Vdsr {
    /// # Shapes
    /// - input `[batch, 3, 16, 16]` in [0, 1]
    /// - output `[batch, 3, 128, 128]` (not clamped: the residual may overshoot)
    ///
    /// # Panics
    /// When the input is not `[batch, 3, lr_size, lr_size]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        expect_shape("VDSR", &x, 3, self.lr_size);
        let up = bicubic(x, self.hr_size); // [batch, 3, 128, 128]
        let mut h = relu(conv2d(&self.first, up.clone())); // [batch, width, 128, 128]
        for c in &self.body {
            h = relu(conv2d(c, h));
        }
        up + conv2d(&self.last, h)
    }
}
