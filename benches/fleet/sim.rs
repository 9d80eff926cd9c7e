//! Part 1: the fleet of real writers against the emulator over HTTP, under either quota model, through five
//! workloads, with a neighbour on the same account (see the crate doc).
//!
//! One [`World`] per fleet size: one emulator and zone, its HTTP server, and the instances. An instance's
//! daemon is wired as `src/main.rs` wires it: its own SDK client (retries off, the daemon's timeouts), its own
//! rate limiter and statistics behind [`RateLimited`], `resolve_zone` (GetHostedZone) first, then a
//! supervised [`Route53Writer`] with the default settings, fed `HostIp` and `DesiredRecords` as the metadata
//! cache and the classifier would.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Addr;
use actix_rt::task::JoinHandle;
use aws_sdk_route53::config::timeout::TimeoutConfig;
use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use futures_util::future::join_all;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use route53_emulator::{BucketLimit, Emulator, LoggedRequest, Operation, Quota};
use route53_registrator::aws::CONNECT_TIMEOUT;
use route53_registrator::backoff::RetryPolicy;
use route53_registrator::config::Settings;
use route53_registrator::desired::DesiredRecords;
use route53_registrator::host::HostIp;
use route53_registrator::route53::limited::{route53_limiter, RateLimited};
use route53_registrator::route53::rate::StartSpread;
use route53_registrator::route53::read::resolve_zone;
use route53_registrator::route53::sdk::SdkRoute53;
use route53_registrator::route53::Route53Api;
use route53_registrator::stats::Stats;
use route53_registrator::testing::emulator_sdk_config;
use route53_registrator::writer::actor::{Route53Writer, WriterSettings};
use route53_registrator::writer::ledger::ledger_name;
use route53_registrator::writer::pacing::startup_delay;
use route53_registrator::writer::{Settle, Shutdown};

use crate::bound::{at_once, lower_bound};
use crate::report::write_request_log;
use crate::support::emulator::EmulatedZone;
use crate::FleetSettings;

/// The old model's account-wide throttle, Route53's rate before its 2026 quotas; its bucket holds one
/// second's worth.
pub const THROTTLE_PER_SECOND: f64 = 5.0;
/// How often the neighbour sends a request.
const NEIGHBOUR_EVERY: Duration = Duration::from_secs(1);
/// The records the neighbour's listing asks for: one page of a few.
const NEIGHBOUR_PAGE: i32 = 5;
/// Services each instance runs.
const SERVICES: usize = 20;
/// Route53 allows at most 100 multivalue record sets per name and type: instance `i` runs group `i / 100`.
const GROUP: usize = 100;
/// How often the zone is compared with the expected end state.
const POLL: Duration = Duration::from_millis(100);
/// How often a wait says how far it got.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);
/// Offsets of the inputs of a deploy's wave and of a scale-out's starts are drawn in `[0, SPREAD)`.
const SPREAD: Duration = Duration::from_secs(1);
/// A rolling deploy: a wave every `WAVE_EVERY`, its services started again `RESTART_AFTER` after they stopped.
const WAVE_EVERY: Duration = Duration::from_secs(10);
const RESTART_AFTER: Duration = Duration::from_secs(5);
/// As `src/main.rs`: the longest one Route53 request may take (`ROUTE53_TIMEOUT` there), and the bound on
/// the final flush (`shutdown.timeout`'s default).
const ROUTE53_TIMEOUT: Duration = Duration::from_secs(10);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);
/// Set-up phases (filling the zone, and letting a workload that missed its deadline finish unthrottled so
/// that the next one starts from the state it expects) are not measured; they still may not hang.
const SETUP_DEADLINE: Duration = Duration::from_secs(300);
/// The measured workloads' deadline, unless `R53R_FLEET_DEADLINE_SECS` says otherwise: generous (10× the
/// bound; the target is 1.5×), at least 2 minutes, at most 15.
const DEADLINE_FACTOR: f64 = 10.0;
const DEADLINE_MIN: Duration = Duration::from_secs(120);
const DEADLINE_MAX: Duration = Duration::from_secs(900);

