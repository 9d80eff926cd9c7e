//! Pure: when the writer sends and verifies: the debounce and its pace ([`FlushPacing`]), a start's draw of the start spread, the
//! spread of a listing of the zone, and the verification interval. Every decision takes `now` (or the random
//! draw) as an argument, so the tests step a fake clock; the writer only arms timers from what these say.
//! How the constants were tuned, with their figures, is in BENCHMARKS.md ("Why the constants are what
//! they are").

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::route53::rate::{Quota, StartSpread};
use crate::route53::Change;

/// Coalesces and paces changes: at most one debounced change request per `max_delay` while changes keep
/// coming (README, "Measured numbers").
///
/// A flush is due `debounce` after the last change, and never later than `max_delay` after the first change
/// not yet flushed, so that a steady stream of changes still goes out regularly. It is also never due
/// earlier than `max_delay` after the previous flush: events that arrive with gaps just longer than the
/// debounce (a storm of container starts) would otherwise send a request per gap, where the product allows
/// one per `max_delay`. A change after a quiet period still goes out after `debounce`, since the last flush
/// is long past; and because a flush clears the pending changes, the first change of the next window comes
/// after it, so the `max_delay` bound from the first change still holds.
///
/// Only the debounced flushes are paced: the writer sends retries and urgent flushes (first read, shutdown,
/// a refusal to retry with what Route53 holds) without asking, but tells [`Debounce::flushed`] about them,
/// since each is a request that the next debounced flush must keep its distance from.
#[derive(Clone, Debug)]
pub struct Debounce {
    debounce: Duration,
    max_delay: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
    last_flush: Option<Instant>,
}

impl Debounce {
    /// A debounce with nothing pending and no flush yet.
    pub fn new(debounce: Duration, max_delay: Duration) -> Self {
        Debounce {
            debounce,
            max_delay,
            first: None,
            last: None,
            last_flush: None,
        }
    }

    /// Records a change at `now`.
    pub fn changed(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// Whether a change is waiting to be flushed.
    pub fn is_pending(&self) -> bool {
        self.first.is_some()
    }

    /// When the pending changes are due: the earlier of `last + debounce` and `first + max_delay`, but not
    /// before `max_delay` after the previous flush; `None` when nothing is pending.
    pub fn deadline(&self) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        let coalesced = (last + self.debounce).min(first + self.max_delay);
        Some(match self.last_flush {
            Some(flush) => coalesced.max(flush + self.max_delay),
            None => coalesced,
        })
    }

    /// Whether the pending changes are due at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|deadline| deadline <= now)
    }

    /// The pending changes are being sent at `now` (debounced or not): they are forgotten, changes after
    /// this start a new window, and the next flush is paced from `now`.
    pub fn flushed(&mut self, now: Instant) {
        self.clear();
        self.last_flush = Some(now);
    }

    /// Forgets the pending changes without a flush (they cancelled out, or the writer restarts): the pace
    /// of the last flush still holds.
    pub fn clear(&mut self) {
        self.first = None;
        self.last = None;
    }
}

/// When the writer's next flush goes out: through the [`Debounce`], or at once when something hurries it
/// (the first read, a repair, a retry); and when each name's desired state began to change, until a flush
/// carries it (the latency metric).
#[derive(Clone, Debug)]
pub struct FlushPacing {
    debounce: Debounce,
    /// Send without waiting for the debounce: after the first read, after a refusal whose record set had
    /// changed under us, a retry.
    urgent: bool,
    /// When each name's desired state last changed, until a change request carries it.
    changed_at: BTreeMap<String, Instant>,
}

impl FlushPacing {
    /// Nothing pending, nothing hurried, no flush yet.
    pub fn new(debounce: Duration, max_delay: Duration) -> Self {
        FlushPacing {
            debounce: Debounce::new(debounce, max_delay),
            urgent: false,
            changed_at: BTreeMap::new(),
        }
    }

