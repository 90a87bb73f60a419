//! An experiment's curves as TensorBoard event files: `ofhnet export tensorboard EXP --out DIR`
//! writes one directory per run (`DIR/RUN/events.out.tfevents.*`), so that `tensorboard
//! --logdir DIR` shows the runs side by side.
//!
//! Per run: every training and validation curve of the store as a scalar `STAGE/TERM` at its
//! step, and the final metrics as scalars `final/PROTOCOL/METHOD/METRIC` (mean over the
//! evaluated faces) at the run's last stage-2 step.
//!
//! The format is written here: TFRecord framing (length, masked CRC-32C of the length, the
//! record, masked CRC-32C of the record) around `tensorflow.Event` protobuf messages, of which
//! a scalar summary needs five fields. The crates that write it were checked on 2026-12-06 and
//! none fits: `tboard` 0.1.1 generates its protobuf code at build time with `prost-build`,
//! which needs a `protoc` binary; `tensorboard-rs` 0.5.9 pulls protobuf 2 and a second, older
//! `image`; `tfrecord` 0.15 pulls tch, ndarray and async-std. CRC-32C comes from the `crc32c`
//! crate, already in the build through the store's dependencies.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::harness::store::{RunRow, Store, Versions};
use crate::metrics::Metric;
use crate::{Error, Result};