/// The operations the daemon sends, in the tables' order.
pub const OPERATIONS: [Operation; 3] = [
    Operation::GetHostedZone,
    Operation::ListResourceRecordSets,
    Operation::ChangeResourceRecordSets,
];

/// Route53's quota, as the emulator models it: each workload runs under each model chosen, on an account of
/// its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Model {
    /// One account-wide bucket of [`THROTTLE_PER_SECOND`], holding one second's worth.
    Old,
    /// Route53's documented token buckets: the account's 50 refilled 10 a second, each action's the same.
    Documented,
}

impl Model {
    pub const ALL: [Model; 2] = [Model::Old, Model::Documented];

    /// Its name in `R53R_FLEET_MODELS`, the tables and the request logs' file names.
    pub fn name(self) -> &'static str {
        match self {
            Model::Old => "old",
            Model::Documented => "documented",
        }
    }

    /// What it is, for the bench's first line.
    pub fn describe(self) -> String {
        match self {
            Model::Old => {
                format!("old: {THROTTLE_PER_SECOND}/s account-wide, a burst of one second's worth")
            }
            Model::Documented => {
                let account = self.bucket();
                format!(
                    "documented: account and each action {}/{} per s",
                    account.capacity, account.refill_per_second
                )
            }
        }
    }

    /// The bucket the lower bound serves the workload's requests with. Under the documented quota it is the
    /// account's: each action's bucket has the same capacity and refill and sees only that action's share of
    /// the same requests, so it never empties before the account's does (CreateHostedZone's tighter bucket
    /// is for an action the fleet never sends).
    pub fn bucket(self) -> BucketLimit {
        match self {
            Model::Old => BucketLimit::new(THROTTLE_PER_SECOND, THROTTLE_PER_SECOND),
            Model::Documented => route53_emulator::quota::DOCUMENTED_ACCOUNT,
        }
    }

    /// Puts the account under this model, its buckets full.
    fn apply(self, emulator: &Emulator) {
        match self {
            Model::Old => emulator.set_throttle(Some(THROTTLE_PER_SECOND)),
            Model::Documented => emulator.set_quota(Some(Quota::documented())),
        }
    }
}

/// Lifts both quota models: the set-up phases run unthrottled.
fn unthrottle(emulator: &Emulator) {
    emulator.set_throttle(None);
    emulator.set_quota(None);
}

/// The three workloads, each on a fleet and a zone (an account) of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Workload {
    Restart,
    Deploy,
    ScaleOut,
    /// The mass restart, each daemon with `route53.startup_spread` set by hand for its fleet.
    SpreadRestart,
    /// The scale-out, the same.
    SpreadScaleOut,
}

/// A `route53.startup_spread` set by hand, per instance that may start together: a start costs about 3
/// requests (GetHostedZone, a change, a read), a third of a second of the fleet's 9 per second (nine tenths
/// of Route53's documented 10), and a little more leaves room for the bunching of random draws.
pub const STARTUP_SPREAD_PER_INSTANCE: Duration = Duration::from_millis(350);

/// The largest fleet the spread variants run on. With them at 300 too, the fifteen fleets side by side
/// (over 2,000 writers) starved this machine's two cores: the deploys' times doubled and tripled, a fill
/// missed its deadline, and the table took 12.5 minutes.
pub const SPREAD_UP_TO: usize = 100;

impl Workload {
    pub const ALL: [Workload; 5] = [
        Workload::Restart,
        Workload::Deploy,
        Workload::ScaleOut,
        Workload::SpreadRestart,
        Workload::SpreadScaleOut,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Workload::Restart => "mass restart",
            Workload::Deploy => "rolling deploy",
            Workload::ScaleOut => "scale-out",
            Workload::SpreadRestart => "mass restart, spread",
            Workload::SpreadScaleOut => "scale-out, spread",
        }
    }

    pub fn file(self) -> &'static str {
        match self {
            Workload::Restart => "restart",
            Workload::Deploy => "deploy",
            Workload::ScaleOut => "scale-out",
            Workload::SpreadRestart => "restart-spread",
            Workload::SpreadScaleOut => "scale-out-spread",
        }
    }

    /// Whether this workload runs on `n` instances: the spread variants up to [`SPREAD_UP_TO`].
    pub fn runs_on(self, n: usize) -> bool {
        !matches!(self, Workload::SpreadRestart | Workload::SpreadScaleOut) || n <= SPREAD_UP_TO
    }

    fn is_restart(self) -> bool {
        matches!(self, Workload::Restart | Workload::SpreadRestart)
    }

    /// The daemons' `route53.startup_spread` in this workload on `n` instances: one set by hand for the
    /// instances that start together in the spread variants, the default (`auto`) otherwise.
    fn startup_spread(self, n: usize) -> StartSpread {
        let starting = match self {
            Workload::SpreadRestart => n,
            Workload::SpreadScaleOut => n / 2,
            _ => return Settings::default().route53.startup_spread,
        };
        StartSpread::Over(STARTUP_SPREAD_PER_INSTANCE * starting as u32)
    }
}

