//! The library's error type. Every variant that comes from user input names the file, line or
//! field at fault, so the binary can print it as it is.

use std::path::PathBuf;

/// Errors returned by the ofhnet library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An image file could not be decoded or encoded.
    #[error("{path}: not a readable image ({message})")]
    Image { path: PathBuf, message: String },

    /// An image has the wrong size for what it is used as.
    #[error("{path}: image is {found_w}x{found_h}, expected {expected}")]
    ImageSize {
        path: PathBuf,
        found_w: u32,
        found_h: u32,
        expected: String,
    },

    /// A text file (annotation list, CSV, YAML) has a malformed line; `line` 0 means the
    /// fault has no line of its own (it is then not printed).
    #[error("{}{}: {message}", path.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },

    /// A YAML document (an experiment or a training configuration) is malformed.
    #[error("{path}:{line}:{column}: {message}")]
    Yaml {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// An annotation that an image needs is missing.
    #[error("{path}: no row for `{name}`")]
    MissingRow { path: PathBuf, name: String },

    /// A `--device` names a backend that this binary was built without.
    #[error(
        "device `{device}` needs the `{backend}` backend, which this binary was built without; \
         rebuild with `cargo build --release --features {feature}`"
    )]
    BackendNotCompiled {
        device: String,
        backend: &'static str,
        feature: &'static str,
    },

    /// A `--device` string that is not understood.
    #[error("unknown device `{0}`; expected one of: cpu, flex, tch-cpu, tch-cuda[:N], cuda[:N]")]
    UnknownDevice(String),

    /// A command-line or configuration value that is out of range or malformed.
    #[error("invalid {field}: {message}")]
    InvalidValue { field: String, message: String },

    /// An output path exists and would be overwritten.
    #[error("{0}: already exists; pass --force to replace it")]
    OutputExists(PathBuf),

    /// Two inputs that must agree do not.
    #[error("{0}")]
    Mismatch(String),

    /// A loss became NaN or infinite during training.
    #[error(
        "loss became {value} at step {step} ({term}) in {stage}; lower the learning rate or \
         check the data. {kept}"
    )]
    NonFiniteLoss {
        stage: String,
        term: String,
        /// The 1-based step whose loss it was.
        step: usize,
        value: f64,
        /// What was kept: the last good checkpoint, or that there is none.
        kept: String,
    },

    /// The run store could not be reached for longer than the worker waits for it.
    #[error(
        "run store {store}: unreachable for {seconds:.0} s ({message}); giving up. A run this \
         worker held goes back to the queue once the store is back (the next worker on this host \
         requeues it at once, any other after --stale-after)"
    )]
    StoreUnreachable {
        store: String,
        seconds: f64,
        message: String,
    },

    /// A run of a sweep stopped early by the pruning rule (its checkpoint and curves stay).
    #[error("pruned at step {step}: {reason}")]
    Pruned { step: usize, reason: String },

    /// Work stopped on request (SIGINT, SIGTERM) or because the run store was lost.
    #[error("interrupted: {0}")]
    Interrupted(String),

    /// The run store (SQLite or PostgreSQL) refused or failed an operation.
    #[error("run store: {what}: {message}")]
    Store { what: String, message: String },

    /// A run failed inside a worker (the text is stored with the run).
    #[error("run {run}: {message}")]
    RunFailed { run: String, message: String },

    /// Saving or loading network weights or optimiser state failed.
    #[error("{path}: {message}")]
    Checkpoint { path: PathBuf, message: String },

    /// A prepared dataset is malformed or of an unknown format version.
    #[error("{path}: {message}")]
    Dataset { path: PathBuf, message: String },
}

/// Shorthand for results of the ofhnet library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::InvalidValue`] for the named field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidValue {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An [`Error::Yaml`] from serde_yaml's error, naming the file, line and column.
    pub fn yaml(path: impl Into<PathBuf>, e: &serde_yaml::Error) -> Self {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let text = e.to_string();
        // serde_yaml appends " at line L column C"; the location is already in front.
        let message = match text.rfind(" at line ") {
            Some(i) if line > 0 => text[..i].to_string(),
            _ => text,
        };
        Error::Yaml {
            path: path.into(),
            line,
            column,
            message,
        }
    }

    /// An [`Error::Image`] for `path`.
    pub fn image(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Image {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
