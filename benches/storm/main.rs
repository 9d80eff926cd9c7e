//! The numbers the daemon is held to (the targets in the README's "Measured numbers"), measured on the real
//! `route53-registrator` binary, the real Docker engine and the project's Route53 emulator over HTTP.
//!
//! ```text
//! scripts/test.sh --docker-only                      # the engine and the test image, once
//! cargo bench --bench storm                          # builds the daemon with the bench (= release) profile
//! R53R_BENCH_BINARY=target/debug/route53-registrator cargo bench --bench storm   # another binary
//! ```
//!
//! Scenarios, in one run, each printed as a table when it ends, then a summary against PRODUCT.md's targets:
//!
//! 1. **Storm**: `R53R_BENCH_CONTAINERS` (200) service containers over `R53R_BENCH_NAMES` (200) names,
//!    created first, then started by `R53R_BENCH_PARALLEL` (16) parallel `docker start`s, then stopped the
//!    same way (`docker stop -t 1`). The daemon publishes into one zone; beside it, in the same run and on
//!    the same emulator, a model of the old tool's algorithm ([`old_tool`]) publishes into another. Counted:
//!    Route53 calls by operation (the emulator's request log), change requests against one per `max_delay`
//!    while events keep arriving plus one, and the latency from each event that changes a name (read from a
//!    `docker events` stream, timed by the engine's own timestamp: the bench may read an event a few ms
//!    after the daemon has already acted on it) to the first change request carrying that name.
//! 2. **Steady state**: between the two storm phases, a daemon with `docker.resync_interval = "1s"` takes
//!    over the published zone; then `R53R_BENCH_STEADY_SECS` (15) seconds with 200 containers running and
//!    nothing changing: Route53 calls, expected 0.
//! 3. **Memory**: the daemon's VmRSS with every container published (the steady-state daemon, after its 15
//!    listings, and the start-up daemon), and the binary's size.
//! 4. **Start-up**: the containers already running, a new daemon (new zone): time from spawn to its first
//!    change request, and to every name published.
//! 5. **Many daemons**: `R53R_BENCH_DAEMONS` (10) daemons with different host IPs, one service container,
//!    the emulator throttled to 5 requests/s: the time until every record is right, against the time the
//!    throttle forces; `R53R_BENCH_MANY_RUNS` (3) times, judged on the worst. `R53R_BENCH_DAEMONS=0` skips
//!    it, `R53R_BENCH_CONTAINERS=0` skips scenarios 1 to 4.
//!
//! Each daemon runs with the default timings (debounce 200 ms, max_delay 1 s, 5 requests/s), written out
//! in its config, and the bench's own family suffix (see `fleet.rs`: it keeps the bench and the test suite
//! from seeing each other's containers). The storm's and start-up's daemons list Docker every 60 s (the
//! default; `R53R_BENCH_STORM_RESYNC=1s` to see what a listing in flight during a storm costs: the daemon
//! holds events back while it lists), the steady state's every second. The request log and the events are also written as TSV files under Cargo's target tmp dir,
//! so the counts can be checked by hand.
//!
//! The containers run in the `host` network mode; `R53R_BENCH_NETWORK=own` puts them on a user-defined
//! bridge network of the run's own instead (see `fleet.rs`: slower starts, so a sparser storm, and a
//! Docker 20.10 bug that can leave the network behind).
//!
//! Not a test: `cargo test` and the suite never run it (`test = false` in Cargo.toml).
#![forbid(unsafe_code)]

#[path = "../../tests/support/mod.rs"]
mod support;

mod daemon;
mod fleet;
mod many;
mod old_tool;
mod report;
mod stats;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use route53_emulator::{spawn_server, Emulator, LoggedRequest, Operation, ServerHandle};
use route53_registrator::route53::{ChangeAction, HostedZone};

use daemon::{Daemon, Memory};
use fleet::{EventStream, Fleet, FleetNetwork, Member, SeenEvent};
use report::{mib, ms, print_table, secs, Verdict};
use stats::{ChangeCall, Direction, Summary, Trigger};
use support::docker::require_test_image;
use support::{unique, unique_zone, wait_until};

