//! The emulated account: hosted zones (each a [`ZoneRecords`]), changes, faults and the request log, behind one
//! lock. Every request, in-process or HTTP, goes through [`Emulator::call`], so faults and the log treat both ways in
//! alike.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use rand::Rng;
use route53_registrator::route53::{
    Change, ChangeAction, ChangeInfo, HostedZone, RecordPage, RecordPosition, RecordSet,
    Route53Api, Route53Error,
};

use crate::ec2::{self, DescribeRequest, Ec2ApiError, Ec2Instance};
use crate::faults::{Fault, Faults};
use crate::quota::{Quota, RequestThrottle};
use crate::rules::{self, BatchError, ZoneRecords};

/// The Route53 operations the emulator answers (its actions, for the quotas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    GetHostedZone,
    ListHostedZones,
    ListHostedZonesByName,
    CreateHostedZone,
    ListResourceRecordSets,
    ChangeResourceRecordSets,
    GetChange,
}

impl Operation {
    /// Every operation, in the order declared.
    pub const ALL: [Operation; 7] = [
        Operation::GetHostedZone,
        Operation::ListHostedZones,
        Operation::ListHostedZonesByName,
        Operation::CreateHostedZone,
        Operation::ListResourceRecordSets,
        Operation::ChangeResourceRecordSets,
        Operation::GetChange,
    ];

    /// Route53's name of the action: `CreateHostedZone`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::GetHostedZone => "GetHostedZone",
            Operation::ListHostedZones => "ListHostedZones",
            Operation::ListHostedZonesByName => "ListHostedZonesByName",
            Operation::CreateHostedZone => "CreateHostedZone",
            Operation::ListResourceRecordSets => "ListResourceRecordSets",
            Operation::ChangeResourceRecordSets => "ChangeResourceRecordSets",
            Operation::GetChange => "GetChange",
        }
    }
}

/// An operation by Route53's name of it (`CreateHostedZone`), as the binary's flags take it.
impl std::str::FromStr for Operation {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Operation::ALL
            .into_iter()
            .find(|operation| operation.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
                format!("`{name}` is not one of {}", names.join(", "))
            })
    }
}

/// One request as it arrived, and how it was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// When it arrived (before any stall).
    pub at: Instant,
    pub operation: Operation,
    /// The bare zone id it named, if any.
    pub zone_id: Option<String>,
    /// The batch of a ChangeResourceRecordSets, as sent; empty for other operations.
    pub changes: Vec<Change>,
    /// The HTTP status of the answer; 0 when the connection was reset without one.
    pub status: u16,
}

/// An error answer, in Route53's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    NoSuchHostedZone(String),
    NoSuchChange(String),
    InvalidChangeBatch(Vec<String>),
    InvalidInput(String),
    HostedZoneAlreadyExists(String),
    Throttling,
    PriorRequestNotComplete,
    /// A 5xx (or any status a test asked for) with Route53's error body.
    ServiceFault(u16),
}

impl ApiError {
    /// The HTTP status Route53 answers with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::NoSuchHostedZone(_) | ApiError::NoSuchChange(_) => 404,
            ApiError::HostedZoneAlreadyExists(_) => 409,
            ApiError::ServiceFault(status) => *status,
            _ => 400,
        }
    }

    /// `<Code>`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NoSuchHostedZone(_) => "NoSuchHostedZone",
            ApiError::NoSuchChange(_) => "NoSuchChange",
            ApiError::InvalidChangeBatch(_) => "InvalidChangeBatch",
            ApiError::InvalidInput(_) => "InvalidInput",
            ApiError::HostedZoneAlreadyExists(_) => "HostedZoneAlreadyExists",
            ApiError::Throttling => "Throttling",
            ApiError::PriorRequestNotComplete => "PriorRequestNotComplete",
            ApiError::ServiceFault(503) => "ServiceUnavailable",
            ApiError::ServiceFault(_) => "InternalFailure",
        }
    }

    /// `<Type>`: `Receiver` for the service's own failures, `Sender` otherwise.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::ServiceFault(status) if *status >= 500 => "Receiver",
            _ => "Sender",
        }
    }

    /// `<Message>`; a rejected batch's messages as Route53 joins them: `[first, second]`.
    pub fn message(&self) -> String {
        match self {
            ApiError::NoSuchHostedZone(id) => format!("No hosted zone found with ID: {id}"),
            ApiError::NoSuchChange(id) => {
                format!("A change with the specified change ID does not exist: {id}")
            }
            ApiError::InvalidChangeBatch(messages) => format!("[{}]", messages.join(", ")),
            ApiError::InvalidInput(message) | ApiError::HostedZoneAlreadyExists(message) => {
                message.clone()
            }
            ApiError::Throttling => "Rate exceeded".into(),
            ApiError::PriorRequestNotComplete => {
                "The request was rejected because Route 53 was still processing a prior request."
                    .into()
            }
            ApiError::ServiceFault(503) => "Service is unavailable. Please try again later.".into(),
            ApiError::ServiceFault(_) => {
                "An internal error occurred. Please try again later.".into()
            }
        }
    }
}

