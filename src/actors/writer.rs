//! `Route53Writer`: publishes this instance's record sets for the desired names, and withdraws the rest.
//!
//! Level-triggered: it keeps the desired names (from the classifier), the host IP (from the metadata cache)
//! and `current`, this instance's record sets as Route53 last showed or accepted them. Whenever it is due
//! (the debounce says so, a retry's time has come, or verification found drift) it recomputes
//! [`plan::diff`] from these, so a change that was superseded before it was sent is never sent, and a
//! failed batch is simply recomputed at the retry.
//!
//! The life of the writer:
//!
//! 1. Nothing is read or written before both the IP and the first desired names are known.
//! 2. It reads the whole zone once ([`read_all`]), keeps this instance's record sets as `current` (so a
//!    record of a container that stopped while the daemon was down is withdrawn now) and counts the owners.
//! 3. It sends the diff at once, then every later diff through the debounce, in batches within Route53's
//!    limits, each request through the rate limiter ([`RateLimited`]). The debounce also paces: while
//!    changes keep arriving, no two debounced flushes go out closer than `max_delay` ([`Debounce`]); retries
//!    and urgent flushes are not held back, but the next debounced flush keeps its distance from them.
//! 4. Retriable failures are retried with backoff, forever: a throttle with a short, fully jittered one
//!    ([`retry_class`]), anything else with the long one; a change Route53 accepts resets it. A batch refused as invalid is halved until the
//!    bad record set's changes are alone; the rest is applied. The refused name is re-read: if Route53
//!    holds something else than we thought (another instance rewrote a weighted group's TTL), the new diff
//!    is tried; if the same change would be sent again, it is logged, counted and not retried until the
//!    next verification.
//! 5. At a jittered interval that grows with the fleet ([`verification_interval`]) it re-reads the names it
//!    publishes ([`read_names`]) and repairs drift. Otherwise, while nothing changes, it calls nothing. A
//!    read that fails is tried again after a backoff of the verification's own, and the verification goes
//!    on from there: it never starts over, so on a throttled account it still reaches its last names.
//!
//! What a failed change leaves behind ([`may_have_been_applied`]):
//!
//! | the answer                                   | applied?      | before the next diff                  |
//! |----------------------------------------------|---------------|---------------------------------------|
//! | `Throttling`, `PriorRequestNotComplete`      | no            | nothing: `current` is still right     |
//! | timeout, reset, 5xx (`Transport`, `Server`)  | maybe         | re-read the batch's names             |
//! | `InvalidChangeBatch`                         | no            | halve; re-read the refused name       |
//! | access denied, no such zone, anything else   | no            | restart: read the whole zone again    |
//!
//! A request Route53 applies after the client gave up may still land after that re-read: such names are
//! read once more by the next verification, whether or not they are still desired, so that a late CREATE
//! is not left behind until a restart.
//!
//! Nothing long holds back a change: a verification reads [`VERIFY_NAMES_PER_STEP`] name(s) at a time and
//! lets pending changes go out between steps, and on `Shutdown` the writer stops verifying, stops waiting
//! for a retry's time (it tries at once, then backs off by at most [`SHUTDOWN_MAX_RETRY_DELAY`]), so that
//! a withdrawal fits in `shutdown.timeout`.
//!
//! Supervised: a fatal answer to a change (access denied, zone gone) stops the actor, and so does a panic
//! anywhere in its Route53 calls or its scheduling ([`crate::actors::CatchPanic`]: without it, actix would
//! drop the writer and its supervisor together). The supervisor restarts it, `restarting()` forgets
//! `current`, and the restarted actor waits out the backoff and reads the zone again. The backoff survives
//! the restart and is reset only by a change Route53 accepted, so a persistent failure is not retried in a
//! tight loop (a zone read that works is not enough: the failure may be in the change that follows).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;
use tracing::{debug, error, info, warn};

use crate::actors::messages::{DesiredNames, HostIp, Settle, Shutdown, WriteReport};
use crate::actors::{stop_on_panic, CatchPanic};
use crate::config::Settings;
use crate::plan::{self, BatchLimits, RecordSpec};
use crate::route53::limited::RateLimited;
use crate::route53::read::{read_all, read_names};
use crate::route53::{
    Change, ChangeAction, HostedZone, RecordSet, Route53Api, Route53Error, Routing,
};
use crate::timing::{verification_interval, Backoff, Debounce, RetryClass, RetryPolicy};

