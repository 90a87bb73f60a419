//! Reading and writing images with errors that name the file.

use std::path::Path;

use image::{ImageReader, RgbImage};

use crate::{Error, Result};

/// Reads any supported image (JPEG, PNG) as 8-bit RGB, guessing the format from its content.
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    let reader = ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let image = reader.decode().map_err(|e| Error::image(path, e))?;
    Ok(image.into_rgb8())
}

/// Writes an RGB image as PNG, creating parent directories.
pub fn save_png(image: &RgbImage, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    image
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| Error::image(path, e))
}