impl From<ApiError> for Route53Error {
    fn from(error: ApiError) -> Self {
        let message = error.message();
        match error {
            ApiError::NoSuchHostedZone(_) => Route53Error::NoSuchHostedZone(message),
            ApiError::InvalidChangeBatch(messages) => Route53Error::InvalidChangeBatch(messages),
            ApiError::Throttling => Route53Error::Throttling(message),
            ApiError::PriorRequestNotComplete => Route53Error::PriorRequestNotComplete(message),
            ApiError::ServiceFault(status) if status >= 500 => {
                Route53Error::Server { status, message }
            }
            other => Route53Error::Other {
                code: other.code().into(),
                message,
            },
        }
    }
}

/// Why a request got no normal answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    Api(ApiError),
    /// Close the connection without answering.
    Reset,
}

impl From<Failure> for Route53Error {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Api(error) => error.into(),
            Failure::Reset => Route53Error::Transport("connection reset by the emulator".into()),
        }
    }
}

/// A hosted zone with everything GetHostedZone tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ZoneSummary {
    pub zone: HostedZone,
    pub caller_reference: String,
    pub comment: Option<String>,
    /// `(region, vpc id)` of a private zone.
    pub vpc: Option<(String, String)>,
    pub record_set_count: usize,
}

/// A change as GetChange describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChangeView {
    pub id: String,
    pub status: &'static str,
    pub submitted_at: SystemTime,
    pub comment: Option<String>,
}

struct Zone {
    id: String,
    private: bool,
    caller_reference: String,
    comment: Option<String>,
    vpc: Option<(String, String)>,
    records: ZoneRecords,
    /// When the last accepted change to this zone arrived (for `PriorRequestNotComplete`).
    last_change: Option<Instant>,
}

impl Zone {
    fn summary(&self) -> ZoneSummary {
        ZoneSummary {
            zone: HostedZone {
                id: self.id.clone(),
                name: self.records.apex().to_string(),
                private: self.private,
                record_sets: Some(self.records.len()),
            },
            caller_reference: self.caller_reference.clone(),
            comment: self.comment.clone(),
            vpc: self.vpc.clone(),
            record_set_count: self.records.len(),
        }
    }
}

struct SubmittedChange {
    submitted: Instant,
    submitted_at: SystemTime,
    comment: Option<String>,
}

/// Everything behind the lock.
#[derive(Default)]
pub(crate) struct State {
    zones: BTreeMap<String, Zone>,
    changes: HashMap<String, SubmittedChange>,
    faults: Faults,
    /// Route53's request throttle: the old single rate, the quota model, or neither.
    throttle: RequestThrottle,
    log: Vec<LoggedRequest>,
    ec2: Ec2State,
}

/// EC2's side of the account: the instances a test declares, and EC2's own faults and request log (its
/// API's rate limit is not Route53's).
#[derive(Default)]
pub(crate) struct Ec2State {
    instances: Vec<Ec2Instance>,
    faults: Faults,
    log: Vec<Ec2Request>,
}

