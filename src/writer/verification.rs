//! The verification: at a jittered interval that grows with the fleet, re-read the names this instance
//! publishes, one step at a time, so that drift is repaired. It keeps its own backoff for reads that fail,
//! counts the fleet's ledgers before its first read (which sizes the next interval), and remembers the names
//! that a late request may still change, to read them once more.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::Rng;
use tracing::{debug, warn};

use crate::backoff::{Backoff, RetryPolicy};
use crate::route53::rate::throttle_window;
use crate::route53::{RecordSet, Route53Error};
use crate::stats::Stats;
use crate::writer::action::{Action, ReadPurpose};
use crate::writer::failures::retry_class;
use crate::writer::ledger;
use crate::writer::pacing::verification_interval;
use crate::writer::plan;

/// Names a verification reads in one step. Between steps pending changes go out, so a verification of many
/// names (one request each, through the rate limiter) delays a withdrawal by one read at most.
pub const VERIFY_NAMES_PER_STEP: usize = 1;

/// The verification's schedule and progress.
#[derive(Debug)]
pub(crate) struct Verification {
    /// When the next verification is due (`None`: not armed).
    at: Option<Instant>,
    /// A step of the verification failed: the next one waits until then.
    paused_until: Option<Instant>,
    /// The verification in progress: the names it has still to read (empty: none in progress).
    remaining: BTreeSet<String>,
    /// The verification in progress counts the fleet's ledgers before its first read.
    ledgers_count_due: bool,
    /// Ledgers in the zone at the last count: the fleet's size, whatever names its instances publish (the
    /// owners seen at this instance's own names are only those that share them).
    fleet_ledgers: Option<usize>,
    /// The fleet's estimate when the verification in progress was armed.
    armed_for: usize,
    /// A verification has run since the start (or the last restart).
    verified: bool,
    /// The verification's own backoff, for a step that failed: apart from the writes' backoff, so that
    /// failed reads neither lengthen a write's retry nor are reset by an accepted change; reset by a step
    /// that works. Kept across a restart.
    backoff: Backoff,
    /// Names that were uncertain, read once more by the next verification even when no longer desired: a
    /// request Route53 applies late may land after the first re-read. Kept across a restart.
    recheck: BTreeSet<String>,
}

impl Verification {
    /// Nothing armed; `seed` seeds the jitter of its backoff.
    pub(crate) fn new(retry: RetryPolicy, seed: u64) -> Self {
        Verification {
            at: None,
            paused_until: None,
            remaining: BTreeSet::new(),
            ledgers_count_due: false,
            fleet_ledgers: None,
            armed_for: 0,
            verified: false,
            backoff: Backoff::new(retry, seed),
            recheck: BTreeSet::new(),
        }
    }

    /// The writer restarts: the schedule and the count are forgotten; the backoff and the names to recheck
    /// are kept.
    pub(crate) fn forget(&mut self) {
        self.at = None;
        self.paused_until = None;
        self.remaining.clear();
        self.ledgers_count_due = false;
        self.fleet_ledgers = None;
        self.armed_for = 0;
        self.verified = false;
    }

    /// Shutting down: the verification in progress stops and no other is armed.
    pub(crate) fn cancel(&mut self) {
        self.remaining.clear();
        self.at = None;
        self.paused_until = None;
    }

    /// Ledgers in the zone at the last count (`None`: never counted since the start).
    pub(crate) fn fleet_ledgers(&self) -> Option<usize> {
        self.fleet_ledgers
    }

    /// Names a late request may still change, read by the next verification.
    pub(crate) fn recheck(&self) -> &BTreeSet<String> {
        &self.recheck
    }

    /// `names` are read again because a change to them may have been applied; whatever that read finds, a
    /// request applied late may land after it, so the next verification reads them once more.
    pub(crate) fn recheck_later(&mut self, names: &BTreeSet<String>) {
        self.recheck.extend(names.iter().cloned());
    }

    /// When a verification wants to be looked at again: its next time, or the end of its pause.
    pub(crate) fn wake(&self) -> Option<Instant> {
        if self.remaining.is_empty() {
            self.at
        } else {
            self.paused_until
        }
    }

