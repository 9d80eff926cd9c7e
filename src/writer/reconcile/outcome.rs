//! The reconciler takes in what performing an action found ([`Outcome`]): each machine hears what concerns
//! it (the start-up a read of the zone, its ledger or its names; the zone as known what was accepted; the
//! verification its steps; the failures what went wrong), then the scheduler is asked again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use tracing::{debug, error, info, warn};

use super::Reconciler;
use crate::route53::send::FlushOutcome;
use crate::route53::{group_name, Change, Meaning, RecordSet, Route53Error};
use crate::writer::action::{Outcome, ReadPurpose};
use crate::writer::failures::Retry;
use crate::writer::known::CollectReason;
use crate::writer::ledger::{another_instance, is_fleet_ledger, ledger_parent};

impl Reconciler {
    /// The action last returned by [`Reconciler::next`] was performed, with this outcome.
    pub fn outcome(&mut self, now: Instant, outcome: Outcome) {
        match outcome {
            Outcome::ZoneRead(result) => self.zone_read(now, result),
            Outcome::LedgersRead(result) => self.ledgers_read(now, result),
            Outcome::OwnersCounted(result) => self.owners_counted(now, result),
            Outcome::NamesRead {
                purpose,
                names,
                result,
            } => self.names_read(now, purpose, names, result),
            Outcome::Sent(flush) => self.sent(now, flush),
        }
    }

    /// The fleet's ledgers were counted (or could not be: the verification goes on without the count, and the
    /// next one counts again). A fleet more than twice the size this verification was armed for puts it off,
    /// armed again for the fleet counted (`Verification::ledgers_counted` says why).
    pub fn owners_counted(&mut self, now: Instant, result: Result<Vec<RecordSet>, Route53Error>) {
        self.replan();
        self.in_flight = false;
        let counted = result.map(|ledgers| {
            self.owner_id_claimed(&ledgers);
            ledgers.len() - self.former_selves(&ledgers).len()
        });
        if self.verification.ledgers_counted(counted) {
            self.arm_verification(now);
        }
    }

    /// The whole zone was read (or could not be).
    pub fn zone_read(&mut self, now: Instant, result: Result<Vec<RecordSet>, Route53Error>) {
        self.replan();
        self.in_flight = false;
        let record_sets = match result {
            Ok(record_sets) => record_sets,
            Err(e) => return self.failed(now, "read the zone", &e),
        };
        let ledger = self.own_ledger();
        self.known.zone_read(&record_sets, ledger.as_deref());
        if ledger.is_some() {
            let parent = ledger_parent(&self.zone.name);
            let ledgers: Vec<RecordSet> = record_sets
                .iter()
                .filter(|rs| is_fleet_ledger(rs, &parent))
                .cloned()
                .collect();
            self.fleet_seen(&ledgers);
        }
        // Every name was read, the uncertain ones too; only a late request can still land (`recheck`).
        self.failures.uncertain.clear();
        info!(
            zone = self.zone.name,
            record_sets = record_sets.len(),
            ours = self.current().len(),
            owners = self.owners().len(),
            "zone read"
        );
        self.mark_loaded(now);
    }

    /// The fleet's ledgers were read (or could not be): this instance's among them (or its absence), and
    /// the fleet's size, the members counted.
    fn ledgers_read(&mut self, now: Instant, result: Result<Vec<RecordSet>, Route53Error>) {
        self.replan();
        self.in_flight = false;
        match result {
            Ok(ledgers) => {
                let own = self.own_ledger();
                let ledger = ledgers
                    .iter()
                    .find(|rs| own.as_deref() == Some(rs.name.as_str()))
                    .cloned();
                debug!(ledger = ?ledger, members = ledgers.len(), "the fleet's ledgers read");
                let other = ledger
                    .as_ref()
                    .zip(self.instance.identity.as_ref())
                    .and_then(|(ledger, me)| another_instance(ledger, me));
                if let Some(other) = other {
                    // Usually an IP reused after the instance that had it went (the IP is the default
                    // owner id); should it still run, each finds the other at its next verification.
                    info!(
                        other_instance = other.instance_id,
                        "the ledger of this owner id names another instance; taking it over"
                    );
                }
                self.known.ledger = Some(ledger);
                self.fleet_seen(&ledgers);
            }
            Err(e) => self.failed(now, "read the fleet's ledgers", &e),
        }
    }