/// What one workload measured.
pub struct Row {
    pub run: usize,
    pub n: usize,
    pub workload: Workload,
    pub model: Model,
    /// Fleet requests that arrived, by operation: (all, throttled); the neighbour's are not in them.
    pub requests: BTreeMap<String, (usize, u64)>,
    pub total: usize,
    /// Answered `Throttling`, as the daemons counted them (`route53_requests_total{outcome="throttled"}`).
    pub throttled: u64,
    /// Answered with another error (neither 200 nor `Throttling`), from the emulator's log.
    pub other_errors: usize,
    /// From the workload's start until the zone was exactly right; `Err` when the deadline passed first.
    pub time: Result<Duration, Missed>,
    pub bound: Duration,
    /// Requests the bound counts.
    pub bound_requests: usize,
    /// What the neighbour sent meanwhile.
    pub neighbour: NeighbourCount,
}

/// The neighbour's requests, as it counted them, by operation: (sent, throttled, other errors).
#[derive(Default)]
pub struct NeighbourCount {
    pub by_operation: BTreeMap<String, (usize, u64, usize)>,
}

impl NeighbourCount {
    pub fn sent(&self) -> usize {
        self.by_operation.values().map(|c| c.0).sum()
    }

    pub fn throttled(&self) -> u64 {
        self.by_operation.values().map(|c| c.1).sum()
    }

    fn other_errors(&self) -> usize {
        self.by_operation.values().map(|c| c.2).sum()
    }

    fn count(&mut self, operation: Operation, answer: Result<(), Option<String>>) {
        let entry = self
            .by_operation
            .entry(format!("{operation:?}"))
            .or_default();
        entry.0 += 1;
        match answer {
            Ok(()) => {}
            Err(code) if code.as_deref() == Some("Throttling") => entry.1 += 1,
            Err(_) => entry.2 += 1,
        }
    }
}

/// A workload that was not right by its deadline: how far it got.
pub struct Missed {
    pub deadline: Duration,
    pub progress: Progress,
}

/// The zone against the expected end state.
pub struct Progress {
    pub expected: usize,
    pub right: usize,
    pub missing: usize,
    pub extra: usize,
    /// Instances whose daemon had not got past GetHostedZone yet.
    pub not_started: usize,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} A record sets right, {} missing, {} extra",
            self.right, self.expected, self.missing, self.extra
        )?;
        if self.not_started > 0 {
            write!(f, ", {} daemons still resolving the zone", self.not_started)?;
        }
        Ok(())
    }
}

/// One A record set as compared: (name, SetIdentifier, values sorted).
type Published = (String, String, Vec<String>);

/// One instance: its IP (its owner id too), the services it runs now, and its daemon once started.
struct Instance {
    ip: Ipv4Addr,
    names: BTreeSet<String>,
    writer: Option<Addr<Route53Writer>>,
}

/// The instance `i`: `10.1.x.y`, and the 20 names of its group.
fn instance(i: usize) -> Instance {
    Instance {
        ip: Ipv4Addr::new(10, 1, (i / 250) as u8, (i % 250 + 1) as u8),
        names: (0..SERVICES)
            .map(|k| format!("s{k}-g{}", i / GROUP))
            .collect(),
        writer: None,
    }
}

