//! Fused batch normalisation, ReLU and convolution backward: one kernel each way where the
//! backend has one.
//!
//! burn 0.22.1's LibTorch backend does not override `ModuleOps::batch_norm_train`, its backward,
//! `batch_norm`, `ActivationOps::relu_backward` or the convolution's backward
//! (`conv2d_x_backward`, `conv2d_weight_backward`, `conv2d_bias_backward`), so burn's generic
//! compositions run there: two `swap_dims` + `reshape` copies for the statistics, two more in the
//! backward pass, a dozen element-wise kernels, ReLU's backward as `lower_equal` + `mask_fill`,
//! and the convolution's weight gradient as a forward convolution of the input by the output
//! gradient (batch and channels swapped), where PyTorch runs `native_batch_norm`,
//! `native_batch_norm_backward`, `threshold_backward` and `convolution_backward` once each
//! (benches/PROFILE.md). This module gives them to LibTorch through burn's backend-extension
//! mechanism (`#[backend_extension]`) without patching burn:
//!
//! - [`FusedOps`] is the extension trait. Its default bodies are burn's own implementations, which
//!   CubeCL keeps. LibTorch overrides them with its kernels (`at::native_batch_norm_backward` and
//!   `at::convolution_backward`, which the `tch` crate does not wrap, come from
//!   `fused_tch.cpp`). burn-flex, which has no batch-norm kernel either, gets single-pass Rust
//!   kernels (its own ReLU is already one pass) and an im2col + matrix-product weight gradient
//!   for the convolution.
//! - `Autodiff<B, C>` implements the forward operations with a hand-written backward step that
//!   calls the inner backend's fused backward (burn-autodiff does the same for `batch_norm_train`;
//!   it records eval-mode `batch_norm` and ReLU as compositions).
//! - [`batch_norm`], [`relu`] and [`conv2d`] are what the networks call: [`batch_norm`] is
//!   `burn::nn::BatchNorm::forward` (same train/eval rule, same running-statistics update, same
//!   module and records, so checkpoints are unchanged) on the fused operations, [`conv2d`] is
//!   `burn::nn::conv::Conv2d::forward`.
//!
//! The unit tests below check outputs and gradients against burn's own implementation on every
//! backend the build has (flex; tch-cpu with `--features tch`), in training and eval mode.

// burn marks LibTorch deprecated in favour of CubeCL; it is our fast CPU path, and the extension
// macro names it.
#![cfg_attr(feature = "tch", allow(deprecated))]

use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Scalar, backend_extension};
use burn::nn::BatchNorm;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Shape, Tensor};

/// Batch normalisation and ReLU as single operations (see the module docs). Tensors are
/// `[batch, channels, ...]` for the input and `[channels]` for everything per channel.
#[backend_extension(
    Flex: cfg(feature = "flex"),
    LibTorch: cfg(feature = "tch"),
    Cube: cfg(feature = "cuda"),
    Autodiff
)]
pub trait FusedOps: Backend {
    /// Normalises with the batch's statistics: `(output, mean, biased variance)`.
    fn fused_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let r = Self::batch_norm_train(x, gamma, beta, epsilon);
        (r.output, r.mean, r.variance)
    }

    /// Gradients of [`fused_batch_norm_train`](FusedOps::fused_batch_norm_train) with respect
    /// to `(x, gamma, beta)`, given the statistics it returned.
    fn fused_batch_norm_train_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let r = Self::batch_norm_train_backward(x, gamma, mean, variance, epsilon, grad);
        (r.x_grad, r.gamma_grad, r.beta_grad)
    }

    /// Normalises with given (running) statistics.
    fn fused_batch_norm_eval(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        Self::batch_norm(x, gamma, beta, mean, variance, epsilon)
    }

    /// Gradients of [`fused_batch_norm_eval`](FusedOps::fused_batch_norm_eval) with respect to
    /// `(x, gamma, beta)` (the statistics are constants).
    fn fused_batch_norm_eval_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        default_batch_norm_eval_backward::<Self>(x, gamma, mean, variance, epsilon, grad)
    }

    /// `max(x, 0)`.
    fn fused_relu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::relu(x)
    }

    /// The gradient of ReLU: `grad` where the forward `output` is positive, else 0.
    fn fused_relu_backward(
        output: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::relu_backward(output, grad)
    }

    /// A 2-D convolution with a bias (burn's `conv2d`; input `[batch, c_in, h, w]`, weight
    /// `[c_out, c_in / groups, kh, kw]`, bias `[c_out]`). (burn 0.22.1's extension macro does
    /// not route an `Option` tensor argument, so the bias is required; [`conv2d`] takes burn's
    /// own path for a convolution without one.)
    fn fused_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, Some(bias), options)
    }

    /// Gradients of [`fused_conv2d`](FusedOps::fused_conv2d) with respect to `x`, `weight` and
    /// the bias, each only when asked for (`None` otherwise).
    #[allow(clippy::type_complexity)]
    fn fused_conv2d_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        options: ConvOptions<2>,
        need: ConvGrads,
    ) -> (
        Option<FloatTensor<Self>>,
        Option<FloatTensor<Self>>,
        Option<FloatTensor<Self>>,
    ) {
        default_conv2d_backward::<Self>(x, weight, grad, options, need)
    }
}

/// Which gradients [`FusedOps::fused_conv2d_backward`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGrads {
    pub x: bool,
    pub weight: bool,
    pub bias: bool,
}

/// [`FusedOps::fused_conv2d_backward`] as burn-autodiff computes it (`conv2d_x_backward`: a
/// transposed convolution; `conv2d_weight_backward`: a convolution of the input by the output
/// gradient with batch and channels swapped; `conv2d_bias_backward`: a sum).
#[allow(clippy::type_complexity)]
fn default_conv2d_backward<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    options: ConvOptions<2>,
    need: ConvGrads,
) -> (
    Option<FloatTensor<B>>,
    Option<FloatTensor<B>>,
    Option<FloatTensor<B>>,
) {
    let dx = need
        .x
        .then(|| B::conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), options.clone()));
    let db = need.bias.then(|| {
        // burn's bias backward reads only the bias's shape.
        let channels = weight.shape()[0];
        let shape = Shape::new([channels]);
        let bias = B::float_zeros(shape, &grad.device(), grad.dtype().into());
        B::conv2d_bias_backward(x.clone(), bias, grad.clone())
    });
    let dw = need
        .weight
        .then(|| B::conv2d_weight_backward(x, weight, grad, options));
    (dx, dw, db)
}

