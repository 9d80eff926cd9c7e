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
use crate::route53::rate::{throttle_window, Quota};
use crate::route53::{RecordSet, Route53Error};
use crate::stats::Stats;
use crate::writer::action::{Action, ReadPurpose};
use crate::writer::failures::retry_class;
use crate::writer::ledger;
use crate::writer::pacing::verification_interval;

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
    /// The account's quota, which sizes the fleet's budget for verifications.
    quota: Quota,
    /// When the next sweep of the whole zone is due (`None`: not armed): it finds record sets of this
    /// instance that its ledger misses (a ledger edited by hand), which a listing puts in the ledger.
    sweep_at: Option<Instant>,
}

impl Verification {
    /// Nothing armed, in an account whose quota is `quota`; `seed` seeds the jitter of its backoff.
    pub(crate) fn new(retry: RetryPolicy, seed: u64, quota: Quota) -> Self {
        Verification {
            quota,
            at: None,
            paused_until: None,
            remaining: BTreeSet::new(),
            ledgers_count_due: false,
            fleet_ledgers: None,
            armed_for: 0,
            verified: false,
            backoff: Backoff::new(retry, seed),
            recheck: BTreeSet::new(),
            sweep_at: None,
        }
    }

    /// Sets the time of the next sweep of the zone: `interval` from `now` ([`crate::writer::pacing::sweep_interval`]).
    pub(crate) fn arm_sweep(&mut self, now: Instant, interval: Duration) {
        debug!(interval = ?interval, "next sweep of the zone");
        self.sweep_at = Some(now + interval);
    }

    /// When the next sweep is due, if armed.
    pub(crate) fn sweep_at(&self) -> Option<Instant> {
        self.sweep_at
    }

    /// Whether a sweep is due at `now`, no verification being in progress.
    pub(crate) fn sweep_due(&self, now: Instant) -> bool {
        self.remaining.is_empty() && self.sweep_at.is_some_and(|at| at <= now)
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
        self.sweep_at = None;
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
        self.sweep_at = None;
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
        let mut interval = verification_interval(
            verify_interval,
            fleet,
            calls,
            self.quota,
            rng.random::<f64>(),
        );
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
            let parent = ledger::ledger_parent(zone_name);
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

    /// The fleet's members were counted outside a verification (a start reads the fleet's ledgers).
    pub(crate) fn members_counted(&mut self, members: usize) {
        self.fleet_ledgers = Some(members);
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
        self.backoff
            .set_throttle_window(throttle_window(fleet, self.quota));
        let delay = self.backoff.next_delay_for(retry_class(e));
        stats.retries.inc();
        warn!(error = %e, retry_in = ?delay, "a verification read failed; trying it again");
        self.paused_until = Some(now + delay);
    }
}

#[cfg(test)]
mod tests {
    //! The verification on a fake clock: through the whole reconciler, and the machine on its own.

    use super::*;
    use crate::writer::testkit::*;

    #[test]
    fn a_fleet_started_together_spreads_its_first_verifications_over_the_whole_interval() {
        // 300 owners of two names: each instance verifies every 300 × 2 / 0.4 = 1500 s (plus jitter).
        let zone: Vec<RecordSet> = (0..300)
            .flat_map(|k| {
                let owner = format!("10.9.{}.{}", k / 250, k % 250 + 1);
                [record("a", &owner), record("b", &owner)]
            })
            .chain([ours("a"), ours("b")])
            .collect();
        let firsts: Vec<Duration> = (0..40)
            .map(|seed| {
                let settings = settings(Routing::Multivalue);
                let mut r = Reconciler::new(zone_of(None), settings, Stats::new(), seed);
                r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
                r.desired_records(t(0), records(&["a", "b"]));
                assert_eq!(r.next(t(0)), Action::ReadZone);
                r.zone_read(t(0), Ok(zone.clone()));
                idle_until(&r.next(t(0)))
                    .expect("a verification armed")
                    .duration_since(t(0))
            })
            .collect();
        let earliest = firsts.iter().min().unwrap();
        let latest = firsts.iter().max().unwrap();
        assert!(
            *earliest >= Duration::from_secs(900),
            "never before the floor"
        );
        assert!(
            *latest - *earliest > Duration::from_secs(600),
            "spread over more than half the interval, not bunched in its jitter: {earliest:?}..{latest:?}"
        );
        assert!(*latest <= Duration::from_secs(900 + 1875));
    }