/// One DescribeInstances as it arrived, and how it was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ec2Request {
    /// When it arrived (before any stall).
    pub at: Instant,
    /// Its filters, (name, values); empty when its form could not be read.
    pub filters: Vec<(String, Vec<String>)>,
    /// The HTTP status of the answer; 0 when the connection was reset without one.
    pub status: u16,
}

/// How a DescribeInstances failed.
pub(crate) enum Ec2Failure {
    Api(Ec2ApiError),
    /// Close the connection without answering.
    Reset,
}

/// What CreateHostedZone asks for.
#[derive(Clone, Debug, Default)]
pub(crate) struct NewZone {
    pub name: String,
    pub caller_reference: String,
    pub comment: Option<String>,
    pub private_flag: bool,
    pub vpc: Option<(String, String)>,
}

impl State {
    fn zone(&self, id: &str) -> Result<&Zone, ApiError> {
        self.zones
            .get(id)
            .ok_or_else(|| ApiError::NoSuchHostedZone(id.to_string()))
    }

    pub(crate) fn hosted_zone(&self, id: &str) -> Result<ZoneSummary, ApiError> {
        self.zone(id).map(Zone::summary)
    }

    pub(crate) fn create_zone(
        &mut self,
        new: NewZone,
        now: Instant,
    ) -> Result<(ZoneSummary, ChangeView), ApiError> {
        if new.name.trim().trim_end_matches('.').is_empty() {
            return Err(ApiError::InvalidInput(
                "Invalid request: a hosted zone needs a Name".into(),
            ));
        }
        if new.private_flag && new.vpc.is_none() {
            return Err(ApiError::InvalidInput(
                "When you're creating a private hosted zone (when you specify true for PrivateZone), you must also \
                 specify values for VPCId and VPCRegion."
                    .into(),
            ));
        }
        if self
            .zones
            .values()
            .any(|z| z.caller_reference == new.caller_reference)
        {
            return Err(ApiError::HostedZoneAlreadyExists(format!(
                "A hosted zone has already been created with the specified caller reference: {}",
                new.caller_reference
            )));
        }
        let id = random_id('Z');
        let zone = Zone {
            id: id.clone(),
            private: new.vpc.is_some(),
            caller_reference: new.caller_reference,
            comment: new.comment.clone(),
            vpc: new.vpc,
            records: ZoneRecords::new(&new.name),
            last_change: None,
        };
        let summary = zone.summary();
        self.zones.insert(id, zone);
        let change = self.submit_change(new.comment, now);
        tracing::info!(zone_id = %summary.zone.id, name = %summary.zone.name, private = summary.zone.private,
            "hosted zone created");
        Ok((summary, change))
    }

    /// ListHostedZones: zones by id, `max_items` (default 100) from the one whose id is `marker`.
    pub(crate) fn list_zones(
        &self,
        marker: Option<&str>,
        max_items: usize,
    ) -> (Vec<ZoneSummary>, Option<String>) {
        let mut iter = self
            .zones
            .values()
            .filter(|z| marker.is_none_or(|m| z.id.as_str() >= m));
        let page: Vec<ZoneSummary> = iter.by_ref().take(max_items).map(Zone::summary).collect();
        (page, iter.next().map(|z| z.id.clone()))
    }

    /// ListHostedZonesByName: zones by reversed name then id, from `dns_name` (and `zone_id`).
    pub(crate) fn list_zones_by_name(
        &self,
        dns_name: Option<&str>,
        zone_id: Option<&str>,
        max_items: usize,
    ) -> (Vec<ZoneSummary>, Option<(String, String)>) {
        let mut zones: Vec<&Zone> = self.zones.values().collect();
        zones.sort_by_key(|z| (rules::reversed_name(z.records.apex()), z.id.clone()));
        let start = dns_name.map(|n| {
            (
                rules::reversed_name(&rules::normalize_name(n)),
                zone_id.unwrap_or_default(),
            )
        });
        let mut iter = zones.into_iter().filter(|z| match &start {
            Some((name, id)) => {
                let key = rules::reversed_name(z.records.apex());
                key.as_str() > name.as_str() || (&key == name && z.id.as_str() >= *id)
            }
            None => true,
        });
        let page: Vec<ZoneSummary> = iter.by_ref().take(max_items).map(Zone::summary).collect();
        let next = iter
            .next()
            .map(|z| (z.records.apex().to_string(), z.id.clone()));
        (page, next)
    }

