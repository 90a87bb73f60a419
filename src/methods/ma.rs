//! IN+Ma: position-patch face hallucination (Ma, Zhang and Qi 2010, [`super::position_patch`])
//! behind the InpaintNet; its stage 2 builds patch dictionaries from every training face.

use serde::{Deserialize, Serialize};

use super::position_patch::PositionPatchConfig;
use super::{MethodSpec, Stage2Kind};
use crate::nets::spec::{InpaintSpec, Preset};

pub const NAME: &str = "in_ma";

/// `method: {type: in_ma, ...}`; unset options are [`PositionPatchConfig`]'s defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaMethod {
    pub preset: Preset,
    pub inpaint: InpaintSpec,
    #[serde(default = "super::yes")]
    pub composite: bool,
    pub patch: Option<usize>,
    pub overlap: Option<usize>,
    pub train_faces: Option<usize>,
    pub reg: Option<f64>,
}

impl MethodSpec for MaMethod {
    fn name(&self) -> &'static str {
        NAME
    }

    fn base(&self) -> (Preset, &InpaintSpec, bool) {
        (self.preset, &self.inpaint, self.composite)
    }

    fn stage2_kind(&self) -> Stage2Kind {
        Stage2Kind::Dictionary
    }

    fn position_patch(&self) -> Option<PositionPatchConfig> {
        let d = PositionPatchConfig::default();
        Some(PositionPatchConfig {
            patch: self.patch.unwrap_or(d.patch),
            overlap: self.overlap.unwrap_or(d.overlap),
            train_faces: self.train_faces.or(d.train_faces),
            reg: self.reg.unwrap_or(d.reg),
        })
    }
}
