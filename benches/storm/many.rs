//! Scenario 5: many daemons (different host IPs, one Docker engine, one service container) publishing one
//! name behind the emulator throttled to Route53's 5 requests per second for the whole account: the time
//! until every record is right, against the time the throttle itself forces.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use route53_emulator::{spawn_server, Emulator, LoggedRequest, Operation};

use crate::daemon::Daemon;
use crate::fleet::{Fleet, Member};
use crate::report::{print_table, secs, Verdict};
use crate::support::docker::Network;
use crate::support::{unique, unique_zone, wait_until};
use crate::{daemon_config, BenchSettings, DEFAULT_RESYNC, PHASE_DEADLINE};

/// The emulator's account-wide throttle (Route53's per-account rate).
const THROTTLE_PER_SECOND: f64 = 5.0;
/// PRODUCT.md: within 1.5× the time the throttle forces.
const THROTTLE_FACTOR_TARGET: f64 = 1.5;

/// Scenario 5: many daemons on one name behind the account's throttle.
pub fn many_daemons(settings: &BenchSettings, verdicts: &mut Vec<Verdict>) {
    let emulator = Emulator::new();
    let server = spawn_server(emulator.clone(), 0).expect("emulator server");
    let zone = emulator.create_zone(&unique_zone(), true);
    let network = Network::create(&unique("r53rbench-net"));
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
    let log: Vec<LoggedRequest> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.at >= began)
        .collect();
    let accepted = log.iter().filter(|r| r.status == 200).count();
    let throttled = log.len() - accepted;
    let done = log
        .iter()
        .filter(|r| r.operation == Operation::ChangeResourceRecordSets && r.status == 200)
        .map(|r| r.at - began)
        .max()
        .unwrap_or(detected);
    // Each daemon needs at least GetHostedZone, one read of the (small) zone and one change.
    let minimum = 3 * settings.daemons;
    let forced = |requests: usize| Duration::from_secs_f64(requests as f64 / THROTTLE_PER_SECOND);
    let factor = done.as_secs_f64() / forced(minimum).as_secs_f64();
    let factor_accepted = done.as_secs_f64() / forced(accepted).as_secs_f64();
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
    drop(daemons);
    drop(fleet);
    drop(network);

    println!(
        "\n## Many daemons: {} daemons, one service container, emulator throttled to {} requests/s\n",
        settings.daemons, THROTTLE_PER_SECOND
    );
    print_table(
        &["operation", "accepted", "throttled / failed"],
        &by_operation
            .iter()
            .map(|(op, (ok, refused))| vec![op.clone(), ok.to_string(), refused.to_string()])
            .collect::<Vec<_>>(),
    );
    println!();
    print_table(
        &["", "time"],
        &[
            vec![
                "first spawn → last accepted change (every record right)".into(),
                secs(done),
            ],
            vec!["first spawn → seen right by polling".into(), secs(detected)],
            vec![
                format!(
                    "forced by the throttle: minimum {minimum} requests / {THROTTLE_PER_SECOND}"
                ),
                secs(forced(minimum)),
            ],
            vec![
                format!(
                    "forced by the throttle: {accepted} accepted requests / {THROTTLE_PER_SECOND}"
                ),
                secs(forced(accepted)),
            ],
        ],
    );
    println!(
        "\n{accepted} requests accepted, {throttled} refused; factor {factor:.2}× the minimum's forced time, \
         {factor_accepted:.2}× the accepted requests' forced time"
    );
    verdicts.push(Verdict {
        number: format!(
            "{} daemons behind 5 req/s: time / forced time",
            settings.daemons
        ),
        measured: format!(
            "{} / {} = {factor:.2}× ({factor_accepted:.2}× of {accepted} accepted)",
            secs(done),
            secs(forced(minimum))
        ),
        target: format!("≤ {THROTTLE_FACTOR_TARGET}×"),
        met: factor <= THROTTLE_FACTOR_TARGET,
    });
}
