//! IN+VDSR: VDSR (Kim, Lee and Lee, CVPR 2016; [`crate::nets::vdsr`]) behind the InpaintNet,
//! trained with the L2 loss alone, as its paper trains it.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{GeneratorKind, GeneratorSpec, MethodSpec, Stage2Kind, Training};
use crate::losses::LossesSpec;
use crate::nets::spec::{Preset, UpsampleSpec};
use crate::nets::vdsr::{Vdsr, VdsrConfig};

pub const NAME: &str = "in_vdsr";

method_block! {
    /// `method: {type: in_vdsr, ...}`.
    pub struct VdsrMethod(NAME, Stage2Kind::Generator) {
        /// Layers (paper preset: 20).
        pub depth: Option<usize>,
        /// Channels (paper preset: 64).
        pub width: Option<usize>,
    }
}

impl MethodSpec for VdsrMethod {
    fn training(&self, losses: &LossesSpec) -> Training {
        let generator = VdsrGenerator {
            depth: self.depth,
            width: self.width,
        };
        Training {
            losses: generator.losses(losses),
            generator: GeneratorSpec::Vdsr(generator),
            ..Training::default()
        }
    }
}

/// `generator: {type: vdsr, depth, width}`; unset sizes from the preset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VdsrGenerator {
    pub depth: Option<usize>,
    pub width: Option<usize>,
}

impl VdsrGenerator {
    /// burn's configuration: the given sizes, else the preset's (paper: VDSR's 20 x 64).
    fn sizes(&self, preset: Preset) -> VdsrConfig {
        let (depth, width) = match preset {
            Preset::Tiny => (4, 8),
            Preset::Cpu => (8, 16),
            Preset::Paper => {
                let paper = VdsrConfig::new();
                (paper.depth, paper.width)
            }
        };
        VdsrConfig::new()
            .with_depth(self.depth.unwrap_or(depth))
            .with_width(self.width.unwrap_or(width))
    }
}

impl GeneratorKind for VdsrGenerator {
    type Net = Vdsr;
    type Config = VdsrConfig;
    const METHOD: &'static str = NAME;
    const REFERENCE_CLASS: &'static str = "Vdsr";

    fn resolved(&self, preset: Preset) -> Self {
        let c = self.sizes(preset);
        VdsrGenerator {
            depth: Some(c.depth),
            width: Some(c.width),
        }
    }

    fn net_config(&self, preset: Preset, _upsample: &UpsampleSpec) -> VdsrConfig {
        self.sizes(preset)
    }

    fn init(&self, preset: Preset, upsample: &UpsampleSpec, device: &Device) -> Vdsr {
        self.net_config(preset, upsample).init(device)
    }

    fn losses(&self, losses: &LossesSpec) -> LossesSpec {
        losses.l2_only()
    }
}
