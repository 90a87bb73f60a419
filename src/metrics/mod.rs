//! Image and face metrics, each per `docs/PROTOCOL.md` ("Metrics"). One implementation serves the
//! `metrics` and `evaluate` commands, the harness and the reports.
//!
//! - [`psnr_ssim`]: PSNR and SSIM on 8-bit RGB, with BT.601 Y-channel variants; SSIM matches
//!   scikit-image's `structural_similarity` in Wang et al.'s configuration.
//! - [`landmarks`]: 68-point NRMSE, normalised by the ground truth's outer-eye-corner distance.
//! - [`parsing`]: face parsing maps drawn from 68 points, their mean IoU and overlay colours.
//! - [`metric`]: the one list of metrics ([`Metric`]), per-face [`Values`] and [`Scores`], and the
//!   CSV writer; everything that stores, tabulates or prints scores iterates over it.
//! - [`bootstrap`]: percentile bootstrap intervals for a mean and for a paired mean difference.
//!
//! The paper (Sec. 4) reports PSNR and SSIM for all methods and NRMSE and IoU for the best ones;
//! the protocol fixes the conventions the paper leaves open (crop, window, channels, normaliser).

pub mod bootstrap;
pub mod landmarks;
pub mod metric;
pub mod parsing;
pub mod psnr_ssim;

pub use bootstrap::{BootstrapConfig, BootstrapInterval, bootstrap_mean, paired_bootstrap};
pub use landmarks::nrmse;
pub use metric::{Direction, Face, Metric, Scores, Values, csv_field, write_csv};
pub use parsing::{FaceClass, ParsingMap, colorize, mean_iou, palette, parsing_map};
pub use psnr_ssim::{ImageMetrics, image_metrics, psnr, psnr_y, ssim, ssim_y};