/// Names a verification reads in one step. Between steps pending changes go out, so a verification of many
/// names (one request each, through the rate limiter) delays a withdrawal by one read at most.
pub const VERIFY_NAMES_PER_STEP: usize = 1;

/// While shutting down, the longest wait before the next try of a failed request: the backoff may have grown
/// to its cap (20 s, and as much again of jitter), longer than `shutdown.timeout` itself.
pub const SHUTDOWN_MAX_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Record sets per page of a whole-zone read (Route53's default `MaxItems`): what [`read_all`] costs.
const ZONE_PAGE: usize = 300;

/// Whether a ChangeResourceRecordSets that failed with `e` may nevertheless have been applied by Route53.
///
/// A request that timed out, whose connection was reset, or that got a 5xx may have reached Route53 and been
/// applied (before or after the answer was lost). `Throttling` and `PriorRequestNotComplete` are refusals
/// that applied nothing, and so is `InvalidChangeBatch`. The fatal errors applied nothing either (and
/// restart the writer, which reads the whole zone again). Any other retriable error is treated as
/// possibly applied: when in doubt, read.
pub fn may_have_been_applied(e: &Route53Error) -> bool {
    match e {
        Route53Error::Throttling(_) | Route53Error::PriorRequestNotComplete(_) => false,
        e => e.is_retriable(),
    }
}

/// How long to wait before retrying after `e`: a throttle (`Throttling`, `PriorRequestNotComplete`) is the
/// account's rate limit, shared by the fleet and soon free again, so it gets the short, fully jittered
/// backoff ([`RetryClass::Throttled`]); any other failure the long one.
pub fn retry_class(e: &Route53Error) -> RetryClass {
    match e {
        Route53Error::Throttling(_) | Route53Error::PriorRequestNotComplete(_) => {
            RetryClass::Throttled
        }
        _ => RetryClass::Failed,
    }
}

/// What the writer needs to know from the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct WriterSettings {
    /// `multivalue` or `weighted` (`simple` is refused by [`WriterSettings::check`]).
    pub routing: Routing,
    /// TTL of the record sets written, in seconds.
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

/// A change Route53 refused on its own (its record set's changes isolated from the rest of the batch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The changes of one record set, as sent.
    pub changes: Vec<Change>,
    /// Route53's messages.
    pub messages: Vec<String>,
}

/// What one flush achieved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushOutcome {
    /// Changes Route53 accepted, in order.
    pub accepted: Vec<Change>,
    /// Record sets whose changes were refused.
    pub rejected: Vec<Rejection>,
    /// The A record sets under each refused name, read again after the refusal.
    pub reread: BTreeMap<String, Vec<RecordSet>>,
    /// The failure that ended the flush early (the rest was not sent).
    pub error: Option<Route53Error>,
    /// The names of the batch that failed with `error` when that failure may have been applied anyway
    /// ([`may_have_been_applied`]): what Route53 holds under them is unknown until they are read again.
    pub uncertain: BTreeSet<String>,
    /// Requests sent.
    pub requests: usize,
}

/// Sends `batches` in order. A batch refused as invalid is halved along record-set boundaries
/// ([`plan::groups`]) until each refused record set is alone, so every good change is applied; the refused
/// names are then read again. Any other failure ends the flush: what was not sent is recomputed at the retry,
/// and when the failed batch may have been applied its names are [`FlushOutcome::uncertain`].
pub async fn send_batches(
    api: &dyn Route53Api,
    zone_id: &str,
    batches: Vec<Vec<Change>>,
) -> FlushOutcome {
    let mut out = FlushOutcome::default();
    let mut work: std::collections::VecDeque<Vec<Change>> = batches.into();
    while let Some(batch) = work.pop_front() {
        out.requests += 1;
        match api.change_record_sets(zone_id, &batch).await {
            Ok(info) => {
                debug!(
                    zone_id,
                    change_id = info.id,
                    changes = batch.len(),
                    "batch accepted"
                );
                out.accepted.extend(batch);
            }
            Err(Route53Error::InvalidChangeBatch(messages)) => {
                let groups = plan::groups(&batch);
                if groups.len() > 1 {
                    debug!(
                        zone_id,
                        changes = batch.len(),
                        "batch refused; halving it to isolate the bad change"
                    );
                    let (first, second) = groups.split_at(groups.len() / 2);
                    work.push_front(second.concat());
                    work.push_front(first.concat());
                } else {
                    out.rejected.push(Rejection {
                        changes: batch,
                        messages,
                    });
                }
            }
            Err(e) => {
                if may_have_been_applied(&e) {
                    out.uncertain = batch.iter().map(|c| c.record_set.name.clone()).collect();
                }
                out.error = Some(e);
                return out;
            }
        }
    }
    let names: BTreeSet<String> = out
        .rejected
        .iter()
        .filter_map(|r| r.changes.first())
        .map(|c| c.record_set.name.clone())
        .collect();
    if !names.is_empty() {
        out.requests += names.len();
        match read_names(api, zone_id, &names).await {
            Ok(reread) => out.reread = reread,
            Err(e) => out.error = Some(e),
        }
    }
    out
}