/// One fleet size's emulator, zone and instances.
struct World {
    n: usize,
    run: usize,
    model: Model,
    zone: EmulatedZone,
    sdk: aws_sdk_route53::Config,
    settings: WriterSettings,
    instances: Vec<Instance>,
    /// The daemons' `route53.startup_spread` (none while the zone is filled).
    startup_spread: StartSpread,
    /// Daemons whose start (GetHostedZone, then the writer) is under way: (instance, task).
    starting: Vec<(usize, JoinHandle<Addr<Route53Writer>>)>,
    /// Every daemon's statistics, those stopped included (their counts stay).
    stats: Vec<Stats>,
    rng: SmallRng,
}

/// `n` daemons that have filled a zone of their own (an emulator each: an account of its own, with its own
/// quota, so that workloads and models run side by side without sharing one), ready for `workload`.
pub struct Prepared {
    world: World,
    workload: Workload,
}

/// Fills a zone for `workload` on `n` instances, to be measured under `model` (set-up, not measured), or
/// says why it could not.
pub async fn prepare(
    settings: &FleetSettings,
    (n, run): (usize, usize),
    workload: Workload,
    model: Model,
) -> Result<Prepared, String> {
    let zone = EmulatedZone::private();
    let sdk = sdk_config(&zone.endpoint());
    let mut world = World {
        n,
        run,
        model,
        sdk,
        // No instance's end is watched: nothing tells the writers of one, nor is awaited.
        settings: WriterSettings {
            watches_end: false,
            ..WriterSettings::from(&Settings::default())
        },
        instances: (0..n).map(instance).collect(),
        startup_spread: StartSpread::Over(Duration::ZERO),
        starting: Vec::new(),
        stats: Vec::new(),
        // Not drawn from the model: a workload's offsets are the same under each, so that its rows compare.
        rng: SmallRng::seed_from_u64(
            settings.seed ^ (n as u64) << 16 ^ (run as u64) << 8 ^ workload as u64,
        ),
        zone,
    };
    let began = Instant::now();
    world.fill().await?;
    println!(
        "N = {n} (run {run}), {}, {}: zone {} filled with {} A record sets, unthrottled, in {:.1} s (set-up, not measured)",
        workload.label(),
        model.name(),
        world.zone.zone,
        world.expected().len(),
        began.elapsed().as_secs_f64()
    );
    Ok(Prepared { world, workload })
}

impl Prepared {
    /// Runs the workload and measures it: its row (whose time is `Err` when it missed its deadline), or
    /// why it could not run.
    pub async fn measure(mut self, settings: &FleetSettings) -> Result<Row, String> {
        let (world, workload) = (&mut self.world, self.workload);
        let row = world.measure(settings, workload).await?;
        println!(
            "N = {} (run {}), {}, {}: {}",
            world.n,
            world.run,
            workload.label(),
            world.model.name(),
            match &row.time {
                Ok(time) => format!(
                    "right after {:.2} s (bound {:.2} s)",
                    time.as_secs_f64(),
                    row.bound.as_secs_f64()
                ),
                Err(missed) => format!(
                    "NOT right after {:.0} s: {}",
                    missed.deadline.as_secs_f64(),
                    missed.progress
                ),
            }
        );
        world.stop_all().await;
        Ok(row)
    }
}

/// The real SDK pointed at the emulator: static credentials and region (nothing asks the instance metadata
/// service or leaves the machine), the SDK's retries off and the daemon's timeouts, as
/// `route53_registrator::aws::sdk_config` builds it in `src/main.rs`.
fn sdk_config(endpoint: &str) -> aws_sdk_route53::Config {
    emulator_sdk_config(endpoint)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_timeout(ROUTE53_TIMEOUT)
                .build(),
        )
        .build()
}

/// One instance's daemon, as `src/main.rs` starts it: the zone resolved through the rate-limited client
/// (after `delay`, its share of `route53.startup_spread`; retried inside until it answers), then the writer,
/// then the IP and the names.
async fn daemon(
    sdk: aws_sdk_route53::Config,
    zone_id: String,
    settings: WriterSettings,
    (spread, delay): (StartSpread, Duration),
    stats: Stats,
    ip: Ipv4Addr,
    names: BTreeSet<String>,
) -> Addr<Route53Writer> {
    let client: Arc<dyn Route53Api> =
        Arc::new(SdkRoute53::new(aws_sdk_route53::Client::from_conf(sdk)));
    let limiter = route53_limiter(settings.max_requests_per_second, settings.quota);
    limiter.start(spread);
    let route53: Arc<dyn Route53Api> = Arc::new(RateLimited::new(client, limiter, stats.clone()));
    let zone = resolve_zone(route53.as_ref(), &zone_id, RetryPolicy::default(), delay)
        .await
        .expect("the zone exists");
    let writer = Route53Writer::new(route53, zone, settings, stats).start_supervised();
    writer.do_send(HostIp(ip));
    writer.do_send(DesiredRecords::addresses(names));
    writer
}

