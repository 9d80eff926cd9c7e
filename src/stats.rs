//! What the daemon has done, as one shared handle: built once in `main`, cloned into every actor and into
//! the Route53 client wrapper, each updating its own part. `/metrics` renders it ([`Stats::render`]).
//!
//! The metrics are `prometheus-client`'s: cheap to clone (each clone is the same counter), lock-free to
//! update, and rendered in Prometheus' text format by the crate, not by hand.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// One AWS request's operation and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route53's `GetHostedZone`, `ListResourceRecordSets`, `ChangeResourceRecordSets`; EC2's
    /// `DescribeInstances`.
    pub operation: String,
    /// Route53: `ok`, `throttled`, `rejected`, `5xx`, `unreachable` (timeout, reset, refused connection) or
    /// `fatal` (no such zone, credentials refused): see `route53::outcome`. EC2: see `ec2::limited::outcome`.
    pub outcome: String,
}

/// A Docker event's action (`start`, `kill`, `die`, `health_status`, `destroy`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub action: String,
}

/// What became of a container the classifier saw: `published` (a service), `skipped` or `refused`, with
/// the reason of the last two (`network_none`, `dot`, ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ContainerLabels {
    pub outcome: String,
    pub reason: String,
}

/// An actor's name (`writer`, `classifier`, `docker_watcher`, `metadata_cache`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActorLabels {
    pub actor: String,
}

/// What the last Route53 request said, for `/healthz`'s body.
#[derive(Clone, Debug, Default)]
struct Route53Seen {
    last_ok: Option<Instant>,
    last_error: Option<(Instant, String)>,
    last_reconciled: Option<Instant>,
    /// Another running instance writes under this instance's owner id: what to say about it.
    owner_id_conflict: Option<String>,
    /// The instance is going: what said so.
    leaving: Option<String>,
}

