//! The global `--device` option: a string naming a backend and device, mapped to a burn
//! [`Device`]. burn 0.22 picks the backend at run time from the device value; which backends
//! exist is decided at build time by Cargo features (`flex`, `tch`, `cuda`).

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::{Error, Result};

/// A parsed `--device` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceSpec {
    /// burn-flex on the CPU (`cpu` or `flex`): pure Rust, the default build.
    Flex,
    /// LibTorch on the CPU (`tch-cpu`), feature `tch`.
    TchCpu,
    /// LibTorch on a CUDA GPU (`tch-cuda:N`), feature `tch`.
    TchCuda(usize),
    /// CubeCL's CUDA runtime (`cuda:N`), feature `cuda`.
    Cuda(usize),
}

impl DeviceSpec {
    /// The Cargo feature that compiles this device's backend in.
    pub fn feature(self) -> &'static str {
        match self {
            DeviceSpec::Flex => "flex",
            DeviceSpec::TchCpu | DeviceSpec::TchCuda(_) => "tch",
            DeviceSpec::Cuda(_) => "cuda",
        }
    }

    /// The backend's name, as reports and the run store record it.
    pub fn backend(self) -> &'static str {
        match self {
            DeviceSpec::Flex => "burn-flex",
            DeviceSpec::TchCpu | DeviceSpec::TchCuda(_) => "burn-tch",
            DeviceSpec::Cuda(_) => "burn-cuda",
        }
    }

    /// The fastest CPU path this binary has, which `auto` (the default `--device`) means:
    /// LibTorch (`tch-cpu`) when built with the `tch` feature, else burn-flex. On these 2-core
    /// machines a training step on burn-tch takes well under half of burn-flex's time
    /// (BENCHMARKS.md); both give the same networks and losses.
    pub fn fastest_cpu() -> Self {
        if cfg!(feature = "tch") {
            DeviceSpec::TchCpu
        } else {
            DeviceSpec::Flex
        }
    }

    /// Whether this binary was built with the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            DeviceSpec::Flex => cfg!(feature = "flex"),
            DeviceSpec::TchCpu | DeviceSpec::TchCuda(_) => cfg!(feature = "tch"),
            DeviceSpec::Cuda(_) => cfg!(feature = "cuda"),
        }
    }

    /// The burn device, or [`Error::BackendNotCompiled`] naming the feature to enable.
    pub fn to_device(self) -> Result<Device> {
        if !self.is_compiled() {
            return Err(Error::BackendNotCompiled {
                device: self.to_string(),
                backend: self.backend(),
                feature: self.feature(),
            });
        }
        Ok(self.build())
    }

    #[allow(unreachable_code, unused_variables)]
    fn build(self) -> Device {
        match self {
            #[cfg(feature = "flex")]
            DeviceSpec::Flex => Device::flex(),
            // burn marks its tch constructors deprecated in favour of CubeCL; the user asked for
            // LibTorch explicitly, so the deprecation is acknowledged here and nowhere else.
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            DeviceSpec::TchCpu => Device::libtorch(),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            DeviceSpec::TchCuda(index) => Device::libtorch_cuda(index),
            #[cfg(feature = "cuda")]
            DeviceSpec::Cuda(index) => Device::cuda(index),
            #[allow(unreachable_patterns)]
            _ => unreachable!("is_compiled() was checked by to_device()"),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        let (name, index) = match lower.split_once(':') {
            Some((name, index)) => {
                let index = index
                    .parse::<usize>()
                    .map_err(|_| Error::UnknownDevice(s.to_string()))?;
                (name, Some(index))
            }
            None => (lower.as_str(), None),
        };
        match (name, index) {
            ("auto", None) => Ok(DeviceSpec::fastest_cpu()),
            ("cpu" | "flex", None) => Ok(DeviceSpec::Flex),
            ("tch-cpu" | "tch", None) => Ok(DeviceSpec::TchCpu),
            ("tch-cuda", i) => Ok(DeviceSpec::TchCuda(i.unwrap_or(0))),
            ("cuda", i) => Ok(DeviceSpec::Cuda(i.unwrap_or(0))),
            _ => Err(Error::UnknownDevice(s.to_string())),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Flex => write!(f, "cpu"),
            DeviceSpec::TchCpu => write!(f, "tch-cpu"),
            DeviceSpec::TchCuda(i) => write!(f, "tch-cuda:{i}"),
            DeviceSpec::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

/// Parses a `--device` string and returns the burn device.
pub fn device_from_str(s: &str) -> Result<Device> {
    s.parse::<DeviceSpec>()?.to_device()
}
