//! The chaos soak: several daemons on the real Docker engine against the emulator over HTTP, driven by a
//! seeded random schedule of container changes and faults, and after every storm a quiet period in which the
//! zone must come to equal what a model computed from the same schedule.
//!
//! ```text
//! scripts/test.sh --docker-only                                  # the engine and the test image, once
//! cargo bench --bench chaos                                      # 30 minutes, a random seed
//! R53R_CHAOS_SECONDS=150 cargo bench --bench chaos --profile dev # CI's short mode (scripts/test.sh)
//! R53R_CHAOS_SEED=1234 cargo bench --bench chaos                 # replay a seed
//! ```
//!
//! Each run goes through the three routings in turn (`multivalue`, `weighted`, `simple`), a third of
//! `R53R_CHAOS_SECONDS` each, with a fresh zone and [`DAEMONS`] daemons (distinct `host.ip`, default timings,
//! each selecting only its own family suffix, so that each sees only its own containers on the shared
//! engine; each reaches Docker through a socket proxy the schedule can cut). Before the first daemon starts,
//! record sets of "someone else" are planted in the zone. Then rounds: [`STORM`] of operations drawn from the
//! seed ([`Op`]), then the quiet period: every fault lifted, every proxy restored, every stopped daemon
//! started again, and the zone polled until it equals the model ([`model`]) — every name, every IP, no extra
//! record set of ours, the planted ones unchanged — or [`quiet_deadline`] passes, which fails the run and
//! prints its seed.
//!
//! A seed replays the same schedule (the same operations in the same order, with the same pauses); the
//! daemons' timing is the machine's, so a replay reproduces the conditions, not every interleaving.
//!
//! Not a test: `cargo test` never runs it (`test = false`); `scripts/test.sh` runs its short mode.
#![forbid(unsafe_code)]

#[path = "../../tests/support/mod.rs"]
mod support;

mod model;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use route53_emulator::{spawn_server, Emulator, Fault, ServerHandle};
use route53_registrator::route53::rate::{start_window, Quota, UNCOUNTED_STARTING_LIMIT};
use route53_registrator::route53::{Change, ChangeAction, RecordSet, Routing};

use model::{diff, want, Diff, ModelContainer};
use support::daemon::Daemon;
use support::docker::{docker, docker_output, require_test_image, Container, ContainerSpec};
use support::proxy::SocketProxy;
use support::{unique, unique_zone};

/// Daemons per routing.
const DAEMONS: usize = 3;
/// The service names the containers ask for (shared by the daemons, so names hold several IPs).
const SERVICES: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];
/// Name-override labels every daemon must refuse (a dot, Cyrillic letters, a wildcard, a space).
const BAD_LABELS: [&str; 4] = ["api.v2", "сервис-api", "*", "pay ment"];
/// Containers a daemon has at most (running or stopped).
const MAX_CONTAINERS: usize = 6;
/// How long the operations of one round go on.
const STORM: Duration = Duration::from_secs(20);
/// How long the zone may take to come right after the faults stop: the longest an automatic start spread
/// puts off a daemon that Route53 throttled as it started (during a storm's throttle, before it counted its
/// fleet: the window of [`UNCOUNTED_STARTING_LIMIT`] instances, 94 s), and a minute for the rest.
fn quiet_deadline() -> Duration {
    start_window(UNCOUNTED_STARTING_LIMIT, Quota::DOCUMENTED) + Duration::from_secs(60)
}
/// A daemon's last lines printed when a run fails.
const PRINTED_TAIL_LINES: usize = 12;
/// A daemon's last lines written to the failure's file (`target/tmp/chaos/failure-<seed>.log`).
const FILE_TAIL_LINES: usize = 400;
/// The soak's length by default: 30 minutes.
const DEFAULT_SECONDS: u64 = 1800;
/// The health check of containers that have one: passes while `/health` holds `up`.
const HEALTH_CMD: &str = "[ \"$(cat /health 2>/dev/null)\" = up ]";
/// A container's command: healthy from the start, until SIGTERM.
const COMMAND: &str = "echo up > /health; trap 'exit 0' TERM; sleep 86400 & wait";

