"""PyTorch reference implementation of ofhnet's networks and training steps.

A layer-for-layer mirror of the Rust (burn 0.22) code, written for a side-by-side benchmark:
the same networks with the same layers, widths and parameter counts, and one optimisation step of
each training stage done the way the Rust trainer does it (same losses, optimisers,
hyper-parameters and order of the discriminator and generator updates).

What it mirrors (paths relative to the repository root):

- ``src/nets/blocks.rs``         ``conv`` (k x k, padding k // 2, bias), ``bn`` (burn BatchNorm:
                                  eps 1e-5, momentum 0.1), ``upsample_nearest2x``, ``ConvBnRelu``.
- ``src/nets/inpaint.rs``        :class:`InpaintNet` (encoder Conv3x3+ReLU+BN, strides 1,1,2,2;
                                  decoder nearest 2x+BN+ReLU+Conv3x3+BN+ReLU; Conv+ReLU,
                                  Conv+sigmoid).
- ``src/nets/upsample.rs``       :class:`UpsampleNet` with :class:`ResidualUpsampleBlock`
                                  (1x1 projection skip when the width changes).
- ``src/nets/discriminator.rs``  :class:`Discriminator` (six ConvBnRelu, strides 2,1,2,1,2,2, a
                                  stride-2 conv + ReLU, a dense layer; returns the logit).
- ``src/nets/landmark.rs``       :class:`LandmarkNet` (2x average pool, four ConvBnRelu + 2x max
                                  pool, dense + ReLU, dense to 136).
- ``src/nets/vdsr.rs``           :class:`Vdsr`;  ``src/nets/fsrcnn.rs`` :class:`Fsrcnn`;
  ``src/nets/urdgn.rs``          :class:`UrdgnGenerator`;  ``src/nets/generator.rs`` (stage-2
                                  generator choice).
- ``src/train/config.rs``        :class:`OfhnetConfig` (Rust: `TrainConfig`) / :class:`StageSpec`: presets tiny/cpu/paper,
                                  default widths, loss weights, learning rates, lr schedules.
- ``src/train/stages.rs``        :func:`stage1_step`, :func:`stage2_step`, :func:`composite`,
                                  :func:`infer` (``src/model.rs`` ``Ofhnet::hallucinate``).
- ``src/losses.rs``              :func:`mse`, :func:`discriminator_loss`,
                                  :func:`generator_adversarial_loss`.
- ``src/train/tensors.rs``       :func:`raw_to_tensor` (HWC u8 -> NCHW f32 / 255),
                                  :func:`tensor_to_u8` (round half up, clamp).
- ``src/train/landmarks.rs``     the landmark network's default widths per role (loss / eval).
- ``src/data/occlusion.rs``      the training hole law (one square, side uniform in 4..=8, inside
                                  the 16x16 image, pixels set to 0), used for the random inputs.
- ``src/evaluate.rs``            :func:`evaluate` (``evaluate_model`` / ``evaluate_pipeline`` with an
                                  evaluation detector: the method and IN+bicubic behind the same
                                  InpaintNet outputs, every metric), batches of 32.
- ``src/metrics/psnr_ssim.rs``   :func:`psnr`, :func:`ssim`, :func:`luma_bt601`, :func:`image_scores`.
- ``src/metrics/landmarks.rs``   :func:`nrmse`;  ``src/nets/landmark.rs`` ``points``: :func:`detect`.
- ``src/metrics/parsing.rs``     :func:`parsing_maps` (``face_polygons``, ``fill_polygon``),
                                  :func:`fill_polygons`, :func:`mean_iou`.
- ``src/data/resize.rs``         ``upscale`` (IN+bicubic): :func:`bicubic_u8`.
- ``src/cli/hallucinate.rs``     :func:`hallucinate_dir` (``input_files`` + ``hallucinate_files``:
                                  list, read, :func:`to_lr`, infer 32 faces at a time, write PNG).

Facts of the Rust code that the mirror reproduces (checked against the burn 0.22.1 sources):

- Every conv / transposed conv / linear has a bias (burn's default). BatchNorm: eps 1e-5,
  momentum 0.1 (running = (1 - m) running + m batch), affine. PReLU: one slope per channel, 0.25.
- burn's ``AvgPool2dConfig::new([2, 2])`` / ``MaxPool2dConfig::new([2, 2])`` default their strides
  to the kernel size, no padding: PyTorch ``AvgPool2d(2)`` / ``MaxPool2d(2)``.
- Adam is burn's ``AdamConfig::new()``: betas (0.9, 0.999), **eps 1e-5** (burn's default, not
  PyTorch's 1e-8), no weight decay, no AMSGrad, no gradient clipping. Stage 2's discriminator
  optimiser is ``AdamConfig::new().with_beta_1(0.5)``: betas (0.5, 0.999), eps 1e-5.
- Learning rates (``StageSpec::default``): stage 1 lr 1e-3 (batch 64 by default), stage 2
  generator lr 1e-3, discriminator lr 1e-4 (batch 16); schedule constant (default) or cosine
  ``lr * 0.5 (1 + cos(pi step / total))`` applied to both stage-2 optimisers.
- Stage 1: ``loss = w_inpaint_l2 * mean((IN(occluded) - clean)^2)``, InpaintNet in training mode.
- Stage 2, per step (``train_stage2``): the frozen InpaintNet (inference mode, BN running stats,
  no autodiff) inpaints the occluded batch; with ``composite`` (default true) the known pixels of
  the occluded input are kept and the hole (pixels whose channel sum is <= 1e-6) is taken from
  InpaintNet; ``fake = G(input)`` once; then, only when the adversarial block is on:
  D step first, ``-[mean log sigmoid(D(hr)) + mean log sigmoid(-D(fake.detach()))]`` with two
  separate D forwards (real, then fake), D in training mode; then the G step on
  ``w_l2 * mse(fake, hr) + w_adv * (-mean log sigmoid(D(fake))) + w_ss * mse(L(fake), L(hr))``
  where ``D(fake)`` uses the *just-updated* D (still training mode: its BN running stats are
  updated a third time) and ``L`` is the frozen landmark network (BN inference mode, no weight
  gradients; ``L(hr)`` detached). Each loss term is read back to the host (``finite``) before its
  backward pass, which is mirrored with ``.item()``.
- Loss defaults (``LossesSpec::default``): inpaint_l2 1, l2 1, adversarial 1e-3, semantic off (it
  needs a trained landmark network). The harness trains VDSR and FSRCNN with L2 only and URDGN
  with L2 + adversarial (``src/harness/experiment.rs``, ``train_config``); :func:`method_losses`
  gives those defaults.

Where the mirror is not, or may not be, exact (nothing else is known to differ):

1. BatchNorm running variance: burn updates ``running_var`` with the *biased* batch variance
   (``batch_norm_train`` returns the population variance); PyTorch's ``BatchNorm2d`` uses the
   *unbiased* one (n / (n - 1)). The normalisation in training mode is identical (both biased);
   only the running statistics, hence inference-mode outputs after training, differ slightly.
   PyTorch's BN also holds an int64 ``num_batches_tracked`` buffer that burn does not have
   (counted separately by ``shapes``). Kept as ``nn.BatchNorm2d`` on purpose (PyTorch's fast
   kernels are what a benchmark should compare against).
2. Adam arithmetic: burn computes ``m * sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + eps sqrt(1 -
   b2^t))``; PyTorch ``m / (1 - b1^t) / (sqrt(v) / sqrt(1 - b2^t) + eps)``. Algebraically equal;
   float32 rounding differs at the ulp level.
3. ``upsample_nearest2x`` is written in Rust as a reshape/expand/reshape broadcast; here it is
   ``F.interpolate(scale_factor=2, mode="nearest")``. The values are identical; the kernels differ.
4. VDSR's bicubic: ``src/nets/vdsr.rs`` upscales with burn's bicubic (a = -0.75, clamped
   borders) at half-pixel centres (``with_align_corners(false)``); here
   ``F.interpolate(mode="bicubic", align_corners=False)``, the same kernel and geometry (a test
   pins burn's values to PyTorch's).
5. Initialisation and RNG streams are not mirrored (burn's Kaiming-uniform variants vs PyTorch's
   defaults; ``seeded_init``), so weights, and with them the loss values, differ from a Rust run
   with the same seed. Shapes, parameter counts and the work done per step do not.
6. Data: random u8 faces instead of a prepared split, and the holes drawn with PyTorch's RNG
   instead of ``Sampler::hole``'s ChaCha8 (same law). The sampler's epoch permutation, the image
   copies of ``lr_batch`` and the hole cutting are done *outside* the timed region; the
   HWC-u8 -> NCHW-f32 conversion (``raw_to_tensor``) is done inside it, as in the Rust step.
7. Stage 2's InpaintNet and the semantic loss's landmark network are freshly initialised here; in
   Rust they are loaded trained (``inpaint.bpk``, a ``landmarks train`` directory whose
   ``spec.json`` fixes the landmark widths; the mirror uses the loss role's defaults 16/32/48/64,
   hidden 128 unless told otherwise). In Rust the InpaintNet runs on the plain (non-autodiff)
   device and its output is copied to the autodiff device through host memory
   (``into_data`` / ``from_data``); here it runs under ``torch.no_grad()`` with no copy.
8. The generator's backward pass: burn's ``loss.backward()`` computes gradients for every tracked
   parameter, the discriminator's included, and ``GradientsParams::from_grads(.., &generator)``
   keeps the generator's. PyTorch does the same work (D's ``.grad`` is filled and cleared by the
   next D step's ``zero_grad``). Where the adversarial block is off, D is built but never run, in
   both.
9. Not mirrored: the train log (CSV row every ``log_every`` steps), checkpoints (every
   ``checkpoint_every`` steps), the progress bar, config validation and resumption.
10. ``infer`` mirrors ``Ofhnet::hallucinate`` (``src/model.rs``): u8 images in, the networks in
    inference mode, the composite input and the HR output rounded to u8 (``round_u8``: ``floor(255
    v + 0.5)`` in f64, clamped). The rounding is done in float64 here as in Rust.
11. The discriminator applies a ReLU after its last (stride-2) convolution: the code
    (``Discriminator::forward``) has it although the module doc lists only "a convolution, a dense
    layer and a sigmoid". The mirror follows the code. (The sigmoid lives in the losses.)
12. On CUDA, TF32 is switched off for convolutions and matmuls (``--tf32`` turns it on) so that the
    arithmetic is float32 like burn's; cuDNN's algorithm choice is PyTorch's own.
13. ``evaluate``: the random protocol's hole of a test face is drawn from its name with a torch
    generator seeded by the name's CRC-32 (Rust: ChaCha8 seeded by ``name_seed(name)``): the same
    law, other holes. The split is random u8 faces (HR and LR drawn independently), as in Rust's
    bench; Rust copies each face out of the split as an image per batch, here tensors are sliced.
    The detector is a fresh LandmarkNet of the evaluation role's widths (24/48/64/96, hidden 256),
    as ``bench.rs`` builds it.
14. Metric arithmetic is float64 throughout, as in Rust, in another summation order: SSIM's
    Gaussian filter over the valid region is two matrix products ``G X G^T`` here (a float64
    depthwise ``conv2d`` is several times slower on CPU) and two 11-tap loops in Rust; the means
    are torch's. Values agree to about 1e-13 (checked against ``ofhnet metrics`` and the parsing
    and NRMSE values pinned in ``tests/metrics.rs``). The parsing maps are exact: the same f64
    crossings, and "an odd number of crossings at or left of the pixel centre" (batched over
    faces, classes, rows and columns with ``searchsorted``) is Rust's sorted-span fill.
15. Work per face differs slightly: Rust scores one face at a time (``Values::score``) and draws
    the ground truth's parsing map once per method (twice per face); the reference scores a batch
    at once and draws it once per face. Rust builds a ``Scores`` row (with strings) per face and
    method; the reference a dict.
16. IN+bicubic: ``resize::upscale`` is two f64 passes over the taps; here ``M X M^T`` in float64
    with the same weights (:func:`protocol_bicubic`), then the same rounding.
17. ``hallucinate``: inputs are 128x128 PNG faces (the protocol's HR crop; the law of ``bench.rs``
    ``write_random_faces``, another RNG). They are downscaled with PIL's ``Image.resize(BICUBIC)``
    (fixed-point weights, rounded to u8 between the passes) where ``resize::downscale`` runs both
    passes in f64 (they agree to under PROTOCOL's 0.5 grey level). PNGs are decoded and encoded by
    PIL (zlib level 6) here and by the ``image`` crate (its default compression) in Rust: same
    pixels, different bytes and encoder work. An input of an unsupported size raises
    ``ValueError`` (Rust: ``Error::ImageSize``); ``--mask`` and ``--grid`` are not mirrored.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import re
import resource
import shutil
import sys
import tempfile
import time
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Optional, Sequence

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

N_POINTS = 68
LR_SIZE = 16
HR_SIZE = 128
BN_EPS = 1e-5  # burn BatchNormConfig default
BN_MOMENTUM = 0.1  # burn BatchNormConfig default (same convention as PyTorch)
ADAM_EPS = 1e-5  # burn AdamConfig default
ADAM_BETAS = (0.9, 0.999)  # burn AdamConfig default
ADAM_BETAS_D = (0.5, 0.999)  # AdamConfig::new().with_beta_1(0.5), src/train/stages.rs


# --------------------------------------------------------------------------------------------
# Building blocks (src/nets/blocks.rs)
# --------------------------------------------------------------------------------------------


def conv(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Conv2d:
    """A k x k convolution with "same" padding for odd k (``blocks::conv``), with bias."""
    return nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=True)


def bn(c: int) -> nn.BatchNorm2d:
    """burn's ``BatchNormConfig::new(c)``: eps 1e-5, momentum 0.1, affine."""
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


