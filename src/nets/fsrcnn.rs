//! FSRCNN (Dong, Loy and Tang, "Accelerating the Super-Resolution Convolutional Neural Network",
//! ECCV 2016), the IN+FSRCNN baseline of the OFHNet paper's Table 1.
//!
//! FSRCNN(d, s, m) on the LR face: feature extraction (5x5, d channels), shrinking (1x1, s),
//! m mapping layers (3x3, s), expanding (1x1, d), each followed by a PReLU, then one transposed
//! convolution (9x9, stride 8) for the whole 8x, as the OFHNet paper did. The paper's setting is
//! d = 56, s = 12, m = 4 on luma; here on RGB (3 channels in and out). The transposed
//! convolution uses padding 1 and output padding 1 so that 16 px become exactly 128:
//! (16 - 1) * 8 - 2 + 9 + 1 = 128.

use super::fused::conv2d;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{PRelu, PReluConfig};
use burn::tensor::{Device, Tensor};

use super::blocks::{conv, expect_shape};

/// [`Fsrcnn`]'s configuration.
#[derive(Config, Debug, PartialEq)]
pub struct FsrcnnConfig {
    /// Feature channels (the paper: 56).
    #[config(default = 56)]
    pub d: usize,
    /// Shrunk channels (the paper: 12).
    #[config(default = 12)]
    pub s: usize,
    /// Mapping layers (the paper: 4).
    #[config(default = 4)]
    pub m: usize,
    #[config(default = 16)]
    pub lr_size: usize,
}

/// A convolution followed by a per-channel PReLU.
#[derive(Module, Debug)]
pub struct ConvPrelu {
    pub conv: Conv2d,
    pub act: PRelu,
}

impl ConvPrelu {
    fn new(c_in: usize, c_out: usize, k: usize, device: &Device) -> Self {
        Self {
            conv: conv(c_in, c_out, k, 1, device),
            act: PReluConfig::new().with_num_parameters(c_out).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.act.forward(conv2d(&self.conv, x))
    }
}

/// The FSRCNN network.
#[derive(Module, Debug)]
pub struct Fsrcnn {
    pub extract: ConvPrelu,
    pub shrink: ConvPrelu,
    pub map: Vec<ConvPrelu>,
    pub expand: ConvPrelu,
    pub deconv: ConvTranspose2d,
    pub lr_size: usize,
}

impl FsrcnnConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> Fsrcnn {
        Fsrcnn {
            extract: ConvPrelu::new(3, self.d, 5, device),
            shrink: ConvPrelu::new(self.d, self.s, 1, device),
            map: (0..self.m)
                .map(|_| ConvPrelu::new(self.s, self.s, 3, device))
                .collect(),
            expand: ConvPrelu::new(self.s, self.d, 1, device),
            deconv: ConvTranspose2dConfig::new([self.d, 3], [9, 9])
                .with_stride([8, 8])
                .with_padding([1, 1])
                .with_padding_out([1, 1])
                .init(device),
            lr_size: self.lr_size,
        }
    }
}

impl Fsrcnn {
    /// # Shapes
    /// - input `[batch, 3, 16, 16]` in [0, 1]
    /// - output `[batch, 3, 128, 128]` (not clamped)
    ///
    /// # Panics
    /// When the input is not `[batch, 3, lr_size, lr_size]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        expect_shape("FSRCNN", &x, 3, self.lr_size);
        let mut h = self.shrink.forward(self.extract.forward(x)); // [batch, s, 16, 16]
        for layer in &self.map {
            h = layer.forward(h);
        }
        let h = self.expand.forward(h); // [batch, d, 16, 16]
        self.deconv.forward(h) // [batch, 3, 128, 128]
    }
}
