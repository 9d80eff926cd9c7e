//! Pure: the writer's decisions, as a state machine that takes the time as an argument.
//!
//! [`Reconciler`] knows the desired names, the host IP, this instance's record sets as Route53 last showed
//! or accepted them, and what it is waiting for. [`Reconciler::next`] says what to do now ([`Action`]): wait
//! until some instant, read the zone, read some names, or send some batches; the actor performs it and hands
//! the outcome back ([`Reconciler::zone_read`], [`Reconciler::names_read`], [`Reconciler::sent`]), then asks
//! again. No I/O and no clock here, so the tests step a fake clock through every schedule in milliseconds.
//!
//! The life of a reconciler:
//!
//! 1. Nothing is read or written before both the IP and the first desired names are known.
//! 2. It reads the whole zone once, keeps this instance's record sets as `current` (so a record of a
//!    container that stopped while the daemon was down is withdrawn now) and counts the owners.
//! 3. It sends the diff at once, then every later diff through the debounce ([`Debounce`]), in batches
//!    within Route53's limits. While changes keep arriving, no two debounced flushes go out closer than
//!    `max_delay`; retries and urgent flushes are not held back, but the next debounced flush keeps its
//!    distance from them.
//! 4. A failure is handled by what it means ([`Meaning`]), in this table:
//!
//! | the answer                                   | applied? | before the next diff                          |
//! |----------------------------------------------|----------|-----------------------------------------------|
//! | `Throttled` (`Throttling`, `PriorRequest…`)  | no       | short, fully jittered backoff                 |
//! | `MaybeApplied` (timeout, reset, 5xx)         | maybe    | backoff; re-read the batch's names            |
//! | `Refused` (invalid, access denied)           | no       | isolated by the sender; the name is re-read   |
//! | `Fatal` (no such zone, credentials)          | no       | backoff; forget the zone and read it again    |
//!
//!    A refused change whose re-read name shows something else than we thought is tried again with what
//!    Route53 holds; if the same change would be sent again, it is logged, counted and not retried until the
//!    next verification. A request Route53 applies after the client gave up may land after the re-read: such
//!    names are read once more by the next verification.
//! 5. At a jittered interval that grows with the fleet ([`verification_interval`]) it re-reads the names it
//!    publishes, [`VERIFY_NAMES_PER_STEP`] at a time, letting pending changes out between steps, and repairs
//!    drift. A read that fails is tried again after the verification's own backoff, and the verification goes
//!    on from there: it never starts over, so on a throttled account it still reaches its last names.
//! 6. On shutdown it stops verifying and stops waiting for a retry's time (it tries at once, then backs off
//!    by at most [`SHUTDOWN_MAX_RETRY_DELAY`]), so that a withdrawal fits in `shutdown.timeout`.
//!
//! Whatever owner ids this instance has written under (the host IP before it changed) stay its own until
//! their record sets are gone, so a change of IP never orphans a record set, even when the replacing batch
//! fails ambiguously or the writer restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, error, info, warn};

use crate::actors::messages::WriteReport;
use crate::config::Settings;
use crate::plan::{self, BatchLimits, Ours, RecordSpec};
use crate::route53::send::FlushOutcome;
use crate::route53::{Change, ChangeAction, HostedZone, Meaning, RecordSet, Route53Error, Routing};
use crate::stats::Stats;
use crate::timing::{verification_interval, Backoff, Debounce, RetryClass, RetryPolicy};

/// Names a verification reads in one step. Between steps pending changes go out, so a verification of many
/// names (one request each, through the rate limiter) delays a withdrawal by one read at most.
pub const VERIFY_NAMES_PER_STEP: usize = 1;

/// While shutting down, the longest wait before the next try of a failed request: the backoff may have grown
/// to its cap (20 s, and as much again of jitter), longer than `shutdown.timeout` itself.
pub const SHUTDOWN_MAX_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Record sets per page of a whole-zone read (Route53's default `MaxItems`): what reading the zone costs.
const ZONE_PAGE: usize = 300;

/// What the writer needs to know from the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct WriterSettings {
    /// `multivalue` or `weighted` (`simple` is refused by [`WriterSettings::check`]).
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
    /// The shortest interval between two verifications.
    pub verify_interval: Duration,
    /// Log the changes instead of sending them.
    pub dry_run: bool,
    /// Backoff between retries of a failed request.
    pub retry: RetryPolicy,
    /// Route53's limits on one ChangeResourceRecordSets.
    pub limits: BatchLimits,
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
            verify_interval: r53.verify_interval,
            dry_run: false,
            retry: RetryPolicy::default(),
            limits: BatchLimits::ROUTE53,
        }
    }
}