/// One step of the schedule.
#[derive(Clone, Debug)]
enum Op {
    /// A new container for `daemon`.
    Run {
        daemon: usize,
        service: usize,
        bad_label: Option<usize>,
        health: bool,
    },
    /// `docker stop -t 1`.
    Stop(usize),
    /// `docker kill` (SIGKILL).
    Kill(usize),
    /// `docker start` of a stopped container.
    Start(usize),
    /// `docker restart -t 1`.
    Restart(usize),
    /// `docker rm -f`.
    Remove(usize),
    /// The health check starts failing, or passing again.
    FlipHealth(usize),
    /// Route53 throttles the account to this many requests per second until the quiet period.
    Throttle(u32),
    /// The next requests fail with this status.
    ServerErrors {
        count: usize,
        status: u16,
    },
    /// The next requests' connections are reset.
    Resets(usize),
    /// The next request stalls this long (past the client's 10 s timeout at most).
    Stall(Duration),
    /// A change within this window of the previous one gets `PriorRequestNotComplete`.
    PriorRequestWindow(Duration),
    /// The daemon's Docker socket is cut until the quiet period (or a `Restore`).
    CutDocker(usize),
    RestoreDocker(usize),
    /// The daemon is SIGKILLed.
    KillDaemon(usize),
    /// A change for the daemon, then at once SIGTERM: it must flush and exit 0.
    TermDaemonWithChangePending(usize),
    /// A stopped daemon is started again.
    StartDaemon(usize),
    /// Nothing, for this long (the schedule's pauses).
    Pause(Duration),
}

impl Op {
    fn kind(&self) -> &'static str {
        match self {
            Op::Run { .. } => "run",
            Op::Stop(_) => "stop",
            Op::Kill(_) => "kill",
            Op::Start(_) => "start",
            Op::Restart(_) => "restart",
            Op::Remove(_) => "remove",
            Op::FlipHealth(_) => "flip health",
            Op::Throttle(_) => "fault: throttle",
            Op::ServerErrors { .. } => "fault: 5xx",
            Op::Resets(_) => "fault: reset",
            Op::Stall(_) => "fault: stall",
            Op::PriorRequestWindow(_) => "fault: PriorRequestNotComplete",
            Op::CutDocker(_) => "fault: Docker socket cut",
            Op::RestoreDocker(_) => "Docker socket restored",
            Op::KillDaemon(_) => "fault: daemon SIGKILLed",
            Op::TermDaemonWithChangePending(_) => "fault: SIGTERM with a change pending",
            Op::StartDaemon(_) => "daemon started again",
            Op::Pause(_) => "pause",
        }
    }

    fn is_fault(&self) -> bool {
        self.kind().starts_with("fault")
    }
}

/// A container of the soak: its guard (removed on drop) and what the model knows of it.
struct SoakContainer {
    guard: Container,
    model: ModelContainer,
}

/// One daemon's process (none while it is down), its socket proxy and its IP.
struct SoakDaemon {
    process: Option<Daemon>,
    proxy: SocketProxy,
    cut: bool,
    ip: String,
    config: String,
    /// A SIGTERM was sent: the process must exit 0 before it is started again.
    terminating: bool,
}

/// The figures of one routing's soak, or of all.
#[derive(Default)]
struct Figures {
    ops: BTreeMap<&'static str, u64>,
    faults: u64,
    checks_passed: u64,
    checks_failed: u64,
    lost: u64,
    extra: u64,
    foreign_changed: u64,
    longest_wrong: Duration,
}

impl Figures {
    fn add(&mut self, other: &Figures) {
        for (kind, n) in &other.ops {
            *self.ops.entry(kind).or_default() += n;
        }
        self.faults += other.faults;
        self.checks_passed += other.checks_passed;
        self.checks_failed += other.checks_failed;
        self.lost += other.lost;
        self.extra += other.extra;
        self.foreign_changed += other.foreign_changed;
        self.longest_wrong = self.longest_wrong.max(other.longest_wrong);
    }

    fn print(&self, title: &str) {
        let operations: u64 = self.ops.values().sum();
        println!("\n{title}");
        println!("  operations                      {operations}");
        for (kind, n) in &self.ops {
            println!("    {kind:<40}{n}");
        }
        println!("  faults injected                 {}", self.faults);
        println!("  quiet-period checks passed      {}", self.checks_passed);
        println!("  quiet-period checks failed      {}", self.checks_failed);
        println!("  records lost                    {}", self.lost);
        println!("  extra records                   {}", self.extra);
        println!("  foreign records changed         {}", self.foreign_changed);
        println!(
            "  longest time wrong after faults {:.1} s",
            self.longest_wrong.as_secs_f64()
        );
    }
}

