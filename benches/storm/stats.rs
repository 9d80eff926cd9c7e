//! Pure arithmetic over what the bench observed: which container events change a name's state, how long
//! each took to reach Route53, percentiles, and the number of change requests the targets allow. No I/O,
//! no clock: every time comes in as an argument.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Whether a name appears or disappears.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A CREATE or UPSERT of the name's record set.
    Publish,
    /// A DELETE of it.
    Withdraw,
}

/// A container event that changes whether a service name should be published: the first start of a name,
/// the last stop of it. Only these have a Route53 request to wait for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// When the event happened (the engine's timestamp, on the bench's monotonic clock).
    pub at: Instant,
    pub service: String,
    pub direction: Direction,
}

/// One ChangeResourceRecordSets as the emulator logged it: when it arrived and the record names it
/// carried, each with the way it changed them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeCall {
    pub at: Instant,
    /// (first DNS label of the record's name, direction)
    pub changes: Vec<(String, Direction)>,
}

/// The start events (in the order they were read) that publish a name: the first start of each service.
///
/// | services started, in order | triggers              |
/// |----------------------------|-----------------------|
/// | a, b, a, c                 | a (1st), b, c         |
pub fn publish_triggers(starts: &[(Instant, String)]) -> Vec<Trigger> {
    let mut seen = std::collections::HashSet::new();
    starts
        .iter()
        .filter(|(_, service)| seen.insert(service.clone()))
        .map(|(at, service)| Trigger {
            at: *at,
            service: service.clone(),
            direction: Direction::Publish,
        })
        .collect()
}

/// The stop events (first stopping sign of each container, in the order they were read) that withdraw a
/// name: the one that leaves its service with no running container. `running` counts the containers of
/// each service before the first stop.
///
/// | running      | services stopped, in order | triggers          |
/// |--------------|----------------------------|-------------------|
/// | a: 2, b: 1   | a, b, a                    | b, a (the 2nd)    |
pub fn withdraw_triggers(
    stops: &[(Instant, String)],
    running: &HashMap<String, usize>,
) -> Vec<Trigger> {
    let mut left = running.clone();
    let mut triggers = Vec::new();
    for (at, service) in stops {
        let count = left.entry(service.clone()).or_insert(1);
        *count = count.saturating_sub(1);
        if *count == 0 {
            triggers.push(Trigger {
                at: *at,
                service: service.clone(),
                direction: Direction::Withdraw,
            });
        }
    }
    triggers
}

/// For each trigger, the time from it to the first change request at or after it that carries its name
/// in its direction. Returns the latencies and the triggers no request answered.
pub fn latencies(triggers: &[Trigger], calls: &[ChangeCall]) -> (Vec<Duration>, Vec<Trigger>) {
    let mut sorted: Vec<&ChangeCall> = calls.iter().collect();
    sorted.sort_by_key(|call| call.at);
    let mut found = Vec::new();
    let mut unanswered = Vec::new();
    for trigger in triggers {
        let answer = sorted.iter().find(|call| {
            call.at >= trigger.at
                && call
                    .changes
                    .iter()
                    .any(|(name, dir)| *name == trigger.service && *dir == trigger.direction)
        });
        match answer {
            Some(call) => found.push(call.at - trigger.at),
            None => unanswered.push(trigger.clone()),
        }
    }
    (found, unanswered)
}

/// p50, p99 and max of a sample (nearest rank); `None` when it is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// The [`Summary`] of `sample`.
pub fn summarize(sample: &[Duration]) -> Option<Summary> {
    let mut sorted = sample.to_vec();
    sorted.sort();
    let last = *sorted.last()?;
    Some(Summary {
        count: sorted.len(),
        p50: nearest_rank(&sorted, 50),
        p99: nearest_rank(&sorted, 99),
        max: last,
    })
}

/// The `percent`th percentile of a sorted, non-empty sample by the nearest-rank method: the smallest
/// value that at least `percent`% of the sample is at or below.
fn nearest_rank(sorted: &[Duration], percent: usize) -> Duration {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The target's ceiling on change requests while events keep arriving for `window`: one per `max_delay`,
/// plus one.
pub fn allowed_changes(window: Duration, max_delay: Duration) -> usize {
    let periods = window.as_nanos().div_ceil(max_delay.as_nanos().max(1));
    usize::try_from(periods)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
}