/// The writer actor. See the module documentation.
pub struct Route53Writer {
    api: Arc<dyn Route53Api>,
    zone: HostedZone,
    settings: WriterSettings,
    ip: Option<Ipv4Addr>,
    desired: Option<BTreeSet<String>>,
    /// This instance's record sets, keyed by fully qualified name, as Route53 last showed or accepted them.
    current: BTreeMap<String, RecordSet>,
    loaded: bool,
    /// Owners (SetIdentifiers of A record sets) seen in the zone: the fleet's size, for verification.
    owners: BTreeSet<String>,
    debounce: Debounce,
    backoff: Backoff,
    /// No request before this (after a failure).
    retry_at: Option<Instant>,
    /// A Route53 call sequence (read, flush or verification) is in flight; its completion polls again.
    busy: bool,
    /// Send without waiting for the debounce: after the first read, on shutdown, after a refusal whose
    /// record set had changed under us.
    urgent: bool,
    verify_due: bool,
    /// The names the verification in progress has still to read (empty: none in progress).
    verifying: BTreeSet<String>,
    /// A step of the verification in progress failed: the next one waits until `verify_timer` clears this.
    /// Meanwhile the verification is paused, not abandoned: `verifying` keeps the names still to read.
    verify_paused: bool,
    /// The verification's own backoff, for a step that failed: apart from `backoff`, so that failed reads
    /// neither lengthen a write's retry nor are reset by an accepted change; reset by a step that works.
    verify_backoff: Backoff,
    /// Names whose last change failed in a way that may have been applied: read again before the next diff.
    uncertain: BTreeSet<String>,
    /// Names that were uncertain, read once more by the next verification even when no longer desired: a
    /// request Route53 applies late may land after the first re-read.
    recheck: BTreeSet<String>,
    /// Record sets in the zone at the last whole-zone read: what reading it again would cost.
    zone_size: usize,
    timer: Option<SpawnHandle>,
    verify_timer: Option<SpawnHandle>,
    /// Changes refused for good, by name: not sent again until the diff for that name changes or a
    /// verification re-reads it.
    rejected: BTreeMap<String, Vec<Change>>,
    shutting_down: bool,
    report: WriteReport,
    waiters: Vec<oneshot::Sender<WriteReport>>,
}

impl Route53Writer {
    /// A writer for `zone` (resolved by `main` before the actors start), sending through `api` limited to
    /// `settings.max_requests_per_second`.
    pub fn new(api: Arc<dyn Route53Api>, zone: HostedZone, settings: WriterSettings) -> Self {
        let api: Arc<dyn Route53Api> =
            Arc::new(RateLimited::new(api, settings.max_requests_per_second));
        Route53Writer {
            api,
            zone,
            debounce: Debounce::new(settings.debounce, settings.max_delay),
            backoff: Backoff::new(settings.retry, rand::random()),
            verify_backoff: Backoff::new(settings.retry, rand::random()),
            settings,
            ip: None,
            desired: None,
            current: BTreeMap::new(),
            loaded: false,
            owners: BTreeSet::new(),
            retry_at: None,
            busy: false,
            urgent: false,
            verify_due: false,
            verifying: BTreeSet::new(),
            verify_paused: false,
            uncertain: BTreeSet::new(),
            recheck: BTreeSet::new(),
            zone_size: 0,
            timer: None,
            verify_timer: None,
            rejected: BTreeMap::new(),
            shutting_down: false,
            report: WriteReport::default(),
            waiters: Vec::new(),
        }
    }