/// The daemon's timings, as the configuration's defaults (written into every config).
const DEBOUNCE: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(1);
const MAX_REQUESTS_PER_SECOND: u32 = 5;
/// Target: event-to-request latency p99 at most `max_delay` + 0.3 s.
const LATENCY_SLACK: Duration = Duration::from_millis(300);
/// Target: first batch within 2 s of process start.
const STARTUP_TARGET: Duration = Duration::from_secs(2);
/// Target: resident memory at most 20 MiB.
const RSS_TARGET_KIB: u64 = 20 * 1024;
/// Target: stripped binary at most 25 MB.
const BINARY_TARGET_BYTES: u64 = 25_000_000;

/// After a phase's last record is right, the longest the daemon may still hold a change (debounce, then
/// max_delay), and a margin: calls in this window still count for the phase.
const SETTLE: Duration = Duration::from_millis(1500);
/// Generous: 200 `docker start`s on two shared cores.
const PHASE_DEADLINE: Duration = Duration::from_secs(300);

/// The default `docker.resync_interval`, for the storm (the steady state uses `STEADY_RESYNC`).
const DEFAULT_RESYNC: &str = "60s";
/// The steady state's `docker.resync_interval`: Docker listed every second must cost no Route53 call.
const STEADY_RESYNC: &str = "1s";

/// The host IPs the daemon and the model publish.
const OUR_IP: &str = "10.99.0.1";
const THEIR_IP: &str = "10.99.0.2";

/// The knobs, from the environment.
struct BenchSettings {
    containers: usize,
    names: usize,
    parallel: usize,
    steady: Duration,
    daemons: usize,
    many_runs: usize,
    /// `docker.resync_interval` of the daemons of the storm and start-up scenarios.
    storm_resync: String,
    binary: PathBuf,
}

impl BenchSettings {
    fn from_env() -> BenchSettings {
        let number = |key: &str, default: usize| {
            std::env::var(key)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|_| panic!("{key}={v}: expected a number"))
                })
                .unwrap_or(default)
        };
        let containers = number("R53R_BENCH_CONTAINERS", 200);
        let names = number("R53R_BENCH_NAMES", containers).clamp(1, containers.max(1));
        BenchSettings {
            containers,
            names,
            parallel: number("R53R_BENCH_PARALLEL", 16),
            steady: Duration::from_secs(number("R53R_BENCH_STEADY_SECS", 15) as u64),
            daemons: number("R53R_BENCH_DAEMONS", 10),
            many_runs: number("R53R_BENCH_MANY_RUNS", 3).max(1),
            storm_resync: std::env::var("R53R_BENCH_STORM_RESYNC")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| DEFAULT_RESYNC.to_string()),
            binary: daemon::binary(),
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing else to parse.
    let settings = BenchSettings::from_env();
    require_test_image();
    let leftovers = fleet::remove_leftovers();
    if leftovers > 0 {
        println!("removed {leftovers} containers left by an interrupted earlier run");
    }
    let binary_size = std::fs::metadata(&settings.binary)
        .unwrap_or_else(|error| panic!("{}: {error}", settings.binary.display()))
        .len();
    println!(
        "daemon binary: {} ({:.1} MB)\nmachine: {} CPUs (shared with other work; numbers vary between runs)\n",
        settings.binary.display(),
        binary_size as f64 / 1e6,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    let mut verdicts = Vec::new();
    if settings.containers > 0 {
        storm_steady_startup(&settings, &mut verdicts);
    }
    if settings.daemons > 0 {
        many::many_daemons(&settings, &mut verdicts);
    }
    let release = settings
        .binary
        .components()
        .any(|c| c.as_os_str() == "release");
    verdicts.push(Verdict {
        number: format!(
            "binary size ({})",
            if release {
                "release profile, strip = true"
            } else {
                "NOT a release build"
            }
        ),
        measured: format!(
            "{:.2} MB ({:.2} MiB)",
            binary_size as f64 / 1e6,
            binary_size as f64 / 1048576.0
        ),
        target: "≤ 25 MB".into(),
        met: binary_size <= BINARY_TARGET_BYTES,
    });

    println!("\n## Summary against the targets\n");
    let rows: Vec<Vec<String>> = verdicts
        .iter()
        .map(|v| {
            vec![
                v.number.clone(),
                v.measured.clone(),
                v.target.clone(),
                if v.met { "met" } else { "MISSED" }.to_string(),
            ]
        })
        .collect();
    print_table(&["number", "measured", "target", "verdict"], &rows);
}

