//! Pure: retry backoff with jitter and no limit on attempts, shared by every retry loop of the daemon (the Docker
//! watcher, the metadata cache, the Route53 reads and writes). Every delay takes the random draw as an argument or
//! comes from a seeded generator, so the tests are deterministic. How the throttle's cap was chosen, with its
//! figures, is in BENCHMARKS.md ("Why the constants are what they are").

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

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

/// The longest wait before retrying a request Route53 throttled (`Throttling`, `PriorRequestNotComplete`).
///
/// The throttle is the account's, shared by the fleet, and it frees up within a second: an instance that
/// backs off for the general cap (20 s and jitter) sits idle while the others' requests go through, and ends
/// last by seconds.
pub const THROTTLE_MAX_DELAY: Duration = Duration::from_secs(2);

/// Why a request is tried again; picks the shape of the wait ([`Backoff::next_delay_for`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryClass {
    /// Refused by a rate limit that clears soon: [`RetryPolicy::throttled_within`], full jitter
    /// ([`full_jitter_delay`]).
    Throttled,
    /// Anything else worth retrying (timeouts, 5xx, a refused connection): the policy as given, with jitter
    /// on top.
    Failed,
}

impl RetryPolicy {
    /// The policy for throttles with the delay capped at `window` (`route53::rate::throttle_window`). A policy whose own
    /// cap is below [`THROTTLE_MAX_DELAY`] (a test's) keeps it; otherwise the fleet's window wins, even over
    /// the policy's cap for other failures: a throttle says the account is busy, not that Route53 is down.
    pub fn throttled_within(self, window: Duration) -> RetryPolicy {
        let max_delay = if self.max_delay < THROTTLE_MAX_DELAY {
            self.max_delay
        } else {
            window
        };
        RetryPolicy {
            min_delay: self.min_delay.min(max_delay),
            max_delay,
        }
    }
}

/// "Full jitter": the wait before retry number `attempt` (0 for the first) is a `draw` in `[0, 1)` of
/// `min(min_delay * 2^attempt, max_delay)`. Instances throttled together spread over the whole window
/// instead of all waiting at least its lower half, so the throttle is never left idle while one waits.
pub fn full_jitter_delay(policy: RetryPolicy, attempt: u32, draw: f64) -> Duration {
    let base = match 1u32.checked_shl(attempt) {
        Some(factor) => policy.min_delay.saturating_mul(factor),
        None => policy.max_delay,
    }
    .min(policy.max_delay);
    base.mul_f64(draw.clamp(0.0, 1.0))
}

/// Exponential backoff with jitter and no limit on attempts: a change is never dropped, only delayed.
///
/// Failures of [`RetryClass::Failed`] (and [`Backoff::next_delay`]) use the policy as given;
/// [`RetryClass::Throttled`] ones [`RetryPolicy::throttled_within`] the throttle window, with full jitter.
/// Both count the failures since the last [`Backoff::reset`] (a success), so either grows while failures of
/// any kind go on.
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
    /// The cap of a throttled wait ([`Backoff::set_throttle_window`]).
    throttle_window: Duration,
    /// The draws of the throttled waits' full jitter.
    rng: SmallRng,
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
            throttle_window: THROTTLE_MAX_DELAY,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The delay before the next attempt, after one more failure of `class`.
    pub fn next_delay_for(&mut self, class: RetryClass) -> Duration {
        match class {
            RetryClass::Failed => self.next_delay(),
            RetryClass::Throttled => {
                let attempt = self.attempts;
                self.attempts = self.attempts.saturating_add(1);
                let policy = self.policy.throttled_within(self.throttle_window);
                full_jitter_delay(policy, attempt, self.rng.random())
            }
        }
    }

    /// Throttled waits are spread over windows up to `window` (`route53::rate::throttle_window` of the fleet seen);
    /// [`THROTTLE_MAX_DELAY`] until told.
    pub fn set_throttle_window(&mut self, window: Duration) {
        self.throttle_window = window;
    }

    /// The delay before the next attempt, after one more failure ([`RetryClass::Failed`]).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
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
    fn throttled_waits_are_capped_lower_with_full_jitter() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.throttled_within(THROTTLE_MAX_DELAY),
            RetryPolicy {
                min_delay: ms(250),
                max_delay: THROTTLE_MAX_DELAY
            }
        );
        let short = RetryPolicy {
            min_delay: ms(5),
            max_delay: ms(50),
        };
        assert_eq!(
            short.throttled_within(THROTTLE_MAX_DELAY),
            short,
            "a lower cap of its own is kept"
        );
        // (attempt, draw, expected ms) for 250 ms doubling up to 2 s.
        let throttled = policy.throttled_within(THROTTLE_MAX_DELAY);
        let cases = [
            (0, 0.0, 0),
            (0, 0.5, 125),
            (1, 0.5, 250),
            (2, 0.999, 999),
            (3, 1.0, 2000),
            (4, 0.5, 1000),
            (40, 0.25, 500),
            (u32::MAX, 0.5, 1000),
            (1, 7.0, 500),
        ];
        for (attempt, draw, want) in cases {
            assert_eq!(
                full_jitter_delay(throttled, attempt, draw).as_millis(),
                want,
                "attempt {attempt}, draw {draw}"
            );
        }
    }

    #[test]
    fn backoff_picks_the_shape_by_class_and_a_success_resets_both() {
        let mut b = Backoff::new(RetryPolicy::default(), 11);
        let mut throttled = Vec::new();
        for _ in 0..50 {
            let delay = b.next_delay_for(RetryClass::Throttled);
            assert!(delay < THROTTLE_MAX_DELAY, "{delay:?}");
            throttled.push(delay);
        }
        assert_eq!(b.attempts(), 50);
        assert!(
            throttled.iter().any(|d| *d < ms(1000)),
            "full jitter reaches below half the cap: {throttled:?}"
        );
        // Other failures keep the long cap.
        let failed = b.next_delay_for(RetryClass::Failed);
        assert!(failed >= ms(250), "{failed:?}");
        for _ in 0..20 {
            b.next_delay_for(RetryClass::Failed);
        }
        assert!(b.next_delay_for(RetryClass::Failed) >= ms(20_000));
        // A success: the next throttle waits at most the first window again.
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert!(b.next_delay_for(RetryClass::Throttled) < ms(250));
        assert_eq!(b.attempts(), 1);
    }
}