/// Another client of the same account, beside the fleet: the real SDK as the daemons have it, one request
/// every [`NEIGHBOUR_EVERY`] from the workload's start until `stop`, a listing of the zone (one page of
/// [`NEIGHBOUR_PAGE`]) and an UPSERT of its own TXT record `name` (no SetIdentifier; the zone's check
/// compares A record sets only) in turn. Returns what it sent and how it was answered.
async fn neighbour(
    sdk: aws_sdk_route53::Config,
    zone_id: String,
    name: String,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> NeighbourCount {
    let client = aws_sdk_route53::Client::from_conf(sdk);
    let mut count = NeighbourCount::default();
    let mut ticks = actix_rt::time::interval(NEIGHBOUR_EVERY);
    // One a second even after a slow answer, never a catch-up burst.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for k in 0_u64.. {
        tokio::select! {
            _ = &mut stop => break,
            _ = ticks.tick() => {}
        }
        if k % 2 == 0 {
            let answer = client
                .list_resource_record_sets()
                .hosted_zone_id(&zone_id)
                .max_items(NEIGHBOUR_PAGE)
                .send()
                .await;
            count.count(
                Operation::ListResourceRecordSets,
                answer.map(drop).map_err(|e| e.code().map(str::to_string)),
            );
        } else {
            let record = ResourceRecordSet::builder()
                .name(&name)
                .r#type(RrType::Txt)
                .ttl(60)
                .resource_records(
                    ResourceRecord::builder()
                        .value(format!("\"neighbour {k}\""))
                        .build()
                        .expect("a value"),
                )
                .build()
                .expect("a record set");
            let batch = ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(record)
                        .build()
                        .expect("a change"),
                )
                .build()
                .expect("a batch");
            let answer = client
                .change_resource_record_sets()
                .hosted_zone_id(&zone_id)
                .change_batch(batch)
                .send()
                .await;
            count.count(
                Operation::ChangeResourceRecordSets,
                answer.map(drop).map_err(|e| e.code().map(str::to_string)),
            );
        }
    }
    count
}

impl World {
    /// Starts instance `i`'s daemon at `at`: a new process, with a new limiter and new statistics.
    fn start(&mut self, i: usize, at: Instant) {
        let stats = Stats::new();
        self.stats.push(stats.clone());
        let instance = &self.instances[i];
        // Drawn only when spread, so that the other workloads' draws stay what they were.
        let delay = match self.startup_spread {
            StartSpread::Over(window) if !window.is_zero() => {
                startup_delay(self.startup_spread, self.rng.random())
            }
            _ => Duration::ZERO,
        };
        let work = daemon(
            self.sdk.clone(),
            self.zone.zone_id.clone(),
            self.settings.clone(),
            (self.startup_spread, delay),
            stats,
            instance.ip,
            instance.names.clone(),
        );
        let task = actix_rt::spawn(async move {
            actix_rt::time::sleep_until(at.into()).await;
            work.await
        });
        self.starting.push((i, task));
    }

    /// Every instance's record sets as they should be now.
    fn expected(&self) -> BTreeSet<Published> {
        let fqdn = |name: &str| self.zone.fqdn(name);
        self.instances
            .iter()
            .flat_map(|instance| {
                let ip = instance.ip.to_string();
                instance
                    .names
                    .iter()
                    .map(move |name| (fqdn(name), ip.clone(), vec![ip.clone()]))
            })
            .collect()
    }

