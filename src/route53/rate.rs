//! Pure: the account's Route53 request rate as one instance sees it: the quota (a token bucket), the adaptive
//! rate that slows an instance down on a throttle and speeds it up again, the spread of a start among a fleet
//! starting together, and the windows throttled retries are spread over. Every decision takes `now` and the
//! random draw, so the tests step a fake clock. How each constant was tuned, with its figures, is in
//! BENCHMARKS.md ("Why the constants are what they are").

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::backoff::{full_jitter_delay, RetryPolicy, THROTTLE_MAX_DELAY};

/// Route53's request quota of one AWS account, shared by every instance of the fleet and every other tool of
/// the account: a token bucket that absorbs `burst` requests at once and refills `per_second` (the Route53
/// Developer Guide, "Throttling for Amazon Route 53 API requests": 50 and 10, for the account and again for
/// each action). Its change-throughput bucket is not modelled: its numbers are not published, and its throttle
/// is handled as any other.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quota {
    /// Requests the bucket holds: what a quiet account absorbs at once.
    pub burst: f64,
    /// Requests it refills per second: what the account sustains.
    pub per_second: f64,
}

impl Quota {
    /// The documented quota: 50 at once, 10 per second.
    pub const DOCUMENTED: Quota = Quota {
        burst: 50.0,
        per_second: 10.0,
    };

    /// The rate the fleet keeps to, all its instances together, once it knows its size:
    /// [`FLEET_SHARE`] of the refill, the rest left for the account's other clients.
    pub fn fleet_rate(self) -> f64 {
        self.per_second * FLEET_SHARE
    }
}

/// The share of the account's refill the fleet takes for itself: nine tenths, a tenth left for the
/// account's other clients (Terraform, external-dns, cert-manager, people at the console).
pub const FLEET_SHARE: f64 = 0.9;

/// The window a throttled GetHostedZone at start-up is spread over by its backoff, before anything tells
/// the size of the fleet; the limiter's start spread ([`StartSpread::Auto`]) puts it off further.
pub const START_THROTTLE_WINDOW: Duration = Duration::from_secs(10);

/// The longest window a throttled retry is spread over, however large the fleet.
pub const THROTTLE_WINDOW_LIMIT: Duration = Duration::from_secs(120);

/// The window a throttled retry may be spread over when `owners` instances share `quota`: no shorter than
/// [`THROTTLE_MAX_DELAY`], and long enough for each of them to get one request through at the fleet's rate
/// ([`Quota::fleet_rate`]), up to [`THROTTLE_WINDOW_LIMIT`].
///
/// A fleet throttled together (every instance restarting at once, a deploy on every instance) retries in
/// windows that double from the first delay up to this one, so that fewer retries compete for the same
/// tokens than under a single instance's cap.
pub fn throttle_window(owners: usize, quota: Quota) -> Duration {
    let fleet = Duration::from_secs_f64(owners as f64 / quota.fleet_rate());
    fleet.clamp(THROTTLE_MAX_DELAY, THROTTLE_WINDOW_LIMIT)
}

/// The lowest rate a throttled instance slows to, whatever the fleet: one request per
/// [`THROTTLE_WINDOW_LIMIT`], the longest a throttled retry waits.
pub const MIN_REQUESTS_PER_SECOND: f64 = 1.0 / 120.0;

/// The lowest rate throttles slow an instance to by halves ([`AdaptiveRate`]), before it knows the size of
/// its fleet or when its fleet's share is higher: one request per [`START_THROTTLE_WINDOW`].
pub const START_REQUESTS_PER_SECOND: f64 = 0.1;

/// How many times its even share of the fleet's rate ([`Quota::fleet_rate`] / owners) a throttled instance
/// keeps. More than one, since the instances of a fleet are seldom all busy at once: at exactly its share,
/// an instance whose neighbours are idle would leave most of the quota unused.
pub const FLEET_SHARE_HEADROOM: f64 = 3.0;