/// [`FusedOps::fused_batch_norm_eval_backward`] out of burn's tensor operations (every backend
/// without a kernel of its own).
fn default_batch_norm_eval_backward<B: Backend>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    mean: FloatTensor<B>,
    variance: FloatTensor<B>,
    epsilon: f64,
    grad: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let shape = x.shape();
    let channels = shape[1];
    let mut per_channel = vec![1; shape.num_dims()];
    per_channel[1] = channels;
    let per_channel = Shape::from(per_channel);
    let inv_std = B::float_reshape(
        B::float_recip(B::float_sqrt(B::float_add_scalar(
            variance,
            Scalar::Float(epsilon),
        ))),
        per_channel.clone(),
    );
    let normalized = B::float_mul(
        B::float_sub(x, B::float_reshape(mean, per_channel.clone())),
        inv_std.clone(),
    );
    let scale = B::float_mul(B::float_reshape(gamma, per_channel), inv_std);
    let x_grad = B::float_mul(grad.clone(), scale);
    let per_channel_sum = |t: FloatTensor<B>| {
        let mut t = t;
        for dim in (0..shape.num_dims()).filter(|&d| d != 1) {
            t = B::float_sum_dim(t, dim);
        }
        B::float_reshape(t, Shape::new([channels]))
    };
    let gamma_grad = per_channel_sum(B::float_mul(grad.clone(), normalized));
    let beta_grad = per_channel_sum(grad);
    (x_grad, gamma_grad, beta_grad)
}

