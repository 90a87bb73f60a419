//! OFHNet's losses (paper Sec. 3.2). Each is a block of the training configuration with its own
//! weight; a block left out is off.
//!
//! - Eq. 1, inpainting: `L_in = mean ||IN(x~) - x||^2` over the 16x16 LR pixels.
//! - Eq. 2, upsampling: `L_l2 = mean ||G(IN(x~)) - y||^2` over the 128x128 HR pixels.
//! - Eqs. 3-4, adversarial: the discriminator minimises
//!   `-[log D(y) + log(1 - D(G(.)))]`; the generator minimises `-log D(G(.))` (the
//!   non-saturating form of Eq. 4, as Goodfellow et al. recommend for training).
//! - Eq. 5, semantic structure: `L_ss = mean ||phi(G(.)) - phi(y)||^2`, with `phi` the frozen
//!   landmark network's last-layer output (136 normalised coordinates).
//! - Eq. 6, total: `L = w_l2 L_l2 + w_adv L_adv + w_ss L_ss`.
//!
//! All means are over every element (pixels x channels, or coordinates), so the weights do not
//! depend on the image size.

use std::path::PathBuf;

use burn::tensor::Tensor;
use burn::tensor::activation::log_sigmoid;
use serde::{Deserialize, Serialize};

/// Mean squared error over all elements.
pub fn mse<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    (a - b).square().mean()
}

/// Eq. 1: the inpainting L2 loss.
pub fn inpainting_loss(inpainted: Tensor<4>, lr: Tensor<4>) -> Tensor<1> {
    mse(inpainted, lr)
}

/// Eq. 2: the upsampling L2 loss.
pub fn upsampling_loss(hallucinated: Tensor<4>, hr: Tensor<4>) -> Tensor<1> {
    mse(hallucinated, hr)
}

/// Eq. 3: the discriminator's loss from its logits on real and generated faces,
/// `-mean[log sigmoid(real) + log(1 - sigmoid(fake))]`.
pub fn discriminator_loss(real_logits: Tensor<2>, fake_logits: Tensor<2>) -> Tensor<1> {
    // log(1 - sigmoid(z)) = log sigmoid(-z)
    let real = log_sigmoid(real_logits).mean();
    let fake = log_sigmoid(fake_logits.neg()).mean();
    (real + fake).neg()
}

/// Eq. 4 (non-saturating): the generator's adversarial loss, `-mean log sigmoid(fake)`.
pub fn generator_adversarial_loss(fake_logits: Tensor<2>) -> Tensor<1> {
    log_sigmoid(fake_logits).mean().neg()
}

/// Eq. 5: the semantic structure loss between the frozen landmark network's outputs on the
/// hallucinated and the real HR faces.
pub fn semantic_structure_loss(fake_points: Tensor<2>, real_points: Tensor<2>) -> Tensor<1> {
    mse(fake_points, real_points)
}

/// A loss block: its weight in Eq. 6.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossBlock {
    pub weight: f64,
}

/// The semantic structure loss block (Eq. 5): its weight and the trained landmark network
/// (a directory written by `ofhnet landmarks train`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemanticBlock {
    pub weight: f64,
    /// The landmark network's directory. The harness fills it in from the experiment's
    /// `landmarks.loss` when it is left out; `ofhnet train` needs it.
    #[serde(default)]
    pub network: Option<PathBuf>,
}

/// The loss blocks. A block that is absent is off. When the whole `losses` key is absent the
/// defaults hold: Eq. 1 and Eq. 2 at weight 1 and the adversarial loss at 0.001 (the semantic
/// loss needs a trained landmark network, so it is on only when named).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossesSpec {
    /// Eq. 1, stage 1.
    #[serde(default)]
    pub inpaint_l2: Option<LossBlock>,
    /// Eq. 2, stage 2.
    #[serde(default)]
    pub l2: Option<LossBlock>,
    /// Eqs. 3-4, stage 2.
    #[serde(default)]
    pub adversarial: Option<LossBlock>,
    /// Eq. 5, stage 2.
    #[serde(default)]
    pub semantic: Option<SemanticBlock>,
}

impl Default for LossesSpec {
    fn default() -> Self {
        Self {
            inpaint_l2: Some(LossBlock { weight: 1.0 }),
            l2: Some(LossBlock { weight: 1.0 }),
            adversarial: Some(LossBlock { weight: 1e-3 }),
            semantic: None,
        }
    }
}

impl LossesSpec {
    /// The blocks of a baseline that its paper trains with the pixel loss alone: this file's
    /// stage-1 block, its L2 block (weight 1 when it gives none) and nothing else.
    pub fn l2_only(&self) -> LossesSpec {
        LossesSpec {
            inpaint_l2: self.inpaint_l2.clone(),
            l2: Some(self.l2.clone().unwrap_or(LossBlock { weight: 1.0 })),
            adversarial: None,
            semantic: None,
        }
    }
}