/// The emulator, the two zones, the network, the containers and the event stream of scenarios 1–4.
struct World {
    emulator: Emulator,
    server: ServerHandle,
    ours: HostedZone,
    theirs: HostedZone,
    services: Vec<String>,
    /// container name → service
    service_of: HashMap<String, String>,
    stream: EventStream,
    // Dropped in this order: the containers, then their network.
    fleet: Fleet,
    _network: FleetNetwork,
}

impl World {
    fn new(settings: &BenchSettings) -> World {
        let emulator = Emulator::new();
        let server = spawn_server(emulator.clone(), 0).expect("emulator server");
        let ours = emulator.create_zone(&unique_zone(), true);
        let theirs = emulator.create_zone(&unique_zone(), true);
        let network = FleetNetwork::pick(&unique("r53rbench-net"));
        let run = unique("run");
        let mut fleet = Fleet::new(&run);
        let stream = EventStream::open(&run);
        let members: Vec<Member> = (0..settings.containers)
            .map(|i| Member {
                container: format!("{run}-c{i:03}"),
                service: format!("svc-{:03}", i % settings.names),
            })
            .collect();
        let began = Instant::now();
        fleet.create(&network, members, 8);
        wait_until(
            PHASE_DEADLINE,
            "the event stream shows every container's create",
            || {
                stream
                    .events()
                    .iter()
                    .filter(|e| e.action == "create")
                    .count()
                    >= settings.containers
            },
        );
        println!(
            "created {} containers ({} names) on network {} in {}",
            settings.containers,
            settings.names,
            network.name(),
            secs(began.elapsed())
        );
        let service_of: HashMap<String, String> = fleet
            .members()
            .iter()
            .map(|m| (m.container.clone(), m.service.clone()))
            .collect();
        let mut services: Vec<String> = service_of.values().cloned().collect();
        services.sort();
        services.dedup();
        World {
            emulator,
            server,
            ours,
            theirs,
            services,
            service_of,
            stream,
            fleet,
            _network: network,
        }
    }

    /// Starts a daemon on this world's emulator and waits until it has read its zone (it does once it knows
    /// its IP and the running containers): from then on it follows Docker's events.
    fn daemon(&self, settings: &BenchSettings, config: &str, label: &str) -> Daemon {
        let mut daemon = Daemon::spawn(&settings.binary, &self.server.endpoint(), config, label);
        let since = daemon.spawned_at();
        wait_until(Duration::from_secs(30), "the daemon reads its zone", || {
            self.emulator.requests().iter().any(|r| {
                r.at >= since
                    && r.operation == Operation::ListResourceRecordSets
                    && r.zone_id.as_deref() == Some(self.ours.id.as_str())
            })
        });
        daemon.assert_running();
        daemon
    }

    /// How many of the services have a record set in `zone` holding `ip`.
    fn published(&self, zone: &HostedZone, ip: &str) -> usize {
        let names: HashSet<String> = self
            .emulator
            .record_sets(&zone.id)
            .into_iter()
            .filter(|rs| rs.rtype == "A" && rs.values.iter().any(|v| v == ip))
            .map(|rs| rs.name)
            .collect();
        self.services
            .iter()
            .filter(|s| names.contains(&format!("{s}.{}", zone.name)))
            .count()
    }

    /// The number of running containers of each service (all of them, after the start phase).
    fn containers_per_service(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for service in self.service_of.values() {
            *counts.entry(service.clone()).or_insert(0) += 1;
        }
        counts
    }
}

/// A daemon config for `zone` publishing `ip`, with the default timings written out and Docker listed again
/// every `resync` (such as `"60s"`).
fn daemon_config(zone_id: &str, ip: &str, resync: &str) -> String {
    format!(
        "[route53]\nzone_id = \"{zone_id}\"\ndebounce = \"{}ms\"\nmax_delay = \"{}ms\"\n\
         max_requests_per_second = {MAX_REQUESTS_PER_SECOND}\n\
         [docker]\nresync_interval = \"{resync}\"\n\
         [selection]\nfamily_suffixes = [\"{}\"]\n\
         [host]\nip = \"{ip}\"\n[http]\nlisten = \"\"\n",
        DEBOUNCE.as_millis(),
        MAX_DELAY.as_millis(),
        fleet::FAMILY_SUFFIX,
    )
}