#[cfg(feature = "flex")]
mod flex {
    //! burn-flex has no batch-norm kernel either, so burn's composition (four transposing copies
    //! and a dozen element-wise passes) runs there too. These are the same operations as
    //! single passes over contiguous `f32` NCHW data: one pass per channel for the statistics
    //! (two for the variance, centred as burn computes it), one for the output; in the backward
    //! pass one for the two sums per channel and one for the input gradient. Channels run in
    //! parallel (rayon). Any other dtype or layout takes burn's composition.
    use super::{ConvGrads, FusedOps};
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Flex, TensorMetadata};
    use burn::tensor::TensorData;
    use burn::tensor::ops::ConvOptions;
    use rayon::prelude::*;

    type T = FloatTensor<Flex>;

    /// `(batch, channels, spatial size)` of an `f32` tensor of rank >= 2, made contiguous.
    fn nchw(x: &T) -> Option<(T, usize, usize, usize)> {
        let shape = x.shape();
        if shape.num_dims() < 2
            || shape.num_elements() == 0
            || x.dtype() != burn::tensor::DType::F32
        {
            return None;
        }
        let (n, c) = (shape[0], shape[1]);
        let s = shape.num_elements() / (n * c).max(1);
        let x = if x.as_slice::<f32>().is_some() {
            x.clone()
        } else {
            x.to_contiguous()
        };
        Some((x, n, c, s))
    }

    fn values(t: &T) -> Vec<f32> {
        match t.as_slice::<f32>() {
            Some(v) => v.to_vec(),
            None => t
                .to_contiguous()
                .as_slice::<f32>()
                .map(<[f32]>::to_vec)
                .unwrap_or_default(),
        }
    }

    fn tensor(values: Vec<f32>, shape: burn::tensor::Shape) -> T {
        T::from_data(TensorData::new(values, shape))
    }

    /// The blocks `x[b, c, ..]` of channel `c`, for `b` in the batch.
    fn blocks(
        x: &[f32],
        n: usize,
        c: usize,
        s: usize,
        channel: usize,
    ) -> impl Iterator<Item = &[f32]> {
        (0..n).map(move |b| &x[(b * c + channel) * s..(b * c + channel + 1) * s])
    }

    /// Per channel: mean and biased variance (centred, in f64).
    fn statistics(x: &[f32], n: usize, c: usize, s: usize) -> (Vec<f32>, Vec<f32>) {
        let count = (n * s) as f64;
        (0..c)
            .into_par_iter()
            .map(|ch| {
                let sum: f64 = blocks(x, n, c, s, ch).flatten().map(|&v| v as f64).sum();
                let mean = sum / count;
                let squares: f64 = blocks(x, n, c, s, ch)
                    .flatten()
                    .map(|&v| (v as f64 - mean).powi(2))
                    .sum();
                (mean as f32, (squares / count) as f32)
            })
            .unzip()
    }

    /// `out = (x - mean[c]) * scale[c] + shift[c]`.
    fn affine(
        x: &[f32],
        c: usize,
        s: usize,
        mean: &[f32],
        scale: &[f32],
        shift: &[f32],
    ) -> Vec<f32> {
        let mut out = vec![0.0f32; x.len()];
        out.par_chunks_mut(s)
            .zip(x.par_chunks(s))
            .enumerate()
            .for_each(|(block, (o, xs))| {
                let (m, a, b) = (mean[block % c], scale[block % c], shift[block % c]);
                for (o, &v) in o.iter_mut().zip(xs) {
                    *o = (v - m) * a + b;
                }
            });
        out
    }

    fn inv_std(variance: &[f32], epsilon: f64) -> Vec<f32> {
        variance
            .iter()
            .map(|&v| (1.0 / (v as f64 + epsilon).sqrt()) as f32)
            .collect()
    }

    /// The backward pass of both modes. Per channel, with `xhat = (x - mean) * inv_std`:
    /// `dbeta = sum(dy)`, `dgamma = sum(dy * xhat)`; the input gradient is
    /// `gamma * inv_std * (dy - [dbeta + xhat * dgamma] / count)` with the batch's statistics
    /// (`train`), `gamma * inv_std * dy` with constant ones.
    #[allow(clippy::too_many_arguments)]
    fn backward_slices(
        x: &[f32],
        dy: &[f32],
        n: usize,
        c: usize,
        s: usize,
        gamma: &[f32],
        mean: &[f32],
        inv_std: &[f32],
        train: bool,
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let (dbeta, dgamma): (Vec<f32>, Vec<f32>) = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (m, k) = (mean[ch] as f64, inv_std[ch] as f64);
                let mut sum = 0.0f64;
                let mut dot = 0.0f64;
                for (xs, gs) in blocks(x, n, c, s, ch).zip(blocks(dy, n, c, s, ch)) {
                    for (&v, &g) in xs.iter().zip(gs) {
                        sum += g as f64;
                        dot += g as f64 * (v as f64 - m) * k;
                    }
                }
                (sum as f32, dot as f32)
            })
            .unzip();
        let count = (n * s) as f32;
        let mut dx = vec![0.0f32; x.len()];
        dx.par_chunks_mut(s)
            .zip(x.par_chunks(s).zip(dy.par_chunks(s)))
            .enumerate()
            .for_each(|(block, (out, (xs, gs)))| {
                let ch = block % c;
                let (m, k) = (mean[ch], inv_std[ch]);
                let scale = gamma[ch] * k;
                if train {
                    let (mean_dy, mean_dot) = (dbeta[ch] / count, dgamma[ch] / count);
                    for (o, (&v, &g)) in out.iter_mut().zip(xs.iter().zip(gs)) {
                        *o = scale * (g - mean_dy - (v - m) * k * mean_dot);
                    }
                } else {
                    for (o, &g) in out.iter_mut().zip(gs) {
                        *o = scale * g;
                    }
                }
            });
        (dx, dgamma, dbeta)
    }

    /// [`backward_slices`] on tensors; `None` where the layout or dtype is not ours.
    fn backward(
        x: &T,
        grad: &T,
        gamma: &T,
        mean: &T,
        variance: &T,
        epsilon: f64,
        train: bool,
    ) -> Option<(T, T, T)> {
        let ((x, n, c, s), (grad, ..)) = (nchw(x)?, nchw(grad)?);
        let (dx, dgamma, dbeta) = backward_slices(
            x.as_slice::<f32>()?,
            grad.as_slice::<f32>()?,
            n,
            c,
            s,
            &values(gamma),
            &values(mean),
            &inv_std(&values(variance), epsilon),
            train,
        );
        Some((
            tensor(dx, x.shape()),
            tensor(dgamma, [c].into()),
            tensor(dbeta, [c].into()),
        ))
    }

    /// The weight gradient (and the bias gradient when `bias`) of a 2-D convolution with groups
    /// 1, dilation 1 and symmetric padding, on contiguous `f32` data; `None` for anything else.
    ///
    /// burn computes the weight gradient as a forward convolution of the input by the output
    /// gradient with batch and channels swapped (two transposing copies, then burn-flex's tiled
    /// im2col with a kernel the size of the image and 3x3 outputs). Here it is PyTorch's CPU
    /// way: per batch element, the im2col matrix of the input (`[c_in * kh * kw, ho * wo]`, one
    /// shifted copy of an input plane per row) and one matrix product with the output gradient
    /// (`[c_out, ho * wo]`), accumulated; fixed chunks of the batch in parallel (rayon), each
    /// with its own accumulator and im2col buffer, summed in order (the same result on any
    /// number of threads, as burn's own path). The bias gradient is the per-channel sum of the output
    /// gradient, in the same pass.
    fn conv2d_weight_grad(
        x: &T,
        grad: &T,
        weight_shape: [usize; 4],
        options: &ConvOptions<2>,
        bias: bool,
    ) -> Option<(T, Option<T>)> {
        if options.groups != 1 || options.dilation != [1, 1] || options.is_asymmetric() {
            return None;
        }
        let (x, b, cin, _) = nchw(x)?;
        let (grad, _, cout, _) = nchw(grad)?;
        let xs = x.shape();
        let gs = grad.shape();
        if xs.num_dims() != 4 || gs.num_dims() != 4 || weight_shape[1] != cin {
            return None;
        }
        let (h, w) = (xs[2], xs[3]);
        let (ho, wo) = (gs[2], gs[3]);
        let [_, _, kh, kw] = weight_shape;
        let [sy, sx] = options.stride;
        let [py, px] = options.padding_begin();
        let (x, g) = (x.as_slice::<f32>()?, grad.as_slice::<f32>()?);
        let (hw, ckk) = (ho * wo, cin * kh * kw);
        let acc_len = cout * ckk + cout;
        // Fixed chunks of the batch, each accumulated in order and the chunks summed in order:
        // the result does not depend on the number of threads or on rayon's scheduling.
        const CHUNK: usize = 4;
        let batch: Vec<usize> = (0..b).collect();
        let partials: Vec<Vec<f32>> = batch
            .par_chunks(CHUNK)
            .map(|chunk| {
                let mut acc = vec![0f32; acc_len];
                let mut col = vec![0f32; ckk * hw];
                for &bi in chunk {
                    // im2col: row (ci, ky, kx) holds x[bi, ci, oy*sy + ky - py, ox*sx + kx - px].
                    for (row, out) in col.chunks_exact_mut(hw).enumerate() {
                        let (ci, k) = (row / (kh * kw), row % (kh * kw));
                        let (ky, kx) = (k / kw, k % kw);
                        let plane = &x[(bi * cin + ci) * h * w..][..h * w];
                        for (oy, line) in out.chunks_exact_mut(wo).enumerate() {
                            let iy = (oy * sy + ky).wrapping_sub(py);
                            if iy >= h {
                                line.fill(0.0);
                                continue;
                            }
                            let src = &plane[iy * w..][..w];
                            for (ox, v) in line.iter_mut().enumerate() {
                                let ix = (ox * sx + kx).wrapping_sub(px);
                                *v = if ix < w { src[ix] } else { 0.0 };
                            }
                        }
                    }
                    let gb = &g[bi * cout * hw..][..cout * hw];
                    let (dw, db) = acc.split_at_mut(cout * ckk);
                    // SAFETY: `gb` is cout x hw (row stride hw), `col` read as its transpose
                    // is hw x ckk (row stride 1, column stride hw), `dw` is cout x ckk (row
                    // stride ckk); all three are live for the call and `dw` aliases neither.
                    unsafe {
                        matrixmultiply::sgemm(
                            cout,
                            hw,
                            ckk,
                            1.0,
                            gb.as_ptr(),
                            hw as isize,
                            1,
                            col.as_ptr(),
                            1,
                            hw as isize,
                            1.0,
                            dw.as_mut_ptr(),
                            ckk as isize,
                            1,
                        );
                    }
                    if bias {
                        for (d, row) in db.iter_mut().zip(gb.chunks_exact(hw)) {
                            *d += row.iter().sum::<f32>();
                        }
                    }
                }
                acc
            })
            .collect();
        let mut partials = partials.into_iter();
        let mut sum = partials.next().unwrap_or_else(|| vec![0f32; acc_len]);
        for p in partials {
            sum.iter_mut().zip(&p).for_each(|(a, b)| *a += b);
        }
        let db = bias.then(|| tensor(sum[cout * ckk..].to_vec(), burn::tensor::Shape::new([cout])));
        let mut dw = sum;
        dw.truncate(cout * ckk);
        Some((tensor(dw, burn::tensor::Shape::new(weight_shape)), db))
    }

    impl FusedOps for Flex {
        fn fused_conv2d_backward(
            x: T,
            weight: T,
            grad: T,
            options: ConvOptions<2>,
            need: ConvGrads,
        ) -> (Option<T>, Option<T>, Option<T>) {
            let shape = weight.shape();
            let weight_shape = [shape[0], shape[1], shape[2], shape[3]];
            let fast = match need.weight {
                true => conv2d_weight_grad(&x, &grad, weight_shape, &options, need.bias),
                false => None,
            };
            match fast {
                Some((dw, db)) => {
                    let rest = ConvGrads {
                        x: need.x,
                        weight: false,
                        bias: false,
                    };
                    let (dx, _, _) =
                        super::default_conv2d_backward::<Flex>(x, weight, grad, options, rest);
                    (dx, Some(dw), db)
                }
                None => super::default_conv2d_backward::<Flex>(x, weight, grad, options, need),
            }
        }

        fn fused_batch_norm_train(x: T, gamma: T, beta: T, epsilon: f64) -> (T, T, T) {
            let Some((x, n, c, s)) = nchw(&x) else {
                let r = <Flex as burn::backend::ops::ModuleOps<Flex>>::batch_norm_train(
                    x, gamma, beta, epsilon,
                );
                return (r.output, r.mean, r.variance);
            };
            let shape = x.shape();
            let xs = x.as_slice::<f32>().unwrap_or_default();
            let (mean, variance) = statistics(xs, n, c, s);
            let k = inv_std(&variance, epsilon);
            let (gamma, beta) = (values(&gamma), values(&beta));
            let scale: Vec<f32> = (0..c).map(|i| gamma[i] * k[i]).collect();
            let out = affine(xs, c, s, &mean, &scale, &beta);
            (
                tensor(out, shape),
                tensor(mean, [c].into()),
                tensor(variance, [c].into()),
            )
        }

        fn fused_batch_norm_train_backward(
            x: T,
            gamma: T,
            mean: T,
            variance: T,
            epsilon: f64,
            grad: T,
        ) -> (T, T, T) {
            backward(&x, &grad, &gamma, &mean, &variance, epsilon, true).unwrap_or_else(|| {
                let r = <Flex as burn::backend::ops::ModuleOps<Flex>>::batch_norm_train_backward(
                    x, gamma, mean, variance, epsilon, grad,
                );
                (r.x_grad, r.gamma_grad, r.beta_grad)
            })
        }

        fn fused_batch_norm_eval(x: T, gamma: T, beta: T, mean: T, variance: T, epsilon: f64) -> T {
            let Some((x, _, c, s)) = nchw(&x) else {
                return <Flex as burn::backend::ops::ModuleOps<Flex>>::batch_norm(
                    x, gamma, beta, mean, variance, epsilon,
                );
            };
            let k = inv_std(&values(&variance), epsilon);
            let (gamma, beta, mean) = (values(&gamma), values(&beta), values(&mean));
            let scale: Vec<f32> = (0..c).map(|i| gamma[i] * k[i]).collect();
            tensor(
                affine(
                    x.as_slice::<f32>().unwrap_or_default(),
                    c,
                    s,
                    &mean,
                    &scale,
                    &beta,
                ),
                x.shape(),
            )
        }

        fn fused_batch_norm_eval_backward(
            x: T,
            gamma: T,
            mean: T,
            variance: T,
            epsilon: f64,
            grad: T,
        ) -> (T, T, T) {
            backward(&x, &grad, &gamma, &mean, &variance, epsilon, false).unwrap_or_else(|| {
                // burn has no eval-mode backward of its own: the trait's composition.
                super::default_batch_norm_eval_backward::<Flex>(
                    x, gamma, mean, variance, epsilon, grad,
                )
            })
        }
    }
}