    /// The zone's A record sets (in-process, no HTTP: not a request).
    fn published(&self) -> BTreeSet<Published> {
        self.zone
            .record_sets()
            .into_iter()
            .filter(|rs| rs.rtype == "A")
            .map(|mut rs| {
                rs.values.sort();
                (rs.name, rs.set_identifier.unwrap_or_default(), rs.values)
            })
            .collect()
    }

    fn progress(&self, expected: &BTreeSet<Published>) -> Progress {
        let published = self.published();
        let right = expected.intersection(&published).count();
        Progress {
            expected: expected.len(),
            right,
            missing: expected.len() - right,
            extra: published.len() - right,
            not_started: self.starting.len(),
        }
    }

    /// Takes in the daemons whose start has finished.
    async fn collect_started(&mut self) {
        let mut still = Vec::new();
        for (i, task) in std::mem::take(&mut self.starting) {
            if task.is_finished() {
                self.instances[i].writer = Some(task.await.expect("a daemon's start"));
            } else {
                still.push((i, task));
            }
        }
        self.starting = still;
    }

    /// Waits until the zone's A record sets are exactly the expected ones, every daemon has started, and
    /// every writer says it is settled (nothing pending, nothing in flight: a request still under way could
    /// change the zone again), then the zone is still right. Returns when it became right: the arrival of the
    /// last change request Route53 accepted (every accepted request changes the zone; the one that made it
    /// right is the last), or, had none been needed, the first poll that saw it right. `Err` at `deadline`
    /// (from `t0`) with how far it got.
    async fn converge(
        &mut self,
        label: &str,
        t0: Instant,
        deadline: Duration,
    ) -> Result<Duration, Progress> {
        let expected = self.expected();
        let mut first_right: Option<Duration> = None;
        let mut report_at = PROGRESS_EVERY;
        loop {
            self.collect_started().await;
            let right = self.published() == expected;
            if !right {
                first_right = None;
            } else if first_right.is_none() {
                first_right = Some(t0.elapsed());
            }
            if right && self.starting.is_empty() {
                let writers: Vec<Addr<Route53Writer>> = self
                    .instances
                    .iter()
                    .filter_map(|i| i.writer.clone())
                    .collect();
                let remaining = deadline.saturating_sub(t0.elapsed());
                let settled = actix_rt::time::timeout(
                    remaining,
                    join_all(writers.iter().map(|w| w.send(Settle))),
                )
                .await;
                if settled.is_ok() && self.published() == expected {
                    let last_change = self
                        .zone
                        .emulator
                        .requests()
                        .iter()
                        // The request that made the A record sets right: an instance's ledger, written
                        // once its search for stale record sets is done, may come later.
                        .filter(|r| {
                            r.operation == Operation::ChangeResourceRecordSets
                                && r.status == 200
                                && r.at >= t0
                                && r.changes.iter().any(|c| c.record_set.rtype == "A")
                        })
                        .map(|r| r.at - t0)
                        .max();
                    return Ok(last_change.or(first_right).unwrap_or_default());
                }
            }
            let elapsed = t0.elapsed();
            if elapsed >= deadline {
                return Err(self.progress(&expected));
            }
            if elapsed >= report_at {
                report_at += PROGRESS_EVERY;
                let log = self.zone.emulator.requests();
                let refused = log.iter().filter(|r| r.status != 200).count();
                eprintln!(
                    "  [N={} {label}] {:.0} s: {} requests ({refused} refused); {}",
                    self.n,
                    elapsed.as_secs_f64(),
                    log.len(),
                    self.progress(&expected)
                );
            }
            actix_rt::time::sleep(POLL).await;
        }
    }

    /// Fills the zone, unthrottled: every instance's daemon publishes its names. Set-up, not measured.
    async fn fill(&mut self) -> Result<(), String> {
        unthrottle(&self.zone.emulator);
        let t0 = Instant::now();
        for i in 0..self.instances.len() {
            self.start(i, t0);
        }
        self.converge("fill", t0, SETUP_DEADLINE)
            .await
            .map_err(|progress| format!("N={}: the zone was not filled: {progress}", self.n))?;
        // A fleet that has run for a while has written its ledgers (each once its first listing of the
        // zone, put off by up to the fleet's spread, is done): the restart is of such a fleet.
        let ledgers: BTreeSet<String> = self
            .instances
            .iter()
            .filter_map(|i| ledger_name(&i.ip.to_string(), &self.zone.zone))
            .collect();
        loop {
            let written = self
                .zone
                .record_sets()
                .iter()
                .filter(|rs| ledgers.contains(&rs.name))
                .count();
            if written == ledgers.len() {
                return Ok(());
            }
            if t0.elapsed() >= SETUP_DEADLINE {
                return Err(format!(
                    "N={}: {written} of {} ledgers written by the deadline",
                    self.n,
                    ledgers.len()
                ));
            }
            actix_rt::time::sleep(POLL).await;
        }
    }

