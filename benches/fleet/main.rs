//! The fleet bench (issue 9, points 1 and 4): what hundreds of instances sharing one account's Route53 quota
//! cost it.
//!
//! ```text
//! cargo bench --bench fleet                                     # the full run: N = 10, 100, 300, both models
//! R53R_FLEET_SHORT=1 cargo bench --bench fleet --profile dev    # short: N = 10, documented, about a minute
//! ```
//!
//! `--profile dev` builds the bench with the dependencies the test suite has already built (no release
//! build of aws-sdk and the rest). Knobs, from the environment: `R53R_FLEET_SIZES` (`10,100,300`; short:
//! `10`; `0`: part 2 only), `R53R_FLEET_WORKLOADS` (some of `restart,deploy,scale-out,restart-spread,
//! scale-out-spread`; all by default), `R53R_FLEET_MODELS` (the quota models, some of `old,documented`;
//! both by default; short: `documented`, so that CI's short run takes no longer), `R53R_FLEET_RUNS`
//! (repetitions, 1), `R53R_FLEET_WAVES` (a deploy's waves, 10; short: 2), `R53R_FLEET_DEADLINE_SECS` (a workload's deadline; by default 10× its lower bound, within 2 to 15
//! minutes), `R53R_FLEET_SEED` (the offsets' and jitters' seed), `RUST_LOG` (the daemons' logs; off by
//! default). No Docker is needed: the bench feeds the writers their desired names directly, as the classifier
//! would. Not a test: `cargo test` and the suite never run it (`test = false` in Cargo.toml).
//!
//! # Part 1: the fleet, against the emulator over HTTP
//!
//! One process. For every (N, workload, quota model), on a thread and an actix System of its own, the
//! project's Route53 emulator serves a private zone on loopback (an emulator each: an account each, with a quota of its
//! own, so that they all run side by side and the table takes as long as its longest row), under one of the
//! emulator's two quota models (a refused request gets Route53's `Throttling`):
//!
//! - **`old`**: one bucket for the whole account, 5 requests per second, holding one second's worth
//!   (`set_throttle(Some(5.0))`): Route53's single rate before 2026.
//! - **`documented`**: Route53's token buckets since 2026 (`set_quota(Some(Quota::documented()))`): the
//!   account's bucket holds 50 and refills 10 per second, each action's the same (CreateHostedZone's 40/2 is
//!   never sent); a request draws from the account's and its action's and is throttled when either is empty.
//!
//! A workload's rows under each model stand next to each other in the table (its offsets and jitters are the
//! same under both: the seed does not depend on the model). Each of the N instances is a real
//! `Route53Writer` actor with its own IP (`10.1.x.y`, also its owner id) wired as `src/main.rs` wires one
//! daemon: the real AWS SDK
//! pointed at the emulator (static credentials and region: nothing asks the metadata service or leaves the
//! machine; the SDK's retries off), its own `route53_limiter` and `Stats` behind `RateLimited`, the zone
//! resolved with GetHostedZone first, and the default settings (multivalue, debounce 200 ms, max_delay 1 s,
//! 5 requests/s, the documented quota of 50 at once and 10/s, `startup_spread = "auto"`, verify_interval
//! 15 min). It is fed `HostIp` and `DesiredRecords` directly.
//!
//! Each instance runs 20 services. Route53 allows at most 100 multivalue record sets per name and type, so
//! instance `i` runs the names of group `i / 100`: `s{k}-g{i/100}`, k in 0..20. Up to N = 100 every instance
//! shares the same 20 names (up to 100 owners per name: the hard case). Each workload starts from a zone that
//! N daemons have filled with the throttle lifted (set-up, not measured: they publish their names and, having
//! listed the zone once, their ledgers), the daemons still running (both models lifted while it fills):
//!
//! 1. **Mass restart.** Every daemon stops as on SIGTERM (`Shutdown` without deregistration). Measured: N
//!    new daemons start at once
//!    (the quota back on), every 10th instance now running 19 services (one stopped while the daemon was
//!    down: its record set is stale and must be withdrawn).
//! 2. **Rolling deploy.** Waves of N/10 instances (at least 1), one every 10 s; in a wave each instance's
//!    services stop (`DesiredRecords` with none) at a random offset in [0, 1 s) after the wave's start, and
//!    start again 5 s later (its names as before, another offset). It ends where it began.
//! 3. **Scale-out.** N/2 new instances (indices N..1.5N, the names of their own group) start, each at a
//!    random offset in [0, 1 s), with 20 services.
//! 4. **Mass restart, spread** and **scale-out, spread** (N up to 100): the same, each daemon with
//!    `route53.startup_spread` set by hand to 0.35 s per instance starting (a start's 3 requests take a third
//!    of a second of the fleet's 9 per second, and a little more leaves room for the bunching of random
//!    draws: 35 s for a restart of 100, 17.5 s for 50 joining), so its first request waits a random share
//!    of it: an override, to compare with `auto`. Workloads 1 to 3 run the default settings
//!    (`startup_spread = "auto"`). The lower bound is the same as without: the spread is the daemons'
//!    choice, not the workload's.
//!
//! **The neighbour.** Beside the fleet, in every measured workload, one more client of the same account: the
//! real SDK as the daemons have it (the same loopback endpoint, static credentials, retries off), sending one
//! request a second from the workload's start until the zone is right (or the deadline passes), a
//! ListResourceRecordSets of the zone (one page of 5) and an UPSERT of its own TXT record `neighbour.<zone>`
//! (no SetIdentifier) in turn: what the fleet leaves to another user of the account. The table gives its
//! requests and how many were throttled (and their share), as it counted them itself.
//!
//! For each, from the emulator's request log (cleared when the workload starts) less the neighbour's
//! requests (it counts its own, by operation): the fleet's requests by operation, how many were throttled
//! (as the daemons counted them: `route53_requests_total{outcome="throttled"}`) and their share, and the
//! time until the zone is exactly right: the zone's A record sets are compared in-process (no request) every
//! 100 ms with the expected end state (every (name, SetIdentifier, values), nothing else: the neighbour's TXT
//! record is none of them); once they match and every writer answers `Settle` (nothing pending or in
//! flight) and they still match, the time is the arrival of the last change request the emulator accepted (the one that made
//! the zone right). A workload not right by its deadline is reported as such, finished unthrottled (not
//! measured) so that the next one starts from its expected state, and makes the bench exit 1 at the end.
//!
//! **The lower bound** is the minimum the quota itself forces: the requests the workload cannot do without,
//! each arriving when its input was fed, served first come, first served by the model's account bucket, full
//! at the start — `old`: 5 tokens refilled 5 per second; `documented`: 50 refilled 10 per second (each
//! action's bucket is the same size and sees a part of the same requests, so it is never the tighter) — the
//! instant the last is served (`bound.rs`). The neighbour's requests are not in it.
//! The requests: one change request per instance per burst (restart: 1 per instance, plus 1 per instance
//! with a stale record set; deploy: 2 per instance, stop and start; scale-out: 1 per new instance), plus the
//! reads that cannot be avoided (restart and scale-out: per starting instance GetHostedZone, for the zone's
//! domain, and 1 read, since an instance must read at least once to learn what it holds; deploy: none). The
//! tables give the measured time divided by it, or a dash where the bound is zero (the documented bucket's
//! 50 tokens take a small fleet's whole burst at once). The time to right is the arrival of the last accepted change
//! request with an A record set in it: an instance without a ledger (every new one of a scale-out) lists the
//! zone later, spread over the fleet's share of the quota, and writes its ledger then. The bound counts
//! that read at the instance's start, but the A record sets do not wait for it: a ratio under 1 is no error.
//!
//! The request logs (the neighbour's requests in them) are written as TSV under Cargo's target tmp dir
//! (`fleet-bench/run{run}-n{N}-{workload}-{model}.tsv`).
//!
//! # Part 2: the verification budget, on a fake clock
//!
//! 300 instances (short: 30), each a bare `Reconciler` driven by a discrete-event loop on a simulated clock,
//! performing each action with `perform` against the in-process emulator (no throttle, no HTTP); an action's
//! requests take 200 ms each (the instance's own 5 requests/s). The instances are fed their IP and names
//! within 1 s of each other (as after a mass restart), publish, settle, then 8 hours pass (short: 1 hour)
//! with nothing changing: with 300 owners of 20 names each instance verifies every 4.2 to 5.2
//! hours (300 × 20 reads / 0.4 per second, plus jitter), so a single hour after a start would see none.
//! Counted: ListResourceRecordSets per simulated second across the fleet during the span (the start-up
//! excluded), in all and in the busiest simulated hour, against the budget of 0.5 per second, and the most
//! in any 60 s.
#![forbid(unsafe_code)]