#[cfg(feature = "cuda")]
impl FusedOps for burn::backend::Cube {}

#[cfg(feature = "tch")]
mod libtorch {
    use super::{ConvGrads, FusedOps};
    use burn::backend::LibTorch;
    use burn::backend::tensor::FloatTensor;
    use burn::tensor::ops::ConvOptions;
    use std::ffi::{CStr, c_char, c_int, c_void};

    type Torch = FloatTensor<LibTorch>;

    // src/nets/fused_tch.cpp, compiled by build.rs. A tensor pointer is tch's `C_tensor*` (an
    // `at::Tensor*`); the three it writes are allocated with `new`, and `tch::Tensor::from_ptr`
    // takes them over.
    unsafe extern "C" {
        fn ofhnet_native_batch_norm_backward(
            out: *mut *mut c_void,
            grad_out: *const c_void,
            input: *const c_void,
            weight: *const c_void,
            running_mean: *const c_void,
            running_var: *const c_void,
            save_mean: *const c_void,
            save_invstd: *const c_void,
            train: c_int,
            eps: f64,
        ) -> *mut c_char;
        #[allow(clippy::too_many_arguments)]
        fn ofhnet_convolution_backward(
            out: *mut *mut c_void,
            grad_out: *const c_void,
            input: *const c_void,
            weight: *const c_void,
            stride: *const i64,
            padding: *const i64,
            dilation: *const i64,
            groups: i64,
            bias_channels: i64,
            need_input: c_int,
            need_weight: c_int,
            need_bias: c_int,
        ) -> *mut c_char;
        fn ofhnet_fused_free_message(message: *mut c_char);
    }

    /// Raises the C++ side's error message, if any, as tch's own wrappers do.
    ///
    /// # Safety
    /// `error` is null or a message from `fused_tch.cpp`, not yet freed.
    unsafe fn check(error: *mut c_char, what: &str) {
        if !error.is_null() {
            // SAFETY: a NUL-terminated string malloc'd by fused_tch.cpp, freed once here.
            let message = unsafe { CStr::from_ptr(error) }
                .to_string_lossy()
                .into_owned();
            unsafe { ofhnet_fused_free_message(error) };
            panic!("LibTorch {what}: {message}");
        }
    }

    /// Takes over a tensor the C++ side allocated (null: none).
    ///
    /// # Safety
    /// `t` is null or a fresh `at::Tensor*` that nothing else owns.
    unsafe fn take(t: *mut c_void) -> Option<tch::Tensor> {
        // SAFETY: as the function's contract says.
        (!t.is_null()).then(|| unsafe { tch::Tensor::from_ptr(t.cast()) })
    }

    /// Calls a `fused_tch.cpp` function that writes up to three tensors into the array its
    /// first argument points to, raises its error, and takes the tensors over.
    ///
    /// # Safety
    /// `call` passes every tensor it names as a live, borrowed `at::Tensor*`, and the C++ side
    /// writes a fresh `at::Tensor*` or null into each of the three slots when it succeeds.
    unsafe fn three(
        what: &str,
        call: impl FnOnce(*mut *mut c_void) -> *mut c_char,
    ) -> [Option<tch::Tensor>; 3] {
        let mut out = [std::ptr::null_mut(); 3];
        // SAFETY: as the function's contract says; `out` outlives the call.
        unsafe {
            check(call(out.as_mut_ptr()), what);
            out.map(|t| take(t))
        }
    }

