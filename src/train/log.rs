//! The training log: one CSV row per logged loss term, `stage,step,term,value`, so curves of any
//! term can be drawn later. A resumed run first drops the rows past its checkpoint, so the log
//! never holds a step twice.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Appends loss terms to a CSV file.
#[derive(Clone, Debug)]
pub struct TrainLog {
    path: PathBuf,
}

const HEADER: &str = "stage,step,term,value";

impl TrainLog {
    /// Opens (creating with a header if needed) the log at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            std::fs::write(path, format!("{HEADER}\n")).map_err(|e| Error::io(path, e))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// Drops the rows of `stage` with a step greater than `step`.
    pub fn truncate_after(&self, stage: &str, step: usize) -> Result<()> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let kept: Vec<&str> = text
            .lines()
            .filter(|line| {
                let mut f = line.split(',');
                match (f.next(), f.next().and_then(|s| s.parse::<usize>().ok())) {
                    (Some(s), Some(n)) if s == stage => n <= step,
                    _ => true,
                }
            })
            .collect();
        let tmp = self.path.with_extension("csv.tmp");
        std::fs::write(&tmp, kept.join("\n") + "\n").map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::io(&self.path, e))
    }

    /// Appends one row per term.
    pub fn append(&self, stage: &str, step: usize, terms: &[(&str, f64)]) -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        let mut out = String::new();
        for (term, value) in terms {
            out.push_str(&format!("{stage},{step},{term},{value}\n"));
        }
        f.write_all(out.as_bytes())
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Reads every row back.
    pub fn read(path: &Path) -> Result<Vec<(String, usize, String, f64)>> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let parsed = (f.len() == 4)
                .then(|| Some((f[1].parse().ok()?, f[3].parse().ok()?)))
                .flatten();
            let Some((step, value)) = parsed else {
                return Err(Error::Parse {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: format!("expected `{HEADER}`, found `{line}`"),
                });
            };
            rows.push((f[0].to_string(), step, f[2].to_string(), value));
        }
        Ok(rows)
    }
}
