//! IN+EDSR: EDSR (Lim et al., CVPRW 2017; [`crate::nets::edsr`]) behind the InpaintNet, trained
//! with the L2 loss alone. (EDSR's paper trains with L1; every baseline here trains with the
//! pixel loss of Eq. 2, so that the methods differ only in their networks, and L2 is what PSNR
//! measures.)

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{GeneratorKind, GeneratorSpec, MethodSpec, Stage2Kind, Training};
use crate::losses::LossesSpec;
use crate::nets::edsr::{Edsr, EdsrConfig};
use crate::nets::spec::{Preset, UpsampleSpec};

pub const NAME: &str = "in_edsr";

method_block! {
    /// `method: {type: in_edsr, ...}`.
    pub struct EdsrMethod(NAME, Stage2Kind::Generator) {
        /// Residual blocks (paper preset: 16, the EDSR baseline).
        pub blocks: Option<usize>,
        /// Channels (paper preset: 64).
        pub width: Option<usize>,
    }
}

impl MethodSpec for EdsrMethod {
    fn training(&self, losses: &LossesSpec) -> Training {
        let generator = EdsrGenerator {
            blocks: self.blocks,
            width: self.width,
        };
        Training {
            losses: generator.losses(losses),
            generator: GeneratorSpec::Edsr(generator),
            ..Training::default()
        }
    }
}

/// `generator: {type: edsr, blocks, width}`; unset sizes from the preset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdsrGenerator {
    pub blocks: Option<usize>,
    pub width: Option<usize>,
}

impl EdsrGenerator {
    /// burn's configuration: the given sizes, else the preset's (`cpu`: 8 blocks of 32
    /// channels, about the `cpu` UpsampleNet's cost; `paper`: the EDSR baseline).
    fn sizes(&self, preset: Preset) -> EdsrConfig {
        let (blocks, width) = match preset {
            Preset::Tiny => (2, 8),
            Preset::Cpu => (8, 32),
            Preset::Paper => {
                let paper = EdsrConfig::new();
                (paper.blocks, paper.width)
            }
        };
        EdsrConfig::new()
            .with_blocks(self.blocks.unwrap_or(blocks))
            .with_width(self.width.unwrap_or(width))
    }
}

impl GeneratorKind for EdsrGenerator {
    type Net = Edsr;
    type Config = EdsrConfig;
    const METHOD: &'static str = NAME;
    const REFERENCE_CLASS: &'static str = "Edsr";

    fn resolved(&self, preset: Preset) -> Self {
        let c = self.sizes(preset);
        EdsrGenerator {
            blocks: Some(c.blocks),
            width: Some(c.width),
        }
    }

    fn net_config(&self, preset: Preset, _upsample: &UpsampleSpec) -> EdsrConfig {
        self.sizes(preset)
    }

    fn init(&self, preset: Preset, upsample: &UpsampleSpec, device: &Device) -> Edsr {
        self.net_config(preset, upsample).init(device)
    }

    fn losses(&self, losses: &LossesSpec) -> LossesSpec {
        losses.l2_only()
    }
}
