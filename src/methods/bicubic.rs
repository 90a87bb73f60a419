//! IN+bicubic: the inpainted 16x16 face upscaled 8x by PROTOCOL.md's bicubic (PIL's, a = -0.5).
//! No stage 2.

use serde::{Deserialize, Serialize};

use super::{MethodSpec, Stage2Kind};
use crate::nets::spec::{InpaintSpec, Preset};

pub const NAME: &str = "in_bicubic";

/// `method: {type: in_bicubic, ...}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BicubicMethod {
    pub preset: Preset,
    pub inpaint: InpaintSpec,
    #[serde(default = "super::yes")]
    pub composite: bool,
}

impl MethodSpec for BicubicMethod {
    fn name(&self) -> &'static str {
        NAME
    }

    fn base(&self) -> (Preset, &InpaintSpec, bool) {
        (self.preset, &self.inpaint, self.composite)
    }

    fn stage2_kind(&self) -> Stage2Kind {
        Stage2Kind::None
    }
}
