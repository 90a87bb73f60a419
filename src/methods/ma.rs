//! IN+Ma: position-patch face hallucination (Ma, Zhang and Qi 2010, [`super::position_patch`])
//! behind the InpaintNet; its stage 2 builds patch dictionaries from every training face.

use super::position_patch::PositionPatchConfig;
use super::{MethodSpec, Stage2Kind};

pub const NAME: &str = "in_ma";

method_block! {
    /// `method: {type: in_ma, ...}`; unset options are [`PositionPatchConfig`]'s defaults.
    pub struct MaMethod(NAME, Stage2Kind::Dictionary) {
        pub patch: Option<usize>,
        pub overlap: Option<usize>,
        pub train_faces: Option<usize>,
        pub reg: Option<f64>,
    }
}

impl MethodSpec for MaMethod {
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
