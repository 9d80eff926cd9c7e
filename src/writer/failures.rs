//! What went wrong with the writer's requests, and when to try again: the retry's backoff, the names whose
//! change may have been applied (read before the next diff), the changes refused for good, and the lost
//! races counted until a refusal counts as one for good (the table of the module documentation of
//! [`crate::writer::reconcile`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use tracing::{error, warn};

use crate::backoff::{Backoff, RetryClass, RetryPolicy};
use crate::route53::rate::throttle_window;
use crate::route53::send::Rejection;
use crate::route53::{group_name, is_conflict, Change, Meaning, Route53Error};
use crate::stats::Stats;
use crate::writer::action::WriteReport;

/// While shutting down, the longest wait before the next try of a failed request: the backoff may have grown
/// to its cap (20 s, and as much again of jitter), longer than `shutdown.timeout` itself.
pub const SHUTDOWN_MAX_RETRY_DELAY: Duration = Duration::from_secs(1);

/// How many times in a row the same changes to a name may be refused as a lost race (the name changed and
/// changed back before it was read again) before the refusal counts as one for good.
pub const SAME_CONFLICTS_FOR_GOOD: u32 = 5;

/// The failures of the writer's requests that still shape what it does.
#[derive(Debug)]
pub(crate) struct Failures {
    /// Backoff between retries of a failed request; kept across a restart.
    backoff: Backoff,
    /// No request before this (after a failure).
    pub(crate) retry_at: Option<Instant>,
    /// Names whose last change failed in a way that may have been applied: read before the next diff.
    pub(crate) uncertain: BTreeSet<String>,
    /// Changes refused for good, by name: not sent again until the diff for that name changes or a
    /// verification re-reads it.
    pub(crate) rejected: BTreeMap<String, Vec<Change>>,
    /// Names whose same changes were refused as a lost race in a row, and how many times.
    same_conflicts: BTreeMap<String, u32>,
}

impl Failures {
    /// No failure yet; `seed` seeds the jitter of the backoff.
    pub(crate) fn new(retry: RetryPolicy, seed: u64) -> Self {
        Failures {
            backoff: Backoff::new(retry, seed),
            retry_at: None,
            uncertain: BTreeSet::new(),
            rejected: BTreeMap::new(),
            same_conflicts: BTreeMap::new(),
        }
    }

    /// The writer restarts: what was known of the names is forgotten (the zone is read again); the backoff,
    /// the retry's time and the lost races are kept.
    pub(crate) fn forget_names(&mut self) {
        self.uncertain.clear();
        self.rejected.clear();
    }

    /// Failed requests in a row (for the log).
    pub(crate) fn attempts(&self) -> u32 {
        self.backoff.attempts()
    }

    /// Whether a retry's time has not come at `now`: then nothing is sent or read before it (returned).
    /// A time that has come is forgotten.
    pub(crate) fn waiting(&mut self, now: Instant) -> Option<Instant> {
        let at = self.retry_at?;
        if at > now {
            return Some(at);
        }
        self.retry_at = None;
        None
    }

    /// The wait before the next try after one more failure of `class`, in a fleet of `fleet`: the
    /// backoff's, capped while shutting down.
    pub(crate) fn next_delay(
        &mut self,
        class: RetryClass,
        fleet: usize,
        shutting_down: bool,
    ) -> Duration {
        self.backoff.set_throttle_window(throttle_window(fleet));
        let delay = self.backoff.next_delay_for(class);
        if shutting_down {
            delay.min(SHUTDOWN_MAX_RETRY_DELAY)
        } else {
            delay
        }
    }