    /// Starts the writer under an actix `Supervisor`.
    pub fn start_supervised(self) -> Addr<Self> {
        Supervisor::start(move |_| self)
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
        let changes = plan::diff(&desired, &self.current, spec);
        let mut by_name: BTreeMap<String, Vec<Change>> = BTreeMap::new();
        for change in changes {
            by_name
                .entry(change.record_set.name.clone())
                .or_default()
                .push(change);
        }
        self.rejected
            .retain(|name, refused| by_name.get(name) == Some(refused));
        by_name
            .into_iter()
            .filter(|(name, _)| !self.rejected.contains_key(name))
            .flat_map(|(_, c)| c)
            .collect()
    }

    /// The writer's one scheduler: called after every change of state, it decides what to do now or arms
    /// the one timer for when something becomes due. A panic in it (in the plan, say) restarts the writer.
    fn poll(&mut self, ctx: &mut Context<Self>) {
        stop_on_panic(self, ctx, "decide what to send", Self::poll_now);
    }

    fn poll_now(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        if let Some(handle) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        let (Some(spec), Some(_)) = (self.spec(), self.desired.as_ref()) else {
            return;
        };
        if self.settings.routing == Routing::Simple {
            return;
        }
        let now = Instant::now();
        if let Some(at) = self.retry_at {
            if at > now {
                self.arm(ctx, at - now);
                return;
            }
            self.retry_at = None;
        }
        if !self.loaded {
            self.start_load(ctx, spec);
            return;
        }
        if !self.uncertain.is_empty() {
            self.start_reread(ctx, spec);
            return;
        }
        let changes = self.pending_changes(&spec);
        if changes.is_empty() {
            self.debounce.clear();
            self.urgent = false;
            if self.shutting_down {
                self.resolve_waiters();
                return;
            }
            if self.verify_due {
                self.begin_verification(ctx);
            }
            if self.verification_may_step() {
                self.verify_step(ctx);
            } else {
                // A verification paused after a failed read is not waited for: it may keep failing.
                self.resolve_waiters();
            }
            return;
        }
        if !self.urgent && !self.shutting_down {
            if !self.debounce.is_pending() {
                self.debounce.changed(now);
            }
            if !self.debounce.is_due(now) {
                let deadline = self.debounce.deadline().unwrap_or(now);
                self.arm(ctx, deadline.saturating_duration_since(now));
                // One step of a verification in progress fits in the wait; the flush follows it.
                if self.verification_may_step() {
                    self.verify_step(ctx);
                }
                return;
            }
        }
        // Debounced or not (a retry, an urgent flush), this flush paces the next debounced one.
        self.debounce.flushed(now);
        self.urgent = false;
        if self.settings.dry_run {
            self.pretend(changes, &spec);
            self.poll(ctx);
        } else {
            self.start_flush(ctx, changes);
        }
    }

    fn arm(&mut self, ctx: &mut Context<Self>, delay: Duration) {
        self.timer = Some(ctx.run_later(delay, |act, ctx| {
            act.timer = None;
            act.poll(ctx);
        }));
    }

