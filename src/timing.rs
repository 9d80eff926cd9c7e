//! Pure: when the writer sends, retries and verifies. Every decision takes `now` (or the random draw) as an
//! argument, so the tests step a fake clock; the writer only arms timers from what these say.

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

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
/// last by seconds (the 10-instance benchmark saw 4–8 s waits behind an idle throttle).
pub const THROTTLE_MAX_DELAY: Duration = Duration::from_secs(2);

/// Route53's request rate, per AWS account: about 5 per second, shared by every instance of the fleet (and
/// by every other tool in the account).
pub const ACCOUNT_REQUESTS_PER_SECOND: f64 = 5.0;

/// The window a throttled GetHostedZone at start-up is spread over, before anything tells the size of the
/// fleet: a fleet restarting at once retries it about N / 5 s times a second instead of N / 1 s (300
/// instances: 60, not 300, against a quota of 5), and the last one waits at most 10 s behind a free quota.
/// The general backoff (20 s plus as much again) left 186 of 300 instances restarting together without
/// their zone after 15 minutes in the fleet bench (BENCHMARKS.md), the quota taken by the others' reads.
pub const START_THROTTLE_WINDOW: Duration = Duration::from_secs(10);

/// The longest window a throttled retry is spread over, however large the fleet.
pub const THROTTLE_WINDOW_LIMIT: Duration = Duration::from_secs(120);

/// The window a throttled retry may be spread over when `owners` instances share the account's rate: no
/// shorter than [`THROTTLE_MAX_DELAY`], and long enough for each of them to get one request through
/// (`owners` / [`ACCOUNT_REQUESTS_PER_SECOND`]), up to [`THROTTLE_WINDOW_LIMIT`].
///
/// A fleet throttled together (every instance restarting at once, a deploy on every instance) retries in
/// windows that double from the first delay up to this one. Capped at 2 s, as for a single instance, a
/// hundred instances keep retrying about 50 times a second against a quota of 5, and nine requests in ten
/// are throttled for as long as it takes; spread over a window sized to the fleet, fewer retries compete for
/// the same tokens (the fleet bench's figures, before and after, are in BENCHMARKS.md).
pub fn throttle_window(owners: usize) -> Duration {
    let fleet = Duration::from_secs_f64(owners as f64 / ACCOUNT_REQUESTS_PER_SECOND);
    fleet.clamp(THROTTLE_MAX_DELAY, THROTTLE_WINDOW_LIMIT)
}

/// The share of the account's Route53 rate that the fleet's listings of the zone may use together, when an
/// instance without a ledger looks for its stale record sets (see `reconcile`).
pub const FLEET_SCAN_REQUESTS_PER_SECOND: f64 = 2.0;

/// The time over which an instance without a ledger spreads its listing of a zone of `pages` pages, when
/// `owners` instances may list it too: long enough for all their listings to take
/// [`FLEET_SCAN_REQUESTS_PER_SECOND`] at most (each instance draws its moment in it).
pub fn scan_spread(owners: usize, pages: usize) -> Duration {
    Duration::from_secs_f64((owners.max(1) * pages) as f64 / FLEET_SCAN_REQUESTS_PER_SECOND)
}

/// How long a start waits before its first Route53 request (`route53.startup_spread`): `draw` (in
/// `[0, 1)`) of `spread`, so that instances starting together arrive spread evenly over it. Every instance's
/// first request going at once is the one collision the adaptive rate cannot prevent: the fleet bench's
/// hundred instances restarting together lost 95 of their first 100 requests to throttling in the first
/// second, a quarter of all they needed, before any of them could know its fleet (BENCHMARKS.md).
pub fn startup_delay(spread: Duration, draw: f64) -> Duration {
    spread.mul_f64(draw.clamp(0.0, 1.0))
}

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
    /// The policy for throttles with the delay capped at `window` ([`throttle_window`]). A policy whose own
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

    /// Throttled waits are spread over windows up to `window` ([`throttle_window`] of the fleet seen);
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

/// The lowest rate a throttled instance slows to, whatever the fleet: one request per
/// [`THROTTLE_WINDOW_LIMIT`], the longest a throttled retry waits.
pub const MIN_REQUESTS_PER_SECOND: f64 = 1.0 / 120.0;