impl WriterSettings {
    /// The same, with `--dry-run` set as given.
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Whether this writer can work with these settings: `routing = "simple"` is not implemented yet.
    pub fn check(&self) -> Result<(), String> {
        match self.routing {
            Routing::Simple => Err(
                "route53.routing: \"simple\" is not supported yet; use multivalue or weighted"
                    .into(),
            ),
            Routing::Multivalue | Routing::Weighted => Ok(()),
        }
    }
}

/// Why some names are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPurpose {
    /// A change to them failed in a way that may have been applied: what they hold is unknown.
    Uncertain,
    /// A step of a verification.
    Verify,
}

/// What the writer should do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing before `until` (`None`: before the next input). `settled`: everything due is done, so a
    /// `Settle` or `Shutdown` waiting for it can be answered.
    Idle {
        until: Option<Instant>,
        settled: bool,
    },
    /// Read the whole zone, then call [`Reconciler::zone_read`].
    ReadZone,
    /// Read the A record sets under these names, then call [`Reconciler::names_read`].
    ReadNames {
        names: BTreeSet<String>,
        purpose: ReadPurpose,
    },
    /// Send these batches in order, then call [`Reconciler::sent`].
    Send { batches: Vec<Vec<Change>> },
}

/// What is known of the zone: forgotten at a restart, rebuilt by reading the zone again.
#[derive(Debug, Default)]
struct ZoneView {
    /// The zone was read since the start (or the last restart).
    loaded: bool,
    /// This instance's record sets as Route53 last showed or accepted them.
    current: Ours,
    /// The owners (SetIdentifiers of A record sets) last seen under each name: the fleet's size.
    owners: BTreeMap<String, BTreeSet<String>>,
    /// The TTL of other owners' weighted group under each name.
    group_ttls: BTreeMap<String, i64>,
    /// Record sets in the zone at the last whole-zone read: what reading it again would cost.
    size: usize,
    /// Names whose last change failed in a way that may have been applied: read before the next diff.
    uncertain: BTreeSet<String>,
    /// Changes refused for good, by name: not sent again until the diff for that name changes or a
    /// verification re-reads it.
    rejected: BTreeMap<String, Vec<Change>>,
    /// The verification in progress: the names it has still to read (empty: none in progress).
    verifying: BTreeSet<String>,
    /// When the next verification is due (`None`: not armed).
    verify_at: Option<Instant>,
    /// A step of the verification failed: the next one waits until then.
    verify_paused_until: Option<Instant>,
    /// Send without waiting for the debounce: after the first read, after a refusal whose record set had
    /// changed under us, a retry.
    urgent: bool,
}

/// The writer's state and decisions. See the module documentation.
#[derive(Debug)]
pub struct Reconciler {
    zone: HostedZone,
    settings: WriterSettings,
    stats: Stats,
    ip: Option<Ipv4Addr>,
    desired: Option<BTreeSet<String>>,
    /// Owner ids written under before the current one, still holding record sets (or possibly so).
    former_owner_ids: BTreeSet<String>,
    view: ZoneView,
    debounce: Debounce,
    backoff: Backoff,
    /// The verification's own backoff, for a step that failed: apart from `backoff`, so that failed reads
    /// neither lengthen a write's retry nor are reset by an accepted change; reset by a step that works.
    verify_backoff: Backoff,
    /// No request before this (after a failure).
    retry_at: Option<Instant>,
    /// An action is being performed; its outcome has not come back yet.
    in_flight: bool,
    /// Names that were uncertain, read once more by the next verification even when no longer desired: a
    /// request Route53 applies late may land after the first re-read. Kept across a restart.
    recheck: BTreeSet<String>,
    /// Names whose weighted group's TTL differs from `route53.ttl`, already logged.
    ttl_noticed: BTreeSet<String>,
    shutting_down: bool,
    report: WriteReport,
    rng: SmallRng,
}

