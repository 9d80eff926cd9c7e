//! The binary: parse the command line, load the settings, wire the actors, wait for a signal. Thin on purpose:
//! everything it calls lives in the library.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;
use std::time::Instant;

use actix::Supervisor;
use clap::Parser;
use route53_registrator::aws::sdk_config;
use route53_registrator::backoff::RetryPolicy;
use route53_registrator::cli::{Cli, Command, ConfigArg, RunArgs};
use route53_registrator::config::Settings;
use route53_registrator::desired::classifier::Classifier;
use route53_registrator::docker::engine::resolve_host;
use route53_registrator::docker::watcher::{DockerStatus, DockerWatcher};
use route53_registrator::docker::ResyncVia;
use route53_registrator::gc::collector::GcCollector;
use route53_registrator::gc::decide::GcTiming;
use route53_registrator::gc::ec2::limited::RateLimitedEc2;
use route53_registrator::gc::ec2::sdk::SdkEc2;
use route53_registrator::host::cache::MetadataCache;
use route53_registrator::host::end_watch::EndWatch;
use route53_registrator::host::metadata::{ImdsMetadata, MetadataApi};
use route53_registrator::http;
use route53_registrator::logging::{init_logging, log_panics};
use route53_registrator::route53::limited::{route53_limiter, RateLimited};
use route53_registrator::route53::rate::StartSpread;
use route53_registrator::route53::read::resolve_zone;
use route53_registrator::route53::sdk::SdkRoute53;
use route53_registrator::route53::Route53Api;
use route53_registrator::signals::Signals;
use route53_registrator::stats::Stats;
use route53_registrator::writer::actor::{Route53Writer, WriterSettings};
use route53_registrator::writer::pacing::startup_delay;
use route53_registrator::writer::{Settle, Shutdown};
use tracing::{error, info, warn};

/// Exit code of a bad command line or configuration.
const EXIT_USAGE: u8 = 2;
/// Exit code of anything else fatal.
const EXIT_FATAL: u8 = 1;

fn main() -> ExitCode {
    match Cli::parse().into_command() {
        Command::Run(args) => run(args),
        Command::CheckConfig(ConfigArg { config }) => match Settings::load(config.as_deref()) {
            Ok(settings) => {
                print!("{}", settings.to_toml());
                ExitCode::SUCCESS
            }
            Err(e) => config_error(e),
        },
        Command::Healthcheck(ConfigArg { config }) => match Settings::load(config.as_deref()) {
            Ok(settings) => healthcheck(&settings.http.listen),
            Err(e) => config_error(e),
        },
    }
}

fn config_error(e: route53_registrator::config::ConfigError) -> ExitCode {
    eprintln!("route53-registrator: invalid configuration: {e}");
    ExitCode::from(EXIT_USAGE)
}

fn run(args: RunArgs) -> ExitCode {
    let settings = match Settings::load(args.config.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => return config_error(e),
    };
    let writer_settings = WriterSettings::from(&settings)
        .with_dry_run(args.dry_run)
        .with_once(args.once);
    init_logging(&settings);
    log_panics(settings.log.format);
    let system = actix_rt::System::new();
    ExitCode::from(system.block_on(daemon(settings, writer_settings, args.once)))
}

/// The longest `healthcheck` waits for `/healthz` (ECS's own health check timeout is 5 s by default).
const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(4);

/// The longest one AWS request (Route53, EC2) may take before it counts as failed (and is retried, or, for
/// EC2, doubted).
const AWS_TIMEOUT: Duration = Duration::from_secs(10);

/// How often `--once` looks whether the Docker engine has been unreachable for too long.
const DOCKER_POLL: Duration = Duration::from_millis(250);

