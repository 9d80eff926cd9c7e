//! `route53-emulator`: the Route53 emulator as a standalone server on loopback, for the quick start and for people.
//!
//! It creates one private hosted zone, prints exactly two lines to stdout (flushed), and serves until SIGTERM or
//! SIGINT; every applied change is logged to stderr:
//!
//! ```text
//! endpoint=http://127.0.0.1:4566
//! zone_id=Z0ABCDEFGHIJKLMNOPQRS
//! ```
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use route53_emulator::{spawn_server, Emulator};
use tracing_subscriber::EnvFilter;

/// A Route53 emulator that keeps Route53's rules (REST XML API 2013-04-01), on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Port on 127.0.0.1 to listen on (0: any free one).
    #[arg(long, default_value_t = 4566)]
    port: u16,
    /// Domain of the private hosted zone to create at start.
    #[arg(long, default_value = "service.discovery")]
    zone: String,
    /// Throttle the account to this many requests per second, as Route53 does (about 5).
    #[arg(long, value_name = "REQUESTS_PER_SECOND")]
    throttle: Option<f64>,
    /// How long a change stays PENDING before GetChange says INSYNC (for example "2s").
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    insync_delay: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("route53_emulator=info")),
        )
        .init();

    // Signals are caught from before the endpoint is printed: a script that reads it and stops the emulator at
    // once must not kill it with the default action.
    let (runtime, mut signals) = match Signals::install() {
        Ok(installed) => installed,
        Err(error) => {
            eprintln!("route53-emulator: cannot catch signals: {error}");
            return ExitCode::FAILURE;
        }
    };

    let emulator = Emulator::new();
    emulator.set_throttle(args.throttle);
    emulator.set_insync_delay(args.insync_delay);
    let zone = emulator.create_zone(&args.zone, true);
    let server = match spawn_server(emulator, args.port) {
        Ok(server) => server,
        Err(error) => {
            eprintln!(
                "route53-emulator: cannot listen on 127.0.0.1:{}: {error}",
                args.port
            );
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let printed = writeln!(stdout, "endpoint={}", server.endpoint())
        .and_then(|()| writeln!(stdout, "zone_id={}", zone.id))
        .and_then(|()| stdout.flush());
    drop(stdout);
    if let Err(error) = printed {
        eprintln!("route53-emulator: cannot write to stdout: {error}");
        return ExitCode::FAILURE;
    }
    tracing::info!(endpoint = %server.endpoint(), zone_id = %zone.id, zone = %zone.name,
        "serving; records at {}/_emulator/records", server.endpoint());

    let signal = runtime.block_on(signals.next());
    tracing::info!(signal, "stopping");
    drop(server);
    ExitCode::SUCCESS
}

/// SIGTERM and SIGINT, caught.
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    /// Catches both signals from now on; the runtime is the one to wait on them with.
    fn install() -> std::io::Result<(tokio::runtime::Runtime, Signals)> {
        use tokio::signal::unix::{signal, SignalKind};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let signals = runtime.block_on(async {
            Ok::<_, std::io::Error>(Signals {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        })?;
        Ok((runtime, signals))
    }

    /// Waits for the first of them; returns its name.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}
