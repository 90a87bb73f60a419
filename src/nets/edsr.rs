//! EDSR (Lim, Son, Kim, Nah and Lee, "Enhanced Deep Residual Networks for Single Image
//! Super-Resolution", CVPR Workshops 2017), the IN+EDSR baseline: the standard modern
//! super-resolution network, which the OFHNet paper predates.
//!
//! As in the paper's EDSR baseline (and its official code, `model/edsr.py`):
//! - the input minus a fixed RGB mean (DIV2K's, 0.4488 / 0.4371 / 0.4040; added back at the end);
//! - a 3x3 head convolution to `width` channels;
//! - `blocks` residual blocks, each conv-ReLU-conv scaled by `res_scale` and added to its input,
//!   **without BatchNorm** (the paper's point: BN removes range flexibility and costs memory),
//!   then one more 3x3 convolution and a long skip from the head's output;
//! - for 8x, three 2x sub-pixel stages (Shi et al. 2016), each a 3x3 convolution to `4 width`
//!   channels and a pixel shuffle;
//! - a 3x3 convolution to 3 channels.
//!
//! The paper's baseline is 16 blocks of 64 channels with `res_scale` 1 (its large model, 32 x 256
//! at 0.1, is out of reach here). Everything works on RGB in [0, 1], like every other method.

use super::fused::{conv2d, relu};
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};

use super::blocks::{conv, expect_shape};

/// The RGB mean EDSR subtracts from its input (DIV2K's, of the official code's `MeanShift`).
pub const RGB_MEAN: [f32; 3] = [0.4488, 0.4371, 0.4040];

/// [`Edsr`]'s configuration (defaults: the paper's EDSR baseline).
#[derive(Config, Debug, PartialEq)]
pub struct EdsrConfig {
    /// Residual blocks (the baseline: 16).
    #[config(default = 16)]
    pub blocks: usize,
    /// Channels (the baseline: 64).
    #[config(default = 64)]
    pub width: usize,
    /// The scale of each block's residual (the baseline: 1; the large model: 0.1).
    #[config(default = 1.0)]
    pub res_scale: f64,
    #[config(default = 16)]
    pub lr_size: usize,
    #[config(default = 128)]
    pub hr_size: usize,
}

/// conv-ReLU-conv, scaled, plus the input; no BatchNorm.
#[derive(Module, Debug)]
pub struct ResBlock {
    pub conv1: Conv2d,
    pub conv2: Conv2d,
}

/// The EDSR network.
#[derive(Module, Debug)]
pub struct Edsr {
    pub head: Conv2d,
    pub body: Vec<ResBlock>,
    pub body_out: Conv2d,
    /// One 3x3 convolution to `4 width` channels per 2x sub-pixel stage.
    pub up: Vec<Conv2d>,
    pub tail: Conv2d,
    pub res_scale: f64,
    pub lr_size: usize,
    pub hr_size: usize,
}

impl EdsrConfig {
    /// Builds the network on `device`.
    ///
    /// # Panics
    /// When `hr_size / lr_size` is not a power of two.
    pub fn init(&self, device: &Device) -> Edsr {
        let scale = self.hr_size / self.lr_size;
        assert!(
            scale.is_power_of_two() && scale * self.lr_size == self.hr_size,
            "EDSR upsamples by powers of two, not {} to {}",
            self.lr_size,
            self.hr_size
        );
        let w = self.width;
        Edsr {
            head: conv(3, w, 3, 1, device),
            body: (0..self.blocks)
                .map(|_| ResBlock {
                    conv1: conv(w, w, 3, 1, device),
                    conv2: conv(w, w, 3, 1, device),
                })
                .collect(),
            body_out: conv(w, w, 3, 1, device),
            up: (0..scale.trailing_zeros())
                .map(|_| conv(w, 4 * w, 3, 1, device))
                .collect(),
            tail: conv(w, 3, 3, 1, device),
            res_scale: self.res_scale,
            lr_size: self.lr_size,
            hr_size: self.hr_size,
        }
    }
}

/// PyTorch's `pixel_shuffle` with factor 2: channel `4c + 2i + j` becomes the pixel `(2y + i,
/// 2x + j)` of channel `c`.
///
/// # Shapes
/// - input `[batch, 4c, h, w]`
/// - output `[batch, c, 2h, 2w]`
pub fn pixel_shuffle2(x: Tensor<4>) -> Tensor<4> {
    let [b, c4, h, w] = x.dims();
    let c = c4 / 4;
    x.reshape([b, c, 2, 2, h, w]) // [b, c, i, j, y, x]
        .permute([0, 1, 4, 2, 5, 3]) // [b, c, y, i, x, j]
        .reshape([b, c, 2 * h, 2 * w])
}

impl Edsr {
    /// # Shapes
    /// - input `[batch, 3, 16, 16]` in [0, 1]
    /// - output `[batch, 3, 128, 128]` (not clamped)
    ///
    /// # Panics
    /// When the input is not `[batch, 3, lr_size, lr_size]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        expect_shape("EDSR", &x, 3, self.lr_size);
        let mean = Tensor::<1>::from_floats(RGB_MEAN, &x.device()).reshape([1, 3, 1, 1]);
        let head = conv2d(&self.head, x - mean.clone()); // [batch, width, 16, 16]
        let mut h = head.clone();
        for block in &self.body {
            let r = conv2d(&block.conv2, relu(conv2d(&block.conv1, h.clone())));
            h = h + r.mul_scalar(self.res_scale);
        }
        let mut h = conv2d(&self.body_out, h) + head; // the long skip
        for up in &self.up {
            h = pixel_shuffle2(conv2d(up, h)); // size doubles
        }
        conv2d(&self.tail, h) + mean // [batch, 3, 128, 128]
    }
}