    fn resolve_waiters(&mut self) {
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(self.report.clone());
        }
    }

    /// Reads the whole zone: the first time, and after a restart.
    fn start_load(&mut self, ctx: &mut Context<Self>, spec: RecordSpec) {
        self.busy = true;
        let (api, zone_id) = (self.api.clone(), self.zone.id.clone());
        let read = async move { read_all(api.as_ref(), &zone_id).await };
        let read = read.into_actor(self).map(move |result, act, ctx| {
            act.busy = false;
            match result {
                Ok(record_sets) => {
                    act.current = plan::ours(&spec, &record_sets);
                    act.owners = owners(&record_sets);
                    act.zone_size = record_sets.len();
                    act.loaded = true;
                    act.urgent = true;
                    info!(
                        zone = act.zone.name,
                        record_sets = record_sets.len(),
                        ours = act.current.len(),
                        owners = act.owners.len(),
                        "zone read"
                    );
                    act.arm_verification(ctx);
                }
                Err(e) => act.failed("read the zone", &e),
            }
            act.poll(ctx);
        });
        ctx.spawn(read.catch_panic("read the zone"));
    }

    fn start_flush(&mut self, ctx: &mut Context<Self>, changes: Vec<Change>) {
        self.busy = true;
        let batches = plan::batches(&changes, self.settings.limits);
        debug!(changes = changes.len(), batches = batches.len(), "flushing");
        let (api, zone_id) = (self.api.clone(), self.zone.id.clone());
        let send = async move { send_batches(api.as_ref(), &zone_id, batches).await };
        let send = send.into_actor(self).map(|outcome, act, ctx| {
            act.busy = false;
            if act.flushed(outcome) {
                act.poll(ctx);
            } else {
                // Our picture of the zone may be wrong: restart, and read it again.
                ctx.stop();
            }
        });
        ctx.spawn(send.catch_panic("send changes"));
    }

    /// Takes in what a flush achieved; `false` when the writer should restart.
    fn flushed(&mut self, outcome: FlushOutcome) -> bool {
        for change in &outcome.accepted {
            self.applied(change);
        }
        if !outcome.uncertain.is_empty() {
            warn!(
                names = ?outcome.uncertain,
                "a change failed but may have been applied; reading its names again before the retry"
            );
            self.uncertain.extend(outcome.uncertain);
        }
        let Some(spec) = self.spec() else { return true };
        for (name, record_sets) in &outcome.reread {
            self.owners.extend(owners(record_sets));
            match plan::ours(&spec, record_sets).remove(name) {
                Some(rs) => self.current.insert(name.clone(), rs),
                None => self.current.remove(name),
            };
        }
        for rejection in outcome.rejected {
            let Some(name) = rejection.changes.first().map(|c| c.record_set.name.clone()) else {
                continue;
            };
            if !outcome.reread.contains_key(&name) {
                // Not read again (the flush ended on another failure): the retry sends it once more.
                continue;
            }
            let now: Vec<Change> = self
                .pending_changes(&spec)
                .into_iter()
                .filter(|c| c.record_set.name == name)
                .collect();
            if now == rejection.changes {
                for change in &rejection.changes {
                    error!(
                        action = ?change.action,
                        name = change.record_set.name,
                        values = ?change.record_set.values,
                        messages = ?rejection.messages,
                        "change rejected by Route53"
                    );
                }
                self.report.rejected += rejection.changes.len();
                self.rejected.insert(name, rejection.changes);
            } else {
                warn!(name, messages = ?rejection.messages, "record set changed under us; retrying with what Route53 holds");
                self.urgent = true;
            }
        }
        if !outcome.accepted.is_empty() {
            // Route53 accepted a change: whatever failed before has cleared (a throttle, say), so a failure
            // later in this flush starts the backoff again from its first delay.
            self.backoff.reset();
        }
        match outcome.error {
            None => {
                self.backoff.reset();
                true
            }
            Some(e) => {
                self.failed("send changes", &e);
                // The retry goes out when its time comes, without waiting for the debounce again.
                self.urgent = true;
                e.is_retriable()
            }
        }
    }

    /// Records a failure and when to try again.
    fn failed(&mut self, what: &str, e: &Route53Error) {
        let delay = self.next_delay(retry_class(e));
        self.retry_at = Some(Instant::now() + delay);
        let attempt = self.backoff.attempts();
        if e.is_retriable() {
            warn!(zone = self.zone.id, error = %e, attempt, retry_in = ?delay, "could not {what}; retrying");
        } else {
            error!(zone = self.zone.id, error = %e, attempt, retry_in = ?delay, "could not {what}; retrying");
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

    /// Updates `current` with a change Route53 accepted (or, in a dry run, would have been sent).
    fn applied(&mut self, change: &Change) {
        let rs = &change.record_set;
        let ip = rs.values.join(",");
        match change.action {
            ChangeAction::Delete => {
                self.current.remove(&rs.name);
                info!(name = rs.name, ip, "withdrawn");
            }
            ChangeAction::Create | ChangeAction::Upsert => {
                self.current.insert(rs.name.clone(), rs.clone());
                info!(name = rs.name, ip, "published");
            }
        }
        self.report.applied += 1;
    }

    /// `--dry-run`: logs what would be sent and treats it as applied.
    fn pretend(&mut self, changes: Vec<Change>, spec: &RecordSpec) {
        for change in &changes {
            info!(
                action = ?change.action,
                name = change.record_set.name,
                values = ?change.record_set.values,
                ttl = change.record_set.ttl,
                set_identifier = spec.owner_id,
                "dry run: would send"
            );
            self.applied(change);
        }
    }

    /// A verification is in progress and its next step is not waiting out a failed one.
    fn verification_may_step(&self) -> bool {
        !self.verifying.is_empty() && !self.verify_paused
    }

    fn arm_verification(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.verify_timer.take() {
            ctx.cancel_future(handle);
        }
        // The timer cancelled may have been a paused verification's: it goes on at the next poll.
        self.verify_paused = false;
        if self.settings.dry_run || self.shutting_down {
            // A dry run's `current` is what would have been; reading Route53 would only undo it. A writer
            // that is shutting down has no time for it.
            return;
        }
        let calls = self.desired.as_ref().map_or(0, BTreeSet::len);
        let interval = verification_interval(
            self.settings.verify_interval,
            self.owners.len(),
            calls,
            rand::random::<f64>(),
        );
        debug!(interval = ?interval, owners = self.owners.len(), calls, "next verification");
        self.verify_timer = Some(ctx.run_later(interval, |act, ctx| {
            act.verify_timer = None;
            act.verify_due = true;
            act.poll(ctx);
        }));
    }

    /// Starts a verification: the names this instance publishes, those refused, and those that were
    /// uncertain since the last one ([`Route53Writer::recheck`]), read a step at a time by
    /// [`Route53Writer::verify_step`].
    fn begin_verification(&mut self, ctx: &mut Context<Self>) {
        self.verify_due = false;
        let desired = self.desired.clone().unwrap_or_default();
        self.verifying = desired
            .iter()
            .map(|n| plan::fqdn(n, &self.zone.name))
            .chain(self.rejected.keys().cloned())
            .chain(self.recheck.iter().cloned())
            .collect();
        debug!(names = self.verifying.len(), "verifying");
        if self.verifying.is_empty() {
            self.arm_verification(ctx);
        }
    }

    /// Reads the next [`VERIFY_NAMES_PER_STEP`] names of the verification in progress and repairs what
    /// differs; the next poll sends what is pending before the next step.
    fn verify_step(&mut self, ctx: &mut Context<Self>) {
        let step: BTreeSet<String> = self
            .verifying
            .iter()
            .take(VERIFY_NAMES_PER_STEP)
            .cloned()
            .collect();
        self.verifying.retain(|name| !step.contains(name));
        self.busy = true;
        let (api, zone_id) = (self.api.clone(), self.zone.id.clone());
        let read = async move {
            let result = read_names(api.as_ref(), &zone_id, &step).await;
            (step, result)
        };
        let verify = read.into_actor(self).map(|(step, result), act, ctx| {
            act.busy = false;
            match result {
                Ok(read) => {
                    act.verify_backoff.reset();
                    act.recheck.retain(|name| !read.contains_key(name));
                    act.reread(&read, "drift found; repairing");
                    if act.verifying.is_empty() {
                        act.arm_verification(ctx);
                    }
                }
                Err(e) if act.shutting_down => {
                    // The shutdown has cancelled the verification; the step in flight is not tried again.
                    debug!(error = %e, "a verification read failed while shutting down");
                }
                Err(e) => {
                    // Only this step is tried again, not the whole verification: starting over after
                    // every failure, one that takes longer than the gap between two throttles would never
                    // reach its last names, and would read once a (short) backoff forever.
                    act.verifying.extend(step);
                    let delay = act.verify_backoff.next_delay_for(retry_class(&e));
                    warn!(error = %e, retry_in = ?delay, "a verification read failed; trying it again");
                    if let Some(handle) = act.verify_timer.take() {
                        ctx.cancel_future(handle);
                    }
                    act.verify_paused = true;
                    act.verify_timer = Some(ctx.run_later(delay, |act, ctx| {
                        act.verify_timer = None;
                        act.verify_paused = false;
                        act.poll(ctx);
                    }));
                }
            }
            act.poll(ctx);
        });
        ctx.spawn(verify.catch_panic("verify the zone"));
    }

    /// Reads the uncertain names again before the next diff: by name, or the whole zone when that takes
    /// fewer requests (a large batch that failed).
    fn start_reread(&mut self, ctx: &mut Context<Self>, spec: RecordSpec) {
        let names = self.uncertain.clone();
        // Whatever this read finds, a request applied late may land after it: the next verification looks
        // again.
        self.recheck.extend(names.iter().cloned());
        if names.len() > self.zone_size / ZONE_PAGE + 1 {
            debug!(
                names = names.len(),
                zone = self.zone_size,
                "reading the whole zone again instead"
            );
            self.uncertain.clear();
            self.loaded = false;
            self.start_load(ctx, spec);
            return;
        }
        self.busy = true;
        let (api, zone_id) = (self.api.clone(), self.zone.id.clone());
        let read = async move { read_names(api.as_ref(), &zone_id, &names).await };
        let reread = read.into_actor(self).map(|result, act, ctx| {
            act.busy = false;
            match result {
                Ok(read) => {
                    act.uncertain.retain(|name| !read.contains_key(name));
                    act.reread(&read, "a change that failed was applied after all");
                }
                Err(e) => act.failed("read the uncertain names again", &e),
            }
            act.poll(ctx);
        });
        ctx.spawn(reread.catch_panic("read the uncertain names again"));
    }

    /// Takes in what a read of some names found: `current` follows Route53 for each (a difference is logged
    /// with `what`, and the repair is sent at once), and a change refused under it may be tried again.
    fn reread(&mut self, read: &BTreeMap<String, Vec<RecordSet>>, what: &str) {
        let Some(spec) = self.spec() else { return };
        for (name, record_sets) in read {
            self.owners.extend(owners(record_sets));
            self.rejected.remove(name);
            let found = plan::ours(&spec, record_sets).remove(name);
            if found.as_ref() != self.current.get(name) {
                warn!(name, found = ?found, expected = ?self.current.get(name), "{what}");
                self.urgent = true;
            }
            match found {
                Some(rs) => self.current.insert(name.clone(), rs),
                None => self.current.remove(name),
            };
        }
    }
}

/// The distinct SetIdentifiers of the A record sets among `record_sets`.
fn owners(record_sets: &[RecordSet]) -> BTreeSet<String> {
    record_sets
        .iter()
        .filter(|rs| rs.rtype == plan::RECORD_TYPE)
        .filter_map(|rs| rs.set_identifier.clone())
        .collect()
}

impl Actor for Route53Writer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Err(e) = self.settings.check() {
            error!(
                error = e,
                "the writer cannot work with these settings; nothing will be written"
            );
        }
        self.poll(ctx);
    }
}

