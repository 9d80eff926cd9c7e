//! What went wrong with the writer's requests, and when to try again: the retry's backoff, the names whose
//! change may have been applied (read before the next diff), the changes refused for good, and the lost
//! races counted until a refusal counts as one for good (the table of the module documentation of
//! [`crate::writer::reconcile`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use tracing::{error, warn};

use crate::backoff::{Backoff, RetryClass, RetryPolicy};
use crate::route53::rate::{throttle_window, Quota};
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

/// When a failed request is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Retry {
    /// The wait before the next try.
    pub(crate) delay: Duration,
    /// Failed requests in a row, this one included.
    pub(crate) attempt: u32,
}

/// The failures of the writer's requests that still shape what it does.
#[derive(Debug)]
pub(crate) struct Failures {
    /// Backoff between retries of a failed request; kept across a restart.
    backoff: Backoff,
    /// The account's quota, which sizes a throttled retry's window to the fleet.
    quota: Quota,
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
    /// No failure yet, in an account whose quota is `quota`; `seed` seeds the jitter of the backoff.
    pub(crate) fn new(retry: RetryPolicy, seed: u64, quota: Quota) -> Self {
        Failures {
            backoff: Backoff::new(retry, seed),
            quota,
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
        self.backoff
            .set_throttle_window(throttle_window(fleet, self.quota));
        let delay = self.backoff.next_delay_for(class);
        if shutting_down {
            delay.min(SHUTDOWN_MAX_RETRY_DELAY)
        } else {
            delay
        }
    }

    /// Records one more failure `e` at `now`, in a fleet of `fleet`, and when to try again.
    pub(crate) fn failed(
        &mut self,
        now: Instant,
        e: &Route53Error,
        fleet: usize,
        shutting_down: bool,
    ) -> Retry {
        let delay = self.next_delay(retry_class(e), fleet, shutting_down);
        self.retry_at = Some(now + delay);
        Retry {
            delay,
            attempt: self.backoff.attempts(),
        }
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

#[cfg(test)]
mod tests {
    //! What a failure leads to, on a fake clock: through the whole reconciler, and the machine on its own.

    use super::*;
    use crate::writer::testkit::*;

    /// What each failure of a flush leads to, and when: (error, earliest and latest retry after the
    /// failure, what comes then).
    #[test]
    fn a_failed_flush_is_retried_by_what_the_failure_means() {
        let s = |m: &str| m.to_string();
        let cases: Vec<(Route53Error, u64, u64, &str)> = vec![
            (Route53Error::Throttling(s("Rate exceeded")), 0, 250, "send"),
            (
                Route53Error::PriorRequestNotComplete(s("busy")),
                0,
                250,
                "send",
            ),
            (
                Route53Error::Transport(s("timed out")),
                250,
                500,
                "read the names",
            ),
            (
                Route53Error::Server {
                    status: 503,
                    message: s("unavailable"),
                },
                250,
                500,
                "read the names",
            ),
            (
                Route53Error::NoSuchHostedZone(s("Z1")),
                250,
                500,
                "read the zone",
            ),
            (
                Route53Error::Unauthenticated(s("ExpiredToken")),
                250,
                500,
                "read the zone",
            ),
        ];
        for (error, earliest, latest, then) in cases {
            let mut r = started(settings(Routing::Multivalue), &[], vec![]);
            r.desired_records(t(0), records(&["web"]));
            let action = r.next(t(200));
            r.sent(t(200), failure(&action, error.clone()));
            let retry = idle_until(&r.next(t(200))).expect("a retry time");
            let delay = retry.duration_since(t(200));
            assert!(
                delay >= ms(earliest) && delay < ms(latest),
                "{error:?}: retry after {delay:?}"
            );
            // The retry is not held back by the debounce.
            let action = r.next(retry);
            let what = match &action {
                Action::Send { .. } => "send",
                Action::ReadNames {
                    purpose: ReadPurpose::Uncertain,
                    ..
                } => "read the names",
                Action::ReadZone => "read the zone",
                other => panic!("{error:?}: {other:?}"),
            };
            assert_eq!(what, then, "{error:?}");
        }
    }

    /// A change that may have been applied is read again before the next diff: if it landed, nothing is
    /// sent again; if not, it is.
    #[test]
    fn an_ambiguous_failure_reads_its_names_before_the_retry() {
        for landed in [true, false] {
            let mut r = started(settings(Routing::Multivalue), &[], vec![]);
            r.desired_records(t(0), records(&["web"]));
            let action = r.next(t(200));
            r.sent(
                t(200),
                failure(&action, Route53Error::Transport("reset".into())),
            );
            let retry = idle_until(&r.next(t(200))).unwrap();
            let action = r.next(retry);
            assert_eq!(
                action,
                Action::ReadNames {
                    names: names(&[&fqdn("web")]),
                    purpose: ReadPurpose::Uncertain
                }
            );
            let found = if landed { vec![ours("web")] } else { vec![] };
            r.names_read(
                retry,
                ReadPurpose::Uncertain,
                names(&[&fqdn("web")]),
                Ok(BTreeMap::from([(fqdn("web"), found)])),
            );
            let action = r.next(retry);
            if landed {
                assert!(
                    matches!(action, Action::Idle { settled: true, .. }),
                    "{action:?}"
                );
            } else {
                assert_eq!(
                    sent(&action),
                    vec![(ChangeAction::Create, "web".to_string())]
                );
            }
        }
    }

    /// A change that keeps failing fatally backs off further each time: a zone read that works does not
    /// reset the backoff (the failure is in the change that follows it).
    #[test]
    fn a_change_that_always_fails_backs_off_across_restarts() {
        let mut r = started(settings(Routing::Multivalue), &[], vec![]);
        r.desired_records(t(0), records(&["web"]));
        let mut now = t(200);
        let mut delays = Vec::new();
        for _ in 0..6 {
            let action = r.next(now);
            r.sent(
                now,
                failure(&action, Route53Error::NoSuchHostedZone("Z1".into())),
            );
            let retry = idle_until(&r.next(now)).unwrap();
            delays.push(retry.duration_since(now));
            assert_eq!(r.next(retry), Action::ReadZone);
            r.zone_read(retry, Ok(vec![]));
            now = retry;
        }
        // 250 ms doubling, each with up to as much again of jitter.
        for (i, delay) in delays.iter().enumerate() {
            let base = ms(250 << i);
            assert!(
                *delay >= base && *delay < base * 2,
                "attempt {i}: {delay:?}"
            );
        }
    }

    #[test]
    fn a_restart_forgets_the_zone_and_reads_it_again_after_the_backoff() {
        let mut r = started(settings(Routing::Multivalue), &["web"], vec![]);
        r.restart(t(1000));
        let at = idle_until(&r.next(t(1000))).unwrap();
        assert!(
            at >= t(1250) && at < t(1500),
            "{:?}",
            at.duration_since(t(1000))
        );
        assert_eq!(r.next(at), Action::ReadZone);
        // The zone read shows our record set was deleted meanwhile: it is published again, at once.
        r.zone_read(at, Ok(vec![]));
        assert_eq!(
            sent(&r.next(at)),
            vec![(ChangeAction::Create, "web".to_string())]
        );
    }

    /// A refused change is not sent again until its name's diff changes or a verification reads it; one
    /// whose name holds something else than we thought is retried at once with what Route53 holds.
    #[test]
    fn a_refused_change_is_counted_once_and_not_retried_in_a_loop() {
        let mut r = started(settings(Routing::Multivalue), &[], vec![]);
        r.desired_records(t(0), records(&["bad", "good"]));
        let action = r.next(t(200));
        let Action::Send { batches } = &action else {
            panic!()
        };
        let all = batches.concat();
        let outcome = FlushOutcome {
            accepted: vec![all[1].clone()],
            rejected: vec![Rejection {
                changes: vec![all[0].clone()],
                messages: vec!["refused".into()],
            }],
            reread: BTreeMap::from([(fqdn("bad"), vec![])]),
            requests: 3,
            ..FlushOutcome::default()
        };
        r.sent(t(200), outcome);
        assert_eq!(r.report().rejected, 1);
        assert_eq!(r.stats.rejected_changes.get(), 1);
        assert!(
            matches!(r.next(t(200)), Action::Idle { settled: true, .. }),
            "not sent again"
        );
        r.desired_records(t(300), records(&["bad", "good", "new"]));
        let due = idle_until(&r.next(t(300))).unwrap();
        assert_eq!(due, t(1200), "paced: max_delay after the last flush");
        assert_eq!(
            sent(&r.next(due)),
            vec![(ChangeAction::Create, "new".to_string())],
            "only the new name"
        );
    }

    #[test]
    fn a_restart_sizes_its_throttled_retries_to_the_fleet_the_zone_suggests() {
        let longest_throttled_wait = |record_sets| {
            let mut r = Reconciler::new(
                zone_of(record_sets),
                with_ledger(Routing::Multivalue),
                Stats::new(),
                7,
            );
            r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
            let twenty: BTreeSet<String> = (0..20).map(|i| format!("s{i}")).collect();
            r.desired_records(t(0), crate::desired::DesiredRecords::addresses(twenty));
            let mut longest = Duration::ZERO;
            let mut now = t(0);
            for _ in 0..12 {
                let throttled = Route53Error::Throttling("Rate exceeded".into());
                match r.next(now) {
                    Action::ReadLedgers { .. } => {
                        r.outcome(now, Outcome::LedgersRead(Err(throttled)));
                    }
                    action => r.sent(now, failure(&action, throttled)),
                }
                let Action::Idle {
                    until: Some(at), ..
                } = r.next(now)
                else {
                    panic!("expected a wait for the retry");
                };
                longest = longest.max(at - now);
                now = at;
            }
            (r.fleet_estimate(), longest)
        };
        let (few, few_wait) = longest_throttled_wait(Some(301));
        assert_eq!(few, 15, "301 record sets over 20 names");
        assert!(
            few_wait <= Duration::from_millis(3_000),
            "15 / 9 per second, at least 2 s: {few_wait:?}"
        );
        let (fleet, fleet_wait) = longest_throttled_wait(Some(2_002));
        assert_eq!(fleet, 100, "2,002 record sets over 20 names");
        assert!(
            fleet_wait > Duration::from_secs(5) && fleet_wait <= Duration::from_millis(11_112),
            "spread over up to 100 / 9 per second: {fleet_wait:?}"
        );
    }

    fn failures() -> Failures {
        Failures::new(RetryPolicy::default(), 1, Quota::DOCUMENTED)
    }

    fn create(name: &str) -> Change {
        Change {
            action: ChangeAction::Create,
            record_set: ours(name),
        }
    }

    fn refusal(name: &str, message: &str) -> Rejection {
        Rejection {
            changes: vec![create(name)],
            messages: vec![message.to_string()],
        }
    }

    const RACE: &str =
        "Tried to create resource record set [name='web.service.discovery.', type='A', \
                        set-identifier='10.0.0.1'] but it already exists";
    const INVALID: &str = "RRSet of type A with DNS name web.service.discovery. is not permitted";

    /// `web`'s CREATE refused as a lost race, the diff still wanting it: whether it is retried.
    fn lose_race(f: &mut Failures, report: &mut WriteReport, stats: &Stats) -> bool {
        let web = fqdn("web");
        f.refused(web, refusal("web", RACE), &[create("web")], report, stats)
    }

    #[test]
    fn the_same_changes_refused_as_a_lost_race_count_for_good_after_a_streak() {
        let (mut f, mut report, stats) = (failures(), WriteReport::default(), Stats::new());
        let web = fqdn("web");
        for _ in 0..SAME_CONFLICTS_FOR_GOOD {
            assert!(
                lose_race(&mut f, &mut report, &stats),
                "a lost race is retried"
            );
        }
        let retried = lose_race(&mut f, &mut report, &stats);
        assert!(!retried, "until the streak is long enough");
        assert_eq!(report.rejected, 1);
        assert_eq!(f.rejected.get(&web), Some(&vec![create("web")]));
    }

    #[test]
    fn an_accepted_change_ends_the_streak_of_lost_races() {
        let (mut f, mut report, stats) = (failures(), WriteReport::default(), Stats::new());
        for _ in 0..SAME_CONFLICTS_FOR_GOOD {
            lose_race(&mut f, &mut report, &stats);
        }
        f.accepted(&[create("web")]);
        assert!(lose_race(&mut f, &mut report, &stats), "a new streak");
        assert_eq!(report.rejected, 0);
    }

    #[test]
    fn a_refusal_for_another_reason_counts_for_good_unless_the_diff_changed() {
        let (mut f, mut report, stats) = (failures(), WriteReport::default(), Stats::new());
        let web = fqdn("web");
        let retried = f.refused(
            web.clone(),
            refusal("web", INVALID),
            &[],
            &mut report,
            &stats,
        );
        assert!(retried, "the diff wants something else now: that is tried");
        let retried = f.refused(
            web.clone(),
            refusal("web", INVALID),
            &[create("web")],
            &mut report,
            &stats,
        );
        assert!(!retried, "the same changes again: refused for good at once");
        assert_eq!(stats.rejected_changes.get(), 1);
    }

    #[test]
    fn a_retry_waits_until_its_time_and_is_capped_while_shutting_down() {
        let mut f = failures();
        for _ in 0..10 {
            f.next_delay(RetryClass::Failed, 1, false);
        }
        assert!(f.next_delay(RetryClass::Failed, 1, false) > SHUTDOWN_MAX_RETRY_DELAY);
        assert!(f.next_delay(RetryClass::Failed, 1, true) <= SHUTDOWN_MAX_RETRY_DELAY);
        f.retry_at = Some(t(1000));
        assert_eq!(f.waiting(t(999)), Some(t(1000)));
        assert_eq!(f.waiting(t(1000)), None);
        assert_eq!(f.retry_at, None, "a time that has come is forgotten");
    }
}