    /// The desired state of `fqdns` changed at `now` (for each, the earliest change not yet flushed counts).
    pub fn changed(&mut self, now: Instant, fqdns: impl IntoIterator<Item = String>) {
        for fqdn in fqdns {
            self.changed_at.entry(fqdn).or_insert(now);
        }
        self.debounce.changed(now);
    }

    /// The next flush goes out without waiting for the debounce.
    pub fn hurry(&mut self) {
        self.urgent = true;
    }

    /// Nothing is pending (or the writer restarts): the debounce forgets its changes and nothing hurries;
    /// the pace of the last flush still holds.
    pub fn settle(&mut self) {
        self.debounce.clear();
        self.urgent = false;
    }

    /// Only the names of `pending` wait for a flush: a name whose change cancelled out (it came and went
    /// within the debounce) waits for nothing.
    pub fn keep_pending(&mut self, pending: &[Change]) {
        self.changed_at
            .retain(|name, _| pending.iter().any(|c| &c.record_set.name == name));
    }

    /// Whether changes pending at `now` wait for the debounce, and until when (`None`: they go out now).
    /// Nothing waits when hurried or while `shutting_down`.
    pub fn held_until(&mut self, now: Instant, shutting_down: bool) -> Option<Instant> {
        if self.urgent || shutting_down {
            return None;
        }
        if !self.debounce.is_pending() {
            self.debounce.changed(now);
        }
        if self.debounce.is_due(now) {
            return None;
        }
        Some(self.debounce.deadline().unwrap_or(now))
    }

    /// `changes` are flushed at `now`, debounced or not: this flush paces the next debounced one. Returns how
    /// long each change waited since its name's desired state changed (once per change of desired state).
    pub fn flushed(&mut self, now: Instant, changes: &[Change]) -> Vec<Duration> {
        self.debounce.flushed(now);
        self.urgent = false;
        changes
            .iter()
            .filter_map(|c| self.changed_at.remove(&c.record_set.name))
            .map(|at| now.saturating_duration_since(at))
            .collect()
    }
}

/// The share of the account's refill that the fleet's listings of the zone may use together, when an
/// instance without a ledger looks for its stale record sets (see `reconcile`): two fifths (4 per second of
/// Route53's documented 10), so that in a fleet of 100 members in a zone of 7 pages a listing comes within
/// 175 s and a stale record set is gone within 4 minutes.
pub const FLEET_SCAN_SHARE: f64 = 0.4;

/// The time over which an instance without a ledger spreads its listing of a zone of `pages` pages, when
/// `owners` instances may list it too: long enough for all their listings to take [`FLEET_SCAN_SHARE`] of
/// `quota`'s refill at most (each instance draws its moment in it).
pub fn scan_spread(owners: usize, pages: usize, quota: Quota) -> Duration {
    let rate = quota.per_second * FLEET_SCAN_SHARE;
    Duration::from_secs_f64((owners.max(1) * pages) as f64 / rate)
}

/// How long a start waits before its first Route53 request (`route53.startup_spread`): with a window,
/// `draw` (in `[0, 1)`) of it, so that instances starting together arrive spread evenly over it; `auto`
/// goes at once (the limiter spreads the start if Route53 throttles it, `route53::rate::AdaptiveRate`).
pub fn startup_delay(spread: StartSpread, draw: f64) -> Duration {
    match spread {
        StartSpread::Auto => Duration::ZERO,
        StartSpread::Over(window) => window.mul_f64(draw.clamp(0.0, 1.0)),
    }
}

/// The share of the account's refill that the whole fleet's sweeps may use together (see [`sweep_interval`]):
/// a two-hundredth, 0.05 requests per second of Route53's documented 10.
pub const FLEET_SWEEP_SHARE: f64 = 0.005;

/// The shortest time between two sweeps of one instance, however small the fleet: a sweep is a safety net
/// for ledgers edited by hand, not a verification.
pub const SWEEP_FLOOR: Duration = Duration::from_secs(6 * 3600);

