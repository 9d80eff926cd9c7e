//! Many containers on the real engine, driven the way an ECS agent would (`docker start`/`docker stop`, many
//! at once), and the `docker events` stream the bench times them by.
//!
//! Every container carries the bench's labels: `route53-registrator-bench=1` and the run's own
//! `route53-registrator-bench.run=<run>`. [`Fleet`] removes every container with its run label when it
//! drops (also on panic, and also those whose `docker create` was under way), so nothing is left behind.
//!
//! **Network.** By default the containers run in the `host` network mode (ECS `host` tasks; the daemon
//! publishes them like `bridge` ones). `R53R_BENCH_NETWORK=own` runs them on a user-defined bridge network
//! of the run's own instead, as the tests do (the engine here has no usable default bridge), which is slower
//! to start (a veth per container: three to four times slower here, a sparser storm) and which Docker 20.10
//! can break: it loses count of the network's endpoints when hundreds of containers join and leave it at
//! once (moby/moby#42119: the network then refuses `docker network rm` with "has active endpoints"
//! although nothing is attached, until the engine restarts; seen here in most runs with 200 containers, 16
//! at a time, also without the daemon or the bench's own code). That is why it is not the default. When it
//! happens, [`BenchNetwork`] says so; its subnet comes from `10.213.0.0/16`, so that a network left behind
//! does not use up the engine's default address pools, which the test suite's networks need. The fleet
//! stops its running containers (16 at a time) before it removes them.
//!
//! **Isolation.** The engine is shared with the test suite, whose end-to-end daemons publish every
//! container whose family ends in `-service`. The bench's containers have the ECS labels, but their family
//! ends in [`FAMILY_SUFFIX`] instead, and the bench's daemons are configured with that suffix alone: the
//! suite's daemons never see the bench's containers and the bench's daemons never see the suite's. Selection
//! by suffix is the same code path whatever the suffix is.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::docker::{
    docker, docker_output, FAMILY_LABEL, NAME_LABEL, SLEEP_UNTIL_TERM, TEST_IMAGE,
};

/// Every bench container has this label (value `1`), so leftovers of an interrupted run can be found.
pub const BENCH_LABEL: &str = "route53-registrator-bench";
/// The label naming the run a container belongs to.
pub const RUN_LABEL: &str = "route53-registrator-bench.run";
/// The task family suffix of the bench's services (see the module doc: isolation from the test suite).
pub const FAMILY_SUFFIX: &str = "-benchsvc";

/// One container of the fleet and the service (record name) it belongs to.
#[derive(Clone, Debug)]
pub struct Member {
    pub container: String,
    pub service: String,
}

/// The run's containers; all of them are removed on drop.
pub struct Fleet {
    run: String,
    members: Vec<Member>,
}

impl Fleet {
    /// An empty fleet for `run` (nothing is created yet, but whatever is created later with the run's
    /// label is removed on drop).
    pub fn new(run: &str) -> Fleet {
        Fleet {
            run: run.to_string(),
            members: Vec::new(),
        }
    }

    /// `docker create`s `members` on `network` (`workers` at a time), each running a shell that exits at
    /// once on SIGTERM.
    pub fn create(&mut self, network: &FleetNetwork, members: Vec<Member>, workers: usize) {
        let run_label = format!("{RUN_LABEL}={}", self.run);
        let bench_label = format!("{BENCH_LABEL}=1");
        let names: Vec<String> = members.iter().map(|m| m.container.clone()).collect();
        let service: HashMap<&str, &str> = members
            .iter()
            .map(|m| (m.container.as_str(), m.service.as_str()))
            .collect();
        in_parallel(&names, workers, |name| {
            let svc = service[name];
            let family = format!("{FAMILY_LABEL}={svc}{FAMILY_SUFFIX}");
            let container_name = format!("{NAME_LABEL}={svc}");
            docker(&[
                "create",
                "--name",
                name,
                "--network",
                network.name(),
                "--label",
                &bench_label,
                "--label",
                &run_label,
                "--label",
                &family,
                "--label",
                &container_name,
                TEST_IMAGE,
                "sh",
                "-c",
                SLEEP_UNTIL_TERM,
            ]);
        });
        self.members.extend(members);
    }

