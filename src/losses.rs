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

use burn::tensor::Tensor;
use burn::tensor::activation::log_sigmoid;

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