    /// `at::native_batch_norm_backward` with all three gradients. Panics with LibTorch's message
    /// if it throws, as tch's own wrappers do.
    #[allow(clippy::too_many_arguments)]
    fn native_backward(
        grad: &tch::Tensor,
        x: &tch::Tensor,
        gamma: &tch::Tensor,
        running: Option<(&tch::Tensor, &tch::Tensor)>,
        saved: Option<(&tch::Tensor, &tch::Tensor)>,
        epsilon: f64,
    ) -> (tch::Tensor, tch::Tensor, tch::Tensor) {
        let null = std::ptr::null();
        let (running_mean, running_var) = running.map_or((null, null), |(m, v)| {
            (m.as_ptr().cast(), v.as_ptr().cast())
        });
        let (save_mean, save_invstd) = saved.map_or((null, null), |(m, s)| {
            (m.as_ptr().cast(), s.as_ptr().cast())
        });
        // SAFETY: every pointer is a live tensor borrowed for the call (or null where the C++
        // side takes an optional); the C++ side writes three fresh tensors.
        let [dx, dgamma, dbeta] = unsafe {
            three("native_batch_norm_backward", |out| {
                ofhnet_native_batch_norm_backward(
                    out,
                    grad.as_ptr().cast(),
                    x.as_ptr().cast(),
                    gamma.as_ptr().cast(),
                    running_mean,
                    running_var,
                    save_mean,
                    save_invstd,
                    c_int::from(saved.is_some()),
                    epsilon,
                )
            })
        };
        let missing = || panic!("LibTorch native_batch_norm_backward returned no gradient");
        (
            dx.unwrap_or_else(missing),
            dgamma.unwrap_or_else(missing),
            dbeta.unwrap_or_else(missing),
        )
    }

    /// `at::convolution_backward` of a non-transposed 2-D convolution with symmetric padding.
    fn convolution_backward(
        grad: &tch::Tensor,
        x: &tch::Tensor,
        weight: &tch::Tensor,
        options: &ConvOptions<2>,
        need: ConvGrads,
    ) -> (
        Option<tch::Tensor>,
        Option<tch::Tensor>,
        Option<tch::Tensor>,
    ) {
        let pair = |v: [usize; 2]| v.map(|i| i as i64);
        let (stride, padding, dilation) = (
            pair(options.stride),
            pair(options.padding_begin()),
            pair(options.dilation),
        );
        let bias_channels = match need.bias {
            true => weight.size()[0],
            false => -1,
        };
        // SAFETY: every tensor pointer is a live tensor borrowed for the call, the three arrays
        // hold two values each and outlive it; the C++ side writes a fresh tensor (or null for a
        // gradient not asked for) into each slot.
        let [dx, dw, db] = unsafe {
            three("convolution_backward", |out| {
                ofhnet_convolution_backward(
                    out,
                    grad.as_ptr().cast(),
                    x.as_ptr().cast(),
                    weight.as_ptr().cast(),
                    stride.as_ptr(),
                    padding.as_ptr(),
                    dilation.as_ptr(),
                    options.groups as i64,
                    bias_channels,
                    c_int::from(need.x),
                    c_int::from(need.weight),
                    c_int::from(need.bias),
                )
            })
        };
        (dx, dw, db)
    }

    impl FusedOps for LibTorch {
        fn fused_batch_norm_train(
            x: Torch,
            gamma: Torch,
            beta: Torch,
            epsilon: f64,
        ) -> (Torch, Torch, Torch) {
            let (output, mean, inv_std) = x.tensor.native_batch_norm(
                Some(&gamma.tensor),
                Some(&beta.tensor),
                None::<&tch::Tensor>,
                None::<&tch::Tensor>,
                true,
                0.0,
                epsilon,
            );
            // The running statistics take the biased variance, as burn's BatchNorm does.
            let variance = inv_std.square().reciprocal() - epsilon;
            (Torch::new(output), Torch::new(mean), Torch::new(variance))
        }

        fn fused_batch_norm_train_backward(
            x: Torch,
            gamma: Torch,
            mean: Torch,
            variance: Torch,
            epsilon: f64,
            grad: Torch,
        ) -> (Torch, Torch, Torch) {
            let inv_std = (&variance.tensor + epsilon).rsqrt();
            let (dx, dgamma, dbeta) = native_backward(
                &grad.tensor,
                &x.tensor,
                &gamma.tensor,
                None,
                Some((&mean.tensor, &inv_std)),
                epsilon,
            );
            (Torch::new(dx), Torch::new(dgamma), Torch::new(dbeta))
        }

        fn fused_batch_norm_eval(
            x: Torch,
            gamma: Torch,
            beta: Torch,
            mean: Torch,
            variance: Torch,
            epsilon: f64,
        ) -> Torch {
            let output = x.tensor.batch_norm(
                Some(&gamma.tensor),
                Some(&beta.tensor),
                Some(&mean.tensor),
                Some(&variance.tensor),
                false,
                0.0,
                epsilon,
                true,
            );
            Torch::new(output)
        }

        fn fused_batch_norm_eval_backward(
            x: Torch,
            gamma: Torch,
            mean: Torch,
            variance: Torch,
            epsilon: f64,
            grad: Torch,
        ) -> (Torch, Torch, Torch) {
            let (dx, dgamma, dbeta) = native_backward(
                &grad.tensor,
                &x.tensor,
                &gamma.tensor,
                Some((&mean.tensor, &variance.tensor)),
                None,
                epsilon,
            );
            (Torch::new(dx), Torch::new(dgamma), Torch::new(dbeta))
        }

        fn fused_relu(x: Torch) -> Torch {
            <LibTorch as burn::backend::ops::ActivationOps<LibTorch>>::relu(x)
        }

        fn fused_relu_backward(output: Torch, grad: Torch) -> Torch {
            // threshold_backward(grad_output = grad, self = output, 0): one pass.
            Torch::new(output.tensor.threshold_backward(&grad.tensor, 0.0))
        }

        fn fused_conv2d(x: Torch, weight: Torch, bias: Torch, options: ConvOptions<2>) -> Torch {
            <LibTorch as burn::backend::ops::ModuleOps<LibTorch>>::conv2d(
                x,
                weight,
                Some(bias),
                options,
            )
        }

        fn fused_conv2d_backward(
            x: Torch,
            weight: Torch,
            grad: Torch,
            options: ConvOptions<2>,
            need: ConvGrads,
        ) -> (Option<Torch>, Option<Torch>, Option<Torch>) {
            if options.is_asymmetric() {
                // burn-tch pads such an input itself before its convolution; keep burn's way.
                return super::default_conv2d_backward::<LibTorch>(x, weight, grad, options, need);
            }
            let (dx, dw, db) =
                convolution_backward(&grad.tensor, &x.tensor, &weight.tensor, &options, need);
            (dx.map(Torch::new), dw.map(Torch::new), db.map(Torch::new))
        }
    }
}

