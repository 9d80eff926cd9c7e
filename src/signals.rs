//! The signals the daemon stops on (SIGTERM, SIGINT), installed once for the whole run.

use tokio::signal::unix::{signal, Signal, SignalKind};
use tracing::{error, info};

/// SIGTERM and SIGINT, handled by the daemon from its start to its end.
///
/// Once tokio handles a signal, the default action (exit) is gone for good, even after the listener is
/// dropped: so the listeners are installed once, before the first wait, and every wait has an arm for them.
/// A signal that arrives while nothing waits is kept for the next [`Signals::recv`].
pub struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Installs the handlers; exits 1 if that fails (the daemon could not stop cleanly; better not to run).
    pub fn install() -> Signals {
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => Signals { term, int },
            (Err(e), _) | (_, Err(e)) => {
                error!(error = %e, "cannot install signal handlers");
                std::process::exit(1);
            }
        }
    }

    /// Resolves at the next SIGTERM or SIGINT, with its name.
    pub async fn recv(&mut self) -> &'static str {
        let name = tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        };
        info!(signal = name, "signal received");
        name
    }
}
