//! Building blocks shared by the networks.

use super::fused::{batch_norm, conv2d, relu};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

/// A `k x k` convolution with "same" padding for odd `k`.
pub fn conv(c_in: usize, c_out: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([c_in, c_out], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .init(device)
}

/// Batch normalisation over `c` channels.
pub fn bn(c: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(c).init(device)
}

/// Nearest-neighbour 2x upsampling, written as a broadcast so that both passes are plain copies
/// and sums.
///
/// # Shapes
/// - input `[batch, c, h, w]`
/// - output `[batch, c, 2h, 2w]`
pub fn upsample_nearest2x(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1]) // [b, c, h, 1, w, 1]
        .expand([b, c, h, 2, w, 2]) // [b, c, h, 2, w, 2]
        .reshape([b, c, 2 * h, 2 * w]) // [b, c, 2h, 2w]
}

/// Conv + BN + ReLU, the discriminator's and the landmark network's unit.
#[derive(Module, Debug)]
pub struct ConvBnRelu {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

impl ConvBnRelu {
    /// A `k x k` conv with the given stride, then BN and ReLU.
    pub fn new(c_in: usize, c_out: usize, k: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv: conv(c_in, c_out, k, stride, device),
            bn: bn(c_out, device),
        }
    }

    /// # Shapes
    /// - input `[batch, c_in, h, w]`
    /// - output `[batch, c_out, h / stride, w / stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(batch_norm(&self.bn, conv2d(&self.conv, x)))
    }
}

/// Panics with a message naming the network and the expected shape when `x` does not match.
/// Networks call this first, so a wrong input fails with a sentence, not deep inside a conv.
pub fn expect_shape(network: &str, x: &Tensor<4>, channels: usize, size: usize) {
    let [_, c, h, w] = x.dims();
    assert!(
        c == channels && h == size && w == size,
        "{network} expects input of shape [batch, {channels}, {size}, {size}], got {:?}",
        x.dims()
    );
}