    pub(crate) fn list_record_sets(
        &self,
        zone_id: &str,
        start: Option<&RecordPosition>,
        max_items: Option<i32>,
    ) -> Result<RecordPage, ApiError> {
        self.zone(zone_id)?
            .records
            .page(start, max_items)
            .map_err(ApiError::InvalidInput)
    }

    pub(crate) fn change_record_sets(
        &mut self,
        zone_id: &str,
        changes: &[Change],
        comment: Option<String>,
        now: Instant,
    ) -> Result<ChangeView, ApiError> {
        let last_change = self.zone(zone_id)?.last_change;
        if self.faults.prior_request_pending(last_change, now) {
            return Err(ApiError::PriorRequestNotComplete);
        }
        let zone = self.zones.get_mut(zone_id).expect("zone looked up above");
        zone.records.apply(changes).map_err(|error| match error {
            BatchError::InvalidChangeBatch(messages) => ApiError::InvalidChangeBatch(messages),
            BatchError::InvalidInput(message) => ApiError::InvalidInput(message),
        })?;
        zone.last_change = Some(now);
        for change in changes {
            let set = &change.record_set;
            tracing::info!(zone_id, action = ?change.action, name = %rules::normalize_name(&set.name),
                rtype = %set.rtype, set_identifier = set.set_identifier.as_deref().unwrap_or("-"), ttl = set.ttl,
                values = ?set.values, "change applied");
        }
        Ok(self.submit_change(comment, now))
    }

    pub(crate) fn get_change(&self, id: &str, now: Instant) -> Result<ChangeView, ApiError> {
        let change = self
            .changes
            .get(id)
            .ok_or_else(|| ApiError::NoSuchChange(id.to_string()))?;
        Ok(ChangeView {
            id: id.to_string(),
            status: self.faults.change_status(change.submitted, now),
            submitted_at: change.submitted_at,
            comment: change.comment.clone(),
        })
    }

    /// Every zone's record sets, one line each, for people: `zone_id name type [set-identifier] ttl values`.
    pub(crate) fn describe_records(&self) -> String {
        let mut out = String::new();
        for zone in self.zones.values() {
            for set in zone.records.record_sets() {
                let routing = match (&set.set_identifier, set.weight, set.multivalue_answer) {
                    (Some(id), Some(weight), _) => format!(" id={id} weight={weight}"),
                    (Some(id), None, Some(_)) => format!(" id={id} multivalue"),
                    (Some(id), None, None) => format!(" id={id}"),
                    (None, _, _) => String::new(),
                };
                out.push_str(&format!(
                    "{} {} {}{} ttl={} {}\n",
                    zone.id,
                    set.name,
                    set.rtype,
                    routing,
                    set.ttl,
                    set.values.join(",")
                ));
            }
        }
        out
    }

    pub(crate) fn legacy_invalid_change_batch(&self) -> bool {
        self.faults.legacy_invalid_change_batch()
    }

    fn submit_change(&mut self, comment: Option<String>, now: Instant) -> ChangeView {
        let id = random_id('C');
        let submitted_at = SystemTime::now();
        self.changes.insert(
            id.clone(),
            SubmittedChange {
                submitted: now,
                submitted_at,
                comment: comment.clone(),
            },
        );
        ChangeView {
            id,
            status: "PENDING",
            submitted_at,
            comment,
        }
    }
}

/// Route53 in memory: hosted zones with Route53's rules, faults on command and a log of every request.
/// Cloning gives another handle on the same account.
#[derive(Clone, Default)]
pub struct Emulator {
    state: Arc<Mutex<State>>,
}

