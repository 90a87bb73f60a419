//! Stopping work between two steps, so that nothing half-done is left behind.
//!
//! A worker's first SIGINT (Ctrl-C) or SIGTERM asks the run in progress to stop at the next
//! training step or evaluation; the worker then puts the run back in the queue at once (not
//! after `--stale-after`) and exits. A second signal exits immediately: checkpoints are written
//! atomically, so nothing is corrupted, and the run's next worker on this host requeues it.
//! A worker whose run store stays unreachable stops its run the same way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::{Error, Result};

/// Set by the first SIGINT or SIGTERM once [`install_signal_handlers`] ran.
static SIGNALLED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Makes the first SIGINT or SIGTERM set a flag that every [`Cancel`] sees, and a second one
/// exit the process at once (status 130). Installing twice is harmless.
pub fn install_signal_handlers() -> Result<()> {
    if SIGNALLED.get().is_some() {
        return Ok(());
    }
    let flag = SIGNALLED.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The order matters: the shutdown hook fires only when the flag is already set, i.e.
        // on the second signal.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(flag))
            .map_err(|e| Error::io("signal handler", e))?;
        signal_hook::flag::register(signal, Arc::clone(flag))
            .map_err(|e| Error::io("signal handler", e))?;
    }
    Ok(())
}

/// Whether the process got a stop signal.
pub fn signalled() -> bool {
    SIGNALLED.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// A request to stop, shared between a worker and the work it runs. It is also set when the
/// process gets a stop signal.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<Mutex<Option<String>>>);

impl Cancel {
    /// A request that has not been made.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the work to stop, saying why.
    pub fn cancel(&self, reason: impl Into<String>) {
        if let Ok(mut r) = self.0.lock()
            && r.is_none()
        {
            *r = Some(reason.into());
        }
    }

    /// Why the work should stop, if it should.
    pub fn reason(&self) -> Option<String> {
        if let Ok(r) = self.0.lock()
            && let Some(reason) = r.as_ref()
        {
            return Some(reason.clone());
        }
        signalled().then(|| "a stop signal (SIGINT or SIGTERM)".to_string())
    }

    /// `Err(Error::Interrupted)` once the work should stop.
    pub fn check(&self) -> Result<()> {
        match self.reason() {
            Some(reason) => Err(Error::Interrupted(reason)),
            None => Ok(()),
        }
    }
}

/// Restores the default action of SIGPIPE (the Rust runtime ignores it, so that a write to a
/// closed pipe is an error, which `println!` turns into a panic): the process then ends quietly
/// when the reader of its output goes away, as `ls | head` does.
pub fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: `signal` with SIG_DFL installs no handler code; it only restores the default
    // disposition of one signal, before any output is written.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
