//! Pure: the writer's decisions, as a state machine that takes the time as an argument.
//!
//! [`Reconciler`] knows the desired records (the values wanted under each name), the host IP, this instance's
//! record sets as Route53 last showed or accepted them, and what it is waiting for. [`Reconciler::next`] says
//! what to do now ([`Action`]): wait until some instant, read the zone, read some names, or send some batches;
//! the actor performs it and hands the outcome back ([`Reconciler::zone_read`], [`Reconciler::names_read`],
//! [`Reconciler::sent`]), then asks again. No I/O and no clock here, so the tests step a fake clock through
//! every schedule in milliseconds.
//!
//! [`Reconciler`] itself is the scheduler: it keeps what the writer is told (who this instance is,
//! `reconcile/instance.rs`; the desired records), the
//! pacing of its flushes ([`FlushPacing`]) and whether an action is in flight, and asks its machines in
//! priority order, each in its own module with its own state and tests: a retry's wait and the names a
//! failure left uncertain (`failures.rs`, `Failures`), the start-up (`startup.rs`, `StartUp`), the changes
//! the diff and the ledger call for from the zone as known (`known.rs`, `KnownZone`), then the verification
//! (`verification.rs`, `Verification`). What it asks for and hears back is in [`crate::writer::action`],
//! how it hands each machine its part of an outcome in `reconcile/outcome.rs`, how it withdraws owners gone
//! and its former selves in `reconcile/collect.rs`, and its configuration in [`crate::writer::settings`].
//!
//! The life of a reconciler:
//!
//! 1. Nothing is read or written before both the IP and the first desired records are known.
//! 2. The start-up (`StartUp`) learns where its record sets are, at the least cost to the account's shared
//!    quota. With a ledger ([`crate::writer::ledger`], one TXT record listing the names where this instance
//!    holds record sets), a start reads its ledger (one request); a multivalue start then publishes what
//!    runs with UPSERTs of its own record sets (they need no read), the ledger listing those names too in
//!    the same request, and reads the names the ledger lists that are not published (where record sets
//!    of containers that stopped while the daemon was down are: they are withdrawn now). Nothing is ever
//!    written under a name the ledger Route53 holds does not list, so a crash after any request leaves
//!    a zone where a restart finds every record set of its own. Weighted and simple
//!    routing read the desired names with them first (a group's TTL, the set to compare-and-swap). A zone of
//!    one page (GetHostedZone says how many record sets it holds) is listed first instead: that costs what
//!    the ledger's read does, shows the ledger, and lets what runs go out with the ledger in one request. Without
//!    a ledger (a new instance, the first start after an upgrade, `route53.ledger = false`), or when the
//!    names to read would cost more than a listing, it reads the whole zone once: in multivalue, which has
//!    published already, at a random moment within the time the fleet's listings take at their share of
//!    the quota ([`crate::writer::pacing::scan_spread`]), changes going out meanwhile. Every later flush keeps the ledger listing
//!    every name it may hold, in the same request as the changes (`KnownZone`, the zone as known).
//! 3. It sends the diff at once, then every later diff through the debounce ([`crate::writer::pacing::Debounce`]), in batches
//!    within Route53's limits. While changes keep arriving, no two debounced flushes go out closer than
//!    `max_delay`; retries and urgent flushes are not held back, but the next debounced flush keeps its
//!    distance from them.
//! 4. A failure is handled by what it means ([`crate::route53::Meaning`]), in this table (`Failures`):
//!
//! | the answer                                   | applied? | before the next diff                          |
//! |----------------------------------------------|----------|-----------------------------------------------|
//! | `Throttled` (`Throttling`, `PriorRequest…`)  | no       | fully jittered backoff, within a window sized |
//! |                                              |          | to the fleet ([`throttle_window`])            |
//! | `MaybeApplied` (timeout, reset, 5xx)         | maybe    | backoff; re-read the batch's names            |
//! | `Refused` (invalid, access denied)           | no       | isolated by the sender; the name is re-read   |
//! | `Fatal` (no such zone, credentials)          | no       | backoff; forget the zone and read it again    |
//!
//!    A refused change whose re-read name shows something else than we thought is tried again with what
//!    Route53 holds; if the same change would be sent again, it is logged, counted and not retried until the
//!    next verification. A request Route53 applies after the client gave up may land after the re-read: such
//!    names are read once more by the next verification.
//! 5. The verification (`Verification`), at a jittered interval that grows with the fleet
//!    ([`crate::writer::pacing::verification_interval`]), re-reads the names it publishes,
//!    [`VERIFY_NAMES_PER_STEP`] at a time, letting pending changes out between steps, and repairs
//!    drift. A read that fails is tried again after the verification's own backoff, and the verification goes
//!    on from there: it never starts over, so on a throttled account it still reaches its last names.
//! 6. On shutdown it stops verifying and stops waiting for a retry's time (it tries at once, then backs off
//!    by at most [`SHUTDOWN_MAX_RETRY_DELAY`]), so that a withdrawal fits in `shutdown.timeout`.
//! 7. The clean-up of gone instances ([`crate::gc::decide`]) asks it whom it sees ([`Reconciler::others_seen`]) and
//!    hands it the owners EC2 says are gone ([`Reconciler::collect`]): their record sets go out with the next
//!    flush like any change, except under a name this instance changes in the same flush (that waits for
//!    the next). A refusal (another survivor withdrew them first) stops it until the next check.
//!
//! Whatever owner ids this instance has written under (the host IP before it changed) stay its own until
//! their record sets are gone, so a change of IP never orphans a record set, even when the replacing batch
//! fails ambiguously or the writer restarts.
//!
//! [`throttle_window`]: crate::route53::rate::throttle_window

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, info, warn};

use crate::backoff::RetryClass;
use crate::desired::{DesiredRecords, DesiredValue};
use crate::host::Identity;
use crate::route53::batch;
use crate::route53::read::{listing_is_cheaper, RereadPlan};
use crate::route53::{group_name, Change, ChangeAction, HostedZone, RecordSet};
use crate::stats::Stats;
use crate::writer::failures::Failures;
use crate::writer::known::KnownZone;
use crate::writer::ledger::{listed_names, Member, OwnLedger};
use crate::writer::pacing::{sweep_interval, FlushPacing};
use crate::writer::plan;
use crate::writer::record::{self, RecordSpec};
use crate::writer::registry::{registry, NameRecords, Registry};
use crate::writer::startup::{self, StartUp, Step};
use crate::writer::verification::Verification;