/// Route53 calls of one zone in a window, by operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Calls {
    change: usize,
    list: usize,
    other: usize,
    /// Answered with anything but 200.
    failed: usize,
}

impl Calls {
    fn total(&self) -> usize {
        self.change + self.list + self.other
    }
}

/// The requests naming `zone` that arrived in `[from, to)`.
fn in_window<'a>(
    log: &'a [LoggedRequest],
    zone: &HostedZone,
    from: Instant,
    to: Instant,
) -> Vec<&'a LoggedRequest> {
    log.iter()
        .filter(|r| r.zone_id.as_deref() == Some(zone.id.as_str()) && r.at >= from && r.at < to)
        .collect()
}

fn count(requests: &[&LoggedRequest]) -> Calls {
    let mut calls = Calls::default();
    for r in requests {
        match r.operation {
            Operation::ChangeResourceRecordSets => calls.change += 1,
            Operation::ListResourceRecordSets => calls.list += 1,
            _ => calls.other += 1,
        }
        if r.status != 200 {
            calls.failed += 1;
        }
    }
    calls
}

/// The change requests among `requests`, with the first label of each A record name they change.
fn change_calls(requests: &[&LoggedRequest]) -> Vec<ChangeCall> {
    requests
        .iter()
        .filter(|r| r.operation == Operation::ChangeResourceRecordSets)
        .map(|r| ChangeCall {
            at: r.at,
            changes: r
                .changes
                .iter()
                .filter(|c| c.record_set.rtype == "A")
                .map(|c| {
                    let label = c.record_set.name.split('.').next().unwrap_or_default();
                    let direction = match c.action {
                        ChangeAction::Delete => Direction::Withdraw,
                        ChangeAction::Create | ChangeAction::Upsert => Direction::Publish,
                    };
                    (label.to_string(), direction)
                })
                .collect(),
        })
        .collect()
}

/// What one storm phase (all started, or all stopped) measured.
struct Phase {
    name: &'static str,
    docker_took: Duration,
    events_window: Duration,
    allowed: usize,
    ours: Calls,
    theirs: Calls,
    our_batches: Vec<usize>,
    our_latency: Option<Summary>,
    our_unanswered: Vec<Trigger>,
    their_latency: Option<Summary>,
    their_unanswered: Vec<Trigger>,
    /// The longest an event took from the engine's timestamp to the bench's read.
    delivery_max: Duration,
    /// From the phase's first `docker` command until both zones were right.
    both_done: Duration,
}

/// Starts (or stops) every container, waits until both zones are right, and measures.
fn storm_phase(world: &World, settings: &BenchSettings, direction: Direction) -> Phase {
    let began = Instant::now();
    match direction {
        Direction::Publish => world.fleet.start_all(settings.parallel),
        Direction::Withdraw => world.fleet.stop_all(settings.parallel),
    }
    let docker_took = began.elapsed();
    let want = match direction {
        Direction::Publish => world.services.len(),
        Direction::Withdraw => 0,
    };
    wait_until(PHASE_DEADLINE, "both zones are right", || {
        world.published(&world.ours, OUR_IP) == want
            && world.published(&world.theirs, THEIR_IP) == want
    });
    let both_done = began.elapsed();
    // Calls the daemon still makes within the longest it may hold a change count for this phase.
    std::thread::sleep(SETTLE);
    let ended = Instant::now();

    let events: Vec<SeenEvent> = world
        .stream
        .events()
        .into_iter()
        .filter(|e| e.read_at >= began && e.read_at < ended)
        .collect();
    let delivery_max = events.iter().map(|e| e.delivery).max().unwrap_or_default();
    // The event of each container that matters: its start, or its first sign of stopping (the stop
    // signal, SIGKILL or `die`: the daemon withdraws from the first of them).
    let mut seen = HashSet::new();
    let relevant: Vec<(Instant, String)> = events
        .iter()
        .filter(|e| match direction {
            Direction::Publish => e.action == "start",
            Direction::Withdraw => {
                e.action == "die" || (e.action == "kill" && matches!(e.signal, Some(15) | Some(9)))
            }
        })
        .filter(|e| seen.insert(e.container.clone()))
        .filter_map(|e| Some((e.at, world.service_of.get(&e.container)?.clone())))
        .collect();
    assert_eq!(
        relevant.len(),
        settings.containers,
        "{}: expected one event per container on the stream",
        direction_name(direction)
    );
    let triggers = match direction {
        Direction::Publish => stats::publish_triggers(&relevant),
        Direction::Withdraw => stats::withdraw_triggers(&relevant, &world.containers_per_service()),
    };
    let times = relevant.iter().map(|(at, _)| *at);
    let events_window = match (times.clone().min(), times.max()) {
        (Some(first), Some(last)) => last - first,
        _ => Duration::ZERO,
    };

    let log = world.emulator.requests();
    let ours = in_window(&log, &world.ours, began, ended);
    let theirs = in_window(&log, &world.theirs, began, ended);
    let our_calls = change_calls(&ours);
    let their_calls = change_calls(&theirs);
    let (our_latencies, our_unanswered) = stats::latencies(&triggers, &our_calls);
    let (their_latencies, their_unanswered) = stats::latencies(&triggers, &their_calls);
    Phase {
        name: direction_name(direction),
        docker_took,
        events_window,
        allowed: stats::allowed_changes(events_window, MAX_DELAY),
        ours: count(&ours),
        theirs: count(&theirs),
        our_batches: our_calls.iter().map(|c| c.changes.len()).collect(),
        our_latency: stats::summarize(&our_latencies),
        our_unanswered,
        their_latency: stats::summarize(&their_latencies),
        their_unanswered,
        delivery_max,
        both_done,
    }
}

fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Publish => "start",
        Direction::Withdraw => "stop",
    }
}

/// Scenarios 1 to 4 on one set of containers.
fn storm_steady_startup(settings: &BenchSettings, verdicts: &mut Vec<Verdict>) {
    let world = World::new(settings);
    let storm_config = daemon_config(&world.ours.id, OUR_IP, &settings.storm_resync);
    let mut ours = world.daemon(settings, &storm_config, "storm daemon");
    let (sender, model) = old_tool::spawn(
        old_tool::ModelTarget {
            endpoint: world.server.endpoint(),
            zone_id: world.theirs.id.clone(),
            zone_name: world.theirs.name.clone(),
            ip: THEIR_IP.into(),
        },
        world.service_of.clone(),
    );
    world.stream.forward_to(Some(sender));

    // 1. Storm: start.
    let start = storm_phase(&world, settings, Direction::Publish);
    ours.terminate();
    // 2. and 3. Steady state and memory, every container running and published.
    let steady = steady_state(&world, settings);
    // 1. Storm: stop, watched by a daemon with the storm's config again.
    let mut ours = world.daemon(settings, &storm_config, "storm daemon (stop)");
    let stop = storm_phase(&world, settings, Direction::Withdraw);
    ours.terminate();
    world.stream.forward_to(None);
    let model_report = model.join().expect("the model's thread");

    print_storm(settings, &world, &start, &stop, model_report);
    print_steady(settings, &steady);
    verdicts.extend(storm_verdicts(&start, &stop, &steady, settings));

    // 4. Start-up: the containers running before the daemon starts.
    let startup = startup(&world, settings);
    print_startup(settings, &world, &startup);
    verdicts.push(Verdict {
        number: "start-up: spawn → first change request".into(),
        measured: startup.first_change.map_or("none".into(), ms),
        target: format!("≤ {}", ms(STARTUP_TARGET)),
        met: startup.first_change.is_some_and(|t| t <= STARTUP_TARGET),
    });

    println!(
        "\n## Memory ({} containers running, {} names published)\n",
        settings.containers,
        world.services.len()
    );
    let memory_rows = [
        ("steady-state daemon, after the steady state", steady.memory),
        ("start-up daemon, after publishing", startup.memory),
    ];
    print_table(
        &["daemon", "VmRSS", "VmHWM (peak)"],
        &memory_rows
            .iter()
            .map(|(label, m)| vec![label.to_string(), mib(m.rss_kib), mib(m.peak_kib)])
            .collect::<Vec<_>>(),
    );
    let worst: Memory = memory_rows
        .iter()
        .map(|(_, m)| *m)
        .max_by_key(|m| m.rss_kib)
        .expect("two rows");
    verdicts.push(Verdict {
        number: format!(
            "resident memory, {} containers (VmRSS; peak {})",
            settings.containers,
            mib(worst.peak_kib)
        ),
        measured: mib(worst.rss_kib),
        target: "≤ 20 MiB".into(),
        met: worst.rss_kib <= RSS_TARGET_KIB,
    });

    let dir = dump(&world, &world.emulator.requests());
    println!("\nrequest log and events written to {}", dir.display());
}

