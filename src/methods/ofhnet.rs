//! OFHNet (Cao et al., "Hallucinating very low-resolution and obscured face images"): the
//! InpaintNet, then the UpsampleNet trained with the L2, adversarial and semantic structure losses
//! (Eq. 6), each block at the experiment's weight.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{GeneratorKind, MethodSpec, Stage2Kind, Training};
use crate::losses::LossesSpec;
use crate::nets::spec::{DiscriminatorSpec, Preset, UpsampleSpec};
use crate::nets::upsample::{UpsampleNet, UpsampleNetConfig};

pub const NAME: &str = "ofhnet";

method_block! {
    /// `method: {type: ofhnet, ...}`: OFHNet's networks (paper Sec. 3.1).
    pub struct OfhnetMethod(NAME, Stage2Kind::Generator) {
        pub upsample: UpsampleSpec,
        pub discriminator: DiscriminatorSpec,
    }
}

impl MethodSpec for OfhnetMethod {
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
    type Config = UpsampleNetConfig;
    const METHOD: &'static str = NAME;
    const REFERENCE_CLASS: &'static str = "UpsampleNet";

    fn resolved(&self, _preset: Preset) -> Self {
        UpsampleGenerator {}
    }

    fn net_config(&self, preset: Preset, upsample: &UpsampleSpec) -> UpsampleNetConfig {
        upsample.net_config(preset)
    }

    fn init(&self, preset: Preset, upsample: &UpsampleSpec, device: &Device) -> UpsampleNet {
        self.net_config(preset, upsample).init(device)
    }

    /// Every block of the experiment (Eq. 6).
    fn losses(&self, losses: &LossesSpec) -> LossesSpec {
        losses.clone()
    }
}