    #[test]
    fn verification_reads_one_name_a_step_lets_changes_out_between_steps_and_repairs_drift() {
        let zone = vec![ours("a"), ours("b"), ours("c")];
        let mut r = started(settings(Routing::Multivalue), &["a", "b", "c"], zone);
        let due = idle_until(&r.next(t(0))).expect("a verification armed");
        let interval = due.duration_since(t(0));
        assert!(
            interval >= Duration::from_secs(900) && interval <= Duration::from_secs(900 + 1125),
            "the first after the start: the floor, plus a random share of an interval: {interval:?}"
        );

        let step = |r: &mut Reconciler, now: Instant| match r.next(now) {
            Action::ReadNames {
                names,
                purpose: ReadPurpose::Verify,
            } => names,
            other => panic!("expected a verification step, got {other:?}"),
        };
        let first = step(&mut r, due);
        assert_eq!(first, names(&[&fqdn("a")]));
        r.names_read(
            due,
            ReadPurpose::Verify,
            first,
            Ok(BTreeMap::from([(fqdn("a"), vec![ours("a")])])),
        );
        // A withdrawal arrives: the next steps are read while the debounce runs, one at a time, and the
        // withdrawal goes out when the debounce ends, not after the whole verification.
        r.desired_records(due, records(&["a", "b"]));
        let second = step(&mut r, due);
        assert_eq!(second, names(&[&fqdn("b")]));
        r.names_read(
            due + ms(150),
            ReadPurpose::Verify,
            second,
            Ok(BTreeMap::from([(fqdn("b"), vec![ours("b")])])),
        );
        let third = step(&mut r, due + ms(150));
        assert_eq!(third, names(&[&fqdn("c")]));
        r.names_read(
            due + ms(190),
            ReadPurpose::Verify,
            third,
            Ok(BTreeMap::from([(fqdn("c"), vec![ours("c")])])),
        );
        let flush_at = idle_until(&r.next(due + ms(190))).unwrap();
        assert_eq!(flush_at, due + ms(200));
        let action = r.next(flush_at);
        assert_eq!(sent(&action), vec![(ChangeAction::Delete, "c".to_string())]);
        r.sent(flush_at, accept_all(&action));
        let next = idle_until(&r.next(flush_at)).expect("the next verification");
        assert!(next >= flush_at + Duration::from_secs(900));

        // At the next one, `b` was deleted by hand: the repair goes out at once.
        let first = step(&mut r, next);
        r.names_read(
            next,
            ReadPurpose::Verify,
            first,
            Ok(BTreeMap::from([(fqdn("a"), vec![ours("a")])])),
        );
        let second = step(&mut r, next);
        r.names_read(
            next,
            ReadPurpose::Verify,
            second,
            Ok(BTreeMap::from([(fqdn("b"), vec![])])),
        );
        assert_eq!(
            sent(&r.next(next)),
            vec![(ChangeAction::Create, "b".to_string())]
        );
    }