    /// The containers, in creation order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// `docker start`s every container, `workers` at a time.
    pub fn start_all(&self, workers: usize) {
        let names: Vec<String> = self.members.iter().map(|m| m.container.clone()).collect();
        in_parallel(&names, workers, |name| {
            docker(&["start", name]);
        });
    }

    /// `docker stop -t 1`s every container, `workers` at a time.
    pub fn stop_all(&self, workers: usize) {
        let names: Vec<String> = self.members.iter().map(|m| m.container.clone()).collect();
        in_parallel(&names, workers, |name| {
            docker(&["stop", "-t", "1", name]);
        });
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        remove_containers(&format!("{RUN_LABEL}={}", self.run));
    }
}

/// Removes the containers and networks of earlier bench runs that were interrupted before they could clean
/// up. Returns how many containers there were.
pub fn remove_leftovers() -> usize {
    let label = format!("label={BENCH_LABEL}=1");
    let containers = remove_containers(&format!("{BENCH_LABEL}=1"));
    let listed = docker_output(&["network", "ls", "-q", "--filter", &label]);
    for network in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
        // A network the engine lost count of (see the module doc) stays; nothing to do about it here.
        let _ = docker_output(&["network", "rm", network]);
    }
    containers
}

/// Stops (16 at a time) and then removes (`docker rm -f`, 50 per command) every container with `label`
/// (`KEY=VALUE`). Returns how many there were. Never panics: it runs in `drop`.
fn remove_containers(label: &str) -> usize {
    let ids = |which: &str| {
        let listed = docker_output(&["ps", which, "-q", "--filter", &format!("label={label}")]);
        String::from_utf8_lossy(&listed.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<String>>()
    };
    let running = ids("--filter=status=running");
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..16 {
            scope.spawn(|| {
                while let Some(id) = running.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let _ = docker_output(&["stop", "-t", "1", id]);
                }
            });
        }
    });
    let ids = ids("--all");
    for chunk in ids.chunks(50) {
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(chunk.iter().map(String::as_str));
        let _ = docker_output(&args);
    }
    ids.len()
}

/// Where the fleet's containers run.
pub enum FleetNetwork {
    /// The `host` network mode (ECS `host` tasks).
    Host,
    /// A user-defined bridge network of the run's own (ECS `bridge` tasks).
    Own(BenchNetwork),
}

impl FleetNetwork {
    /// A new network named `name` when `R53R_BENCH_NETWORK=own`, else `host`.
    pub fn pick(name: &str) -> FleetNetwork {
        match std::env::var("R53R_BENCH_NETWORK").as_deref() {
            Ok("own") => FleetNetwork::Own(BenchNetwork::create(name)),
            Ok("") | Ok("host") | Err(_) => FleetNetwork::Host,
            Ok(other) => panic!("R53R_BENCH_NETWORK={other}: expected host or own"),
        }
    }

    /// Its name, as `docker create --network` takes it.
    pub fn name(&self) -> &str {
        match self {
            FleetNetwork::Host => "host",
            FleetNetwork::Own(network) => network.name(),
        }
    }
}

/// A user-defined bridge network with the bench's label, removed on drop (after the containers on it:
/// declare it first). If the engine refuses, it says so on stderr rather than failing the bench.
pub struct BenchNetwork {
    name: String,
}

impl BenchNetwork {
    /// `docker network create` a bridge network named `name` on a free `/24` of `10.213.0.0/16` (room for
    /// 253 containers).
    pub fn create(name: &str) -> BenchNetwork {
        let label = format!("{BENCH_LABEL}=1");
        let first = std::process::id() as usize % 250;
        let mut refusals = Vec::new();
        for third in (0..250).map(|i| (first + i) % 250) {
            let subnet = format!("10.213.{third}.0/24");
            let created = docker_output(&[
                "network", "create", "--driver", "bridge", "--subnet", &subnet, "--label", &label,
                name,
            ]);
            if created.status.success() {
                return BenchNetwork {
                    name: name.to_string(),
                };
            }
            // Taken by a network left behind (see the module doc): try the next one.
            refusals.push(String::from_utf8_lossy(&created.stderr).trim().to_string());
            if refusals.len() >= 20 {
                break;
            }
        }
        panic!("cannot create network {name}: {refusals:?}");
    }