/// The backward step of both batch-norm modes: with the batch's statistics (`train`, as the
/// forward returned them) or with constant (running) ones.
#[derive(Debug)]
struct BatchNormBackward {
    train: bool,
}

impl<B: FusedOps> Backward<B, 3> for BatchNormBackward {
    // x and gamma are checkpointed; the statistics come as the forward had them.
    type State = (NodeId, NodeId, FloatTensor<B>, FloatTensor<B>, f64);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<B>(&ops.node);
        let (x, gamma, mean, variance, epsilon) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x);
        let gamma = checkpointer.retrieve_node_output::<FloatTensor<B>>(gamma);
        let (x_grad, gamma_grad, beta_grad) = match self.train {
            true => B::fused_batch_norm_train_backward(x, gamma, mean, variance, epsilon, grad),
            false => B::fused_batch_norm_eval_backward(x, gamma, mean, variance, epsilon, grad),
        };
        let [x, gamma, beta] = ops.parents;
        for (node, g) in [(x, x_grad), (gamma, gamma_grad), (beta, beta_grad)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

/// A batch normalisation recorded as one operation: with the batch's statistics when `running`
/// is `None`, else with those. Returns the output and the statistics used.
fn autodiff_batch_norm<B: FusedOps, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    gamma: FloatTensor<Autodiff<B, C>>,
    beta: FloatTensor<Autodiff<B, C>>,
    running: Option<(FloatTensor<B>, FloatTensor<B>)>,
    epsilon: f64,
) -> (FloatTensor<Autodiff<B, C>>, FloatTensor<B>, FloatTensor<B>) {
    let train = running.is_none();
    let forward = |x, gamma, beta| match running {
        None => B::fused_batch_norm_train(x, gamma, beta, epsilon),
        Some((mean, variance)) => {
            let output =
                B::fused_batch_norm_eval(x, gamma, beta, mean.clone(), variance.clone(), epsilon);
            (output, mean, variance)
        }
    };
    let prepared = BatchNormBackward { train }
        .prepare::<C>([x.node(), gamma.node(), beta.node()])
        .compute_bound()
        .stateful();
    match prepared {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let gamma_state = prep.checkpoint(&gamma);
            let (output, mean, variance) = forward(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
            );
            let state = (
                x_state,
                gamma_state,
                mean.clone(),
                variance.clone(),
                epsilon,
            );
            (prep.finish(state, output), mean, variance)
        }
        OpsKind::UnTracked(prep) => {
            let (output, mean, variance) = forward(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
            );
            (prep.finish(output), mean, variance)
        }
    }
}

/// The backward step of a convolution: the gradients its parents (input, weight, bias) need.
#[derive(Debug)]
struct Conv2dBackward;

impl<B: FusedOps> Backward<B, 3> for Conv2dBackward {
    // The input and weight are checkpointed.
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<B>(&ops.node);
        let (x, weight, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight);
        let [x_node, weight_node, bias_node] = ops.parents;
        let need = ConvGrads {
            x: x_node.is_some(),
            weight: weight_node.is_some(),
            bias: bias_node.is_some(),
        };
        let (dx, dw, db) = B::fused_conv2d_backward(x, weight, grad, options, need);
        for (node, g) in [(x_node, dx), (weight_node, dw), (bias_node, db)] {
            if let (Some(node), Some(g)) = (node, g) {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

impl<B: FusedOps, C: CheckpointStrategy> FusedOps for Autodiff<B, C> {
    fn fused_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let prepared = Conv2dBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful();
        match prepared {
            OpsKind::Tracked(mut prep) => {
                let state = (
                    prep.checkpoint(&x),
                    prep.checkpoint(&weight),
                    options.clone(),
                );
                let output = B::fused_conv2d(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                    options,
                );
                prep.finish(state, output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                options,
            )),
        }
    }

    fn fused_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (output, mean, variance) = autodiff_batch_norm::<B, C>(x, gamma, beta, None, epsilon);
        // The statistics leave the graph, as burn-autodiff's batch_norm_train returns them.
        (
            output,
            FloatTensor::<Self>::new(mean),
            FloatTensor::<Self>::new(variance),
        )
    }

    fn fused_batch_norm_eval(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let running = Some((mean.into_primitive(), variance.into_primitive()));
        autodiff_batch_norm::<B, C>(x, gamma, beta, running, epsilon).0
    }

    fn fused_relu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Relu;

        impl<B: FusedOps> Backward<B, 1> for Relu {
            // The output: ReLU's gradient passes where it is positive.
            type State = FloatTensor<B>;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let grad = grads.consume::<B>(&ops.node);
                let [parent] = ops.parents;
                if let Some(node) = parent {
                    grads.register::<B>(node.id, B::fused_relu_backward(ops.state, grad));
                }
            }
        }

        match Relu.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let output = B::fused_relu(x.into_primitive());
                prep.finish(output.clone(), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_relu(x.into_primitive())),
        }
    }
}

/// One of the fused operations, as `OFHNET_FUSED_OPS` names it (in [`Op::ALL`]'s order, which
/// indexes [`parse_fused_ops`]' answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// [`batch_norm`] (`batch_norm`).
    BatchNorm,
    /// [`relu`] (`relu`).
    Relu,
    /// [`conv2d`] (`conv`).
    Conv,
}

impl Op {
    const ALL: [Op; 3] = [Op::BatchNorm, Op::Relu, Op::Conv];

    fn name(self) -> &'static str {
        match self {
            Op::BatchNorm => "batch_norm",
            Op::Relu => "relu",
            Op::Conv => "conv",
        }
    }
}

/// Reads `OFHNET_FUSED_OPS`: unset or `1`, every operation fused; `0`, none (burn's own
/// implementations); or a comma-separated list of `batch_norm`, `relu` and `conv`, those only
/// (to see which operation moves a result). `Err` names an unknown word.
pub fn parse_fused_ops(value: Option<&str>) -> std::result::Result<[bool; 3], String> {
    let Some(value) = value.map(str::trim) else {
        return Ok([true; 3]);
    };
    match value {
        "" | "1" => return Ok([true; 3]),
        "0" => return Ok([false; 3]),
        _ => {}
    }
    let mut on = [false; 3];
    for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let i = Op::ALL
            .iter()
            .position(|op| op.name() == word)
            .ok_or_else(|| {
                format!(
                    "`{value}`: unknown operation `{word}` (expected 0, 1 or a \
                 comma-separated list of batch_norm, relu, conv)"
                )
            })?;
        on[i] = true;
    }
    Ok(on)
}