/// Wires the actors (`DockerWatcher` → `Classifier` → `Route53Writer`, `MetadataCache` → `Route53Writer`,
/// and with `gc.enabled` `GcCollector` ⇄ `Route53Writer`), runs until a signal (or, with `--once`, one
/// reconciliation), and returns the exit code.
async fn daemon(settings: Settings, writer_settings: WriterSettings, once: bool) -> u8 {
    let mut signals = Signals::install();
    let zone_id = settings.route53.zone_id.clone();
    // Shared by whoever sends to Route53 (the account's budget is one) and by everything that counts.
    let stats = Stats::new();
    let limiter = route53_limiter(
        settings.route53.max_requests_per_second,
        settings.route53.quota(),
    );
    let aws = sdk_config(AWS_TIMEOUT).await;
    let sdk: Arc<dyn Route53Api> = Arc::new(SdkRoute53::from_config(&aws));
    let route53: Arc<dyn Route53Api> =
        Arc::new(RateLimited::new(sdk, limiter.clone(), stats.clone()));
    // The endpoint first: while the zone is read (Route53 may be unreachable for long) it answers healthy,
    // saying it is not ready yet.
    let health = Arc::new(http::Health::new(settings.http.docker_grace, stats.clone()));
    if let Ok(listen) = settings.http.listen.parse::<SocketAddr>() {
        match http::serve(listen, health.clone()) {
            Ok(server) => {
                info!(%listen, "serving /healthz and /metrics");
                actix_rt::spawn(server);
            }
            Err(e) => {
                eprintln!("route53-registrator: http.listen {listen}: cannot listen: {e}");
                return EXIT_FATAL;
            }
        }
    }
    // The zone's domain first: nothing can be named without it. A zone that does not exist or cannot be
    // accessed is a deployment mistake that retrying cannot fix; anything else is retried inside.
    // `--once` is a single reconciliation (a deploy step, a cron job): nothing is put off for the fleet.
    let spread = if once {
        StartSpread::Over(Duration::ZERO)
    } else {
        settings.route53.startup_spread
    };
    let delay = startup_delay(spread, rand::random());
    limiter.start(spread);
    let zone = tokio::select! {
        zone = resolve_zone(route53.as_ref(), &zone_id, RetryPolicy::default(), delay) => zone,
        signal = signals.recv() => return if once { interrupted(signal) } else { 0 },
    };
    let zone = match zone {
        Ok(zone) => zone,
        Err(e) => {
            error!(zone_id, error = %e, "the hosted zone cannot be used");
            return EXIT_FATAL;
        }
    };
    info!(zone_id, zone = zone.name, "hosted zone found");
    if !zone.private {
        // Not refused: only a zone that does not exist or cannot be accessed is fatal (README, "Command
        // line"); a public zone may be deliberate (a lab, a split-horizon set-up). It is said loudly, once.
        warn!(
            zone_id,
            zone = zone.name,
            "the hosted zone is public, not private: the instances' private IPs will be visible on the internet"
        );
    }

    let writer =
        Route53Writer::new(route53, zone, writer_settings, stats.clone()).start_supervised();
    let metadata = MetadataCache::from_settings(&settings.host, writer.clone().recipient(), || {
        ImdsMetadata::from_env().map(|m| Arc::new(m) as Arc<dyn MetadataApi>)
    });
    let metadata = match metadata {
        Ok(cache) => cache
            .telling_identity(writer.clone().recipient())
            .with_stats(stats.clone())
            .start_supervised(),
        Err(e) => {
            error!(error = %e, "the host IP cannot be determined");
            return EXIT_FATAL;
        }
    };
    // The instance's end, told in advance by EC2; not for `--once`, which reconciles once and exits.
    let end_watch = (settings.lifecycle.watch && !once).then(|| {
        let metadata = ImdsMetadata::from_env()
            .map(|m| Arc::new(m) as Arc<dyn MetadataApi>)
            .map_err(|e| e.to_string());
        EndWatch::new(
            metadata,
            writer.clone().recipient(),
            settings.lifecycle.interval,
            settings.lifecycle.rebalance,
            stats.clone(),
        )
        .start_supervised()
    });
    let classifier = Classifier::new(
        settings.selection.clone(),
        writer.clone().recipient(),
        stats.clone(),
    )
    .start_supervised();
    let status = Arc::new(DockerStatus::new(Instant::now()));
    let host = resolve_host(
        &settings.docker.host,
        std::env::var("DOCKER_HOST").ok().as_deref(),
    );
    let resync = settings.docker.resync_interval;
    let (events, snapshots) = (
        classifier.clone().recipient(),
        classifier.clone().recipient(),
    );
    let (watcher_status, watcher_stats) = (status.clone(), stats.clone());
    let watcher = Supervisor::start(move |_| {
        DockerWatcher::for_host(host, resync, events, snapshots, watcher_status)
            .with_stats(watcher_stats)
    });
    // A classifier restarted after a panic asks the watcher to list at once.
    classifier.do_send(ResyncVia(watcher.clone().recipient()));

    let mut actors = vec![
        ("writer", writer.clone().recipient()),
        ("classifier", classifier.clone().recipient()),
        ("docker_watcher", watcher.clone().recipient()),
        ("metadata_cache", metadata.clone().recipient()),
    ];
    if let Some(end_watch) = end_watch {
        actors.push(("end_watch", end_watch.recipient()));
    }
    // The clean-up of gone instances' record sets; not for `--once`, which reconciles this instance only.
    if settings.gc.enabled && !once {
        let ec2 = Arc::new(RateLimitedEc2::new(
            Arc::new(SdkEc2::from_config(&aws)),
            stats.clone(),
        ));
        let timing = GcTiming::new(settings.gc.interval, settings.gc.grace);
        info!(interval = ?settings.gc.interval, grace = ?settings.gc.grace, "gc: cleaning up after instances that are gone");
        let gc = GcCollector::new(
            ec2,
            writer.clone().recipient(),
            writer.clone().recipient(),
            timing,
            stats.clone(),
        )
        .start_supervised();
        actors.push(("gc", gc.recipient()));
    }
    health.running(http::Running {
        actors,
        docker: status.clone(),
    });

    if once {
        let settled = tokio::select! {
            settled = writer.send(Settle) => settled,
            signal = signals.recv() => return interrupted(signal),
            error = docker_unreachable(&status, settings.http.docker_grace) => {
                error!(
                    grace = ?settings.http.docker_grace,
                    error,
                    "--once gave up: the Docker engine was unreachable for http.docker_grace; the reconciliation did not finish"
                );
                return EXIT_FATAL;
            }
        };
        return match settled {
            Ok(report) if report.rejected == 0 => {
                info!(applied = report.applied, "reconciled once");
                0
            }
            Ok(report) => {
                error!(
                    applied = report.applied,
                    rejected = report.rejected,
                    "changes were rejected"
                );
                EXIT_FATAL
            }
            Err(e) => {
                error!(error = %e, "the writer stopped before reconciling");
                EXIT_FATAL
            }
        };
    }

    signals.recv().await;
    let deregister = settings.shutdown.deregister;
    info!(deregister, "stopping: flushing pending changes");
    let flush = tokio::time::timeout(
        settings.shutdown.timeout,
        writer.send(Shutdown { deregister }),
    );
    // A second signal is an operator who will not wait (a second Ctrl-C): it is obeyed at once.
    let flushed = tokio::select! {
        flushed = flush => flushed,
        signal = signals.recv() => {
            warn!(signal, "second signal: exiting without waiting for the flush; some changes were not sent");
            return 0;
        }
    };
    match flushed {
        Ok(Ok(report)) => info!(
            applied = report.applied,
            rejected = report.rejected,
            "stopped"
        ),
        Ok(Err(e)) => warn!(error = %e, "the writer was gone at shutdown"),
        Err(_) => {
            warn!(timeout = ?settings.shutdown.timeout, "shutdown timed out; some changes were not sent")
        }
    }
    0
}

