//! The geometry fixed by `docs/PROTOCOL.md`: CelebA's aligned image, the 128x128 HR crop and
//! the 8x antialiased bicubic downscaling to 16x16.

use serde::{Deserialize, Serialize};

/// Width of CelebA's aligned images (`img_align_celeba`).
pub const ALIGNED_WIDTH: u32 = 178;
/// Height of CelebA's aligned images.
pub const ALIGNED_HEIGHT: u32 = 218;

/// Crop and downscaling parameters. The defaults are PROTOCOL.md's; the prepared dataset's
/// manifest records the values it was made with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    /// Left edge of the HR crop in the aligned image.
    pub crop_x: u32,
    /// Top edge of the HR crop in the aligned image.
    pub crop_y: u32,
    /// Side of the square HR crop.
    pub hr_size: u32,
    /// Downscaling factor from HR to LR.
    pub scale: u32,
    /// Bicubic kernel parameter (Keys' `a`): -0.5 as in MATLAB's `imresize` and PIL.
    pub cubic_a: f64,
}

impl Default for Protocol {
    fn default() -> Self {
        Self {
            crop_x: 24,
            crop_y: 66,
            hr_size: 128,
            scale: 8,
            cubic_a: -0.5,
        }
    }
}

impl Protocol {
    /// Side of the LR image.
    pub fn lr_size(&self) -> u32 {
        self.hr_size / self.scale
    }
}

/// Side of the HR face under the default protocol.
pub const HR_SIZE: u32 = 128;
/// Side of the LR face under the default protocol.
pub const LR_SIZE: u32 = 16;
