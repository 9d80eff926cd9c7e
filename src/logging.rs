//! Logging: text or JSON on stderr, and every panic through the log.

use tracing::error;

use crate::actors::panic_message;
use crate::config::{LogFormat, Settings};

/// Logs to stderr as text or JSON; `RUST_LOG`, when set, wins over `log.level`.
pub fn init_logging(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Logs every panic through tracing (message and location), so that it lands in the daemon's log, JSON
/// included, before the default hook prints it to stderr. The actors turn a panic into a restart
/// ([`crate::actors::stop_on_panic`]), and log that too; this line says where it happened.
pub fn log_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        error!(
            panic = %panic_message(info.payload()),
            location,
            thread = std::thread::current().name().unwrap_or("unnamed"),
            "panicked"
        );
        default_hook(info);
    }));
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_panic_is_logged_with_its_message_and_location() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        super::log_panics();
        let result = tracing::subscriber::with_default(subscriber, || {
            std::panic::catch_unwind(|| panic!("test: the hook sees {}", 42))
        });
        assert!(result.is_err());
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains(r#""panic":"test: the hook sees 42""#), "{log}");
        assert!(log.contains(r#""location":"src/logging.rs:"#), "{log}");
        assert!(log.contains(r#""level":"ERROR""#), "{log}");
    }
}