/// The lowest rate throttles slow an instance to by halves ([`AdaptiveRate`]), before it knows the size of
/// its fleet (the GetHostedZone of a start) or when its fleet's share is higher: one request per
/// [`START_THROTTLE_WINDOW`], the window that start's retries are spread over.
pub const START_REQUESTS_PER_SECOND: f64 = 0.1;

/// How many times its even share of the account's rate ([`ACCOUNT_REQUESTS_PER_SECOND`] / owners) a
/// throttled instance keeps. More than one, since the instances of a fleet are seldom all busy at once: at
/// exactly its share, an instance whose neighbours are idle would leave most of the quota unused.
pub const FLEET_SHARE_HEADROOM: f64 = 3.0;

/// How much a throttle slows an instance whose fleet's share does not slow it more: by half. Cutting to a
/// quarter saved a fifth of the throttles of a hundred instances restarting together (which know nothing of
/// their fleet before GetHostedZone answers), but an unlucky instance of ten, throttled three times, then
/// waited 5 to 15 s for its next request, and the fleet bench's restart of ten took 2× its bound.
pub const THROTTLE_DECREASE: f64 = 0.5;

/// The highest rate of an instance while its start is spread ([`AdaptiveRate::spread_start`]): a fifth
/// of the account's. A start's three requests then go out over about 2 s instead of 0.4 s, and the fleet's
/// arrivals are as even as their random draws make them, not bursts of three at the account's whole rate
/// (with bursts, the fleet bench's spread restart of a hundred had a third of its requests throttled; at
/// this pace, a sixth, in one run each).
pub const SPREAD_REQUESTS_PER_SECOND: f64 = 1.0;

/// The first window a throttled request waits in while the start is spread: each throttle in a row
/// doubles it, up to [`SPREAD_THROTTLE_PAUSE_LIMIT`], and the wait is a random draw of it (full jitter).
pub const SPREAD_THROTTLE_PAUSE: Duration = Duration::from_secs(1);

/// The longest window of a throttled wait while the start is spread.
pub const SPREAD_THROTTLE_PAUSE_LIMIT: Duration = Duration::from_secs(8);

/// How much each accepted request speeds a throttled instance up again: by half, up to the configured
/// rate.
pub const ACCEPTED_INCREASE: f64 = 1.5;

/// One instance's Route53 request rate, adapted to the throttling it sees: pure, every decision takes `now`
/// (and the random draw that jitters the spacing), so the tests step a fake clock.
///
/// Route53's quota belongs to the account, shared by every instance, and nothing coordinates them: each
/// learns from its own answers. An instance never throttled sends at `route53.max_requests_per_second`,
/// evenly spaced, exactly as a fixed limiter would (the first request at once, then one per interval).
///
/// A `Throttling` answer cuts the rate, at most once per interval of the current rate (the answers to
/// requests already under way say nothing new, and would otherwise collapse it), to the lower of:
///
/// - half of it, down to [`START_REQUESTS_PER_SECOND`]: what a throttle says when nothing else is
///   known (the GetHostedZone of a start), or when the fleet is larger than the instance thought;
/// - [`FLEET_SHARE_HEADROOM`] times its even share of the account's rate, once the instance knows how many
///   owners share the zone ([`AdaptiveRate::set_fleet`]): halving from 5 per second to a hundred
///   instances' share would cost each seven throttles, paid again by every instance a deploy or a restart
///   wakes up, where this costs one.
///
/// Every accepted request raises the rate by half ([`ACCEPTED_INCREASE`]), back up to the configured rate.
/// The increase is relative, not additive: a step that brings a lone instance back to 5 per second in a few
/// requests would be many times a large fleet's share (300 instances: 0.05 per second), and undo the cut at
/// once. Below the configured rate, each interval is jittered (a draw of 0.5 to 1.5 times it), so that
/// instances cut by the same throttle do not come back in lock-step.
///
/// A start spread over `route53.startup_spread` is the exception ([`AdaptiveRate::spread_start`]): until
/// the fleet's spread starts are done, the instance sends at most [`SPREAD_REQUESTS_PER_SECOND`] and a
/// throttle puts its next request off instead of cutting its rate.
#[derive(Clone, Debug)]
pub struct AdaptiveRate {
    max: f64,
    rate: f64,
    owners: Option<usize>,
    /// The earliest instant the next request may go.
    next: Option<Instant>,
    /// When the last request was let go.
    last: Option<Instant>,
    /// When the rate was last cut.
    last_cut: Option<Instant>,
    /// The start spread over `route53.startup_spread`, while it lasts.
    spread: Option<SpreadStart>,
}

