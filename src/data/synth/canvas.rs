//! Rasterisation primitives: colours and paints, smooth paths through points, the 178x218 RGBA
//! canvas with its fills, strokes, soft spots and blurs, and masks.

use tiny_skia::{
    Color, FillRule, GradientStop, LineCap, LineJoin, Mask, Paint, Path as SkPath, PathBuilder,
    Pixmap, PixmapPaint, Point, RadialGradient, Rect, Shader, SpreadMode, Stroke, Transform,
};

use crate::data::protocol::{ALIGNED_HEIGHT, ALIGNED_WIDTH};

use super::math::{Rgb, V2, add2};

pub(super) fn color(c: Rgb, alpha: f32) -> Color {
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    Color::from_rgba8(q(c[0]), q(c[1]), q(c[2]), q(alpha))
}

fn solid(c: Rgb, alpha: f32) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(color(c, alpha));
    paint
}

fn round_stroke(width: f32) -> Stroke {
    Stroke {
        width,
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        ..Stroke::default()
    }
}

/// Appends a Catmull-Rom curve through `pts` to a builder whose current point is `pts[0]`.
pub(super) fn curve_through(pb: &mut PathBuilder, pts: &[V2]) {
    let n = pts.len();
    for i in 0..n.saturating_sub(1) {
        let p0 = pts[i.saturating_sub(1)];
        let p1 = pts[i];
        let p2 = pts[i + 1];
        let p3 = pts[(i + 2).min(n - 1)];
        let c1 = [p1[0] + (p2[0] - p0[0]) / 6.0, p1[1] + (p2[1] - p0[1]) / 6.0];
        let c2 = [p2[0] - (p3[0] - p1[0]) / 6.0, p2[1] - (p3[1] - p1[1]) / 6.0];
        pb.cubic_to(c1[0], c1[1], c2[0], c2[1], p2[0], p2[1]);
    }
}

/// A smooth open curve through the points.
pub(super) fn open_curve(pts: &[V2]) -> Option<SkPath> {
    let first = pts.first()?;
    let mut pb = PathBuilder::new();
    pb.move_to(first[0], first[1]);
    curve_through(&mut pb, pts);
    pb.finish()
}

/// A smooth closed curve through the points.
pub(super) fn closed_curve(pts: &[V2]) -> Option<SkPath> {
    let n = pts.len();
    if n < 3 {
        return None;
    }
    let mut pb = PathBuilder::new();
    pb.move_to(pts[0][0], pts[0][1]);
    for i in 0..n {
        let p0 = pts[(i + n - 1) % n];
        let p1 = pts[i];
        let p2 = pts[(i + 1) % n];
        let p3 = pts[(i + 2) % n];
        let c1 = [p1[0] + (p2[0] - p0[0]) / 6.0, p1[1] + (p2[1] - p0[1]) / 6.0];
        let c2 = [p2[0] - (p3[0] - p1[0]) / 6.0, p2[1] - (p3[1] - p1[1]) / 6.0];
        pb.cubic_to(c1[0], c1[1], c2[0], c2[1], p2[0], p2[1]);
    }
    pb.close();
    pb.finish()
}

/// A closed shape made of smooth pieces that meet at corners (an eye, a lip).
pub(super) fn pieces(parts: &[&[V2]]) -> Option<SkPath> {
    let first = parts.first()?.first()?;
    let mut pb = PathBuilder::new();
    pb.move_to(first[0], first[1]);
    for part in parts {
        curve_through(&mut pb, part);
    }
    pb.close();
    pb.finish()
}

pub(super) fn polygon(pts: &[V2]) -> Option<SkPath> {
    let first = pts.first()?;
    let mut pb = PathBuilder::new();
    pb.move_to(first[0], first[1]);
    for p in &pts[1..] {
        pb.line_to(p[0], p[1]);
    }
    pb.close();
    pb.finish()
}

pub(super) fn ellipse(centre: V2, rx: f32, ry: f32, angle: f32) -> Option<SkPath> {
    let rect = Rect::from_xywh(centre[0] - rx, centre[1] - ry, 2.0 * rx, 2.0 * ry)?;
    PathBuilder::from_oval(rect)?.transform(Transform::from_rotate_at(
        angle.to_degrees(),
        centre[0],
        centre[1],
    ))
}

/// The same points moved by `d`.
pub(super) fn shifted(pts: &[V2], d: V2) -> Vec<V2> {
    pts.iter().map(|p| add2(*p, d)).collect()
}

pub(super) const W: u32 = ALIGNED_WIDTH;
pub(super) const H: u32 = ALIGNED_HEIGHT;

/// A 178x218 RGBA drawing surface.
pub(super) struct Canvas {
    pub(super) pm: Pixmap,
}

impl Canvas {
    pub(super) fn new() -> Self {
        Self {
            pm: Pixmap::new(W, H).expect("178x218 is a valid pixmap size"),
        }
    }