impl Supervised for Route53Writer {
    /// Forgets what it knew of the zone, so that the restarted writer reads it again and reconciles. The
    /// desired names, the IP, the backoff (and when to retry), the names to recheck, the report and the
    /// waiters are kept. Every restart follows a failure, so it waits for the backoff: a failure that did not
    /// set a retry time (a panic) gets one here.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        if self.retry_at.is_none() {
            self.retry_at = Some(Instant::now() + self.next_delay(RetryClass::Failed));
        }
        warn!(
            zone = self.zone.id,
            attempt = self.backoff.attempts(),
            "writer restarting; it will read the zone again"
        );
        self.current.clear();
        self.loaded = false;
        self.busy = false;
        self.timer = None;
        self.verify_timer = None;
        self.verify_due = false;
        self.verifying.clear();
        self.verify_paused = false;
        // The zone is read again as a whole: that settles every uncertain name.
        self.uncertain.clear();
        self.rejected.clear();
        self.debounce.clear();
    }
}

impl Handler<HostIp> for Route53Writer {
    type Result = ();

    fn handle(&mut self, HostIp(ip): HostIp, ctx: &mut Context<Self>) {
        if self.shutting_down || self.ip == Some(ip) {
            return;
        }
        info!(ip = %ip, previous = ?self.ip, "host IP");
        self.ip = Some(ip);
        self.debounce.changed(Instant::now());
        self.poll(ctx);
    }
}

