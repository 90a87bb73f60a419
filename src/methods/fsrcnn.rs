//! IN+FSRCNN: FSRCNN(d, s, m) (Dong, Loy and Tang, ECCV 2016; [`crate::nets::fsrcnn`]) behind
//! the InpaintNet, trained with the L2 loss alone, as its paper trains it.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{GeneratorKind, GeneratorSpec, MethodSpec, Stage2Kind, Training};
use crate::losses::LossesSpec;
use crate::nets::fsrcnn::{Fsrcnn, FsrcnnConfig};
use crate::nets::spec::{Preset, UpsampleSpec};

pub const NAME: &str = "in_fsrcnn";

method_block! {
    /// `method: {type: in_fsrcnn, ...}`.
    pub struct FsrcnnMethod(NAME, Stage2Kind::Generator) {
        pub d: Option<usize>,
        pub s: Option<usize>,
        pub m: Option<usize>,
    }
}

impl MethodSpec for FsrcnnMethod {
    fn training(&self, losses: &LossesSpec) -> Training {
        let generator = FsrcnnGenerator {
            d: self.d,
            s: self.s,
            m: self.m,
        };
        Training {
            losses: generator.losses(losses),
            generator: GeneratorSpec::Fsrcnn(generator),
            ..Training::default()
        }
    }
}

/// `generator: {type: fsrcnn, d, s, m}`; unset sizes from the preset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FsrcnnGenerator {
    pub d: Option<usize>,
    pub s: Option<usize>,
    pub m: Option<usize>,
}

impl FsrcnnGenerator {
    /// burn's configuration: the given sizes, else the preset's. FSRCNN is small, so the `cpu`
    /// preset is the paper's FSRCNN(56, 12, 4).
    fn sizes(&self, preset: Preset) -> FsrcnnConfig {
        let paper = FsrcnnConfig::new();
        let (d, s, m) = match preset {
            Preset::Tiny => (8, 4, 1),
            Preset::Cpu | Preset::Paper => (paper.d, paper.s, paper.m),
        };
        FsrcnnConfig::new()
            .with_d(self.d.unwrap_or(d))
            .with_s(self.s.unwrap_or(s))
            .with_m(self.m.unwrap_or(m))
    }
}

impl GeneratorKind for FsrcnnGenerator {
    type Net = Fsrcnn;
    type Config = FsrcnnConfig;
    const METHOD: &'static str = NAME;
    const REFERENCE_CLASS: &'static str = "Fsrcnn";

    fn resolved(&self, preset: Preset) -> Self {
        let c = self.sizes(preset);
        FsrcnnGenerator {
            d: Some(c.d),
            s: Some(c.s),
            m: Some(c.m),
        }
    }

    fn net_config(&self, preset: Preset, _upsample: &UpsampleSpec) -> FsrcnnConfig {
        self.sizes(preset)
    }

    fn init(&self, preset: Preset, upsample: &UpsampleSpec, device: &Device) -> Fsrcnn {
        self.net_config(preset, upsample).init(device)
    }

    fn losses(&self, losses: &LossesSpec) -> LossesSpec {
        losses.l2_only()
    }
}
