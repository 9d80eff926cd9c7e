//! Pure: the account's Route53 request rate as one instance sees it: the adaptive rate that slows an instance
//! down on a throttle and speeds it up again, and the windows throttled retries are spread over. Every decision
//! takes `now` and the random draw, so the tests step a fake clock. How each constant was tuned, with its
//! figures, is in BENCHMARKS.md ("Why the constants are what they are").

use std::time::{Duration, Instant};

use crate::backoff::{full_jitter_delay, RetryPolicy, THROTTLE_MAX_DELAY};

/// Route53's request rate, per AWS account: about 5 per second, shared by every instance of the fleet (and
/// by every other tool in the account).
pub const ACCOUNT_REQUESTS_PER_SECOND: f64 = 5.0;

/// The window a throttled GetHostedZone at start-up is spread over, before anything tells the size of the
/// fleet: a fleet restarting at once retries it about N / 5 s times a second instead of N / 1 s (300
/// instances: 60, not 300, against a quota of 5), and the last one waits at most 10 s behind a free quota.
/// The general backoff's longer waits would leave the quota to the others' reads.
pub const START_THROTTLE_WINDOW: Duration = Duration::from_secs(10);

/// The longest window a throttled retry is spread over, however large the fleet.
pub const THROTTLE_WINDOW_LIMIT: Duration = Duration::from_secs(120);

/// The window a throttled retry may be spread over when `owners` instances share the account's rate: no
/// shorter than [`THROTTLE_MAX_DELAY`], and long enough for each of them to get one request through
/// (`owners` / [`ACCOUNT_REQUESTS_PER_SECOND`]), up to [`THROTTLE_WINDOW_LIMIT`].
///
/// A fleet throttled together (every instance restarting at once, a deploy on every instance) retries in
/// windows that double from the first delay up to this one, so that fewer retries compete for the same
/// tokens than under a single instance's cap.
pub fn throttle_window(owners: usize) -> Duration {
    let fleet = Duration::from_secs_f64(owners as f64 / ACCOUNT_REQUESTS_PER_SECOND);
    fleet.clamp(THROTTLE_MAX_DELAY, THROTTLE_WINDOW_LIMIT)
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

/// How much a throttle slows an instance whose fleet's share does not slow it more: by half. A deeper cut
/// throttles a large fleet a little less, but leaves an unlucky instance of a small one waiting seconds for
/// its next request.
pub const THROTTLE_DECREASE: f64 = 0.5;

/// The highest rate of an instance while its start is spread ([`AdaptiveRate::spread_start`]): a fifth
/// of the account's. A start's three requests then go out over about 2 s instead of 0.4 s, and the fleet's
/// arrivals are as even as their random draws make them, not bursts of three at the account's whole rate.
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
    /// of the window, which the fleet has left less busy than the one that collided. After that, a pause
    /// with full jitter in a window that doubles with each throttle in a row: a start under way finishes
    /// soon after its moment. The later of the two.
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
    /// once, and cutting the rate to the fleet's share would make the instance that collided wait seconds
    /// for each of its next requests. So until the calm ends (the spread, and as long again: the starts
    /// drawn last are still under way after the spread's end), the instance sends at most
    /// [`SPREAD_REQUESTS_PER_SECOND`], and a throttle does not cut its rate but puts its next request off
    /// (`SpreadStart::retry_at`). Then it is as without a spread.
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
    /// request is put off instead (`SpreadStart::retry_at`).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::{Backoff, RetryClass};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
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
}
