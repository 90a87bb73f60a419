//! OFHNet (Cao et al., "Hallucinating very low-resolution and obscured face images"): the
//! InpaintNet, then the UpsampleNet trained with the L2, adversarial and semantic structure losses
//! (Eq. 6), each block at the experiment's weight.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{GeneratorKind, MethodSpec, Stage2Kind, Training};
use crate::losses::LossesSpec;
use crate::nets::spec::{DiscriminatorSpec, InpaintSpec, Preset, UpsampleSpec};
use crate::nets::upsample::UpsampleNet;

pub const NAME: &str = "ofhnet";

/// `method: {type: ofhnet, ...}`: OFHNet's networks (paper Sec. 3.1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfhnetMethod {
    pub preset: Preset,
    pub inpaint: InpaintSpec,
    pub upsample: UpsampleSpec,
    pub discriminator: DiscriminatorSpec,
    /// Feed UpsampleNet the known pixels and InpaintNet's pixels only inside the hole.
    #[serde(default = "super::yes")]
    pub composite: bool,
}

impl MethodSpec for OfhnetMethod {
    fn name(&self) -> &'static str {
        NAME
    }

    fn base(&self) -> (Preset, &InpaintSpec, bool) {
        (self.preset, &self.inpaint, self.composite)
    }

    fn stage2_kind(&self) -> Stage2Kind {
        Stage2Kind::Generator
    }

    fn training(&self, losses: &LossesSpec) -> Training {
        let generator = UpsampleGenerator {};
        Training {
            losses: generator.losses(losses),
            generator: super::GeneratorSpec::Upsample(generator),
            upsample: self.upsample.clone(),
            discriminator: self.discriminator.clone(),
        }
    }
}

/// `generator: {type: upsample}`: UpsampleNet, sized by the configuration's `upsample` block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpsampleGenerator {}

impl GeneratorKind for UpsampleGenerator {
    type Net = UpsampleNet;
    const METHOD: &'static str = NAME;

    fn resolved(&self, _preset: Preset) -> Self {
        UpsampleGenerator {}
    }

    fn init(&self, preset: Preset, upsample: &UpsampleSpec, device: &Device) -> UpsampleNet {
        upsample.net_config(preset).init(device)
    }

    /// Every block of the experiment (Eq. 6).
    fn losses(&self, losses: &LossesSpec) -> LossesSpec {
        losses.clone()
    }
}