    /// Stops every daemon as SIGTERM does (`Shutdown` without deregistration: what is pending is flushed,
    /// nothing withdrawn), then drops it.
    async fn stop_all(&mut self) {
        let writers: Vec<Addr<Route53Writer>> = self
            .instances
            .iter_mut()
            .filter_map(|i| i.writer.take())
            .collect();
        let _ = join_all(writers.iter().map(|w| {
            actix_rt::time::timeout(SHUTDOWN_TIMEOUT, w.send(Shutdown { deregister: false }))
        }))
        .await;
    }

    /// Runs one workload from a fresh quota (its buckets full) and an empty request log, with the neighbour
    /// beside it, and measures it.
    async fn measure(
        &mut self,
        settings: &FleetSettings,
        workload: Workload,
    ) -> Result<Row, String> {
        // Set-up: a restart starts from every daemon stopped, with one service of every 10th instance gone
        // meanwhile (its record set is stale now).
        let mut stale = 0;
        self.startup_spread = workload.startup_spread(self.n);
        if workload.is_restart() {
            self.stop_all().await;
            for (i, instance) in self.instances.iter_mut().enumerate() {
                if i % 10 == 0 {
                    let gone = format!("s{}-g{}", (i / 10) % SERVICES, i / GROUP);
                    instance.names.remove(&gone);
                    stale += 1;
                }
            }
        }
        let throttled_before = self.throttled_by_operation();
        self.model.apply(&self.zone.emulator);
        self.zone.emulator.clear_requests();
        let t0 = Instant::now();
        // Started before the inputs are fed: a deploy returns only once its last input is.
        let (stop_neighbour, stopped) = tokio::sync::oneshot::channel();
        let neighbour = actix_rt::spawn(neighbour(
            self.sdk.clone(),
            self.zone.zone_id.clone(),
            self.zone.fqdn("neighbour"),
            stopped,
        ));
        // The requests the bound counts, each at the time its input is fed.
        let arrivals = match workload {
            Workload::Restart | Workload::SpreadRestart => {
                for i in 0..self.instances.len() {
                    self.start(i, t0);
                }
                // Per instance GetHostedZone (the zone's domain), one read (what it holds) and one change;
                // one more change per instance with a stale set.
                at_once(3 * self.n + stale, Duration::ZERO)
            }
            // One change to stop and one to start, per instance.
            Workload::Deploy => self.deploy(settings, t0).await,
            Workload::ScaleOut | Workload::SpreadScaleOut => {
                let new = self.n / 2;
                let first = self.instances.len();
                let mut arrivals = Vec::new();
                for i in first..first + new {
                    self.instances.push(instance(i));
                    let offset = self.rng.random_range(Duration::ZERO..SPREAD);
                    self.start(i, t0 + offset);
                    // GetHostedZone, one read and one change per new instance, when it starts.
                    arrivals.extend([offset, offset, offset]);
                }
                arrivals
            }
        };
        let bound = lower_bound(&arrivals, self.model.bucket());
        let deadline = settings.deadline.unwrap_or_else(|| {
            bound
                .mul_f64(DEADLINE_FACTOR)
                .clamp(DEADLINE_MIN, DEADLINE_MAX)
        });
        let time = self
            .converge(workload.label(), t0, deadline)
            .await
            .map_err(|progress| Missed { deadline, progress });
        // Stopped and joined before the log is read, so that every request of its in the log is counted.
        let _ = stop_neighbour.send(());
        let neighbour = neighbour.await.expect("the neighbour");
        let log = self.zone.emulator.requests();
        let throttled_after = self.throttled_by_operation();
        self.dump(workload, &log, t0);
        if time.is_err() {
            // Let it finish unthrottled, so that the next workload starts from the state it expects.
            unthrottle(&self.zone.emulator);
            let t = Instant::now();
            self.converge("catching up, unthrottled", t, SETUP_DEADLINE)
                .await
                .map_err(|progress| {
                    format!(
                        "N={}: {} did not finish even unthrottled: {progress}",
                        self.n,
                        workload.label()
                    )
                })?;
        }
        // The log has the neighbour's requests too; it counted them itself.
        let mut requests: BTreeMap<String, (usize, u64)> = BTreeMap::new();
        for r in &log {
            requests.entry(format!("{:?}", r.operation)).or_default().0 += 1;
        }
        for (operation, (sent, _, _)) in &neighbour.by_operation {
            let all = &mut requests.entry(operation.clone()).or_default().0;
            *all = all.saturating_sub(*sent);
        }
        let mut throttled = 0;
        for (operation, after) in &throttled_after {
            let count = after - throttled_before.get(operation).copied().unwrap_or(0);
            throttled += count;
            requests.entry(operation.clone()).or_default().1 = count;
        }
        let refused = log.iter().filter(|r| r.status != 200).count();
        let neighbour_refused = neighbour.throttled() as usize + neighbour.other_errors();
        Ok(Row {
            run: self.run,
            n: self.n,
            workload,
            model: self.model,
            requests,
            total: log.len().saturating_sub(neighbour.sent()),
            throttled,
            other_errors: refused.saturating_sub(throttled as usize + neighbour_refused),
            time,
            bound,
            bound_requests: arrivals.len(),
            neighbour,
        })
    }

