//! ofhnet's one integration-test binary (burn links slowly, so every area is a module here).

mod common;
mod import;
mod metrics;
mod nets;
mod occlusion;
mod resize;
mod synth;
mod train;