impl Reconciler {
    /// A reconciler for `zone`; `seed` seeds the jitter of its backoffs and verification interval.
    pub fn new(zone: HostedZone, settings: WriterSettings, stats: Stats, seed: u64) -> Self {
        Reconciler {
            zone,
            debounce: Debounce::new(settings.debounce, settings.max_delay),
            backoff: Backoff::new(settings.retry, seed),
            verify_backoff: Backoff::new(settings.retry, seed.wrapping_add(1)),
            settings,
            stats,
            ip: None,
            desired: None,
            former_owner_ids: BTreeSet::new(),
            view: ZoneView::default(),
            retry_at: None,
            in_flight: false,
            recheck: BTreeSet::new(),
            ttl_noticed: BTreeSet::new(),
            shutting_down: false,
            report: WriteReport::default(),
            rng: SmallRng::seed_from_u64(seed.wrapping_add(2)),
        }
    }

    /// The hosted zone written to.
    pub fn zone(&self) -> &HostedZone {
        &self.zone
    }

    /// What was applied and rejected so far.
    pub fn report(&self) -> &WriteReport {
        &self.report
    }

    /// Whether anything can ever be written: the IP and the desired names are known.
    pub fn can_write(&self) -> bool {
        self.ip.is_some() && self.desired.is_some()
    }

    /// This instance's record sets as last read or accepted.
    pub fn current(&self) -> impl Iterator<Item = &RecordSet> {
        self.view.current.values()
    }

    /// The owners seen in the zone (for the verification interval).
    pub fn owners(&self) -> BTreeSet<&String> {
        self.view.owners.values().flatten().collect()
    }

    /// The host IP is `ip` (first known, or changed). Returns whether it changed.
    pub fn host_ip(&mut self, now: Instant, ip: Ipv4Addr) -> bool {
        if self.shutting_down || self.ip == Some(ip) {
            return false;
        }
        info!(ip = %ip, previous = ?self.ip, "host IP");
        if let (Some(old), None) = (self.ip, &self.settings.owner_id) {
            // The record sets written under the old IP stay ours until they are gone.
            self.former_owner_ids.insert(old.to_string());
        }
        self.former_owner_ids.remove(&ip.to_string());
        self.ip = Some(ip);
        self.debounce.changed(now);
        true
    }

    /// The names to publish are `names`. Returns whether they changed.
    pub fn desired_names(&mut self, now: Instant, names: BTreeSet<String>) -> bool {
        if self.shutting_down || self.desired.as_ref() == Some(&names) {
            return false;
        }
        debug!(names = names.len(), "desired names");
        self.desired = Some(names);
        self.debounce.changed(now);
        true
    }

    /// Shutting down: stop verifying, stop waiting for a retry's time, and with `deregister` withdraw every
    /// record set of this instance.
    pub fn shutdown(&mut self, deregister: bool) {
        self.shutting_down = true;
        self.view.verifying.clear();
        self.view.verify_at = None;
        self.view.verify_paused_until = None;
        self.retry_at = None;
        if deregister {
            info!(
                ours = self.view.current.len(),
                "withdrawing every record set of this instance"
            );
            self.desired = Some(BTreeSet::new());
        }
    }

    /// The writer restarts (after a panic, or a fatal answer): what was known of the zone is forgotten and
    /// read again after the backoff. The desired names, the IP, the owner ids written under, the backoff,
    /// the names to recheck and the report are kept.
    pub fn restart(&mut self, now: Instant) {
        if self.retry_at.is_none() {
            self.retry_at = Some(now + self.next_delay(RetryClass::Failed));
        }
        warn!(
            zone = self.zone.id,
            attempt = self.backoff.attempts(),
            "writer restarting; it will read the zone again"
        );
        self.view = ZoneView::default();
        self.in_flight = false;
        self.debounce.clear();
    }

    /// What this instance's record sets look like now; `None` until the IP is known.
    fn spec(&self) -> Option<RecordSpec> {
        let ip = self.ip?;
        Some(RecordSpec {
            zone_name: self.zone.name.clone(),
            owner_id: self
                .settings
                .owner_id
                .clone()
                .unwrap_or_else(|| ip.to_string()),
            former_owner_ids: self.former_owner_ids.clone(),
            ip,
            routing: self.settings.routing,
            ttl: self.settings.ttl,
            weight: self.settings.weight,
        })
    }