impl Emulator {
    /// An account with no hosted zone, no fault, and an empty log.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves consistent state behind: every change is applied to a
        // copy first. So a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Creates a hosted zone (name with or without trailing dot; stored lower-case with the dot), with Route53's
    /// apex SOA and NS record sets, and returns it. A private zone gets the VPC `vpc-emulator` in `us-east-1`.
    /// Set-up, not a request: it is not logged and suffers no fault.
    pub fn create_zone(&self, name: &str, private: bool) -> HostedZone {
        let new = NewZone {
            name: name.to_string(),
            caller_reference: random_id('R'),
            comment: None,
            private_flag: private,
            vpc: private.then(|| ("us-east-1".to_string(), "vpc-emulator".to_string())),
        };
        let (summary, _) = self
            .lock()
            .create_zone(new, Instant::now())
            .expect("a valid zone name");
        summary.zone
    }

    /// Every hosted zone, by id.
    pub fn zones(&self) -> Vec<HostedZone> {
        self.lock()
            .zones
            .values()
            .map(|z| z.summary().zone)
            .collect()
    }

    /// Every record set of the zone (bare id or `/hostedzone/…`), in Route53's order, the apex's SOA and NS
    /// included; empty for an unknown zone.
    pub fn record_sets(&self, zone_id: &str) -> Vec<RecordSet> {
        let state = self.lock();
        state
            .zones
            .get(bare_zone_id(zone_id))
            .map(|z| z.records.record_sets())
            .unwrap_or_default()
    }

    /// Applies a batch under Route53's rules as someone in the console would: no fault, not logged, and no
    /// `PriorRequestNotComplete` window started. For test set-up and for simulating changes by hand.
    pub fn apply_directly(&self, zone_id: &str, changes: &[Change]) -> Result<(), Route53Error> {
        let mut state = self.lock();
        let id = bare_zone_id(zone_id);
        let zone = state
            .zones
            .get_mut(id)
            .ok_or_else(|| ApiError::NoSuchHostedZone(id.to_string()))?;
        zone.records.apply(changes).map_err(|error| match error {
            BatchError::InvalidChangeBatch(messages) => Route53Error::InvalidChangeBatch(messages),
            BatchError::InvalidInput(message) => Route53Error::Other {
                code: "InvalidInput".into(),
                message,
            },
        })
    }