/// What the steady state measured.
struct Steady {
    /// The calls of its daemon from its spawn to the window's start (it takes over the published zone).
    takeover: Calls,
    ours: Calls,
    theirs: Calls,
    /// The daemon's memory at the window's end.
    memory: Memory,
}

/// Scenarios 2 and 3: a daemon that lists Docker every second takes over the published records (same
/// owner), then nothing changes for `settings.steady`: it must make no call at all.
fn steady_state(world: &World, settings: &BenchSettings) -> Steady {
    let mut daemon = world.daemon(
        settings,
        &daemon_config(&world.ours.id, OUR_IP, STEADY_RESYNC),
        "steady-state daemon",
    );
    let spawned = daemon.spawned_at();
    std::thread::sleep(SETTLE);
    let began = Instant::now();
    // A window in which nothing may happen: the only way to observe an absence is to let time pass.
    std::thread::sleep(settings.steady);
    let ended = Instant::now();
    let memory = daemon.memory();
    let log = world.emulator.requests();
    Steady {
        takeover: count(&in_window(&log, &world.ours, spawned, began)),
        ours: count(&in_window(&log, &world.ours, began, ended)),
        theirs: count(&in_window(&log, &world.theirs, began, ended)),
        memory,
    }
}

fn print_steady(settings: &BenchSettings, steady: &Steady) {
    println!(
        "\n## Steady state: {} with {} containers running, resync_interval {STEADY_RESYNC}\n",
        secs(settings.steady),
        settings.containers
    );
    println!(
        "(its daemon, started on the published zone, took over with {} changes, {} lists, {} other calls)\n",
        steady.takeover.change, steady.takeover.list, steady.takeover.other
    );
    let row = |who: &str, calls: Calls| {
        vec![
            who.to_string(),
            calls.total().to_string(),
            calls.change.to_string(),
            calls.list.to_string(),
        ]
    };
    print_table(
        &["", "Route53 calls", "of which changes", "lists"],
        &[
            row("ours", steady.ours),
            row("old tool (model)", steady.theirs),
        ],
    );
}

/// The summary lines of scenarios 1 and 2.
fn storm_verdicts(
    start: &Phase,
    stop: &Phase,
    steady: &Steady,
    settings: &BenchSettings,
) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for phase in [start, stop] {
        verdicts.push(Verdict {
            number: format!("storm {}: our change requests", phase.name),
            measured: phase.ours.change.to_string(),
            target: format!(
                "≤ {} (1 per max_delay over {} of events, + 1)",
                phase.allowed,
                secs(phase.events_window)
            ),
            met: phase.ours.change <= phase.allowed,
        });
    }
    let lists = start.ours.list + stop.ours.list;
    verdicts.push(Verdict {
        number: "storm: our list calls".into(),
        measured: lists.to_string(),
        target: "0".into(),
        met: lists == 0,
    });
    let ours_total = start.ours.total() + stop.ours.total();
    let theirs_total = start.theirs.total() + stop.theirs.total();
    let ratio = theirs_total as f64 / ours_total.max(1) as f64;
    verdicts.push(Verdict {
        number: "storm: calls, old tool (model) / ours".into(),
        measured: format!("{theirs_total} / {ours_total} = {ratio:.1}"),
        target: "≥ 20".into(),
        met: ratio >= 20.0,
    });
    for phase in [start, stop] {
        let p99 = phase.our_latency.map(|s| s.p99);
        verdicts.push(Verdict {
            number: format!("storm {}: event → request p99", phase.name),
            measured: match p99 {
                Some(p99) if phase.our_unanswered.is_empty() => ms(p99),
                Some(p99) => format!("{} ({} unanswered)", ms(p99), phase.our_unanswered.len()),
                None => "no sample".into(),
            },
            target: format!("≤ {}", ms(MAX_DELAY + LATENCY_SLACK)),
            met: phase.our_unanswered.is_empty()
                && p99.is_some_and(|p99| p99 <= MAX_DELAY + LATENCY_SLACK),
        });
    }
    verdicts.push(Verdict {
        number: format!("steady state: Route53 calls in {}", secs(settings.steady)),
        measured: steady.ours.total().to_string(),
        target: "0".into(),
        met: steady.ours.total() == 0,
    });
    verdicts
}