/// How much a throttle slows an instance whose fleet's share does not slow it more: by half. A deeper cut
/// throttles a large fleet a little less, but leaves an unlucky instance of a small one waiting seconds for
/// its next request.
pub const THROTTLE_DECREASE: f64 = 0.5;

/// The highest rate of an instance while its start is spread ([`AdaptiveRate::start`]): one request per
/// second. A start's three requests then go out over about 2 s instead of 0.4 s, and the fleet's arrivals
/// are as even as their moments in the spread, not bursts of three at once.
pub const SPREAD_REQUESTS_PER_SECOND: f64 = 1.0;

/// The first window a throttled request waits in once its start is under way: each throttle in a row
/// doubles it, up to [`SPREAD_THROTTLE_PAUSE_LIMIT`], and the wait is a random draw of it (full jitter).
pub const SPREAD_THROTTLE_PAUSE: Duration = Duration::from_secs(1);

/// The longest window of a throttled wait while the start is spread.
pub const SPREAD_THROTTLE_PAUSE_LIMIT: Duration = Duration::from_secs(8);

/// How much each accepted request speeds a throttled instance up again: by half, up to the configured
/// rate.
pub const ACCEPTED_INCREASE: f64 = 1.5;

/// The requests of a start when nothing is stale: GetHostedZone, the publication of what runs and the
/// read of the ledger. The automatic spread is sized for them, and a start is over for it once this many
/// were accepted.
pub const REQUESTS_PER_START: u32 = 3;

/// The most instances an automatic spread takes to be starting before it has counted the owners in the
/// zone: the fleets the default is made for (up to 300). A larger fleet is counted at the first accepted
/// request of each of its instances.
pub const UNCOUNTED_STARTING_LIMIT: usize = 300;

/// How a start spreads its requests among the instances starting with it (`route53.startup_spread`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartSpread {
    /// `"auto"`: at once, and spread only when Route53 throttles the start, over a window sized for the
    /// instances the throttles say are starting ([`start_window`]).
    Auto,
    /// A duration: the first request waits a random share of it, and the start is calm until twice it
    /// has passed; `0s`: at once, and a throttle is handled as any other.
    Over(Duration),
}

impl fmt::Display for StartSpread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartSpread::Auto => f.write_str("auto"),
            StartSpread::Over(spread) => write!(f, "{}", humantime::format_duration(*spread)),
        }
    }
}

impl std::str::FromStr for StartSpread {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "auto" {
            return Ok(StartSpread::Auto);
        }
        humantime::parse_duration(s.trim())
            .map(StartSpread::Over)
            .map_err(|_| format!("{s:?}, expected \"auto\" or a duration such as \"30s\""))
    }
}