/// A start spread over `route53.startup_spread`, as the rate of one of the instances starting together sees
/// it ([`AdaptiveRate::spread_start`]).
#[derive(Clone, Copy, Debug)]
struct SpreadStart {
    /// The end of the spread: every start of the fleet is drawn before it.
    end: Instant,
    /// The end of the calm: the spread, and as long again.
    calm_until: Instant,
    /// Throttles in a row (since the last accepted request).
    throttles: u32,
    /// Whether Route53 has accepted any request of this instance yet.
    begun: bool,
}

impl SpreadStart {
    /// When a request throttled at `now` may be tried again; `draw` in `[0, 1)`.
    ///
    /// Before anything is accepted, at a draw of the rest of the spread: the start moves to a later moment
    /// of the window, which the fleet has left less busy than the one that collided (the seed that drew a
    /// third more starts than average into the first 15 s of the fleet bench's restart had 30 % of its
    /// requests throttled with a pause alone, 5 % with this). After that, a pause with full jitter in a
    /// window that doubles with each throttle in a row: a start under way finishes soon after its moment.
    /// The later of the two.
    fn retry_at(&mut self, now: Instant, draw: f64) -> Instant {
        self.throttles = self.throttles.saturating_add(1);
        let policy = RetryPolicy {
            min_delay: SPREAD_THROTTLE_PAUSE,
            max_delay: SPREAD_THROTTLE_PAUSE_LIMIT,
        };
        let pause = full_jitter_delay(policy, self.throttles - 1, draw);
        let later = if self.begun {
            Duration::ZERO
        } else {
            self.end
                .saturating_duration_since(now)
                .mul_f64(draw.clamp(0.0, 1.0))
        };
        now + pause.max(later)
    }
}

impl AdaptiveRate {
    /// At most `max_per_second` requests per second (at least 1), none throttled yet.
    pub fn new(max_per_second: u32) -> Self {
        let max = f64::from(max_per_second.max(1));
        AdaptiveRate {
            max,
            rate: max,
            owners: None,
            next: None,
            last: None,
            last_cut: None,
            spread: None,
        }
    }

    /// This instance's start, at `now`, is spread over `spread` (`route53.startup_spread`), as are those of
    /// the instances starting with it: their first requests arrive at random moments of the window, at
    /// about the account's rate if the spread is sized for them (README, "Configuration").
    ///
    /// A throttle then is a collision of the few that drew nearby moments, not the whole fleet sending at
    /// once, and cutting the rate to the fleet's share (a hundred instances: one request per 3 to 10 s)
    /// made the instance that collided pay 10 to 20 s for its next two requests; the fleet bench's spread
    /// starts ended that far past their last draw. So until the calm ends (the spread, and as long
    /// again: the starts drawn last are still under way after the spread's end, and cut to their share
    /// there the scale-out of fifty took 1.73× its bound instead of 1.25×), the instance sends at most
    /// [`SPREAD_REQUESTS_PER_SECOND`], and a throttle does not cut its rate but puts its next request
    /// off ([`SpreadStart::retry_at`]). Then it is as without a spread.
    pub fn spread_start(&mut self, now: Instant, spread: Duration) {
        if spread.is_zero() {
            return;
        }
        self.spread = Some(SpreadStart {
            end: now + spread,
            calm_until: now + spread * 2,
            throttles: 0,
            begun: false,
        });
        self.rate = self.rate.min(self.ceiling(now));
    }

    /// The spread start at `now`, if its calm has not ended.
    fn calm(&mut self, now: Instant) -> Option<&mut SpreadStart> {
        self.spread
            .as_mut()
            .filter(|spread| now < spread.calm_until)
    }