/// One routing's world: the emulator and its zone, the daemons, the containers, the schedule's RNG.
struct Soak {
    routing: Routing,
    emulator: Emulator,
    server: ServerHandle,
    zone_id: String,
    zone: String,
    run: String,
    foreign: Vec<RecordSet>,
    daemons: Vec<SoakDaemon>,
    containers: Vec<SoakContainer>,
    rng: StdRng,
    figures: Figures,
}

impl Soak {
    fn new(routing: Routing, rng: StdRng) -> Soak {
        let emulator = Emulator::new();
        let zone = unique_zone();
        let zone_id = emulator.create_zone(&zone, true).id;
        let server = spawn_server(emulator.clone(), 0).expect("emulator server");
        let run = unique("chaos");
        let mut soak = Soak {
            routing,
            emulator,
            server,
            zone_id,
            zone,
            run,
            foreign: Vec::new(),
            daemons: Vec::new(),
            containers: Vec::new(),
            rng,
            figures: Figures::default(),
        };
        soak.plant_foreign();
        for i in 0..DAEMONS {
            let proxy = SocketProxy::start();
            let ip = format!("10.77.0.{}", i + 1);
            let config = soak.config(i, &ip, &proxy.host());
            soak.daemons.push(SoakDaemon {
                process: None,
                proxy,
                cut: false,
                ip,
                config,
                terminating: false,
            });
            soak.start_daemon(i);
        }
        soak
    }

    /// Record sets of someone else: a plain A record and a TXT record at names of their own, and (in the
    /// routings that share a name between owners) an owner's record set under a service's name.
    fn plant_foreign(&mut self) {
        let fqdn = |name: &str| format!("{name}.{}.", self.zone);
        let mut foreign = vec![
            RecordSet::a(fqdn("foreign-a"), "192.0.2.10").ttl(300),
            RecordSet {
                rtype: "TXT".into(),
                ..RecordSet::a(fqdn("foreign-txt"), "\"owned by someone else\"").ttl(300)
            },
        ];
        let shared = RecordSet::a(fqdn(SERVICES[0]), "192.0.2.11");
        match self.routing {
            Routing::Multivalue => foreign.push(shared.multivalue("someone-else")),
            Routing::Weighted => foreign.push(shared.weighted("someone-else", 50)),
            Routing::Simple => {}
        }
        let changes: Vec<Change> = foreign
            .iter()
            .map(|record_set| Change {
                action: ChangeAction::Create,
                record_set: record_set.clone(),
            })
            .collect();
        self.emulator
            .apply_directly(&self.zone_id, &changes)
            .expect("plant the foreign record sets");
        self.foreign = foreign;
    }

    /// Daemon `i`'s config: this zone and routing, default timings, its own family suffix and IP.
    fn config(&self, i: usize, ip: &str, docker_host: &str) -> String {
        let routing = match self.routing {
            Routing::Multivalue => "multivalue",
            Routing::Weighted => "weighted",
            Routing::Simple => "simple",
        };
        format!(
            "[route53]\nzone_id = \"{}\"\nrouting = \"{routing}\"\n\
             [docker]\nhost = \"{docker_host}\"\n\
             [selection]\nfamily_suffixes = [\"-{}\"]\nname_override_label = \"{}.name\"\n\
             [host]\nip = \"{ip}\"\n[http]\nlisten = \"\"\n",
            self.zone_id,
            self.suffix(i),
            self.run
        )
    }

    fn suffix(&self, i: usize) -> String {
        format!("{}d{i}", self.run)
    }

    fn start_daemon(&mut self, i: usize) {
        let endpoint = self.server.endpoint();
        let daemon = &mut self.daemons[i];
        if let Some(mut old) = daemon.process.take() {
            let status = old.wait_exit(Duration::from_secs(60));
            assert!(
                !daemon.terminating || status.code() == Some(0),
                "daemon {i} exited {status} after SIGTERM: {}",
                old.output()
            );
        }
        daemon.terminating = false;
        daemon.process = Some(Daemon::builder(&endpoint).config(&daemon.config).spawn());
    }