/// The time between two sweeps of the zone by one instance (a whole listing, `pages` requests), when
/// `fleet` instances sweep too: long enough that all their sweeps take [`FLEET_SWEEP_SHARE`] of `quota`'s
/// refill at most, and at least [`SWEEP_FLOOR`]; `draw` (in `[0, 1)`) adds up to half again, so that a
/// fleet that started together does not sweep together.
pub fn sweep_interval(fleet: usize, pages: usize, quota: Quota, draw: f64) -> Duration {
    let rate = quota.per_second * FLEET_SWEEP_SHARE;
    let budget = Duration::from_secs_f64((fleet.max(1) * pages.max(1)) as f64 / rate);
    budget
        .max(SWEEP_FLOOR)
        .mul_f64(1.0 + draw.clamp(0.0, 1.0) / 2.0)
}

/// The budget of the whole fleet's verifications together, as a share of the account's refill: a twentieth
/// (0.5 requests per second of Route53's documented 10).
pub const FLEET_VERIFY_SHARE: f64 = 0.05;

/// The share of the budget the verifications are sized for: four fifths (0.4 requests per second of the
/// documented quota), which leaves room for random draws that bunch into a busy hour.
pub const FLEET_VERIFY_SIZED_FOR: f64 = 0.8;

/// The jitter added to the verification interval: up to this fraction of it, on top (both bounds of the
/// interval are floors, so jitter only lengthens it).
pub const VERIFY_JITTER: f64 = 0.25;

