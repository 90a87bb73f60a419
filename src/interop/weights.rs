//! Weights that PyTorch reads: a trained model's networks as safetensors files, with the
//! parameter names and layouts of the PyTorch mirror (`benches/reference/ofhnet_ref.py`), and
//! the way back.
//!
//! An export directory holds
//! - `inpaint.safetensors`, `generator.safetensors` and, when the model kept one,
//!   `discriminator.safetensors`: each network's `state_dict()` as PyTorch names it, except
//!   BatchNorm's `num_batches_tracked` counters (burn has none; PyTorch reads them as optional
//!   when `benches/reference/exchange.py` loads the files);
//! - `networks.json`: per network, the mirror's class and its keyword arguments (burn's
//!   configuration of the network, field for field), so that PyTorch can build the networks
//!   without reading ofhnet's configuration;
//! - `config.json`: the model's training configuration, which `ofhnet import` needs to rebuild a
//!   model directory.
//!
//! Names and layouts: burn-store's [`BurnToPyTorchAdapter`] renames BatchNorm's `gamma`/`beta`
//! to `weight`/`bias` and transposes Linear weights (burn keeps `[in, out]`, PyTorch
//! `[out, in]`); [`PreluSlopes`] renames PReLU's `alpha` to `weight`. Convolutions and transposed
//! convolutions share PyTorch's layouts; `Vec` fields are numbered like `nn.ModuleList`.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{
    BurnToPyTorchAdapter, ModuleAdapter, ModuleContext, ModuleSnapshot, PyTorchToBurnAdapter,
    SafetensorsStore,
};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::methods::{NetFn, NetMap};
use crate::model::Model;
use crate::nets::discriminator::Discriminator;
use crate::train::checkpoint::{load_module, read_json, save_module, write_json};
use crate::train::config::TrainConfig;
use crate::train::stages::{files, save_generator};
use crate::{Error, Result};

/// The file names of an export directory.
pub mod names {
    pub const NETWORKS: &str = "networks.json";
    pub const INPAINT: &str = "inpaint.safetensors";
    pub const GENERATOR: &str = "generator.safetensors";
    pub const DISCRIMINATOR: &str = "discriminator.safetensors";
}

/// The version of the export layout that `networks.json` declares.
pub const FORMAT: u32 = 1;

/// `networks.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Networks {
    pub format: u32,
    /// The method the model is reported under (`ofhnet`, `in_vdsr`, ...).
    pub method: String,
    /// Whether the generator sees the input's known pixels composited over InpaintNet's output.
    pub composite: bool,
    pub inpaint: Network,
    pub generator: Network,
    pub discriminator: Option<Network>,
}

/// One network of `networks.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// The class of `benches/reference/ofhnet_ref.py`.
    pub class: String,
    /// Its keyword arguments.
    pub kwargs: serde_json::Value,
    /// The safetensors file, relative to the directory.
    pub file: String,
}

/// What [`export`] wrote.
#[derive(Clone, Debug)]
pub struct Exported {
    pub networks: Networks,
    /// Tensors written per file.
    pub tensors: Vec<(PathBuf, usize)>,
}

/// burn's PReLU calls its per-channel slopes `alpha`, PyTorch's `nn.PReLU` calls them `weight`.
/// (burn-store's PyTorch adapters rename BatchNorm's parameters but not these.)
#[derive(Clone, Debug)]
struct PreluSlopes {
    to_pytorch: bool,
}

const PRELU: &str = "Struct:PRelu";

impl ModuleAdapter for PreluSlopes {
    fn adapt(&self, mut tensor: PackTensor, ctx: ModuleContext<'_>) -> PackTensor {
        if self.to_pytorch
            && ctx.module_type() == Some(PRELU)
            && let Some(stem) = tensor.name.strip_suffix("alpha")
            && (stem.is_empty() || stem.ends_with('.'))
        {
            tensor.name = format!("{stem}weight");
        }
        tensor
    }