impl Handler<DesiredNames> for Route53Writer {
    type Result = ();

    fn handle(&mut self, DesiredNames(names): DesiredNames, ctx: &mut Context<Self>) {
        if self.shutting_down || self.desired.as_ref() == Some(&names) {
            return;
        }
        debug!(names = names.len(), "desired names");
        self.desired = Some(names);
        self.debounce.changed(Instant::now());
        self.poll(ctx);
    }
}

impl Handler<Settle> for Route53Writer {
    type Result = ResponseFuture<WriteReport>;

    fn handle(&mut self, _: Settle, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.waiters.push(tx);
        self.poll(ctx);
        Box::pin(async move { rx.await.unwrap_or_default() })
    }
}

impl Handler<Shutdown> for Route53Writer {
    type Result = ResponseFuture<WriteReport>;

    fn handle(
        &mut self,
        Shutdown { deregister }: Shutdown,
        ctx: &mut Context<Self>,
    ) -> Self::Result {
        self.shutting_down = true;
        // Nothing waits any more: not a verification (one step in flight finishes, no other starts), not the
        // retry time of the last failure (tried at once; later failures wait at most a second).
        self.verifying.clear();
        self.verify_paused = false;
        self.verify_due = false;
        if let Some(handle) = self.verify_timer.take() {
            ctx.cancel_future(handle);
        }
        self.retry_at = None;
        if deregister {
            info!(
                ours = self.current.len(),
                "withdrawing every record set of this instance"
            );
            self.desired = Some(BTreeSet::new());
        }
        if self.spec().is_none() || self.desired.is_none() {
            // Without the IP or the desired names nothing was ever written, and nothing can be.
            let report = self.report.clone();
            return Box::pin(async move { report });
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.push(tx);
        self.poll(ctx);
        Box::pin(async move { rx.await.unwrap_or_default() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_failures_may_have_been_applied() {
        let s = |m: &str| m.to_string();
        let cases = [
            (Route53Error::Throttling(s("Rate exceeded")), false),
            (Route53Error::PriorRequestNotComplete(s("busy")), false),
            (Route53Error::InvalidChangeBatch(vec![s("exists")]), false),
            (Route53Error::NoSuchHostedZone(s("Z")), false),
            (Route53Error::AccessDenied(s("no")), false),
            (
                Route53Error::Other {
                    code: s("InvalidInput"),
                    message: s("bad"),
                },
                false,
            ),
            (Route53Error::Transport(s("timed out")), true),
            (Route53Error::Transport(s("connection reset")), true),
            (
                Route53Error::Server {
                    status: 503,
                    message: s("unavailable"),
                },
                true,
            ),
        ];
        for (error, want) in cases {
            assert_eq!(may_have_been_applied(&error), want, "{error:?}");
        }
    }

    #[test]
    fn throttles_get_the_short_backoff_and_everything_else_the_long_one() {
        let s = |m: &str| m.to_string();
        let cases = [
            (
                Route53Error::Throttling(s("Rate exceeded")),
                RetryClass::Throttled,
            ),
            (
                Route53Error::PriorRequestNotComplete(s("busy")),
                RetryClass::Throttled,
            ),
            (Route53Error::Transport(s("timed out")), RetryClass::Failed),
            (
                Route53Error::Server {
                    status: 503,
                    message: s("unavailable"),
                },
                RetryClass::Failed,
            ),
            (Route53Error::AccessDenied(s("no")), RetryClass::Failed),
        ];
        for (error, want) in cases {
            assert_eq!(retry_class(&error), want, "{error:?}");
        }
    }

    #[test]
    fn settings_from_the_configuration() {
        let mut settings = Settings::default();
        settings.route53.routing = Routing::Weighted;
        settings.route53.ttl = 5;
        settings.host.owner_id = " i-0123 ".into();
        let w = WriterSettings::from(&settings).with_dry_run(true);
        assert_eq!((w.routing, w.ttl, w.weight), (Routing::Weighted, 5, 50));
        assert_eq!(w.owner_id.as_deref(), Some("i-0123"));
        assert!(w.dry_run);
        assert!(w.check().is_ok());
        assert_eq!(
            WriterSettings::from(&Settings::default()).owner_id,
            None,
            "empty: the host IP"
        );
        settings.route53.routing = Routing::Simple;
        assert!(WriterSettings::from(&settings)
            .check()
            .unwrap_err()
            .contains("simple"));
    }
}