    /// Another running instance writes under this instance's owner id when its ledger, read again after
    /// this instance wrote it, names another instance (one `R53R_HOST__OWNER_ID` for a whole DAEMON
    /// service; two VPCs with overlapping ranges sharing the zone, the IP as owner id): said loudly, and
    /// the ledger written once more saying this instance, so that the other finds it too, then no more,
    /// so that neither keeps overwriting the other's.
    fn owner_id_claimed(&mut self, ledgers: &[RecordSet]) {
        let (Some(me), Some(own)) = (self.instance.identity.clone(), self.own_ledger()) else {
            return;
        };
        let Some(read) = ledgers.iter().find(|rs| rs.name == own) else {
            return;
        };
        let Some(theirs) = another_instance(read, &me) else {
            return;
        };
        let owner_id = self.owner_id().unwrap_or_default();
        error!(
            owner_id,
            this_instance = me.instance_id,
            other_instance = theirs.instance_id,
            "two running instances write under one owner id: give each its own host.owner_id (leave it \
             empty for the IP, or set the instance id) and restart them; this one writes its ledger once more, \
             for the other to find, and then keeps none"
        );
        self.stats.owner_id_conflict(format!(
            "OWNER ID CONFLICT: {} also writes under owner id {owner_id}",
            theirs.instance_id
        ));
        self.known.ledger_claimed(read.clone());
    }

    /// The fleet's ledgers, as a read found them: the members counted (this instance's former selves
    /// aside), and the former selves' record sets and ledgers withdrawn.
    fn fleet_seen(&mut self, ledgers: &[RecordSet]) {
        let former = self.former_selves(ledgers);
        self.verification
            .members_counted(ledgers.len() - former.len());
        if !former.is_empty() {
            info!(
                owners = ?former.keys().collect::<Vec<_>>(),
                "found this instance's record sets under a former owner id; withdrawing them and its ledger"
            );
            self.collect_because(former, CollectReason::FormerSelf);
        }
    }

    /// Some names were read (or could not be), for `purpose`.
    pub fn names_read(
        &mut self,
        now: Instant,
        purpose: ReadPurpose,
        names: BTreeSet<String>,
        result: Result<BTreeMap<String, Vec<RecordSet>>, Route53Error>,
    ) {
        self.replan();
        self.in_flight = false;
        match (purpose, result) {
            (ReadPurpose::Uncertain, Ok(read)) => {
                self.failures
                    .uncertain
                    .retain(|name| !read.contains_key(name));
                self.take_in(&read, "a change that failed was applied after all");
            }
            (ReadPurpose::Uncertain, Err(e)) => {
                self.failed(now, "read the uncertain names again", &e)
            }
            (ReadPurpose::Verify, Ok(read)) => {
                let over = self.verification.step_read(&read);
                self.take_in(&read, "drift found; repairing");
                if over {
                    self.arm_verification(now);
                }
            }
            (ReadPurpose::Owned, Ok(read)) => {
                if let Some(registry) = self.registry() {
                    for (name, record_sets) in &read {
                        self.known
                            .replace_name(registry.as_ref(), name, record_sets);
                    }
                }
                info!(
                    names = read.len(),
                    ours = self.current().len(),
                    "read the names this instance may hold"
                );
                self.mark_loaded(now);
            }
            (ReadPurpose::Owned, Err(e)) => {
                self.failed(now, "read the names this instance may hold", &e)
            }
            (ReadPurpose::Collect, Ok(read)) => {
                self.known
                    .gone_names
                    .retain(|name| !read.contains_key(name));
                self.take_in(&read, "drift found; repairing");
            }
            (ReadPurpose::Collect, Err(e)) => {
                self.failed(now, "read the names of the gone owners", &e)
            }
            (ReadPurpose::Verify, Err(e)) if self.shutting_down => {
                // The shutdown has cancelled the verification; the step in flight is not tried again.
                debug!(error = %e, "a verification read failed while shutting down");
            }
            (ReadPurpose::Verify, Err(e)) => {
                let fleet = self.fleet_estimate();
                self.verification
                    .step_failed(now, names, &e, fleet, &self.stats);
            }
        }
    }