#[path = "../../tests/support/mod.rs"]
mod support;

// The storm bench's table printer; the rest of that module is the storm's own.
#[allow(dead_code)]
#[path = "../storm/report.rs"]
mod report;

mod bound;
mod sim;
mod verify;

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use report::{print_table, secs};
use sim::{Model, Row, Workload, OPERATIONS};
use verify::Budget;

/// PRODUCT.md's budget for verification, across the fleet.
const VERIFY_TARGET_PER_SECOND: f64 = 0.5;

/// The knobs, from the environment (see the crate doc).
#[derive(Clone)]
pub struct FleetSettings {
    pub sizes: Vec<usize>,
    /// The workloads to run (by their file names); all when empty.
    pub workloads: Vec<String>,
    /// The quota models each workload runs under, side by side.
    pub models: Vec<Model>,
    pub runs: usize,
    pub waves: usize,
    /// A fixed deadline for every workload, instead of one from its bound.
    pub deadline: Option<Duration>,
    pub seed: u64,
    pub verify_instances: usize,
    pub verify_span: Duration,
}

impl FleetSettings {
    fn from_env() -> FleetSettings {
        let var = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
        let number = |key: &str, default: u64| {
            var(key).map_or(default, |v| {
                v.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{key}={v}: expected a number"))
            })
        };
        let short = var("R53R_FLEET_SHORT").is_some_and(|v| v != "0");
        let sizes = var("R53R_FLEET_SIZES")
            .unwrap_or_else(|| if short { "10" } else { "10,100,300" }.to_string())
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("R53R_FLEET_SIZES: {n:?} is not a number"))
            })
            .filter(|&n| n > 0)
            .collect();
        let workloads = var("R53R_FLEET_WORKLOADS").map_or_else(Vec::new, |v| {
            v.split(',').map(|w| w.trim().to_string()).collect()
        });
        for name in &workloads {
            assert!(
                Workload::ALL.iter().any(|w| w.file() == name),
                "R53R_FLEET_WORKLOADS: {name:?} is none of {:?}",
                Workload::ALL.map(Workload::file)
            );
        }
        // The short run (CI's) measures the documented model only, so that it takes no longer than it did.
        let models = var("R53R_FLEET_MODELS")
            .unwrap_or_else(|| {
                if short {
                    "documented"
                } else {
                    "old,documented"
                }
                .to_string()
            })
            .split(',')
            .map(|name| {
                let name = name.trim();
                Model::ALL
                    .into_iter()
                    .find(|m| m.name() == name)
                    .unwrap_or_else(|| {
                        panic!(
                            "R53R_FLEET_MODELS: {name:?} is none of {:?}",
                            Model::ALL.map(Model::name)
                        )
                    })
            })
            .collect::<BTreeSet<Model>>()
            .into_iter()
            .collect();
        FleetSettings {
            sizes,
            workloads,
            models,
            runs: number("R53R_FLEET_RUNS", 1).max(1) as usize,
            waves: number("R53R_FLEET_WAVES", if short { 2 } else { 10 }).max(1) as usize,
            deadline: var("R53R_FLEET_DEADLINE_SECS")
                .map(|_| Duration::from_secs(number("R53R_FLEET_DEADLINE_SECS", 0))),
            seed: number("R53R_FLEET_SEED", 9),
            verify_instances: if short { 30 } else { 300 },
            verify_span: Duration::from_secs(if short { 3600 } else { 8 * 3600 }),
        }
    }
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; there is nothing else to parse.
    bound::check();
    let settings = FleetSettings::from_env();
    // Belt and braces: the SDK clients have static credentials and a region, so nothing would ask the
    // instance metadata service anyway.
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    println!(
        "fleet bench: sizes {:?}, {} run(s), deploy in {} waves, the emulator's quota models: {}\nmachine: {} \
         CPUs (shared with other work; numbers vary between runs)",
        settings.sizes,
        settings.runs,
        settings.waves,
        settings
            .models
            .iter()
            .map(|m| m.describe())
            .collect::<Vec<_>>()
            .join("; "),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let system = actix_rt::System::new();
    system.block_on(bench(settings))
}

