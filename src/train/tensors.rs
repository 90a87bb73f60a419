//! Moving faces between `u8` images and `[batch, 3, h, w]` float tensors in [0, 1].

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;

use crate::data::resize::round_u8;

/// Stacks same-sized RGB images into a `[batch, 3, h, w]` tensor with values `v / 255`.
pub fn images_to_tensor(images: &[&RgbImage], device: &Device) -> Tensor<4> {
    let (w, h) = images.first().map(|i| i.dimensions()).unwrap_or((0, 0));
    let (w, h) = (w as usize, h as usize);
    let plane = w * h;
    let mut data = vec![0.0f32; images.len() * 3 * plane];
    for (b, img) in images.iter().enumerate() {
        let raw = img.as_raw();
        let base = b * 3 * plane;
        for p in 0..plane {
            for c in 0..3 {
                data[base + c * plane + p] = raw[p * 3 + c] as f32 / 255.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(data, [images.len(), 3, h, w]), device)
}

/// The same from raw HWC `u8` buffers of `size x size` faces (as a prepared split stores them).
pub fn raw_to_tensor(raws: &[&[u8]], size: usize, device: &Device) -> Tensor<4> {
    let plane = size * size;
    let mut data = vec![0.0f32; raws.len() * 3 * plane];
    for (b, raw) in raws.iter().enumerate() {
        let base = b * 3 * plane;
        for p in 0..plane {
            for c in 0..3 {
                data[base + c * plane + p] = raw[p * 3 + c] as f32 / 255.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(data, [raws.len(), 3, size, size]), device)
}

/// Splits a `[batch, 3, h, w]` tensor into RGB images, rounding `255 v` half up and clamping, as
/// a saved image would hold it (PROTOCOL: metrics are computed on u8-rounded outputs).
pub fn tensor_to_images(t: Tensor<4>) -> Vec<RgbImage> {
    let [b, c, h, w] = t.dims();
    let values: Vec<f32> = t
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .unwrap_or_default();
    let plane = h * w;
    (0..b)
        .map(|i| {
            let mut raw = vec![0u8; plane * 3];
            for p in 0..plane {
                for ch in 0..3.min(c) {
                    let v = values
                        .get(i * c * plane + ch * plane + p)
                        .copied()
                        .unwrap_or(0.0);
                    raw[p * 3 + ch] = round_u8(v as f64 * 255.0);
                }
            }
            RgbImage::from_raw(w as u32, h as u32, raw).expect("buffer is w * h * 3")
        })
        .collect()
}

/// A raw HWC `u8` face of `width` pixels per row, mirrored left-right.
pub fn flip_raw(raw: &[u8], width: usize) -> Vec<u8> {
    let row = width * 3;
    let mut out = Vec::with_capacity(raw.len());
    for r in raw.chunks_exact(row.max(1)) {
        for px in r.chunks_exact(3).rev() {
            out.extend_from_slice(px);
        }
    }
    out
}

/// The HR faces `idx` of a split as a `[batch, 3, hr, hr]` tensor, the `k`-th mirrored
/// left-right where `flips[k]` is true (a missing entry is false).
pub fn hr_tensor(
    split: &crate::data::dataset::Split,
    idx: &[usize],
    flips: &[bool],
    device: &Device,
) -> Tensor<4> {
    let n = (split.hr_size * split.hr_size * 3) as usize;
    let owned: Vec<std::borrow::Cow<[u8]>> = idx
        .iter()
        .zip(flips.iter().chain(std::iter::repeat(&false)))
        .map(|(&i, &flip)| {
            let raw = &split.hr[i * n..(i + 1) * n];
            if flip {
                std::borrow::Cow::Owned(flip_raw(raw, split.hr_size as usize))
            } else {
                std::borrow::Cow::Borrowed(raw)
            }
        })
        .collect();
    let raws: Vec<&[u8]> = owned.iter().map(|r| r.as_ref()).collect();
    raw_to_tensor(&raws, split.hr_size as usize, device)
}