/// What the start-up scenario measured; times from the process's spawn.
struct Startup {
    restart_took: Duration,
    first_request: Option<Duration>,
    first_change: Option<Duration>,
    /// The last accepted change request: the one that completed the zone.
    last_change: Option<Duration>,
    calls: Calls,
    batches: Vec<usize>,
    memory: Memory,
}

/// Scenario 4: every container started again (no daemon running), then a daemon on a new zone.
fn startup(world: &World, settings: &BenchSettings) -> Startup {
    let restarted = Instant::now();
    world.fleet.start_all(settings.parallel);
    let restart_took = restarted.elapsed();
    let zone = world.emulator.create_zone(&unique_zone(), true);
    let mut daemon = Daemon::spawn(
        &settings.binary,
        &world.server.endpoint(),
        &daemon_config(&zone.id, OUR_IP, &settings.storm_resync),
        "start-up daemon",
    );
    let spawned = daemon.spawned_at();
    wait_until(
        PHASE_DEADLINE,
        "the new daemon publishes everything",
        || world.published(&zone, OUR_IP) == world.services.len(),
    );
    std::thread::sleep(SETTLE);
    let memory = daemon.memory();
    let log = world.emulator.requests();
    let requests = in_window(&log, &zone, spawned, Instant::now());
    let changes: Vec<&&LoggedRequest> = requests
        .iter()
        .filter(|r| r.operation == Operation::ChangeResourceRecordSets)
        .collect();
    Startup {
        restart_took,
        first_request: requests.first().map(|r| r.at - spawned),
        first_change: changes.first().map(|r| r.at - spawned),
        last_change: changes
            .iter()
            .rfind(|r| r.status == 200)
            .map(|r| r.at - spawned),
        calls: count(&requests),
        batches: changes.iter().map(|r| r.changes.len()).collect(),
        memory,
    }
}

fn print_startup(settings: &BenchSettings, world: &World, startup: &Startup) {
    println!(
        "\n## Start-up: {} containers running (started again in {}, no daemon running), then the daemon \
         starts on a new zone\n",
        settings.containers,
        secs(startup.restart_took)
    );
    print_table(
        &["from process spawn to", "time"],
        &[
            vec![
                "its first Route53 request (GetHostedZone)".into(),
                startup.first_request.map_or("-".into(), ms),
            ],
            vec![
                "its first ChangeResourceRecordSets".into(),
                startup.first_change.map_or("-".into(), ms),
            ],
            vec![
                format!(
                    "the change request completing all {} names",
                    world.services.len()
                ),
                startup.last_change.map_or("-".into(), ms),
            ],
        ],
    );
    println!(
        "\nstart-up requests: {} changes ({:?} changes each), {} lists, {} other, {} failed",
        startup.calls.change,
        startup.batches,
        startup.calls.list,
        startup.calls.other,
        startup.calls.failed
    );
}

