//! LandmarkNet: a CNN regressing the 68 iBUG points from an HR face, in the spirit of the first
//! level of Fan & Zhou, "Approaching human level facial landmark localization by deep learning"
//! (Image and Vision Computing 2016; OFHNet's reference [25]): one network sees the whole face and
//! regresses every point at once with convolution + pooling stages and dense layers.
//!
//! OFHNet uses such a network twice (paper Sec. 3.2, Eq. 5): frozen, its last-layer output defines
//! the semantic structure loss. ofhnet trains two instances: the *loss* network, and a separate,
//! wider *evaluation* detector used only for the NRMSE and parsing-IoU metrics, so a model is
//! never judged by the network it was trained against.
//!
//! The output is the 136 coordinates `x1 y1 ... x68 y68` divided by the face side (so in [0, 1]
//! for points inside the crop); [`LandmarkNet::points`] scales them back to pixels.

use super::fused::relu;
use burn::config::Config;
use burn::module::Module;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::blocks::{ConvBnRelu, expect_shape};
use crate::data::landmarks::{Landmarks68, N_POINTS};

/// [`LandmarkNet`]'s configuration.
#[derive(Config, Debug, PartialEq)]
pub struct LandmarkNetConfig {
    /// Widths of the four conv + max-pool stages (after a 2x average-pool of the 128x128 input).
    #[config(default = "[16, 32, 48, 64]")]
    pub widths: [usize; 4],
    /// Width of the hidden dense layer.
    #[config(default = 128)]
    pub hidden: usize,
    /// Side of the HR face.
    #[config(default = 128)]
    pub size: usize,
}

impl LandmarkNetConfig {
    /// The semantic-structure *loss* network's default widths.
    pub fn loss_default() -> Self {
        Self::new()
    }

    /// The *evaluation* detector's default: wider, so it is a different and stronger judge.
    pub fn eval_default() -> Self {
        Self::new().with_widths([24, 48, 64, 96]).with_hidden(256)
    }
}

/// The landmark regression network.
#[derive(Module, Debug)]
pub struct LandmarkNet {
    pub downsample: AvgPool2d,
    pub stages: Vec<ConvBnRelu>,
    pub pool: MaxPool2d,
    pub hidden: Linear,
    pub output: Linear,
    pub size: usize,
}

impl LandmarkNetConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> LandmarkNet {
        let mut c_in = 3;
        let mut stages = Vec::new();
        for w in self.widths {
            stages.push(ConvBnRelu::new(c_in, w, 3, 1, device));
            c_in = w;
        }
        // 128 -> 64 (average pool) -> 32 -> 16 -> 8 -> 4 (four max pools).
        let side = self.size / 2 / 16;
        LandmarkNet {
            downsample: AvgPool2dConfig::new([2, 2]).init(),
            stages,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            hidden: LinearConfig::new(c_in * side * side, self.hidden).init(device),
            output: LinearConfig::new(self.hidden, 2 * N_POINTS).init(device),
            size: self.size,
        }
    }
}

impl LandmarkNet {
    /// The last layer's output: 136 coordinates divided by the face side.
    ///
    /// # Shapes
    /// - input: HR faces `[batch, 3, 128, 128]`, values in [0, 1]
    /// - output: `[batch, 136]`
    ///
    /// # Panics
    /// When the input is not `[batch, 3, size, size]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        expect_shape("LandmarkNet", &x, 3, self.size);
        let mut h = self.downsample.forward(x); // [batch, 3, 64, 64]
        for stage in &self.stages {
            h = self.pool.forward(stage.forward(h));
        } // [batch, w3, 4, 4]
        let h = h.flatten::<2>(1, 3); // [batch, w3 * 16]
        let h = relu(self.hidden.forward(h)); // [batch, hidden]
        self.output.forward(h) // [batch, 136]
    }

    /// Detected points in pixel coordinates of the face, one [`Landmarks68`] per image.
    pub fn points(&self, x: Tensor<4>) -> Vec<Landmarks68> {
        let out = self.forward(x);
        let [batch, _] = out.dims();
        let values: Vec<f32> = out.into_data().try_into_vec::<f32>().unwrap_or_default();
        let scale = self.size as f32;
        (0..batch)
            .filter_map(|i| {
                let row: Vec<f32> = values
                    .get(i * 2 * N_POINTS..(i + 1) * 2 * N_POINTS)?
                    .iter()
                    .map(|v| v * scale)
                    .collect();
                Landmarks68::from_flat(&row)
            })
            .collect()
    }
}