    /// Its name, as `docker create --network` takes it.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for BenchNetwork {
    fn drop(&mut self) {
        let removed = docker_output(&["network", "rm", &self.name]);
        if !removed.status.success() {
            eprintln!(
                "warning: the engine refused to remove network {}: {} (moby/moby#42119: it lost count of \
                 the network's endpoints; `docker network rm` works again after the engine restarts)",
                self.name,
                String::from_utf8_lossy(&removed.stderr).trim()
            );
        }
    }
}

/// Runs `job` for every item, `workers` threads at a time, each taking the next item when it is done.
/// Panics after all have run if any panicked (a failed `docker` command), naming how many.
pub fn in_parallel(items: &[String], workers: usize, job: impl Fn(&str) + Sync) {
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(item)));
                if ran.is_err() {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let failed = failures.load(Ordering::Relaxed);
    assert!(
        failed == 0,
        "{failed} of {} docker commands failed",
        items.len()
    );
}

/// One container event as the bench read it from `docker events`.
#[derive(Clone, Debug)]
pub struct SeenEvent {
    /// When the engine says the event happened, on the bench's monotonic clock (`read_at` less
    /// `delivery`). The daemon may act on an event before the bench has read it, never before it happened:
    /// latencies are measured from here.
    pub at: Instant,
    /// When the bench read the line.
    pub read_at: Instant,
    /// How long after the engine's own timestamp the line was read.
    pub delivery: Duration,
    /// `create`, `start`, `kill`, `die`, `stop`, `destroy`, ...
    pub action: String,
    /// The container's name.
    pub container: String,
    /// The signal of a `kill` event, as Docker reports it (a number).
    pub signal: Option<u32>,
}

/// `docker events` for the run's containers, read by a thread; every event is kept, and can also be
/// forwarded to a channel (the old tool's model reads it).
pub struct EventStream {
    child: Child,
    events: Arc<Mutex<Vec<SeenEvent>>>,
    forward: Arc<Mutex<Option<Sender<SeenEvent>>>>,
    reader: Option<JoinHandle<()>>,
}

impl EventStream {
    /// Subscribes to the events of `run`'s containers, from one second ago on (so that nothing created
    /// after this call can be missed, however late the CLI connects).
    pub fn open(run: &str) -> EventStream {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_sub(Duration::from_secs(1));
        let mut child = Command::new("docker")
            .args([
                "events",
                "--since",
                &format!("{}.{:09}", since.as_secs(), since.subsec_nanos()),
                "--filter",
                "type=container",
                "--filter",
                &format!("label={RUN_LABEL}={run}"),
                "--format",
                r#"{{.Action}}|{{.TimeNano}}|{{index .Actor.Attributes "name"}}|{{index .Actor.Attributes "signal"}}"#,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn docker events");
        let stdout = child.stdout.take().expect("docker events' stdout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let forward: Arc<Mutex<Option<Sender<SeenEvent>>>> = Arc::new(Mutex::new(None));
        let reader = {
            let events = Arc::clone(&events);
            let forward = Arc::clone(&forward);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let read_at = Instant::now();
                    let Some(event) = parse_event(&line, read_at, SystemTime::now()) else {
                        continue;
                    };
                    if let Some(sender) = lock(&forward).as_ref() {
                        let _ = sender.send(event.clone());
                    }
                    lock(&events).push(event);
                }
            })
        };
        EventStream {
            child,
            events,
            forward,
            reader: Some(reader),
        }
    }

    /// Every event read so far, in the order read.
    pub fn events(&self) -> Vec<SeenEvent> {
        lock(&self.events).clone()
    }

    /// From now on, also sends each event to `sender` (`None`: stops, dropping the previous sender).
    pub fn forward_to(&self, sender: Option<Sender<SeenEvent>>) {
        *lock(&self.forward) = sender;
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `action|timeNano|name|signal` → a [`SeenEvent`].
fn parse_event(line: &str, read_at: Instant, now: SystemTime) -> Option<SeenEvent> {
    let mut fields = line.trim().split('|');
    let action = fields.next()?.to_string();
    let nanos: u64 = fields.next()?.parse().ok()?;
    let container = fields.next()?.to_string();
    let signal = fields.next().and_then(|s| s.parse().ok());
    let engine_time = UNIX_EPOCH + Duration::from_nanos(nanos);
    let delivery = now.duration_since(engine_time).unwrap_or_default();
    Some(SeenEvent {
        at: read_at.checked_sub(delivery).unwrap_or(read_at),
        read_at,
        delivery,
        action,
        container,
        signal,
    })
}