    /// A rolling deploy: waves of instances, one every [`WAVE_EVERY`]; each instance of a wave stops its
    /// services at a random offset in `[0, SPREAD)` after the wave's start, and starts them again
    /// [`RESTART_AFTER`] later (another offset). Returns once the last input is fed, with the time each input
    /// was fed (since `t0`).
    async fn deploy(&mut self, settings: &FleetSettings, t0: Instant) -> Vec<Duration> {
        let fed: Rc<RefCell<Vec<Duration>>> = Rc::default();
        let wave_size = self.n.div_ceil(settings.waves.max(1)).max(1);
        let mut feeds = Vec::new();
        for (i, instance) in self.instances.iter().enumerate() {
            let wave = (i / wave_size) as u32;
            let writer = instance.writer.clone().expect("every daemon runs");
            let names = instance.names.clone();
            let stop_at = t0 + WAVE_EVERY * wave + self.rng.random_range(Duration::ZERO..SPREAD);
            let start_at = t0
                + WAVE_EVERY * wave
                + RESTART_AFTER
                + self.rng.random_range(Duration::ZERO..SPREAD);
            let fed = fed.clone();
            feeds.push(actix_rt::spawn(async move {
                actix_rt::time::sleep_until(stop_at.into()).await;
                writer.do_send(DesiredRecords::default());
                fed.borrow_mut().push(t0.elapsed());
                actix_rt::time::sleep_until(start_at.into()).await;
                writer.do_send(DesiredRecords::addresses(names));
                fed.borrow_mut().push(t0.elapsed());
            }));
        }
        for feed in feeds {
            feed.await.expect("a deploy's inputs");
        }
        fed.take()
    }

    /// Throttled requests by operation, summed over every daemon this world ran.
    fn throttled_by_operation(&self) -> BTreeMap<String, u64> {
        OPERATIONS
            .iter()
            .map(|operation| {
                let name = format!("{operation:?}");
                let count = self
                    .stats
                    .iter()
                    .map(|s| s.requests_of(&name, "throttled"))
                    .sum();
                (name, count)
            })
            .collect()
    }

    /// Writes a workload's request log (milliseconds since its start) for reading by hand.
    fn dump(&self, workload: Workload, log: &[LoggedRequest], t0: Instant) {
        let file = format!(
            "run{}-n{}-{}-{}.tsv",
            self.run,
            self.n,
            workload.file(),
            self.model.name()
        );
        if let Some(path) = write_request_log("fleet-bench", &file, log, t0) {
            println!("request log: {}", path.display());
        }
    }
}
