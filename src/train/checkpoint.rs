//! Checkpoints written atomically: everything goes into `NAME.tmp/`, which then replaces
//! `NAME/` by renames, so a run killed at any instant leaves either the previous or the new
//! checkpoint whole. Loading falls back to `NAME.old/` if a kill landed between the two renames.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Tensor;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Saves a module's weights (and BatchNorm statistics) as a burnpack file.
///
/// The module is saved through [`Module::valid`]: burn keeps a BatchNorm's latest running-stat
/// update pending per thread until it is synchronised, and `valid` synchronises it, so the file
/// holds the statistics the module would use for inference right now.
pub fn save_module<M: Module + ModuleSnapshot>(module: &M, path: &Path) -> Result<()> {
    // Written beside the target and renamed over it, so that a failed write (a full disk, a
    // read-only directory) leaves the previous file whole: a model directory's final weights
    // mark it complete, and a truncated one must never do that.
    let tmp = tmp_sibling(path);
    let mut store = BurnpackStore::from_file(&tmp)
        .auto_extension(false)
        .overwrite(true);
    module
        .valid()
        .save_into(&mut store)
        .map_err(|e| Error::Checkpoint {
            path: tmp.clone(),
            message: format!("cannot save weights: {e}"),
        })?;
    sync(&tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// `NAME.tmp` beside `NAME`.
fn tmp_sibling(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Flushes a written file to disk before it is renamed into place.
fn sync(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// Whether every float parameter of a module is finite. A checkpoint is written only of weights
/// that pass, so that a run whose loss blows up keeps its last good checkpoint (an update can
/// make the weights NaN while the loss it came from was still finite).
pub fn params_finite<M: Module>(module: &M) -> bool {
    struct Check(bool);
    impl ModuleVisitor for Check {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.0 {
                self.0 = param.val().is_finite().all().into_scalar::<bool>();
            }
        }
    }
    let mut check = Check(true);
    module.visit(&mut check);
    check.0
}

/// Loads weights saved by [`save_module`] into a module built from the same configuration.
pub fn load_module<M: Module + ModuleSnapshot>(mut module: M, path: &Path) -> Result<M> {
    if !path.exists() {
        return Err(Error::Checkpoint {
            path: path.to_path_buf(),
            message: "no such weights file".into(),
        });
    }
    let mut store = BurnpackStore::from_file(path).auto_extension(false);
    let result = module
        .load_from(&mut store)
        .map_err(|e| Error::Checkpoint {
            path: path.to_path_buf(),
            message: format!("cannot load weights: {e}"),
        })?;
    if !result.missing.is_empty() || !result.errors.is_empty() {
        return Err(Error::Checkpoint {
            path: path.to_path_buf(),
            message: format!(
                "weights do not fit the configured network (missing: {:?}; errors: {:?}); \
                 was it trained with other widths?",
                result.missing.iter().take(5).collect::<Vec<_>>(),
                result.errors.iter().take(5).collect::<Vec<_>>()
            ),
        });
    }
    Ok(module)
}

/// Saves an optimiser's state (Adam's moments, step counts) as a burnpack file.
pub fn save_optimizer(optim: &ModuleOptimizer, path: &Path) -> Result<()> {
    optim.save(path).map_err(|e| Error::Checkpoint {
        path: path.to_path_buf(),
        message: format!("cannot save optimiser state: {e}"),
    })
}

/// Loads optimiser state saved by [`save_optimizer`] into a fresh optimiser.
pub fn load_optimizer(optim: ModuleOptimizer, path: &Path) -> Result<ModuleOptimizer> {
    optim.load(path).map_err(|e| Error::Checkpoint {
        path: path.to_path_buf(),
        message: format!("cannot load optimiser state: {e}"),
    })
}

/// Writes a JSON file atomically (temporary file + rename).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Mismatch(format!("{}: cannot encode: {e}", path.display())))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    sync(&tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Reads a JSON file, naming it and the line on failure.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        line: e.line(),
        message: e.to_string(),
    })
}

/// Where a stage keeps its checkpoint.
#[derive(Clone, Debug)]
pub struct CheckpointDir {
    pub dir: PathBuf,
}

/// The bookkeeping saved with a checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Steps completed.
    pub step: usize,
    pub total_steps: usize,
    /// Training seconds spent so far (over all attempts).
    pub elapsed_s: f64,
}

impl CheckpointDir {
    /// The checkpoint `dir` (its siblings `dir.tmp` and `dir.old` are used while writing).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.dir.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        self.dir.with_file_name(name)
    }

    /// The complete checkpoint directory, if one exists.
    pub fn latest(&self) -> Option<PathBuf> {
        let state = |d: &Path| d.join("state.json").exists();
        if state(&self.dir) {
            Some(self.dir.clone())
        } else {
            let old = self.sibling(".old");
            state(&old).then_some(old)
        }
    }

    /// Writes a checkpoint: `fill` puts its files into the given temporary directory, then the
    /// state is written last and the directory swapped in.
    pub fn write(
        &self,
        state: &CheckpointState,
        fill: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<()> {
        let tmp = self.sibling(".tmp");
        let old = self.sibling(".old");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        fill(&tmp)?;
        write_json(&tmp.join("state.json"), state)?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        if self.dir.exists() {
            std::fs::rename(&self.dir, &old).map_err(|e| Error::io(&self.dir, e))?;
        }
        std::fs::rename(&tmp, &self.dir).map_err(|e| Error::io(&self.dir, e))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        Ok(())
    }
}

/// Writes optimiser state bytes.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Reads optimiser state bytes.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}
