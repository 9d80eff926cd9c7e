//! What the tests share, said once: compiled for the crate's own unit tests (`#[cfg(test)]`) and, through
//! the `test-util` feature, for the integration tests, the benches and the emulator's tests (each turns it
//! on as a dev-dependency). Not part of the daemon's binary.
//!
//! - [`RecordSet`](crate::route53::RecordSet)'s builder ([`record_set`]): `RecordSet::a("web.zone.",
//!   "10.0.0.1").multivalue("10.0.0.1")`, `.weighted(owner, weight)`, `.ttl(n)`, `.values(&[..])`, and
//!   `RecordSet::marker(fqdn)`.
//! - [`ContainerInfo`](crate::docker::container::ContainerInfo)'s builder ([`container`]):
//!   `ContainerInfo::plain(id)`, `ContainerInfo::ecs_service(id, name)`, `.label(key, value)`, `.started_at(t)`.
//! - [`Double`]: the one test double of [`Route53Api`](crate::route53::Route53Api), delegating to any
//!   implementation (the in-process emulator, usually) or answering from a script, counting the calls of
//!   each operation and running the test's hooks before them.
//! - [`Recorder`]: an actor that records every message it is sent, in order ([`WatcherMessage`]: the
//!   watcher's two).
//! - [`wait_until`]: polls a condition until it holds, failing the test after a deadline.
//! - [`Asked`]: an SDK interceptor that notes which operations a client asks for and stops each request
//!   before it is signed or sent.
//! - [`emulator_sdk_config`]: the AWS SDK's Route53 configuration for the emulator over HTTP.

pub mod asked;
pub mod container;
pub mod double;
pub mod record_set;
pub mod recorder;

use std::time::{Duration, Instant};

pub use asked::Asked;
pub use double::{fail, pass, Double, HookFuture};
pub use recorder::{Recordable, Recorder, Recording, WatcherMessage};

/// Polls `condition` every 5 ms (the runtime, actix's or tokio's, runs meanwhile) until it holds; panics
/// naming `what` once `timeout` has passed.
pub async fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The AWS SDK's Route53 configuration for the emulator at `endpoint`, to which a test adds its timeouts:
/// region us-east-1, static test credentials (nothing asks the instance metadata service or leaves the
/// machine), the SDK's retries off (every request the test makes is one request on the wire).
pub fn emulator_sdk_config(endpoint: &str) -> aws_sdk_route53::config::Builder {
    use aws_sdk_route53::config::retry::RetryConfig;
    use aws_sdk_route53::config::{BehaviorVersion, Credentials, Region};
    aws_sdk_route53::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "AKIDTEST",
            "test-secret",
            None,
            None,
            "tests",
        ))
        .retry_config(RetryConfig::disabled())
}