    /// Records a failure to do `what` in the zone `zone_id` and when to try again. Returns whether it is
    /// fatal (the zone is to be forgotten).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn failed(
        &mut self,
        now: Instant,
        what: &str,
        e: &Route53Error,
        zone_id: &str,
        fleet: usize,
        shutting_down: bool,
        stats: &Stats,
    ) -> bool {
        let delay = self.next_delay(retry_class(e), fleet, shutting_down);
        self.retry_at = Some(now + delay);
        stats.retries.inc();
        let attempt = self.backoff.attempts();
        match e.meaning() {
            Meaning::Throttled | Meaning::MaybeApplied => {
                warn!(zone = zone_id, error = %e, attempt, retry_in = ?delay, "could not {what}; retrying")
            }
            Meaning::Refused | Meaning::Fatal => {
                error!(zone = zone_id, error = %e, attempt, retry_in = ?delay, "could not {what}; retrying")
            }
        }
        e.meaning() == Meaning::Fatal
    }

    /// Changes to these names were accepted: their streaks of lost races end.
    pub(crate) fn accepted(&mut self, changes: &[Change]) {
        for change in changes {
            self.same_conflicts
                .remove(group_name(&change.record_set.name));
        }
    }

    /// `rejection` of the changes to `name` was read again, and `now_pending` is what the diff would send
    /// there now. The same changes again count as refused for good (logged, counted, held back), unless the
    /// refusal says it was a lost race: the name may have changed and changed back between the refusal and
    /// the re-read (A-B-A), so that is retried a few times first. Returns whether it is to be retried.
    pub(crate) fn refused(
        &mut self,
        name: String,
        rejection: Rejection,
        now_pending: &[Change],
        report: &mut WriteReport,
        stats: &Stats,
    ) -> bool {
        let streak = self.same_conflicts.entry(name.clone()).or_default();
        let raced = rejection.messages.iter().all(|m| is_conflict(m));
        let same = now_pending == rejection.changes.as_slice();
        let refused_for_good = same && (!raced || *streak >= SAME_CONFLICTS_FOR_GOOD);
        if same {
            *streak += 1;
        }
        if !refused_for_good {
            // Another instance changed the name first (a lost compare-and-swap, or a weighted group
            // created meanwhile): try again with what Route53 holds, after a short jittered wait so that
            // instances racing for one name do not collide again in lock-step.
            warn!(name, messages = ?rejection.messages, "record set changed under us; retrying with what Route53 holds");
            return true;
        }
        self.same_conflicts.remove(&name);
        for change in &rejection.changes {
            error!(
                action = ?change.action,
                name = change.record_set.name,
                values = ?change.record_set.values,
                ttl = change.record_set.ttl,
                messages = ?rejection.messages,
                "change rejected by Route53"
            );
        }
        report.rejected += rejection.changes.len();
        stats
            .rejected_changes
            .inc_by(rejection.changes.len() as u64);
        self.rejected.insert(name, rejection.changes);
        false
    }

    /// Route53 accepted a change: whatever failed before has cleared (a throttle, say), so a failure later
    /// starts the backoff again from its first delay.
    pub(crate) fn cleared(&mut self) {
        self.backoff.reset();
    }

    /// Lost races are tried again after a short jittered wait (the throttle's backoff), in a fleet of
    /// `fleet`.
    pub(crate) fn retry_races(
        &mut self,
        now: Instant,
        fleet: usize,
        shutting_down: bool,
        stats: &Stats,
    ) {
        let delay = self.next_delay(RetryClass::Throttled, fleet, shutting_down);
        stats.retries.inc();
        self.retry_at = Some(now + delay);
    }

    /// The changes of `by_name` less those refused for good. A refused entry whose name now needs other
    /// changes is forgotten, so the new ones are tried.
    pub(crate) fn hold_back_refused(
        &mut self,
        by_name: BTreeMap<String, Vec<Change>>,
    ) -> Vec<Change> {
        self.rejected
            .retain(|name, refused| by_name.get(name) == Some(refused));
        let rejected = &self.rejected;
        by_name
            .into_iter()
            .filter(|(name, _)| !rejected.contains_key(name))
            .flat_map(|(_, c)| c)
            .collect()
    }
}

/// How long to wait before retrying after `e`: a throttle is the account's rate limit, shared by the fleet
/// and soon free again, so it gets the short, fully jittered backoff; any other failure the long one.
pub(crate) fn retry_class(e: &Route53Error) -> RetryClass {
    match e.meaning() {
        Meaning::Throttled => RetryClass::Throttled,
        Meaning::MaybeApplied | Meaning::Refused | Meaning::Fatal => RetryClass::Failed,
    }
}
