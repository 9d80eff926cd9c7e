//! Part 2: what verification costs the account, over simulated hours, on a fake clock (see the crate doc).
//!
//! Every instance is a bare [`Reconciler`]; each action it asks for is performed with
//! [`route53_registrator::writer::perform::perform`] against the in-process emulator (no throttle, no HTTP), and its
//! outcome handed back after the simulated time the requests took. A discrete-event loop (a priority queue
//! of (time, instance)) moves the one clock: an `Instant` base plus a simulated offset.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use route53_emulator::{Emulator, Operation};
use route53_registrator::config::Settings;
use route53_registrator::desired::DesiredRecords;
use route53_registrator::stats::Stats;
use route53_registrator::testing::Double;
use route53_registrator::writer::perform::perform;
use route53_registrator::writer::reconcile::{Action, Outcome, Reconciler, WriterSettings};

/// Services each instance runs, and instances per group of names (as in part 1).
const SERVICES: usize = 20;
const GROUP: usize = 100;
/// Instances start within this of each other, as after a mass restart.
const SPREAD: Duration = Duration::from_secs(1);
/// The start-up must settle within this (simulated) time.
const STARTUP_DEADLINE: Duration = Duration::from_secs(3600);

/// What the simulated span measured.
pub struct Budget {
    pub instances: usize,
    pub span: Duration,
    /// Simulated time from the first input until every reconciler was settled.
    pub startup: Duration,
    /// Requests during the start-up, by operation.
    pub startup_requests: BTreeMap<String, usize>,
    /// ListResourceRecordSets during the span, per simulated second.
    pub reads_per_second: Vec<usize>,
    /// Every request during the span, by operation.
    pub span_requests: BTreeMap<String, usize>,
}

impl Budget {
    pub fn reads(&self) -> usize {
        self.reads_per_second.iter().sum()
    }

    /// The most reads in any `seconds` consecutive simulated seconds (the whole span, if shorter).
    pub fn max_reads_in(&self, seconds: usize) -> usize {
        self.reads_per_second
            .windows(seconds.min(self.reads_per_second.len()).max(1))
            .map(|w| w.iter().sum())
            .max()
            .unwrap_or(0)
    }

    /// Reads per `bucket` of the span, for seeing when they happen.
    pub fn reads_by(&self, bucket: Duration) -> Vec<usize> {
        let size = (bucket.as_secs() as usize).max(1);
        self.reads_per_second
            .chunks(size)
            .map(|c| c.iter().sum())
            .collect()
    }
}

/// What wakes an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// Its IP and names are fed.
    Input,
    /// The instant an `Idle` named; stale unless `token` is the instance's current one (every poll cancels
    /// the previous timer, as the actor does).
    Wake { token: u64 },
    /// The action in flight is done: its outcome is handed back.
    Done,
}

/// One simulated instance.
struct Sim {
    reconciler: Reconciler,
    ip: Ipv4Addr,
    names: BTreeSet<String>,
    token: u64,
    outcome: Option<Outcome>,
    /// The last `Idle` said everything due was done.
    settled: bool,
}

/// The loop's clock and queue.
struct Clock {
    base: Instant,
    queue: BinaryHeap<Reverse<(Duration, u64, usize, Event)>>,
    seq: u64,
}

impl Clock {
    fn push(&mut self, at: Duration, instance: usize, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, instance, event)));
    }
}

