//! What the daemon has done, as one shared handle: built once in `main`, cloned into every actor and into
//! the Route53 client wrapper, each updating its own part. `/metrics` renders it ([`Stats::render`]).
//!
//! The metrics are `prometheus-client`'s: cheap to clone (each clone is the same counter), lock-free to
//! update, and rendered in Prometheus' text format by the crate, not by hand.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::route53::{Meaning, Route53Error};

/// One Route53 request's operation and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `GetHostedZone`, `ListResourceRecordSets`, `ChangeResourceRecordSets`.
    pub operation: String,
    /// `ok`, or the failure's meaning: `throttled`, `maybe_applied`, `refused`, `fatal`.
    pub outcome: String,
}

/// The outcome label of a request's result.
pub fn outcome<T>(result: &Result<T, Route53Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => match e.meaning() {
            Meaning::Throttled => "throttled",
            Meaning::MaybeApplied => "maybe_applied",
            Meaning::Refused => "refused",
            Meaning::Fatal => "fatal",
        },
    }
}

/// The shared statistics handle. Cloning it shares the same metrics.
#[derive(Clone)]
pub struct Stats {
    /// Docker events the classifier received.
    pub docker_events: Counter,
    /// Containers whose name was refused (once per container).
    pub name_refusals: Counter,
    /// Names this instance publishes now (its record sets as Route53 last showed or accepted them).
    pub published_names: Gauge,
    /// Changes waiting to be sent (the last diff that was not empty; 0 once it is applied).
    pub pending_changes: Gauge,
    /// Route53 requests, by operation and outcome (every request, retries included).
    pub requests: Family<RequestLabels, Counter>,
    /// Retries scheduled after a failed Route53 request.
    pub retries: Counter,
    /// Changes per ChangeResourceRecordSets request.
    pub batch_size: Histogram,
    /// Changes Route53 refused for good (logged, not retried until they change or are verified).
    pub rejected_changes: Counter,
    /// Differences between what Route53 held and what this instance expected, found by a read and repaired.
    pub repairs: Counter,
    /// Unix time (seconds) at which the zone last matched the desired names, 0 before the first time.
    pub last_reconciled: Gauge,
    registry: Arc<Mutex<Registry>>,
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats")
            .field("docker_events", &self.docker_events.get())
            .field("published_names", &self.published_names.get())
            .field("pending_changes", &self.pending_changes.get())
            .finish_non_exhaustive()
    }
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    /// Every metric at zero, registered under the prefix `route53_registrator`.
    pub fn new() -> Self {
        let stats = Stats {
            docker_events: Counter::default(),
            name_refusals: Counter::default(),
            published_names: Gauge::default(),
            pending_changes: Gauge::default(),
            requests: Family::default(),
            retries: Counter::default(),
            batch_size: Histogram::new(exponential_buckets(1.0, 4.0, 6)),
            rejected_changes: Counter::default(),
            repairs: Counter::default(),
            last_reconciled: Gauge::default(),
            registry: Arc::default(),
        };
        let mut registry = Registry::with_prefix("route53_registrator");
        registry.register(
            "docker_events",
            "Docker events received",
            stats.docker_events.clone(),
        );
        registry.register(
            "name_refusals",
            "Containers whose name was refused",
            stats.name_refusals.clone(),
        );
        registry.register(
            "published_names",
            "Names this instance publishes",
            stats.published_names.clone(),
        );
        registry.register(
            "pending_changes",
            "Changes waiting to be sent to Route53",
            stats.pending_changes.clone(),
        );
        registry.register(
            "route53_requests",
            "Route53 requests by operation and outcome",
            stats.requests.clone(),
        );
        registry.register(
            "route53_retries",
            "Retries scheduled after a failed Route53 request",
            stats.retries.clone(),
        );
        registry.register(
            "route53_batch_size",
            "Changes per ChangeResourceRecordSets request",
            stats.batch_size.clone(),
        );
        registry.register(
            "rejected_changes",
            "Changes Route53 refused for good",
            stats.rejected_changes.clone(),
        );
        registry.register(
            "repairs",
            "Differences from the expected record sets found by a read",
            stats.repairs.clone(),
        );
        registry.register(
            "last_reconciled_seconds",
            "Unix time at which the zone last matched the desired names",
            stats.last_reconciled.clone(),
        );
        *stats.registry.lock().unwrap_or_else(|e| e.into_inner()) = registry;
        stats
    }

    /// Counts one Route53 request of `operation` with its result.
    pub fn request<T>(&self, operation: &str, result: &Result<T, Route53Error>) {
        self.requests
            .get_or_create(&RequestLabels {
                operation: operation.to_string(),
                outcome: outcome(result).to_string(),
            })
            .inc();
    }

    /// How many requests of `operation` ended with `outcome` (`ok`, `throttled`, ...).
    pub fn requests_of(&self, operation: &str, outcome: &str) -> u64 {
        self.requests
            .get_or_create(&RequestLabels {
                operation: operation.to_string(),
                outcome: outcome.to_string(),
            })
            .get()
    }

    /// The zone matches the desired names now.
    pub fn reconciled_now(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_reconciled
            .set(i64::try_from(now).unwrap_or(i64::MAX));
    }

    /// Every metric in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_counters_and_render_them() {
        let stats = Stats::new();
        let clone = stats.clone();
        clone.docker_events.inc();
        clone.request::<()>("ChangeResourceRecordSets", &Ok(()));
        clone.request::<()>(
            "ChangeResourceRecordSets",
            &Err(Route53Error::Throttling("slow".into())),
        );
        clone.batch_size.observe(3.0);
        assert_eq!(stats.docker_events.get(), 1);
        assert_eq!(stats.requests_of("ChangeResourceRecordSets", "ok"), 1);
        assert_eq!(
            stats.requests_of("ChangeResourceRecordSets", "throttled"),
            1
        );
        assert_eq!(stats.requests_of("ListResourceRecordSets", "ok"), 0);
        let text = stats.render();
        assert!(
            text.contains("route53_registrator_docker_events_total 1"),
            "{text}"
        );
        assert!(
            text.contains(
                r#"route53_registrator_route53_requests_total{operation="ChangeResourceRecordSets",outcome="throttled"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains("route53_registrator_route53_batch_size_count 1"),
            "{text}"
        );
    }
}