    /// Whether daemon `i` runs and has not been told to stop.
    fn alive(&mut self, i: usize) -> bool {
        let daemon = &mut self.daemons[i];
        !daemon.terminating
            && daemon
                .process
                .as_mut()
                .is_some_and(|process| process.try_status().is_none())
    }

    /// The next operation, drawn from the seed and what exists now.
    fn draw(&mut self) -> Op {
        let alive: Vec<bool> = (0..DAEMONS).map(|i| self.alive(i)).collect();
        let rng = &mut self.rng;
        let daemon = rng.random_range(0..DAEMONS);
        let pick = |rng: &mut StdRng,
                    containers: &[SoakContainer],
                    f: &dyn Fn(&ModelContainer) -> bool| {
            let candidates: Vec<usize> = (0..containers.len())
                .filter(|&c| f(&containers[c].model))
                .collect();
            (!candidates.is_empty()).then(|| candidates[rng.random_range(0..candidates.len())])
        };
        let containers = &self.containers;
        let roll = rng.random_range(0..100);
        let op = match roll {
            0..=19 => {
                let owned = containers
                    .iter()
                    .filter(|c| c.model.daemon == daemon)
                    .count();
                (owned < MAX_CONTAINERS).then(|| Op::Run {
                    daemon,
                    service: rng.random_range(0..SERVICES.len()),
                    bad_label: rng
                        .random_bool(0.15)
                        .then(|| rng.random_range(0..BAD_LABELS.len())),
                    health: rng.random_bool(0.4),
                })
            }
            20..=29 => pick(rng, containers, &|c| c.running).map(Op::Stop),
            30..=36 => pick(rng, containers, &|c| c.running).map(Op::Kill),
            37..=46 => pick(rng, containers, &|c| !c.running).map(Op::Start),
            47..=52 => pick(rng, containers, &|c| c.running).map(Op::Restart),
            53..=57 => pick(rng, containers, &|_| true).map(Op::Remove),
            58..=65 => {
                pick(rng, containers, &|c| c.running && c.healthy.is_some()).map(Op::FlipHealth)
            }
            66..=68 => Some(Op::Throttle(rng.random_range(2..=5))),
            69..=72 => Some(Op::ServerErrors {
                count: rng.random_range(1..=4),
                status: if rng.random_bool(0.5) { 500 } else { 503 },
            }),
            73..=75 => Some(Op::Resets(rng.random_range(1..=3))),
            76..=77 => Some(Op::Stall(Duration::from_millis(
                rng.random_range(500..=12_000),
            ))),
            78..=79 => Some(Op::PriorRequestWindow(Duration::from_millis(
                rng.random_range(200..=2000),
            ))),
            80..=82 => Some(if self.daemons[daemon].cut {
                Op::RestoreDocker(daemon)
            } else {
                Op::CutDocker(daemon)
            }),
            83..=85 => Some(if alive[daemon] {
                Op::KillDaemon(daemon)
            } else {
                Op::StartDaemon(daemon)
            }),
            86..=88 => alive[daemon].then_some(Op::TermDaemonWithChangePending(daemon)),
            _ => Some(Op::Pause(Duration::from_millis(
                rng.random_range(100..=1500),
            ))),
        };
        op.unwrap_or_else(|| Op::Pause(Duration::from_millis(self.rng.random_range(50..=300))))
    }