pub use crate::writer::action::{Action, Outcome, ReadPurpose, WriteReport};
pub use crate::writer::failures::{SAME_CONFLICTS_FOR_GOOD, SHUTDOWN_MAX_RETRY_DELAY};
pub use crate::writer::settings::WriterSettings;
pub use crate::writer::verification::VERIFY_NAMES_PER_STEP;

mod collect;
mod instance;
mod outcome;

use instance::ThisInstance;

/// The writer's state and decisions: the scheduler, which keeps what the writer is told (the IP, the
/// desired records) and the pacing of its flushes, and asks its machines in turn. See the module documentation.
#[derive(Debug)]
pub struct Reconciler {
    zone: HostedZone,
    settings: WriterSettings,
    pub(super) stats: Stats,
    /// This instance's IP, identity, former owner ids, and whether it is going.
    instance: ThisInstance,
    /// The values wanted under each name (first label); no name is a key with no values.
    desired: Option<DesiredRecords>,
    /// When the next flush goes out, and the latency of each change.
    pacing: FlushPacing,
    /// An action is being performed; its outcome has not come back yet.
    in_flight: bool,
    shutting_down: bool,
    report: WriteReport,
    rng: SmallRng,
    start_up: StartUp,
    known: KnownZone,
    verification: Verification,
    pub(super) failures: Failures,
    /// The changes the last poll computed, kept until what they come from changes ([`Reconciler::replan`]):
    /// the polls while the debounce runs reuse them instead of computing the diff again.
    planned: Option<Planned>,
    /// How many plans were made (not kept): what the tests count.
    #[cfg(test)]
    plans_made: u32,
}

/// The changes that make the zone what is desired, and the ledger's update that goes with them.
#[derive(Clone, Debug, PartialEq)]
struct Planned {
    changes: Vec<Change>,
    ledger: Option<Change>,
}

