//! Route53 behind a narrow trait: the record types the daemon reasons about, the errors it must tell apart,
//! and [`Route53Api`], the subset of the Route53 API the daemon calls.
//!
//! Two implementations exist: [`sdk::SdkRoute53`] around `aws-sdk-route53` (production, and the end-to-end
//! tests against the emulator over HTTP) and the in-process emulator in the `route53-emulator` crate (the
//! writer's tests).

pub mod batch;
pub mod limited;
pub mod rate;
pub mod read;
pub mod sdk;
pub mod send;

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

/// The first label of the TXT record that marks a name as managed by this daemon in simple routing:
/// `_route53-registrator.<name>`. A record under an underscore label is an attribute of its parent name
/// (the DNS convention), so its changes travel with the parent's in one batch.
pub const MARKER_LABEL: &str = "_route53-registrator";

/// The marker's value, quoted as a TXT value is written.
pub const MARKER_VALUE: &str = "\"heritage=route53-registrator\"";

/// The marker's name for the service name `fqdn`.
pub fn marker_name(fqdn: &str) -> String {
    format!("{MARKER_LABEL}.{fqdn}")
}

/// The name whose changes a change to `name` travels with: the parent of an underscore label
/// (`_route53-registrator.web.zone.` → `web.zone.`), else the name itself.
pub fn group_name(name: &str) -> &str {
    match name.split_once('.') {
        Some((label, parent)) if label.starts_with('_') && !parent.is_empty() => parent,
        _ => name,
    }
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
    /// How many record sets the zone held when it was described (GetHostedZone's
    /// `ResourceRecordSetCount`): what a whole-zone listing costs, and a first estimate of the fleet.
    pub record_sets: Option<usize>,
}

/// Where a page of ListResourceRecordSets starts: `StartRecordName`, `StartRecordType`,
/// `StartRecordIdentifier` (Route53's `NextRecordName`, `NextRecordType`, `NextRecordIdentifier`). A
/// position Route53 gave holds its name as Route53 wrote it, escapes and all, to be sent back unchanged.
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

/// What went wrong with a Route53 call: the answer, reduced to the cases Route53 documents. What each case
/// means for the caller is [`Route53Error::meaning`].
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
    /// `AccessDenied` (or a 403 without a code): the credentials are good, but an IAM policy forbids this
    /// request. A policy may allow some record names or types and not others, so it is about the request.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// The credentials themselves were refused (`InvalidClientTokenId`, `ExpiredToken`, a bad signature):
    /// no request can succeed until they are renewed.
    #[error("credentials refused: {0}")]
    Unauthenticated(String),
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

/// What a failed Route53 call means for the caller: the one place that decides it ([`Route53Error::meaning`]).
///
/// | error                                         | meaning        | a read                 | a change                                  |
/// |-----------------------------------------------|----------------|------------------------|-------------------------------------------|
/// | `Throttling`, `PriorRequestNotComplete`        | `Throttled`    | retry, short backoff   | nothing applied; retry, short backoff     |
/// | `Transport` (timeout, reset), `Server` (5xx)   | `MaybeApplied` | retry after backoff    | may have landed: re-read its names, retry |
/// | `InvalidChangeBatch`, `AccessDenied`, `Other`  | `Refused`      | retry after backoff    | isolate the refused change; log, count    |
/// | `NoSuchHostedZone`, `Unauthenticated`          | `Fatal`        | retry after backoff    | forget the zone, read it again (backoff)  |
///
/// At start-up (GetHostedZone), `Refused` and `Fatal` end the daemon: the zone cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meaning {
    /// The account's rate limit, shared by the fleet and soon free again: nothing was applied; try again
    /// after a short, fully jittered wait.
    Throttled,
    /// No answer, or a server error: the request may or may not have been applied; try again after the
    /// backoff, and read before trusting what a change did.
    MaybeApplied,
    /// This request was refused, and the same request would be refused again: a change is set apart from
    /// the others of its batch, logged and counted, not retried in a loop.
    Refused,
    /// Nothing can succeed in this zone with these credentials: whatever was known of the zone is
    /// forgotten, and it is read again after the backoff.
    Fatal,
}

impl Route53Error {
    /// What this failure means (see [`Meaning`]'s table).
    pub fn meaning(&self) -> Meaning {
        match self {
            Route53Error::Throttling(_) | Route53Error::PriorRequestNotComplete(_) => {
                Meaning::Throttled
            }
            Route53Error::Server { .. } | Route53Error::Transport(_) => Meaning::MaybeApplied,
            Route53Error::InvalidChangeBatch(_)
            | Route53Error::AccessDenied(_)
            | Route53Error::Other { .. } => Meaning::Refused,
            Route53Error::NoSuchHostedZone(_) | Route53Error::Unauthenticated(_) => Meaning::Fatal,
        }
    }

    /// Whether the same request may succeed if sent again later.
    pub fn is_retriable(&self) -> bool {
        matches!(self.meaning(), Meaning::Throttled | Meaning::MaybeApplied)
    }

    /// Route53's messages, for the log of a refused change.
    pub fn messages(&self) -> Vec<String> {
        match self {
            Route53Error::InvalidChangeBatch(messages) => messages.clone(),
            other => vec![other.to_string()],
        }
    }
}

/// Whether one of Route53's `InvalidChangeBatch` messages says that the batch lost a race: the record set
/// it meant to CREATE exists, or the one it meant to DELETE is gone or holds other values now (another
/// writer changed it since it was read). Any other message refuses the change itself.
pub fn is_conflict(message: &str) -> bool {
    message.ends_with("but it already exists")
        || message.ends_with("but it was not found")
        || message.ends_with("but the values provided do not match the current values")
}