    fn get_alternative_param_name(&self, param_name: &str, module_type: &str) -> Option<String> {
        (!self.to_pytorch && module_type == PRELU && param_name == "alpha")
            .then(|| "weight".to_string())
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(self.clone())
    }
}

fn write_safetensors<M: Module + ModuleSnapshot>(net: &M, path: &Path) -> Result<usize> {
    let mut store = SafetensorsStore::from_file(path)
        .overwrite(true)
        .with_to_adapter(BurnToPyTorchAdapter.chain(PreluSlopes { to_pytorch: true }))
        .metadata("producer", "ofhnet");
    let count = net.collect(None, None, false).len();
    net.save_into(&mut store).map_err(|e| Error::Checkpoint {
        path: path.to_path_buf(),
        message: format!("cannot write safetensors: {e}"),
    })?;
    Ok(count)
}

fn read_safetensors<M: Module + ModuleSnapshot>(mut net: M, path: &Path) -> Result<M> {
    if !path.exists() {
        return Err(Error::Checkpoint {
            path: path.to_path_buf(),
            message: "no such weights file".into(),
        });
    }
    let mut store = SafetensorsStore::from_file(path)
        .with_from_adapter(PyTorchToBurnAdapter.chain(PreluSlopes { to_pytorch: false }));
    let result = net.load_from(&mut store).map_err(|e| Error::Checkpoint {
        path: path.to_path_buf(),
        message: format!("cannot read safetensors: {e}"),
    })?;
    // PyTorch's BatchNorm counters have no burn counterpart; any other unused tensor is a misfit.
    let unused: Vec<&String> = result
        .unused
        .iter()
        .filter(|k| !k.ends_with("num_batches_tracked"))
        .collect();
    if !result.missing.is_empty() || !result.errors.is_empty() || !unused.is_empty() {
        return Err(Error::Checkpoint {
            path: path.to_path_buf(),
            message: format!(
                "the tensors do not fit the network of networks.json/config.json \
                 (missing: {:?}; not used: {:?}; errors: {:?})",
                result.missing.iter().take(5).collect::<Vec<_>>(),
                unused.iter().take(5).collect::<Vec<_>>(),
                result.errors.iter().take(5).collect::<Vec<_>>()
            ),
        });
    }
    Ok(net)
}

fn networks_of(config: &TrainConfig, with_discriminator: bool) -> Networks {
    let r = config.resolved();
    let (class, kwargs) = r.generator.reference(r.preset, &r.upsample);
    let entry = |class: &str, kwargs: serde_json::Value, file: &str| Network {
        class: class.to_string(),
        kwargs,
        file: file.to_string(),
    };
    let to_json = |v: serde_json::Result<serde_json::Value>| v.unwrap_or_default();
    Networks {
        format: FORMAT,
        method: r.generator.method().to_string(),
        composite: r.composite,
        inpaint: entry(
            "InpaintNet",
            to_json(serde_json::to_value(r.inpaint_config())),
            names::INPAINT,
        ),
        generator: entry(class, kwargs, names::GENERATOR),
        discriminator: with_discriminator.then(|| {
            entry(
                "Discriminator",
                to_json(serde_json::to_value(r.discriminator_config())),
                names::DISCRIMINATOR,
            )
        }),
    }
}

/// The discriminator a model directory holds, when its method trained one (a directory may
/// hold one that never trained: the methods without the adversarial loss).
fn trained_discriminator(model: &Model) -> Result<Option<Discriminator>> {
    let path = model.dir.join(files::DISCRIMINATOR);
    if !path.exists() || model.config.resolved().losses.adversarial.is_none() {
        return Ok(None);
    }
    let device = &model.device;
    load_module(model.config.discriminator_config().init(device), &path).map(Some)
}

