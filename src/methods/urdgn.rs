//! IN+URDGN: URDGN's generator and discriminator (Yu and Porikli, ECCV 2016;
//! [`crate::nets::urdgn`]) behind the InpaintNet, trained with the L2 and adversarial losses, as
//! its paper trains it.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{GeneratorKind, GeneratorSpec, MethodSpec, Stage2Kind, Training};
use crate::losses::{LossBlock, LossesSpec};
use crate::nets::spec::{DiscriminatorSpec, Preset, UpsampleSpec};
use crate::nets::urdgn::{UrdgnConfig, UrdgnGenerator};

pub const NAME: &str = "in_urdgn";

method_block! {
    /// `method: {type: in_urdgn, ...}`.
    pub struct UrdgnMethod(NAME, Stage2Kind::Generator) {
        pub widths: Option<[usize; 3]>,
        pub discriminator: DiscriminatorSpec,
    }
}

impl MethodSpec for UrdgnMethod {
    fn training(&self, losses: &LossesSpec) -> Training {
        let generator = UrdgnGeneratorSpec {
            widths: self.widths,
        };
        Training {
            losses: generator.losses(losses),
            generator: GeneratorSpec::Urdgn(generator),
            discriminator: self.discriminator.clone(),
            ..Training::default()
        }
    }
}

/// `generator: {type: urdgn, widths}`; unset widths from the preset (UpsampleNet's).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UrdgnGeneratorSpec {
    pub widths: Option<[usize; 3]>,
}

impl GeneratorKind for UrdgnGeneratorSpec {
    type Net = UrdgnGenerator;
    type Config = UrdgnConfig;
    const METHOD: &'static str = NAME;
    const REFERENCE_CLASS: &'static str = "UrdgnGenerator";

    fn resolved(&self, preset: Preset) -> Self {
        UrdgnGeneratorSpec {
            widths: Some(self.widths.unwrap_or(preset.upsample_widths())),
        }
    }

    fn net_config(&self, preset: Preset, _upsample: &UpsampleSpec) -> UrdgnConfig {
        UrdgnConfig::new().with_widths(self.widths.unwrap_or(preset.upsample_widths()))
    }

    fn init(&self, preset: Preset, upsample: &UpsampleSpec, device: &Device) -> UrdgnGenerator {
        self.net_config(preset, upsample).init(device)
    }

    /// L2 and the adversarial block (the experiment's weight, else 0.001).
    fn losses(&self, losses: &LossesSpec) -> LossesSpec {
        LossesSpec {
            adversarial: Some(
                losses
                    .adversarial
                    .clone()
                    .unwrap_or(LossBlock { weight: 0.001 }),
            ),
            ..losses.l2_only()
        }
    }
}
