//! ofhnet reimplements "Hallucinating very low-resolution and obscured face images" (OFHNet; Yang,
//! Liu, Li, Yang and Zhou) as an experiment-tracking research harness.
//!
//! The paper turns a 16x16 face with a hole in it into a 128x128 face in two stages: an inpainting
//! network completes the tiny face (paper Sec. 3.1) and an 8x upsampling network hallucinates the
//! high-resolution face (Sec. 3.1-3.2), trained with L2, adversarial and semantic structure losses.
//!
//! Every convention that the paper leaves open (crop, downscaling, occlusions, metric details) is
//! fixed by the project's protocol, `docs/PROTOCOL.md`, and lives in [`data::protocol`].
//!
//! Module map, following the data flow:
//! - [`data`]: faces in CelebA's layout (real or [`data::synth`]etic), the protocol's crop and
//!   antialiased bicubic ([`data::resize`]), occlusions ([`data::occlusion`]) and the prepared
//!   dataset format ([`data::dataset`]).
//! - [`metrics`]: PSNR/SSIM, landmark NRMSE, parsing IoU and paired bootstrap intervals.
//! - [`device`]: the `--device` string to a burn [`burn::tensor::Device`].
//! - [`cli`]: one module per subcommand of the `ofhnet` binary.

pub mod alloc;
pub mod bench;
pub mod cli;
pub mod data;
pub mod device;
pub mod error;
pub mod evaluate;
pub mod hallucinate;
pub mod harness;
pub mod interop;
pub mod interrupt;
pub mod losses;
pub mod methods;
pub mod metrics;
pub mod model;
pub mod nets;
pub mod report;
pub mod train;

pub use error::{Error, Result};

#[cfg(test)]
mod layers;