impl Reconciler {
    /// A reconciler for `zone`; `seed` seeds the jitter of its backoffs and verification interval.
    pub fn new(zone: HostedZone, settings: WriterSettings, stats: Stats, seed: u64) -> Self {
        Reconciler {
            zone,
            pacing: FlushPacing::new(settings.debounce, settings.max_delay),
            failures: Failures::new(settings.retry, seed, settings.quota),
            verification: Verification::new(settings.retry, seed.wrapping_add(1), settings.quota),
            settings,
            stats,
            instance: ThisInstance::default(),
            desired: None,
            in_flight: false,
            shutting_down: false,
            report: WriteReport::default(),
            rng: SmallRng::seed_from_u64(seed.wrapping_add(2)),
            start_up: StartUp::default(),
            known: KnownZone::default(),
            planned: None,
            #[cfg(test)]
            plans_made: 0,
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

    /// Whether reads of names must also read their ownership markers (simple routing).
    pub fn reads_markers(&self) -> bool {
        self.registry()
            .is_some_and(|registry| registry.reads_markers())
    }

    /// How names refused in a flush are read again (see [`RereadPlan`]).
    pub fn reread_plan(&self) -> RereadPlan {
        RereadPlan {
            markers: self.reads_markers(),
            zone_size: self.zone_size(),
        }
    }

    /// Record sets in the zone: at the last whole-zone read, else as GetHostedZone described it.
    fn zone_size(&self) -> usize {
        if self.known.size > 0 {
            self.known.size
        } else {
            self.zone.record_sets.unwrap_or(0)
        }
    }

    /// How many instances share the zone: the fleet's members, as the last read of the fleet's ledgers
    /// counted them (a start reads them, each verification counts them again), so that record sets and
    /// TXT records that are not the fleet's do not count. Before any count, or where no ledger was found
    /// (a fleet that keeps none): the owners it has seen, or the zone's size over this instance's own
    /// names when that says more (a restart reads none of the names it publishes, so it sees no other
    /// owner).
    ///
    /// The zone's size says nothing while this instance publishes nothing and holds nothing: divided by
    /// one name it would take the zone's record sets for as many instances, and slow every retry to match.
    pub fn fleet_estimate(&self) -> usize {
        if let Some(members) = self.verification.fleet_ledgers().filter(|n| *n > 0) {
            return members;
        }
        let names = self
            .desired
            .as_ref()
            .map_or(0, DesiredRecords::len)
            .max(self.current().len());
        let by_size = self.zone_size().checked_div(names).unwrap_or(0);
        self.owners().len().max(by_size)
    }

    /// Whether anything can ever be written: the IP and the desired records are known, and, where the
    /// instance's end is watched, its first answer (so that a notice that stands at start-up is seen before
    /// the first write).
    pub fn can_write(&self) -> bool {
        self.instance.ip.is_some() && self.desired.is_some() && self.fate_known()
    }

    /// This instance's record sets as last read or accepted (none before the IP is known).
    pub fn current(&self) -> Vec<&RecordSet> {
        match self.registry() {
            Some(registry) => self.known.current(registry.as_ref()),
            None => Vec::new(),
        }
    }

    /// The owners seen in the zone (for the verification interval).
    pub fn owners(&self) -> BTreeSet<&str> {
        self.known.owners()
    }

    /// This instance's owner id (`None` before the IP is known).
    pub fn owner_id(&self) -> Option<String> {
        self.spec().map(|spec| spec.owner_id)
    }

    /// Who this instance is, once the metadata service told.
    pub fn identity(&self) -> Option<&Identity> {
        self.instance.identity.as_ref()
    }

    /// The records to publish are `records`: under each name, the values wanted there. A name with no
    /// values counts as not desired. Returns whether they changed.
    pub fn desired_records(&mut self, now: Instant, mut records: DesiredRecords) -> bool {
        records.0.retain(|_, values| !values.is_empty());
        if self.shutting_down || self.desired.as_ref() == Some(&records) {
            return false;
        }
        debug!(names = records.len(), "desired records");
        self.replan();
        let before = self.desired.take().unwrap_or_default();
        // A name changed when its values did: added, withdrawn, or another set of values.
        let changed: BTreeSet<&String> = before
            .names()
            .chain(records.names())
            .filter(|name| before.0.get(*name) != records.0.get(*name))
            .collect();
        self.mark_changed(now, changed.into_iter());
        self.desired = Some(records);
        true
    }

    /// Notes that every desired name changed at `now`: what each record set looks like, or whether it is
    /// wanted at all, is no longer what it was.
    fn mark_every_name_changed(&mut self, now: Instant) {
        let every: Vec<String> = self
            .desired
            .iter()
            .flat_map(|d| d.names())
            .cloned()
            .collect();
        self.mark_changed(now, every.iter());
    }

    /// Notes that the desired state of `names` changed at `now` (the earliest change counts).
    fn mark_changed<'a>(&mut self, now: Instant, names: impl Iterator<Item = &'a String>) {
        let zone = &self.zone.name;
        self.pacing
            .changed(now, names.map(|name| record::fqdn(name, zone)));
    }

    /// Shutting down: stop verifying, stop waiting for a retry's time, and with `deregister` withdraw every
    /// record set of this instance.
    pub fn shutdown(&mut self, deregister: bool) {
        self.shutting_down = true;
        self.replan();
        self.known.collecting.clear();
        self.verification.cancel();
        self.failures.retry_at = None;
        // A leaving instance withdraws all, whatever `deregister` says: after a termination it is not
        // coming back, and after a Spot stop or hibernation it comes back as a fresh start.
        if deregister || self.instance.leaving.is_some() {
            info!(
                ours = self.current().len(),
                "withdrawing every record set of this instance"
            );
            self.desired = Some(DesiredRecords::default());
        }
    }

    /// The writer restarts (after a panic, or a fatal answer): what was known of the zone is forgotten and
    /// read again after the backoff. The desired records, the IP, the owner ids written under, the backoff,
    /// the names to recheck, the streaks of lost races (a race lost before and after a restart is still one
    /// streak) and the report are kept.
    pub fn restart(&mut self, now: Instant) {
        if self.failures.retry_at.is_none() {
            let delay = self.next_delay(RetryClass::Failed);
            self.failures.retry_at = Some(now + delay);
        }
        warn!(
            zone = self.zone.id,
            attempt = self.failures.attempts(),
            "writer restarting; it will read the zone again"
        );
        self.replan();
        self.start_up = StartUp::default();
        self.known.forget();
        self.verification.forget();
        self.failures.forget_names();
        self.pacing.settle();
        self.in_flight = false;
    }

    /// What this instance's record sets look like now; `None` until the IP is known.
    fn spec(&self) -> Option<RecordSpec> {
        let ip = self.instance.ip?;
        Some(RecordSpec {
            zone_name: self.zone.name.clone(),
            owner_id: self
                .settings
                .owner_id
                .clone()
                .unwrap_or_else(|| ip.to_string()),
            former_owner_ids: self.instance.former_owner_ids.clone(),
            ip,
            routing: self.settings.routing,
            ttl: self.settings.ttl,
            weight: self.settings.weight,
        })
    }

    /// The registry of this instance's routing and owner ids; `None` until the IP is known.
    fn registry(&self) -> Option<Box<dyn Registry>> {
        self.spec().map(registry)
    }

    /// The name of this instance's ledger, unless it keeps none (`route53.ledger = false`, a ledger refused
    /// for good, an owner id that cannot stand as DNS labels, or the IP is not known yet).
    fn own_ledger(&self) -> Option<String> {
        let spec = self.spec()?;
        self.known.own_ledger(self.settings.ledger, &spec)
    }

    /// The diff from what the zone holds to the desired records, less the changes already refused for good.
    /// A refused entry whose name now needs other changes is forgotten, so the new ones are tried.
    fn pending_changes(&mut self, spec: &RecordSpec) -> Vec<Change> {
        let desired = self.desired_by_fqdn(spec);
        let registry = registry(spec.clone());
        let mut changes = plan::diff(&desired, &self.known.names, registry.as_ref());
        if self.start_up.is_loaded() {
            self.known
                .notice_left_alone(desired.keys(), &changes, registry.as_ref(), &self.stats);
        }
        let collect = self.known.collect_changes(registry.as_ref(), &changes);
        changes.extend(collect);
        self.known.notice_group_ttl(&changes, spec.ttl);
        let mut by_name: BTreeMap<String, Vec<Change>> = BTreeMap::new();
        for change in changes {
            by_name
                .entry(group_name(&change.record_set.name).to_string())
                .or_default()
                .push(change);
        }
        let pending = self.failures.hold_back_refused(by_name);
        self.stats
            .pending_changes
            .set(i64::try_from(pending.len()).unwrap_or(i64::MAX));
        self.pacing.keep_pending(&pending);
        pending
    }

    /// The desired records by name fully qualified in the zone. Should two names meet there (they differ
    /// in case only), the name wants the values of both.
    fn desired_by_fqdn(&self, spec: &RecordSpec) -> BTreeMap<String, BTreeSet<DesiredValue>> {
        let mut by_fqdn: BTreeMap<String, BTreeSet<DesiredValue>> = BTreeMap::new();
        if self.instance.leaving.is_some() {
            // Going: nothing is desired, whatever runs.
            return by_fqdn;
        }
        for (name, values) in self.desired.iter().flat_map(|d| &d.0) {
            by_fqdn
                .entry(record::fqdn(name, &spec.zone_name))
                .or_default()
                .extend(values);
        }
        by_fqdn
    }

    /// The change that keeps this instance's ledger listing every name where it may hold a record set,
    /// once `changes` are applied (see [`crate::writer::ledger`]); `None` when it already does, while the
    /// ledger has not been read, or while where this instance holds record sets is not known yet (a
    /// listing is put off).
    fn ledger_update(&self, spec: &RecordSpec, changes: &[Change]) -> Option<Change> {
        let own = self.own_ledger_of(spec)?;
        if !self.start_up.is_loaded() {
            return None;
        }
        let registry = registry(spec.clone());
        // Where a change may have been applied without our knowing, a record set of ours may stand.
        let maybe_ours = self
            .failures
            .uncertain
            .iter()
            .chain(self.verification.recheck());
        self.known.ledger_update(
            &own,
            registry.as_ref(),
            changes,
            maybe_ours,
            self.settings.limits,
        )
    }

    /// This instance's ledger as it writes it (its name, and the member it says), unless it keeps none.
    fn own_ledger_of(&self, spec: &RecordSpec) -> Option<OwnLedger> {
        Some(OwnLedger {
            name: self.known.own_ledger(self.settings.ledger, spec)?,
            zone_name: spec.zone_name.clone(),
            member: Member {
                owner_id: spec.owner_id.clone(),
                ip: spec.ip,
                identity: self.instance.identity.clone(),
            },
        })
    }

    /// The start-up's next step ([`StartUp`]), as the action to perform; `None` once it is over (or while
    /// a listing is put off).
    fn start_up(&mut self, now: Instant, spec: &RecordSpec) -> Option<Action> {
        loop {
            let facts = startup::Facts {
                ledger: self.known.own_ledger(self.settings.ledger, spec),
                ledger_read: self.known.ledger.as_ref(),
                zone_size: self.zone_size(),
                names: &self.known.names,
                zone_name: &spec.zone_name,
                desired: self.desired_by_fqdn(spec).into_keys().collect(),
                routing: spec.routing,
                quota: self.settings.quota,
                once: self.settings.once,
                shutting_down: self.shutting_down,
                withdrawing: self.shutting_down
                    && self.desired.as_ref().is_some_and(DesiredRecords::is_empty),
            };
            match self.start_up.next(&facts)? {
                Step::Do(action) => return Some(action),
                Step::Loaded => {
                    self.mark_loaded(now);
                    return None;
                }
                Step::Scan { ledger } => {
                    let fleet = self.fleet_estimate();
                    return self
                        .start_up
                        .scan(now, &ledger, &facts, fleet, &mut self.rng);
                }
                Step::Publish => {
                    if let Some(send) = self.publish_first(now, spec) {
                        return Some(send);
                    }
                }
            }
        }
    }

    /// A start in multivalue routing publishes what runs as soon as its ledger is read, before the names
    /// it lists: an UPSERT of this instance's own record set needs no read of its name. The ledger, when
    /// there is one, lists those names too from the same request on, besides every name it listed. `None`
    /// when nothing runs.
    fn publish_first(&mut self, now: Instant, spec: &RecordSpec) -> Option<Action> {
        let registry = registry(spec.clone());
        let desired = self.desired_by_fqdn(spec);
        let changes: Vec<Change> = desired
            .iter()
            .flat_map(|(name, wanted)| registry.changes(name, wanted, &NameRecords::default()))
            .map(|change| Change {
                action: ChangeAction::Upsert,
                ..change
            })
            .collect();
        if changes.is_empty() {
            return None;
        }
        let ledger = match (self.own_ledger_of(spec), &self.known.ledger) {
            (Some(own), Some(Some(held))) => {
                let mut wanted = listed_names(held, &spec.zone_name);
                wanted.extend(desired.into_keys());
                own.change(Some(held), &wanted, self.settings.limits)
            }
            _ => None,
        };
        info!(
            names = changes.len(),
            "publishing what runs before reading the names its ledger lists"
        );
        Some(self.flush(now, changes, ledger))
    }

    /// The zone's names that matter are known: the diff can be trusted, and what it says goes out at once.
    fn mark_loaded(&mut self, now: Instant) {
        self.replan();
        self.start_up.loaded();
        self.pacing.hurry();
        self.arm_verification(now);
        self.arm_sweep(now);
    }

    /// Sets the time of the next sweep of the zone, the safety net for a ledger edited by hand: the zone
    /// is listed, and what it shows of this instance's record sets is put in the ledger by the next flush
    /// (and withdrawn, where it is not desired). Only with a ledger kept, as the verification is armed.
    fn arm_sweep(&mut self, now: Instant) {
        if self.own_ledger().is_none() || self.settings.dry_run || self.shutting_down {
            return;
        }
        let pages = self.zone_size() / crate::route53::read::ZONE_PAGE + 1;
        let fleet = self.fleet_estimate();
        let draw = self.rng.random::<f64>();
        self.verification
            .arm_sweep(now, sweep_interval(fleet, pages, self.settings.quota, draw));
    }

    /// The one scheduler: what to do at `now`. Call it after every input and outcome, and when the instant
    /// an [`Action::Idle`] named has come.
    pub fn next(&mut self, now: Instant) -> Action {
        self.stats
            .published_names
            .set(i64::try_from(self.current().len()).unwrap_or(i64::MAX));
        if self.in_flight {
            return idle(None, false);
        }
        let action = self.decide(now);
        if !matches!(action, Action::Idle { .. }) {
            self.mark_in_flight();
        }
        action
    }

    /// What to do at `now`, asking in order: a retry's wait, the start-up, the names a failure left
    /// uncertain, the changes (through the debounce), the verification.
    fn decide(&mut self, now: Instant) -> Action {
        let (Some(spec), Some(_)) = (self.spec(), self.desired.as_ref()) else {
            return idle(None, false);
        };
        if !self.fate_known() {
            return idle(None, false);
        }
        if let Some(at) = self.failures.waiting(now) {
            return idle(Some(at), false);
        }
        if let Some(action) = self.start_up(now, &spec) {
            return action;
        }
        if let Some(action) = self.read_uncertain() {
            return action;
        }
        if !self.known.gone_names.is_empty() {
            return Action::ReadNames {
                names: self.known.gone_names.clone(),
                purpose: ReadPurpose::Collect,
            };
        }
        let Planned { changes, ledger } = self.planned(&spec);
        if changes.is_empty() && ledger.is_none() {
            self.pacing.settle();
            self.forget_former_owners();
            if self.shutting_down {
                return idle(None, true);
            }
            if self.verification.is_due(now) {
                self.begin_verification(now);
            }
            if let Some(step) = self.verification.step(now, &self.zone.name) {
                return step;
            }
            if self.verification.sweep_due(now) {
                info!("sweeping the zone: a listing finds any record set of this instance its ledger misses");
                return Action::ReadZone;
            }
            // A verification paused after a failed read is not waited for: it may keep failing.
            let wake = earliest(self.verification.wake(), self.verification.sweep_at());
            return idle(earliest(wake, self.start_up.scan_at()), true);
        }
        if let Some(deadline) = self.pacing.held_until(now, self.hurried()) {
            // One step of a verification in progress fits in the wait; the flush follows it.
            if let Some(step) = self.verification.step(now, &self.zone.name) {
                return step;
            }
            let wake = earliest(self.verification.wake(), self.start_up.scan_at());
            return idle(earliest(Some(deadline), wake), false);
        }
        self.planned = None;
        self.flush(now, changes, ledger)
    }

    /// The changes and the ledger's update, as the last poll computed them unless what they come from has
    /// changed since.
    fn planned(&mut self, spec: &RecordSpec) -> Planned {
        if let Some(planned) = &self.planned {
            // The unit tests hold the kept plan to a fresh one at every poll: an input that changes the
            // plan without calling `replan` fails them.
            #[cfg(test)]
            {
                let kept = planned.clone();
                let changes = self.pending_changes(spec);
                let fresh = Planned {
                    ledger: self.ledger_update(spec, &changes),
                    changes,
                };
                assert_eq!(kept, fresh, "the kept plan is out of date");
                return fresh;
            }
            #[cfg(not(test))]
            return planned.clone();
        }
        let changes = self.pending_changes(spec);
        let planned = Planned {
            ledger: self.ledger_update(spec, &changes),
            changes,
        };
        #[cfg(test)]
        {
            self.plans_made += 1;
        }
        self.planned = Some(planned.clone());
        planned
    }

    /// What the plan comes from has changed (an input, an outcome, the start-up's end): the next poll
    /// computes it again.
    fn replan(&mut self) {
        self.planned = None;
    }

    /// The names whose change may have been applied are read before the next diff: by name, or by listing
    /// the zone when that costs less. Whatever this read finds, a request applied late may land after it:
    /// the next verification looks again.
    fn read_uncertain(&mut self) -> Option<Action> {
        if self.failures.uncertain.is_empty() {
            return None;
        }
        let names = self.failures.uncertain.clone();
        self.verification.recheck_later(&names);
        self.replan();
        if listing_is_cheaper(names.len(), self.zone_size()) {
            debug!(
                names = names.len(),
                zone = self.known.size,
                "reading the whole zone again instead"
            );
            self.failures.uncertain.clear();
            self.start_up.unload();
            return Some(Action::ReadZone);
        }
        Some(Action::ReadNames {
            names,
            purpose: ReadPurpose::Uncertain,
        })
    }

    /// Sends `changes` in batches, with the change to the ledger (if any) first in the first batch, so
    /// that it is applied with, or before, every record set it lists.
    fn flush(&mut self, now: Instant, changes: Vec<Change>, ledger: Option<Change>) -> Action {
        let latencies = self.pacing.flushed(now, &changes);
        debug!(
            changes = changes.len(),
            ledger = ledger.is_some(),
            "flushing"
        );
        for latency in latencies {
            self.stats.change_latency.observe(latency.as_secs_f64());
        }
        let batches = batch::batches_led_by(ledger, &changes, self.settings.limits);
        Action::Send { batches }
    }

    /// The action just decided is being performed: nothing else until its outcome comes back.
    fn mark_in_flight(&mut self) {
        self.in_flight = true;
    }

    /// Sets the time of the next verification, after a zone read or a verification.
    fn arm_verification(&mut self, now: Instant) {
        if self.settings.dry_run || self.shutting_down {
            // A dry run's `current` is what would have been; reading Route53 would only undo it. A writer
            // that is shutting down has no time for it.
            self.verification.disarm();
            return;
        }
        let fleet = self.fleet_estimate();
        let calls = self.desired.as_ref().map_or(0, DesiredRecords::len);
        self.verification.arm(
            now,
            self.settings.verify_interval,
            fleet,
            calls,
            &mut self.rng,
        );
    }

    /// Starts a verification: the names this instance publishes (or published, under a former owner id),
    /// those refused, and those that were uncertain since the last one.
    fn begin_verification(&mut self, now: Instant) {
        let zone = self.zone.name.clone();
        let names: BTreeSet<String> = self
            .desired
            .iter()
            .flat_map(DesiredRecords::names)
            .map(|n| record::fqdn(n, &zone))
            .chain(self.current().into_iter().map(|rs| rs.name.clone()))
            .chain(self.failures.rejected.keys().cloned())
            .collect();
        let count_ledgers = self.own_ledger().is_some();
        if self.verification.begin(names, count_ledgers) {
            self.arm_verification(now);
        }
    }

    /// The wait before the next try after one more failure of `class`.
    fn next_delay(&mut self, class: RetryClass) -> Duration {
        let fleet = self.fleet_estimate();
        self.failures.next_delay(class, fleet, self.hurried())
    }
}

/// Nothing to do before `until`; `settled`: everything due is done.
pub(crate) fn idle(until: Option<Instant>, settled: bool) -> Action {
    Action::Idle { until, settled }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    //! The scheduler on a fake clock: every instant is `t(ms)` after a fixed start, and nothing sleeps.

    use std::net::Ipv4Addr;

    use super::*;
    use crate::writer::testkit::*;

    #[test]
    fn nothing_before_the_ip_and_the_first_names() {
        let mut r = reconciler(settings(Routing::Multivalue));
        assert_eq!(r.next(t(0)), idle(None, false));
        r.desired_records(t(0), records(&["web"]));
        assert_eq!(r.next(t(0)), idle(None, false), "no IP yet");
        r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(r.next(t(0)), Action::ReadZone);
        assert_eq!(
            r.next(t(0)),
            idle(None, false),
            "nothing while the read is in flight"
        );
    }

    #[test]
    fn start_up_withdraws_what_is_stale_and_publishes_at_once() {
        let mut r = reconciler(settings(Routing::Multivalue));
        r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
        r.desired_records(t(0), records(&["web"]));
        assert_eq!(r.next(t(0)), Action::ReadZone);
        r.zone_read(t(5), Ok(vec![ours("old"), record("old", "10.0.0.2")]));
        let action = r.next(t(5));
        assert_eq!(
            sent(&action),
            vec![
                (ChangeAction::Delete, "old".to_string()),
                (ChangeAction::Create, "web".to_string())
            ],
            "not held back by the debounce"
        );
        r.sent(t(6), accept_all(&action));
        assert!(matches!(r.next(t(6)), Action::Idle { settled: true, .. }));
        assert_eq!(r.report().applied, 2);
    }

    /// The debounce, `max_delay` and the pacing of flushes, as (changes at these instants → flushes at
    /// these instants). Each change adds a name; every flush is accepted at once.
    #[test]
    fn debounce_max_delay_and_pacing_table() {
        let every =
            |step: u64, until: u64| (0..=until / step).map(|i| i * step).collect::<Vec<_>>();
        let cases: Vec<(&str, Vec<u64>, Vec<u64>)> = vec![
            ("one change: after the debounce", vec![0], vec![200]),
            (
                "a burst: after the last change's debounce",
                every(10, 100),
                vec![300],
            ),
            (
                "a stream closer than the debounce: once per max_delay",
                every(150, 1500),
                vec![1000, 2000],
            ),
            (
                "gaps just longer than the debounce: paced to one flush per max_delay",
                every(300, 2700),
                vec![200, 1300, 2300, 3300],
            ),
            (
                "a change after a quiet period: after the debounce again",
                vec![0, 5000],
                vec![200, 5200],
            ),
        ];
        for (name, changes, want) in cases {
            let mut r = started(settings(Routing::Multivalue), &[], vec![]);
            let mut flushes = Vec::new();
            let mut desired = BTreeSet::new();
            let mut pending = changes.iter().copied().peekable();
            let mut wake: Option<Instant> = None;
            let mut now = 0;
            loop {
                // Changes at `now` come before the timer that fires at the same instant.
                let mut changed = false;
                while pending.peek() == Some(&now) {
                    desired.insert(format!("n{now}"));
                    changed |=
                        r.desired_records(t(now), DesiredRecords::addresses(desired.clone()));
                    pending.next();
                }
                if changed || wake.is_some_and(|w| w <= t(now)) {
                    let action = r.next(t(now));
                    if let Action::Send { .. } = action {
                        flushes.push(now);
                        r.sent(t(now), accept_all(&action));
                        wake = idle_until(&r.next(t(now)));
                    } else {
                        wake = idle_until(&action);
                    }
                }
                let next_change = pending.peek().copied();
                let next_wake = wake
                    .filter(|w| *w < t(900_000))
                    .map(|w| w.duration_since(t(0)).as_millis() as u64);
                now = match (next_change, next_wake) {
                    (Some(c), Some(w)) => c.min(w),
                    (Some(c), None) => c,
                    (None, Some(w)) => w,
                    (None, None) => break,
                };
            }
            assert_eq!(flushes, want, "{name}");
            assert_eq!(
                r.report().applied,
                changes.len(),
                "{name}: every change sent once"
            );
        }
    }

    #[test]
    fn shutdown_flushes_at_once_and_does_not_wait_out_a_long_backoff() {
        let mut r = started(settings(Routing::Multivalue), &["web"], vec![]);
        // Eight failures in a row push the retry far out (250 ms doubling, capped at 20 s).
        r.desired_records(t(0), records(&["web", "api"]));
        let mut now = t(0);
        let mut failures = 0;
        while failures < 8 {
            match r.next(now) {
                Action::Idle {
                    until: Some(at), ..
                } => now = at,
                action @ Action::Send { .. } => {
                    let error = Route53Error::Server {
                        status: 500,
                        message: String::new(),
                    };
                    r.sent(now, failure(&action, error));
                    failures += 1;
                }
                Action::ReadNames { names, purpose } => {
                    let empty = names.iter().map(|n| (n.clone(), vec![])).collect();
                    r.names_read(now, purpose, names, Ok(empty));
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(
            r.failures.retry_at.unwrap() > now + Duration::from_secs(15),
            "backed off for long"
        );
        r.desired_records(now, records(&["web", "api", "db"]));
        r.shutdown(false);
        // The last failure may have been applied: its name is read first, then the flush goes at once.
        let Action::ReadNames {
            names: uncertain,
            purpose,
        } = r.next(now)
        else {
            panic!("the uncertain name is read first")
        };
        let empty = uncertain.iter().map(|n| (n.clone(), vec![])).collect();
        r.names_read(now, purpose, uncertain, Ok(empty));
        let action = r.next(now);
        assert_eq!(
            sent(&action),
            vec![
                (ChangeAction::Create, "api".to_string()),
                (ChangeAction::Create, "db".to_string())
            ],
            "at once: neither the backoff nor the debounce"
        );
        r.sent(
            t(300),
            failure(&action, Route53Error::Throttling("Rate exceeded".into())),
        );
        let retry = idle_until(&r.next(t(300))).unwrap();
        assert!(retry <= t(300) + SHUTDOWN_MAX_RETRY_DELAY);
        let action = r.next(retry);
        r.sent(retry, accept_all(&action));
        assert_eq!(
            r.next(retry),
            idle(None, true),
            "settled, and no verification armed"
        );
    }

    #[test]
    fn shutdown_with_deregister_withdraws_every_record_set_of_ours() {
        let zone = vec![ours("a"), ours("b"), record("a", "10.0.0.2")];
        let mut r = started(settings(Routing::Multivalue), &["a", "b"], zone);
        r.shutdown(true);
        assert_eq!(
            sent(&r.next(t(10))),
            vec![
                (ChangeAction::Delete, "a".to_string()),
                (ChangeAction::Delete, "b".to_string())
            ]
        );
        assert!(
            !r.desired_records(t(20), records(&["c"])),
            "no input taken after the shutdown"
        );
    }

    /// A notice that the instance is going withdraws every record set of its own at once, ahead of the
    /// debounce and of a throttle's backoff; nothing is published while it stands (a container started
    /// meanwhile included), and what runs is published again when the end is called off.
    #[test]
    fn a_leaving_instance_withdraws_everything_at_once_and_comes_back_if_called_off() {
        let zone = vec![ours("web"), ours("api"), record("web", "10.0.0.2")];
        let mut r = started(settings(Routing::Multivalue), &["web", "api"], zone);
        // A throttled flush has the writer backing off.
        r.desired_records(t(0), records(&["web", "api", "db"]));
        let due = idle_until(&r.next(t(0))).unwrap();
        let action = r.next(due);
        r.sent(
            due,
            failure(&action, Route53Error::Throttling("Rate exceeded".into())),
        );
        assert!(idle_until(&r.next(due)).unwrap() > due, "backing off");
        assert!(r.instance_fate(due, Some("Spot interruption notice".into())));
        let withdraw = r.next(due);
        assert_eq!(
            sent(&withdraw),
            vec![
                (ChangeAction::Delete, "api".to_string()),
                (ChangeAction::Delete, "web".to_string())
            ],
            "at once, this instance's only"
        );
        r.sent(due, accept_all(&withdraw));
        let later = due + ms(5_000);
        r.desired_records(later, records(&["web", "api", "db", "new"]));
        assert!(
            matches!(r.next(later), Action::Idle { settled: true, .. }),
            "nothing published while the notice stands"
        );
        assert!(!r.instance_fate(later, Some("again".into())), "no news");
        assert!(r.instance_fate(later, None));
        let due = idle_until(&r.next(later)).unwrap();
        let mut published = sent(&r.next(due));
        published.sort();
        assert_eq!(
            published,
            ["api", "db", "new", "web"]
                .map(|n| (ChangeAction::Create, n.to_string()))
                .to_vec(),
            "called off: what runs is published again"
        );
    }

    /// With the end watched, nothing is written before its first answer: a notice that stands at start-up
    /// (a restart after the notice, a warm pool's instance booting) publishes nothing; and a shutdown after
    /// a notice withdraws everything, even without `deregister`.
    #[test]
    fn a_notice_that_stands_at_start_up_publishes_nothing() {
        let watching = WriterSettings {
            watches_end: true,
            ..settings(Routing::Multivalue)
        };
        let mut r = reconciler(watching.clone());
        r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
        r.desired_records(t(0), records(&["web"]));
        assert!(!r.can_write());
        assert_eq!(r.next(t(0)), idle(None, false), "waits for the watch");
        assert!(r.instance_fate(t(0), Some("Warmed:Running".into())));
        assert!(r.can_write());
        assert_eq!(r.next(t(0)), Action::ReadZone);
        r.zone_read(t(0), Ok(vec![ours("stale"), record("web", "10.0.0.2")]));
        assert_eq!(
            sent(&r.next(t(0))),
            vec![(ChangeAction::Delete, "stale".to_string())],
            "nothing published; a stale record set of its own withdrawn"
        );

        let mut staying = reconciler(watching);
        staying.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
        staying.desired_records(t(0), records(&["web"]));
        assert!(staying.instance_fate(t(0), None), "the first answer counts");
        assert_eq!(staying.next(t(0)), Action::ReadZone);

        let mut r = started(settings(Routing::Multivalue), &["web"], vec![]);
        r.instance_fate(t(10), Some("Auto Scaling: Terminated".into()));
        r.instance_fate(t(20), None);
        r.instance_fate(t(30), Some("Spot interruption notice".into()));
        r.shutdown(false);
        assert_eq!(
            sent(&r.next(t(30))),
            vec![(ChangeAction::Delete, "web".to_string())]
        );
    }

    /// After an IP change, the record sets of the old owner id are replaced, and the old id is forgotten
    /// only once none is left.
    #[test]
    fn an_ip_change_replaces_the_old_owners_record_sets() {
        let mut r = started(settings(Routing::Multivalue), &["web"], vec![]);
        r.host_ip(t(100), Ipv4Addr::new(10, 0, 0, 2));
        let due = idle_until(&r.next(t(100))).unwrap();
        let action = r.next(due);
        let Action::Send { batches } = &action else {
            panic!("{action:?}")
        };
        let changes: Vec<(ChangeAction, Option<String>)> = batches
            .concat()
            .iter()
            .map(|c| (c.action, c.record_set.set_identifier.clone()))
            .collect();
        assert_eq!(
            changes,
            vec![
                (ChangeAction::Delete, Some("10.0.0.1".into())),
                (ChangeAction::Create, Some("10.0.0.2".into()))
            ]
        );
        assert_eq!(batches.len(), 1, "in one atomic batch");
        r.sent(t(300), accept_all(&action));
        assert!(matches!(r.next(t(300)), Action::Idle { settled: true, .. }));
        assert!(
            r.instance.former_owner_ids.is_empty(),
            "nothing of the old owner id is left"
        );
    }

    /// A plan is computed once per change of what is desired or known: polls while the debounce runs keep
    /// it, a new input drops it, and what goes out is what a twin asked only once per input sends.
    #[test]
    fn polls_while_the_debounce_runs_keep_the_plan_and_send_the_same_changes() {
        let zone = vec![ours("gone")];
        let mut polled = started(settings(Routing::Multivalue), &["gone"], zone.clone());
        let mut once = started(settings(Routing::Multivalue), &["gone"], zone);
        for r in [&mut polled, &mut once] {
            r.desired_records(t(0), records(&["web"]));
        }
        assert!(idle_until(&polled.next(t(0))).is_some());
        let kept = polled.planned.clone().expect("the poll planned");
        let made = polled.plans_made;
        for now in [50, 100, 150] {
            assert_eq!(idle_until(&polled.next(t(now))), Some(t(200)));
            assert_eq!(polled.planned.as_ref(), Some(&kept), "kept at {now} ms");
        }
        assert_eq!(
            polled.plans_made, made,
            "no plan made again while nothing changed"
        );
        // An input drops the plan; the next poll makes it again with the new name in it.
        for r in [&mut polled, &mut once] {
            r.desired_records(t(150), records(&["web", "api"]));
        }
        assert_eq!(polled.planned, None);
        assert_eq!(idle_until(&polled.next(t(160))), Some(t(350)));
        assert_eq!(polled.plans_made, made + 1);
        assert_ne!(polled.planned.as_ref(), Some(&kept));

        let (from_polled, from_once) = (polled.next(t(350)), once.next(t(350)));
        assert_eq!(from_polled, from_once);
        assert_eq!(
            sent(&from_polled),
            vec![
                (ChangeAction::Create, "api".to_string()),
                (ChangeAction::Delete, "gone".to_string()),
                (ChangeAction::Create, "web".to_string()),
            ]
        );
        assert_eq!(polled.planned, None, "a flush takes the plan");
    }

    /// The latency metric runs from a name's change of desired state to the request that carries it.
    #[test]
    fn the_latency_of_a_change_is_observed_once_when_it_is_sent() {
        let mut r = started(settings(Routing::Multivalue), &[], vec![]);
        r.desired_records(t(100), records(&["web", "gone"]));
        r.desired_records(t(150), records(&["web"]));
        let due = idle_until(&r.next(t(150))).unwrap();
        assert_eq!(due, t(350));
        let action = r.next(due);
        r.sent(due, accept_all(&action));
        let text = r.stats.render();
        assert!(
            text.contains("route53_registrator_change_latency_seconds_count 1"),
            "one name sent, `gone` never: {text}"
        );
        assert!(
            text.contains("route53_registrator_change_latency_seconds_sum 0.25"),
            "{text}"
        );
    }

    /// The fleet is the members its ledgers count: one instance alone in a zone of 2,000 record sets that
    /// are not the fleet's is a fleet of one, and a verification's count of 40 ledgers a fleet of 40.
    #[test]
    fn the_fleet_is_the_members_counted_not_the_zones_size() {
        let mut r = web_past_the_ledger(Some(ledger_listing(&["web"])));
        assert_eq!(r.fleet_estimate(), 1, "its own ledger, alone");
        r.desired_records(t(3), records(&["web", "api"]));
        let due = t(3);
        let action = r.next(due);
        let throttled = Route53Error::Throttling("Rate exceeded".into());
        r.sent(due, failure(&action, throttled));
        let retry = idle_until(&r.next(due)).expect("a retry");
        assert!(
            retry.duration_since(due) <= Duration::from_secs(2),
            "a throttle waits as a lone instance's does: {:?}",
            retry.duration_since(due)
        );
        r.outcome(t(3), Outcome::OwnersCounted(Ok(fleet_of(40))));
        assert_eq!(r.fleet_estimate(), 40);
    }

    /// Without a ledger (no count of members), an instance whose services have all stopped sizes its fleet
    /// by its names while it still holds their record sets, and by the owners it has seen once it holds
    /// none: the zone's size over no names is no estimate (it took 2,000 record sets for 2,000 instances).
    #[test]
    fn without_a_ledger_a_fleet_is_not_estimated_from_the_zone_over_no_names() {
        let zone: Vec<RecordSet> = (1..2_000)
            .map(|k| RecordSet::marker(&fqdn(&format!("t{k}"))))
            .chain([ours("web")])
            .collect();
        let mut r = started(settings(Routing::Multivalue), &["web"], zone);
        assert_eq!(r.fleet_estimate(), 2_000, "the zone over its one name");
        r.desired_records(t(3), records(&[]));
        assert_eq!(
            r.fleet_estimate(),
            2_000,
            "still holding web: the zone over the name it holds"
        );
        let due = idle_until(&r.next(t(4))).expect("debounced");
        let action = r.next(due);
        assert!(
            sent(&action).contains(&(ChangeAction::Delete, "web".to_string())),
            "{action:?}"
        );
        r.sent(t(5), accept_all(&action));
        assert!(r.current().is_empty());
        assert_eq!(
            r.fleet_estimate(),
            r.owners().len(),
            "holding nothing: the owners seen"
        );
        assert!(r.fleet_estimate() < 10, "{}", r.fleet_estimate());
    }

    /// The sweep: a record set of this instance that its ledger does not list (the ledger edited by hand),
    /// under a name it no longer publishes, is read by no verification; a listing of the zone finds it, no
    /// sooner than the sweep's floor, and it is withdrawn.
    #[test]
    fn a_sweep_finds_a_record_set_the_ledger_misses_and_withdraws_it() {
        let mut r = web_past_the_ledger(Some(ledger_listing(&["web"])));
        let mut now = t(0);
        loop {
            match r.next(now) {
                Action::ReadZone => break,
                Action::Idle {
                    until: Some(at), ..
                } => now = at,
                Action::CountOwners { .. } => r.outcome(
                    now,
                    Outcome::OwnersCounted(Ok(vec![ledger_listing(&["web"])])),
                ),
                Action::ReadNames { names, purpose } => {
                    let held = read_back(&["web"], &[ours("web")])
                        .into_iter()
                        .filter(|(name, _)| names.contains(name))
                        .collect();
                    r.names_read(now, purpose, names, Ok(held));
                }
                other => panic!("expected a sweep in time, got {other:?}"),
            }
        }
        assert!(
            now.duration_since(t(0)) >= crate::writer::pacing::SWEEP_FLOOR,
            "{:?}",
            now.duration_since(t(0))
        );
        r.zone_read(
            now,
            Ok(vec![ours("web"), ours("stray"), ledger_listing(&["web"])]),
        );
        let action = r.next(now);
        assert_eq!(
            sent(&action),
            vec![(ChangeAction::Delete, "stray".to_string())]
        );
    }

    /// A name given with no values is not desired: it is withdrawn as if it were not given, and records that
    /// differ only by such a name are no change at all.
    #[test]
    fn a_name_with_no_values_is_withdrawn_and_no_change_from_its_absence() {
        let mut r = started(settings(Routing::Multivalue), &["web", "api"], vec![]);
        let mut emptied = records(&["api"]);
        emptied.0.insert("web".into(), BTreeSet::new());
        assert!(r.desired_records(t(0), emptied));
        let due = idle_until(&r.next(t(0))).unwrap();
        let action = r.next(due);
        assert_eq!(
            sent(&action),
            vec![(ChangeAction::Delete, "web".to_string())]
        );
        r.sent(due, accept_all(&action));
        assert!(
            !r.desired_records(due, records(&["api"])),
            "web with no values was api alone already"
        );
        assert!(matches!(r.next(due), Action::Idle { settled: true, .. }));
    }
}
