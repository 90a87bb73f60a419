//! The discriminator of OFHNet's adversarial loss (paper Sec. 3.2, Eqs. 3-4): six
//! Conv+BN+ReLU layers, then a stride-2 convolution with a ReLU, a dense layer and a sigmoid,
//! on 128x128 faces.
//!
//! Strides (2, 1, 2, 1, 2, 2) and a stride-2 final convolution take 128x128 to 4x4 before the
//! dense layer; the paper does not give them. [`Discriminator::forward`] returns the logit: the
//! sigmoid is applied inside the losses, in the numerically stable log-sigmoid form, and by
//! [`Discriminator::probability`].

use super::fused::{conv2d, relu};
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use super::blocks::{ConvBnRelu, conv, expect_shape};

/// Strides of the six Conv+BN+ReLU layers.
const STRIDES: [usize; 6] = [2, 1, 2, 1, 2, 2];

/// [`Discriminator`]'s configuration.
#[derive(Config, Debug, PartialEq)]
pub struct DiscriminatorConfig {
    /// Widths of the six Conv+BN+ReLU layers.
    #[config(default = "[8, 8, 16, 16, 32, 32]")]
    pub widths: [usize; 6],
    /// Side of the HR face.
    #[config(default = 128)]
    pub size: usize,
}

/// The discriminator.
#[derive(Module, Debug)]
pub struct Discriminator {
    pub layers: Vec<ConvBnRelu>,
    pub last_conv: Conv2d,
    pub dense: Linear,
    pub size: usize,
}

impl DiscriminatorConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> Discriminator {
        let mut c_in = 3;
        let mut side = self.size;
        let mut layers = Vec::new();
        for (w, s) in self.widths.iter().zip(STRIDES) {
            layers.push(ConvBnRelu::new(c_in, *w, 3, s, device));
            c_in = *w;
            side /= s;
        }
        let last = self.widths[5];
        side /= 2;
        Discriminator {
            layers,
            last_conv: conv(c_in, last, 3, 2, device),
            dense: LinearConfig::new(last * side * side, 1).init(device),
            size: self.size,
        }
    }
}

impl Discriminator {
    /// The logit that each face is real.
    ///
    /// # Shapes
    /// - input: `[batch, 3, 128, 128]`, values in [0, 1]
    /// - output: `[batch, 1]`
    ///
    /// # Panics
    /// When the input is not `[batch, 3, size, size]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        expect_shape("Discriminator", &x, 3, self.size);
        let mut h = x;
        for layer in &self.layers {
            h = layer.forward(h);
        } // [batch, w5, 8, 8]
        let h = relu(conv2d(&self.last_conv, h)); // [batch, w5, 4, 4]
        let h = h.flatten::<2>(1, 3); // [batch, w5 * 16]
        self.dense.forward(h) // [batch, 1]
    }

    /// The probability that each face is real, `[batch, 1]`.
    pub fn probability(&self, x: Tensor<4>) -> Tensor<2> {
        sigmoid(self.forward(x))
    }
}