    /// The highest rate at `now`: the configured one, or [`SPREAD_REQUESTS_PER_SECOND`] while a spread
    /// start is calm.
    fn ceiling(&self, now: Instant) -> f64 {
        match self.spread {
            Some(spread) if now < spread.calm_until => self.max.min(SPREAD_REQUESTS_PER_SECOND),
            _ => self.max,
        }
    }

    /// The current rate, in requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// `owners` instances share the account's rate (the writer's estimate of its fleet).
    pub fn set_fleet(&mut self, owners: usize) {
        self.owners = (owners > 0).then_some(owners);
    }

    /// The rate a throttle cuts to, once the fleet's size is known: [`FLEET_SHARE_HEADROOM`] times the even
    /// share of the account's rate, within [`MIN_REQUESTS_PER_SECOND`] and the configured rate.
    pub fn fleet_share(&self) -> Option<f64> {
        let owners = self.owners?;
        let share = FLEET_SHARE_HEADROOM * ACCOUNT_REQUESTS_PER_SECOND / owners as f64;
        Some(share.clamp(MIN_REQUESTS_PER_SECOND.min(self.max), self.max))
    }

    /// The spacing after a request at the current rate; `draw` in `[0, 1)` jitters it when throttling has
    /// slowed the instance.
    fn interval(&self, draw: f64) -> Duration {
        let interval = Duration::from_secs_f64(1.0 / self.rate);
        if self.rate >= self.max {
            interval
        } else {
            interval.mul_f64(0.5 + draw.clamp(0.0, 1.0))
        }
    }

    /// A request wants to go at `now`: returns when it may (`now` or later), and books that moment, so the
    /// next request goes one interval after it.
    pub fn reserve(&mut self, now: Instant, draw: f64) -> Instant {
        let at = self.next.map_or(now, |next| next.max(now));
        self.last = Some(at);
        self.next = Some(at + self.interval(draw));
        at
    }

    /// Route53 throttled a request, answered at `now`: the rate is cut (see the type), and the next request
    /// waits one interval of the new rate after the last one let go; while a spread start is calm, the next
    /// request is put off instead ([`SpreadStart::retry_at`]).
    pub fn throttled(&mut self, now: Instant, draw: f64) {
        if let Some(spread) = self.calm(now) {
            let at = spread.retry_at(now, draw);
            self.next = Some(self.next.map_or(at, |booked| booked.max(at)));
            return;
        }
        let cut_lately = self
            .last_cut
            .is_some_and(|cut| now < cut + Duration::from_secs_f64(1.0 / self.rate));
        if cut_lately {
            return;
        }
        let half = (self.rate * THROTTLE_DECREASE).max(START_REQUESTS_PER_SECOND);
        let cut = match self.fleet_share() {
            Some(share) => half.min(share),
            None => half,
        };
        if cut < self.rate {
            self.rate = cut;
            self.last_cut = Some(now);
            if let Some(last) = self.last {
                let next = last + self.interval(draw);
                self.next = Some(self.next.map_or(next, |booked| booked.max(next)));
            }
        }
    }

    /// Route53 accepted a request at `now`: the rate grows by [`ACCEPTED_INCREASE`], up to the configured
    /// rate (the spread's, while it is calm).
    pub fn accepted(&mut self, now: Instant) {
        if let Some(spread) = self.spread.as_mut() {
            spread.throttles = 0;
            spread.begun = true;
        }
        self.rate = (self.rate * ACCEPTED_INCREASE).min(self.ceiling(now));
    }
}

/// The rate the whole fleet's verifications are sized for together. The budget is 0.5 requests per second
/// (a tenth of the account's 5); sizing for 0.4 leaves room for random draws that bunch: at 0.5 the fleet
/// bench measured 0.46 per second over 8 hours but 0.57 in its busiest hour.
pub const FLEET_VERIFY_REQUESTS_PER_SECOND: f64 = 0.4;

/// The jitter added to the verification interval: up to this fraction of it, on top (both bounds of the
/// interval are floors, so jitter only lengthens it).
pub const VERIFY_JITTER: f64 = 0.25;

