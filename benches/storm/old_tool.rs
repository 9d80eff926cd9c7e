//! A MODEL of the algorithm of brandnetworks/route53-registrator (and of its ECS fork, which names records by
//! the `com.amazonaws.ecs.container-name` label): written here, in a few lines, to count the Route53 calls that
//! algorithm makes in the same storm as the daemon. It is not that tool, and shares no code with the daemon.
//!
//! What it keeps of the original: one loop over Docker events, handled one at a time; for each `start` of a
//! service container, one ListResourceRecordSets to see whether this host's record exists and, when it does
//! not, one ChangeResourceRecordSets that CREATEs it (weighted A, TTL 5, weight 50, SetIdentifier = host IP);
//! for each `die`, the same list and, when the record exists, a DELETE — even when another container of the
//! same service still runs. No batching, no debounce, no rate limit; the SDK's default retries.
//!
//! Where the model is kinder than the original (so the ratio it gives is a floor): it reacts to `start` and
//! `die` only (the ECS fork also lists on `kill` and `stop`, three lists per `docker stop`), and it lists
//! from the record's own name (`StartRecordName`), whereas the original reads the zone's first page only, so
//! it misses every record after the first 100 — and then never deletes them.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use aws_sdk_route53::config::timeout::TimeoutConfig;
use aws_sdk_route53::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;

use crate::fleet::SeenEvent;

/// What the model did, by its own count (the emulator's log is what the bench reports).
#[derive(Clone, Copy, Debug, Default)]
pub struct ModelReport {
    pub events: usize,
    pub failed_calls: usize,
}

/// Where the model writes.
#[derive(Clone, Debug)]
pub struct ModelTarget {
    /// `http://127.0.0.1:PORT` of the emulator.
    pub endpoint: String,
    pub zone_id: String,
    /// The zone's domain with its trailing dot.
    pub zone_name: String,
    /// The host IP it publishes (and its SetIdentifier).
    pub ip: String,
}

/// Starts the model's event loop in a thread of its own; it handles the events sent to the returned
/// channel until the channel is dropped, then returns its report.
pub fn spawn(
    target: ModelTarget,
    services: HashMap<String, String>,
) -> (Sender<SeenEvent>, JoinHandle<ModelReport>) {
    let (sender, receiver) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("old-tool-model".into())
        .spawn(move || run(target, services, receiver))
        .expect("spawn the model's thread");
    (sender, thread)
}

fn run(
    target: ModelTarget,
    services: HashMap<String, String>,
    events: Receiver<SeenEvent>,
) -> ModelReport {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the model");
    let config = aws_sdk_route53::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&target.endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(10))
                .build(),
        )
        .build();
    let client = Client::from_conf(config);
    let mut report = ModelReport::default();
    // One event at a time, in order, as the original's `for msg := range events` loop.
    while let Ok(event) = events.recv() {
        let starting = match event.action.as_str() {
            "start" => true,
            "die" => false,
            _ => continue,
        };
        let Some(service) = services.get(&event.container) else {
            continue;
        };
        report.events += 1;
        let fqdn = format!("{service}.{}", target.zone_name);
        report.failed_calls += runtime.block_on(handle(&client, &target, &fqdn, starting));
    }
    report
}

/// One event: list, then create or delete when needed. Returns the number of failed calls (the original
/// logs them and carries on).
async fn handle(client: &Client, target: &ModelTarget, fqdn: &str, starting: bool) -> usize {
    let listed = client
        .list_resource_record_sets()
        .hosted_zone_id(&target.zone_id)
        .start_record_name(fqdn)
        .start_record_type(RrType::A)
        .send()
        .await;
    let mut failed = 0;
    // A failed list counts as "no record", as in the original.
    let exists = match listed {
        Ok(out) => out.resource_record_sets().iter().any(|rs| {
            rs.name().eq_ignore_ascii_case(fqdn)
                && rs.resource_records().iter().any(|r| r.value() == target.ip)
        }),
        Err(_) => {
            failed += 1;
            false
        }
    };
    let action = match (starting, exists) {
        (true, false) => ChangeAction::Create,
        (false, true) => ChangeAction::Delete,
        _ => return failed,
    };
    let record_set = ResourceRecordSet::builder()
        .name(fqdn)
        .r#type(RrType::A)
        .set_identifier(&target.ip)
        .weight(50)
        .ttl(5)
        .resource_records(
            ResourceRecord::builder()
                .value(&target.ip)
                .build()
                .expect("a record value"),
        )
        .build()
        .expect("a record set");
    let batch = ChangeBatch::builder()
        .changes(
            Change::builder()
                .action(action)
                .resource_record_set(record_set)
                .build()
                .expect("a change"),
        )
        .build()
        .expect("a change batch");
    let changed = client
        .change_resource_record_sets()
        .hosted_zone_id(&target.zone_id)
        .change_batch(batch)
        .send()
        .await;
    if changed.is_err() {
        failed += 1;
    }
    failed
}
