//! The networks of OFHNet (burn 0.22; each an `XConfig` with `init(&Device)` and a `forward`):
//! [`inpaint::InpaintNet`] (paper Sec. 3.1), [`upsample::UpsampleNet`] (Sec. 3.1),
//! [`discriminator::Discriminator`] (Sec. 3.2) and [`landmark::LandmarkNet`] (Sec. 3.2, after
//! Fan & Zhou).

pub mod blocks;
pub mod discriminator;
pub mod inpaint;
pub mod landmark;
pub mod upsample;
