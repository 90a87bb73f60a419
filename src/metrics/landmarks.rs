//! Landmark NRMSE, as `docs/PROTOCOL.md` ("Landmark NRMSE") fixes it: 68 iBUG-layout points
//! detected on the output are compared with those detected on the HR ground truth.
//!
//! Per image: `sqrt(mean over the 68 points of |p_out - p_gt|^2)`, divided by the ground truth's
//! outer-eye-corner distance (points 37 and 46, 1-based; [`Landmarks68::outer_eye_distance`]),
//! times 100. The arithmetic is f64 throughout, on the f32 points widened.

use crate::data::landmarks::{LEFT_EYE_OUTER, Landmarks68, RIGHT_EYE_OUTER};
use crate::{Error, Result};

/// NRMSE (percent of the ground truth's outer-eye-corner distance) of `predicted` against
/// `ground_truth`.
///
/// Fails with [`Error::InvalidValue`] when a coordinate of either set is not finite or when the
/// ground truth's outer eye corners coincide (a zero normaliser).
pub fn nrmse(ground_truth: &Landmarks68, predicted: &Landmarks68) -> Result<f64> {
    check_finite(ground_truth, "ground-truth landmarks")?;
    check_finite(predicted, "predicted landmarks")?;
    let [ax, ay] = ground_truth.0[RIGHT_EYE_OUTER].map(f64::from);
    let [bx, by] = ground_truth.0[LEFT_EYE_OUTER].map(f64::from);
    let normaliser = (ax - bx).hypot(ay - by);
    if !normaliser.is_finite() || normaliser <= 0.0 {
        return Err(Error::invalid(
            "ground-truth landmarks",
            format!(
                "the outer eye corners (points 37 and 46) are {normaliser} apart; NRMSE needs a \
                 positive, finite normaliser"
            ),
        ));
    }
    let sum_sq: f64 = ground_truth
        .0
        .iter()
        .zip(&predicted.0)
        .map(|(g, p)| {
            let dx = f64::from(p[0]) - f64::from(g[0]);
            let dy = f64::from(p[1]) - f64::from(g[1]);
            dx * dx + dy * dy
        })
        .sum();
    let rmse = (sum_sq / ground_truth.0.len() as f64).sqrt();
    Ok(rmse / normaliser * 100.0)
}

fn check_finite(landmarks: &Landmarks68, what: &str) -> Result<()> {
    match landmarks
        .0
        .iter()
        .position(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        None => Ok(()),
        Some(i) => {
            let [x, y] = landmarks.0[i];
            Err(Error::invalid(
                what,
                format!("point {} (1-based) is ({x}, {y}), not finite", i + 1),
            ))
        }
    }
}