    /// The diff from `current` to the desired names, less the changes already refused for good. A refused
    /// entry whose name now needs other changes is forgotten, so the new ones are tried.
    fn pending_changes(&mut self, spec: &RecordSpec) -> Vec<Change> {
        let desired = self.desired.clone().unwrap_or_default();
        for name in &desired {
            let fqdn = plan::fqdn(name, &spec.zone_name);
            if let Some(ttl) = self.view.group_ttls.get(&fqdn) {
                if *ttl != spec.ttl && self.ttl_noticed.insert(fqdn.clone()) {
                    info!(
                        name = fqdn,
                        group_ttl = ttl,
                        ttl = spec.ttl,
                        "joining a weighted group with the group's TTL, not route53.ttl"
                    );
                }
            }
        }
        let changes = plan::diff(&desired, &self.view.current, spec, &self.view.group_ttls);
        let mut by_name: BTreeMap<String, Vec<Change>> = BTreeMap::new();
        for change in changes {
            by_name
                .entry(change.record_set.name.clone())
                .or_default()
                .push(change);
        }
        self.view
            .rejected
            .retain(|name, refused| by_name.get(name) == Some(refused));
        let rejected = &self.view.rejected;
        let pending: Vec<Change> = by_name
            .into_iter()
            .filter(|(name, _)| !rejected.contains_key(name))
            .flat_map(|(_, c)| c)
            .collect();
        self.stats
            .pending_changes
            .set(i64::try_from(pending.len()).unwrap_or(i64::MAX));
        pending
    }

    /// The one scheduler: what to do at `now`. Call it after every input and outcome, and when the instant
    /// an [`Action::Idle`] named has come.
    pub fn next(&mut self, now: Instant) -> Action {
        self.stats
            .published_names
            .set(i64::try_from(self.view.current.len()).unwrap_or(i64::MAX));
        if self.in_flight {
            return idle(None, false);
        }
        let (Some(spec), Some(_)) = (self.spec(), self.desired.as_ref()) else {
            return idle(None, false);
        };
        if self.settings.routing == Routing::Simple {
            return idle(None, false);
        }
        if let Some(at) = self.retry_at {
            if at > now {
                return idle(Some(at), false);
            }
            self.retry_at = None;
        }
        if !self.view.loaded {
            return self.start(Action::ReadZone);
        }
        if !self.view.uncertain.is_empty() {
            let names = self.view.uncertain.clone();
            // Whatever this read finds, a request applied late may land after it: the next verification
            // looks again.
            self.recheck.extend(names.iter().cloned());
            if names.len() > self.view.size / ZONE_PAGE + 1 {
                debug!(
                    names = names.len(),
                    zone = self.view.size,
                    "reading the whole zone again instead"
                );
                self.view.uncertain.clear();
                self.view.loaded = false;
                return self.start(Action::ReadZone);
            }
            return self.start(Action::ReadNames {
                names,
                purpose: ReadPurpose::Uncertain,
            });
        }
        let changes = self.pending_changes(&spec);
        if changes.is_empty() {
            self.debounce.clear();
            self.view.urgent = false;
            self.forget_former_owners();
            if self.shutting_down {
                return idle(None, true);
            }
            if self.view.verifying.is_empty() && self.view.verify_at.is_some_and(|at| at <= now) {
                self.begin_verification(now);
            }
            if let Some(step) = self.verification_step(now) {
                return step;
            }
            // A verification paused after a failed read is not waited for: it may keep failing.
            return idle(self.verify_wake(), true);
        }
        if !self.view.urgent && !self.shutting_down {
            if !self.debounce.is_pending() {
                self.debounce.changed(now);
            }
            if !self.debounce.is_due(now) {
                // One step of a verification in progress fits in the wait; the flush follows it.
                if let Some(step) = self.verification_step(now) {
                    return step;
                }
                let deadline = self.debounce.deadline().unwrap_or(now);
                return idle(earliest(Some(deadline), self.verify_wake()), false);
            }
        }
        // Debounced or not (a retry, an urgent flush), this flush paces the next debounced one.
        self.debounce.flushed(now);
        self.view.urgent = false;
        debug!(changes = changes.len(), "flushing");
        self.start(Action::Send {
            batches: plan::batches(&changes, self.settings.limits),
        })
    }

