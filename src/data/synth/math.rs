//! Small shared helpers: seeded random draws, sRGB colour arithmetic and 2-D vector math.

use std::f32::consts::TAU;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

// ---------------------------------------------------------------------------------------------
// Randomness

/// SplitMix64 of `a` and `b`: independent seeds for identities, images and splits.
pub(super) fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_add(b.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(super) fn uniform(rng: &mut ChaCha8Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

/// A standard normal draw (Box-Muller), so no distribution crate is needed.
pub(super) fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let u1 = 1.0 - rng.random::<f32>();
    let u2 = rng.random::<f32>();
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}

/// A normal draw with the given mean and deviation, clamped to `[lo, hi]`.
pub(super) fn gauss(rng: &mut ChaCha8Rng, mean: f32, sd: f32, lo: f32, hi: f32) -> f32 {
    (mean + sd * normal(rng)).clamp(lo, hi)
}

/// An index drawn with the given weights.
pub(super) fn pick(rng: &mut ChaCha8Rng, weights: &[f32]) -> usize {
    let total: f32 = weights.iter().sum();
    let mut u = rng.random::<f32>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

// ---------------------------------------------------------------------------------------------
// Colours and small vector helpers

pub(super) type V2 = [f32; 2];
pub(super) type V3 = [f32; 3];
/// sRGB in [0, 1].
pub(super) type Rgb = [f32; 3];

pub(super) fn rgb8(r: u8, g: u8, b: u8) -> Rgb {
    [r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0]
}

pub(super) fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

pub(super) fn mix_rgb(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        lerp(a[0], b[0], t),
        lerp(a[1], b[1], t),
        lerp(a[2], b[2], t),
    ]
}

pub(super) fn scale_rgb(a: Rgb, s: f32) -> Rgb {
    [a[0] * s, a[1] * s, a[2] * s]
}

pub(super) fn mul_rgb(a: Rgb, b: Rgb) -> Rgb {
    [a[0] * b[0], a[1] * b[1], a[2] * b[2]]
}

pub(super) fn palette(stops: &[Rgb], t: f32) -> Rgb {
    let t = t.clamp(0.0, (stops.len() - 1) as f32);
    let i = (t.floor() as usize).min(stops.len() - 2);
    mix_rgb(stops[i], stops[i + 1], t - i as f32)
}

pub(super) fn hsv(h: f32, s: f32, v: f32) -> Rgb {
    let h = (h.rem_euclid(1.0)) * 6.0;
    let c = v * s;
    let x = c * (1.0 - ((h % 2.0) - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r + m, g + m, b + m]
}

pub(super) fn add2(a: V2, b: V2) -> V2 {
    [a[0] + b[0], a[1] + b[1]]
}

pub(super) fn sub2(a: V2, b: V2) -> V2 {
    [a[0] - b[0], a[1] - b[1]]
}

pub(super) fn lerp2(a: V2, b: V2, t: f32) -> V2 {
    [lerp(a[0], b[0], t), lerp(a[1], b[1], t)]
}

pub(super) fn len2(a: V2) -> f32 {
    (a[0] * a[0] + a[1] * a[1]).sqrt()
}

pub(super) fn mean2(points: &[V2]) -> V2 {
    let n = points.len() as f32;
    let s = points
        .iter()
        .fold([0.0, 0.0], |acc, p| [acc[0] + p[0], acc[1] + p[1]]);
    [s[0] / n, s[1] / n]
}
