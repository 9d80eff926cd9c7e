//! Pure: when the writer sends, retries and verifies. Every decision takes `now` (or the random draw) as an
//! argument, so the tests step a fake clock; the writer only arms timers from what these say.

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// Coalesces changes: a flush is due `debounce` after the last change, and never later than `max_delay`
/// after the first change not yet flushed, so that a steady stream of changes still goes out regularly.
#[derive(Clone, Debug)]
pub struct Debounce {
    debounce: Duration,
    max_delay: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Debounce {
    /// A debounce with nothing pending.
    pub fn new(debounce: Duration, max_delay: Duration) -> Self {
        Debounce {
            debounce,
            max_delay,
            first: None,
            last: None,
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

    /// When the pending changes are due: the earlier of `last + debounce` and `first + max_delay`; `None`
    /// when nothing is pending.
    pub fn deadline(&self) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        Some((last + self.debounce).min(first + self.max_delay))
    }

    /// Whether the pending changes are due at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|deadline| deadline <= now)
    }

    /// Forgets the pending changes: they are being flushed. Changes after this start a new window.
    pub fn flushed(&mut self) {
        self.first = None;
        self.last = None;
    }
}

/// The bounds of the retry backoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first delay.
    pub min_delay: Duration,
    /// The delay stops doubling here (jitter may add up to as much again).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 250 ms, doubling up to 20 s: the first retries come soon after a throttle, and a long Route53 outage
    /// costs one request per 20–40 s per instance.
    fn default() -> Self {
        RetryPolicy {
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
        }
    }
}

/// Exponential backoff with jitter and no limit on attempts: a change is never dropped, only delayed.
///
/// The delays come from `backon`'s [`ExponentialBuilder`]: attempt `n` waits `d = min(min_delay * 2^n,
/// max_delay)` plus a random jitter in `[0, d)`. The jitter's generator is seeded by the caller (from its
/// RNG), so that a fleet of instances throttled together does not retry in lock-step, and tests are
/// deterministic.
#[derive(Debug)]
pub struct Backoff {
    builder: ExponentialBuilder,
    policy: RetryPolicy,
    seed: u64,
    resets: u64,
    delays: Option<ExponentialBackoff>,
    attempts: u32,
}

impl Backoff {
    /// A backoff with no failure yet.
    pub fn new(policy: RetryPolicy, seed: u64) -> Self {
        let builder = ExponentialBuilder::new()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times();
        Backoff {
            builder,
            policy,
            seed,
            resets: 0,
            delays: None,
            attempts: 0,
        }
    }

    /// The delay before the next attempt, after one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let (builder, seed) = (self.builder, self.seed.wrapping_add(self.resets));
        let delays = self
            .delays
            .get_or_insert_with(|| builder.with_jitter_seed(seed).build());
        self.attempts = self.attempts.saturating_add(1);
        // Without `max_times` the iterator never ends; the fallback only keeps this total.
        delays.next().unwrap_or(self.policy.max_delay)
    }

    /// When to try again after a failure at `now`.
    pub fn retry_at(&mut self, now: Instant) -> Instant {
        now + self.next_delay()
    }

    /// Failures since the last success.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// A success: the next failure starts again from the first delay.
    pub fn reset(&mut self) {
        if self.delays.take().is_some() {
            self.resets = self.resets.wrapping_add(1);
        }
        self.attempts = 0;
    }
}

/// The share of the account's Route53 rate (about 5 requests per second) that the whole fleet's
/// verifications may use together.
pub const FLEET_VERIFY_REQUESTS_PER_SECOND: f64 = 0.5;

/// The jitter added to the verification interval: up to this fraction of it, on top (both bounds of the
/// interval are floors, so jitter only lengthens it).
pub const VERIFY_JITTER: f64 = 0.25;

/// How long to wait before the next verification (PRODUCT.md, "Verification"): at least `floor`
/// (`route53.verify_interval`) and at least `owners_seen * calls_per_verification / 0.5` seconds, so that
/// if every owner in the zone verifies as this one does the fleet stays within 0.5 requests per second;
/// then lengthened by `jitter` (a draw in `[0, 1)`) times [`VERIFY_JITTER`], so that instances started
/// together spread out.
pub fn verification_interval(
    floor: Duration,
    owners_seen: usize,
    calls_per_verification: usize,
    jitter: f64,
) -> Duration {
    let fleet_calls = owners_seen.max(1) as f64 * calls_per_verification as f64;
    let spread = Duration::from_secs_f64(fleet_calls / FLEET_VERIFY_REQUESTS_PER_SECOND);
    let base = floor.max(spread);
    base.mul_f64(1.0 + jitter.clamp(0.0, 1.0) * VERIFY_JITTER)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        d.flushed();
        assert!(!d.is_pending());
        assert!(!d.is_due(t0 + ms(10_000)));
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
        // After a flush, the next window starts at the next change.
        d.flushed();
        d.changed(t0 + ms(1050));
        assert_eq!(d.deadline(), Some(t0 + ms(1250)));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let policy = RetryPolicy {
            min_delay: ms(100),
            max_delay: ms(1600),
        };
        let mut b = Backoff::new(policy, 7);
        let mut base = ms(100);
        for attempt in 0..10 {
            let delay = b.next_delay();
            assert!(
                delay >= base && delay < base * 2,
                "attempt {attempt}: {delay:?} not in [{base:?}, 2×)"
            );
            base = (base * 2).min(ms(1600));
        }
        assert_eq!(b.attempts(), 10);
    }

    #[test]
    fn backoff_never_gives_up() {
        let mut b = Backoff::new(RetryPolicy::default(), 1);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            let at = b.retry_at(t0);
            assert!(at > t0 && at <= t0 + RetryPolicy::default().max_delay * 2);
        }
    }

    #[test]
    fn backoff_reset_starts_over() {
        let policy = RetryPolicy {
            min_delay: ms(100),
            max_delay: ms(10_000),
        };
        let mut b = Backoff::new(policy, 3);
        for _ in 0..5 {
            b.next_delay();
        }
        assert!(b.next_delay() >= ms(3200));
        b.reset();
        assert_eq!(b.attempts(), 0);
        let first = b.next_delay();
        assert!(first >= ms(100) && first < ms(200), "{first:?}");
    }

    #[test]
    fn backoff_jitter_depends_on_the_seed() {
        let policy = RetryPolicy::default();
        let draws = |seed| {
            let mut b = Backoff::new(policy, seed);
            (0..5).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(draws(42), draws(42), "same seed, same delays");
        assert_ne!(
            draws(42),
            draws(43),
            "instances with different seeds spread out"
        );
    }

    #[test]
    fn verification_interval_table() {
        let floor = Duration::from_secs(900);
        // (owners seen, calls per verification, jitter, expected)
        let cases = [
            (1, 3, 0.0, 900),     // a small fleet: the floor
            (0, 0, 0.0, 900),     // nothing published: still the floor
            (100, 10, 0.0, 2000), // 100 owners × 10 names / 0.5 rps
            (100, 10, 1.0, 2500), // + 25 % jitter at most
            (10, 1, 0.5, 1012),   // floor 900 + 12.5 %
            (300, 2, 0.0, 1200),  // 300 × 2 / 0.5
            (100, 10, 7.0, 2500), // a draw out of range is clamped
            (100, 10, -1.0, 2000),
        ];
        for (owners, calls, jitter, want) in cases {
            let got = verification_interval(floor, owners, calls, jitter);
            assert_eq!(
                got.as_secs(),
                want,
                "owners {owners}, calls {calls}, jitter {jitter}"
            );
        }
    }
}
