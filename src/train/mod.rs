//! Training: OFHNet's two stages ([`ofhnet`]), the landmark networks ([`landmarks`]), and what
//! they share: configuration, data order, checkpoints and logs.

pub mod checkpoint;
pub mod config;
pub mod landmarks;
pub mod log;
pub mod ofhnet;
pub mod sampler;
pub mod tensors;