async fn bench(settings: FleetSettings) -> ExitCode {
    let began = Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    let mut failed = false;
    // Every (N, workload) on an account of its own, side by side: the quota each is measured against is its
    // own, and the whole table takes as long as its longest row instead of their sum. Each runs on a thread
    // and an actix System of its own, so that the busiest (300 daemons retrying) does not hold up the
    // others' timers and sockets: they share the machine's cores, as daemons on one host would not, but
    // each waits on its own quota far longer than on a core.
    let shared = Arc::new(settings.clone());
    for run in 1..=settings.runs {
        let models = &settings.models;
        let cases: Vec<(usize, Workload, Model)> = settings
            .sizes
            .iter()
            .flat_map(|&n| {
                Workload::ALL
                    .into_iter()
                    .filter(move |w| w.runs_on(n))
                    .filter(|w| {
                        settings.workloads.is_empty()
                            || settings.workloads.iter().any(|name| name == w.file())
                    })
                    .flat_map(move |workload| models.iter().map(move |&model| (n, workload, model)))
            })
            .collect();
        // Filled together first (set-up, and busy), then measured together.
        let filled = Arc::new(Barrier::new(cases.len()));
        let threads: Vec<_> = cases
            .into_iter()
            .map(|(n, workload, model)| {
                let (settings, filled) = (shared.clone(), filled.clone());
                std::thread::spawn(move || {
                    actix_rt::System::new().block_on(async move {
                        let prepared = sim::prepare(&settings, (n, run), workload, model).await;
                        filled.wait();
                        prepared?.measure(&settings).await
                    })
                })
            })
            .collect();
        for thread in threads {
            match thread.join().expect("a fleet's thread panicked") {
                Ok(row) => rows.push(row),
                Err(e) => {
                    eprintln!("fleet bench: {e}");
                    failed = true;
                }
            }
        }
    }
    // A workload's rows under each model next to each other.
    rows.sort_by_key(|row| (row.run, row.n, row.workload, row.model));
    if !rows.is_empty() {
        println!(
            "\n## Summary: the fleet under each quota model, with a neighbour on its account\n"
        );
        print_rows(&rows);
    }

    let budget = verify::verification_budget(
        settings.verify_instances,
        settings.verify_span,
        settings.seed,
    )
    .await;
    print_budget(&budget);
    println!("\nwall time: {:.0} s", began.elapsed().as_secs_f64());

    failed |= rows.iter().any(|row| row.time.is_err());
    if failed {
        eprintln!("fleet bench: some workload did not converge before its deadline (see above)");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_rows(rows: &[Row]) {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let mut cells = vec![
                if rows.iter().any(|r| r.run != row.run) {
                    format!("{} (run {})", row.n, row.run)
                } else {
                    row.n.to_string()
                },
                row.workload.label().to_string(),
                row.model.name().to_string(),
            ];
            for operation in OPERATIONS {
                let (all, throttled) = row
                    .requests
                    .get(&format!("{operation:?}"))
                    .copied()
                    .unwrap_or_default();
                cells.push(format!("{all} ({throttled})"));
            }
            cells.push(row.total.to_string());
            cells.push(format!(
                "{} ({:.0} %)",
                row.throttled,
                100.0 * row.throttled as f64 / row.total.max(1) as f64
            ));
            cells.push(row.other_errors.to_string());
            let neighbour = &row.neighbour;
            cells.push(format!(
                "{} ({}, {:.0} %)",
                neighbour.sent(),
                neighbour.throttled(),
                100.0 * neighbour.throttled() as f64 / neighbour.sent().max(1) as f64
            ));
            match &row.time {
                Ok(time) => {
                    cells.push(secs(*time));
                    cells.push(format!("{} ({} req.)", secs(row.bound), row.bound_requests));
                    cells.push(ratio(*time, row.bound, "", 2));
                }
                Err(missed) => {
                    cells.push(format!(
                        "> {:.0} s: NOT right ({})",
                        missed.deadline.as_secs_f64(),
                        missed.progress
                    ));
                    cells.push(format!("{} ({} req.)", secs(row.bound), row.bound_requests));
                    cells.push(ratio(missed.deadline, row.bound, "> ", 1));
                }
            }
            cells
        })
        .collect();
    print_table(
        &[
            "N",
            "workload",
            "quota",
            "GetHostedZone (thr.)",
            "ListResourceRecordSets (thr.)",
            "ChangeResourceRecordSets (thr.)",
            "requests",
            "throttled",
            "other errors",
            "neighbour (thr.)",
            "time to right",
            "lower bound",
            "÷ bound",
        ],
        &table,
    );
}

