//! A [`Route53Api`] that waits for the instance's rate limiter before every request, tells it how Route53
//! answered, and counts every request in the [`Stats`], so that everything sent (reads, changes and their
//! retries, by the writer or anyone else sharing the limiter) stays within `route53.max_requests_per_second`,
//! slows down while Route53 throttles, and shows in `/metrics`.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tracing::info;

use super::{
    outcome, Change, ChangeInfo, HostedZone, Meaning, RecordPage, RecordPosition, Route53Api,
    Route53Error,
};
use crate::route53::rate::{AdaptiveRate, Quota, StartSpread};
use crate::stats::Stats;

/// The rate limiter of this instance's Route53 requests: built once (in `main`) and shared by whoever
/// sends, since the account's budget is one.
pub type Route53Limiter = Arc<AdaptiveLimiter>;

/// At most `per_second` requests in any second (at least 1), evenly spaced: no burst of its own, because
/// the account's bucket (`quota`) is shared by every instance; slower while Route53 throttles
/// ([`AdaptiveRate`]).
pub fn route53_limiter(per_second: u32, quota: Quota) -> Route53Limiter {
    Arc::new(AdaptiveLimiter::new(per_second, quota))
}

/// An [`AdaptiveRate`] on the real clock, shared by the tasks that send: each request books its moment
/// under the lock, then sleeps until it comes, so two senders never take the same one.
#[derive(Debug)]
pub struct AdaptiveLimiter {
    state: Mutex<(AdaptiveRate, SmallRng)>,
}

impl AdaptiveLimiter {
    /// At most `per_second` requests per second, none throttled yet, in an account whose quota is
    /// `quota`.
    pub fn new(per_second: u32, quota: Quota) -> Self {
        AdaptiveLimiter {
            state: Mutex::new((
                AdaptiveRate::new(per_second, quota),
                SmallRng::seed_from_u64(rand::random()),
            )),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut AdaptiveRate, &mut SmallRng) -> T) -> T {
        // A panic while holding the lock leaves a rate that is still a rate: go on with it.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (rate, rng) = &mut *state;
        f(rate, rng)
    }

    /// Waits until the next request may go.
    pub async fn until_ready(&self) {
        let at = self.with(|rate, rng| rate.reserve(Instant::now(), rng.random()));
        tokio::time::sleep_until(at.into()).await;
    }

    /// Takes in Route53's answer to a request: a throttle slows the rate, an accepted request speeds it up
    /// again; any other failure says nothing about the account's rate.
    pub fn answered<T>(&self, result: &Result<T, Route53Error>) {
        match result {
            Ok(_) => self.with(|rate, _| rate.accepted(Instant::now())),
            Err(e) if e.meaning() == Meaning::Throttled => self.with(|rate, rng| {
                let before = rate.spread();
                rate.throttled(Instant::now(), rng.random());
                if let (None, Some((window, Some(starting)))) = (before, rate.spread()) {
                    info!(
                        window = ?window,
                        starting,
                        "Route53 throttled the start: spreading it among the instances starting together"
                    );
                }
            }),
            Err(_) => {}
        }
    }

    /// The instance is going ([`AdaptiveRate::hurry`]).
    pub fn hurry(&self) {
        self.with(|rate, _| rate.hurry());
    }

    /// `owners` instances share the account's rate ([`AdaptiveRate::set_fleet`]).
    pub fn set_fleet(&self, owners: usize) {
        self.with(|rate, _| rate.set_fleet(owners));
    }

    /// This instance starts now, spread as `spread` says ([`AdaptiveRate::start`]).
    pub fn start(&self, spread: StartSpread) {
        self.with(|rate, _| rate.start(Instant::now(), spread));
    }

    /// The current rate, in requests per second.
    pub fn rate(&self) -> f64 {
        self.with(|rate, _| rate.rate())
    }
}

/// Wraps another [`Route53Api`] behind a shared [`Route53Limiter`], counting each request in [`Stats`].
pub struct RateLimited {
    inner: Arc<dyn Route53Api>,
    limiter: Route53Limiter,
    stats: Stats,
}

impl RateLimited {
    /// Every request through `inner` waits for `limiter` first, and is counted in `stats`.
    pub fn new(inner: Arc<dyn Route53Api>, limiter: Route53Limiter, stats: Stats) -> Self {
        RateLimited {
            inner,
            limiter,
            stats,
        }
    }
}

impl RateLimited {
    /// Tells the limiter how Route53 answered, and counts the request.
    fn count<T>(&self, operation: &str, result: &Result<T, Route53Error>) {
        self.limiter.answered(result);
        let failure = result.as_ref().err().map(ToString::to_string);
        self.stats.request(operation, outcome(result), failure);
    }
}

