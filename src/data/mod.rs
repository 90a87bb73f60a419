//! Faces: reading CelebA's layout, drawing synthetic faces, the protocol's crop and downscaling,
//! occlusions, and the prepared dataset that training and evaluation read.

pub mod celeba;
pub mod dataset;
pub mod image_io;
pub mod landmarks;
pub mod occlusion;
pub mod protocol;
pub mod resize;
pub mod synth;

pub use landmarks::Landmarks68;