impl Serialize for StartSpread {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StartSpread {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The window over which `starting` instances that start together draw the moments of their starts, so
/// that together they send at the fleet's rate ([`Quota::fleet_rate`]) what the burst does not absorb:
/// ([`REQUESTS_PER_START`] × `starting` − burst) / fleet rate, and at least the time the bucket takes to
/// refill (burst / refill), since a throttle says it is empty.
pub fn start_window(starting: usize, quota: Quota) -> Duration {
    let beyond_burst = (starting as f64 * f64::from(REQUESTS_PER_START) - quota.burst).max(0.0);
    let window = beyond_burst / quota.fleet_rate();
    Duration::from_secs_f64(window.max(quota.burst / quota.per_second))
}

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
///   known, or when the fleet is larger than the instance thought;
/// - [`FLEET_SHARE_HEADROOM`] times its even share of the fleet's rate, once the instance knows how many
///   owners share the zone ([`AdaptiveRate::set_fleet`]): halving from 5 per second to a hundred
///   instances' share would cost each several throttles, paid again by every instance a deploy or a
///   restart wakes up, where this costs one.
///
/// Every accepted request raises the rate by half ([`ACCEPTED_INCREASE`]), back up to the configured rate.
/// The increase is relative, not additive: a step that brings a lone instance back to 5 per second in a few
/// requests would be many times a large fleet's share, and undo the cut at once. Below the configured rate,
/// each interval is jittered (a draw of 0.5 to 1.5 times it), so that instances cut by the same throttle do
/// not come back in lock-step.
///
/// A start is the exception ([`AdaptiveRate::start`]): while it is spread, the instance sends at most
/// [`SPREAD_REQUESTS_PER_SECOND`] and a throttle puts its next request off instead of cutting its rate.
#[derive(Clone, Debug)]
pub struct AdaptiveRate {
    max: f64,
    rate: f64,
    quota: Quota,
    owners: Option<usize>,
    /// The earliest instant the next request may go.
    next: Option<Instant>,
    /// When the last request was let go.
    last: Option<Instant>,
    /// When the rate was last cut.
    last_cut: Option<Instant>,
    /// The instance is going ([`AdaptiveRate::hurry`]): its withdrawal goes at the configured rate.
    hurried: bool,
    /// An automatic start not over yet: when it began, and the requests accepted since.
    auto: Option<(Instant, u32)>,
    /// The start's spread, while it lasts.
    spread: Option<SpreadStart>,
}

/// A start spread among the instances starting together, as one of them sees it.
#[derive(Clone, Copy, Debug)]
struct SpreadStart {
    /// The start.
    origin: Instant,
    /// Every start of the fleet is drawn in `origin .. origin + window`.
    window: Duration,
    /// An automatic spread: the instances its window is sized for, guessed from the throttles or counted,
    /// and this instance's moment in the window as a share of it, drawn once, so that the instances keep
    /// their order as the window grows.
    auto: Option<(usize, f64)>,
    /// Throttles in a row (since the last accepted request).
    throttles: u32,
    /// Whether Route53 has accepted any request of this instance since the spread began.
    begun: bool,
}

impl SpreadStart {
    fn end(&self) -> Instant {
        self.origin + self.window
    }

    /// The end of the calm: the spread, and as long again (the starts drawn last are still under way
    /// after the spread's end).
    fn calm_until(&self) -> Instant {
        self.origin + self.window * 2
    }

    /// This instance's moment in an automatic spread.
    fn moment(&self) -> Option<Instant> {
        let (_, share) = self.auto?;
        Some(self.origin + self.window.mul_f64(share))
    }

    /// An automatic spread sized for `starting` instances (at most `owners`, when they are known).
    fn size_for(&mut self, starting: usize, owners: Option<usize>, quota: Quota) {
        if let Some((sized, _)) = self.auto.as_mut() {
            let most = owners.unwrap_or(UNCOUNTED_STARTING_LIMIT);
            *sized = starting.min(most).max(1);
            self.window = start_window(*sized, quota);
        }
    }

    /// When a request throttled at `now` may be tried again; `draw` in `[0, 1)`.
    ///
    /// An automatic spread takes the throttle for more instances starting than it was sized for: twice as
    /// many once the owners are counted (never more than they), half as many again while they are not (up
    /// to [`UNCOUNTED_STARTING_LIMIT`]); this instance's moment moves with the window
    /// (`AdaptiveRate::reserve` waits for it), also once the start is under way: that spreads a start's
    /// later requests as well as its first (measured: BENCHMARKS.md). Then, before anything is accepted, at a
    /// draw of the rest of the spread: the start moves to a later moment of the window, which the fleet has
    /// left less busy than the one that collided. After that, a pause with full jitter in a window that
    /// doubles with each throttle in a row: a start under way finishes soon after its moment. The later of
    /// these two. Either way no request waits past the window of [`UNCOUNTED_STARTING_LIMIT`] instances or
    /// past [`SPREAD_THROTTLE_PAUSE_LIMIT`] after its throttle, whichever is later.
    fn retry_at(
        &mut self,
        now: Instant,
        draw: f64,
        owners: Option<usize>,
        quota: Quota,
    ) -> Instant {
        if let Some((sized, _)) = self.auto {
            let growth = if owners.is_some() { 2.0 } else { 1.5 };
            let starting = (sized as f64 * growth).ceil() as usize;
            self.size_for(starting, owners, quota);
        }
        self.throttles = self.throttles.saturating_add(1);
        let policy = RetryPolicy {
            min_delay: SPREAD_THROTTLE_PAUSE,
            max_delay: SPREAD_THROTTLE_PAUSE_LIMIT,
        };
        let pause = full_jitter_delay(policy, self.throttles - 1, draw);
        let later = if self.begun {
            Duration::ZERO
        } else {
            self.end()
                .saturating_duration_since(now)
                .mul_f64(draw.clamp(0.0, 1.0))
        };
        now + pause.max(later)
    }
}

impl AdaptiveRate {
    /// At most `max_per_second` requests per second (at least 1), none throttled yet, in an account whose
    /// quota is `quota`.
    pub fn new(max_per_second: u32, quota: Quota) -> Self {
        let max = f64::from(max_per_second.max(1));
        AdaptiveRate {
            max,
            rate: max,
            quota,
            owners: None,
            next: None,
            last: None,
            last_cut: None,
            hurried: false,
            auto: None,
            spread: None,
        }
    }