    fn start(&mut self, action: Action) -> Action {
        self.in_flight = true;
        action
    }

    /// When a verification wants to be looked at again: its next time, or the end of its pause.
    fn verify_wake(&self) -> Option<Instant> {
        if self.view.verifying.is_empty() {
            self.view.verify_at
        } else {
            self.view.verify_paused_until
        }
    }

    /// The next step of the verification in progress, unless there is none or it is paused.
    fn verification_step(&mut self, now: Instant) -> Option<Action> {
        if self.view.verifying.is_empty() || self.view.verify_paused_until.is_some_and(|t| t > now)
        {
            return None;
        }
        self.view.verify_paused_until = None;
        let step: BTreeSet<String> = self
            .view
            .verifying
            .iter()
            .take(VERIFY_NAMES_PER_STEP)
            .cloned()
            .collect();
        self.view.verifying.retain(|name| !step.contains(name));
        Some(self.start(Action::ReadNames {
            names: step,
            purpose: ReadPurpose::Verify,
        }))
    }

    /// Sets the time of the next verification, after a zone read or a verification.
    fn arm_verification(&mut self, now: Instant) {
        self.view.verify_paused_until = None;
        if self.settings.dry_run || self.shutting_down {
            // A dry run's `current` is what would have been; reading Route53 would only undo it. A writer
            // that is shutting down has no time for it.
            self.view.verify_at = None;
            return;
        }
        let owners = self.owners().len();
        let calls = self.desired.as_ref().map_or(0, BTreeSet::len);
        let interval = verification_interval(
            self.settings.verify_interval,
            owners,
            calls,
            self.rng.random::<f64>(),
        );
        debug!(interval = ?interval, owners, calls, "next verification");
        self.view.verify_at = Some(now + interval);
    }

    /// Starts a verification: the names this instance publishes (or published, under a former owner id),
    /// those refused, and those that were uncertain since the last one.
    fn begin_verification(&mut self, now: Instant) {
        self.view.verify_at = None;
        let zone = self.zone.name.clone();
        let desired = self.desired.clone().unwrap_or_default();
        self.view.verifying = desired
            .iter()
            .map(|n| plan::fqdn(n, &zone))
            .chain(self.view.current.keys().map(|(name, _)| name.clone()))
            .chain(self.view.rejected.keys().cloned())
            .chain(self.recheck.iter().cloned())
            .collect();
        debug!(names = self.view.verifying.len(), "verifying");
        if self.view.verifying.is_empty() {
            self.arm_verification(now);
        }
    }

    /// The whole zone was read (or could not be).
    pub fn zone_read(&mut self, now: Instant, result: Result<Vec<RecordSet>, Route53Error>) {
        self.in_flight = false;
        let record_sets = match result {
            Ok(record_sets) => record_sets,
            Err(e) => return self.failed(now, "read the zone", &e),
        };
        let Some(spec) = self.spec() else { return };
        self.view.current = plan::ours(&spec, &record_sets);
        self.view.group_ttls = plan::group_ttls(&spec, &record_sets);
        self.view.owners = owners_by_name(&record_sets);
        // Every name was read, the uncertain ones too; only a late request can still land (`recheck`).
        self.view.uncertain.clear();
        self.view.size = record_sets.len();
        self.view.loaded = true;
        self.view.urgent = true;
        info!(
            zone = self.zone.name,
            record_sets = record_sets.len(),
            ours = self.view.current.len(),
            owners = self.owners().len(),
            "zone read"
        );
        self.arm_verification(now);
    }