    pub(super) fn fill(&mut self, path: Option<SkPath>, c: Rgb, alpha: f32, mask: Option<&Mask>) {
        if let Some(path) = path {
            self.pm.fill_path(
                &path,
                &solid(c, alpha),
                FillRule::Winding,
                Transform::identity(),
                mask,
            );
        }
    }

    pub(super) fn stroke(
        &mut self,
        path: Option<SkPath>,
        c: Rgb,
        alpha: f32,
        width: f32,
        mask: Option<&Mask>,
    ) {
        if let Some(path) = path {
            self.pm.stroke_path(
                &path,
                &solid(c, alpha),
                &round_stroke(width),
                Transform::identity(),
                mask,
            );
        }
    }

    pub(super) fn fill_shader(
        &mut self,
        path: Option<SkPath>,
        shader: Option<Shader<'static>>,
        mask: Option<&Mask>,
    ) {
        if let (Some(path), Some(shader)) = (path, shader) {
            let paint = Paint {
                shader,
                ..Paint::default()
            };
            self.pm.fill_path(
                &path,
                &paint,
                FillRule::Winding,
                Transform::identity(),
                mask,
            );
        }
    }

    /// A soft elliptical spot: `alpha` at the centre fading to nothing at the radii.
    pub(super) fn spot(
        &mut self,
        centre: V2,
        rx: f32,
        ry: f32,
        c: Rgb,
        alpha: f32,
        mask: Option<&Mask>,
    ) {
        if rx <= 0.1 || ry <= 0.1 {
            return;
        }
        let shader = RadialGradient::new(
            Point::from_xy(0.0, 0.0),
            0.0,
            Point::from_xy(0.0, 0.0),
            1.0,
            vec![
                GradientStop::new(0.0, color(c, alpha)),
                GradientStop::new(0.5, color(c, alpha * 0.6)),
                GradientStop::new(1.0, color(c, 0.0)),
            ],
            SpreadMode::Pad,
            Transform::from_row(rx, 0.0, 0.0, ry, centre[0], centre[1]),
        );
        let rect = Rect::from_xywh(centre[0] - rx, centre[1] - ry, 2.0 * rx, 2.0 * ry)
            .map(PathBuilder::from_rect);
        self.fill_shader(rect, shader, mask);
    }

    pub(super) fn composite(&mut self, layer: &Canvas, mask: Option<&Mask>) {
        self.pm.draw_pixmap(
            0,
            0,
            layer.pm.as_ref(),
            &PixmapPaint::default(),
            Transform::identity(),
            mask,
        );
    }

    /// Three box blurs of radius `r` (close to a Gaussian), on premultiplied RGBA.
    pub(super) fn blur(&mut self, r: usize) {
        self.box_blur(r, 3);
    }

    /// `passes` box blurs of radius `r`, on premultiplied RGBA.
    pub(super) fn box_blur(&mut self, r: usize, passes: usize) {
        let mut buf: Vec<f32> = self.pm.data().iter().map(|&v| v as f32).collect();
        box_blur(&mut buf, W as usize, H as usize, 4, r, passes);
        for (d, v) in self.pm.data_mut().iter_mut().zip(&buf) {
            *d = v.round().clamp(0.0, 255.0) as u8;
        }
        // Premultiplied colour must not exceed alpha after rounding.
        for px in self.pm.data_mut().chunks_exact_mut(4) {
            let a = px[3];
            for c in &mut px[..3] {
                *c = (*c).min(a);
            }
        }
    }
}

pub(super) fn new_mask() -> Mask {
    Mask::new(W, H).expect("178x218 is a valid mask size")
}

pub(super) fn add_to_mask(mask: &mut Mask, path: &Option<SkPath>) {
    if let Some(path) = path {
        mask.fill_path(path, FillRule::Winding, true, Transform::identity());
    }
}

/// Box blur with clamped edges on an interleaved buffer, `passes` times.
fn box_blur(buf: &mut [f32], w: usize, h: usize, ch: usize, r: usize, passes: usize) {
    if r == 0 {
        return;
    }
    let norm = 1.0 / (2 * r + 1) as f32;
    let mut tmp = vec![0.0f32; buf.len()];
    for _ in 0..passes {
        for y in 0..h {
            for c in 0..ch {
                let at = |x: isize| (y * w + x.clamp(0, w as isize - 1) as usize) * ch + c;
                let mut acc: f32 = (-(r as isize)..=r as isize).map(|x| buf[at(x)]).sum();
                for x in 0..w as isize {
                    tmp[at(x)] = acc * norm;
                    acc += buf[at(x + r as isize + 1)] - buf[at(x - r as isize)];
                }
            }
        }
        for x in 0..w {
            for c in 0..ch {
                let at = |y: isize| (y.clamp(0, h as isize - 1) as usize * w + x) * ch + c;
                let mut acc: f32 = (-(r as isize)..=r as isize).map(|y| tmp[at(y)]).sum();
                for y in 0..h as isize {
                    buf[at(y)] = acc * norm;
                    acc += tmp[at(y + r as isize + 1)] - tmp[at(y - r as isize)];
                }
            }
        }
    }
}
