//! An [`Ec2Api`] that waits for this instance's EC2 rate limiter before every request and counts every
//! request in the [`Stats`] (`ec2_requests` in `/metrics`).
//!
//! The clean-up's schedule already keeps the fleet near one check every 5 seconds; the limiter is the floor
//! under it for one instance, so that the pages and queries of one check never leave as a burst into an API
//! quota the account shares with everything else.

use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::{Ec2Api, Ec2Error};
use crate::gc::decide::{Instance, Query};
use crate::stats::Stats;

/// EC2 requests one instance sends per second at most.
pub const EC2_REQUESTS_PER_SECOND: u32 = 1;

/// Wraps another [`Ec2Api`] behind a rate limiter of [`EC2_REQUESTS_PER_SECOND`], counting each request.
pub struct RateLimitedEc2 {
    inner: Arc<dyn Ec2Api>,
    limiter: DefaultDirectRateLimiter,
    stats: Stats,
}

impl RateLimitedEc2 {
    /// Every request through `inner` waits for the limiter first, and is counted in `stats`.
    pub fn new(inner: Arc<dyn Ec2Api>, stats: Stats) -> Self {
        let per_second = NonZeroU32::new(EC2_REQUESTS_PER_SECOND).unwrap_or(NonZeroU32::MIN);
        RateLimitedEc2 {
            inner,
            limiter: RateLimiter::direct(
                Quota::per_second(per_second).allow_burst(NonZeroU32::MIN),
            ),
            stats,
        }
    }
}

#[async_trait]
impl Ec2Api for RateLimitedEc2 {
    async fn describe_instances(&self, query: &Query) -> Result<Vec<Instance>, Ec2Error> {
        self.limiter.until_ready().await;
        let result = self.inner.describe_instances(query).await;
        self.stats
            .ec2_request("DescribeInstances", outcome(&result));
        result
    }
}

/// The `outcome` label of a request's result: `ok`, `throttled`, `error` (an error answer) or `unreachable`.
pub fn outcome<T>(result: &Result<T, Ec2Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Ec2Error::Throttled(_)) => "throttled",
        Err(Ec2Error::Service { .. }) => "error",
        Err(Ec2Error::Transport(_)) => "unreachable",
    }
}
