//! A [`Route53Api`] that waits for a rate limiter before every request, so that everything the writer sends
//! (reads, changes and their retries) stays within `route53.max_requests_per_second`.

use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::{Change, ChangeInfo, HostedZone, RecordPage, RecordPosition, Route53Api, Route53Error};

/// Wraps another [`Route53Api`] behind a `governor` rate limiter.
pub struct RateLimited {
    inner: Arc<dyn Route53Api>,
    limiter: DefaultDirectRateLimiter,
}

impl RateLimited {
    /// At most `per_second` requests in any second (at least 1), evenly spaced: no burst, because the
    /// account's limit of about 5 per second is shared by every instance.
    pub fn new(inner: Arc<dyn Route53Api>, per_second: u32) -> Self {
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(per_second).allow_burst(NonZeroU32::MIN);
        RateLimited {
            inner,
            limiter: RateLimiter::direct(quota),
        }
    }
}

#[async_trait]
impl Route53Api for RateLimited {
    async fn get_hosted_zone(&self, zone_id: &str) -> Result<HostedZone, Route53Error> {
        self.limiter.until_ready().await;
        self.inner.get_hosted_zone(zone_id).await
    }

    async fn list_record_sets(
        &self,
        zone_id: &str,
        start: Option<&RecordPosition>,
        max_items: Option<i32>,
    ) -> Result<RecordPage, Route53Error> {
        self.limiter.until_ready().await;
        self.inner.list_record_sets(zone_id, start, max_items).await
    }

    async fn change_record_sets(
        &self,
        zone_id: &str,
        changes: &[Change],
    ) -> Result<ChangeInfo, Route53Error> {
        self.limiter.until_ready().await;
        self.inner.change_record_sets(zone_id, changes).await
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
        let limited = RateLimited::new(inner.clone(), 50);
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
    }
}