/// The shared statistics handle. Cloning it shares the same metrics.
#[derive(Clone)]
pub struct Stats {
    /// Docker events the classifier received, by action.
    pub docker_events: Family<ActionLabels, Counter>,
    /// Containers seen, once each, by what became of them.
    pub containers: Family<ContainerLabels, Counter>,
    /// Reconnections to the Docker engine after its event stream ended or failed.
    pub docker_reconnects: Counter,
    /// Actor restarts (after a failure or a panic), by actor.
    pub actor_restarts: Family<ActorLabels, Counter>,
    /// Seconds from the moment a name's desired state changed to the change request that carried it.
    pub change_latency: Histogram,
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
    /// Record sets (in simple routing, IPs) of instances that are gone, withdrawn by the clean-up (`[gc]`).
    pub gc_withdrawn: Counter,
    /// Checks of the clean-up that asked EC2 (one or more DescribeInstances calls each).
    pub gc_checks: Counter,
    /// Checks whose answer was doubted, so that nothing was deleted (an EC2 error, an answer that misses
    /// this instance or covers none of the owners).
    pub gc_doubtful_checks: Counter,
    /// Owners seen in the zone at the clean-up's last check with no membership record it may act on (no
    /// ledger, or one of another account or region): never asked about, never collected.
    pub gc_strangers: Gauge,
    /// 1 once another running instance was found writing under this instance's owner id (its ledger names
    /// another instance), until a restart.
    pub owner_id_conflict: Gauge,
    /// 1 while the metadata service says the instance is going (a Spot interruption notice, an Auto Scaling
    /// termination): every record of its own is withdrawn.
    pub instance_leaving: Gauge,
    /// Notices that the instance is going, each counted when it began.
    pub lifecycle_notices: Counter,
    /// Polls of the instance's lifecycle that told nothing (an error, a timeout, an answer not understood).
    pub lifecycle_unknown: Counter,
    /// EC2 requests of the clean-up (DescribeInstances), by outcome.
    pub ec2_requests: Family<RequestLabels, Counter>,
    /// Desired names left alone (once each) because they hold record sets this instance may not change.
    pub names_left_alone: Counter,
    /// Unix time (seconds) at which the zone last matched the desired names, 0 before the first time.
    pub last_reconciled: Gauge,
    /// Seconds since the zone last matched the desired names (-1 before the first time); set when rendered.
    seconds_since_reconciled: Gauge,
    route53_seen: Arc<Mutex<Route53Seen>>,
    registry: Arc<Mutex<Registry>>,
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats")
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
            docker_events: Family::default(),
            containers: Family::default(),
            docker_reconnects: Counter::default(),
            actor_restarts: Family::default(),
            change_latency: Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 5.0, 10.0, 30.0]),
            published_names: Gauge::default(),
            pending_changes: Gauge::default(),
            requests: Family::default(),
            retries: Counter::default(),
            batch_size: Histogram::new(exponential_buckets(1.0, 4.0, 6)),
            rejected_changes: Counter::default(),
            repairs: Counter::default(),
            gc_withdrawn: Counter::default(),
            gc_checks: Counter::default(),
            gc_doubtful_checks: Counter::default(),
            gc_strangers: Gauge::default(),
            owner_id_conflict: Gauge::default(),
            instance_leaving: Gauge::default(),
            lifecycle_notices: Counter::default(),
            lifecycle_unknown: Counter::default(),
            ec2_requests: Family::default(),
            names_left_alone: Counter::default(),
            last_reconciled: Gauge::default(),
            seconds_since_reconciled: Gauge::default(),
            route53_seen: Arc::default(),
            registry: Arc::default(),
        };
        let mut registry = Registry::with_prefix("route53_registrator");
        registry.register(
            "docker_events",
            "Docker events received, by action",
            stats.docker_events.clone(),
        );
        registry.register(
            "containers",
            "Containers seen, by outcome (published, skipped, refused) and reason",
            stats.containers.clone(),
        );
        registry.register(
            "docker_reconnects",
            "Reconnections to the Docker engine",
            stats.docker_reconnects.clone(),
        );
        registry.register(
            "actor_restarts",
            "Actor restarts after a failure or a panic, by actor",
            stats.actor_restarts.clone(),
        );
        registry.register(
            "change_latency_seconds",
            "From a name's change of desired state to the change request carrying it",
            stats.change_latency.clone(),
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
            "gc_withdrawn",
            "Record sets (in simple routing, IPs) of instances that are gone, withdrawn by the clean-up",
            stats.gc_withdrawn.clone(),
        );
        registry.register(
            "gc_checks",
            "Checks of the clean-up of gone instances that asked EC2",
            stats.gc_checks.clone(),
        );
        registry.register(
            "gc_doubtful_checks",
            "Checks of the clean-up whose answer was doubted, so that nothing was deleted",
            stats.gc_doubtful_checks.clone(),
        );
        registry.register(
            "gc_strangers",
            "Owners seen at the clean-up's last check with no membership record it may act on: never collected",
            stats.gc_strangers.clone(),
        );
        registry.register(
            "owner_id_conflict",
            "1 once another running instance was found writing under this instance's owner id, until a restart",
            stats.owner_id_conflict.clone(),
        );
        registry.register(
            "instance_leaving",
            "1 while the metadata service says the instance is going (Spot interruption, Auto Scaling termination)",
            stats.instance_leaving.clone(),
        );
        registry.register(
            "lifecycle_notices",
            "Notices that the instance is going (Spot interruption, Auto Scaling termination, rebalance if followed)",
            stats.lifecycle_notices.clone(),
        );
        registry.register(
            "lifecycle_unknown",
            "Polls of the instance's lifecycle that told nothing (an error, a timeout, an answer not understood)",
            stats.lifecycle_unknown.clone(),
        );
        registry.register(
            "ec2_requests",
            "EC2 requests of the clean-up by operation and outcome (ok, throttled, error, unreachable)",
            stats.ec2_requests.clone(),
        );
        registry.register(
            "names_left_alone",
            "Desired names left alone because they hold record sets this instance may not change",
            stats.names_left_alone.clone(),
        );
        registry.register(
            "last_reconciled_timestamp_seconds",
            "Unix time at which the zone last matched the desired names",
            stats.last_reconciled.clone(),
        );
        registry.register(
            "seconds_since_reconciled",
            "Seconds since the zone last matched the desired names (-1 before the first time)",
            stats.seconds_since_reconciled.clone(),
        );
        *stats.registry.lock().unwrap_or_else(|e| e.into_inner()) = registry;
        stats
    }

    /// Counts one Route53 request of `operation` that ended with `outcome`; `failure` says what went wrong
    /// (`None` for a success).
    pub fn request(&self, operation: &str, outcome: &str, failure: Option<String>) {
        self.requests
            .get_or_create(&RequestLabels {
                operation: operation.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        let mut seen = self.route53_seen();
        match failure {
            None => seen.last_ok = Some(Instant::now()),
            Some(e) => seen.last_error = Some((Instant::now(), format!("{operation}: {e}"))),
        }
    }

    /// Counts one EC2 request of `operation` that ended with `outcome`.
    pub fn ec2_request(&self, operation: &str, outcome: &str) {
        self.ec2_requests
            .get_or_create(&RequestLabels {
                operation: operation.to_string(),
                outcome: outcome.to_string(),
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

    /// Counts a Docker event of `action`.
    pub fn docker_event(&self, action: &str) {
        self.docker_events
            .get_or_create(&ActionLabels {
                action: action.to_string(),
            })
            .inc();
    }

    /// Counts a container seen, by `outcome` and `reason` (empty for `published`).
    pub fn container(&self, outcome: &str, reason: &str) {
        self.containers
            .get_or_create(&ContainerLabels {
                outcome: outcome.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts a restart of `actor`.
    pub fn actor_restarted(&self, actor: &str) {
        self.actor_restarts
            .get_or_create(&ActorLabels {
                actor: actor.to_string(),
            })
            .inc();
    }

    /// The zone matches the desired names now.
    pub fn reconciled_now(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_reconciled
            .set(i64::try_from(now).unwrap_or(i64::MAX));
        self.route53_seen().last_reconciled = Some(Instant::now());
    }

    /// Another running instance writes under this instance's owner id: `what` says so in `/healthz`'s body
    /// and the gauge is 1, until a restart.
    pub fn owner_id_conflict(&self, what: String) {
        self.owner_id_conflict.set(1);
        self.route53_seen().owner_id_conflict = Some(what);
    }

    /// The instance is going (`Some`: what said so), or no longer: the gauge and `/healthz`'s body.
    pub fn instance_leaving(&self, why: Option<String>) {
        self.instance_leaving.set(i64::from(why.is_some()));
        self.route53_seen().leaving = why;
    }

    /// How long ago the zone last matched the desired names, at `now`; `None` before the first time.
    pub fn since_reconciled(&self, now: Instant) -> Option<Duration> {
        self.route53_seen()
            .last_reconciled
            .map(|at| now.saturating_duration_since(at))
    }

    /// Route53 as this instance sees it, in one line for `/healthz`'s body: the last reconciliation, and the
    /// last error when it is more recent than the last request that worked.
    pub fn route53_summary(&self, now: Instant) -> String {
        let seen = self.route53_seen().clone();
        let reconciled = match seen.last_reconciled {
            Some(at) => format!(
                "reconciled {:.0} s ago",
                now.saturating_duration_since(at).as_secs_f64()
            ),
            None => "not reconciled yet".to_string(),
        };
        let summary = match seen.last_error {
            Some((at, error)) if seen.last_ok.is_none_or(|ok| ok < at) => format!(
                "{reconciled}; last request failed {:.0} s ago: {error}",
                now.saturating_duration_since(at).as_secs_f64()
            ),
            _ => reconciled,
        };
        let summary = match seen.owner_id_conflict {
            Some(conflict) => format!("{summary}; {conflict}"),
            None => summary,
        };
        match seen.leaving {
            Some(why) => {
                format!("{summary}; INSTANCE LEAVING ({why}): every record of its own withdrawn")
            }
            None => summary,
        }
    }

    fn route53_seen(&self) -> std::sync::MutexGuard<'_, Route53Seen> {
        self.route53_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every metric in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let since = self
            .since_reconciled(Instant::now())
            .map_or(-1, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.seconds_since_reconciled.set(since);
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
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
        clone.docker_event("start");
        clone.request("ChangeResourceRecordSets", "ok", None);
        clone.request(
            "ChangeResourceRecordSets",
            "throttled",
            Some("Rate exceeded".into()),
        );
        clone.batch_size.observe(3.0);
        assert_eq!(
            stats
                .docker_events
                .get_or_create(&ActionLabels {
                    action: "start".into()
                })
                .get(),
            1
        );
        assert_eq!(stats.requests_of("ChangeResourceRecordSets", "ok"), 1);
        assert_eq!(
            stats.requests_of("ChangeResourceRecordSets", "throttled"),
            1
        );
        assert_eq!(stats.requests_of("ListResourceRecordSets", "ok"), 0);
        let text = stats.render();
        assert!(
            text.contains(r#"route53_registrator_docker_events_total{action="start"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("route53_registrator_seconds_since_reconciled -1"),
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
