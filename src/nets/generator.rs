//! The stage-2 generator of a run: OFHNet's UpsampleNet or one of the learned baselines
//! (VDSR, FSRCNN, URDGN). Every one maps an inpainted `[batch, 3, 16, 16]` face to
//! `[batch, 3, 128, 128]`, and is trained by the same stage-2 loop with the loss blocks its
//! method allows.

use burn::module::Module;
use burn::tensor::Tensor;

use super::fsrcnn::Fsrcnn;
use super::upsample::UpsampleNet;
use super::urdgn::UrdgnGenerator;
use super::vdsr::Vdsr;

/// A stage-2 generator. A run holds one, so the variants' size difference does not matter (and
/// burn's `Module` derive does not see through a `Box`).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Generator {
    Upsample(UpsampleNet),
    Vdsr(Vdsr),
    Fsrcnn(Fsrcnn),
    Urdgn(UrdgnGenerator),
}

impl Generator {
    /// # Shapes
    /// - input `[batch, 3, 16, 16]` in [0, 1]
    /// - output `[batch, 3, 128, 128]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Generator::Upsample(g) => g.forward(x),
            Generator::Vdsr(g) => g.forward(x),
            Generator::Fsrcnn(g) => g.forward(x),
            Generator::Urdgn(g) => g.forward(x),
        }
    }
}
