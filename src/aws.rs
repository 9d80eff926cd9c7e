//! The AWS SDK's configuration shared by the Route53 and EC2 clients: region and credentials from the
//! standard chain (and `AWS_ENDPOINT_URL`, which the tests point at the emulator), the SDK's own retries
//! turned off, and timeouts on every call.
//!
//! Retries are off because the daemon owns them: every request passes its rate limiter and is counted, and
//! a failure is retried (Route53) or doubted (EC2, which the clean-up simply asks again at its next check).

use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The longest a TCP (and TLS) connection to an AWS endpoint may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Used only when the chain finds no region. Route53 is a global service signed in us-east-1, so it works
/// from anywhere; EC2 is regional, and an EC2 answer from the wrong region does not show this instance,
/// which the clean-up doubts (it deletes nothing).
const FALLBACK_REGION: &str = "us-east-1";

/// The configuration from the standard AWS chain, with the SDK's retries disabled, a connect timeout, and
/// `operation_timeout` on each call (a stalled endpoint becomes a transport error the caller handles).
pub async fn sdk_config(operation_timeout: Duration) -> SdkConfig {
    let region =
        RegionProviderChain::default_provider().or_else(Region::from_static(FALLBACK_REGION));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(operation_timeout))
        .operation_timeout(operation_timeout)
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts)
        .load()
        .await
}

/// The error codes AWS services answer when a request was refused for the account's request rate (Route53
/// says `Throttling`, EC2 `RequestLimitExceeded`); such a request may be sent again later, as it was.
pub const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
];