    /// On a throttled account a failed verification read is tried again on its own after the verification's
    /// backoff, and the verification goes on from there; meanwhile the writer counts as settled.
    #[test]
    fn a_failed_verification_step_pauses_and_goes_on_from_where_it_failed() {
        let zone = vec![ours("a"), ours("b")];
        let mut r = started(settings(Routing::Multivalue), &["a", "b"], zone);
        let due = idle_until(&r.next(t(0))).unwrap();
        let Action::ReadNames { names: first, .. } = r.next(due) else {
            panic!()
        };
        r.names_read(
            due,
            ReadPurpose::Verify,
            first,
            Ok(BTreeMap::from([(fqdn("a"), vec![ours("a")])])),
        );
        let Action::ReadNames { names: second, .. } = r.next(due) else {
            panic!()
        };
        assert_eq!(second, names(&[&fqdn("b")]));
        r.names_read(
            due,
            ReadPurpose::Verify,
            second,
            Err(Route53Error::Throttling("Rate exceeded".into())),
        );
        let action = r.next(due);
        let Action::Idle {
            until: Some(resume),
            settled: true,
        } = action
        else {
            panic!("paused and settled: {action:?}");
        };
        assert!(
            resume > due && resume <= due + ms(250),
            "{:?}",
            resume.duration_since(due)
        );
        assert_eq!(
            r.next(resume),
            Action::ReadNames {
                names: names(&[&fqdn("b")]),
                purpose: ReadPurpose::Verify
            },
            "the failed name again, not the verification from the start"
        );
    }

    /// A shutdown cancels the verification in progress: the step in flight ends, no other starts.
    #[test]
    fn shutdown_stops_a_verification() {
        let zone = vec![ours("a"), ours("b"), ours("c")];
        let mut r = started(settings(Routing::Multivalue), &["a", "b", "c"], zone);
        let due = idle_until(&r.next(t(0))).unwrap();
        let Action::ReadNames {
            names: first,
            purpose,
        } = r.next(due)
        else {
            panic!()
        };
        r.shutdown(false);
        r.names_read(
            due,
            purpose,
            first,
            Err(Route53Error::Throttling("slow".into())),
        );
        assert_eq!(r.next(due), idle(None, true));
    }

    #[test]
    fn a_dry_run_never_verifies() {
        let mut r = started(
            WriterSettings {
                dry_run: true,
                ..settings(Routing::Multivalue)
            },
            &["web"],
            vec![],
        );
        assert_eq!(r.next(t(0)), idle(None, true));
    }

    /// The owners seen at this instance's names are only those that share them: a fleet of disjoint
    /// groups would each verify as if it were alone, at several times the fleet's budget. With ledgers, a
    /// start counts the members, and each verification counts them again first; the next interval is
    /// sized by the count.
    #[test]
    fn a_verification_counts_the_fleets_ledgers_and_the_next_one_is_sized_by_them() {
        // A reconciler of one name, whose start found its own ledger alone, at its first verification.
        let counting = || {
            let ledger = Some(ledger_listing(&["web"]));
            let mut r = web_past_the_ledger(ledger);
            let due = idle_until(&r.next(t(2))).expect("a verification armed");
            assert_eq!(r.fleet_estimate(), 1, "the members its start counted");
            assert_eq!(
                r.next(due),
                Action::CountOwners {
                    parent: fqdn("_owners._route53-registrator")
                },
                "the count comes first"
            );
            (r, due)
        };

        // A fleet more than twice as large as the one the verification was armed for puts it off, armed
        // again for the count.
        let (mut r, due) = counting();
        r.outcome(due, Outcome::OwnersCounted(Ok(fleet_of(3_000))));
        assert_eq!(r.fleet_estimate(), 3_000);
        let later = idle_until(&r.next(due)).expect("armed again, nothing read now");
        assert!(
            later.duration_since(due) >= Duration::from_secs(900),
            "armed again from the count: {:?}",
            later.duration_since(due)
        );
        // That one counts as many, reads, and arms the next for them.
        assert!(matches!(r.next(later), Action::CountOwners { .. }));
        r.outcome(later, Outcome::OwnersCounted(Ok(fleet_of(3_000))));
        let Action::ReadNames {
            names: read,
            purpose,
        } = r.next(later)
        else {
            panic!("then the names are read");
        };
        let held = read
            .iter()
            .map(|n| (n.clone(), vec![ours("web")]))
            .collect();
        r.names_read(later, purpose, read, Ok(held));
        let next = idle_until(&r.next(later)).expect("the next verification armed");
        assert!(
            next.duration_since(later) >= Duration::from_secs(3_000 * 5 / 2),
            "3,000 owners of one name at 0.4 reads per second: {:?}",
            next.duration_since(later)
        );

        // A count within twice the armed fleet: the names are read.
        let (mut r, due) = counting();
        r.outcome(due, Outcome::OwnersCounted(Ok(fleet_of(2))));
        assert_eq!(r.fleet_estimate(), 2);
        assert!(matches!(
            r.next(due),
            Action::ReadNames {
                purpose: ReadPurpose::Verify,
                ..
            }
        ));

        // A count that fails leaves the estimate as it was, and the verification goes on.
        let (mut r, due) = counting();
        r.outcome(
            due,
            Outcome::OwnersCounted(Err(Route53Error::Throttling("Rate exceeded".into()))),
        );
        assert_eq!(r.fleet_estimate(), 1);
        assert!(matches!(
            r.next(due),
            Action::ReadNames {
                purpose: ReadPurpose::Verify,
                ..
            }
        ));
    }

