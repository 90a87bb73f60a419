//! Who a synthetic face is and how one picture of them is taken: per-identity parameters (face
//! shape, feature sizes, skin, hair, eye colour) and per-shot variation (pose, expression,
//! lighting, clothes, noise), each drawn from a seeded generator.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::math::{
    Rgb, V2, V3, gauss, hsv, mix_rgb, mul_rgb, normal, palette, pick, rgb8, uniform,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HairLength {
    Bald,
    Short,
    Bob,
    Long,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fringe {
    None,
    Bangs,
    Swept,
}

/// What stays the same over all images of one synthetic person. Lengths are in pixels of the
/// aligned image at scale 1, in the face's own frame: x to the image's right, y down, origin at
/// the middle of the eye line.
#[derive(Clone, Debug)]
pub(super) struct Identity {
    pub(super) masculine: bool,
    /// Half the face's width at the ears (jaw points 1 and 17).
    pub(super) half_width: f32,
    /// Superellipse exponent of the jaw: below 2 a pointed chin, above 2 a square jaw.
    pub(super) jaw_exponent: f32,
    /// Height of jaw points 1 and 17 below the eye line.
    pub(super) ear_level: f32,
    /// Height of the chin below the eye line.
    pub(super) chin_drop: f32,
    pub(super) eye_half_spacing: f32,
    pub(super) eye_width: f32,
    pub(super) eye_height: f32,
    /// How much higher the outer eye corner sits than the inner one.
    pub(super) eye_tilt: f32,
    pub(super) brow_height: f32,
    pub(super) brow_arch: f32,
    pub(super) brow_thickness: f32,
    pub(super) brow_length: f32,
    pub(super) nose_length: f32,
    pub(super) nose_half_width: f32,
    pub(super) philtrum: f32,
    pub(super) mouth_half_width: f32,
    pub(super) upper_lip: f32,
    pub(super) lower_lip: f32,
    pub(super) cupid: f32,
    /// Small left/right differences: eye heights, brow heights, mouth corner, jaw width.
    pub(super) asym: [f32; 4],
    pub(super) skin: Rgb,
    pub(super) lip: Rgb,
    pub(super) hair: Rgb,
    pub(super) brow: Rgb,
    pub(super) iris: Rgb,
    pub(super) hair_length: HairLength,
    pub(super) fringe: Fringe,
    pub(super) curly: bool,
    pub(super) hair_volume: f32,
    pub(super) hairline: f32,
    pub(super) bangs: f32,
    pub(super) recede: f32,
    pub(super) part: f32,
    pub(super) beard: f32,
    pub(super) lash: f32,
    pub(super) blush: f32,
    pub(super) moles: Vec<V2>,
}

impl Identity {
    pub(super) fn sample(rng: &mut ChaCha8Rng) -> Self {
        let masculine = rng.random_bool(0.45);
        let m = if masculine { 1.0 } else { 0.0 };
        let half_width = gauss(rng, 42.0 + 1.5 * m, 2.0, 38.0, 47.0);
        let jaw_exponent = if masculine {
            uniform(rng, 2.0, 2.8)
        } else {
            uniform(rng, 1.7, 2.4)
        };
        let ear_level = uniform(rng, -1.0, 3.0);
        let chin_drop = gauss(rng, 69.0, 2.0, 64.0, 72.5);
        let eye_half_spacing = gauss(rng, 19.1, 0.8, 17.3, 21.0);
        let eye_width = gauss(rng, 15.2, 0.9, 13.0, 17.0);
        let eye_height = gauss(rng, 5.0, 0.5, 3.8, 6.3);
        let eye_tilt = uniform(rng, 0.2, 2.4);
        let brow_height = gauss(rng, 13.5, 1.2, 11.0, 16.5);
        let brow_arch = uniform(rng, 2.5, 5.5);
        let brow_thickness = if masculine {
            uniform(rng, 3.2, 4.8)
        } else {
            uniform(rng, 2.6, 3.8)
        };
        let brow_length = gauss(rng, 27.0, 1.5, 23.0, 31.0);
        let nose_length = gauss(rng, 23.0, 1.4, 19.5, 26.5);
        let nose_half_width = gauss(rng, 8.0 + 0.6 * m, 0.7, 6.5, 10.5);
        let philtrum = uniform(rng, 4.0, 7.5);
        let mouth_half_width = gauss(rng, 17.3, 1.1, 14.5, 20.5);
        let (upper_lip, lower_lip) = if masculine {
            (uniform(rng, 2.5, 4.0), uniform(rng, 4.0, 6.5))
        } else {
            (uniform(rng, 3.2, 5.0), uniform(rng, 5.0, 7.5))
        };
        let cupid = uniform(rng, 0.3, 1.3);
        let asym = [
            gauss(rng, 0.0, 0.4, -1.0, 1.0),
            gauss(rng, 0.0, 0.5, -1.2, 1.2),
            gauss(rng, 0.0, 0.4, -1.0, 1.0),
            gauss(rng, 0.0, 0.012, -0.03, 0.03),
        ];
        // The mouth must leave room for a chin below it.
        let lower_lip_bottom = nose_length + 7.6 + philtrum + upper_lip + lower_lip;
        let chin_drop = chin_drop.max(lower_lip_bottom + 17.0);

        let skin_tones = [
            rgb8(234, 202, 182),
            rgb8(230, 190, 164),
            rgb8(226, 178, 144),
            rgb8(200, 147, 110),
            rgb8(172, 120, 86),
            rgb8(130, 86, 60),
            rgb8(90, 60, 44),
        ];
        let darkness = rng.random::<f32>().powf(1.6) * 6.0;
        let base = palette(&skin_tones, darkness);
        // Lighter or darker, redder or yellower; independent channel noise would make green skin.
        let lightness = 1.0 + gauss(rng, 0.0, 0.03, -0.08, 0.08);
        let red = gauss(rng, 0.0, 0.02, -0.05, 0.05);
        let yellow = gauss(rng, 0.0, 0.03, -0.07, 0.07);
        let skin = [
            base[0] * lightness * (1.0 + red),
            base[1] * lightness * (1.0 - 0.5 * red),
            base[2] * lightness * (1.0 - yellow),
        ];
        let natural_lip = mul_rgb(skin, [0.84, 0.6, 0.62]);
        let lip = if !masculine && rng.random_bool(0.4) {
            let colour = if rng.random_bool(0.5) {
                rgb8(176, 52, 68)
            } else {
                rgb8(200, 104, 118)
            };
            mix_rgb(natural_lip, colour, uniform(rng, 0.3, 0.7))
        } else {
            natural_lip
        };

        let hair_colours = [
            rgb8(26, 22, 22),
            rgb8(56, 39, 30),
            rgb8(96, 66, 44),
            rgb8(140, 104, 70),
            rgb8(196, 160, 104),
            rgb8(222, 204, 168),
            rgb8(126, 56, 32),
            rgb8(158, 156, 152),
        ];
        let mut weights = [0.3, 0.25, 0.18, 0.08, 0.1, 0.03, 0.04, 0.02];
        if darkness > 3.5 {
            // Darker skin: mostly black or dark brown hair.
            weights = [0.6, 0.3, 0.06, 0.01, 0.01, 0.0, 0.0, 0.02];
        }
        let h = hair_colours[pick(rng, &weights)];
        let hair = [
            h[0] * (1.0 + 0.08 * normal(rng)),
            h[1] * (1.0 + 0.08 * normal(rng)),
            h[2] * (1.0 + 0.08 * normal(rng)),
        ];
        // Even fair-haired people's brows read darker than their skin.
        let brow = [
            (hair[0] * 0.75).min(skin[0] * 0.45),
            (hair[1] * 0.75).min(skin[1] * 0.4),
            (hair[2] * 0.75).min(skin[2] * 0.4),
        ];
        let iris_colours = [
            rgb8(58, 36, 24),
            rgb8(98, 62, 36),
            rgb8(120, 98, 54),
            rgb8(82, 112, 74),
            rgb8(78, 118, 164),
            rgb8(108, 118, 128),
        ];
        let iris_weights = if darkness > 2.5 {
            [0.6, 0.35, 0.05, 0.0, 0.0, 0.0]
        } else {
            [0.25, 0.25, 0.15, 0.1, 0.18, 0.07]
        };
        let iris = iris_colours[pick(rng, &iris_weights)];

        let hair_length = if masculine {
            [
                HairLength::Bald,
                HairLength::Short,
                HairLength::Bob,
                HairLength::Long,
            ][pick(rng, &[0.08, 0.8, 0.08, 0.04])]
        } else {
            [HairLength::Short, HairLength::Bob, HairLength::Long][pick(rng, &[0.1, 0.3, 0.6])]
        };
        let fringe = if hair_length == HairLength::Bald {
            Fringe::None
        } else {
            let bangs = if masculine { 0.1 } else { 0.25 };
            [Fringe::None, Fringe::Bangs, Fringe::Swept][pick(rng, &[0.55, bangs, 0.2])]
        };
        let curly = rng.random_bool(if darkness > 3.5 { 0.5 } else { 0.12 });
        let hair_volume = uniform(rng, 0.0, 8.0) + if curly { 6.0 } else { 0.0 };
        let hairline = gauss(rng, 40.0, 3.0, 33.0, 47.0);
        let bangs = uniform(rng, 17.0, 24.0);
        let recede = if masculine && rng.random_bool(0.3) {
            uniform(rng, 3.0, 10.0)
        } else {
            0.0
        };
        let part = uniform(rng, -1.0, 1.0);
        let beard = if masculine && rng.random_bool(0.35) {
            uniform(rng, 0.25, 0.85)
        } else {
            0.0
        };
        let lash = if masculine {
            uniform(rng, 0.5, 0.75)
        } else {
            uniform(rng, 0.75, 1.0)
        };
        let blush = if masculine {
            uniform(rng, 0.0, 0.08)
        } else {
            uniform(rng, 0.05, 0.2)
        };
        let n_moles = pick(rng, &[0.6, 0.3, 0.1]);
        let moles = (0..n_moles)
            .map(|_| {
                let side = if rng.random_bool(0.5) { -1.0 } else { 1.0 };
                [side * uniform(rng, 10.0, 30.0), uniform(rng, 8.0, 50.0)]
            })
            .collect();

        Self {
            masculine,
            half_width,
            jaw_exponent,
            ear_level,
            chin_drop,
            eye_half_spacing,
            eye_width,
            eye_height,
            eye_tilt,
            brow_height,
            brow_arch,
            brow_thickness,
            brow_length,
            nose_length,
            nose_half_width,
            philtrum,
            mouth_half_width,
            upper_lip,
            lower_lip,
            cupid,
            asym,
            skin,
            lip,
            hair,
            brow,
            iris,
            hair_length,
            fringe,
            curly,
            hair_volume,
            hairline,
            bangs,
            recede,
            part,
            beard,
            lash,
            blush,
            moles,
        }
    }

    /// Depth of the head's surface at `(x, y)`: an ellipsoid whose depth axis passes through the
    /// ears, so that yaw moves the nose more than the eyes and the eyes more than the jaw line.
    pub(super) fn surface_z(&self, x: f32, y: f32) -> f32 {
        let wx = self.half_width * 1.05;
        let r = 1.0 - (x / wx).powi(2) - ((y - 8.0) / 92.0).powi(2);
        0.75 * self.half_width * r.max(0.0).sqrt()
    }
}

/// What changes from one image of a person to the next.
#[derive(Clone, Debug)]
pub(super) struct Shot {
    pub(super) yaw: f32,
    pub(super) pitch: f32,
    pub(super) roll: f32,
    pub(super) scale: f32,
    pub(super) shift: V2,
    pub(super) smile: f32,
    /// Vertical opening of the lips in pixels.
    pub(super) mouth_gap: f32,
    pub(super) brow_raise: f32,
    pub(super) eye_open: f32,
    pub(super) gaze: V2,
    /// Unit vector towards the light, in image axes (z towards the viewer).
    pub(super) light: V3,
    pub(super) ambient: f32,
    pub(super) exposure: f32,
    pub(super) tint: Rgb,
    pub(super) clothes: Rgb,
    pub(super) neckline: f32,
    pub(super) noise: f32,
}

impl Shot {
    pub(super) fn sample(rng: &mut ChaCha8Rng) -> Self {
        let yaw = gauss(rng, 0.0, 0.14, -0.32, 0.32);
        let pitch = gauss(rng, 0.0, 0.05, -0.12, 0.12);
        let roll = gauss(rng, 0.0, 0.035, -0.08, 0.08);
        let scale = gauss(rng, 1.0, 0.025, 0.94, 1.06);
        let shift = [
            gauss(rng, 0.0, 1.0, -2.5, 2.5),
            gauss(rng, 0.0, 1.0, -2.5, 2.5),
        ];
        let smile = if rng.random_bool(0.55) {
            uniform(rng, 0.3, 1.0)
        } else {
            uniform(rng, 0.0, 0.15)
        };
        let mouth_gap = if smile > 0.3 && rng.random_bool(0.7) {
            uniform(rng, 2.0, 9.0)
        } else if rng.random_bool(0.12) {
            uniform(rng, 1.0, 8.0)
        } else {
            uniform(rng, 0.0, 0.4)
        };
        let brow_raise = gauss(rng, 0.0, 0.4, -0.6, 1.2);
        let eye_open = if rng.random_bool(0.05) {
            uniform(rng, 0.1, 0.35)
        } else {
            gauss(rng, 1.0, 0.1, 0.7, 1.25) * (1.0 - 0.15 * smile)
        };
        let gaze = [
            gauss(rng, 0.0, 0.25, -0.5, 0.5),
            gauss(rng, 0.0, 0.15, -0.4, 0.4),
        ];
        let azimuth = uniform(rng, -1.2, 1.2);
        let elevation = uniform(rng, 0.1, 0.6);
        let light = [
            azimuth.sin() * elevation.cos(),
            -elevation.sin(),
            azimuth.cos() * elevation.cos(),
        ];
        let ambient = uniform(rng, 0.35, 0.7);
        let exposure = gauss(rng, 1.0, 0.05, 0.86, 1.08);
        // Warmer or cooler light, never green or magenta.
        let warmth = gauss(rng, 0.0, 0.025, -0.06, 0.06);
        let tint = [1.0 + warmth, 1.0, 1.0 - warmth];
        let clothes = hsv(
            rng.random::<f32>(),
            uniform(rng, 0.0, 0.7),
            uniform(rng, 0.1, 0.9),
        );
        let neckline = uniform(rng, 0.0, 1.0);
        let noise = uniform(rng, 1.5, 3.5);
        Self {
            yaw,
            pitch,
            roll,
            scale,
            shift,
            smile,
            mouth_gap,
            brow_raise,
            eye_open,
            gaze,
            light,
            ambient,
            exposure,
            tint,
            clothes,
            neckline,
            noise,
        }
    }
}
