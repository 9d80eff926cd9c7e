//! Route53 behind a narrow trait: the record types the daemon reasons about, the errors it must tell apart,
//! and [`Route53Api`], the subset of the Route53 API the daemon calls.
//!
//! Two implementations exist: [`sdk::SdkRoute53`] around `aws-sdk-route53` (production, and the end-to-end
//! tests against the emulator over HTTP) and the in-process emulator in the `route53-emulator` crate (the
//! writer's tests).

pub mod limited;
pub mod read;
pub mod sdk;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// How this instance's record sets are routed (`route53.routing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Routing {
    /// One record set per instance and name, `MultiValueAnswer = true`.
    #[default]
    Multivalue,
    /// One record set per instance and name, with a `Weight`.
    Weighted,
    /// One plain record set per name holding every instance's IP.
    Simple,
}

/// One resource record set, as Route53 holds it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordSet {
    /// Fully qualified, lower-case, with the trailing dot: `web.service.discovery.`
    pub name: String,
    /// `A`, `TXT`, ...
    pub rtype: String,
    /// `SetIdentifier`; present on weighted and multivalue record sets.
    pub set_identifier: Option<String>,
    /// `Weight` of a weighted record set, 0..=255.
    pub weight: Option<i64>,
    /// `MultiValueAnswer` of a multivalue record set.
    pub multivalue_answer: Option<bool>,
    /// TTL in seconds (0 for an alias record set, which has none).
    pub ttl: i64,
    /// The resource records' values, as written (`10.0.0.1`, `"heritage=route53-registrator"`).
    pub values: Vec<String>,
}

/// What a change does to its record set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeAction {
    Create,
    Delete,
    Upsert,
}

/// One change of a ChangeResourceRecordSets batch.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Change {
    pub action: ChangeAction,
    pub record_set: RecordSet,
}

/// A hosted zone, as GetHostedZone describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostedZone {
    /// The bare id, without `/hostedzone/`.
    pub id: String,
    /// The zone's domain, lower-case, with the trailing dot: `service.discovery.`
    pub name: String,
    pub private: bool,
}

/// Where a page of ListResourceRecordSets starts: `StartRecordName`, `StartRecordType`,
/// `StartRecordIdentifier` (Route53's `NextRecordName`, `NextRecordType`, `NextRecordIdentifier`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordPosition {
    pub name: String,
    pub rtype: Option<String>,
    pub identifier: Option<String>,
}

/// One page of ListResourceRecordSets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordPage {
    pub record_sets: Vec<RecordSet>,
    /// Where the next page starts; `None` when this was the last page.
    pub next: Option<RecordPosition>,
}

/// The answer to an accepted ChangeResourceRecordSets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeInfo {
    /// The bare change id, without `/change/`.
    pub id: String,
    /// `PENDING` or `INSYNC`.
    pub status: String,
}

/// What went wrong with a Route53 call, in the classes the writer acts on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Route53Error {
    /// `Throttling` (400 or 429): the account's request rate was exceeded.
    #[error("throttled by Route53: {0}")]
    Throttling(String),
    /// `PriorRequestNotComplete`: the zone's previous change is still being processed.
    #[error("prior request not complete: {0}")]
    PriorRequestNotComplete(String),
    /// `InvalidChangeBatch` (or any other 400 to a change): the batch was refused as a whole.
    #[error("invalid change batch: {}", .0.join("; "))]
    InvalidChangeBatch(Vec<String>),
    /// `NoSuchHostedZone`: the zone id names no zone.
    #[error("no such hosted zone: {0}")]
    NoSuchHostedZone(String),
    /// `AccessDenied` and the other authorization failures.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// A 5xx answer.
    #[error("Route53 server error {status}: {message}")]
    Server { status: u16, message: String },
    /// No answer: connection refused or reset, timeout.
    #[error("Route53 unreachable: {0}")]
    Transport(String),
    /// Any other error answer.
    #[error("Route53 error {code}: {message}")]
    Other { code: String, message: String },
}

impl Route53Error {
    /// Whether the same request may succeed if sent again later (the one place that decides it).
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            Route53Error::Throttling(_)
                | Route53Error::PriorRequestNotComplete(_)
                | Route53Error::Server { .. }
                | Route53Error::Transport(_)
        )
    }
}

/// The subset of the Route53 API that the daemon calls. Add methods as required.
#[async_trait]
pub trait Route53Api: Send + Sync + 'static {
    /// GetHostedZone.
    async fn get_hosted_zone(&self, zone_id: &str) -> Result<HostedZone, Route53Error>;

    /// One page of ListResourceRecordSets, from `start` (the zone's first record set when `None`),
    /// at most `max_items` record sets (Route53's default, 300, when `None`).
    async fn list_record_sets(
        &self,
        zone_id: &str,
        start: Option<&RecordPosition>,
        max_items: Option<i32>,
    ) -> Result<RecordPage, Route53Error>;

    /// ChangeResourceRecordSets: applies `changes` atomically, in order, or none of them.
    async fn change_record_sets(
        &self,
        zone_id: &str,
        changes: &[Change],
    ) -> Result<ChangeInfo, Route53Error>;
}