/// Writes every network of the trained model in `model_dir` to `out` as safetensors with
/// PyTorch's names (see the module docs).
pub fn export(model_dir: &Path, out: &Path, device: &Device) -> Result<Exported> {
    let m = Model::load(model_dir, device)?;
    let discriminator = trained_discriminator(&m)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let networks = networks_of(&m.config, discriminator.is_some());
    let mut tensors = Vec::new();
    let path = out.join(names::INPAINT);
    tensors.push((path.clone(), write_safetensors(&m.inpaint, &path)?));
    struct Write<'a>(&'a Path);
    impl NetFn for Write<'_> {
        type Out = Result<usize>;
        fn call<M: Module + ModuleSnapshot>(self, net: &M) -> Result<usize> {
            write_safetensors(net, self.0)
        }
    }
    let path = out.join(names::GENERATOR);
    tensors.push((path.clone(), m.generator.with_net(Write(&path))?));
    if let Some(d) = &discriminator {
        let path = out.join(names::DISCRIMINATOR);
        tensors.push((path.clone(), write_safetensors(d, &path)?));
    }
    write_json(&out.join(files::CONFIG), &m.config)?;
    write_json(&out.join(names::NETWORKS), &networks)?;
    Ok(Exported { networks, tensors })
}

/// Builds a model directory at `model_dir` (that `ofhnet evaluate`, `hallucinate` and the
/// harness load) from an export directory: `config.json`, `networks.json` and the safetensors
/// files, written by [`export`] or by PyTorch (`benches/reference/exchange.py`).
///
/// `networks.json` must describe the networks that `config.json` configures: a file whose
/// classes or sizes differ is refused, naming the field.
pub fn import(from: &Path, model_dir: &Path, device: &Device) -> Result<Networks> {
    let config: TrainConfig = read_json(&from.join(files::CONFIG))?;
    let networks_path = from.join(names::NETWORKS);
    let given: Networks = read_json(&networks_path)?;
    if given.format != FORMAT {
        return Err(Error::Checkpoint {
            path: networks_path,
            message: format!(
                "format {} (this ofhnet reads format {FORMAT})",
                given.format
            ),
        });
    }
    let want = networks_of(&config, given.discriminator.is_some());
    for (name, g, w) in [
        ("inpaint", Some(&given.inpaint), Some(&want.inpaint)),
        ("generator", Some(&given.generator), Some(&want.generator)),
        (
            "discriminator",
            given.discriminator.as_ref(),
            want.discriminator.as_ref(),
        ),
    ] {
        if let (Some(g), Some(w)) = (g, w)
            && (g.class != w.class || g.kwargs != w.kwargs)
        {
            return Err(Error::Checkpoint {
                path: networks_path.clone(),
                message: format!(
                    "`{name}` is {} {} but config.json configures {} {}",
                    g.class, g.kwargs, w.class, w.kwargs
                ),
            });
        }
    }
    let inpaint = read_safetensors(
        config.inpaint_config().init(device),
        &from.join(&given.inpaint.file),
    )?;
    struct Read<'a>(&'a Path);
    impl NetMap for Read<'_> {
        fn call<M: Module + ModuleSnapshot>(self, net: M) -> Result<M> {
            read_safetensors(net, self.0)
        }
    }
    let generator = config
        .generator_init(device)
        .map_net(Read(&from.join(&given.generator.file)))?;
    let discriminator = match &given.discriminator {
        Some(d) => Some(read_safetensors(
            config.discriminator_config().init(device),
            &from.join(&d.file),
        )?),
        None => None,
    };
    std::fs::create_dir_all(model_dir).map_err(|e| Error::io(model_dir, e))?;
    save_module(&inpaint, &model_dir.join(files::INPAINT))?;
    if let Some(d) = &discriminator {
        save_module(d, &model_dir.join(files::DISCRIMINATOR))?;
    }
    // The generator's file last: it marks a model directory complete.
    write_json(&model_dir.join(files::CONFIG), &config)?;
    save_generator(&generator, &model_dir.join(files::UPSAMPLE))?;
    Ok(given)
}