    /// Every request that arrived (in-process calls and HTTP), in the order they arrived.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        let mut log = self.lock().log.clone();
        log.sort_by_key(|r| r.at);
        log
    }

    /// Forgets the logged requests.
    pub fn clear_requests(&self) {
        self.lock().log.clear();
    }

    /// The old model: throttles the whole account to `requests_per_second` (a burst of one second's worth, no
    /// per-action bucket), or lifts it (`None`). A refused request gets Route53's `Throttling` error (HTTP 400,
    /// "Rate exceeded"). Independent of [`Emulator::set_quota`]: a request must pass whichever is set.
    pub fn set_throttle(&self, requests_per_second: Option<f64>) {
        self.lock()
            .throttle
            .set_single_rate(requests_per_second, Instant::now());
    }

    /// The quota model (token buckets for the account, each action and the change throughput, every one full
    /// now), or lifts it (`None`); [`Quota::documented`] holds the published numbers. A refused request gets
    /// `Throttling` as with [`Emulator::set_throttle`], and takes no token from any bucket.
    pub fn set_quota(&self, quota: Option<Quota>) {
        self.lock().throttle.set_quota(quota, Instant::now());
    }

    /// The quota model as set, if it is.
    pub fn quota(&self) -> Option<Quota> {
        self.lock().throttle.quota().cloned()
    }

    /// A change to a zone that arrives within `window` of the previous accepted change to that zone gets
    /// `PriorRequestNotComplete` (400). Zero (the default) turns it off.
    pub fn set_prior_request_window(&self, window: Duration) {
        self.lock().faults.set_prior_request_window(window);
    }

    /// The next `count` requests fail this way (after any failures already queued).
    pub fn fail_next(&self, count: usize, fault: Fault) {
        self.lock().faults.fail_next(count, fault);
    }

    /// Route53's side back to health: the queued faults dropped, the throttle and the quota lifted, no
    /// prior-request window (a stall in progress still ends as it would). EC2's faults are left as they are.
    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.faults.clear_queued();
        state.throttle.set_single_rate(None, Instant::now());
        state.throttle.set_quota(None, Instant::now());
        state.faults.set_prior_request_window(Duration::ZERO);
    }

    /// GetChange says `PENDING` until `delay` after the change, `INSYNC` after (zero, the default: at once).
    pub fn set_insync_delay(&self, delay: Duration) {
        self.lock().faults.set_insync_delay(delay);
    }

    /// Over HTTP, send `<InvalidChangeBatch><Messages><Message>…</Message></Messages></InvalidChangeBatch>` instead
    /// of `<ErrorResponse>` for a rejected batch, as Route53 has done.
    pub fn set_legacy_invalid_change_batch(&self, legacy: bool) {
        self.lock().faults.set_legacy_invalid_change_batch(legacy);
    }

    /// One request through the account: its queued fault (if any), the throttle (old model and quotas; the batch
    /// counts for the change throughput), then `handle` under the lock;
    /// logged with the status it got. `ok_status` is the status of a success.
    pub(crate) async fn call<T>(
        &self,
        operation: Operation,
        zone_id: Option<&str>,
        changes: &[Change],
        ok_status: u16,
        handle: impl FnOnce(&mut State, Instant) -> Result<T, ApiError>,
    ) -> Result<T, Failure> {
        let at = Instant::now();
        let fault = self.lock().faults.take_fault();
        if let Some(Fault::Stall(duration)) = fault {
            tokio::time::sleep(duration).await;
        }
        let mut state = self.lock();
        let result = match fault {
            Some(Fault::Reset) => Err(Failure::Reset),
            Some(Fault::Status(status)) => Err(Failure::Api(ApiError::ServiceFault(status))),
            Some(Fault::Stall(_)) | None => {
                let now = Instant::now();
                match state.throttle.admit(operation, changes, now) {
                    Ok(()) => handle(&mut state, now).map_err(Failure::Api),
                    Err(limiter) => {
                        tracing::debug!(?operation, ?limiter, "throttled");
                        Err(Failure::Api(ApiError::Throttling))
                    }
                }
            }
        };
        let status = match &result {
            Ok(_) => ok_status,
            Err(Failure::Reset) => 0,
            Err(Failure::Api(error)) => error.status(),
        };
        state.log.push(LoggedRequest {
            at,
            operation,
            zone_id: zone_id.map(str::to_string),
            changes: changes.to_vec(),
            status,
        });
        result
    }
}

impl Emulator {
    /// Declares an EC2 instance (or changes the one with this id): what DescribeInstances answers. Set-up,
    /// not a request.
    pub fn declare_instance(&self, id: &str, private_ip: Option<&str>, state: &str) {
        let instance = Ec2Instance {
            id: id.to_string(),
            private_ip: private_ip.map(str::to_string),
            state: state.to_string(),
        };
        let instances = &mut self.lock().ec2.instances;
        match instances.iter_mut().find(|i| i.id == id) {
            Some(known) => *known = instance,
            None => instances.push(instance),
        }
    }

    /// Every DescribeInstances that arrived, in order: EC2's own log, apart from Route53's.
    pub fn ec2_requests(&self) -> Vec<Ec2Request> {
        self.lock().ec2.log.clone()
    }

    /// The next `count` DescribeInstances fail this way (a status answers EC2's error body).
    pub fn ec2_fail_next(&self, count: usize, fault: Fault) {
        self.lock().ec2.faults.fail_next(count, fault);
    }

    /// Throttles EC2's API to `requests_per_second` (`RequestLimitExceeded`, 503), or lifts it (`None`).
    pub fn ec2_set_throttle(&self, requests_per_second: Option<f64>) {
        self.lock()
            .ec2
            .faults
            .set_throttle(requests_per_second, Instant::now());
    }

