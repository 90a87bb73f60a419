//! ofhnet's one integration-test binary (burn links slowly, so every area is a module here).

mod acceptance;
mod baselines;
mod cli;
mod common;
mod harness;
mod import;
mod interop;
mod landmarks;
mod metrics;
mod nets;
mod occlusion;
mod paper;
mod queue;
mod report;
mod resize;
mod runstore;
mod slurm;
mod synth;
mod train;
