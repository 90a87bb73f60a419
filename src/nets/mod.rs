//! The networks of OFHNet (burn 0.22; each an `XConfig` with `init(&Device)` and a `forward`):
//! [`inpaint::InpaintNet`] (paper Sec. 3.1), [`upsample::UpsampleNet`] (Sec. 3.1),
//! [`discriminator::Discriminator`] (Sec. 3.2) and [`landmark::LandmarkNet`] (Sec. 3.2, after
//! Fan & Zhou); the learned baselines [`vdsr::Vdsr`], [`fsrcnn::Fsrcnn`] and
//! [`urdgn::UrdgnGenerator`] (the methods that use them, and the stage-2 generator of a run,
//! are in [`crate::methods`]); and [`spec`], the network sizes as configuration files name them.

pub mod blocks;
pub mod discriminator;
pub mod edsr;
pub mod fsrcnn;
pub mod fused;
pub mod inpaint;
pub mod landmark;
pub mod spec;
pub mod upsample;
pub mod urdgn;
pub mod vdsr;
