//! Logging: text or JSON on stderr, and every panic through the log.
//!
//! - **Filter**: `RUST_LOG` when it is set, not empty and valid, else `log.level` (validated with the rest of
//!   the config). An invalid `RUST_LOG` is said once, as a warning, rather than silently ignored.
//! - **Text**: coloured only for a person at a terminal: standard error is one and `NO_COLOR` is unset or
//!   empty (<https://no-color.org>). `docker logs`, a file or a pipe get plain text.
//! - **JSON** (for CloudWatch Logs Insights): one object per line, the event's fields at the top level beside
//!   `timestamp`, `level`, `message` and `target`, so that a query filters on `zone_id` or `error` directly;
//!   the current span (the AWS SDK's, when it logs) as one nested object `span` (`span.name`), without the
//!   list of every enclosing span. A panic is one such line too.
//!
//! Credentials: the daemon logs none, and the AWS SDK redacts the secret key, the session token and the
//! signature headers even at `trace`, but not the IMDSv2 session token of a request to the instance
//! metadata service: the SDK's request traces are capped at `debug` whatever the filter says
//! (`CAPPED_TARGETS`). End-to-end tests (`tests/e2e_logs.rs`) run the daemon at `trace` with recognisable
//! fake credentials from the environment, a task role's endpoint and an instance role, and search its output
//! for them.

use std::ffi::OsStr;
use std::io::IsTerminal;

use tracing::{error, warn, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, Settings};
use crate::supervise::panic_message;

/// Logs to stderr as text or JSON, filtered by `RUST_LOG` when set (else `log.level`), coloured only on a
/// terminal without `NO_COLOR`.
pub fn init_logging(settings: &Settings) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let (filter, passed_over) = choose_filter(&settings.log.level, rust_log.as_deref());
    let ansi = colours(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    // Only `main` sets the global subscriber, once; a second call (a test) keeps the first.
    let _ = subscriber(settings.log.format, filter, ansi, std::io::stderr).try_init();
    if let Some(reason) = passed_over {
        warn!(
            rust_log = rust_log.unwrap_or_default(),
            log_level = settings.log.level,
            reason,
            "RUST_LOG is not a valid filter: log.level applies"
        );
    }
}

/// The filter: `RUST_LOG` (`rust_log`) when it is set, not empty and valid, else `level` (`log.level`, which
/// the config has validated). The second value says why a set `RUST_LOG` was passed over.
fn choose_filter(level: &str, rust_log: Option<&str>) -> (EnvFilter, Option<String>) {
    let from_level = || EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    match rust_log.map(str::trim) {
        None | Some("") => (from_level(), None),
        Some(directives) => match EnvFilter::try_new(directives) {
            Ok(filter) => (filter, None),
            Err(e) => (from_level(), Some(e.to_string())),
        },
    }
}

/// Whether text logs are coloured: only when standard error is a terminal, and never when `NO_COLOR` is set
/// to anything but the empty string (no-color.org: "when present and not an empty string").
pub fn colours(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// Targets whose events above a level print credentials, capped at that level whatever the filter says.
///
/// The AWS SDK's orchestrator traces every request it transmits with its headers. It redacts the signature
/// and `x-amz-security-token`, but not `x-aws-ec2-metadata-token`: at `trace`, every request to the
/// instance metadata service (the host IP, an instance role's credentials) would print the IMDSv2 session
/// token, with which, for up to six hours, whoever reads the log and can reach the metadata service reads
/// the instance's metadata, role credentials included. Its `debug` events (which operation, which attempt,
/// what was decided) stay.
const CAPPED_TARGETS: &[(&str, Level)] =
    &[("aws_smithy_runtime::client::orchestrator", Level::DEBUG)];

/// The cap of [`CAPPED_TARGETS`], as a filter of its own: applied after the user's filter, so that no
/// directive (`RUST_LOG=trace`, a more specific target, a span filter) lifts it.
fn credential_cap() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPPED_TARGETS.iter().copied())
}

