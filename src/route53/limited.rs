//! A [`Route53Api`] that waits for the account's rate limiter before every request and counts every request
//! in the [`Stats`], so that everything sent (reads, changes and their retries, by the writer or anyone
//! else sharing the limiter) stays within `route53.max_requests_per_second` and shows in `/metrics`.

use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::{
    outcome, Change, ChangeInfo, HostedZone, RecordPage, RecordPosition, Route53Api, Route53Error,
};
use crate::stats::Stats;

/// The rate limiter of this instance's Route53 requests: built once (in `main`) and shared by whoever
/// sends, since the account's budget is one.
pub type Route53Limiter = Arc<DefaultDirectRateLimiter>;

/// At most `per_second` requests in any second (at least 1), evenly spaced: no burst, because the account's
/// limit of about 5 per second is shared by every instance.
pub fn route53_limiter(per_second: u32) -> Route53Limiter {
    let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::per_second(per_second).allow_burst(NonZeroU32::MIN);
    Arc::new(RateLimiter::direct(quota))
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
    fn count<T>(&self, operation: &str, result: &Result<T, Route53Error>) {
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
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use super::*;

    struct Counting(AtomicUsize);

    #[async_trait]
    impl Route53Api for Counting {
        async fn get_hosted_zone(&self, zone_id: &str) -> Result<HostedZone, Route53Error> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(HostedZone {
                id: zone_id.into(),
                name: "zone.".into(),
                private: true,
                record_sets: None,
            })
        }

        async fn list_record_sets(
            &self,
            _: &str,
            _: Option<&RecordPosition>,
            _: Option<i32>,
        ) -> Result<RecordPage, Route53Error> {
            unreachable!()
        }

        async fn change_record_sets(
            &self,
            _: &str,
            _: &[Change],
        ) -> Result<ChangeInfo, Route53Error> {
            unreachable!()
        }
    }

    #[tokio::test]
    async fn requests_are_spaced_by_the_rate() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let stats = Stats::new();
        let limiter = route53_limiter(50);
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
        assert_eq!(inner.0.load(Ordering::SeqCst), 6);
        assert_eq!(stats.requests_of("GetHostedZone", "ok"), 6);
    }

    #[tokio::test]
    async fn two_senders_share_one_limiter() {
        let limiter = route53_limiter(50);
        let a = RateLimited::new(
            Arc::new(Counting(AtomicUsize::new(0))),
            limiter.clone(),
            Stats::new(),
        );
        let b = RateLimited::new(
            Arc::new(Counting(AtomicUsize::new(0))),
            limiter,
            Stats::new(),
        );
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