/// TFRecord's masked CRC-32C (Castagnoli).
fn masked_crc(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
        .rotate_right(15)
        .wrapping_add(0xa282_ead8)
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_key(field: u32, wire_type: u8, out: &mut Vec<u8>) {
    varint(u64::from(field << 3 | u32::from(wire_type)), out);
}

fn length_delimited(field: u32, bytes: &[u8], out: &mut Vec<u8>) {
    field_key(field, 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// `Event { wall_time = 1 (double); step = 2 (int64); file_version = 3 (string) |
/// summary = 5 (Summary) }`, `Summary { repeated Value value = 1 }`, `Value { tag = 1
/// (string); simple_value = 2 (float) }` (tensorflow/core/util/event.proto, summary.proto).
fn event(wall_time: f64, step: i64, body: EventBody<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    field_key(1, 1, &mut out);
    out.extend_from_slice(&wall_time.to_le_bytes());
    if step != 0 {
        field_key(2, 0, &mut out);
        varint(step as u64, &mut out);
    }
    match body {
        EventBody::FileVersion(v) => length_delimited(3, v.as_bytes(), &mut out),
        EventBody::Scalars(values) => {
            let mut summary = Vec::new();
            for (tag, value) in values {
                let mut v = Vec::new();
                length_delimited(1, tag.as_bytes(), &mut v);
                field_key(2, 5, &mut v);
                v.extend_from_slice(&value.to_le_bytes());
                length_delimited(1, &v, &mut summary);
            }
            length_delimited(5, &summary, &mut out);
        }
    }
    out
}

enum EventBody<'a> {
    FileVersion(&'a str),
    Scalars(&'a [(String, f32)]),
}

/// One event file, written record by record.
pub struct EventWriter {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
}

impl EventWriter {
    /// Creates `dir/events.out.tfevents.SECONDS.ofhnet` and writes the version record.
    pub fn create(dir: &Path, wall_time: f64) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(format!("events.out.tfevents.{}.ofhnet", wall_time as u64));
        let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut w = Self {
            path,
            file: std::io::BufWriter::new(file),
        };
        w.record(&event(
            wall_time,
            0,
            EventBody::FileVersion("brain.Event:2"),
        ))?;
        Ok(w)
    }

    fn record(&mut self, data: &[u8]) -> Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        let mut rec = Vec::with_capacity(data.len() + 16);
        rec.extend_from_slice(&len);
        rec.extend_from_slice(&masked_crc(&len).to_le_bytes());
        rec.extend_from_slice(data);
        rec.extend_from_slice(&masked_crc(data).to_le_bytes());
        self.file
            .write_all(&rec)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Writes scalars `(tag, value)` at `step`.
    pub fn scalars(&mut self, wall_time: f64, step: i64, values: &[(String, f32)]) -> Result<()> {
        self.record(&event(wall_time, step, EventBody::Scalars(values)))
    }

    /// Flushes the file to disk.
    pub fn finish(mut self) -> Result<PathBuf> {
        self.file.flush().map_err(|e| Error::io(&self.path, e))?;
        Ok(self.path)
    }
}

/// What [`export`] wrote for one run.
#[derive(Clone, Debug)]
pub struct ExportedRun {
    pub run: String,
    pub file: PathBuf,
    pub scalars: usize,
}

/// The directory name of a run: its ordinal and name, with path separators and spaces
/// replaced.
pub fn run_dir_name(run: &RunRow) -> String {
    let name: String = run
        .name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("{:03}-{name}", run.ordinal)
}

/// Writes every run of `experiment` (its current definition) that has curves or metrics.
/// Event files of an earlier export in the same run directories are replaced, so TensorBoard
/// does not show points twice.
pub fn export(store: &Store, experiment: &str, out: &Path) -> Result<Vec<ExportedRun>> {
    let runs = store.runs(Some(experiment), Versions::Current)?;
    if runs.is_empty() {
        return Err(Error::Mismatch(format!(
            "no runs of experiment `{experiment}` in {}",
            store.shown()
        )));
    }
    let mut written = Vec::new();
    for run in runs {
        let curves = store.curves(&run.key)?;
        let means = store.metric_means(&run.key)?;
        if curves.is_empty() && means.is_empty() {
            continue;
        }
        let dir = out.join(run_dir_name(&run));
        if dir.exists() {
            for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                let path = entry.map_err(|e| Error::io(&dir, e))?.path();
                let is_events = path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("events.out.tfevents."));
                if is_events {
                    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                }
            }
        }
        let start = run.started_at.unwrap_or(run.enqueued_at);
        let end = run.finished_at.unwrap_or(start);
        let mut w = EventWriter::create(&dir, start)?;
        let mut count = 0;
        for (stage, step, term, value) in &curves {
            w.scalars(start, *step, &[(format!("{stage}/{term}"), *value as f32)])?;
            count += 1;
        }
        let last_step = curves
            .iter()
            .filter(|(stage, ..)| stage == "stage2")
            .map(|(_, step, ..)| *step)
            .max()
            .unwrap_or(0);
        let mut finals = Vec::new();
        for m in &means {
            for metric in Metric::ALL {
                if let Some(v) = m.values.get(metric) {
                    finals.push((
                        format!("final/{}/{}/{}", m.protocol, m.method, metric.name()),
                        v as f32,
                    ));
                }
            }
        }
        if !finals.is_empty() {
            count += finals.len();
            w.scalars(end, last_step, &finals)?;
        }
        written.push(ExportedRun {
            run: run.key.clone(),
            file: w.finish()?,
            scalars: count,
        });
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRC-32C of "123456789" is 0xE3069283 (the Castagnoli polynomial's check value); masked
    /// as TensorFlow's `crc32c::Mask` does (rotate right by 15, add 0xa282ead8), by hand:
    /// `python3 -c "c=0xE3069283; print(hex(((c>>15|c<<17)+0xa282ead8)&0xffffffff))"`.
    #[test]
    fn masked_crc_masks_the_castagnoli_crc() {
        assert_eq!(masked_crc(b"123456789"), 0xc78a_b0e5);
    }

    /// A scalar event, encoded by hand from event.proto / summary.proto:
    /// wall_time 1.5 (field 1, fixed64), step 300 (field 2, varint ac 02), summary (field 5)
    /// with one value: tag "a" (field 1), simple_value 0.25 (field 2, fixed32).
    #[test]
    fn a_scalar_event_has_the_protobuf_layout() {
        let got = event(1.5, 300, EventBody::Scalars(&[("a".into(), 0.25)]));
        let mut want = vec![0x09];
        want.extend_from_slice(&1.5f64.to_le_bytes());
        want.extend_from_slice(&[0x10, 0xac, 0x02]);
        want.extend_from_slice(&[0x2a, 10, 0x0a, 8, 0x0a, 1, b'a', 0x15]);
        want.extend_from_slice(&0.25f32.to_le_bytes());
        assert_eq!(got, want);
    }
}