/// `instances` reconcilers publish their names, settle, then `span` of simulated time passes with nothing
/// changing; the reads during it are counted per simulated second.
pub async fn verification_budget(instances: usize, span: Duration, seed: u64) -> Budget {
    let emulator = Emulator::new();
    let zone = emulator.create_zone("verify.fleet.bench", true);
    // No instance's end is watched: nothing tells the reconcilers of one, nor is awaited.
    let settings = WriterSettings {
        watches_end: false,
        ..WriterSettings::from(&Settings::default())
    };
    // Each request takes the time the instance's own rate limit spaces requests by: the simulated duration
    // of an action is its requests times this.
    let per_request = Duration::from_secs(1) / settings.max_requests_per_second.max(1);
    // The emulator, counting the requests made through it, so that an action's simulated duration is known
    // the moment it returns (the emulator's own log is read once, at the end, for the counts).
    let api = Double::new(emulator.clone());
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut clock = Clock {
        base: Instant::now(),
        queue: BinaryHeap::new(),
        seq: 0,
    };
    let mut sims: Vec<Sim> = (0..instances)
        .map(|i| Sim {
            reconciler: Reconciler::new(
                zone.clone(),
                settings.clone(),
                Stats::new(),
                seed.wrapping_add(i as u64),
            ),
            ip: Ipv4Addr::new(10, 2, (i / 250) as u8, (i % 250 + 1) as u8),
            names: (0..SERVICES)
                .map(|k| format!("s{k}-g{}", i / GROUP))
                .collect(),
            token: 0,
            outcome: None,
            settled: false,
        })
        .collect();
    for i in 0..instances {
        let at = rng.random_range(Duration::ZERO..SPREAD);
        clock.push(at, i, Event::Input);
    }

    // Each performed action: when it started (simulated) and how many requests it made, in order; the
    // emulator's log holds the same requests in the same order, which dates each of them.
    let mut performed: Vec<(Duration, usize)> = Vec::new();
    let mut span_start: Option<Duration> = None;
    let mut startup_requests = BTreeMap::new();
    while let Some(Reverse((at, _, i, event))) = clock.queue.pop() {
        if span_start.is_some_and(|start| at >= start + span) {
            break;
        }
        assert!(
            span_start.is_some() || at < STARTUP_DEADLINE,
            "{instances} reconcilers did not settle within {STARTUP_DEADLINE:?} (simulated)"
        );
        let now = clock.base + at;
        let sim = &mut sims[i];
        match event {
            Event::Input => {
                sim.reconciler.host_ip(now, sim.ip);
                sim.reconciler
                    .desired_records(now, DesiredRecords::addresses(sim.names.clone()));
            }
            Event::Wake { token } if token != sim.token => continue,
            Event::Wake { .. } => {}
            Event::Done => {
                let outcome = sim.outcome.take().expect("an action in flight");
                sim.reconciler.outcome(now, outcome);
            }
        }
        poll(
            &mut clock,
            &mut sims,
            i,
            at,
            &api,
            &zone.id,
            per_request,
            &mut performed,
        )
        .await;
        if span_start.is_none() && sims.iter().all(|s| s.settled) {
            // Settled: the start-up ends here, and the span begins with an empty log.
            span_start = Some(at);
            startup_requests = by_operation(emulator.requests().iter().map(|r| r.operation));
            emulator.clear_requests();
            performed.clear();
        }
    }
    let span_start = span_start.expect("the start-up settled");

    let log = emulator.requests();
    assert_eq!(
        log.len(),
        performed.iter().map(|(_, calls)| calls).sum::<usize>(),
        "every request of the span was made by a performed action"
    );
    let mut reads_per_second = vec![0; span.as_secs() as usize];
    let mut requests = log.iter();
    for (started, calls) in performed {
        for (k, request) in requests.by_ref().take(calls).enumerate() {
            let at = started + per_request * k as u32 - span_start;
            if request.operation == Operation::ListResourceRecordSets {
                if let Some(second) = reads_per_second.get_mut(at.as_secs() as usize) {
                    *second += 1;
                }
            }
        }
    }
    Budget {
        instances,
        span,
        startup: span_start,
        startup_requests,
        reads_per_second,
        span_requests: by_operation(log.iter().map(|r| r.operation)),
    }
}

/// What the actor's `poll` does: asks the reconciler what to do at `at`; an `Idle` arms the instance's one
/// timer (cancelling the previous one), anything else is performed, unchanged, and its outcome handed back
/// when the requests it made would have taken their time.
#[allow(clippy::too_many_arguments)]
async fn poll(
    clock: &mut Clock,
    sims: &mut [Sim],
    i: usize,
    at: Duration,
    api: &Double,
    zone_id: &str,
    per_request: Duration,
    performed: &mut Vec<(Duration, usize)>,
) {
    let sim = &mut sims[i];
    let now = clock.base + at;
    loop {
        sim.token += 1;
        match sim.reconciler.next(now) {
            Action::Idle { until, settled } => {
                sim.settled = settled;
                if let Some(until) = until {
                    let wake = until.saturating_duration_since(clock.base).max(at);
                    clock.push(wake, i, Event::Wake { token: sim.token });
                }
                return;
            }
            action => {
                sim.settled = false;
                let before = api.calls();
                let reread = sim.reconciler.reread_plan();
                let Some(outcome) = perform(api, zone_id, action, reread, false).await else {
                    // Nothing to hand back: ask again.
                    continue;
                };
                let calls = api.calls() - before;
                performed.push((at, calls));
                sim.outcome = Some(outcome);
                clock.push(at + per_request * calls as u32, i, Event::Done);
                return;
            }
        }
    }
}

fn by_operation(operations: impl Iterator<Item = Operation>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for operation in operations {
        *counts.entry(format!("{operation:?}")).or_default() += 1;
    }
    counts
}
