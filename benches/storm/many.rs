//! Scenario 5: many daemons (different host IPs, one Docker engine, one service container) publishing one
//! name behind the emulator throttled to Route53's 5 requests per second for the whole account: the time
//! until every record is right, against the time the throttle itself forces. Repeated
//! `R53R_BENCH_MANY_RUNS` times (3), each on a fresh emulator: the backoff's jitter makes single runs vary.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use route53_emulator::{spawn_server, Emulator, LoggedRequest, Operation};

use crate::daemon::Daemon;
use crate::fleet::{Fleet, FleetNetwork, Member};
use crate::report::{ms, print_table, secs, write_request_log, Verdict};
use crate::support::{unique, unique_zone, wait_until};
use crate::{daemon_config, BenchSettings, DEFAULT_RESYNC, PHASE_DEADLINE};

/// The emulator's account-wide throttle (Route53's per-account rate).
const THROTTLE_PER_SECOND: f64 = 5.0;
/// Target: within 1.5× the time the throttle forces.
const THROTTLE_FACTOR_TARGET: f64 = 1.5;

/// What one run measured.
struct ManyRun {
    /// First spawn → the last accepted change (the one that made every record right).
    done: Duration,
    accepted: usize,
    /// Accepted and refused requests by operation.
    by_operation: BTreeMap<String, (usize, usize)>,
    /// The longest time before `done` in which the throttle accepted nothing: capacity left unused while
    /// every daemon waited out its backoff.
    longest_idle: Duration,
}

/// Scenario 5, `settings.many_runs` times.
pub fn many_daemons(settings: &BenchSettings, verdicts: &mut Vec<Verdict>) {
    // Each daemon needs at least GetHostedZone, one read of the (small) zone and one change.
    let minimum = 3 * settings.daemons;
    let forced = Duration::from_secs_f64(minimum as f64 / THROTTLE_PER_SECOND);
    let runs: Vec<ManyRun> = (1..=settings.many_runs)
        .map(|i| one_run(settings, i))
        .collect();

    println!(
        "\n## Many daemons: {} daemons, one service container, emulator throttled to {THROTTLE_PER_SECOND} \
         requests/s; forced time {minimum} requests / {THROTTLE_PER_SECOND} = {}\n",
        settings.daemons,
        secs(forced)
    );
    let rows: Vec<Vec<String>> = runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let refused: Vec<String> = run
                .by_operation
                .iter()
                .filter(|(_, (_, refused))| *refused > 0)
                .map(|(op, (_, refused))| format!("{refused} {op}"))
                .collect();
            vec![
                (i + 1).to_string(),
                secs(run.done),
                format!("{:.2}×", run.done.as_secs_f64() / forced.as_secs_f64()),
                run.accepted.to_string(),
                refused.join(", "),
                ms(run.longest_idle),
            ]
        })
        .collect();
    print_table(
        &[
            "run",
            "spawn → every record right",
            "÷ forced time",
            "accepted",
            "refused (Throttling)",
            "longest time with nothing accepted",
        ],
        &rows,
    );
    let worst = runs.iter().map(|run| run.done).max().unwrap_or_default();
    let factor = worst.as_secs_f64() / forced.as_secs_f64();
    verdicts.push(Verdict {
        number: format!(
            "{} daemons behind 5 req/s: time / forced time (worst of {})",
            settings.daemons, settings.many_runs
        ),
        measured: format!("{} / {} = {factor:.2}×", secs(worst), secs(forced)),
        target: format!("≤ {THROTTLE_FACTOR_TARGET}×"),
        met: factor <= THROTTLE_FACTOR_TARGET,
    });
}

/// One run on a fresh emulator and zone; its request log is written to `many-<run>.tsv`.
fn one_run(settings: &BenchSettings, run_number: usize) -> ManyRun {
    let emulator = Emulator::new();
    let server = spawn_server(emulator.clone(), 0).expect("emulator server");
    let zone = emulator.create_zone(&unique_zone(), true);
    let network = FleetNetwork::pick(&unique("r53rbench-net"));
    let run = unique("run");
    let mut fleet = Fleet::new(&run);
    let service = "shared".to_string();
    fleet.create(
        &network,
        vec![Member {
            container: format!("{run}-shared"),
            service: service.clone(),
        }],
        1,
    );
    fleet.start_all(1);
    let ips: Vec<String> = (1..=settings.daemons)
        .map(|i| format!("10.77.{}.{}", i / 250, i % 250 + 1))
        .collect();

    emulator.set_throttle(Some(THROTTLE_PER_SECOND));
    let began = Instant::now();
    let mut daemons: Vec<Daemon> = ips
        .iter()
        .map(|ip| {
            Daemon::spawn(
                &settings.binary,
                &server.endpoint(),
                &daemon_config(&zone.id, ip, DEFAULT_RESYNC),
                &format!("daemon {ip}"),
            )
        })
        .collect();
    let fqdn = format!("{service}.{}", zone.name);
    let correct = || {
        let published: BTreeMap<String, Vec<String>> = emulator
            .record_sets(&zone.id)
            .into_iter()
            .filter(|rs| rs.rtype == "A" && rs.name == fqdn)
            .map(|rs| (rs.set_identifier.unwrap_or_default(), rs.values))
            .collect();
        published.len() == ips.len()
            && ips
                .iter()
                .all(|ip| published.get(ip) == Some(&vec![ip.clone()]))
    };
    wait_until(
        PHASE_DEADLINE,
        "every daemon's record is published",
        correct,
    );
    let detected = began.elapsed();
    for daemon in &mut daemons {
        daemon.assert_running();
    }
    drop(daemons);
    drop(fleet);
    drop(network);

    let log: Vec<LoggedRequest> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.at >= began)
        .collect();
    dump(&log, began, run_number);
    let accepted_at: Vec<Duration> = log
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.at - began)
        .collect();
    let done = log
        .iter()
        .filter(|r| r.operation == Operation::ChangeResourceRecordSets && r.status == 200)
        .map(|r| r.at - began)
        .max()
        .unwrap_or(detected);
    let longest_idle = std::iter::once(Duration::ZERO)
        .chain(accepted_at.iter().copied().filter(|at| *at <= done))
        .collect::<Vec<_>>()
        .windows(2)
        .map(|pair| pair[1].saturating_sub(pair[0]))
        .max()
        .unwrap_or_default();
    let mut by_operation: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in &log {
        let entry = by_operation
            .entry(format!("{:?}", r.operation))
            .or_default();
        if r.status == 200 {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    ManyRun {
        done,
        accepted: accepted_at.len(),
        by_operation,
        longest_idle,
    }
}

/// Writes a run's request log (milliseconds since the first spawn) for reading by hand.
fn dump(log: &[LoggedRequest], began: Instant, run_number: usize) {
    write_request_log("storm-bench", &format!("many-{run_number}.tsv"), log, began);
}