/// Resolves once the Docker engine has been unreachable for `grace` (the time after which `/healthz` fails
/// too), with why: `--once` must end, and a reconciliation without knowing what runs would withdraw
/// everything. Polled: the watcher's status is shared state, not a message.
async fn docker_unreachable(status: &DockerStatus, grace: Duration) -> String {
    loop {
        if status
            .down_for(Instant::now())
            .is_some_and(|down| down >= grace)
        {
            return status
                .last_error()
                .unwrap_or_else(|| "no connection was made".to_string());
        }
        tokio::time::sleep(DOCKER_POLL).await;
    }
}

/// `--once` stopped by `signal` before it finished: says so, and exits 1 (the changes may be half sent).
fn interrupted(signal: &str) -> u8 {
    error!(
        signal,
        "--once interrupted by {signal}: the reconciliation did not finish; some changes may not have been sent"
    );
    EXIT_FATAL
}

/// `healthcheck`: GET /healthz on `http.listen` (an unspecified address is asked on loopback); exit 0 on 200.
fn healthcheck(listen: &str) -> ExitCode {
    let Ok(listen) = listen.parse::<SocketAddr>() else {
        eprintln!("route53-registrator: http.listen is empty: the health endpoint is disabled");
        return ExitCode::from(EXIT_FATAL);
    };
    let addr = http::probe_address(listen);
    match http::get_healthz(addr, HEALTHCHECK_TIMEOUT) {
        Ok((200, _)) => ExitCode::SUCCESS,
        Ok((status, body)) => {
            eprintln!("route53-registrator: /healthz on {addr} answered {status}: {body}");
            ExitCode::from(EXIT_FATAL)
        }
        Err(e) => {
            eprintln!("route53-registrator: /healthz on {addr}: {e}");
            ExitCode::from(EXIT_FATAL)
        }
    }
}