    fn apply(&mut self, op: &Op) {
        *self.figures.ops.entry(op.kind()).or_default() += 1;
        if op.is_fault() {
            self.figures.faults += 1;
        }
        match *op {
            Op::Run {
                daemon,
                service,
                bad_label,
                health,
            } => self.run_container(daemon, service, bad_label, health),
            Op::Stop(c) => {
                self.containers[c].guard.stop(1);
                self.containers[c].model.running = false;
            }
            Op::Kill(c) => {
                self.containers[c].guard.kill("KILL");
                self.containers[c].model.running = false;
            }
            // Its command writes `up` to the health file at every start.
            Op::Start(c) => {
                self.containers[c].guard.start();
                let model = &mut self.containers[c].model;
                model.running = true;
                model.healthy = model.healthy.map(|_| true);
            }
            Op::Restart(c) => {
                docker(&["restart", "-t", "1", self.containers[c].guard.id()]);
                let model = &mut self.containers[c].model;
                model.healthy = model.healthy.map(|_| true);
            }
            Op::Remove(c) => {
                // Dropping the guard removes it (`docker rm -f`).
                self.containers.swap_remove(c);
            }
            Op::FlipHealth(c) => {
                let model = &mut self.containers[c].model;
                let up = !model.healthy.unwrap_or(true);
                let word = if up { "up" } else { "down" };
                docker(&[
                    "exec",
                    self.containers[c].guard.id(),
                    "sh",
                    "-c",
                    &format!("echo {word} > /health"),
                ]);
                self.containers[c].model.healthy = Some(up);
            }
            Op::Throttle(rate) => self.emulator.set_throttle(Some(f64::from(rate))),
            Op::ServerErrors { count, status } => {
                self.emulator.fail_next(count, Fault::Status(status))
            }
            Op::Resets(count) => self.emulator.fail_next(count, Fault::Reset),
            Op::Stall(duration) => self.emulator.fail_next(1, Fault::Stall(duration)),
            Op::PriorRequestWindow(window) => self.emulator.set_prior_request_window(window),
            Op::CutDocker(d) => {
                self.daemons[d].proxy.cut();
                self.daemons[d].cut = true;
            }
            Op::RestoreDocker(d) => {
                self.daemons[d].proxy.restore();
                self.daemons[d].cut = false;
            }
            Op::KillDaemon(d) => {
                if let Some(process) = &mut self.daemons[d].process {
                    process.signal("KILL");
                    // SIGKILL lands when the kernel next schedules the process (a daemon just spawned may
                    // still be in exec): until it is reaped it looks alive, and the next draw could SIGTERM
                    // it and expect a clean exit.
                    process.wait_exit(Duration::from_secs(30));
                }
            }
            Op::TermDaemonWithChangePending(d) => {
                let service = self.rng.random_range(0..SERVICES.len());
                self.run_container(d, service, None, false);
                if let Some(process) = &self.daemons[d].process {
                    process.signal("TERM");
                    self.daemons[d].terminating = true;
                }
            }
            Op::StartDaemon(d) => self.start_daemon(d),
            Op::Pause(duration) => std::thread::sleep(duration),
        }
    }

    fn run_container(
        &mut self,
        daemon: usize,
        service: usize,
        bad_label: Option<usize>,
        health: bool,
    ) {
        let family = format!("{}-{}", SERVICES[service], self.suffix(daemon));
        let mut spec = ContainerSpec::new(&unique("chaos"))
            .network_mode("host")
            .ecs(&family, SERVICES[service])
            .shell(COMMAND);
        if let Some(label) = bad_label {
            spec = spec.label(&format!("{}.name", self.run), BAD_LABELS[label]);
        }
        if health {
            spec = spec.health_cmd(HEALTH_CMD, "1s");
        }
        self.containers.push(SoakContainer {
            guard: spec.run(),
            model: ModelContainer {
                daemon,
                service: SERVICES[service].to_string(),
                bad_label: bad_label.is_some(),
                running: true,
                healthy: health.then_some(true),
            },
        });
    }

    /// Lifts every fault, restores every socket, starts every stopped daemon.
    fn calm(&mut self) {
        self.emulator.clear_faults();
        for i in 0..DAEMONS {
            if self.daemons[i].cut {
                self.daemons[i].proxy.restore();
                self.daemons[i].cut = false;
            }
            let down = match &mut self.daemons[i].process {
                None => true,
                Some(process) => process.try_status().is_some() || self.daemons[i].terminating,
            };
            if down {
                self.start_daemon(i);
            }
        }
    }