/// Checks `OFHNET_FUSED_OPS` (the binary calls it at start-up, so a typo stops it at once
/// rather than silently training both ways alike).
pub fn check_env() -> crate::Result<()> {
    parse_fused_ops(std::env::var("OFHNET_FUSED_OPS").ok().as_deref())
        .map(|_| ())
        .map_err(|message| crate::Error::invalid("OFHNET_FUSED_OPS", message))
}

/// Whether `op` takes the fused operation: yes, unless `OFHNET_FUSED_OPS` (read once per
/// process, see [`parse_fused_ops`]) leaves it out, which gives burn's own implementation, so
/// that one binary can train both ways for an A/B check (`scripts/fused-check.sh`). A value
/// that does not parse fuses everything ([`check_env`] refuses it first in the binary).
pub fn enabled(op: Op) -> bool {
    static ENABLED: std::sync::OnceLock<[bool; 3]> = std::sync::OnceLock::new();
    let on = ENABLED.get_or_init(|| {
        parse_fused_ops(std::env::var("OFHNET_FUSED_OPS").ok().as_deref()).unwrap_or([true; 3])
    });
    on[op as usize]
}

/// `conv.forward(x)` of `burn::nn::conv::Conv2d` (the same padding rule, module and records) on
/// [`FusedOps::fused_conv2d`], whose backward pass is LibTorch's `convolution_backward` on tch
/// (burn's own elsewhere).
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    // burn's rule for explicit and valid padding (burn-nn's `calculate_padding_2d_pairs` is
    // crate-private); "same" padding and bias-free convolutions take burn's own path.
    let padding = match &conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(*top, *bottom), (*left, *right)],
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Same => return conv.forward(x),
    };
    let Some(bias) = conv.bias.as_ref().filter(|_| enabled(Op::Conv)) else {
        return conv.forward(x);
    };
    let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_conv2d(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        bias.val().into_dispatch(),
        options,
    ))
}

/// `max(x, 0)` through [`FusedOps::fused_relu`] (LibTorch: `relu` forward, `threshold_backward`
/// backward).
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    match enabled(Op::Relu) {
        true => fused_relu(x),
        false => burn::tensor::activation::relu(x),
    }
}

fn fused_relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_relu(x.into_dispatch()))
}

/// `bn.forward(x)` of `burn::nn::BatchNorm` on the fused operations: the batch's statistics (and
/// the running-statistics update) when the device records gradients and `bn` is training, the
/// running statistics otherwise.
pub fn batch_norm<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    match enabled(Op::BatchNorm) {
        true => fused_batch_norm(bn, x),
        false => bn.forward(x),
    }
}

fn fused_batch_norm<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if device.is_autodiff() && bn.training.is_enabled() {
        let (output, mean, variance) = <Dispatch as FusedOps>::fused_batch_norm_train(
            x.into_dispatch(),
            bn.gamma.val().into_dispatch(),
            bn.beta.val().into_dispatch(),
            bn.epsilon,
        );
        let mean = Tensor::<1>::from_dispatch(mean).detach();
        let variance = Tensor::<1>::from_dispatch(variance).detach();
        let momentum = bn.momentum;
        let running_mean = bn.running_mean.value_sync().to_device(&device);
        let running_var = bn.running_var.value_sync().to_device(&device);
        bn.running_mean
            .update((running_mean.mul_scalar(1.0 - momentum) + mean.mul_scalar(momentum)).detach());
        bn.running_var.update(
            (running_var.mul_scalar(1.0 - momentum) + variance.mul_scalar(momentum)).detach(),
        );
        Tensor::from_dispatch(output)
    } else {
        let mean = bn.running_mean.value().to_device(&device);
        let variance = bn.running_var.value().to_device(&device);
        Tensor::from_dispatch(<Dispatch as FusedOps>::fused_batch_norm_eval(
            x.into_dispatch(),
            bn.gamma.val().into_dispatch(),
            bn.beta.val().into_dispatch(),
            mean.into_dispatch(),
            variance.into_dispatch(),
            bn.epsilon,
        ))
    }
}

#[cfg(test)]
mod tests {
    //! Fused against burn's own implementation (`BatchNorm::forward`, `activation::relu`), on
    //! every backend of the build: outputs, the gradients of a weighted sum of the output with
    //! respect to the input, gamma and beta, and the running statistics, to 1e-5 (relative
    //! above 1).
    use super::*;
    use burn::module::{Module, Param, RunningState};
    use burn::tensor::{Device, TensorData};
    use rand::{Rng, SeedableRng};

    fn devices() -> Vec<(&'static str, Device)> {
        vec![
            #[cfg(feature = "flex")]
            ("flex", Device::flex()),
            #[cfg(feature = "tch")]
            ("tch-cpu", Device::libtorch()),
        ]
    }

    fn random<const D: usize>(
        shape: [usize; D],
        seed: u64,
        scale: f32,
        device: &Device,
    ) -> Tensor<D> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let n = shape.iter().product::<usize>();
        let values: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// The same BatchNorm every call (separate modules share no running state).
    fn batch_norm_module(device: &Device, training: bool) -> BatchNorm {
        BatchNorm {
            gamma: Param::from_tensor(random([3], 1, 1.5, device)),
            beta: Param::from_tensor(random([3], 2, 0.5, device)),
            training: Param::from_bool(training),
            running_mean: RunningState::new(random([3], 3, 0.3, device)),
            running_var: RunningState::new(random([3], 4, 0.4, device).add_scalar(1.0)),
            momentum: 0.1,
            epsilon: 1e-5,
        }
    }

