//! What the writer needs to know from the configuration.

use std::time::Duration;

use crate::backoff::RetryPolicy;
use crate::config::Settings;
use crate::route53::batch::BatchLimits;
use crate::route53::rate::Quota;
use crate::route53::Routing;

/// What the writer needs to know from the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct WriterSettings {
    /// `multivalue`, `weighted` or `simple`.
    pub routing: Routing,
    /// TTL of the record sets written, in seconds (a weighted group's own TTL wins).
    pub ttl: i64,
    /// `Weight` of weighted record sets.
    pub weight: i64,
    /// The `SetIdentifier` of this instance's record sets; `None`: the host IP.
    pub owner_id: Option<String>,
    /// How long to wait after the last change before sending.
    pub debounce: Duration,
    /// The longest a change is held back while changes keep arriving.
    pub max_delay: Duration,
    /// Route53 requests per second, at most (reads, changes and retries alike).
    pub max_requests_per_second: u32,
    /// The account's Route53 request quota, shared by the fleet.
    pub quota: Quota,
    /// The shortest interval between two verifications.
    pub verify_interval: Duration,
    /// Keep this instance's ledger ([`crate::writer::ledger`]); without it, every start lists the zone.
    pub ledger: bool,
    /// Log the changes instead of sending them.
    pub dry_run: bool,
    /// `--once`: one reconciliation, then exit; nothing is put off for the fleet's sake.
    pub once: bool,
    /// Backoff between retries of a failed request.
    pub retry: RetryPolicy,
    /// Route53's limits on one ChangeResourceRecordSets.
    pub limits: BatchLimits,
    /// The instance's end is watched (`lifecycle.watch`): nothing is written before the watch's first
    /// answer.
    pub watches_end: bool,
}

impl From<&Settings> for WriterSettings {
    /// The `[route53]` and `[host]` settings; `dry_run` is off (it comes from the command line).
    fn from(settings: &Settings) -> Self {
        let r53 = &settings.route53;
        let owner = settings.host.owner_id.trim();
        WriterSettings {
            routing: r53.routing,
            ttl: r53.ttl,
            weight: r53.weight,
            owner_id: (!owner.is_empty()).then(|| owner.to_string()),
            debounce: r53.debounce,
            max_delay: r53.max_delay,
            max_requests_per_second: r53.max_requests_per_second,
            quota: r53.quota(),
            verify_interval: r53.verify_interval,
            ledger: r53.ledger,
            dry_run: false,
            once: false,
            retry: RetryPolicy::default(),
            limits: BatchLimits::ROUTE53,
            watches_end: settings.lifecycle.watch,
        }
    }
}

impl WriterSettings {
    /// The same, with `--dry-run` set as given.
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// The same, with `--once` set as given (a single reconciliation watches no end).
    pub fn with_once(mut self, once: bool) -> Self {
        self.once = once;
        self.watches_end &= !once;
        self
    }
}
