//! A trained model (OFHNet or a learned baseline), loaded from its model directory for
//! inference: occluded 16x16 faces in, inpainted 16x16 faces and hallucinated 128x128 faces out.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use image::RgbImage;

use crate::methods::Generator;
use crate::nets::inpaint::InpaintNet;
use crate::train::checkpoint::{load_module, read_json};
use crate::train::config::TrainConfig;
use crate::train::stages::{files, inpaint_for_upsampling, load_generator};
use crate::train::tensors::{images_to_tensor, tensor_to_images};
use crate::{Error, Result};

/// A trained model (InpaintNet and the stage-2 generator of OFHNet or a learned baseline) in
/// inference mode.
#[derive(Debug)]
pub struct Model {
    pub dir: PathBuf,
    pub config: TrainConfig,
    pub inpaint: InpaintNet,
    /// The stage-2 generator (UpsampleNet, or a learned baseline's network).
    pub generator: Generator,
    pub device: Device,
}

/// One face through the model.
#[derive(Clone, Debug)]
pub struct Hallucination {
    /// InpaintNet's output as UpsampleNet saw it (known pixels kept when `composite` is on).
    pub inpainted: RgbImage,
    /// The 128x128 face.
    pub output: RgbImage,
}

impl Model {
    /// Loads a model directory written by `ofhnet train`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config_path = dir.join(files::CONFIG);
        if !config_path.exists() {
            return Err(Error::Checkpoint {
                path: dir.to_path_buf(),
                message: format!(
                    "not a model directory (no {}); train one with `ofhnet train`",
                    files::CONFIG
                ),
            });
        }
        let config: TrainConfig = read_json(&config_path)?;
        let upsample_path = dir.join(files::UPSAMPLE);
        if !upsample_path.exists() {
            return Err(Error::Checkpoint {
                path: dir.to_path_buf(),
                message: "training has not finished (no upsample.bpk); continue it with \
                          `ofhnet train --resume`"
                    .into(),
            });
        }
        let inpaint = load_module(
            config.inpaint_config().init(device),
            &dir.join(files::INPAINT),
        )?;
        let generator = load_generator(config.generator_init(device), &upsample_path)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            inpaint: inpaint.valid(),
            generator: generator.valid(),
            device: device.clone(),
        })
    }

    /// Runs a batch of occluded LR faces (`[batch, 3, 16, 16]`), returning the inpainted LR
    /// input of UpsampleNet and the HR output.
    pub fn forward(&self, occluded: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let (_, input) = inpaint_for_upsampling(&self.inpaint, occluded, self.config.composite);
        let output = self.generator.forward(input.clone());
        (input, output)
    }

    /// Runs occluded 16x16 faces through the model, rounding results to u8.
    pub fn hallucinate(&self, occluded: &[&RgbImage]) -> Vec<Hallucination> {
        if occluded.is_empty() {
            return Vec::new();
        }
        let x = images_to_tensor(occluded, &self.device);
        let (inpainted, output) = self.forward(x);
        tensor_to_images(inpainted)
            .into_iter()
            .zip(tensor_to_images(output))
            .map(|(inpainted, output)| Hallucination { inpainted, output })
            .collect()
    }
}
