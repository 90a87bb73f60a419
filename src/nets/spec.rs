//! The sizes of the networks, as the training configuration and the experiment files name
//! them: a preset, and per-network widths that override it. Serialized into run keys and model
//! `config.json` files, so fields are added only as options (unset options stay out of keys).

use serde::{Deserialize, Serialize};

use super::upsample::{UpsampleNetConfig, presets};

/// Network-size presets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// For tests and CI smoke runs: seconds on a CPU.
    Tiny,
    /// One epoch of celeba6k's train split in about 30 minutes on 2 CPU cores.
    #[default]
    Cpu,
    /// The paper's widths, for a GPU.
    Paper,
}

impl Preset {
    pub fn upsample_widths(self) -> [usize; 3] {
        match self {
            Preset::Tiny => presets::TINY,
            Preset::Cpu => presets::CPU,
            Preset::Paper => presets::PAPER,
        }
    }

    pub fn head_width(self) -> usize {
        match self {
            Preset::Tiny => 8,
            Preset::Cpu => 16,
            Preset::Paper => 64,
        }
    }

    pub fn discriminator_widths(self) -> [usize; 6] {
        match self {
            Preset::Tiny => [4, 4, 8, 8, 8, 8],
            Preset::Cpu => [8, 8, 16, 16, 32, 32],
            Preset::Paper => [32, 32, 64, 64, 128, 128],
        }
    }
}

/// InpaintNet's widths (paper Sec. 3.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InpaintSpec {
    /// Encoder widths, strides 1, 1, 2, 2.
    pub encoder: [usize; 4],
    /// Decoder upsample-module widths.
    pub decoder: [usize; 2],
}

impl Default for InpaintSpec {
    fn default() -> Self {
        Self {
            encoder: [16, 32, 64, 64],
            decoder: [64, 32],
        }
    }
}

/// UpsampleNet's widths; unset values come from the preset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpsampleSpec {
    pub widths: Option<[usize; 3]>,
    pub head_width: Option<usize>,
    /// Predict the detail over the bicubic upscaling (a global residual; our option, not the
    /// paper's). Unset: the paper's sigmoid output.
    pub residual: Option<bool>,
}

/// The discriminator's widths; unset values come from the preset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscriminatorSpec {
    pub widths: Option<[usize; 6]>,
}

impl UpsampleSpec {
    /// burn's UpsampleNet configuration under `preset` (unset widths from the preset).
    pub fn net_config(&self, preset: Preset) -> UpsampleNetConfig {
        UpsampleNetConfig::new()
            .with_widths(self.widths.unwrap_or(preset.upsample_widths()))
            .with_head_width(self.head_width.unwrap_or(preset.head_width()))
            .with_residual(self.residual == Some(true))
    }
}
