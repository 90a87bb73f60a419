//! IN+bicubic: the inpainted 16x16 face upscaled 8x by PROTOCOL.md's bicubic (PIL's, a = -0.5).
//! No stage 2.

use super::{MethodSpec, Stage2Kind};

pub const NAME: &str = "in_bicubic";

method_block! {
    /// `method: {type: in_bicubic, ...}`.
    pub struct BicubicMethod(NAME, Stage2Kind::None) {}
}

impl MethodSpec for BicubicMethod {}