def upsample_nearest2x(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour 2x (``blocks::upsample_nearest2x``); same values as the broadcast."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


def expect_shape(network: str, x: torch.Tensor, channels: int, size: int) -> None:
    """``blocks::expect_shape``: the same message as the Rust panic."""
    if x.dim() != 4 or x.shape[1] != channels or x.shape[2] != size or x.shape[3] != size:
        raise ValueError(
            f"{network} expects input of shape [batch, {channels}, {size}, {size}], "
            f"got {list(x.shape)}"
        )


class ConvBnRelu(nn.Module):
    """Conv + BN + ReLU, the discriminator's and the landmark network's unit."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int):
        super().__init__()
        self.conv = conv(c_in, c_out, k, stride)
        self.bn = bn(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


# --------------------------------------------------------------------------------------------
# InpaintNet (src/nets/inpaint.rs)
# --------------------------------------------------------------------------------------------


class EncoderBlock(nn.Module):
    """Conv3x3 + ReLU + BN (the paper's order)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv = conv(c_in, c_out, 3, stride)
        self.bn = bn(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(x)))


class UpsampleModule(nn.Module):
    """Nearest 2x + BN + ReLU + Conv3x3 + BN + ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.bn_in = bn(c_in)
        self.conv = conv(c_in, c_out, 3, 1)
        self.bn_out = bn(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = upsample_nearest2x(x)
        h = F.relu(self.bn_in(h))
        return F.relu(self.bn_out(self.conv(h)))


class InpaintNet(nn.Module):
    """The LR inpainting encoder-decoder: ``[b, 3, 16, 16]`` -> ``[b, 3, 16, 16]`` in (0, 1)."""

    STRIDES = (1, 1, 2, 2)

    def __init__(
        self,
        encoder: Sequence[int] = (16, 32, 64, 64),
        decoder: Sequence[int] = (64, 32),
        size: int = LR_SIZE,
    ):
        super().__init__()
        assert len(encoder) == 4 and len(decoder) == 2
        self.size = size
        c_in = 3
        enc = []
        for w, s in zip(encoder, self.STRIDES):
            enc.append(EncoderBlock(c_in, w, s))
            c_in = w
        self.encoder = nn.ModuleList(enc)
        dec = []
        for w in decoder:
            dec.append(UpsampleModule(c_in, w))
            c_in = w
        self.decoder = nn.ModuleList(dec)
        self.conv_a = conv(c_in, c_in, 3, 1)
        self.conv_b = conv(c_in, 3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_shape("InpaintNet", x, 3, self.size)
        h = x
        for block in self.encoder:
            h = block(h)  # [b, 64, 4, 4] at the end: the 1024-d bottleneck
        for m in self.decoder:
            h = m(h)  # [b, 32, 16, 16] at the end
        h = F.relu(self.conv_a(h))
        return torch.sigmoid(self.conv_b(h))


# --------------------------------------------------------------------------------------------
# UpsampleNet (src/nets/upsample.rs)
# --------------------------------------------------------------------------------------------


class ResidualUpsampleBlock(nn.Module):
    """Conv+BN+ReLU+Conv+BN+ReLU+Conv, + skip (1x1 projection when widths differ), nearest 2x,
    BN, ReLU."""

    def __init__(self, c_in: int, c: int):
        super().__init__()
        self.conv1 = conv(c_in, c, 3, 1)
        self.bn1 = bn(c)
        self.conv2 = conv(c, c, 3, 1)
        self.bn2 = bn(c)
        self.conv3 = conv(c, c, 3, 1)
        self.skip = conv(c_in, c, 1, 1) if c_in != c else None
        self.bn_up = bn(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.conv3(h)
        skip = self.skip(x) if self.skip is not None else x
        h = upsample_nearest2x(h + skip)
        return F.relu(self.bn_up(h))


def resample_matrix(in_size: int, out_size: int, a: float = -0.5) -> torch.Tensor:
    """``data::resize::resample_matrix``: one axis of PIL's bicubic resize (kernel parameter
    ``a``, antialiased when shrinking, taps clipped to the image and renormalised) as a dense
    ``[out_size, in_size]`` matrix."""

    def cubic(x: float) -> float:
        x = abs(x)
        if x < 1.0:
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
        if x < 2.0:
            return (((x - 5.0) * x + 8.0) * x - 4.0) * a
        return 0.0

    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = 2.0 * filter_scale
    m = torch.zeros(out_size, in_size, dtype=torch.float64)
    for o in range(out_size):
        center = (o + 0.5) * scale
        lo = max(int(math.trunc(center - support + 0.5)), 0)
        hi = min(int(math.trunc(center + support + 0.5)), in_size)
        w = [cubic((i - center + 0.5) / filter_scale) for i in range(lo, hi)]
        total = sum(w)
        for k, wk in enumerate(w):
            m[o, lo + k] = wk / total if total != 0.0 else wk
    return m


def protocol_bicubic(x: torch.Tensor, size: int) -> torch.Tensor:
    """``nets::upsample::protocol_bicubic``: the protocol's (PIL's) bicubic upscaling of
    ``[b, c, s, s]`` to ``[b, c, size, size]`` as ``M X M^T``, the IN+bicubic baseline's."""
    m = resample_matrix(x.shape[-1], size).to(dtype=x.dtype, device=x.device)
    return m @ x @ m.T