    /// This instance starts at `now`, spread as `spread` says among the instances that may be starting
    /// with it (`route53.startup_spread`).
    ///
    /// - [`StartSpread::Over`] a window: the instances' first requests arrive at random moments of it (the
    ///   caller waits this instance's share, `writer::pacing::startup_delay`), at about the fleet's rate if
    ///   the window is sized for them.
    /// - [`StartSpread::Auto`]: the first request goes at once, and the start is spread only if Route53
    ///   throttles one of its first [`REQUESTS_PER_START`] requests: then as many instances are starting
    ///   as the burst holds requests at least, and the instance draws its moment in the [`start_window`]
    ///   of that many; each throttle more takes more to be starting (`SpreadStart::retry_at`), and the
    ///   moment moves with the window, so that the instances keep their order. A lone start is never
    ///   throttled, and publishes at once.
    ///
    /// While the start is spread, a throttle is a collision of the few that drew nearby moments, not the
    /// whole fleet sending at once, and cutting the rate to the fleet's share would make the instance that
    /// collided wait seconds for each of its next requests. So until the calm ends (twice the window), the
    /// instance sends at most [`SPREAD_REQUESTS_PER_SECOND`], and a throttle does not cut its rate but puts
    /// its next request off (`SpreadStart::retry_at`). Then it is as without a spread.
    pub fn start(&mut self, now: Instant, spread: StartSpread) {
        match spread {
            StartSpread::Auto => self.auto = Some((now, 0)),
            StartSpread::Over(window) if window.is_zero() => {}
            StartSpread::Over(window) => {
                self.spread = Some(SpreadStart {
                    origin: now,
                    window,
                    auto: None,
                    throttles: 0,
                    begun: false,
                });
                self.rate = self.rate.min(self.ceiling(now));
            }
        }
    }

    /// The spread start at `now`, if its calm has not ended.
    fn calm(&mut self, now: Instant) -> Option<&mut SpreadStart> {
        self.spread
            .as_mut()
            .filter(|spread| now < spread.calm_until())
    }

    /// The highest rate at `now`: the configured one, or [`SPREAD_REQUESTS_PER_SECOND`] while a spread
    /// start is calm.
    fn ceiling(&self, now: Instant) -> f64 {
        match self.spread {
            Some(spread) if now < spread.calm_until() => self.max.min(SPREAD_REQUESTS_PER_SECOND),
            _ => self.max,
        }
    }

    /// The current rate, in requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The window the start is spread over, if it is: (its length, the instances starting it is sized
    /// for when automatic).
    pub fn spread(&self) -> Option<(Duration, Option<usize>)> {
        self.spread
            .map(|spread| (spread.window, spread.auto.map(|(starting, _)| starting)))
    }

    /// The instance is going: what it still sends (its withdrawal, before EC2 takes it away) goes at the
    /// configured rate from now on, ahead of the fleet's share and of the start's spread, and a throttle no
    /// longer slows it (the writer's own backoff, capped while it hurries, still spaces the retries).
    pub fn hurry(&mut self) {
        self.hurried = true;
        self.rate = self.max;
        self.next = None;
        self.auto = None;
        self.spread = None;
    }