    /// Takes in what a read of some names found: `current` follows Route53 for each (a difference is logged
    /// with `what`, counted as a repair, and the repair is sent at once), and a change refused under it may
    /// be tried again.
    fn take_in(&mut self, read: &BTreeMap<String, Vec<RecordSet>>, what: &str) {
        let Some(registry) = self.registry() else {
            return;
        };
        for name in read.keys() {
            self.failures.rejected.remove(name);
        }
        if self
            .known
            .take_in(registry.as_ref(), read, what, &self.stats)
        {
            self.pacing.hurry();
        }
    }

    /// Some batches were sent (see [`FlushOutcome`]): what was accepted is known now, the ledger and the
    /// clean-up take in what became of their changes, and each failure is handled by what it means.
    pub fn sent(&mut self, now: Instant, outcome: FlushOutcome) {
        self.replan();
        self.in_flight = false;
        let registry = self.registry();
        let others_before = match (&registry, self.known.collecting.is_empty()) {
            (Some(registry), false) => self
                .known
                .others_under(registry.as_ref(), &outcome.accepted),
            _ => BTreeMap::new(),
        };
        let ledger = self.own_ledger();
        for change in &outcome.accepted {
            self.known
                .applied(change, ledger.as_deref(), &mut self.report);
        }
        if let Some(registry) = &registry {
            self.known
                .count_collected(registry.as_ref(), others_before, &self.stats);
        }
        if outcome.error.is_some() {
            self.start_up.flush_failed();
        }
        let mut outcome = outcome;
        self.known.gone_ledgers_failed(&mut outcome);
        self.known
            .collecting_after_flush(registry.as_deref(), !outcome.rejected.is_empty());
        if let Some(ledger) = &ledger {
            self.known.ledger_failed(ledger, &mut outcome);
        }
        if !outcome.uncertain.is_empty() {
            warn!(
                names = ?outcome.uncertain,
                "a change failed but may have been applied; reading its names again before the retry"
            );
            self.failures.uncertain.extend(outcome.uncertain);
        }
        let (Some(spec), Some(registry)) = (self.spec(), registry) else {
            return;
        };
        for (name, record_sets) in &outcome.reread {
            self.known
                .replace_name(registry.as_ref(), name, record_sets);
        }
        self.failures.accepted(&outcome.accepted);
        let mut conflicts = 0;
        for rejection in outcome.rejected {
            let Some(name) = rejection
                .changes
                .first()
                .map(|c| group_name(&c.record_set.name).to_string())
            else {
                continue;
            };
            if !outcome.reread.contains_key(&name) {
                // Not read again (the flush ended on another failure): the retry sends it once more.
                continue;
            }
            let now_pending: Vec<Change> = self
                .pending_changes(&spec)
                .into_iter()
                .filter(|c| group_name(&c.record_set.name) == name)
                .collect();
            if self
                .failures
                .refused(name, rejection, &now_pending, &mut self.report, &self.stats)
            {
                conflicts += 1;
            }
        }
        if !outcome.accepted.is_empty() {
            self.failures.cleared();
        }
        match outcome.error {
            None if conflicts > 0 => {
                let fleet = self.fleet_estimate();
                self.failures
                    .retry_races(now, fleet, self.hurried(), &self.stats);
                self.pacing.hurry();
            }
            None => self.failures.cleared(),
            Some(e) => {
                self.failed(now, "send changes", &e);
                // The retry goes out when its time comes, without waiting for the debounce again.
                self.pacing.hurry();
            }
        }
    }

    /// Records a failure to `what` and when to try again; a fatal one also forgets the zone.
    pub(super) fn failed(&mut self, now: Instant, what: &str, e: &Route53Error) {
        let fleet = self.fleet_estimate();
        let Retry { delay, attempt } = self.failures.failed(now, e, fleet, self.hurried());
        self.stats.retries.inc();
        let zone = &self.zone.id;
        match e.meaning() {
            Meaning::Throttled | Meaning::MaybeApplied => {
                warn!(zone, error = %e, attempt, retry_in = ?delay, "could not {what}; retrying")
            }
            Meaning::Refused | Meaning::Fatal => {
                error!(zone, error = %e, attempt, retry_in = ?delay, "could not {what}; retrying")
            }
        }
        if e.meaning() == Meaning::Fatal {
            // Our picture of the zone may be wrong: read it again, after the backoff.
            self.restart(now);
        }
    }
}