    /// Some names were read (or could not be), for `purpose`.
    pub fn names_read(
        &mut self,
        now: Instant,
        purpose: ReadPurpose,
        names: BTreeSet<String>,
        result: Result<BTreeMap<String, Vec<RecordSet>>, Route53Error>,
    ) {
        self.in_flight = false;
        match (purpose, result) {
            (ReadPurpose::Uncertain, Ok(read)) => {
                self.view.uncertain.retain(|name| !read.contains_key(name));
                self.take_in(&read, "a change that failed was applied after all");
            }
            (ReadPurpose::Uncertain, Err(e)) => {
                self.failed(now, "read the uncertain names again", &e)
            }
            (ReadPurpose::Verify, Ok(read)) => {
                self.verify_backoff.reset();
                self.recheck.retain(|name| !read.contains_key(name));
                self.take_in(&read, "drift found; repairing");
                if self.view.verifying.is_empty() {
                    self.arm_verification(now);
                }
            }
            (ReadPurpose::Verify, Err(e)) if self.shutting_down => {
                // The shutdown has cancelled the verification; the step in flight is not tried again.
                debug!(error = %e, "a verification read failed while shutting down");
            }
            (ReadPurpose::Verify, Err(e)) => {
                // Only this step is tried again, not the whole verification: starting over after every
                // failure, one that takes longer than the gap between two throttles would never reach its
                // last names, and would read once a (short) backoff forever.
                self.view.verifying.extend(names);
                let delay = self.verify_backoff.next_delay_for(retry_class(&e));
                self.stats.retries.inc();
                warn!(error = %e, retry_in = ?delay, "a verification read failed; trying it again");
                self.view.verify_paused_until = Some(now + delay);
            }
        }
    }

    /// Takes in what a read of some names found: `current` follows Route53 for each (a difference is logged
    /// with `what`, counted as a repair, and the repair is sent at once), and a change refused under it may
    /// be tried again.
    fn take_in(&mut self, read: &BTreeMap<String, Vec<RecordSet>>, what: &str) {
        let Some(spec) = self.spec() else { return };
        for (name, record_sets) in read {
            self.view.rejected.remove(name);
            if self.replace_name(&spec, name, record_sets) {
                self.stats.repairs.inc();
                self.view.urgent = true;
                warn!(name, "{what}");
            }
        }
    }

    /// Replaces what is known under `name` with `record_sets` (a fresh read of it); returns whether this
    /// instance's record sets there differ from what was believed.
    fn replace_name(&mut self, spec: &RecordSpec, name: &str, record_sets: &[RecordSet]) -> bool {
        let found = plan::ours(spec, record_sets);
        let before: Ours = self
            .view
            .current
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.view.current.retain(|(n, _), _| n != name);
        self.view.current.extend(found.clone());
        match plan::group_ttls(spec, record_sets).remove(name) {
            Some(ttl) => self.view.group_ttls.insert(name.to_string(), ttl),
            None => self.view.group_ttls.remove(name),
        };
        self.view.owners.insert(
            name.to_string(),
            owners_by_name(record_sets).remove(name).unwrap_or_default(),
        );
        if found != before {
            debug!(name, found = ?found.values().collect::<Vec<_>>(), expected = ?before.values().collect::<Vec<_>>(), "read differs");
        }
        found != before
    }

    /// Some batches were sent (see [`FlushOutcome`]).
    pub fn sent(&mut self, now: Instant, outcome: FlushOutcome) {
        self.in_flight = false;
        for change in &outcome.accepted {
            self.applied(change);
        }
        if !outcome.uncertain.is_empty() {
            warn!(
                names = ?outcome.uncertain,
                "a change failed but may have been applied; reading its names again before the retry"
            );
            self.view.uncertain.extend(outcome.uncertain);
        }
        let Some(spec) = self.spec() else { return };
        for (name, record_sets) in &outcome.reread {
            self.replace_name(&spec, name, record_sets);
        }
        for rejection in outcome.rejected {
            let Some(name) = rejection.changes.first().map(|c| c.record_set.name.clone()) else {
                continue;
            };
            if !outcome.reread.contains_key(&name) {
                // Not read again (the flush ended on another failure): the retry sends it once more.
                continue;
            }
            let now_pending: Vec<Change> = self
                .pending_changes(&spec)
                .into_iter()
                .filter(|c| c.record_set.name == name)
                .collect();
            if now_pending == rejection.changes {
                for change in &rejection.changes {
                    error!(
                        action = ?change.action,
                        name = change.record_set.name,
                        values = ?change.record_set.values,
                        ttl = change.record_set.ttl,
                        messages = ?rejection.messages,
                        "change rejected by Route53"
                    );
                }
                self.report.rejected += rejection.changes.len();
                self.stats
                    .rejected_changes
                    .inc_by(rejection.changes.len() as u64);
                self.view.rejected.insert(name, rejection.changes);
            } else {
                warn!(name, messages = ?rejection.messages, "record set changed under us; retrying with what Route53 holds");
                self.view.urgent = true;
            }
        }
        if !outcome.accepted.is_empty() {
            // Route53 accepted a change: whatever failed before has cleared (a throttle, say), so a failure
            // later in this flush starts the backoff again from its first delay.
            self.backoff.reset();
        }
        match outcome.error {
            None => self.backoff.reset(),
            Some(e) => {
                self.failed(now, "send changes", &e);
                // The retry goes out when its time comes, without waiting for the debounce again.
                self.view.urgent = true;
            }
        }
    }