/// `time` divided by `bound`, or a dash when the bound is zero: a burst the bucket holds whole (the
/// documented model's 50 tokens take a mass restart of 10 at once) has no time to compare with.
fn ratio(time: Duration, bound: Duration, prefix: &str, decimals: usize) -> String {
    if bound < Duration::from_millis(1) {
        "— (bound 0)".to_string()
    } else {
        format!(
            "{prefix}{:.decimals$}×",
            time.as_secs_f64() / bound.as_secs_f64()
        )
    }
}

fn print_budget(budget: &Budget) {
    let span = budget.span.as_secs_f64();
    let reads = budget.reads();
    let per_second = reads as f64 / span;
    let worst = budget.max_reads_in(60);
    let busiest_hour = budget.max_reads_in(3600);
    let others: Vec<String> = budget
        .span_requests
        .iter()
        .filter(|(operation, _)| operation.as_str() != "ListResourceRecordSets")
        .map(|(operation, count)| format!("{count} {operation}"))
        .collect();
    let startup: Vec<String> = budget
        .startup_requests
        .iter()
        .map(|(operation, count)| format!("{count} {operation}"))
        .collect();
    println!(
        "\n## Verification budget: {} instances × 20 names, a simulated {:.0} min with nothing changing\n",
        budget.instances,
        span / 60.0
    );
    print_table(
        &["what", "measured", "target"],
        &[
            vec![
                "start-up (not counted): simulated time to settled, requests".into(),
                format!("{}, {}", secs(budget.startup), startup.join(", ")),
                String::new(),
            ],
            vec![
                "ListResourceRecordSets in the span".into(),
                reads.to_string(),
                String::new(),
            ],
            vec![
                "reads per second, fleet-wide, over the span".into(),
                format!("{per_second:.3}/s"),
                format!("< {VERIFY_TARGET_PER_SECOND}/s"),
            ],
            vec![
                "reads per second in the busiest simulated hour".into(),
                format!("{:.3}/s", busiest_hour as f64 / 3600.0),
                format!("< {VERIFY_TARGET_PER_SECOND}/s"),
            ],
            vec![
                "most reads in any 60 s".into(),
                format!("{worst} ({:.2}/s)", worst as f64 / 60.0),
                String::new(),
            ],
            vec![
                "other requests in the span".into(),
                if others.is_empty() {
                    "none".into()
                } else {
                    others.join(", ")
                },
                "none".into(),
            ],
        ],
    );
    // Twelve to sixteen buckets, whatever the span.
    let minutes = if span > 2.0 * 3600.0 { 30 } else { 5 };
    let buckets: Vec<String> = budget
        .reads_by(Duration::from_secs(minutes * 60))
        .iter()
        .map(usize::to_string)
        .collect();
    println!(
        "\nreads per {minutes} simulated minutes: {}",
        buckets.join(" ")
    );
}