    fn assert_close<const D: usize>(what: &str, fused: Tensor<D>, reference: Tensor<D>) {
        let fused: Vec<f32> = fused.into_data().try_into_vec::<f32>().unwrap();
        let reference: Vec<f32> = reference.into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(fused.len(), reference.len(), "{what}: length");
        for (i, (a, b)) in fused.iter().zip(&reference).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "{what}[{i}]: fused {a} vs burn {b}"
            );
        }
    }

    /// Runs `forward` on a fresh module and input, returns (output, dx, dgamma, dbeta, running
    /// mean, running var); gradients are those of `sum(output * w)`.
    fn run(
        device: &Device,
        training: bool,
        frozen: bool,
        forward: fn(&BatchNorm, Tensor<4>) -> Tensor<4>,
    ) -> [Tensor<1>; 6] {
        let ad = device.clone().autodiff();
        let mut bn = batch_norm_module(&ad, training);
        if frozen {
            bn = bn.freeze();
        }
        let input = random([4, 3, 5, 6], 5, 2.0, &ad).require_grad();
        // Inside the graph, as the landmark network sits behind the generator: the BatchNorm's
        // input is the result of an operation on a tracked tensor.
        let x = input.clone().mul_scalar(1.5).add_scalar(0.25);
        let w = random([4, 3, 5, 6], 6, 1.0, &ad);
        let output = forward(&bn, x);
        let grads = (output.clone() * w).sum().backward();
        let flat = |t: Tensor<4>| t.inner().reshape([-1]);
        let zero = || Tensor::<1>::zeros([3], device);
        [
            flat(output),
            input.grad(&grads).map(flat).unwrap_or_else(zero),
            bn.gamma.val().grad(&grads).unwrap_or_else(zero),
            bn.beta.val().grad(&grads).unwrap_or_else(zero),
            bn.running_mean.value().inner(),
            bn.running_var.value().inner(),
        ]
    }

    fn compare(training: bool, frozen: bool) {
        for (name, device) in devices() {
            let fused = run(&device, training, frozen, fused_batch_norm);
            let reference = run(&device, training, frozen, |bn, x| bn.forward(x));
            let labels = [
                "output",
                "input grad",
                "gamma grad",
                "beta grad",
                "running mean",
                "running var",
            ];
            for ((label, f), r) in labels.iter().zip(fused).zip(reference) {
                assert_close(
                    &format!("{name} training={training} frozen={frozen} {label}"),
                    f,
                    r,
                );
            }
        }
    }

    #[test]
    fn fused_ops_setting_names_operations_and_refuses_typos() {
        assert_eq!(parse_fused_ops(None), Ok([true; 3]));
        assert_eq!(parse_fused_ops(Some(" 1 ")), Ok([true; 3]));
        assert_eq!(parse_fused_ops(Some("0")), Ok([false; 3]));
        assert_eq!(parse_fused_ops(Some("relu, conv")), Ok([false, true, true]));
        assert_eq!(
            parse_fused_ops(Some("batch_norm")),
            Ok([true, false, false])
        );
        let e = parse_fused_ops(Some("relu,batchnorm")).expect_err("a typo");
        assert!(e.contains("`batchnorm`"), "{e}");
    }

    #[test]
    fn batch_norm_train_matches_burn() {
        compare(true, false);
    }

    #[test]
    fn batch_norm_eval_with_trainable_parameters_matches_burn() {
        compare(false, false);
    }

    /// The frozen landmark network's case: eval-mode BatchNorm, parameters without gradients,
    /// inside the autodiff graph of the semantic loss.
    #[test]
    fn batch_norm_frozen_inside_the_graph_matches_burn() {
        compare(true, true);
    }

    #[test]
    fn batch_norm_without_autodiff_matches_burn() {
        for (name, device) in devices() {
            for training in [true, false] {
                let bn = batch_norm_module(&device, training);
                let x = random([2, 3, 4, 4], 7, 2.0, &device);
                assert_close(
                    &format!("{name} inference training={training}"),
                    fused_batch_norm(&bn, x.clone()),
                    bn.forward(x),
                );
            }
        }
    }

    /// Convolution, fused against `Conv2d::forward`: outputs and the gradients of the input,
    /// weight and bias; with the input inside the graph or a plain data tensor (the first
    /// layer's case: no input gradient), and with frozen parameters (the landmark network's
    /// case: only the input gradient).
    #[test]
    fn conv2d_matches_burn() {
        use burn::nn::conv::Conv2dConfig;
        for (name, device) in devices() {
            let ad = device.clone().autodiff();
            for (stride, padding, input_tracked, frozen) in [
                (1, 1, true, false),
                (1, 1, false, false),
                (2, 0, true, false),
                (1, 1, true, true),
            ] {
                let mut conv = Conv2dConfig::new([3, 4], [3, 3])
                    .with_stride([stride, stride])
                    .with_padding(PaddingConfig2d::Explicit(
                        padding, padding, padding, padding,
                    ))
                    .init(&ad);
                conv.weight = Param::from_tensor(random([4, 3, 3, 3], 10, 0.5, &ad));
                conv.bias = Some(Param::from_tensor(random([4], 11, 0.5, &ad)));
                if frozen {
                    conv = conv.freeze();
                }
                let input = random([2, 3, 9, 8], 12, 1.0, &ad);
                let input = if input_tracked {
                    input.require_grad()
                } else {
                    input
                };
                let out_shape = conv.forward(input.clone()).dims();
                let w = random(out_shape, 13, 1.0, &ad);
                let result = |fused: bool| {
                    let x = input.clone().mul_scalar(1.5);
                    let out = match fused {
                        true => conv2d(&conv, x),
                        false => conv.forward(x),
                    };
                    let grads = (out.clone() * w.clone()).sum().backward();
                    let zero = || Tensor::<1>::zeros([1], &device);
                    [
                        out.inner().reshape([-1]),
                        input.grad(&grads).map_or_else(zero, |g| g.reshape([-1])),
                        conv.weight
                            .val()
                            .grad(&grads)
                            .map_or_else(zero, |g| g.reshape([-1])),
                        conv.bias
                            .as_ref()
                            .and_then(|b| b.val().grad(&grads))
                            .unwrap_or_else(zero),
                    ]
                };
                let labels = ["output", "input grad", "weight grad", "bias grad"];
                for ((label, f), r) in labels.iter().zip(result(true)).zip(result(false)) {
                    assert_close(
                        &format!(
                            "{name} conv stride={stride} padding={padding} \
                             input_tracked={input_tracked} frozen={frozen} {label}"
                        ),
                        f,
                        r,
                    );
                }
            }
        }
    }

    #[test]
    fn relu_matches_burn_with_exact_zeros() {
        for (name, device) in devices() {
            let ad = device.clone().autodiff();
            // Rounded to tenths, so that some inputs are exactly 0 (both give them gradient 0).
            let input = random([2, 3, 4, 5], 8, 1.0, &ad)
                .mul_scalar(5.0)
                .round()
                .div_scalar(5.0)
                .require_grad();
            let w = random([2, 3, 4, 5], 9, 1.0, &ad);
            let result = |f: fn(Tensor<4>) -> Tensor<4>| {
                let out = f(input.clone().mul_scalar(2.0));
                let grads = (out.clone() * w.clone()).sum().backward();
                (out.inner(), input.grad(&grads).unwrap())
            };
            let (out, grad) = result(fused_relu);
            let (out_ref, grad_ref) = result(burn::tensor::activation::relu);
            assert_close(&format!("{name} relu output"), out, out_ref);
            assert_close(&format!("{name} relu grad"), grad, grad_ref);
        }
    }
}
