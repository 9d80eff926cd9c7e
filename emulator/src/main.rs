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

use clap::{Parser, ValueEnum};
use route53_emulator::{spawn_server, BucketLimit, ChangeUnit, Emulator, Operation, Quota};
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
    /// The old throttle model: this many requests per second for the account (a burst of one second's worth), no
    /// per-action bucket. Independent of the quota flags: a request must pass both when both are set.
    #[arg(long, value_name = "REQUESTS_PER_SECOND")]
    throttle: Option<f64>,
    /// Start from a published quota: `documented` is the account at 50/10 (capacity/refill per second), each action
    /// at 50/10 and CreateHostedZone at 40/2. The flags below change its parts.
    #[arg(long, value_enum, value_name = "PRESET")]
    quota: Option<QuotaPreset>,
    /// The account's token bucket, as CAPACITY/REFILL_PER_SECOND (for example 50/10).
    #[arg(long, value_name = "CAPACITY/REFILL")]
    account_quota: Option<BucketLimit>,
    /// The bucket of every action without one of its own (--action-quota-for), as CAPACITY/REFILL_PER_SECOND.
    #[arg(long, value_name = "CAPACITY/REFILL")]
    action_quota: Option<BucketLimit>,
    /// One action's bucket, as ACTION=CAPACITY/REFILL_PER_SECOND (for example CreateHostedZone=40/2); repeatable.
    #[arg(long, value_name = "ACTION=CAPACITY/REFILL", value_parser = action_limit)]
    action_quota_for: Vec<(Operation, BucketLimit)>,
    /// The change-throughput bucket (record changes across the actions that modify DNS data), as
    /// CAPACITY/REFILL_PER_SECOND; Route53 does not publish it, so it is off unless set.
    #[arg(long, value_name = "CAPACITY/REFILL", requires = "change_unit")]
    change_quota: Option<BucketLimit>,
    /// What --change-quota counts as one change: `change` (a Change element) or `value` (a record value).
    #[arg(long, value_name = "UNIT", requires = "change_quota")]
    change_unit: Option<ChangeUnit>,
    /// How long a change stays PENDING before GetChange says INSYNC (for example "2s").
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    insync_delay: Duration,
}

/// A quota one flag away.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum QuotaPreset {
    /// The guide's numbers ("Throttling for Amazon Route 53 API requests").
    Documented,
}

impl Args {
    /// The quota model the flags ask for: the preset (if any) with the flags' parts over it; `None` when no quota
    /// flag is given, so the emulator runs unthrottled by default.
    fn quota(&self) -> Option<Quota> {
        let asked = self.quota.is_some()
            || self.account_quota.is_some()
            || self.action_quota.is_some()
            || !self.action_quota_for.is_empty()
            || self.change_quota.is_some();
        if !asked {
            return None;
        }
        let mut quota = match self.quota {
            Some(QuotaPreset::Documented) => Quota::documented(),
            None => Quota::default(),
        };
        quota.account = self.account_quota.or(quota.account);
        quota.per_action = self.action_quota.or(quota.per_action);
        for (operation, limit) in &self.action_quota_for {
            quota = quota.with_action(*operation, *limit);
        }
        if let (Some(limit), Some(unit)) = (self.change_quota, self.change_unit) {
            quota = quota.with_change_throughput(limit, unit);
        }
        Some(quota)
    }
}

/// `ACTION=CAPACITY/REFILL`: an action's name as Route53 spells it, and its bucket.
fn action_limit(text: &str) -> Result<(Operation, BucketLimit), String> {
    let (action, limit) = text.split_once('=').ok_or_else(|| {
        format!("`{text}`: expected ACTION=CAPACITY/REFILL, as `CreateHostedZone=40/2`")
    })?;
    Ok((action.trim().parse()?, limit.parse()?))
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
    let quota = args.quota();
    if let Some(quota) = &quota {
        tracing::info!(?quota, "throttled by the quota model");
    }
    emulator.set_quota(quota);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(flags: &[&str]) -> Result<Option<Quota>, String> {
        let argv = std::iter::once("route53-emulator").chain(flags.iter().copied());
        Args::try_parse_from(argv)
            .map(|args| args.quota())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn without_quota_flags_the_emulator_is_unthrottled() {
        assert_eq!(quota(&["--throttle", "5"]), Ok(None));
    }

    #[test]
    fn the_documented_quota_is_one_flag_away() {
        let documented = quota(&["--quota", "documented"]).unwrap().unwrap();
        assert_eq!(documented.account, Some(BucketLimit::new(50.0, 10.0)));
        assert_eq!(
            documented.action_limit(Operation::ListResourceRecordSets),
            Some(BucketLimit::new(50.0, 10.0))
        );
        assert_eq!(
            documented.action_limit(Operation::CreateHostedZone),
            Some(BucketLimit::new(40.0, 2.0))
        );
        assert_eq!(documented.change_throughput, None);
    }

    #[test]
    fn each_number_is_a_flag_over_the_preset() {
        let quota = quota(&[
            "--quota",
            "documented",
            "--account-quota",
            "100/20",
            "--action-quota-for",
            "GetChange=5/1",
            "--action-quota-for",
            "CreateHostedZone=4/0.5",
            "--change-quota",
            "30/3",
            "--change-unit",
            "value",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(quota.account, Some(BucketLimit::new(100.0, 20.0)));
        assert_eq!(quota.per_action, Some(BucketLimit::new(50.0, 10.0)));
        assert_eq!(
            quota.action_limit(Operation::GetChange),
            Some(BucketLimit::new(5.0, 1.0))
        );
        assert_eq!(
            quota.action_limit(Operation::CreateHostedZone),
            Some(BucketLimit::new(4.0, 0.5))
        );
        let change = quota.change_throughput.unwrap();
        assert_eq!(
            (change.limit, change.unit),
            (BucketLimit::new(30.0, 3.0), ChangeUnit::Value)
        );
    }

    #[test]
    fn a_quota_without_a_preset_has_only_the_buckets_asked_for() {
        let quota = quota(&["--action-quota", "2/1"]).unwrap().unwrap();
        assert_eq!(quota.account, None);
        assert_eq!(
            quota.action_limit(Operation::GetHostedZone),
            Some(BucketLimit::new(2.0, 1.0))
        );
    }

    #[test]
    fn the_change_quota_needs_its_unit_and_actions_their_route53_names() {
        assert!(quota(&["--change-quota", "10/1"]).is_err());
        assert!(quota(&["--change-unit", "change"]).is_err());
        assert!(quota(&["--action-quota-for", "createhostedzone=1/1"]).is_err());
        assert!(quota(&["--action-quota-for", "CreateHostedZone"]).is_err());
        assert!(quota(&["--account-quota", "0/10"]).is_err());
    }
}