/// How long to wait before the next verification (README, "Configuration": `route53.verify_interval`): at least `floor`
/// (`route53.verify_interval`) and at least `owners_seen * calls_per_verification /
/// FLEET_VERIFY_REQUESTS_PER_SECOND` seconds, so that if every owner in the zone verifies as this one does
/// the fleet stays within its budget of 0.5 requests per second;
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
    fn listings_are_spread_so_the_fleets_stay_within_its_share() {
        // (owners, pages, spread in s): owners × pages / 2 per second.
        let cases = [(1, 1, 0.5), (0, 1, 0.5), (100, 7, 350.0), (300, 20, 3000.0)];
        for (owners, pages, want) in cases {
            assert_eq!(
                scan_spread(owners, pages).as_secs_f64(),
                want,
                "{owners} × {pages}"
            );
        }
    }

    #[test]
    fn the_throttle_window_grows_with_the_fleet() {
        // (owners seen, window in ms)
        let cases = [
            (0, 2_000),
            (1, 2_000),
            (10, 2_000),
            (11, 2_200),
            (100, 20_000),
            (300, 60_000),
            (5_000, 120_000),
        ];
        for (owners, want) in cases {
            assert_eq!(throttle_window(owners), ms(want), "{owners} owners");
        }
    }

    #[test]
    fn throttled_waits_spread_over_the_fleets_window() {
        let policy = RetryPolicy::default();
        let mut alone = Backoff::new(policy, 9);
        let mut in_fleet = Backoff::new(policy, 9);
        in_fleet.set_throttle_window(throttle_window(100));
        let longest = |b: &mut Backoff| {
            (0..40)
                .map(|_| b.next_delay_for(RetryClass::Throttled))
                .max()
                .unwrap()
        };
        assert!(longest(&mut alone) <= THROTTLE_MAX_DELAY);
        let fleet = longest(&mut in_fleet);
        assert!(
            fleet > ms(10_000) && fleet <= ms(20_000),
            "40 draws of up to 20 s: {fleet:?}"
        );
        assert_eq!(
            policy.throttled_within(ms(60_000)).max_delay,
            ms(60_000),
            "over the policy's cap for failures (20 s)"
        );
        let short = RetryPolicy {
            min_delay: ms(5),
            max_delay: ms(50),
        };
        assert_eq!(
            short.throttled_within(ms(60_000)),
            short,
            "a test's cap is kept"
        );
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

    /// `n` requests wanted at `at` (ms after `t0`), one after the other: the moments each may go, in ms.
    fn reserve_all(rate: &mut AdaptiveRate, t0: Instant, at: u64, n: usize, draw: f64) -> Vec<u64> {
        (0..n)
            .map(|_| (rate.reserve(t0 + ms(at), draw) - t0).as_millis() as u64)
            .collect()
    }

    #[test]
    fn an_instance_never_throttled_is_paced_as_by_a_fixed_limiter() {
        let t0 = Instant::now();
        // (max per second, draw, the moments of five requests wanted at once, in ms)
        let cases = [
            (5, 0.0, vec![0, 200, 400, 600, 800]),
            (5, 0.9, vec![0, 200, 400, 600, 800]),
            (50, 0.3, vec![0, 20, 40, 60, 80]),
            (0, 0.5, vec![0, 1000, 2000, 3000, 4000]),
        ];
        for (max, draw, want) in cases {
            let mut rate = AdaptiveRate::new(max);
            assert_eq!(reserve_all(&mut rate, t0, 0, 5, draw), want, "max {max}");
            // Accepted answers keep it where it is, and a request after a quiet spell goes at once.
            rate.accepted(t0);
            assert_eq!(rate.rate(), f64::from(max.max(1)));
            assert_eq!(reserve_all(&mut rate, t0, 60_000, 1, draw), vec![60_000]);
        }
    }

    #[test]
    fn a_start_waits_its_draw_of_the_spread() {
        // (spread in s, draw, the wait in ms): the draw's share, a draw out of [0, 1] clamped.
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
                startup_delay(Duration::from_secs(spread), draw),
                ms(want),
                "spread {spread} s, draw {draw}"
            );
        }
    }

    #[test]
    fn a_throttle_cuts_to_the_fleets_share() {
        let t0 = Instant::now();
        // (owners, the rate after a throttle): 3 × 5 / owners, within 1/120 and the configured 5, or half
        // of 5 if that is lower.
        let cases = [
            (1, 2.5),
            (3, 2.5),
            (6, 2.5),
            (10, 1.5),
            (20, 0.75),
            (100, 0.15),
            (300, 0.05),
            (100_000, MIN_REQUESTS_PER_SECOND),
        ];
        for (owners, want) in cases {
            let mut rate = AdaptiveRate::new(5);
            rate.set_fleet(owners);
            assert_eq!(rate.reserve(t0, 0.5), t0);
            rate.throttled(t0 + ms(5), 0.5);
            assert!(
                (rate.rate() - want).abs() < 1e-9,
                "{owners} owners: {}",
                rate.rate()
            );
            // The retry waits one interval of the new rate after the throttled request (draw 0.5: exactly
            // one), not the 200 ms booked before the throttle.
            let retry = rate.reserve(t0 + ms(10), 0.5) - t0;
            let interval = Duration::from_secs_f64(1.0 / want);
            assert!(
                retry.abs_diff(interval) < ms(1),
                "{owners} owners: retry after {retry:?}, expected {interval:?}"
            );
        }
    }

    #[test]
    fn a_spread_start_is_paced_at_a_fifth_of_the_account_and_a_throttle_puts_it_off() {
        let t0 = Instant::now();
        let mut rate = AdaptiveRate::new(5);
        rate.set_fleet(100);
        rate.spread_start(t0, Duration::from_secs(70));
        // One request per second (draw 0.5: exactly), not five.
        assert_eq!(rate.rate(), SPREAD_REQUESTS_PER_SECOND);
        assert_eq!(reserve_all(&mut rate, t0, 10_000, 2, 0.5), [10_000, 11_000]);
        // Throttled before anything was accepted: put off to a draw of the spread's rest (60 s), the rate
        // not cut, although a hundred owners' share is 0.15 per second.
        rate.throttled(t0 + ms(10_000), 0.5);
        assert_eq!(rate.rate(), SPREAD_REQUESTS_PER_SECOND);
        assert_eq!(reserve_all(&mut rate, t0, 10_100, 1, 0.5), [40_000]);
        // Once a request is accepted the start is under way: (ms of a throttle, the next request's moment)
        // a pause of half (the draw) a window that doubles with each throttle in a row, up to 8 s.
        rate.accepted(t0 + ms(40_100));
        let steps = [
            (41_000, 41_500),
            (42_000, 43_000),
            (44_000, 46_000),
            (47_000, 51_000),
            (52_000, 56_000),
        ];
        for (at, want) in steps {
            rate.throttled(t0 + ms(at), 0.5);
            assert_eq!(
                reserve_all(&mut rate, t0, at + 10, 1, 0.5),
                [want],
                "throttled at {at} ms"
            );
        }
        // An accepted request starts the windows over; the rate stays at the spread's.
        rate.accepted(t0 + ms(57_000));
        assert_eq!(rate.rate(), SPREAD_REQUESTS_PER_SECOND);
        rate.throttled(t0 + ms(60_000), 0.5);
        assert_eq!(reserve_all(&mut rate, t0, 60_010, 1, 0.5), [60_500]);
        // The calm lasts the spread and as long again (140 s): then the configured rate again, and a
        // throttle cuts to the fleet's share.
        rate.accepted(t0 + ms(139_999));
        assert_eq!(rate.rate(), SPREAD_REQUESTS_PER_SECOND);
        rate.accepted(t0 + ms(140_000));
        assert_eq!(rate.rate(), 1.5);
        rate.throttled(t0 + ms(150_000), 0.5);
        assert!((rate.rate() - 0.15).abs() < 1e-9, "{}", rate.rate());
    }

    #[test]
    fn no_spread_is_no_calm() {
        let t0 = Instant::now();
        let mut rate = AdaptiveRate::new(5);
        rate.set_fleet(100);
        rate.spread_start(t0, Duration::ZERO);
        assert_eq!(rate.rate(), 5.0);
        rate.reserve(t0, 0.5);
        rate.throttled(t0, 0.5);
        assert!((rate.rate() - 0.15).abs() < 1e-9, "{}", rate.rate());
    }

    #[test]
    fn the_spacing_of_a_slowed_instance_is_jittered_and_its_bounds_hold() {
        let t0 = Instant::now();
        // (draw, the second request's moment in ms) at 0.15 per second (6,667 ms): half to one and a half.
        let cases = [
            (0.0, 3_333),
            (0.5, 6_666),
            (0.999, 9_993),
            (7.0, 10_000),
            (-1.0, 3_333),
        ];
        for (draw, want) in cases {
            let mut rate = AdaptiveRate::new(5);
            rate.set_fleet(100);
            rate.reserve(t0, 0.5);
            rate.throttled(t0, 0.5);
            rate.reserve(t0, draw);
            let next = (rate.reserve(t0, 0.5) - t0).as_millis() as u64;
            assert!(
                next.abs_diff(6_666 + want) <= 1,
                "draw {draw}: {next} ms, expected {} ms",
                6_666 + want
            );
        }
    }

    #[test]
    fn without_a_lower_share_a_throttle_halves_the_rate_once_per_interval() {
        let t0 = Instant::now();
        // (ms of the throttled answer, the rate after it): a burst within an interval of the current rate
        // cuts once; the cuts stop at one request per START_THROTTLE_WINDOW. The same whether the fleet is
        // unknown (a start's GetHostedZone) or thought too small for its share to cut as much (2 owners:
        // 7.5 per second; the throttles say there are more).
        let steps = [
            (0, 2.5),
            (100, 2.5),
            (399, 2.5),
            (400, 1.25),
            (1_199, 1.25),
            (1_200, 0.625),
            (2_800, 0.3125),
            (5_999, 0.3125),
            (6_000, 0.15625),
            (12_400, START_REQUESTS_PER_SECOND),
            (30_000, START_REQUESTS_PER_SECOND),
            (60_000, START_REQUESTS_PER_SECOND),
        ];
        for owners in [None, Some(2)] {
            let mut rate = AdaptiveRate::new(5);
            if let Some(owners) = owners {
                rate.set_fleet(owners);
            }
            for (at, want) in steps {
                rate.throttled(t0 + ms(at), 0.5);
                assert!(
                    (rate.rate() - want).abs() < 1e-9,
                    "{owners:?} owners, throttled at {at} ms: {}, expected {want}",
                    rate.rate()
                );
            }
            // Told of a fleet whose share is lower still: the next throttle cuts to it.
            rate.set_fleet(300);
            rate.throttled(t0 + ms(100_000), 0.5);
            assert!((rate.rate() - 0.05).abs() < 1e-9, "{}", rate.rate());
            // No owners is no news: an unknown fleet again.
            rate.set_fleet(0);
            assert_eq!(rate.fleet_share(), None);
        }
    }

    #[test]
    fn accepted_requests_speed_a_throttled_instance_up_again() {
        let t0 = Instant::now();
        let mut rate = AdaptiveRate::new(5);
        rate.set_fleet(100);
        rate.reserve(t0, 0.5);
        rate.throttled(t0, 0.5);
        // (the rate after each accepted request): half as much again each, up to the configured 5.
        let want = [
            0.225,
            0.3375,
            0.50625,
            0.759375,
            1.1390625,
            1.70859375,
            2.562890625,
            3.8443359375,
            5.0,
            5.0,
        ];
        for (i, want) in want.into_iter().enumerate() {
            rate.accepted(t0);
            assert!(
                (rate.rate() - want).abs() < 1e-9,
                "after {} accepted: {}",
                i + 1,
                rate.rate()
            );
        }
        // Back at the configured rate: paced exactly again, no jitter.
        let later = reserve_all(&mut rate, t0, 60_000, 3, 0.9);
        assert_eq!(later, vec![60_000, 60_200, 60_400]);
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
            let got = verification_interval(floor, owners, calls, jitter);
            assert_eq!(
                got.as_secs(),
                want,
                "owners {owners}, calls {calls}, jitter {jitter}"
            );
        }
    }
}
