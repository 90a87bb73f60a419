//! The order in which a stage sees its training images and the holes it cuts into them. Both are
//! pure functions of (seed, stage, step), so a resumed run sees exactly what an uninterrupted one
//! would have.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::data::occlusion::{Hole, MAX_SIDE, MIN_SIDE, random_hole_sides};

/// Batches of a training split, epoch by epoch.
#[derive(Clone, Debug)]
pub struct Sampler {
    n: usize,
    batch_size: usize,
    seed: u64,
    tag: u64,
    /// The training holes' sides (PROTOCOL's 4..=8 unless a stage sets `holes`).
    sides: (u32, u32),
    /// Whether faces are mirrored at random.
    hflip: bool,
}

impl Sampler {
    /// `tag` separates the streams of different stages trained with the same seed.
    pub fn new(n: usize, batch_size: usize, seed: u64, tag: u64) -> Self {
        Self {
            n,
            batch_size: batch_size.clamp(1, n.max(1)),
            seed,
            tag,
            sides: (MIN_SIDE, MAX_SIDE),
            hflip: false,
        }
    }

    /// Draws training holes with sides in `min..=max` instead of the protocol's law.
    pub fn with_hole_sides(mut self, min: u32, max: u32) -> Self {
        self.sides = (min, max);
        self
    }

    /// Mirrors faces left-right with probability 1/2 ([`Sampler::flip`]).
    pub fn with_hflip(mut self, on: bool) -> Self {
        self.hflip = on;
        self
    }

    /// Whether the `k`-th face of step `step` is mirrored (never, unless `with_hflip`). A
    /// stream of its own, so switching flips on changes neither the batches nor the holes.
    pub fn flip(&self, step: usize, k: usize) -> bool {
        self.hflip && self.mix(step as u64 ^ 0x00f1_1900_0000_0000, k as u64 + 1) & 1 == 1
    }

    /// The effective batch size (at most the split size).
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Full batches per epoch (the remainder of each epoch's permutation is dropped).
    pub fn batches_per_epoch(&self) -> usize {
        (self.n / self.batch_size).max(1)
    }

    fn mix(&self, a: u64, b: u64) -> u64 {
        // SplitMix64-style mixing of the seed, stage tag and counters.
        let mut z = self
            .seed
            .wrapping_add(self.tag.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add(a.wrapping_mul(0xBF58_476D_1CE4_E5B9))
            .wrapping_add(b.wrapping_mul(0x94D0_49BB_1331_11EB));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The image indices of optimiser step `step`.
    pub fn batch(&self, step: usize) -> Vec<usize> {
        let bpe = self.batches_per_epoch();
        let (epoch, pos) = (step / bpe, step % bpe);
        let mut order: Vec<usize> = (0..self.n).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(self.mix(epoch as u64, 0)));
        order
            .into_iter()
            .skip(pos * self.batch_size)
            .take(self.batch_size)
            .collect()
    }

    /// The training hole (PROTOCOL's training law) for the `k`-th image of step `step`.
    pub fn hole(&self, step: usize, k: usize, lr_size: u32) -> Hole {
        let mut rng = ChaCha8Rng::seed_from_u64(self.mix(step as u64, k as u64 + 1));
        random_hole_sides(&mut rng, lr_size, self.sides.0, self.sides.1)
    }
}