    /// One DescribeInstances: its queued fault, EC2's throttle, then the filters over the declared
    /// instances; logged with the status it got.
    pub(crate) async fn describe_instances(
        &self,
        request: Result<DescribeRequest, Ec2ApiError>,
    ) -> Result<(Vec<Ec2Instance>, Option<String>), Ec2Failure> {
        let at = Instant::now();
        let fault = self.lock().ec2.faults.take_fault();
        if let Some(Fault::Stall(duration)) = fault {
            tokio::time::sleep(duration).await;
        }
        let mut state = self.lock();
        let filters = request
            .as_ref()
            .map(|r| r.filters.clone())
            .unwrap_or_default();
        let result = match fault {
            Some(Fault::Reset) => Err(Ec2Failure::Reset),
            Some(Fault::Status(status)) => Err(Ec2Failure::Api(Ec2ApiError {
                status,
                code: if status == 503 {
                    "Unavailable"
                } else {
                    "InternalError"
                }
                .into(),
                message: "An internal error has occurred".into(),
            })),
            Some(Fault::Stall(_)) | None => {
                if state.ec2.faults.admit(Instant::now()) {
                    request
                        .and_then(|r| ec2::describe(&state.ec2.instances, &r))
                        .map_err(Ec2Failure::Api)
                } else {
                    Err(Ec2Failure::Api(Ec2ApiError {
                        status: 503,
                        code: "RequestLimitExceeded".into(),
                        message: "Request limit exceeded.".into(),
                    }))
                }
            }
        };
        let status = match &result {
            Ok(_) => 200,
            Err(Ec2Failure::Reset) => 0,
            Err(Ec2Failure::Api(error)) => error.status,
        };
        state.ec2.log.push(Ec2Request {
            at,
            filters,
            status,
        });
        result
    }
}

/// A zone id without the `/hostedzone/` prefix that Route53 and its SDKs sometimes put in front.
pub fn bare_zone_id(zone_id: &str) -> &str {
    zone_id.trim_start_matches("/hostedzone/")
}

/// A change id without its `/change/` prefix.
pub(crate) fn bare_change_id(change_id: &str) -> &str {
    change_id.trim_start_matches("/change/")
}

/// `prefix` and 20 characters of `A-Z0-9`, the shape of Route53's ids.
fn random_id(prefix: char) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    std::iter::once(prefix)
        .chain((0..20).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char))
        .collect()
}

#[async_trait]
impl Route53Api for Emulator {
    async fn get_hosted_zone(&self, zone_id: &str) -> Result<HostedZone, Route53Error> {
        let id = bare_zone_id(zone_id);
        let summary = self
            .call(Operation::GetHostedZone, Some(id), &[], 200, |s, _| {
                s.hosted_zone(id)
            })
            .await?;
        Ok(summary.zone)
    }

    async fn list_record_sets(
        &self,
        zone_id: &str,
        start: Option<&RecordPosition>,
        max_items: Option<i32>,
    ) -> Result<RecordPage, Route53Error> {
        let id = bare_zone_id(zone_id);
        let page = self
            .call(
                Operation::ListResourceRecordSets,
                Some(id),
                &[],
                200,
                |s, _| s.list_record_sets(id, start, max_items),
            )
            .await?;
        Ok(page)
    }

    async fn change_record_sets(
        &self,
        zone_id: &str,
        changes: &[Change],
    ) -> Result<ChangeInfo, Route53Error> {
        let id = bare_zone_id(zone_id);
        let view = self
            .call(
                Operation::ChangeResourceRecordSets,
                Some(id),
                changes,
                200,
                |s, now| s.change_record_sets(id, changes, None, now),
            )
            .await?;
        Ok(ChangeInfo {
            id: view.id,
            status: view.status.to_string(),
        })
    }
}

impl Emulator {
    /// GetChange, in-process (not in the daemon's trait): `PENDING` or `INSYNC`.
    pub async fn get_change(&self, change_id: &str) -> Result<ChangeInfo, Route53Error> {
        let id = bare_change_id(change_id);
        let view = self
            .call(Operation::GetChange, None, &[], 200, |s, now| {
                s.get_change(id, now)
            })
            .await?;
        Ok(ChangeInfo {
            id: view.id,
            status: view.status.to_string(),
        })
    }
}

/// Whether `action` is one a batch may hold (for parsers).
pub(crate) fn parse_action(action: &str) -> Option<ChangeAction> {
    match action {
        "CREATE" => Some(ChangeAction::Create),
        "DELETE" => Some(ChangeAction::Delete),
        "UPSERT" => Some(ChangeAction::Upsert),
        _ => None,
    }
}