class UpsampleNet(nn.Module):
    """The 8x upsampling network: ``[b, 3, 16, 16]`` -> ``[b, 3, 128, 128]`` in (0, 1)."""

    def __init__(
        self,
        widths: Sequence[int] = (64, 32, 16),
        head_width: int = 16,
        lr_size: int = LR_SIZE,
        residual: bool = False,
    ):
        super().__init__()
        assert len(widths) == 3
        self.lr_size = lr_size
        self.residual = residual
        c_in = widths[0]
        self.input = conv(3, c_in, 3, 1)
        blocks = []
        for w in widths:
            blocks.append(ResidualUpsampleBlock(c_in, w))
            c_in = w
        self.blocks = nn.ModuleList(blocks)
        self.head1 = conv(c_in, head_width, 3, 1)
        self.head2 = conv(head_width, head_width, 3, 1)
        self.output = conv(head_width, 3, 3, 1)
        if residual:
            # The residual net starts as IN+bicubic: a zero output convolution.
            nn.init.zeros_(self.output.weight)
            nn.init.zeros_(self.output.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """With ``residual``: the protocol's bicubic face plus the predicted detail (not
        clamped); without: a sigmoid output."""
        expect_shape("UpsampleNet", x, 3, self.lr_size)
        h = self.input(x)
        for block in self.blocks:
            h = block(h)
        h = F.relu(self.head1(h))
        h = F.relu(self.head2(h))
        if self.residual:
            return protocol_bicubic(x, 8 * self.lr_size) + self.output(h)
        return torch.sigmoid(self.output(h))


# --------------------------------------------------------------------------------------------
# Discriminator (src/nets/discriminator.rs)
# --------------------------------------------------------------------------------------------


class Discriminator(nn.Module):
    """Six ConvBnRelu (strides 2,1,2,1,2,2), a stride-2 Conv3x3 + ReLU, a dense layer to 1 logit."""

    STRIDES = (2, 1, 2, 1, 2, 2)

    def __init__(self, widths: Sequence[int] = (8, 8, 16, 16, 32, 32), size: int = HR_SIZE):
        super().__init__()
        assert len(widths) == 6
        self.size = size
        c_in, side = 3, size
        layers = []
        for w, s in zip(widths, self.STRIDES):
            layers.append(ConvBnRelu(c_in, w, 3, s))
            c_in = w
            side //= s
        last = widths[5]
        side //= 2
        self.layers = nn.ModuleList(layers)
        self.last_conv = conv(c_in, last, 3, 2)
        self.dense = nn.Linear(last * side * side, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logit that each face is real, ``[b, 1]``."""
        expect_shape("Discriminator", x, 3, self.size)
        h = x
        for layer in self.layers:
            h = layer(h)  # [b, w5, 8, 8] at the end
        h = F.relu(self.last_conv(h))  # [b, w5, 4, 4]
        return self.dense(torch.flatten(h, 1))

    def probability(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.forward(x))


# --------------------------------------------------------------------------------------------
# LandmarkNet (src/nets/landmark.rs)
# --------------------------------------------------------------------------------------------

LANDMARK_LOSS_DEFAULT = dict(widths=(16, 32, 48, 64), hidden=128)  # LandmarkNetConfig::loss_default
LANDMARK_EVAL_DEFAULT = dict(widths=(24, 48, 64, 96), hidden=256)  # LandmarkNetConfig::eval_default


class LandmarkNet(nn.Module):
    """2x avg pool, four (ConvBnRelu 3x3 + 2x max pool), dense + ReLU, dense to 136 coordinates
    divided by the face side."""

    def __init__(
        self,
        widths: Sequence[int] = (16, 32, 48, 64),
        hidden: int = 128,
        size: int = HR_SIZE,
    ):
        super().__init__()
        assert len(widths) == 4
        self.size = size
        self.downsample = nn.AvgPool2d(2)
        c_in = 3
        stages = []
        for w in widths:
            stages.append(ConvBnRelu(c_in, w, 3, 1))
            c_in = w
        self.stages = nn.ModuleList(stages)
        self.pool = nn.MaxPool2d(2)
        side = size // 2 // 16
        self.hidden = nn.Linear(c_in * side * side, hidden)
        self.output = nn.Linear(hidden, 2 * N_POINTS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_shape("LandmarkNet", x, 3, self.size)
        h = self.downsample(x)  # [b, 3, 64, 64]
        for stage in self.stages:
            h = self.pool(stage(h))  # ... [b, w3, 4, 4]
        h = F.relu(self.hidden(torch.flatten(h, 1)))
        return self.output(h)  # [b, 136]


# --------------------------------------------------------------------------------------------
# Baselines (src/nets/vdsr.rs, fsrcnn.rs, urdgn.rs)
# --------------------------------------------------------------------------------------------


def bicubic(x: torch.Tensor, size: int) -> torch.Tensor:
    """burn's bicubic ``interpolate`` at half-pixel centres (align_corners=False), a = -0.75
    (see the module docstring, point 4)."""
    return F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)


class Vdsr(nn.Module):
    """Bicubic 8x, then ``depth`` 3x3 convs (ReLU between), the last to 3 channels, residual."""

    def __init__(self, depth: int = 20, width: int = 64, lr_size: int = LR_SIZE,
                 hr_size: int = HR_SIZE):
        super().__init__()
        assert depth >= 2, "VDSR needs at least 2 layers"
        self.lr_size, self.hr_size = lr_size, hr_size
        self.first = conv(3, width, 3, 1)
        self.body = nn.ModuleList([conv(width, width, 3, 1) for _ in range(depth - 2)])
        self.last = conv(width, 3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_shape("VDSR", x, 3, self.lr_size)
        up = bicubic(x, self.hr_size)
        h = F.relu(self.first(up))
        for c in self.body:
            h = F.relu(c(h))
        return up + self.last(h)


class ConvPrelu(nn.Module):
    """A k x k conv ("same" padding) followed by a per-channel PReLU (slope 0.25)."""

    def __init__(self, c_in: int, c_out: int, k: int):
        super().__init__()
        self.conv = conv(c_in, c_out, k, 1)
        self.act = nn.PReLU(num_parameters=c_out, init=0.25)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Fsrcnn(nn.Module):
    """FSRCNN(d, s, m) with one 9x9 stride-8 transposed conv (padding 1, output padding 1)."""

    def __init__(self, d: int = 56, s: int = 12, m: int = 4, lr_size: int = LR_SIZE):
        super().__init__()
        self.lr_size = lr_size
        self.extract = ConvPrelu(3, d, 5)
        self.shrink = ConvPrelu(d, s, 1)
        self.map = nn.ModuleList([ConvPrelu(s, s, 3) for _ in range(m)])
        self.expand = ConvPrelu(s, d, 1)
        self.deconv = nn.ConvTranspose2d(d, 3, 9, stride=8, padding=1, output_padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_shape("FSRCNN", x, 3, self.lr_size)
        h = self.shrink(self.extract(x))
        for layer in self.map:
            h = layer(h)
        return self.deconv(self.expand(h))


class UpBlock(nn.Module):
    """4x4 stride-2 padding-1 transposed conv + BN (+ ReLU in the caller)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)
        self.bn = bn(c_out)


class UrdgnGenerator(nn.Module):
    """Three 2x transposed convs (BN + ReLU), a 5x5 conv to 3 channels and a sigmoid."""

    def __init__(self, widths: Sequence[int] = (64, 32, 16), lr_size: int = LR_SIZE):
        super().__init__()
        assert len(widths) == 3
        self.lr_size = lr_size
        c_in = 3
        ups = []
        for w in widths:
            ups.append(UpBlock(c_in, w))
            c_in = w
        self.ups = nn.ModuleList(ups)
        self.output = conv(c_in, 3, 5, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_shape("URDGN", x, 3, self.lr_size)
        h = x
        for up in self.ups:
            h = F.relu(up.bn(up.deconv(h)))
        return torch.sigmoid(self.output(h))


EDSR_RGB_MEAN = (0.4488, 0.4371, 0.4040)


class EdsrResBlock(nn.Module):
    """conv-ReLU-conv, no BatchNorm (``src/nets/edsr.rs``)."""

    def __init__(self, width: int):
        super().__init__()
        self.conv1 = conv(width, width, 3, 1)
        self.conv2 = conv(width, width, 3, 1)


class Edsr(nn.Module):
    """EDSR (Lim et al. 2017): mean shift, head conv, residual blocks without BN, a conv and a
    long skip, 2x sub-pixel stages (conv to 4 width + pixel shuffle), a conv to 3 channels."""

    def __init__(self, blocks: int = 16, width: int = 64, res_scale: float = 1.0,
                 lr_size: int = LR_SIZE, hr_size: int = HR_SIZE):
        super().__init__()
        self.lr_size, self.res_scale = lr_size, res_scale
        self.head = conv(3, width, 3, 1)
        self.body = nn.ModuleList([EdsrResBlock(width) for _ in range(blocks)])
        self.body_out = conv(width, width, 3, 1)
        stages = (hr_size // lr_size).bit_length() - 1
        self.up = nn.ModuleList([conv(width, 4 * width, 3, 1) for _ in range(stages)])
        self.tail = conv(width, 3, 3, 1)
        self.register_buffer("mean", torch.tensor(EDSR_RGB_MEAN).view(1, 3, 1, 1),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_shape("EDSR", x, 3, self.lr_size)
        head = self.head(x - self.mean)
        h = head
        for b in self.body:
            h = h + self.res_scale * b.conv2(F.relu(b.conv1(h)))
        h = self.body_out(h) + head
        for c in self.up:
            h = F.pixel_shuffle(c(h), 2)
        return self.tail(h) + self.mean


# --------------------------------------------------------------------------------------------
# Configuration (src/train/config.rs)
# --------------------------------------------------------------------------------------------

PRESETS = {
    # upsample widths (nets/upsample.rs presets), head width, discriminator widths,
    # VDSR (depth, width), FSRCNN (d, s, m); URDGN widths = upsample widths.
    "tiny": dict(upsample=(8, 8, 8), head=8, disc=(4, 4, 8, 8, 8, 8), vdsr=(4, 8),
                 fsrcnn=(8, 4, 1)),
    "cpu": dict(upsample=(64, 32, 16), head=16, disc=(8, 8, 16, 16, 32, 32), vdsr=(8, 16),
                fsrcnn=(56, 12, 4)),
    "paper": dict(upsample=(512, 256, 128), head=64, disc=(32, 32, 64, 64, 128, 128),
                  vdsr=(20, 64), fsrcnn=(56, 12, 4)),
}

GENERATORS = ("upsample", "vdsr", "fsrcnn", "urdgn")


@dataclass
class StageSpec:
    """``StageSpec`` (src/train/config.rs): the optimiser-relevant fields."""

    batch_size: int = 16
    lr: float = 1e-3
    lr_discriminator: float = 1e-4
    lr_schedule: str = "constant"  # constant | cosine

    def lr_factor(self, step: int, total: int) -> float:
        if self.lr_schedule == "constant":
            return 1.0
        if self.lr_schedule == "cosine":
            t = step / max(total, 1)
            return 0.5 * (1.0 + math.cos(math.pi * t))
        raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}")


@dataclass
class OfhnetConfig:
    """``OfhnetConfig``: unset (None) preset-dependent values are filled by :meth:`resolved`.

    Loss weights: ``None`` means the block is absent (off). ``w_semantic`` is off by default as
    in Rust (it needs a trained landmark network there; here a fresh one is used).
    """

    preset: str = "cpu"
    seed: int = 0
    inpaint_encoder: tuple = (16, 32, 64, 64)
    inpaint_decoder: tuple = (64, 32)
    upsample_widths: Optional[tuple] = None
    head_width: Optional[int] = None
    generator: str = "upsample"
    vdsr_depth: Optional[int] = None
    vdsr_width: Optional[int] = None
    fsrcnn_d: Optional[int] = None
    fsrcnn_s: Optional[int] = None
    fsrcnn_m: Optional[int] = None
    urdgn_widths: Optional[tuple] = None
    disc_widths: Optional[tuple] = None
    landmark_widths: tuple = LANDMARK_LOSS_DEFAULT["widths"]
    landmark_hidden: int = LANDMARK_LOSS_DEFAULT["hidden"]
    w_inpaint_l2: float = 1.0
    w_l2: Optional[float] = 1.0
    w_adv: Optional[float] = 1e-3
    w_semantic: Optional[float] = None
    stage1: StageSpec = field(default_factory=lambda: StageSpec(batch_size=64))
    stage2: StageSpec = field(default_factory=StageSpec)
    composite: bool = True

    @classmethod
    def for_preset(cls, preset: str, **overrides) -> "OfhnetConfig":
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r} (tiny | cpu | paper)")
        return dataclasses.replace(cls(preset=preset), **overrides)

    def resolved(self) -> "OfhnetConfig":
        p = PRESETS[self.preset]
        if self.generator not in GENERATORS:
            raise ValueError(f"unknown generator {self.generator!r} ({' | '.join(GENERATORS)})")
        return dataclasses.replace(
            self,
            upsample_widths=tuple(self.upsample_widths or p["upsample"]),
            head_width=self.head_width if self.head_width is not None else p["head"],
            disc_widths=tuple(self.disc_widths or p["disc"]),
            vdsr_depth=self.vdsr_depth if self.vdsr_depth is not None else p["vdsr"][0],
            vdsr_width=self.vdsr_width if self.vdsr_width is not None else p["vdsr"][1],
            fsrcnn_d=self.fsrcnn_d if self.fsrcnn_d is not None else p["fsrcnn"][0],
            fsrcnn_s=self.fsrcnn_s if self.fsrcnn_s is not None else p["fsrcnn"][1],
            fsrcnn_m=self.fsrcnn_m if self.fsrcnn_m is not None else p["fsrcnn"][2],
            urdgn_widths=tuple(self.urdgn_widths or p["upsample"]),
        )

    # Builders (config.rs: inpaint_config, generator_init, discriminator_config).
    def inpaint_net(self) -> InpaintNet:
        return InpaintNet(self.inpaint_encoder, self.inpaint_decoder)

    def upsample_net(self) -> UpsampleNet:
        r = self.resolved()
        return UpsampleNet(r.upsample_widths, r.head_width)

    def generator_net(self, kind: Optional[str] = None) -> nn.Module:
        r = self.resolved()
        kind = kind or r.generator
        if kind == "upsample":
            return UpsampleNet(r.upsample_widths, r.head_width)
        if kind == "vdsr":
            return Vdsr(r.vdsr_depth, r.vdsr_width)
        if kind == "fsrcnn":
            return Fsrcnn(r.fsrcnn_d, r.fsrcnn_s, r.fsrcnn_m)
        if kind == "urdgn":
            return UrdgnGenerator(r.urdgn_widths)
        raise ValueError(f"unknown generator {kind!r}")

    def discriminator(self) -> Discriminator:
        return Discriminator(self.resolved().disc_widths)

    def landmark_net(self) -> LandmarkNet:
        return LandmarkNet(self.landmark_widths, self.landmark_hidden)


def method_losses(generator: str, w_l2: float = 1.0, w_adv: Optional[float] = 1e-3,
                  w_semantic: Optional[float] = None) -> dict:
    """The loss blocks the harness gives each method (src/harness/experiment.rs)."""
    if generator == "upsample":
        return dict(w_l2=w_l2, w_adv=w_adv, w_semantic=w_semantic)
    if generator in ("vdsr", "fsrcnn"):
        return dict(w_l2=w_l2, w_adv=None, w_semantic=None)
    if generator == "urdgn":
        return dict(w_l2=w_l2, w_adv=1e-3 if w_adv is None else w_adv, w_semantic=None)
    raise ValueError(f"unknown generator {generator!r}")


# --------------------------------------------------------------------------------------------
# Losses (src/losses.rs) and tensor conversions (src/train/tensors.rs)
# --------------------------------------------------------------------------------------------


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all elements (Eqs. 1, 2, 5)."""
    return (a - b).square().mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 3: ``-[mean log sigmoid(real) + mean log sigmoid(-fake)]``."""
    real = F.logsigmoid(real_logits).mean()
    fake = F.logsigmoid(-fake_logits).mean()
    return -(real + fake)


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 4, non-saturating: ``-mean log sigmoid(fake)``."""
    return -F.logsigmoid(fake_logits).mean()


def raw_to_tensor(raw: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``[b, h, w, 3]`` u8 -> ``[b, 3, h, w]`` float32 ``v / 255`` (``raw_to_tensor``)."""
    return raw.to(device).permute(0, 3, 1, 2).to(torch.float32).div(255.0).contiguous()


def tensor_to_u8(t: torch.Tensor) -> torch.Tensor:
    """``[b, 3, h, w]`` -> ``[b, h, w, 3]`` u8, ``floor(255 v + 0.5)`` in f64, clamped
    (``tensor_to_images`` / ``round_u8``)."""
    v = (t.to(torch.float64) * 255.0 + 0.5).floor().clamp(0.0, 255.0)
    return v.to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu()


def composite(occluded: torch.Tensor, inpainted: torch.Tensor) -> torch.Tensor:
    """Known pixels from the occluded input, InpaintNet's inside the hole (channel sum <= 1e-6)."""
    mask = (occluded.sum(dim=1, keepdim=True) <= 1e-6).to(occluded.dtype)  # [b, 1, h, w]
    keep = 1.0 - mask
    return occluded * keep + inpainted * mask


class NonFiniteLoss(RuntimeError):
    pass


def finite(stage: str, term: str, step: int, loss: torch.Tensor) -> float:
    """Reads a loss back to the host (a sync, as ``into_scalar`` is) and checks it."""
    v = float(loss.item())
    if not math.isfinite(v):
        raise NonFiniteLoss(f"{stage}: loss term {term} is {v} at step {step}")
    return v


def _set_lr(optim: torch.optim.Optimizer, lr: float) -> None:
    for g in optim.param_groups:
        g["lr"] = lr


def adam(params, lr: float, betas=ADAM_BETAS) -> torch.optim.Adam:
    """burn's Adam: eps 1e-5, no weight decay, no AMSGrad (PyTorch picks its own kernel)."""
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=ADAM_EPS, weight_decay=0.0,
                            amsgrad=False)


# --------------------------------------------------------------------------------------------
# Stage 1 (train_stage1 in src/train/stages.rs)
# --------------------------------------------------------------------------------------------


@dataclass
class Stage1:
    config: OfhnetConfig
    model: InpaintNet
    optim: torch.optim.Adam
    device: torch.device


def make_stage1(config: OfhnetConfig, device: torch.device) -> Stage1:
    torch.manual_seed(config.seed)
    model = config.inpaint_net().to(device).train()
    return Stage1(config, model, adam(model.parameters(), config.stage1.lr), device)


def stage1_step(s: Stage1, clean_u8: torch.Tensor, occluded_u8: torch.Tensor, step: int = 0,
                total: int = 1) -> dict:
    """One optimiser step of stage 1: Eq. 1 on a batch of clean / occluded LR faces (u8 HWC)."""
    spec = s.config.stage1
    clean = raw_to_tensor(clean_u8, s.device)
    occluded = raw_to_tensor(occluded_u8, s.device)
    inpainted = s.model(occluded)  # [b, 3, 16, 16]
    l2 = mse(inpainted, clean)
    v = finite("stage1", "inpaint_l2", step, l2)
    loss = l2 * s.config.w_inpaint_l2
    s.optim.zero_grad(set_to_none=True)
    loss.backward()
    _set_lr(s.optim, spec.lr * spec.lr_factor(step, total))
    s.optim.step()
    return {"inpaint_l2": v}


# --------------------------------------------------------------------------------------------
# Stage 2 (train_stage2 in src/train/stages.rs)
# --------------------------------------------------------------------------------------------


@dataclass
class Stage2:
    config: OfhnetConfig
    inpaint: InpaintNet  # frozen, inference mode
    generator: nn.Module
    discriminator: Discriminator
    landmark: Optional[LandmarkNet]  # frozen, inference mode; None when the block is off
    optim_g: torch.optim.Adam
    optim_d: torch.optim.Adam
    device: torch.device


def make_stage2(config: OfhnetConfig, device: torch.device,
                inpaint: Optional[InpaintNet] = None) -> Stage2:
    config = config.resolved()
    torch.manual_seed(config.seed)
    if inpaint is None:
        inpaint = config.inpaint_net()
    inpaint = inpaint.to(device).eval().requires_grad_(False)
    landmark = None
    if config.w_semantic is not None:
        landmark = config.landmark_net().to(device).eval().requires_grad_(False)
    torch.manual_seed(config.seed + 2)
    generator = config.generator_net().to(device).train()
    discriminator = config.discriminator().to(device).train()
    optim_g = adam(generator.parameters(), config.stage2.lr, ADAM_BETAS)
    optim_d = adam(discriminator.parameters(), config.stage2.lr_discriminator, ADAM_BETAS_D)
    return Stage2(config, inpaint, generator, discriminator, landmark, optim_g, optim_d, device)


def inpaint_for_upsampling(inpaint: InpaintNet, occluded: torch.Tensor, composite_known: bool):
    """``inpaint_for_upsampling``: the frozen InpaintNet and the generator's input."""
    with torch.no_grad():
        inpainted = inpaint(occluded)
        x = composite(occluded, inpainted) if composite_known else inpainted
    return inpainted, x


def stage2_step(s: Stage2, occluded_u8: torch.Tensor, hr_u8: torch.Tensor, step: int = 0,
                total: int = 1) -> dict:
    """One step of stage 2: the D step (Eq. 3, when the adversarial block is on), then the G step
    (Eq. 6), in that order, as ``train_stage2`` does."""
    c, spec = s.config, s.config.stage2
    factor = spec.lr_factor(step, total)
    occluded = raw_to_tensor(occluded_u8, s.device)
    _, x = inpaint_for_upsampling(s.inpaint, occluded, c.composite)  # [b, 3, 16, 16]
    hr = raw_to_tensor(hr_u8, s.device)  # [b, 3, 128, 128]

    fake = s.generator(x)  # [b, 3, 128, 128]
    terms: dict = {}

    # Discriminator step (Eq. 3) on detached fakes.
    if c.w_adv is not None:
        real_logits = s.discriminator(hr)
        fake_logits = s.discriminator(fake.detach())
        d_loss = discriminator_loss(real_logits, fake_logits)
        terms["discriminator"] = finite("stage2", "discriminator", step, d_loss)
        s.optim_d.zero_grad(set_to_none=True)
        d_loss.backward()
        _set_lr(s.optim_d, spec.lr_discriminator * factor)
        s.optim_d.step()

    # Generator step (Eq. 6).
    total_loss = None

    def add(term: torch.Tensor, weight: float):
        nonlocal total_loss
        t = term * weight
        total_loss = t if total_loss is None else total_loss + t

    if c.w_l2 is not None:
        l2 = mse(fake, hr)
        terms["l2"] = finite("stage2", "l2", step, l2)
        add(l2, c.w_l2)
    if c.w_adv is not None:
        adv = generator_adversarial_loss(s.discriminator(fake))
        terms["adversarial"] = finite("stage2", "adversarial", step, adv)
        add(adv, c.w_adv)
    if c.w_semantic is not None and s.landmark is not None:
        with torch.no_grad():
            real_points = s.landmark(hr)
        ss = mse(s.landmark(fake), real_points)
        terms["semantic"] = finite("stage2", "semantic", step, ss)
        add(ss, c.w_semantic)
    if total_loss is None:
        raise ValueError("losses: stage 2 has no loss term")
    terms["total"] = finite("stage2", "total", step, total_loss)
    s.optim_g.zero_grad(set_to_none=True)
    total_loss.backward()  # also fills D's .grad, as burn computes D's gradients (point 8)
    _set_lr(s.optim_g, spec.lr * factor)
    s.optim_g.step()
    return terms


# --------------------------------------------------------------------------------------------
# Inference (src/model.rs Ofhnet::forward / hallucinate)
# --------------------------------------------------------------------------------------------


def infer(inpaint: InpaintNet, generator: nn.Module, occluded_u8: torch.Tensor,
          composite_known: bool, device: torch.device):
    """u8 occluded faces in, (u8 generator input, u8 HR output) out; networks in eval mode."""
    with torch.inference_mode():
        x = raw_to_tensor(occluded_u8, device)
        inpainted = inpaint(x)
        inp = composite(x, inpainted) if composite_known else inpainted
        out = generator(inp)
        return tensor_to_u8(inp), tensor_to_u8(out)


# --------------------------------------------------------------------------------------------
# Random data (shapes as in training; the hole law of src/data/occlusion.rs)
# --------------------------------------------------------------------------------------------


def random_batch(batch: int, gen: torch.Generator):
    """(clean LR, occluded LR, HR) as u8 HWC tensors; one square hole per face, side uniform in
    4..=8, inside the 16x16 image, pixels set to 0."""
    clean = torch.randint(0, 256, (batch, LR_SIZE, LR_SIZE, 3), dtype=torch.uint8, generator=gen)
    hr = torch.randint(0, 256, (batch, HR_SIZE, HR_SIZE, 3), dtype=torch.uint8, generator=gen)
    occluded = clean.clone()
    for k in range(batch):
        side = int(torch.randint(4, 9, (1,), generator=gen))
        x0 = int(torch.randint(0, LR_SIZE - side + 1, (1,), generator=gen))
        y0 = int(torch.randint(0, LR_SIZE - side + 1, (1,), generator=gen))
        occluded[k, y0:y0 + side, x0:x0 + side, :] = 0
    return clean, occluded, hr


# --------------------------------------------------------------------------------------------
# Evaluation (src/evaluate.rs evaluate_pipeline; src/metrics/)
# --------------------------------------------------------------------------------------------

EVAL_BATCH = 32  # EvalOptions::default().batch_size
DATA_RANGE = 255.0
SSIM_SIGMA, SSIM_RADIUS = 1.5, 5  # scipy's radius at truncate=3.5: int(3.5 * 1.5 + 0.5)
SSIM_C1, SSIM_C2 = (0.01 * DATA_RANGE) ** 2, (0.03 * DATA_RANGE) ** 2
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 36, 45  # points 37 and 46, 1-based
BROW_HALF_WIDTH = 1.5


def to_nchw64(x: torch.Tensor) -> torch.Tensor:
    """``[b, h, w, 3]`` u8 -> ``[b, 3, h, w]`` float64 on 0..255."""
    return x.permute(0, 3, 1, 2).to(torch.float64)


def luma_bt601(x: torch.Tensor) -> torch.Tensor:
    """``[b, h, w, 3]`` u8 -> ``[b, 1, h, w]`` float64 BT.601 luma (``rgb2ycbcr``'s Y, unrounded)."""
    w = torch.tensor([65.481, 128.553, 24.966], dtype=torch.float64)
    return ((x.to(torch.float64) / 255.0) @ w + 16.0).unsqueeze(1)


def psnr(ref: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """PSNR per image (any shape ``[b, ...]``, float64 or u8), data range 255, no crop."""
    mse = (ref.to(torch.float64) - out.to(torch.float64)).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(DATA_RANGE**2 / mse)


@functools.lru_cache(maxsize=None)
def _gaussian_filter_matrix(n: int) -> torch.Tensor:
    """``[n - 10, n]``: the 11-tap Gaussian (sigma 1.5, scipy's radius 5 at ``truncate=3.5``,
    normalised to sum 1) at every position whose window lies inside ``n`` samples, as a matrix."""
    x = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=torch.float64)
    w = torch.exp(-0.5 / SSIM_SIGMA**2 * x * x)
    w = w / w.sum()
    m = torch.zeros(n - 2 * SSIM_RADIUS, n, dtype=torch.float64)
    for o in range(m.shape[0]):
        m[o, o:o + w.numel()] = w
    return m


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean SSIM per image and channel, ``[b, c]``, of ``[b, c, h, w]`` float64 planes: Wang et
    al.'s index with an 11x11 Gaussian window (sigma 1.5), population (co)variances, over the
    valid region only, as ``psnr_ssim.rs`` and scikit-image compute it. The separable filter is
    two matrix products (``G X G^T``), much faster on CPU than a float64 depthwise ``conv2d``."""
    c = x.shape[1]
    gv, gh = _gaussian_filter_matrix(x.shape[2]), _gaussian_filter_matrix(x.shape[3])
    f = gv @ torch.cat([x, y, x * x, y * y, x * y], dim=1) @ gh.T  # [b, 5c, h - 10, w - 10]
    ux, uy, uxx, uyy, uxy = f.split(c, dim=1)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    num = (2.0 * ux * uy + SSIM_C1) * (2.0 * vxy + SSIM_C2)
    den = (ux * ux + uy * uy + SSIM_C1) * (vx + vy + SSIM_C2)
    return (num / den).mean(dim=(2, 3))


def nrmse(gt: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """NRMSE x100 per face of ``[b, 68, 2]`` points, normalised by the ground truth's
    outer-eye-corner distance (``metrics/landmarks.rs``), in float64."""
    gt, pred = gt.to(torch.float64), pred.to(torch.float64)
    norm = (gt[:, RIGHT_EYE_OUTER] - gt[:, LEFT_EYE_OUTER]).norm(dim=1)
    if not bool(torch.isfinite(gt).all() & torch.isfinite(pred).all() & (norm > 0).all()):
        raise ValueError("NRMSE needs finite points and a positive outer-eye-corner distance")
    rmse = (pred - gt).pow(2).sum(-1).mean(-1).sqrt()
    return rmse / norm * 100.0


def _brow(first: int) -> list:
    idx = list(range(first, first + 5))
    return [(i, -BROW_HALF_WIDTH) for i in idx] + [(i, BROW_HALF_WIDTH) for i in reversed(idx)]


def _plain(idx) -> list:
    return [(i, 0.0) for i in idx]


# The parsing classes' polygons in paint order (``metrics/parsing.rs`` ``face_polygons``): class
# label, then (0-based point, y offset) per vertex.
FACE_POLYGONS = [
    (1, _plain(list(range(0, 17)) + list(range(26, 16, -1)))),  # skin: jaw, brows reversed
    (2, _brow(17)),  # right brow, a band 3 px tall
    (3, _brow(22)),  # left brow
    (4, _plain(range(36, 42))),  # right eye
    (5, _plain(range(42, 48))),  # left eye
    (6, _plain([27] + list(range(31, 36)))),  # nose: bridge top, nose base
    (7, _plain(list(range(48, 55)) + list(range(64, 59, -1)))),  # upper lip
    (8, _plain(list(range(54, 60)) + [48, 60] + list(range(67, 63, -1)))),  # lower lip
    (9, _plain(range(60, 68))),  # inner mouth
]
N_CLASSES = 10


def _polygon_table():
    """Every class's vertices padded to one length by repeating the last vertex (a zero-length
    edge crosses no row): ``[9, v]`` point indices and y offsets."""
    v = max(len(verts) for _, verts in FACE_POLYGONS)
    padded = [verts + [verts[-1]] * (v - len(verts)) for _, verts in FACE_POLYGONS]
    idx = torch.tensor([[i for i, _ in verts] for verts in padded])
    dy = torch.tensor([[d for _, d in verts] for verts in padded], dtype=torch.float64)
    return idx, dy


POLYGON_INDEX, POLYGON_DY = _polygon_table()


def fill_polygons(verts: torch.Tensor, size: int) -> torch.Tensor:
    """``[..., size, size]`` bool: the pixels whose centre ``(i + 0.5, j + 0.5)`` is inside the
    polygon ``verts`` (``[..., v, 2]`` float64) by the even-odd rule, with PNPOLY's half-open
    conventions (an edge crosses the row at ``y`` when exactly one end is ``> y``; a centre on a
    crossing counts it): per row, the crossings sorted, and a centre is inside when an odd number
    of them lie at or left of it (``searchsorted``)."""
    p, q = verts, verts.roll(-1, dims=-2)
    centres = torch.arange(size, dtype=torch.float64) + 0.5
    y = centres.view(-1, 1)  # [rows, 1]
    py, qy = p[..., 1].unsqueeze(-2), q[..., 1].unsqueeze(-2)  # [..., 1, v]
    px, qx = p[..., 0].unsqueeze(-2), q[..., 0].unsqueeze(-2)
    crosses = (py > y) != (qy > y)  # [..., rows, v]
    xc = torch.where(crosses, px + (y - py) * (qx - px) / (qy - py), torch.inf)
    xc = xc.sort(dim=-1).values
    left = torch.searchsorted(xc, centres.expand(*xc.shape[:-1], size).contiguous(), right=True)
    return left % 2 == 1  # [..., rows, cols]


def parsing_maps(points: torch.Tensor, size: int = HR_SIZE) -> torch.Tensor:
    """``[b, size, size]`` int64 class labels drawn from ``[b, 68, 2]`` points (HR crop
    coordinates). Classes are painted in label order, each over the ones before it, so a pixel's
    class is the highest label whose polygon holds it."""
    verts = points.to(torch.float64)[:, POLYGON_INDEX]  # [b, 9, v, 2]
    verts[..., 1] += POLYGON_DY
    inside = fill_polygons(verts, size)  # [b, 9, rows, cols]
    labels = torch.tensor([label for label, _ in FACE_POLYGONS]).view(1, -1, 1, 1)
    return (inside * labels).amax(dim=1)


def mean_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean IoU per face of two ``[b, h, w]`` label maps over the face classes present in either
    (1 when neither has any)."""
    labels = torch.arange(1, N_CLASSES).view(1, -1, 1)
    a, b = a.flatten(1).unsqueeze(1) == labels, b.flatten(1).unsqueeze(1) == labels  # [b, 9, n]
    inter, union = (a & b).sum(-1).double(), (a | b).sum(-1).double()
    present = union > 0
    iou = torch.where(present, inter / union.clamp(min=1), 0.0)
    n = present.sum(-1)
    return torch.where(n > 0, iou.sum(-1) / n.clamp(min=1), 1.0)