    /// The quiet period: polls until the zone equals the model; the time it took, or the last difference.
    fn check(&mut self) -> Result<Duration, Diff> {
        // Timed from the end of the faults: restarting the daemons that were down is part of the recovery.
        let started = Instant::now();
        self.calm();
        let models: Vec<ModelContainer> = self.containers.iter().map(|c| c.model.clone()).collect();
        let ips: Vec<String> = self.daemons.iter().map(|d| d.ip.clone()).collect();
        let wanted = want(&models, &ips, &self.zone);
        loop {
            let zone = self.emulator.record_sets(&self.zone_id);
            let found = diff(&zone, &wanted, &self.foreign, self.routing);
            if found.is_empty() {
                self.figures.checks_passed += 1;
                let took = started.elapsed();
                self.figures.longest_wrong = self.figures.longest_wrong.max(took);
                return Ok(took);
            }
            if started.elapsed() > quiet_deadline() {
                self.figures.checks_failed += 1;
                self.figures.lost += found.lost.len() as u64;
                self.figures.extra += found.extra.len() as u64;
                self.figures.foreign_changed += found.foreign_changed.len() as u64;
                return Err(found);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// What the model holds of each container beside what the engine says, and each daemon's last `lines`
    /// lines: for a failure.
    fn tails(&self, lines: usize) -> String {
        let mut out = String::from("\n--- containers (model | engine):\n");
        for c in &self.containers {
            let engine = c
                .guard
                .inspect("{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}")
                .unwrap_or_else(|| "gone".into());
            out.push_str(&format!(
                "{} {:?} | {engine}\n",
                &c.guard.id()[..12],
                c.model
            ));
        }
        for (i, daemon) in self.daemons.iter().enumerate() {
            if let Some(process) = &daemon.process {
                let output = process.output();
                let tail: Vec<&str> = output.lines().rev().take(lines).collect();
                out.push_str(&format!("\n--- daemon {i} ({}), last lines:\n", daemon.ip));
                for line in tail.into_iter().rev() {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number"))
    })
}

fn main() {
    require_test_image();
    // The engine must answer before anything starts.
    assert!(
        docker_output(&["info", "--format", "{{.ServerVersion}}"])
            .status
            .success(),
        "the Docker engine does not answer: run scripts/test.sh --docker-only"
    );
    let seed = env_u64("R53R_CHAOS_SEED").unwrap_or_else(rand::random);
    let seconds = env_u64("R53R_CHAOS_SECONDS").unwrap_or(DEFAULT_SECONDS);
    let per_routing = Duration::from_secs(seconds) / 3;
    println!("chaos soak: seed {seed}, {seconds} s, {DAEMONS} daemons per routing (replay: R53R_CHAOS_SEED={seed})");

    let mut master = StdRng::seed_from_u64(seed);
    let mut total = Figures::default();
    let mut failure: Option<String> = None;
    for routing in [Routing::Multivalue, Routing::Weighted, Routing::Simple] {
        let started = Instant::now();
        let mut soak = Soak::new(routing, StdRng::seed_from_u64(master.random()));
        let mut round = 0;
        // The start itself is the first check: every daemon up, nothing planted of ours yet.
        let mut outcome = soak.check().map(|_| ());
        while outcome.is_ok() && (round == 0 || started.elapsed() < per_routing) {
            round += 1;
            let storm_started = Instant::now();
            while storm_started.elapsed() < STORM {
                let op = soak.draw();
                soak.apply(&op);
            }
            outcome = soak.check().map(|took| {
                println!(
                    "{routing:?} round {round}: zone right {:.1} s after the faults stopped",
                    took.as_secs_f64()
                );
            });
        }
        if let Err(found) = &outcome {
            // Printed last, after the figures, with short tails: CI keeps the end of a long output. The
            // daemons' longer tails go to a file.
            let kept = write_tails(seed, &soak.tails(FILE_TAIL_LINES));
            failure = Some(format!(
                "\nFAILED: {routing:?}, round {round}: the zone did not come right within {} s (seed {seed}):\n{found:#?}{}{kept}",
                quiet_deadline().as_secs(),
                soak.tails(PRINTED_TAIL_LINES),
            ));
        }
        soak.figures.print(&format!("{routing:?} ({round} rounds)"));
        total.add(&soak.figures);
        if failure.is_some() {
            break;
        }
    }
    total.print(&format!("all routings (seed {seed})"));
    if let Some(failure) = failure {
        println!("{failure}");
        std::process::exit(1);
    }
}

/// Writes a failed run's tails under Cargo's target tmp dir; returns a line that says where, or why not.
fn write_tails(seed: u64, tails: &str) -> String {
    match support::write_tmp("chaos", &format!("failure-{seed}.log"), tails) {
        Ok(path) => format!(
            "\n(the daemons' last {FILE_TAIL_LINES} lines each: {})",
            path.display()
        ),
        Err((path, e)) => format!(
            "\n(the daemons' longer tails could not be written to {}: {e})",
            path.display()
        ),
    }
}