    /// Records a failure and when to try again; a fatal one also forgets the zone.
    fn failed(&mut self, now: Instant, what: &str, e: &Route53Error) {
        let delay = self.next_delay(retry_class(e));
        self.retry_at = Some(now + delay);
        self.stats.retries.inc();
        let attempt = self.backoff.attempts();
        match e.meaning() {
            Meaning::Throttled | Meaning::MaybeApplied => {
                warn!(zone = self.zone.id, error = %e, attempt, retry_in = ?delay, "could not {what}; retrying")
            }
            Meaning::Refused | Meaning::Fatal => {
                error!(zone = self.zone.id, error = %e, attempt, retry_in = ?delay, "could not {what}; retrying")
            }
        }
        if e.meaning() == Meaning::Fatal {
            // Our picture of the zone may be wrong: read it again, after the backoff.
            self.restart(now);
        }
    }

    /// The wait before the next try after one more failure of `class`: the backoff's, capped while shutting
    /// down.
    fn next_delay(&mut self, class: RetryClass) -> Duration {
        let delay = self.backoff.next_delay_for(class);
        if self.shutting_down {
            delay.min(SHUTDOWN_MAX_RETRY_DELAY)
        } else {
            delay
        }
    }

    /// Updates `current` with a change Route53 accepted (or, in a dry run, would have).
    fn applied(&mut self, change: &Change) {
        let rs = &change.record_set;
        let ip = rs.values.join(",");
        match change.action {
            ChangeAction::Delete => {
                self.view.current.remove(&plan::key(rs));
                info!(name = rs.name, ip, owner = rs.set_identifier, "withdrawn");
            }
            ChangeAction::Create | ChangeAction::Upsert => {
                self.view.current.insert(plan::key(rs), rs.clone());
                info!(name = rs.name, ip, owner = rs.set_identifier, "published");
            }
        }
        self.report.applied += 1;
    }

    /// Former owner ids with no record set left are forgotten, once nothing is uncertain: no record set of
    /// theirs can be anywhere else.
    fn forget_former_owners(&mut self) {
        if self.former_owner_ids.is_empty()
            || !self.view.loaded
            || !self.view.uncertain.is_empty()
            || !self.recheck.is_empty()
        {
            return;
        }
        let current = &self.view.current;
        self.former_owner_ids
            .retain(|id| current.keys().any(|(_, owner)| owner == id));
    }
}

/// How long to wait before retrying after `e`: a throttle is the account's rate limit, shared by the fleet
/// and soon free again, so it gets the short, fully jittered backoff; any other failure the long one.
fn retry_class(e: &Route53Error) -> RetryClass {
    match e.meaning() {
        Meaning::Throttled => RetryClass::Throttled,
        Meaning::MaybeApplied | Meaning::Refused | Meaning::Fatal => RetryClass::Failed,
    }
}

fn idle(until: Option<Instant>, settled: bool) -> Action {
    Action::Idle { until, settled }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The distinct SetIdentifiers of the A record sets among `record_sets`, by name.
fn owners_by_name(record_sets: &[RecordSet]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for rs in record_sets
        .iter()
        .filter(|rs| rs.rtype == plan::RECORD_TYPE)
    {
        if let Some(id) = &rs.set_identifier {
            out.entry(rs.name.clone()).or_default().insert(id.clone());
        }
    }
    out
}