/// The record names one of Route53's `InvalidChangeBatch` messages is about, fully qualified and
/// lower-case: `[name='web.zone.', type='A']` in the "Tried to create/delete" messages, `DNS name web.zone.`
/// in the "RRSet with DNS name" ones. Empty for a message that names none.
pub fn names_in(message: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (open, close) in [("name='", '\''), ("DNS name ", ' ')] {
        let mut rest = message;
        while let Some(at) = rest.find(open) {
            rest = &rest[at + open.len()..];
            let end = rest.find(close).unwrap_or(rest.len());
            let name = rest[..end].trim_end_matches(',').to_ascii_lowercase();
            if !name.is_empty() {
                names.push(if name.ends_with('.') {
                    name
                } else {
                    format!("{name}.")
                });
            }
            rest = &rest[end..];
        }
    }
    names
}

/// The metrics' label for how a request ended: `ok`, `throttled`, `rejected`, `5xx`, `unreachable` (timeout,
/// reset, refused connection) or `fatal` (no such zone, credentials refused).
pub fn outcome<T>(result: &Result<T, Route53Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Route53Error::Server { .. }) => "5xx",
        Err(e) => match e.meaning() {
            Meaning::Throttled => "throttled",
            Meaning::MaybeApplied => "unreachable",
            Meaning::Refused => "rejected",
            Meaning::Fatal => "fatal",
        },
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

    /// About `owners` instances share the account's request rate (the writer's estimate of its fleet). A
    /// rate limiter sizes its slowdown on a throttle by it ([`crate::route53::rate::AdaptiveRate`]); anything else
    /// ignores it.
    fn fleet_seen(&self, _owners: usize) {}

    /// This instance is going: what it still sends (its withdrawal) goes ahead of the fleet-share pacing
    /// and the start spread a throttle set. A rate limiter stops holding it back; anything else ignores it.
    fn hurry(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_a_refusal_is_about() {
        let cases: [(&str, &[&str]); 4] = [
            (
                "Tried to create resource record set [name='web.zone.', type='A'] but it already exists",
                &["web.zone."],
            ),
            (
                "Tried to delete resource record set [name='_route53-registrator.Web.zone.', type='TXT'] but it was not found",
                &["_route53-registrator.web.zone."],
            ),
            (
                "RRSet with DNS name api.zone. and type A, SetIdentifier h1 cannot be created as weighted sets must contain the same TTL.",
                &["api.zone."],
            ),
            ("change batch refused (HTTP 400)", &[]),
        ];
        for (message, want) in cases {
            assert_eq!(names_in(message), want, "{message}");
        }
    }

    #[test]
    fn which_refusals_are_lost_races() {
        let cases = [
            ("Tried to create resource record set [name='web.zone.', type='A'] but it already exists", true),
            ("Tried to delete resource record set [name='web.zone.', type='A'] but it was not found", true),
            (
                "Tried to delete resource record set [name='web.zone.', type='A'] but the values provided do not match the current values",
                true,
            ),
            (
                "RRSet with DNS name web.zone. and type A, SetIdentifier h1 cannot be created as weighted sets must contain the same TTL.",
                false,
            ),
            ("Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address encountered at 10.0.0'", false),
            ("AccessDenied: not allowed", false),
        ];
        for (message, want) in cases {
            assert_eq!(is_conflict(message), want, "{message}");
        }
    }

    #[test]
    fn what_each_failure_means() {
        let s = |m: &str| m.to_string();
        let cases = [
            (
                Route53Error::Throttling(s("Rate exceeded")),
                Meaning::Throttled,
            ),
            (
                Route53Error::PriorRequestNotComplete(s("busy")),
                Meaning::Throttled,
            ),
            (
                Route53Error::Transport(s("timed out")),
                Meaning::MaybeApplied,
            ),
            (
                Route53Error::Transport(s("connection reset")),
                Meaning::MaybeApplied,
            ),
            (
                Route53Error::Server {
                    status: 503,
                    message: s("unavailable"),
                },
                Meaning::MaybeApplied,
            ),
            (
                Route53Error::InvalidChangeBatch(vec![s("exists")]),
                Meaning::Refused,
            ),
            (
                Route53Error::AccessDenied(s("AccessDenied: no")),
                Meaning::Refused,
            ),
            (
                Route53Error::Other {
                    code: s("InvalidInput"),
                    message: s("bad"),
                },
                Meaning::Refused,
            ),
            (Route53Error::NoSuchHostedZone(s("Z")), Meaning::Fatal),
            (
                Route53Error::Unauthenticated(s("ExpiredToken: old")),
                Meaning::Fatal,
            ),
        ];
        for (error, want) in cases {
            assert_eq!(error.meaning(), want, "{error:?}");
            let label = outcome::<()>(&Err(error.clone()));
            let want_label = match (&error, want) {
                (Route53Error::Server { .. }, _) => "5xx",
                (_, Meaning::Throttled) => "throttled",
                (_, Meaning::MaybeApplied) => "unreachable",
                (_, Meaning::Refused) => "rejected",
                (_, Meaning::Fatal) => "fatal",
            };
            assert_eq!(label, want_label, "{error:?}");
            let retriable = matches!(want, Meaning::Throttled | Meaning::MaybeApplied);
            assert_eq!(error.is_retriable(), retriable, "{error:?}");
        }
    }
}