def detect(net: LandmarkNet, faces_u8: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``LandmarkNet::points``: ``[b, 68, 2]`` float32 pixel coordinates."""
    return (net(raw_to_tensor(faces_u8, device)) * float(net.size)).view(-1, N_POINTS, 2).cpu()


def bicubic_u8(lr_u8: torch.Tensor, size: int) -> torch.Tensor:
    """IN+bicubic: ``resize::upscale`` of ``[b, s, s, 3]`` u8 faces (PIL's bicubic, a = -0.5) in
    float64, rounded half up to u8 ``[b, size, size, 3]``."""
    hr = protocol_bicubic(to_nchw64(lr_u8), size)
    return (hr + 0.5).floor().clamp(0.0, 255.0).to(torch.uint8).permute(0, 2, 3, 1)


def image_scores(hr: torch.Tensor, out: torch.Tensor) -> dict:
    """PSNR, SSIM (mean over RGB), PSNR-Y and SSIM-Y per face, ``[b]`` float64 each."""
    ref_y, out_y = luma_bt601(hr), luma_bt601(out)
    return {
        "psnr": psnr(hr, out),
        "ssim": ssim(to_nchw64(hr), to_nchw64(out)).mean(1),
        "psnr_y": psnr(ref_y, out_y),
        "ssim_y": ssim(ref_y, out_y)[:, 0],
    }


def random_hole(name: str, lr_size: int = LR_SIZE):
    """The random protocol's hole for a test face, drawn from its name (side 4..=8)."""
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    side = int(torch.randint(4, 9, (1,), generator=g))
    x0 = int(torch.randint(0, lr_size - side + 1, (1,), generator=g))
    y0 = int(torch.randint(0, lr_size - side + 1, (1,), generator=g))
    return x0, y0, side


def evaluate(inpaint: InpaintNet, generator: nn.Module, detector: LandmarkNet, composite_known: bool,
             names: list, lr: torch.Tensor, hr: torch.Tensor, device: torch.device,
             method: str = "ofhnet", batch: int = EVAL_BATCH) -> list:
    """``evaluate_model`` with an evaluation detector: per batch of test faces, the random hole,
    the method (u8 out) and IN+bicubic behind the same InpaintNet outputs, the detector's points on
    the ground truth, the output and the bicubic face, and every metric; one row per (face,
    method)."""
    rows = []
    with torch.inference_mode():
        for start in range(0, len(names), batch):
            sel = slice(start, start + batch)
            occluded = lr[sel].clone()
            for k, name in enumerate(names[sel]):
                x0, y0, side = random_hole(name)
                occluded[k, y0:y0 + side, x0:x0 + side] = 0
            inpainted, out = infer(inpaint, generator, occluded, composite_known, device)
            gt = hr[sel]
            bic = bicubic_u8(inpainted, HR_SIZE)
            gt_pts = detect(detector, gt, device)
            gt_maps = parsing_maps(gt_pts)
            for m, faces in ((method, out), ("in_bicubic", bic)):
                pts = detect(detector, faces, device)
                scores = image_scores(gt, faces)
                scores["nrmse"] = nrmse(gt_pts, pts)
                scores["iou"] = mean_iou(gt_maps, parsing_maps(pts))
                cols = {k: v.tolist() for k, v in scores.items()}
                for k, name in enumerate(names[sel]):
                    rows.append({"name": name, "method": m, "occlusion": "random",
                                 **{key: col[k] for key, col in cols.items()}})
    return rows


def random_split(count: int, gen: torch.Generator):
    """A test split of random u8 faces: CelebA-style names, LR ``[n, 16, 16, 3]``, HR
    ``[n, 128, 128, 3]``."""
    names = [f"{i:06}.jpg" for i in range(1, count + 1)]
    lr = torch.randint(0, 256, (count, LR_SIZE, LR_SIZE, 3), dtype=torch.uint8, generator=gen)
    hr = torch.randint(0, 256, (count, HR_SIZE, HR_SIZE, 3), dtype=torch.uint8, generator=gen)
    return names, lr, hr


# --------------------------------------------------------------------------------------------
# hallucinate on a directory (src/cli/hallucinate.rs input_files, hallucinate_files)
# --------------------------------------------------------------------------------------------

ALIGNED_SIZE = (178, 218)  # CelebA's aligned images
HR_CROP = (24, 66, 24 + HR_SIZE, 66 + HR_SIZE)  # PROTOCOL's crop (left, top, right, bottom)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def to_lr(image, path):
    """A PIL face brought to 16x16 per PROTOCOL: kept at 16x16; a 128x128 HR crop or a 178x218
    aligned face (cropped first) downscaled with PIL's (antialiased) bicubic."""
    from PIL import Image

    if image.size == (LR_SIZE, LR_SIZE):
        return image
    if image.size == ALIGNED_SIZE:
        image = image.crop(HR_CROP)
    if image.size == (HR_SIZE, HR_SIZE):
        return image.resize((LR_SIZE, LR_SIZE), Image.Resampling.BICUBIC)
    raise ValueError(f"{path}: image is {image.size[0]}x{image.size[1]}; accepted: 16x16, "
                     "128x128 or 178x218")


def hallucinate_dir(inpaint: InpaintNet, generator: nn.Module, composite_known: bool,
                    input_dir, out_dir, device: torch.device, batch: int = EVAL_BATCH) -> int:
    """``ofhnet hallucinate --input DIR --out DIR``: every PNG/JPEG of ``input_dir`` in name order,
    read with PIL, brought to 16x16, through the model ``batch`` faces at a time, each 128x128
    output written as ``out_dir/STEM.png``. Returns the number of faces."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    files = sorted(p for p in Path(input_dir).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{input_dir}: no PNG or JPEG images")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(files), batch):
        chunk = files[start:start + batch]
        lrs = []
        for f in chunk:
            with Image.open(f) as im:
                lrs.append(np.asarray(to_lr(im.convert("RGB"), f)))
        _, out = infer(inpaint, generator, torch.from_numpy(np.stack(lrs)), composite_known,
                       device)
        for f, face in zip(chunk, out.numpy()):
            Image.fromarray(face).save(out_dir / f"{f.stem}.png")
    return len(files)


def write_random_faces(out_dir, count: int, gen: torch.Generator) -> None:
    """``count`` smooth random 128x128 faces as ``out_dir/NNNNNN.png`` (the law of
    ``bench.rs`` ``write_random_faces``): a random 16x16 face upscaled with the protocol's bicubic,
    noise of +-3 grey levels, a black square of side 32..=64 on the 8-pixel grid."""
    from pathlib import Path

    from PIL import Image

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        lr = torch.randint(0, 256, (1, LR_SIZE, LR_SIZE, 3), dtype=torch.uint8, generator=gen)
        face = bicubic_u8(lr, HR_SIZE)[0].to(torch.int16)
        face += torch.randint(-3, 4, face.shape, dtype=torch.int16, generator=gen)
        face = face.clamp(0, 255).to(torch.uint8)
        side = int(torch.randint(4, 9, (1,), generator=gen))
        x0 = int(torch.randint(0, LR_SIZE - side + 1, (1,), generator=gen))
        y0 = int(torch.randint(0, LR_SIZE - side + 1, (1,), generator=gen))
        face[8 * y0:8 * (y0 + side), 8 * x0:8 * (x0 + side)] = 0
        Image.fromarray(face.numpy()).save(out_dir / f"{i + 1:06}.png")


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def count_params(m: nn.Module) -> dict:
    params = sum(p.numel() for p in m.parameters() if p.requires_grad)
    bns = [x for x in m.modules() if isinstance(x, nn.modules.batchnorm._BatchNorm)]
    running = sum(b.running_mean.numel() + b.running_var.numel() for b in bns)
    return {"params": params, "bn_running": running, "bn_layers": len(bns)}


def _widths(s: Optional[str], n: int, name: str) -> Optional[tuple]:
    if s is None:
        return None
    v = tuple(int(x) for x in s.replace("x", ",").split(",") if x)
    if len(v) != n:
        raise SystemExit(f"--{name} needs {n} comma-separated widths, got {s!r}")
    return v


def config_from_args(a) -> OfhnetConfig:
    fs = _widths(a.fsrcnn, 3, "fsrcnn") or (None, None, None)
    vd = _widths(a.vdsr, 2, "vdsr") or (None, None)
    c = OfhnetConfig.for_preset(
        a.preset,
        seed=a.seed,
        inpaint_encoder=_widths(a.inpaint_encoder, 4, "inpaint-encoder") or (16, 32, 64, 64),
        inpaint_decoder=_widths(a.inpaint_decoder, 2, "inpaint-decoder") or (64, 32),
        upsample_widths=_widths(a.upsample_widths, 3, "upsample-widths"),
        head_width=a.head_width,
        disc_widths=_widths(a.disc_widths, 6, "disc-widths"),
        vdsr_depth=vd[0], vdsr_width=vd[1],
        fsrcnn_d=fs[0], fsrcnn_s=fs[1], fsrcnn_m=fs[2],
        urdgn_widths=_widths(a.urdgn_widths, 3, "urdgn-widths"),
    )
    return c.resolved()


def cmd_shapes(a) -> dict:
    c = config_from_args(a)
    torch.manual_seed(c.seed)
    lr = torch.rand(2, 3, LR_SIZE, LR_SIZE)
    hr = torch.rand(2, 3, HR_SIZE, HR_SIZE)
    nets = {
        "inpaint": (c.inpaint_net(), lr),
        "upsample": (c.generator_net("upsample"), lr),
        "vdsr": (c.generator_net("vdsr"), lr),
        "fsrcnn": (c.generator_net("fsrcnn"), lr),
        "urdgn": (c.generator_net("urdgn"), lr),
        "discriminator": (c.discriminator(), hr),
        "landmark_loss": (LandmarkNet(**LANDMARK_LOSS_DEFAULT), hr),
        "landmark_eval": (LandmarkNet(**LANDMARK_EVAL_DEFAULT), hr),
    }
    out = {
        "preset": c.preset,
        "config": {
            "inpaint": {"encoder": list(c.inpaint_encoder), "decoder": list(c.inpaint_decoder)},
            "upsample": {"widths": list(c.upsample_widths), "head_width": c.head_width},
            "discriminator": {"widths": list(c.disc_widths)},
            "vdsr": {"depth": c.vdsr_depth, "width": c.vdsr_width},
            "fsrcnn": {"d": c.fsrcnn_d, "s": c.fsrcnn_s, "m": c.fsrcnn_m},
            "urdgn": {"widths": list(c.urdgn_widths)},
            "landmark_loss": {k: list(v) if isinstance(v, tuple) else v
                              for k, v in LANDMARK_LOSS_DEFAULT.items()},
            "landmark_eval": {k: list(v) if isinstance(v, tuple) else v
                              for k, v in LANDMARK_EVAL_DEFAULT.items()},
        },
        "torch": torch.__version__,
        "networks": {},
    }
    for name, (net, x) in nets.items():
        net.eval()
        with torch.inference_mode():
            y = net(x)
        out["networks"][name] = {"input": list(x.shape), "output": list(y.shape),
                                 **count_params(net)}
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


WORK = ("stage1", "stage2", "infer1", "inferbatch", "evaluate", "hallucinate")
DEFAULT_BATCH = {"evaluate": 660, "hallucinate": 1000}  # bench.rs default_batch


def cmd_step(a) -> dict:
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
    c = config_from_args(a)
    c = dataclasses.replace(c, generator=a.generator, composite=not a.no_composite,
                            **method_losses(a.generator, 1.0,
                                            None if a.adv_weight < 0 else a.adv_weight,
                                            a.semantic_weight))
    which = a.which
    batch = a.batch if a.batch is not None else DEFAULT_BATCH.get(which, 16)
    c.stage1.batch_size = c.stage2.batch_size = batch
    c.stage1.lr_schedule = c.stage2.lr_schedule = a.lr_schedule
    if a.lr is not None:
        c.stage1.lr = c.stage2.lr = a.lr
    c = c.resolved()

    gen = torch.Generator().manual_seed(c.seed + 1000)
    whole_runs = which in ("evaluate", "hallucinate")  # draw their own faces, once
    pool = [random_batch(batch, gen) for _ in range(0 if whole_runs else min(a.repeats, 4))]
    cleanup = None
    if which == "stage1":
        s = make_stage1(c, device)
        run = lambda i, b: stage1_step(s, b[0], b[1], i, a.repeats)  # noqa: E731
    elif which == "stage2":
        s = make_stage2(c, device)
        run = lambda i, b: stage2_step(s, b[1], b[2], i, a.repeats)  # noqa: E731
    elif which in ("infer1", "inferbatch", "evaluate", "hallucinate"):
        torch.manual_seed(c.seed)
        inpaint = c.inpaint_net().to(device).eval()
        generator = c.generator_net().to(device).eval()
        if which == "infer1":
            pool = [tuple(t[:1] for t in b) for b in pool]

        if which == "evaluate":
            detector = LandmarkNet(**LANDMARK_EVAL_DEFAULT).to(device).eval()
            names, lr, hr = random_split(batch, gen)
            pool = [None]

            def run(i, b):
                rows = evaluate(inpaint, generator, detector, c.composite, names, lr, hr, device)
                if len(rows) != 2 * batch:
                    raise RuntimeError("lost faces in the evaluation")
                return {}
        elif which == "hallucinate":
            tmp = tempfile.mkdtemp(prefix="ofhnet-ref-hallucinate-")
            cleanup = lambda: shutil.rmtree(tmp, ignore_errors=True)  # noqa: E731
            write_random_faces(f"{tmp}/faces", batch, gen)
            pool = [None]

            def run(i, b):
                if hallucinate_dir(inpaint, generator, c.composite, f"{tmp}/faces",
                                   f"{tmp}/out-{i}", device) != batch:
                    raise RuntimeError("lost faces in hallucinate")
                return {}
        else:
            def run(i, b):
                infer(inpaint, generator, b[1], c.composite, device)
                return {}
    else:
        raise SystemExit(f"unknown --which {which!r}")

    rss0 = _maxrss_mib()
    reps = []
    for i in range(a.repeats):
        b = pool[i % len(pool)]
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        _sync(device)
        t0 = time.perf_counter()
        terms = run(i, b)
        _sync(device)
        dt = time.perf_counter() - t0
        rep = {"seconds": dt, "peak_rss_mib": _maxrss_mib(), "terms": terms}
        if device.type == "cuda":
            rep["cuda_peak_alloc_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
        reps.append(rep)
        if which == "hallucinate":
            shutil.rmtree(f"{tmp}/out-{i}")  # a fresh output directory each repeat
    if cleanup is not None:
        cleanup()
    return {
        "which": which,
        "preset": c.preset,
        "generator": c.generator,
        "batch": 1 if which == "infer1" else batch,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "torch": torch.__version__,
        "losses": {"l2": c.w_l2, "adversarial": c.w_adv, "semantic": c.w_semantic},
        "composite": c.composite,
        "lr_schedule": a.lr_schedule,
        "peak_rss_mib_before": rss0,
        "repeats": reps,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp):
        sp.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--inpaint-encoder", help="4 widths, e.g. 16,32,64,64")
        sp.add_argument("--inpaint-decoder", help="2 widths, e.g. 64,32")
        sp.add_argument("--upsample-widths", help="3 widths, e.g. 64,32,16")
        sp.add_argument("--head-width", type=int)
        sp.add_argument("--disc-widths", help="6 widths, e.g. 8,8,16,16,32,32")
        sp.add_argument("--vdsr", help="depth,width")
        sp.add_argument("--fsrcnn", help="d,s,m")
        sp.add_argument("--urdgn-widths", help="3 widths")

    sp = sub.add_parser("shapes", help="parameter counts and output shapes, as JSON")
    common(sp)
    sp = sub.add_parser("step", help="time N repeats of one unit of work, as JSON")
    common(sp)
    sp.add_argument("--which", choices=WORK, required=True)
    sp.add_argument("--batch", type=int, default=None,
                    help="faces per step (default 16); evaluate: the test split's faces (660); "
                         "hallucinate: the directory's faces (1000)")
    sp.add_argument("--repeats", type=int, default=1)
    sp.add_argument("--threads", type=int, default=1)
    sp.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    sp.add_argument("--generator", choices=GENERATORS, default="upsample")
    sp.add_argument("--adv-weight", type=float, default=1e-3,
                    help="adversarial weight; negative turns the block off (URDGN then "
                         "falls back to 1e-3, as the harness does)")
    sp.add_argument("--semantic-weight", type=float, default=None,
                    help="turns the semantic loss on (fresh landmark net); off by default")
    sp.add_argument("--lr", type=float, default=None, help="stage lr (default 1e-3)")
    sp.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant")
    sp.add_argument("--no-composite", action="store_true")
    sp.add_argument("--tf32", action="store_true", help="allow TF32 on CUDA (default off)")
    a = p.parse_args(argv)
    out = cmd_shapes(a) if a.cmd == "shapes" else cmd_step(a)
    sys.stdout.write(_dumps(out) + "\n")
    return 0


def _dumps(obj) -> str:
    """Indented JSON with lists of numbers on one line."""
    s = json.dumps(obj, indent=1)
    return re.sub(r"\[\s*([-+0-9.eE,\s]+?)\s*\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", s)


if __name__ == "__main__":
    sys.exit(main())
