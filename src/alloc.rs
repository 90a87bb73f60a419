//! The C allocator's settings for training.
//!
//! A training step frees and reallocates the same large buffers (activations and gradients of
//! tens of MiB) every step. glibc's malloc serves blocks above its mmap threshold (at most
//! 32 MiB with the default dynamic threshold) with a fresh `mmap` and returns them on `free`,
//! and it trims the heap top back to the system, so every step pays for zeroed pages again:
//! page faults and `clear_page` took about a tenth of a burn-tch stage-2 step in `perf`. LibTorch
//! allocates through the same malloc. [`tune`] keeps freed memory in the process instead (no
//! mmap for large blocks, no trimming, 256 MiB of top padding), which made the burn-tch stage-2
//! step about 20% faster on the 2-core machines (BENCHMARKS.md); the peak resident set stayed
//! within a few percent.
//!
//! Only the binary calls it, first thing in `main`. A user who sets any `MALLOC_*_` variable
//! (glibc's own tunables) keeps full control: then nothing is changed.

/// What [`tune`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tuned {
    /// The settings were applied; each `(name, accepted)` as glibc's `mallopt` answered.
    Applied(Vec<(&'static str, bool)>),
    /// The environment sets glibc malloc variables (named); left alone.
    UserSettings(Vec<String>),
    /// Not glibc on Linux: nothing to tune.
    Unsupported,
}

/// The settings [`tune`] applies: no mmap below 1 GiB, never trim, 256 MiB top padding.
pub const SETTINGS: [(&str, i32); 3] = [
    ("M_MMAP_THRESHOLD", 1 << 30),
    ("M_TRIM_THRESHOLD", i32::MAX),
    ("M_TOP_PAD", 256 << 20),
];

/// Applies [`SETTINGS`] unless the environment has glibc malloc variables.
pub fn tune() -> Tuned {
    let user: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("MALLOC_") || k == "GLIBC_TUNABLES")
        .collect();
    if !user.is_empty() {
        return Tuned::UserSettings(user);
    }
    apply()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> Tuned {
    let param = |name: &str| match name {
        "M_MMAP_THRESHOLD" => libc::M_MMAP_THRESHOLD,
        "M_TRIM_THRESHOLD" => libc::M_TRIM_THRESHOLD,
        _ => libc::M_TOP_PAD,
    };
    Tuned::Applied(
        SETTINGS
            .iter()
            .map(|&(name, value)| {
                // SAFETY: mallopt only changes malloc's parameters; any value is accepted or
                // refused (return 0), never undefined behaviour.
                let ok = unsafe { libc::mallopt(param(name), value) } == 1;
                (name, ok)
            })
            .collect(),
    )
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> Tuned {
    Tuned::Unsupported
}
