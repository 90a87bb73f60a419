//! Training: the two stages of every learned method ([`stages`]), the landmark networks ([`landmarks`]), and what
//! they share: configuration, data order, checkpoints and logs.

pub mod checkpoint;
pub mod config;
pub mod ema;
pub mod landmarks;
pub mod log;
pub mod sampler;
pub mod stages;
pub mod tensors;

use std::sync::Mutex;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};

/// Serialises seeded initialisations: burn draws initial weights from one RNG per backend, and
/// its parameters initialise lazily, so two trainings started at once in one process (parallel
/// tests, a multi-run worker) would interleave their draws and lose "same seed, same run".
static SEEDED_INIT: Mutex<()> = Mutex::new(());

struct Materialise;

impl ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Builds a module from `seed` alone: seeds the device, runs `init` and materialises every lazy
/// parameter, all under one process-wide lock.
pub fn seeded_init<M: Module>(device: &Device, seed: u64, init: impl FnOnce() -> M) -> M {
    let _guard = SEEDED_INIT.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    let module = init();
    module.visit(&mut Materialise);
    module
}