/// The subscriber [`init_logging`] installs, writing to `writer` (tests capture it).
fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    ansi: bool,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let registry = tracing_subscriber::registry().with(filter);
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        LogFormat::Text => {
            Box::new(registry.with(layer.with_ansi(ansi).with_filter(credential_cap())))
        }
        // Never coloured: escape sequences have no place in a JSON string.
        LogFormat::Json => Box::new(
            registry.with(
                layer
                    .with_ansi(false)
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_filter(credential_cap()),
            ),
        ),
    }
}

/// Logs every panic through tracing (message and location), so that it lands in the daemon's log, JSON
/// included. The actors turn a panic into a restart ([`crate::supervise::stop_on_panic`]), and log that too;
/// this line says where it happened. With text logs the default hook then prints the panic as usual (with a
/// backtrace under `RUST_BACKTRACE`); with JSON logs it does not, so that every line stays one JSON object,
/// and the backtrace (when `RUST_BACKTRACE` asks for one) is a field of the event instead.
pub fn log_panics(format: LogFormat) {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let panic = panic_message(info.payload());
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        match format {
            LogFormat::Text => {
                error!(panic = %panic, location, thread, "panicked");
                default_hook(info);
            }
            LogFormat::Json => {
                let backtrace = std::backtrace::Backtrace::capture();
                if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
                    error!(panic = %panic, location, thread, backtrace = %backtrace, "panicked");
                } else {
                    error!(panic = %panic, location, thread, "panicked");
                }
            }
        }
    }));
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use serde_json::{Map, Value};
    use tracing::{debug, info, info_span, trace, warn};

    use super::{choose_filter, colours, subscriber};
    use crate::config::LogFormat;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }

        /// Every line, parsed as a JSON object (panics on a line that is not one).
        fn json_lines(&self) -> Vec<Map<String, Value>> {
            self.text()
                .lines()
                .map(|line| match serde_json::from_str(line) {
                    Ok(Value::Object(object)) => object,
                    other => panic!("not a JSON object: {line:?} ({other:?})"),
                })
                .collect()
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Runs `body` with the daemon's subscriber (`format`, filter `filter`, colours `ansi`) and returns what
    /// it wrote.
    fn capture(format: LogFormat, filter: &str, ansi: bool, body: impl FnOnce()) -> Captured {
        let captured = Captured::default();
        let writer = captured.clone();
        let (filter, passed_over) = choose_filter(filter, None);
        assert_eq!(passed_over, None);
        let subscriber = subscriber(format, filter, ansi, move || writer.clone());
        tracing::subscriber::with_default(subscriber, body);
        captured
    }

    #[test]
    fn json_lines_carry_the_events_fields_at_the_top_level() {
        let captured = capture(LogFormat::Json, "info", false, || {
            info!(
                zone_id = "Z0123",
                changes = 3,
                deregister = false,
                "hosted zone found"
            );
            let span = info_span!("attempt", attempt = 2);
            let _entered = span.enter();
            warn!(error = %"throttled\nby Route53", "retrying");
        });
        let lines = captured.json_lines();
        assert_eq!(lines.len(), 2, "{}", captured.text());

        let first = &lines[0];
        assert_eq!(first["message"], "hosted zone found");
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["zone_id"], "Z0123");
        assert_eq!(first["changes"], 3, "numbers stay numbers");
        assert_eq!(first["deregister"], false);
        assert_eq!(first["target"], "route53_registrator::logging::tests");
        assert!(first["timestamp"].is_string(), "{first:?}");
        assert!(!first.contains_key("fields"), "not nested: {first:?}");
        assert!(!first.contains_key("span"), "no span: {first:?}");

        let second = &lines[1];
        assert_eq!(second["message"], "retrying");
        assert_eq!(second["level"], "WARN");
        assert_eq!(
            second["error"], "throttled\nby Route53",
            "a multi-line value stays on one line"
        );
        assert_eq!(second["span"]["name"], "attempt");
        assert_eq!(second["span"]["attempt"], 2);
        assert!(!second.contains_key("spans"), "no span list: {second:?}");
        assert!(!captured.text().contains('\x1b'), "{}", captured.text());
    }

    #[test]
    fn text_is_coloured_only_when_asked() {
        let log = || info!(zone_id = "Z0123", "hosted zone found");
        let plain = capture(LogFormat::Text, "info", false, log).text();
        assert!(plain.contains("INFO"), "{plain}");
        assert!(
            plain.contains("hosted zone found zone_id=\"Z0123\""),
            "{plain}"
        );
        assert!(!plain.contains("\x1b["), "{plain:?}");
        let coloured = capture(LogFormat::Text, "info", true, log).text();
        assert!(coloured.contains("\x1b["), "{coloured:?}");
        // JSON is never coloured, whatever the terminal.
        let json = capture(LogFormat::Json, "info", true, log).text();
        assert!(!json.contains('\x1b'), "{json:?}");
    }

    #[test]
    fn colours_need_a_terminal_and_no_no_color() {
        let cases: [(bool, Option<&str>, bool); 6] = [
            (true, None, true),
            (true, Some(""), true),
            (true, Some("1"), false),
            (true, Some("0"), false),
            (false, None, false),
            (false, Some("1"), false),
        ];
        for (terminal, no_color, expected) in cases {
            assert_eq!(
                colours(terminal, no_color.map(OsStr::new)),
                expected,
                "terminal {terminal}, NO_COLOR {no_color:?}"
            );
        }
    }

    #[test]
    fn rust_log_wins_over_log_level_when_set_and_valid() {
        let shown = |level: &str, rust_log: Option<&str>| {
            let (filter, passed_over) = choose_filter(level, rust_log);
            (filter.to_string(), passed_over.is_some())
        };
        assert_eq!(shown("info", None), ("info".to_string(), false));
        assert_eq!(
            shown("info", Some("warn,route53_registrator=trace")),
            ("route53_registrator=trace,warn".to_string(), false)
        );
        assert_eq!(shown("debug", Some("")), ("debug".to_string(), false));
        assert_eq!(shown("debug", Some("  ")), ("debug".to_string(), false));
        assert_eq!(
            shown("debug", Some("info=lol")),
            ("debug".to_string(), true),
            "an invalid RUST_LOG is passed over, and said"
        );
    }

    #[test]
    fn the_sdks_request_traces_stay_capped_at_debug_whatever_the_filter() {
        let filters = [
            "trace",
            "aws_sigv4=trace,aws_smithy_runtime::client::orchestrator=trace",
            "debug,aws_smithy_runtime::client::orchestrator::http=trace,aws_sigv4=trace",
            "debug,[invoke]=trace",
        ];
        for filter in filters {
            let captured = capture(LogFormat::Json, filter, false, || {
                let span = tracing::info_span!("invoke");
                let _entered = span.enter();
                trace!(target: "aws_smithy_runtime::client::orchestrator", "transmitting request");
                trace!(target: "aws_smithy_runtime::client::orchestrator::http", "read body");
                debug!(target: "aws_smithy_runtime::client::orchestrator", "kept");
                trace!(target: "aws_sigv4::http_request::sign", "signing request");
            });
            let messages: Vec<_> = captured
                .json_lines()
                .into_iter()
                .map(|line| line["message"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(messages, ["kept", "signing request"], "filter {filter}");
        }
    }

    #[test]
    fn the_filter_applies_to_what_is_written() {
        let captured = capture(LogFormat::Json, "warn", false, || {
            info!("hidden");
            warn!("shown");
        });
        let lines = captured.json_lines();
        assert_eq!(lines.len(), 1, "{}", captured.text());
        assert_eq!(lines[0]["message"], "shown");
    }

    #[test]
    fn a_panic_is_logged_with_its_message_and_location() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .finish();
        // Text: the hook is process-wide, and it passes other tests' panics on to the default hook, which
        // prints them (with JSON it would not).
        super::log_panics(LogFormat::Text);
        let result = tracing::subscriber::with_default(subscriber, || {
            std::panic::catch_unwind(|| panic!("test: the hook sees {}", 42))
        });
        assert!(result.is_err());
        let lines = captured.json_lines();
        let line = lines
            .iter()
            .find(|line| line["message"] == "panicked")
            .unwrap_or_else(|| panic!("no panic logged: {}", captured.text()));
        assert_eq!(line["panic"], "test: the hook sees 42");
        assert!(
            line["location"]
                .as_str()
                .is_some_and(|l| l.starts_with("src/logging.rs:")),
            "{line:?}"
        );
        assert_eq!(line["level"], "ERROR");
    }
}