/// How long to wait before the next verification (README, "Configuration": `route53.verify_interval`): at least `floor`
/// (`route53.verify_interval`) and at least `owners_seen * calls_per_verification` requests at
/// [`FLEET_VERIFY_SIZED_FOR`] of the budget ([`FLEET_VERIFY_SHARE`] of `quota`'s refill), so that if every
/// owner in the zone verifies as this one does the fleet stays within its budget;
/// then lengthened by `jitter` (a draw in `[0, 1)`) times [`VERIFY_JITTER`], so that instances started
/// together spread out.
pub fn verification_interval(
    floor: Duration,
    owners_seen: usize,
    calls_per_verification: usize,
    quota: Quota,
    jitter: f64,
) -> Duration {
    let fleet_calls = owners_seen.max(1) as f64 * calls_per_verification as f64;
    let rate = quota.per_second * FLEET_VERIFY_SHARE * FLEET_VERIFY_SIZED_FOR;
    let spread = Duration::from_secs_f64(fleet_calls / rate);
    let base = floor.max(spread);
    base.mul_f64(1.0 + jitter.clamp(0.0, 1.0) * VERIFY_JITTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_take_a_two_hundredth_of_the_quota_and_come_no_oftener_than_the_floor() {
        let quota = Quota::DOCUMENTED;
        assert_eq!(
            sweep_interval(1, 1, quota, 0.0),
            SWEEP_FLOOR,
            "a small fleet"
        );
        // 300 instances of a zone of 21 pages: 6,300 requests at 0.05 per second.
        assert_eq!(
            sweep_interval(300, 21, quota, 0.0),
            Duration::from_secs(126_000)
        );
        assert_eq!(
            sweep_interval(300, 21, quota, 0.5),
            Duration::from_secs(157_500),
            "a draw adds up to half again"
        );
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn debounce_waits_for_quiet() {
        let t0 = Instant::now();
        let mut d = Debounce::new(ms(200), ms(1000));
        assert!(!d.is_pending());
        assert_eq!(d.deadline(), None);
        assert!(!d.is_due(t0 + ms(5000)));

        d.changed(t0);
        assert_eq!(d.deadline(), Some(t0 + ms(200)));
        assert!(!d.is_due(t0 + ms(199)));
        // A second change inside the window pushes the deadline back.
        d.changed(t0 + ms(150));
        assert!(!d.is_due(t0 + ms(200)));
        assert!(d.is_due(t0 + ms(350)));
        d.flushed(t0 + ms(350));
        assert!(!d.is_pending());
        assert!(!d.is_due(t0 + ms(10_000)));
    }

    #[test]
    fn a_change_after_a_quiet_period_goes_after_the_debounce() {
        let t0 = Instant::now();
        let mut d = Debounce::new(ms(200), ms(1000));
        d.changed(t0);
        d.flushed(t0 + ms(200));
        // Long after that flush: only the debounce applies.
        d.changed(t0 + ms(5000));
        assert_eq!(d.deadline(), Some(t0 + ms(5200)));
        // Just after it, the pace holds the change until max_delay after the flush.
        let mut d = Debounce::new(ms(200), ms(1000));
        d.flushed(t0);
        d.changed(t0 + ms(300));
        assert_eq!(d.deadline(), Some(t0 + ms(1000)));
        // Forgetting pending changes is not a flush: the pace is still from `t0`.
        d.clear();
        assert!(!d.is_pending());
        d.changed(t0 + ms(500));
        assert_eq!(d.deadline(), Some(t0 + ms(1000)));
        d.changed(t0 + ms(1100));
        assert_eq!(
            d.deadline(),
            Some(t0 + ms(1300)),
            "max_delay after the first"
        );
    }

    /// Steps a fake clock in 10 ms ticks from `t0` to `end`, recording a change at each of `changes` and
    /// flushing whenever the debounce is due; returns the flush times (ms after `t0`).
    fn simulate(mut d: Debounce, changes: &[u64], end: u64) -> Vec<u64> {
        let t0 = Instant::now();
        let mut flushes = Vec::new();
        for tick in (0..=end).step_by(10) {
            let now = t0 + ms(tick);
            if changes.contains(&tick) {
                d.changed(now);
            }
            if d.is_due(now) {
                d.flushed(now);
                flushes.push(tick);
            }
        }
        flushes
    }

    #[test]
    fn changes_that_keep_coming_are_flushed_once_per_max_delay() {
        // A change every 300 ms for 5 s: each gap is longer than the 200 ms debounce.
        let changes: Vec<u64> = (0..=5000).step_by(300).collect();
        let flushes = simulate(Debounce::new(ms(200), ms(1000)), &changes, 8000);
        assert!(
            flushes.len() <= 5 + 1,
            "at most ceil(5 s / 1 s) + 1 flushes: {flushes:?}"
        );
        for pair in flushes.windows(2) {
            assert!(
                pair[1] - pair[0] >= 1000,
                "closer than max_delay: {flushes:?}"
            );
        }
        // Every change went out: the last flush comes after the last change.
        let last_change = *changes.last().unwrap();
        let last_flush = *flushes.last().unwrap();
        assert!(last_flush >= last_change, "{flushes:?}");
        // And no change waited longer than max_delay.
        for change in &changes {
            let sent = flushes.iter().find(|&&f| f >= *change).unwrap();
            assert!(sent - change <= 1000, "change at {change} sent at {sent}");
        }
        // The old rule (debounce only) would have flushed after every gap.
        let first = simulate(Debounce::new(ms(200), ms(1000)), &[0], 1000);
        assert_eq!(first, vec![200], "a lone change: after the debounce");
    }

    #[test]
    fn the_pace_never_holds_a_change_past_max_delay_after_it() {
        // Changes every 100 ms (inside the debounce) for 3 s, after a flush at 0.
        let changes: Vec<u64> = (0..=3000).step_by(100).collect();
        let flushes = simulate(Debounce::new(ms(200), ms(1000)), &changes, 5000);
        // The flush at 1000 takes the change at 1000; the next window opens at 1100, and so on.
        assert_eq!(flushes, vec![1000, 2100, 3200]);
        for change in &changes {
            let sent = flushes.iter().find(|&&f| f >= *change).unwrap();
            assert!(sent - change <= 1000, "change at {change} sent at {sent}");
        }
    }

    #[test]
    fn debounce_never_holds_longer_than_max_delay() {
        let t0 = Instant::now();
        let mut d = Debounce::new(ms(200), ms(1000));
        // A change every 100 ms keeps the quiet window from ever closing.
        let mut now = t0;
        while now < t0 + ms(1000) {
            d.changed(now);
            now += ms(100);
        }
        assert_eq!(d.deadline(), Some(t0 + ms(1000)));
        assert!(d.is_due(t0 + ms(1000)));
        // After a flush, the next window starts at the next change, and goes out max_delay after the flush.
        d.flushed(t0 + ms(1000));
        d.changed(t0 + ms(1050));
        assert_eq!(d.deadline(), Some(t0 + ms(2000)));
        d.changed(t0 + ms(2500));
        d.flushed(t0 + ms(2500));
        d.changed(t0 + ms(4000));
        assert_eq!(d.deadline(), Some(t0 + ms(4200)));
    }

    #[test]
    fn listings_are_spread_so_the_fleets_stay_within_its_share() {
        // (owners, pages, spread in s): owners × pages / 4 per second.
        let cases = [
            (1, 1, 0.25),
            (0, 1, 0.25),
            (100, 7, 175.0),
            (300, 20, 1500.0),
        ];
        for (owners, pages, want) in cases {
            assert_eq!(
                scan_spread(owners, pages, Quota::DOCUMENTED).as_secs_f64(),
                want,
                "{owners} × {pages}"
            );
        }
    }

    #[test]
    fn a_start_waits_its_draw_of_the_spread() {
        // (spread in s, draw, the wait in ms): the draw's share, a draw out of [0, 1] clamped; `auto` at once.
        assert_eq!(startup_delay(StartSpread::Auto, 0.9), Duration::ZERO);
        let cases = [
            (0, 0.7, 0),
            (70, 0.0, 0),
            (70, 0.5, 35_000),
            (70, 0.999, 69_930),
            (70, 3.0, 70_000),
            (70, -1.0, 0),
        ];
        for (spread, draw, want) in cases {
            assert_eq!(
                startup_delay(StartSpread::Over(Duration::from_secs(spread)), draw),
                ms(want),
                "spread {spread} s, draw {draw}"
            );
        }
    }

    #[test]
    fn verification_interval_table() {
        let floor = Duration::from_secs(900);
        // (owners seen, calls per verification, jitter, expected)
        let cases = [
            (1, 3, 0.0, 900),     // a small fleet: the floor
            (0, 0, 0.0, 900),     // nothing published: still the floor
            (100, 10, 0.0, 2500), // 100 owners × 10 names / 0.4 rps
            (100, 10, 1.0, 3125), // + 25 % jitter at most
            (10, 1, 0.5, 1012),   // floor 900 + 12.5 %
            (300, 2, 0.0, 1500),  // 300 × 2 / 0.4
            (100, 10, 7.0, 3125), // a draw out of range is clamped
            (100, 10, -1.0, 2500),
        ];
        for (owners, calls, jitter, want) in cases {
            let got = verification_interval(floor, owners, calls, Quota::DOCUMENTED, jitter);
            assert_eq!(
                got.as_secs(),
                want,
                "owners {owners}, calls {calls}, jitter {jitter}"
            );
        }
    }

    #[test]
    fn a_hurried_flush_does_not_wait_and_a_changes_latency_is_counted_once() {
        let start = Instant::now();
        let web = crate::route53::Change {
            action: crate::route53::ChangeAction::Create,
            record_set: crate::route53::RecordSet::a("web.z.", "10.0.0.1"),
        };
        let mut pacing = FlushPacing::new(ms(200), ms(1000));
        pacing.changed(start, ["web.z.".to_string()]);
        assert_eq!(pacing.held_until(start, false), Some(start + ms(200)));
        assert_eq!(
            pacing.held_until(start, true),
            None,
            "nothing waits at shutdown"
        );
        pacing.hurry();
        assert_eq!(pacing.held_until(start + ms(50), false), None, "hurried");
        assert_eq!(
            pacing.flushed(start + ms(50), std::slice::from_ref(&web)),
            vec![ms(50)]
        );
        assert_eq!(
            pacing.flushed(start + ms(60), &[web]),
            Vec::<Duration>::new(),
            "counted once"
        );
        assert_eq!(
            pacing.held_until(start + ms(60), false),
            Some(start + ms(1060)),
            "no longer hurried; paced from the last flush"
        );
    }
}