/// Prints scenario 1's tables.
fn print_storm(
    settings: &BenchSettings,
    world: &World,
    start: &Phase,
    stop: &Phase,
    model: old_tool::ModelReport,
) {
    println!(
        "\n## Storm: {} containers, {} names, {} parallel docker start / stop -t 1, resync_interval {}\n",
        settings.containers, settings.names, settings.parallel, settings.storm_resync
    );
    let mut rows = Vec::new();
    for phase in [start, stop] {
        for (who, calls) in [("ours", phase.ours), ("old tool (model)", phase.theirs)] {
            rows.push(vec![
                phase.name.to_string(),
                who.to_string(),
                calls.change.to_string(),
                calls.list.to_string(),
                calls.other.to_string(),
                calls.failed.to_string(),
                calls.total().to_string(),
            ]);
        }
    }
    print_table(
        &[
            "phase",
            "who",
            "ChangeRRSets",
            "ListRRSets",
            "other",
            "failed",
            "total",
        ],
        &rows,
    );

    println!();
    let rows: Vec<Vec<String>> = [start, stop]
        .iter()
        .map(|p| {
            vec![
                p.name.to_string(),
                secs(p.docker_took),
                secs(p.events_window),
                secs(p.both_done),
                format!("{} (≤ {})", p.ours.change, p.allowed),
                format!("{:?}", p.our_batches),
                ms(p.delivery_max),
            ]
        })
        .collect();
    print_table(
        &[
            "phase",
            "docker commands took",
            "events window",
            "both zones right after",
            "our change requests",
            "changes per request",
            "event delivery (max)",
        ],
        &rows,
    );

    println!(
        "\nEvent → first change request carrying the name (target p99 ≤ {}):\n",
        ms(MAX_DELAY + LATENCY_SLACK)
    );
    let mut rows = Vec::new();
    for phase in [start, stop] {
        for (who, summary, unanswered) in [
            ("ours", phase.our_latency, &phase.our_unanswered),
            (
                "old tool (model)",
                phase.their_latency,
                &phase.their_unanswered,
            ),
        ] {
            let cells = match summary {
                Some(s) => vec![s.count.to_string(), ms(s.p50), ms(s.p99), ms(s.max)],
                None => vec!["0".into(), "-".into(), "-".into(), "-".into()],
            };
            let mut row = vec![phase.name.to_string(), who.to_string()];
            row.extend(cells);
            row.push(unanswered.len().to_string());
            rows.push(row);
        }
    }
    print_table(
        &["phase", "who", "events", "p50", "p99", "max", "unanswered"],
        &rows,
    );
    if !stop.their_unanswered.is_empty() {
        println!(
            "\n(The model's unanswered withdrawals: it deletes a name at the first `die` of any of its \
             containers, before the last one stops — the old tool's bug with two containers of one service.)"
        );
    }
    for phase in [start, stop] {
        for trigger in phase.our_unanswered.iter().take(5) {
            println!(
                "  unanswered ({}): {} {:?}",
                phase.name, trigger.service, trigger.direction
            );
        }
    }
    let their_total = start.theirs.total() + stop.theirs.total();
    // The ratio depends on how long the storm lasts: the model's calls are fixed by the number of events,
    // ours by the number of max_delay periods the events span. Print what the pacing ceiling allows.
    let ceiling = start.allowed + stop.allowed;
    println!(
        "\nAt the pacing ceiling ({} + {} change requests) the ratio would be {their_total} / {ceiling} = {:.1}.",
        start.allowed,
        stop.allowed,
        their_total as f64 / ceiling.max(1) as f64
    );
    println!(
        "\nThe model handled {} events with {} failed calls; {} records left in its zone, {} in ours.",
        model.events,
        model.failed_calls,
        world.published(&world.theirs, THEIR_IP),
        world.published(&world.ours, OUR_IP),
    );
}

/// Writes the storm's request log and events as TSV (milliseconds since the first request) for checking
/// the counts by hand. Returns the directory.
fn dump(world: &World, log: &[LoggedRequest]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("storm-bench");
    std::fs::create_dir_all(&dir).expect("create the dump dir");
    let Some(origin) = log.first().map(|r| r.at) else {
        return dir;
    };
    let since = |at: Instant| at.saturating_duration_since(origin).as_secs_f64() * 1000.0;
    let zone_label = |id: Option<&str>| match id {
        Some(id) if id == world.ours.id => "ours",
        Some(id) if id == world.theirs.id => "theirs",
        Some(_) => "startup",
        None => "-",
    };
    let mut requests = String::from("ms\tzone\toperation\tstatus\tchanges\n");
    for r in log {
        let changes: Vec<String> = r
            .changes
            .iter()
            .map(|c| format!("{:?}:{}", c.action, c.record_set.name))
            .collect();
        let _ = writeln!(
            requests,
            "{:.1}\t{}\t{:?}\t{}\t{}",
            since(r.at),
            zone_label(r.zone_id.as_deref()),
            r.operation,
            r.status,
            changes.join(",")
        );
    }
    let mut events = String::from("ms_read\tms_engine\taction\tcontainer\tsignal\tdelivery_ms\n");
    for e in world.stream.events() {
        let _ = writeln!(
            events,
            "{:.1}\t{:.1}\t{}\t{}\t{}\t{:.1}",
            since(e.read_at),
            since(e.at),
            e.action,
            e.container,
            e.signal.map_or(String::new(), |s| s.to_string()),
            e.delivery.as_secs_f64() * 1000.0
        );
    }
    std::fs::write(dir.join("requests.tsv"), requests).expect("write requests.tsv");
    std::fs::write(dir.join("events.tsv"), events).expect("write events.tsv");
    dir
}