#[async_trait]
impl Route53Api for RateLimited {
    async fn get_hosted_zone(&self, zone_id: &str) -> Result<HostedZone, Route53Error> {
        self.limiter.until_ready().await;
        let result = self.inner.get_hosted_zone(zone_id).await;
        self.count("GetHostedZone", &result);
        result
    }

    async fn list_record_sets(
        &self,
        zone_id: &str,
        start: Option<&RecordPosition>,
        max_items: Option<i32>,
    ) -> Result<RecordPage, Route53Error> {
        self.limiter.until_ready().await;
        let result = self.inner.list_record_sets(zone_id, start, max_items).await;
        self.count("ListResourceRecordSets", &result);
        result
    }

    async fn change_record_sets(
        &self,
        zone_id: &str,
        changes: &[Change],
    ) -> Result<ChangeInfo, Route53Error> {
        self.limiter.until_ready().await;
        self.stats.batch_size.observe(changes.len() as f64);
        let result = self.inner.change_record_sets(zone_id, changes).await;
        self.count("ChangeResourceRecordSets", &result);
        result
    }

    fn fleet_seen(&self, owners: usize) {
        self.limiter.set_fleet(owners);
    }

    fn hurry(&self) {
        self.limiter.hurry();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::testing::{fail, pass, Double};

    /// Answers GetHostedZone, and nothing else.
    fn zone() -> Double {
        Double::scripted().answer_zone(|_| {
            Ok(HostedZone {
                id: "Z".into(),
                name: "zone.".into(),
                private: true,
                record_sets: None,
            })
        })
    }

    #[tokio::test]
    async fn requests_are_spaced_by_the_rate() {
        let inner = Arc::new(zone());
        let stats = Stats::new();
        let limiter = route53_limiter(50, Quota::DOCUMENTED);
        let limited = RateLimited::new(inner.clone(), limiter.clone(), stats.clone());
        let start = Instant::now();
        for _ in 0..6 {
            limited.get_hosted_zone("Z").await.unwrap();
        }
        // The first goes at once, the next five at 20 ms intervals.
        assert!(
            start.elapsed() >= Duration::from_millis(95),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(inner.zones(), 6);
        assert_eq!(stats.requests_of("GetHostedZone", "ok"), 6);
    }

    #[tokio::test]
    async fn a_throttle_slows_the_next_request_to_the_fleets_share() {
        // GetHostedZone is throttled while `throttling` holds.
        let throttling = Arc::new(AtomicBool::new(true));
        let throttled = throttling.clone();
        let inner = Arc::new(zone().before_zone(move |_| {
            if throttled.load(Ordering::SeqCst) {
                fail(Route53Error::Throttling("Rate exceeded".into()))
            } else {
                pass()
            }
        }));
        let stats = Stats::new();
        let limiter = route53_limiter(50, Quota::DOCUMENTED);
        let limited = RateLimited::new(inner.clone(), limiter.clone(), stats.clone());
        // Eighteen owners share the account: a throttle cuts to 3 × 9 / 18 = 1.5 requests per second (half
        // of 50 would be 25).
        limited.fleet_seen(18);
        let start = Instant::now();
        assert!(limited.get_hosted_zone("Z").await.is_err());
        assert_eq!(limiter.rate(), 1.5);
        assert_eq!(stats.requests_of("GetHostedZone", "throttled"), 1);
        throttling.store(false, Ordering::SeqCst);
        limited.get_hosted_zone("Z").await.unwrap();
        // At 50 per second it would have gone after 20 ms; at 1.5, after 333 to 1,000 ms.
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(330) && waited < Duration::from_millis(1500),
            "{waited:?}"
        );
        // The accepted answer speeds it up by half.
        assert_eq!(limiter.rate(), 2.25);
    }

    #[tokio::test]
    async fn two_senders_share_one_limiter() {
        let limiter = route53_limiter(50, Quota::DOCUMENTED);
        let a = RateLimited::new(Arc::new(zone()), limiter.clone(), Stats::new());
        let b = RateLimited::new(Arc::new(zone()), limiter, Stats::new());
        let start = Instant::now();
        for _ in 0..3 {
            a.get_hosted_zone("Z").await.unwrap();
            b.get_hosted_zone("Z").await.unwrap();
        }
        // Six requests through one budget of 50 a second: the last waits five intervals of 20 ms.
        assert!(
            start.elapsed() >= Duration::from_millis(95),
            "{:?}",
            start.elapsed()
        );
    }
}