    /// Whether none is in progress and the next one is due at `now`.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.remaining.is_empty() && self.at.is_some_and(|at| at <= now)
    }

    /// No verification: a dry run (its `current` is what would have been; reading Route53 would only undo
    /// it), or a writer that is shutting down (it has no time for it).
    pub(crate) fn disarm(&mut self) {
        self.paused_until = None;
        self.at = None;
    }

    /// Sets the time of the next verification, for a fleet of `fleet` instances and `calls` names published.
    pub(crate) fn arm(
        &mut self,
        now: Instant,
        verify_interval: Duration,
        fleet: usize,
        calls: usize,
        rng: &mut SmallRng,
    ) {
        self.paused_until = None;
        let mut interval =
            verification_interval(verify_interval, fleet, calls, rng.random::<f64>());
        if !self.verified {
            // The first after a start comes `verify_interval` plus a uniformly random share of the whole
            // interval later: a fleet that restarted together would otherwise verify together, within the
            // interval's 25 % of jitter, at several times the fleet's budget for that while.
            interval = verify_interval + interval.mul_f64(rng.random::<f64>());
        }
        debug!(interval = ?interval, owners = fleet, calls, "next verification");
        self.armed_for = fleet;
        self.at = Some(now + interval);
    }

    /// Starts a verification of `names` and of the names to recheck; with `count_ledgers`, the fleet's
    /// ledgers are counted first. Returns whether it is over already (nothing to read).
    pub(crate) fn begin(&mut self, names: BTreeSet<String>, count_ledgers: bool) -> bool {
        self.at = None;
        self.remaining = names;
        self.remaining.extend(self.recheck.iter().cloned());
        debug!(names = self.remaining.len(), "verifying");
        // With ledgers, the verification first counts them: one request per 300 instances, and the only
        // way to see instances that publish none of this one's names (their share of the budget counts).
        self.ledgers_count_due = count_ledgers;
        self.finished()
    }

    /// Whether the verification in progress has read its last name; if so, it counts as run.
    fn finished(&mut self) -> bool {
        if self.remaining.is_empty() {
            self.verified = true;
        }
        self.remaining.is_empty()
    }

    /// The next step of the verification in progress in the zone `zone_name`, unless there is none or it
    /// is paused.
    pub(crate) fn step(&mut self, now: Instant, zone_name: &str) -> Option<Action> {
        if self.remaining.is_empty() || self.paused_until.is_some_and(|t| t > now) {
            return None;
        }
        self.paused_until = None;
        if std::mem::take(&mut self.ledgers_count_due) {
            let parent = plan::fqdn(ledger::LEDGER_PARENT, zone_name);
            return Some(Action::CountOwners { parent });
        }
        let step: BTreeSet<String> = self
            .remaining
            .iter()
            .take(VERIFY_NAMES_PER_STEP)
            .cloned()
            .collect();
        self.remaining.retain(|name| !step.contains(name));
        Some(Action::ReadNames {
            names: step,
            purpose: ReadPurpose::Verify,
        })
    }

    /// The fleet's ledgers were counted (or could not be: the verification goes on without the count, and the
    /// next one counts again). A fleet more than twice the size this verification was armed for puts it off
    /// (returns true: arm it again, for the fleet counted): instances that started together and saw only the
    /// owners of their own names would otherwise all verify within the short interval they armed, at several
    /// times the fleet's budget, the count costing a request each.
    pub(crate) fn ledgers_counted(&mut self, result: Result<usize, Route53Error>) -> bool {
        match result {
            Ok(owners) => {
                debug!(owners, "counted the fleet's ledgers");
                self.fleet_ledgers = Some(owners);
                if owners > self.armed_for.saturating_mul(2) {
                    debug!(
                        owners,
                        armed_for = self.armed_for,
                        "the fleet is larger than the verification was armed for; put off"
                    );
                    self.remaining.clear();
                    return true;
                }
                false
            }
            Err(e) => {
                debug!(error = %e, "could not count the fleet's ledgers");
                false
            }
        }
    }

    /// A step read `read`: the backoff starts over, and those names need no recheck. Returns whether the
    /// verification is over (arm the next one).
    pub(crate) fn step_read(&mut self, read: &BTreeMap<String, Vec<RecordSet>>) -> bool {
        self.backoff.reset();
        self.recheck.retain(|name| !read.contains_key(name));
        self.finished()
    }

    /// The step that read `names` failed with `e`: only this step is tried again, after the verification's
    /// backoff sized to a fleet of `fleet`, not the whole verification. Starting over after every failure,
    /// one that takes longer than the gap between two throttles would never reach its last names, and would
    /// read once a (short) backoff forever.
    pub(crate) fn step_failed(
        &mut self,
        now: Instant,
        names: BTreeSet<String>,
        e: &Route53Error,
        fleet: usize,
        stats: &Stats,
    ) {
        self.remaining.extend(names);
        self.backoff.set_throttle_window(throttle_window(fleet));
        let delay = self.backoff.next_delay_for(retry_class(e));
        stats.retries.inc();
        warn!(error = %e, retry_in = ?delay, "a verification read failed; trying it again");
        self.paused_until = Some(now + delay);
    }
}