    fn verification() -> Verification {
        Verification::new(RetryPolicy::default(), 1, Quota::DOCUMENTED)
    }

    fn verify_step(list: &[&str]) -> Option<Action> {
        Some(Action::ReadNames {
            names: names(list),
            purpose: ReadPurpose::Verify,
        })
    }

    #[test]
    fn a_verification_counts_the_ledgers_first_then_reads_one_name_a_step() {
        let mut v = verification();
        assert!(
            !v.begin(names(&["a.z.", "b.z."]), true),
            "two names to read"
        );
        let parent = crate::writer::record::fqdn(crate::writer::ledger::LEDGER_PARENT, ZONE);
        assert_eq!(v.step(t(0), ZONE), Some(Action::CountOwners { parent }));
        assert_eq!(v.step(t(0), ZONE), verify_step(&["a.z."]));
        assert_eq!(v.step(t(0), ZONE), verify_step(&["b.z."]));
        assert_eq!(v.step(t(0), ZONE), None, "nothing left to read");
    }

    #[test]
    fn a_failed_step_pauses_the_verification_and_is_read_again_after_the_pause() {
        let mut v = verification();
        v.begin(names(&["a.z."]), false);
        assert_eq!(v.step(t(0), ZONE), verify_step(&["a.z."]));
        let timed_out = Route53Error::Transport("timed out".into());
        v.step_failed(t(0), names(&["a.z."]), &timed_out, 1, &Stats::new());
        let resume = v.wake().expect("paused until some time");
        assert!(resume > t(0));
        assert_eq!(v.step(t(0), ZONE), None, "paused");
        assert_eq!(v.step(resume, ZONE), verify_step(&["a.z."]));
    }

    #[test]
    fn names_to_recheck_are_read_by_the_next_verification_until_read() {
        let mut v = verification();
        v.recheck_later(&names(&["late.z."]));
        assert!(
            !v.begin(BTreeSet::new(), false),
            "a name to recheck is read even when nothing is published"
        );
        assert_eq!(v.step(t(0), ZONE), verify_step(&["late.z."]));
        let read = BTreeMap::from([("late.z.".to_string(), Vec::new())]);
        assert!(v.step_read(&read), "the last name was read");
        assert!(v.recheck().is_empty());
    }

    #[test]
    fn a_fleet_counted_at_more_than_twice_the_armed_one_puts_the_verification_off() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let mut v = verification();
        v.arm(t(0), Duration::from_secs(900), 10, 1, &mut rng);
        assert!(v.wake().is_some_and(|at| at > t(0)), "armed");
        assert!(!v.begin(names(&["a.z."]), true));
        assert!(
            !v.ledgers_counted(Ok(20)),
            "twice the fleet armed for goes on"
        );
        assert!(v.ledgers_counted(Ok(21)), "more is put off");
        assert_eq!(v.step(t(0), ZONE), None, "and its names are not read");
        assert_eq!(v.fleet_ledgers(), Some(21));
    }
}
