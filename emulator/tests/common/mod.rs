//! Helpers shared by the emulator's integration tests: record sets and changes in one line, and an
//! `aws-sdk-route53` client pointed at a local endpoint with static test credentials and no retries.
#![allow(dead_code)] // each test file uses a different part

use std::time::Duration;

use route53_registrator::route53::{Change, ChangeAction, RecordSet};

/// The zone every test creates (each in its own emulator).
pub const ZONE: &str = "service.discovery.";

/// A multivalue A record set: `name` is the first label under [`ZONE`].
pub fn multivalue(label: &str, owner: &str, ip: &str) -> RecordSet {
    RecordSet::a(format!("{label}.{ZONE}"), ip).multivalue(owner)
}

/// A weighted A record set (weight 50).
pub fn weighted(label: &str, owner: &str, ip: &str, ttl: i64) -> RecordSet {
    RecordSet::a(format!("{label}.{ZONE}"), ip)
        .weighted(owner, 50)
        .ttl(ttl)
}

/// A plain A record set holding `ips`.
pub fn simple(label: &str, ips: &[&str]) -> RecordSet {
    RecordSet::a(format!("{label}.{ZONE}"), "").values(ips)
}

pub fn create(record_set: RecordSet) -> Change {
    Change {
        action: ChangeAction::Create,
        record_set,
    }
}

pub fn delete(record_set: RecordSet) -> Change {
    Change {
        action: ChangeAction::Delete,
        record_set,
    }
}

pub fn upsert(record_set: RecordSet) -> Change {
    Change {
        action: ChangeAction::Upsert,
        record_set,
    }
}

/// The zone's A record sets (leaving out the apex's SOA and NS).
pub fn a_records(sets: Vec<RecordSet>) -> Vec<RecordSet> {
    sets.into_iter().filter(|s| s.rtype == "A").collect()
}

/// An SDK client for `endpoint`: region us-east-1, static test credentials, the SDK's retries off (so every
/// request the test makes is exactly one request on the wire).
pub fn sdk_client(endpoint: &str) -> aws_sdk_route53::Client {
    sdk_client_with_timeout(endpoint, None)
}

/// As [`sdk_client`], with an operation timeout.
pub fn sdk_client_with_timeout(
    endpoint: &str,
    timeout: Option<Duration>,
) -> aws_sdk_route53::Client {
    use aws_sdk_route53::config::timeout::TimeoutConfig;
    let mut timeouts = TimeoutConfig::builder();
    if let Some(timeout) = timeout {
        timeouts = timeouts.operation_timeout(timeout);
    }
    let config = route53_registrator::testing::emulator_sdk_config(endpoint)
        .timeout_config(timeouts.build())
        .build();
    aws_sdk_route53::Client::from_conf(config)
}

/// An SDK record set from ours.
pub fn sdk_record_set(set: &RecordSet) -> aws_sdk_route53::types::ResourceRecordSet {
    use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
    let mut builder = ResourceRecordSet::builder()
        .name(&set.name)
        .r#type(RrType::from(set.rtype.as_str()))
        .ttl(set.ttl)
        .set_set_identifier(set.set_identifier.clone())
        .set_weight(set.weight)
        .set_multi_value_answer(set.multivalue_answer);
    for value in &set.values {
        builder = builder.resource_records(ResourceRecord::builder().value(value).build().unwrap());
    }
    builder.build().unwrap()
}

/// Our record set from the SDK's.
pub fn from_sdk(set: &aws_sdk_route53::types::ResourceRecordSet) -> RecordSet {
    RecordSet {
        name: set.name().to_string(),
        rtype: set.r#type().as_str().to_string(),
        set_identifier: set.set_identifier().map(str::to_string),
        weight: set.weight(),
        multivalue_answer: set.multi_value_answer(),
        ttl: set.ttl().unwrap_or(0),
        values: set
            .resource_records()
            .iter()
            .map(|r| r.value().to_string())
            .collect(),
    }
}

/// An SDK change batch from ours.
pub fn sdk_batch(changes: &[Change]) -> aws_sdk_route53::types::ChangeBatch {
    use aws_sdk_route53::types::{Change as SdkChange, ChangeAction as SdkAction, ChangeBatch};
    let mut batch = ChangeBatch::builder();
    for change in changes {
        let action = match change.action {
            ChangeAction::Create => SdkAction::Create,
            ChangeAction::Delete => SdkAction::Delete,
            ChangeAction::Upsert => SdkAction::Upsert,
        };
        batch = batch.changes(
            SdkChange::builder()
                .action(action)
                .resource_record_set(sdk_record_set(&change.record_set))
                .build()
                .unwrap(),
        );
    }
    batch.build().unwrap()
}