    /// `owners` instances share the account's rate (the writer's estimate of its fleet). An automatic
    /// spread is never sized for more instances than that.
    pub fn set_fleet(&mut self, owners: usize) {
        self.owners = (owners > 0).then_some(owners);
        let (quota, owners) = (self.quota, self.owners);
        if let Some(spread) = self.spread.as_mut() {
            if let Some((sized, _)) = spread.auto {
                spread.size_for(sized, owners, quota);
            }
        }
    }

    /// The rate a throttle cuts to, once the fleet's size is known: [`FLEET_SHARE_HEADROOM`] times the even
    /// share of the fleet's rate, within [`MIN_REQUESTS_PER_SECOND`] and the configured rate.
    pub fn fleet_share(&self) -> Option<f64> {
        let owners = self.owners?;
        let share = FLEET_SHARE_HEADROOM * self.quota.fleet_rate() / owners as f64;
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
    /// next request goes one interval after it. In an automatic spread, no request goes before this
    /// instance's moment.
    pub fn reserve(&mut self, now: Instant, draw: f64) -> Instant {
        let moment = self.spread.as_ref().and_then(SpreadStart::moment);
        let at = [Some(now), self.next, moment].into_iter().flatten().max();
        let at = at.unwrap_or(now);
        self.last = Some(at);
        self.next = Some(at + self.interval(draw));
        at
    }

    /// Route53 throttled a request, answered at `now`: the rate is cut (see the type), and the next request
    /// waits one interval of the new rate after the last one let go; while a start is spread, the next
    /// request is put off instead (`SpreadStart::retry_at`). A throttle among an automatic start's first
    /// requests spreads it ([`AdaptiveRate::start`]).
    pub fn throttled(&mut self, now: Instant, draw: f64) {
        if self.hurried {
            return;
        }
        if let Some((origin, _)) = self.auto.take() {
            let starting = self.quota.burst as usize;
            let mut spread = SpreadStart {
                origin,
                window: Duration::ZERO,
                auto: Some((starting, draw.clamp(0.0, 1.0))),
                throttles: 0,
                begun: false,
            };
            spread.size_for(starting, self.owners, self.quota);
            self.spread = Some(spread);
            self.rate = self.rate.min(self.ceiling(now));
            let moment = spread.moment().unwrap_or(now);
            self.next = Some(self.next.map_or(moment, |booked| booked.max(moment)));
            return;
        }
        let (owners, quota) = (self.owners, self.quota);
        if let Some(spread) = self.calm(now) {
            let at = spread.retry_at(now, draw, owners, quota);
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
    /// rate (the spread's, while it is calm). An automatic start whose first [`REQUESTS_PER_START`]
    /// requests were accepted is over: it was never spread.
    pub fn accepted(&mut self, now: Instant) {
        if let Some(spread) = self.spread.as_mut() {
            spread.throttles = 0;
            spread.begun = true;
        }
        if let Some((_, accepted)) = self.auto.as_mut() {
            *accepted += 1;
            if *accepted >= REQUESTS_PER_START {
                self.auto = None;
            }
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
            (18, 2_000),
            (27, 3_000),
            (90, 10_000),
            (540, 60_000),
            (5_000, 120_000),
        ];
        for (owners, want) in cases {
            assert_eq!(
                throttle_window(owners, Quota::DOCUMENTED),
                ms(want),
                "{owners} owners"
            );
        }
    }

    #[test]
    fn throttled_waits_spread_over_the_fleets_window() {
        let policy = RetryPolicy::default();
        let mut alone = Backoff::new(policy, 9);
        let mut in_fleet = Backoff::new(policy, 9);
        in_fleet.set_throttle_window(throttle_window(180, Quota::DOCUMENTED));
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

    /// A leaving instance's withdrawal goes ahead of the fleet's share a throttle set, and later throttles
    /// do not slow it again.
    #[test]
    fn a_hurried_instance_goes_at_its_own_rate_whatever_the_throttles() {
        let t0 = Instant::now();
        let mut rate = AdaptiveRate::new(5, Quota::DOCUMENTED);
        rate.set_fleet(300);
        rate.reserve(t0, 0.5);
        rate.throttled(t0 + ms(10), 0.5);
        let slowed = rate.reserve(t0 + ms(100), 0.5);
        assert!(
            slowed > t0 + ms(5_000),
            "slowed to the fleet's share: {:?}",
            slowed - t0
        );
        rate.hurry();
        assert_eq!(rate.reserve(t0 + ms(100), 0.5), t0 + ms(100), "at once");
        rate.throttled(t0 + ms(150), 0.5);
        assert_eq!(rate.rate(), 5.0, "a throttle no longer slows it");
        assert_eq!(
            rate.reserve(t0 + ms(300), 0.5),
            t0 + ms(300),
            "one interval of its own rate after the last"
        );
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
            let mut rate = AdaptiveRate::new(max, Quota::DOCUMENTED);
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
        // (owners, the rate after a throttle): 3 × 9 (the fleet's rate) / owners, within 1/120 and the
        // configured 5, or half of 5 if that is lower.
        let cases = [
            (1, 2.5),
            (3, 2.5),
            (6, 2.5),
            (18, 1.5),
            (36, 0.75),
            (180, 0.15),
            (540, 0.05),
            (100_000, MIN_REQUESTS_PER_SECOND),
        ];
        for (owners, want) in cases {
            let mut rate = AdaptiveRate::new(5, Quota::DOCUMENTED);
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
    fn a_spread_start_is_paced_at_one_request_per_second_and_a_throttle_puts_it_off() {
        let t0 = Instant::now();
        let mut rate = AdaptiveRate::new(5, Quota::DOCUMENTED);
        rate.set_fleet(180);
        rate.start(t0, StartSpread::Over(Duration::from_secs(70)));
        // One request per second (draw 0.5: exactly), not five.
        assert_eq!(rate.rate(), SPREAD_REQUESTS_PER_SECOND);
        assert_eq!(reserve_all(&mut rate, t0, 10_000, 2, 0.5), [10_000, 11_000]);
        // Throttled before anything was accepted: put off to a draw of the spread's rest (60 s), the rate
        // not cut, although 180 owners' share is 0.15 per second.
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
        // The calm lasts the spread and as long again (140 s); the fleet's share is 3 × 9 / 180.
        assert_calm_ends(&mut rate, t0, 140_000, 0.15);
    }

    /// The calm ends at `end` ms after `t0`: a request accepted 1 ms before it leaves the rate at the
    /// spread's, one accepted at its end raises it by half again, and a throttle then cuts it to `share`.
    fn assert_calm_ends(rate: &mut AdaptiveRate, t0: Instant, end: u64, share: f64) {
        rate.accepted(t0 + ms(end - 1));
        assert_eq!(rate.rate(), SPREAD_REQUESTS_PER_SECOND);
        rate.accepted(t0 + ms(end));
        assert_eq!(rate.rate(), SPREAD_REQUESTS_PER_SECOND * ACCEPTED_INCREASE);
        rate.throttled(t0 + ms(end + 1_000), 0.5);
        assert!((rate.rate() - share).abs() < 1e-9, "{}", rate.rate());
    }

    #[test]
    fn the_start_window_holds_what_the_burst_does_not_at_the_fleets_rate() {
        // (instances starting, window in ms): (3 × starting − 50) / 9 per second, at least 50 / 10.
        let cases = [
            (0, 5_000),
            (1, 5_000),
            (20, 5_000),
            (50, 11_111),
            (100, 27_777),
            (300, 94_444),
        ];
        for (starting, want) in cases {
            assert_eq!(
                start_window(starting, Quota::DOCUMENTED).as_millis(),
                want,
                "{starting} starting"
            );
        }
        // A raised quota: (3 × 300 − 500) / 90.
        let raised = Quota {
            burst: 500.0,
            per_second: 100.0,
        };
        assert_eq!(start_window(300, raised).as_millis(), 5_000);
        assert_eq!(start_window(1_000, raised).as_millis(), 27_777);
    }

    #[test]
    fn an_automatic_start_never_throttled_goes_at_once_and_is_never_spread() {
        let t0 = Instant::now();
        let mut rate = AdaptiveRate::new(5, Quota::DOCUMENTED);
        rate.start(t0, StartSpread::Auto);
        rate.set_fleet(300);
        // A lone restart in a fleet of 300: its three requests at the configured rate, at once.
        assert_eq!(reserve_all(&mut rate, t0, 0, 3, 0.5), [0, 200, 400]);
        for _ in 0..REQUESTS_PER_START {
            rate.accepted(t0 + ms(500));
        }
        // The start is over: a throttle now cuts to the fleet's share (3 × 9 / 300), it spreads nothing.
        rate.throttled(t0 + ms(600), 0.5);
        assert_eq!(rate.spread(), None);
        assert!((rate.rate() - 0.09).abs() < 1e-9, "{}", rate.rate());
        let next = reserve_all(&mut rate, t0, 700, 1, 0.5)[0];
        assert!(
            next.abs_diff(400 + 11_111) <= 1,
            "one interval of 0.09 per second after the last request: {next} ms"
        );
    }

    #[test]
    fn a_throttled_automatic_start_draws_its_moment_in_a_window_that_grows_with_the_throttles() {
        let t0 = Instant::now();
        let mut rate = AdaptiveRate::new(5, Quota::DOCUMENTED);
        rate.start(t0, StartSpread::Auto);
        rate.set_fleet(100);
        // GetHostedZone accepted, the publication throttled: a burst's worth is starting (50, within the
        // 100 owners), whose window is 11.1 s; the draw 0.5 puts this instance's moment at 5.6 s.
        assert_eq!(reserve_all(&mut rate, t0, 0, 2, 0.5), [0, 200]);
        rate.accepted(t0 + ms(100));
        rate.throttled(t0 + ms(250), 0.5);
        assert_eq!(
            rate.spread(),
            Some((Duration::from_secs_f64(100.0 / 9.0), Some(50)))
        );
        assert_eq!(rate.rate(), SPREAD_REQUESTS_PER_SECOND);
        assert_eq!(reserve_all(&mut rate, t0, 260, 1, 0.5), [5_555]);
        // Throttled at its moment: twice as many are starting (100, the owners known: 27.8 s, the moment
        // at 13.9 s), and before anything is accepted the retry is also a draw of the window's rest:
        // (27.8 - 5.6) × 0.5 later.
        rate.throttled(t0 + ms(5_600), 0.5);
        assert_eq!(reserve_all(&mut rate, t0, 5_610, 1, 0.5), [16_688]);
        // Never sized for more than the owners known: the window stays 27.8 s.
        rate.throttled(t0 + ms(17_000), 0.5);
        assert_eq!(rate.spread().and_then(|(_, starting)| starting), Some(100));
        assert_eq!(reserve_all(&mut rate, t0, 17_010, 1, 0.5), [22_388]);
        // Accepted, then throttled: the start is under way, and a throttle pauses it a draw of 1 s
        // (doubling with each in a row), at the spread's rate of one per second.
        rate.accepted(t0 + ms(22_400));
        rate.throttled(t0 + ms(23_000), 0.5);
        assert_eq!(reserve_all(&mut rate, t0, 23_010, 1, 0.5), [23_500]);
        assert_eq!(rate.rate(), SPREAD_REQUESTS_PER_SECOND);
        // The calm lasts twice the window (55.6 s); the fleet's share is 3 × 9 / 100.
        assert_calm_ends(&mut rate, t0, 55_556, 0.27);
    }

    #[test]
    fn an_automatic_spread_grows_by_half_until_the_owners_are_counted_and_never_past_them() {
        let t0 = Instant::now();
        let q = Quota::DOCUMENTED;
        let starting = |rate: &AdaptiveRate| rate.spread().and_then(|(_, starting)| starting);
        let mut rate = AdaptiveRate::new(5, q);
        rate.start(t0, StartSpread::Auto);
        // GetHostedZone throttled before anything is known: a burst's worth is starting (11.1 s, the
        // moment of the draw 0.9 at 10 s).
        assert_eq!(reserve_all(&mut rate, t0, 0, 1, 0.5), [0]);
        rate.throttled(t0 + ms(10), 0.9);
        assert_eq!(reserve_all(&mut rate, t0, 20, 1, 0.5), [10_000]);
        // Throttled again: half as many more (75), and the moment moves with the window.
        rate.throttled(t0 + ms(10_010), 0.0);
        assert_eq!(starting(&rate), Some(75));
        let moment = start_window(75, q).mul_f64(0.9).as_millis() as u64;
        assert_eq!(reserve_all(&mut rate, t0, 10_020, 1, 0.5), [moment]);
        // By halves up to UNCOUNTED_STARTING_LIMIT while nothing counts them.
        let mut grown = Vec::new();
        for k in 1..=5 {
            rate.throttled(t0 + ms(moment + k * 10), 0.0);
            grown.extend(starting(&rate));
        }
        assert_eq!(
            grown,
            [
                113,
                170,
                255,
                UNCOUNTED_STARTING_LIMIT,
                UNCOUNTED_STARTING_LIMIT
            ]
        );
        // Counted: 60 owners, and no more than they, however many throttles.
        rate.set_fleet(60);
        assert_eq!(starting(&rate), Some(60));
        rate.throttled(t0 + ms(moment + 100), 0.0);
        assert_eq!(starting(&rate), Some(60));
        assert_eq!(
            rate.spread().map(|(window, _)| window),
            Some(start_window(60, q))
        );
    }

    #[test]
    fn however_often_a_start_is_throttled_it_waits_no_longer_than_the_largest_window() {
        // The bound the chaos soak's quiet period relies on: nothing counted, throttled again and again
        // before and after its first accepted request, draws near 1, the instance's next request is never
        // later than the window of UNCOUNTED_STARTING_LIMIT instances (94 s) or 8 s after its throttle, for
        // as long as the spread is calm.
        let t0 = Instant::now();
        let q = Quota::DOCUMENTED;
        let window = start_window(UNCOUNTED_STARTING_LIMIT, q);
        let largest = t0 + window;
        let mut rate = AdaptiveRate::new(5, q);
        rate.start(t0, StartSpread::Auto);
        let mut at = t0 + ms(reserve_all(&mut rate, t0, 0, 1, 0.5)[0]);
        let mut latest = t0;
        // Within the calm (twice the window); after it a throttle cuts the rate as without a spread.
        let calm_end = t0 + window * 2;
        let mut k = 0;
        while at < calm_end {
            k += 1;
            rate.throttled(at, 0.99);
            if k == 6 {
                rate.accepted(at);
            }
            let next = rate.reserve(at + ms(10), 0.99);
            let bound = largest.max(at + SPREAD_THROTTLE_PAUSE_LIMIT);
            assert!(
                next <= bound,
                "throttle {k} at {:?}: next at {:?}",
                at - t0,
                next - t0
            );
            latest = latest.max(next);
            at = next + ms(100);
        }
        assert!(
            latest > t0 + ms(80_000),
            "the spread did grow to the limit's window: {:?}",
            latest - t0
        );
        assert_eq!(
            rate.spread().and_then(|(_, starting)| starting),
            Some(UNCOUNTED_STARTING_LIMIT)
        );
    }

    #[test]
    fn no_spread_is_no_calm() {
        let t0 = Instant::now();
        let mut rate = AdaptiveRate::new(5, Quota::DOCUMENTED);
        rate.set_fleet(180);
        rate.start(t0, StartSpread::Over(Duration::ZERO));
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
            let mut rate = AdaptiveRate::new(5, Quota::DOCUMENTED);
            rate.set_fleet(180);
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
            let mut rate = AdaptiveRate::new(5, Quota::DOCUMENTED);
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
            rate.set_fleet(540);
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
        let mut rate = AdaptiveRate::new(5, Quota::DOCUMENTED);
        rate.set_fleet(180);
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
