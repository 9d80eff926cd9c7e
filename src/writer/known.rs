//! The zone as this instance knows it: what each name holds (every owner's A record sets) as Route53 last
//! showed it or as changed by the changes it accepted since, the zone's size, this instance's ledger and
//! its upkeep, and the gone owners being withdrawn. Forgotten at a restart, rebuilt by reading the zone again.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use tracing::{debug, error, info, warn};

use crate::route53::batch::{self, BatchLimits};
use crate::route53::send::FlushOutcome;
use crate::route53::{group_name, is_conflict, Change, ChangeAction, RecordSet};
use crate::stats::Stats;
use crate::writer::action::WriteReport;
use crate::writer::ledger::{self, ledger_name, OwnLedger};
use crate::writer::record::RecordSpec;
use crate::writer::registry::{view_of, NameRecords, Registry};

/// Why the owners being collected are withdrawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum CollectReason {
    /// The clean-up found their instances gone.
    #[default]
    InstanceGone,
    /// They are this instance under an owner id it no longer writes under.
    FormerSelf,
}

/// What is known of the zone, and what of it was logged already.
#[derive(Debug, Default)]
pub(crate) struct KnownZone {
    /// What each name holds (every owner's A record sets), as Route53 last showed it or as changed by the
    /// changes it accepted since: this instance's record sets, the fleet's size, weighted groups' TTLs.
    pub(crate) names: BTreeMap<String, NameRecords>,
    /// Record sets in the zone at the last whole-zone read: what reading it again would cost.
    pub(crate) size: usize,
    /// This instance's ledger as Route53 holds it: `None` until read, then the record or its absence.
    pub(crate) ledger: Option<Option<RecordSet>>,
    /// Route53 refused a change to the ledger for good: this process keeps none (kept across a restart).
    ledger_refused: bool,
    /// Another running instance writes this instance's ledger: one more write, then none.
    ledger_claimed: bool,
    /// The names were more than one ledger can list, logged (until they fit again).
    overflow_logged: Cell<bool>,
    /// Owners the clean-up found gone, whose record sets are being withdrawn.
    pub(crate) collecting: BTreeSet<String>,
    /// Why they are.
    collecting_because: CollectReason,
    /// The ledgers of the owners being withdrawn, as the clean-up read them: each is deleted once nothing
    /// of its owner is left under the names it lists.
    gone_ledgers: BTreeMap<String, RecordSet>,
    /// Names those ledgers list, still to be read before their owners' record sets are withdrawn (their
    /// record sets may have been written after this instance last read them).
    pub(crate) gone_names: BTreeSet<String>,
    /// Names whose weighted group's TTL differs from `route53.ttl`, already logged.
    ttl_noticed: BTreeSet<String>,
    /// Desired names left alone because they hold record sets this instance may not change, already logged.
    left_alone: BTreeSet<String>,
}

impl KnownZone {
    /// The writer restarts: what was known of the zone is forgotten; what was logged, and a ledger refused
    /// for good, are kept.
    pub(crate) fn forget(&mut self) {
        self.names.clear();
        self.size = 0;
        self.ledger = None;
        self.stop_collecting();
    }

    /// Nothing more is collected until the clean-up says again who is gone.
    pub(crate) fn stop_collecting(&mut self) {
        self.collecting.clear();
        self.gone_ledgers.clear();
        self.gone_names.clear();
    }

    /// This instance's record sets among the names known.
    pub(crate) fn current(&self, registry: &dyn Registry) -> Vec<&RecordSet> {
        self.names
            .values()
            .flat_map(|held| registry.mine(held))
            .collect()
    }

    /// The owners seen in the zone.
    pub(crate) fn owners(&self) -> BTreeSet<&str> {
        self.names.values().flat_map(NameRecords::owners).collect()
    }

    /// The other owners seen in the zone in the routing of `registry`.
    pub(crate) fn others_seen(&self, registry: &dyn Registry) -> BTreeSet<String> {
        self.names
            .values()
            .flat_map(|held| registry.others(held))
            .collect()
    }

    /// The owners of `gone` (owner id → its ledger as read) are withdrawn from now on: those seen in the
    /// zone, and those whose ledger lists names (read first, see `gone_names`); never `mine` (this
    /// instance's owner ids). Returns whether there is any.
    pub(crate) fn collect(
        &mut self,
        registry: &dyn Registry,
        gone: BTreeMap<String, Option<RecordSet>>,
        because: CollectReason,
        mine: &BTreeSet<String>,
        zone_name: &str,
    ) -> bool {
        self.stop_collecting();
        self.collecting_because = because;
        let seen = self.others_seen(registry);
        for (owner, ledger) in gone {
            if mine.contains(&owner) || (ledger.is_none() && !seen.contains(&owner)) {
                continue;
            }
            if let Some(ledger) = ledger {
                self.gone_names
                    .extend(ledger::listed_names(&ledger, zone_name));
                self.gone_ledgers.insert(owner.clone(), ledger);
            }
            self.collecting.insert(owner);
        }
        !self.collecting.is_empty()
    }

    /// The whole zone was read: `record_sets`, which hold the ledger `ledger` too (or show there is none).
    pub(crate) fn zone_read(&mut self, record_sets: &[RecordSet], ledger: Option<&str>) {
        self.names = view_of(record_sets);
        self.size = record_sets.len();
        self.gone_names.clear();
        if let Some(name) = ledger {
            self.ledger = Some(
                record_sets
                    .iter()
                    .find(|rs| ledger::is_ledger(rs, name))
                    .cloned(),
            );
        }
    }

    /// The name of this instance's ledger, unless it keeps none (`keep` off for `route53.ledger = false`,
    /// a ledger refused for good, or an owner id that cannot stand as DNS labels).
    pub(crate) fn own_ledger(&self, keep: bool, spec: &RecordSpec) -> Option<String> {
        if !keep || self.ledger_refused {
            return None;
        }
        ledger_name(&spec.owner_id, &spec.zone_name)
    }

    /// The change that keeps this instance's ledger `own` saying who it is and listing every name where it
    /// may hold a record set once `changes` are applied, and the names in `maybe_ours` (where a change may
    /// have been applied without our knowing); `None` when it already does, or while the ledger has not
    /// been read (it is never written blind). A flush of more than one batch keeps the names it withdraws
    /// listed too, since a later batch may fail after the first; the next flush drops them.
    pub(crate) fn ledger_update<'a>(
        &self,
        own: &OwnLedger,
        registry: &dyn Registry,
        changes: &[Change],
        maybe_ours: impl Iterator<Item = &'a String>,
        limits: BatchLimits,
    ) -> Option<Change> {
        let held = self.ledger.as_ref()?;
        let holds_ours = |held: &NameRecords| !registry.mine(held).is_empty();
        let mut after: BTreeMap<String, NameRecords> = BTreeMap::new();
        for change in changes {
            let group = group_name(&change.record_set.name).to_string();
            after
                .entry(group)
                .or_insert_with_key(|group| self.names.get(group).cloned().unwrap_or_default())
                .apply(change);
        }
        let before: BTreeSet<String> = self
            .names
            .iter()
            .filter(|(_, held)| holds_ours(held))
            .map(|(name, _)| name.clone())
            .collect();
        let mut wanted: BTreeSet<String> = before
            .iter()
            .filter(|name| !after.contains_key(*name))
            .cloned()
            .collect();
        wanted.extend(
            after
                .iter()
                .filter(|(_, held)| holds_ours(held))
                .map(|(name, _)| name.clone()),
        );
        wanted.extend(maybe_ours.cloned());
        let change = own.change(held.as_ref(), &wanted, limits);
        // Adding names only makes the ledger larger, so the flush stays more than one request.
        let change = if batch::batches_led_by(change.clone(), changes, limits).len() > 1 {
            wanted.extend(before);
            own.change(held.as_ref(), &wanted, limits)
        } else {
            change
        };
        let fits = own.fits(&wanted, limits);
        if !fits && !self.overflow_logged.replace(true) {
            error!(
                names = wanted.len(),
                "this instance's names are more than one ledger record can list (at most 498 at Route53's \
                 limits, fewer when long): keeping no ledger while they are, so a restart lists the zone"
            );
        }
        if fits {
            self.overflow_logged.set(false);
        }
        change
    }

    /// The withdrawals of the gone owners' record sets, except under the names of `own` (the changes this
    /// instance makes in the same flush): both would start from the same record set as read, and the
    /// second would not find it, so those wait for the next flush. Then, once the names their ledgers list
    /// are read and nothing of an owner is left there, the deletion of its ledger.
    pub(crate) fn collect_changes(&self, registry: &dyn Registry, own: &[Change]) -> Vec<Change> {
        if self.collecting.is_empty() || !self.gone_names.is_empty() {
            return Vec::new();
        }
        let own: BTreeSet<&str> = own.iter().map(|c| group_name(&c.record_set.name)).collect();
        let mut changes: Vec<Change> = self
            .names
            .iter()
            .filter(|(name, _)| !own.contains(name.as_str()))
            .flat_map(|(_, held)| registry.withdraw_gone(held, &self.collecting))
            .collect();
        let seen = self.others_seen(registry);
        changes.extend(
            self.gone_ledgers
                .iter()
                .filter(|(owner, _)| !seen.contains(*owner))
                .map(|(_, ledger)| Change {
                    action: ChangeAction::Delete,
                    record_set: ledger.clone(),
                }),
        );
        changes
    }

    /// Logs once per name a change that joins a weighted group whose TTL is not `ttl`.
    pub(crate) fn notice_group_ttl(&mut self, changes: &[Change], ttl: i64) {
        for change in changes {
            let rs = &change.record_set;
            let joining = change.action == ChangeAction::Create && rs.ttl != ttl;
            if joining && self.ttl_noticed.insert(rs.name.clone()) {
                info!(
                    name = rs.name,
                    group_ttl = rs.ttl,
                    ttl,
                    "joining a weighted group with the group's TTL, not route53.ttl"
                );
            }
        }
    }

    /// Logs once per name, and counts, a desired name this instance neither publishes nor may change: it
    /// holds record sets that are not this daemon's to change (a plain record set without the ownership
    /// marker, made by hand or another tool; another routing's record sets in simple routing). `desired`:
    /// the desired names, fully qualified.
    pub(crate) fn notice_left_alone<'a>(
        &mut self,
        desired: impl IntoIterator<Item = &'a String>,
        changes: &[Change],
        registry: &dyn Registry,
        stats: &Stats,
    ) {
        for name in desired {
            let Some(held) = self.names.get(name) else {
                continue;
            };
            let untouched = registry.mine(held).is_empty()
                && !changes
                    .iter()
                    .any(|c| group_name(&c.record_set.name) == name);
            if untouched && self.left_alone.insert(name.clone()) {
                warn!(
                    name,
                    held = ?held.a,
                    "not published: the name holds record sets this instance may not change; left alone"
                );
                stats.names_left_alone.inc();
            }
        }
    }

    /// Takes in what a read of some names found: what is known follows Route53 for each (a difference is
    /// logged with `what` and counted as a repair). Returns whether anything is to be repaired.
    pub(crate) fn take_in(
        &mut self,
        registry: &dyn Registry,
        read: &BTreeMap<String, Vec<RecordSet>>,
        what: &str,
        stats: &Stats,
    ) -> bool {
        let mut repair = false;
        for (name, record_sets) in read {
            if self.replace_name(registry, name, record_sets) {
                stats.repairs.inc();
                repair = true;
                warn!(name, "{what}");
            }
        }
        repair
    }

    /// Replaces what is known under `name` with `record_sets` (a fresh read of it); returns whether this
    /// instance's record sets there differ from what was believed.
    pub(crate) fn replace_name(
        &mut self,
        registry: &dyn Registry,
        name: &str,
        record_sets: &[RecordSet],
    ) -> bool {
        let held = NameRecords::from_read(record_sets);
        let found: Vec<RecordSet> = registry.mine(&held).into_iter().cloned().collect();
        let before = self.names.insert(name.to_string(), held);
        let before: Vec<RecordSet> = before
            .as_ref()
            .map(|held| registry.mine(held).into_iter().cloned().collect())
            .unwrap_or_default();
        if found != before {
            debug!(name, found = ?found, expected = ?before, "read differs");
        }
        found != before
    }

    /// Takes in a change Route53 accepted (or, in a dry run, would have); `ledger` is this instance's
    /// ledger's name, if it keeps one.
    pub(crate) fn applied(
        &mut self,
        change: &Change,
        ledger: Option<&str>,
        report: &mut WriteReport,
    ) {
        let rs = &change.record_set;
        if self.gone_ledger(&rs.name).is_some() {
            info!(ledger = rs.name, "deleted the ledger of a gone owner");
            self.gone_ledgers.retain(|_, held| held.name != rs.name);
            return;
        }
        if ledger == Some(rs.name.as_str()) {
            debug!(action = ?change.action, names = rs.values.len().saturating_sub(1), "ledger written");
            self.ledger = Some(match change.action {
                ChangeAction::Delete => None,
                ChangeAction::Create | ChangeAction::Upsert => Some(rs.clone()),
            });
            if self.ledger_claimed {
                self.ledger_refused = true;
                self.ledger = None;
            }
            return;
        }
        let ip = rs.values.join(",");
        self.names
            .entry(group_name(&rs.name).to_string())
            .or_default()
            .apply(change);
        match change.action {
            ChangeAction::Delete => {
                info!(name = rs.name, ip, owner = rs.set_identifier, "withdrawn")
            }
            ChangeAction::Create | ChangeAction::Upsert => {
                info!(name = rs.name, ip, owner = rs.set_identifier, "published")
            }
        }
        report.applied += 1;
    }

    /// The other owners under each name that `changes` touch, while the clean-up withdraws some.
    pub(crate) fn others_under(
        &self,
        registry: &dyn Registry,
        changes: &[Change],
    ) -> BTreeMap<String, BTreeSet<String>> {
        if self.collecting.is_empty() {
            return BTreeMap::new();
        }
        changes
            .iter()
            .map(|c| group_name(&c.record_set.name).to_string())
            .map(|name| {
                let others = self
                    .names
                    .get(&name)
                    .map(|held| registry.others(held))
                    .unwrap_or_default();
                (name, others)
            })
            .collect()
    }

    /// Logs and counts each gone owner no longer under a name since `before` ([`Self::others_under`]):
    /// compared over a whole flush, since a compare-and-swap deletes a set before it creates it again.
    pub(crate) fn count_collected(
        &self,
        registry: &dyn Registry,
        before: BTreeMap<String, BTreeSet<String>>,
        stats: &Stats,
    ) {
        for (name, others) in before {
            let after = self
                .names
                .get(&name)
                .map(|held| registry.others(held))
                .unwrap_or_default();
            for owner in others.difference(&after) {
                if !self.collecting.contains(owner) {
                    continue;
                }
                match self.collecting_because {
                    CollectReason::InstanceGone => {
                        info!(name, owner, "withdrawn: its instance is gone");
                        stats.gc_withdrawn.inc();
                    }
                    CollectReason::FormerSelf => {
                        info!(
                            name,
                            owner, "withdrawn: this instance's, under a former owner id"
                        );
                    }
                }
            }
        }
    }

    /// After a flush: owners with nothing left in the zone and no ledger left to delete are done with;
    /// after a refusal (`refused`), nothing more is withdrawn until the clean-up's next check says again
    /// that they are gone (another survivor may have withdrawn them first, or the name changed).
    pub(crate) fn collecting_after_flush(
        &mut self,
        registry: Option<&dyn Registry>,
        refused: bool,
    ) {
        if !self.collecting.is_empty() {
            let seen = registry.map(|r| self.others_seen(r)).unwrap_or_default();
            let ledgers = &self.gone_ledgers;
            self.collecting
                .retain(|owner| seen.contains(owner) || ledgers.contains_key(owner));
        }
        if refused && !self.collecting.is_empty() {
            debug!(owners = ?self.collecting, "a change was refused; the clean-up waits for its next check");
            self.stop_collecting();
        }
    }

    /// The owner whose ledger, being deleted by the clean-up, is named `name`.
    fn gone_ledger(&self, name: &str) -> Option<&String> {
        self.gone_ledgers
            .iter()
            .find(|(_, ledger)| ledger.name == name)
            .map(|(owner, _)| owner)
    }

    /// Takes the deletions of gone owners' ledgers out of what a flush left uncertain, re-read or refused:
    /// they are not this instance's names to read or retry. A refused one (another survivor deleted it
    /// first, or its owner wrote it again) stops the clean-up until its next check, like any refusal.
    pub(crate) fn gone_ledgers_failed(&mut self, outcome: &mut FlushOutcome) {
        if self.gone_ledgers.is_empty() {
            return;
        }
        let ledgers: BTreeSet<String> =
            self.gone_ledgers.values().map(|l| l.name.clone()).collect();
        outcome.uncertain.retain(|name| !ledgers.contains(name));
        outcome.reread.retain(|name, _| !ledgers.contains(name));
        let before = outcome.rejected.len();
        outcome.rejected.retain(|r| {
            r.changes
                .first()
                .is_none_or(|c| !ledgers.contains(&c.record_set.name))
        });
        if outcome.rejected.len() != before {
            debug!("the deletion of a gone owner's ledger was refused; the clean-up waits for its next check");
            self.stop_collecting();
        }
    }

    /// Another running instance wrote this instance's ledger (`read`, as read): it is written once more,
    /// saying this instance, so that the other finds the conflict at its next read too, and then this
    /// process keeps none, so that neither keeps overwriting the other's membership record (a restart
    /// takes it over again).
    pub(crate) fn ledger_claimed(&mut self, read: RecordSet) {
        self.ledger = Some(Some(read));
        self.ledger_claimed = true;
    }

    /// Takes this instance's ledger `ledger` out of what a flush left uncertain, re-read or refused: what
    /// it holds now is unknown, so it is read again before it is written again. Refused for another reason
    /// than a lost race (an IAM policy without TXT or UPSERT, say), it would be refused again at every
    /// flush: this process goes on without it.
    pub(crate) fn ledger_failed(&mut self, ledger: &str, outcome: &mut FlushOutcome) {
        let failed = outcome
            .uncertain
            .iter()
            .chain(outcome.reread.keys())
            .chain(
                outcome
                    .rejected
                    .iter()
                    .flat_map(|r| r.changes.first())
                    .map(|c| &c.record_set.name),
            )
            .any(|name| name == ledger);
        if !failed {
            return;
        }
        let refused = outcome.rejected.iter().find(|r| {
            r.changes
                .first()
                .is_some_and(|c| c.record_set.name == ledger)
        });
        if let Some(refused) = refused.filter(|r| !r.messages.iter().all(|m| is_conflict(m))) {
            error!(
                ledger,
                messages = ?refused.messages,
                "this instance's ledger was refused; going on without it (a restart lists the zone)"
            );
            self.ledger_refused = true;
        } else {
            warn!(
                ledger,
                "a change to this instance's ledger failed; reading it again"
            );
        }
        self.ledger = None;
        outcome.uncertain.remove(ledger);
        outcome.reread.remove(ledger);
        outcome.rejected.retain(|r| {
            r.changes
                .first()
                .is_none_or(|c| c.record_set.name != ledger)
        });
    }
}

#[cfg(test)]
mod tests {
    //! The zone as known, the ledger's upkeep and the clean-up's withdrawals, through the whole reconciler.

    use super::*;
    use crate::writer::testkit::*;

    /// A weighted instance joins an existing group with the group's TTL, not its configured one.
    #[test]
    fn joining_a_weighted_group_uses_the_groups_ttl() {
        let theirs = record("web", "10.0.0.2").weighted("10.0.0.2", 50).ttl(60);
        let mut r = reconciler(settings(Routing::Weighted));
        r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
        r.desired_records(t(0), records(&["web", "api"]));
        assert_eq!(r.next(t(0)), Action::ReadZone);
        r.zone_read(t(0), Ok(vec![theirs]));
        let Action::Send { batches } = r.next(t(0)) else {
            panic!()
        };
        let ttls: Vec<(String, i64)> = batches
            .concat()
            .iter()
            .map(|c| (c.record_set.name.clone(), c.record_set.ttl))
            .collect();
        assert_eq!(ttls, vec![(fqdn("api"), 10), (fqdn("web"), 60)]);
    }

    /// The owners counted for the verification interval follow the reads: owners gone from a name leave.
    #[test]
    fn owners_gone_from_the_zone_leave_the_count() {
        let zone = vec![
            ours("web"),
            record("web", "10.0.0.2"),
            record("web", "10.0.0.3"),
            record("api", "10.0.0.4"),
        ];
        let mut r = started(settings(Routing::Multivalue), &["web"], zone);
        assert_eq!(r.owners().len(), 4);
        let due = idle_until(&r.next(t(0))).unwrap();
        let Action::ReadNames { names: step, .. } = r.next(due) else {
            panic!()
        };
        r.names_read(
            due,
            ReadPurpose::Verify,
            step,
            Ok(BTreeMap::from([(fqdn("web"), vec![ours("web")])])),
        );
        assert_eq!(
            r.owners().into_iter().collect::<Vec<_>>(),
            vec!["10.0.0.1".to_string(), "10.0.0.4".to_string()]
        );
    }

    /// The clean-up's verdict goes out through the writer: only the gone owners' record sets of the
    /// configured routing, counted; never this instance's, never another routing's, never an owner not seen.
    #[test]
    fn gone_owners_record_sets_are_withdrawn_and_nothing_else() {
        let weighted = record("db", "10.0.0.2").weighted("10.0.0.2", 50);
        let zone = vec![
            ours("web"),
            record("web", "10.0.0.2"),
            record("api", "10.0.0.2"),
            record("api", "10.0.0.3"),
            weighted,
        ];
        let mut r = started(settings(Routing::Multivalue), &["web"], zone);
        assert_eq!(r.others_seen(), names(&["10.0.0.2", "10.0.0.3"]));
        assert!(
            !r.collect(gone(&["10.0.0.9", "10.0.0.1"])),
            "not seen, or this instance"
        );
        assert!(r.collect(gone(&["10.0.0.2", "10.0.0.1"])));
        let wait = idle_until(&r.next(t(0))).expect("debounced like every change");
        let action = r.next(wait);
        assert_eq!(
            sent(&action),
            vec![
                (ChangeAction::Delete, "api".to_string()),
                (ChangeAction::Delete, "web".to_string())
            ]
        );
        let Action::Send { batches } = &action else {
            panic!()
        };
        assert!(batches
            .concat()
            .iter()
            .all(
                |c| c.record_set.set_identifier.as_deref() == Some("10.0.0.2")
                    && c.record_set.multivalue_answer == Some(true)
            ));
        r.sent(wait, accept_all(&action));
        assert_eq!(r.stats.gc_withdrawn.get(), 2);
        assert_eq!(r.others_seen(), names(&["10.0.0.3"]));
        assert_eq!(r.current(), vec![&ours("web")]);
        assert!(matches!(r.next(wait), Action::Idle { settled: true, .. }));
    }

    /// A member that wrote after this instance last read its names: the clean-up hands over its ledger,
    /// the names it lists are read first, its record sets there withdrawn, and then its ledger deleted,
    /// each in a flush of its own; a refused deletion of the ledger is not tried again.
    #[test]
    fn a_gone_owner_known_only_by_its_ledger_is_read_withdrawn_and_its_ledger_deleted() {
        let mut r = started(settings(Routing::Multivalue), &["web"], vec![ours("web")]);
        assert!(r.others_seen().is_empty(), "the late member is not seen");
        let late = ledger_of("10.0.0.5", &["web", "api"]);
        let now_held = [
            ours("web"),
            record("web", "10.0.0.5"),
            record("api", "10.0.0.5"),
        ];
        assert!(r.collect(BTreeMap::from([(
            "10.0.0.5".to_string(),
            Some(late.clone())
        )])));
        assert_eq!(
            r.next(t(0)),
            Action::ReadNames {
                names: BTreeSet::from([fqdn("api"), fqdn("web")]),
                purpose: ReadPurpose::Collect
            }
        );
        r.names_read(
            t(0),
            ReadPurpose::Collect,
            BTreeSet::from([fqdn("api"), fqdn("web")]),
            Ok(read_back(&["web", "api"], &now_held)),
        );
        let wait = idle_until(&r.next(t(0))).expect("debounced like every change");
        let withdraw = r.next(wait);
        assert_eq!(
            sent(&withdraw),
            vec![
                (ChangeAction::Delete, "api".to_string()),
                (ChangeAction::Delete, "web".to_string())
            ],
            "its record sets first, its ledger not yet"
        );
        r.sent(wait, accept_all(&withdraw));
        assert_eq!(r.stats.gc_withdrawn.get(), 2);
        let later = ledger_deleted_next(&mut r, wait, &late);
        assert!(matches!(r.next(later), Action::Idle { settled: true, .. }));
        assert_eq!(r.current(), vec![&ours("web")]);

        // Another survivor deleted the ledger first: refused, and let be.
        assert!(r.collect(BTreeMap::from([(
            "10.0.0.5".to_string(),
            Some(late.clone())
        )])));
        let read = r.next(later);
        assert!(matches!(
            read,
            Action::ReadNames {
                purpose: ReadPurpose::Collect,
                ..
            }
        ));
        r.names_read(
            later,
            ReadPurpose::Collect,
            BTreeSet::from([fqdn("api"), fqdn("web")]),
            Ok(read_back(&["web", "api"], &[ours("web")])),
        );
        let at = idle_until(&r.next(later)).unwrap_or(later);
        let again = r.next(at);
        let Action::Send { batches } = &again else {
            panic!("expected the ledger's deletion, got {again:?}")
        };
        r.sent(
            at,
            FlushOutcome {
                rejected: vec![Rejection {
                    changes: batches.concat(),
                    messages: vec!["Tried to delete resource record set [name='10.0.0.5._owners._route53-registrator.service.discovery.', type='TXT'] but it was not found".into()],
                }],
                requests: 1,
                ..FlushOutcome::default()
            },
        );
        assert!(
            matches!(r.next(at + ms(5000)), Action::Idle { settled: true, .. }),
            "not tried again"
        );
        assert_eq!(
            r.report().rejected,
            0,
            "not counted as this instance's refusal"
        );
    }

    /// Two running instances under one owner id: a verification's count reads the ledger of this owner id
    /// naming another instance. Said loudly (the gauge, `/healthz`'s summary); the ledger is written once
    /// more, saying this instance (for the other to find), and never after, so that neither keeps
    /// overwriting the other's membership record.
    #[test]
    fn another_instance_writing_under_this_owner_id_is_reported_and_the_ledger_given_up() {
        let identity = |instance: &str| crate::host::Identity {
            instance_id: instance.into(),
            account: "111111111111".into(),
            region: "eu-west-1".into(),
        };
        let mut r = web_past_the_ledger(Some(ledger_listing(&["web"])));
        r.host_identity(identity("i-0000000000000000a"));
        let mut now = t(1);
        loop {
            match r.next(now) {
                Action::CountOwners { .. } => break,
                Action::Idle {
                    until: Some(at), ..
                } => now = at,
                send @ Action::Send { .. } => r.sent(now, accept_all(&send)),
                other => panic!("expected the verification's count, got {other:?}"),
            }
        }
        let theirs = crate::writer::ledger::Member {
            owner_id: "10.0.0.1".into(),
            ip: Ipv4Addr::new(10, 0, 0, 1),
            identity: Some(identity("i-0000000000000000b")),
        };
        let claimed = crate::writer::ledger::ledger_record(
            &fqdn(LEDGER),
            ZONE,
            Some(&theirs),
            &BTreeSet::from([fqdn("web")]),
        );
        r.outcome(now, Outcome::OwnersCounted(Ok(vec![claimed])));
        assert_eq!(r.stats.owner_id_conflict.get(), 1);
        let summary = r.stats.route53_summary(now);
        assert!(
            summary.contains("OWNER ID CONFLICT: i-0000000000000000b"),
            "{summary}"
        );
        let (written, now) = settle(&mut r, now);
        assert_eq!(
            written,
            vec![Some(strings(&["web"]))],
            "written once more, saying this instance, for the other to find"
        );
        r.desired_records(now, records(&["web", "api"]));
        let (written, _) = settle(&mut r, now);
        assert_eq!(written, vec![None], "api published, no ledger written");
    }

    /// Steps `r` from `now` until it settles, answering reads with this instance's `web` and accepting
    /// every send: the ledger each send wrote, and when it settled.
    fn settle(r: &mut Reconciler, mut now: Instant) -> (Vec<Option<Vec<String>>>, Instant) {
        let mut written = Vec::new();
        loop {
            match r.next(now) {
                Action::Idle {
                    until: Some(at),
                    settled: false,
                } => now = at,
                send @ Action::Send { .. } => {
                    written.push(ledger_written(&send));
                    r.sent(now, accept_all(&send));
                }
                Action::ReadNames { names, purpose } => {
                    let held = read_back(&["web"], &[ours("web")])
                        .into_iter()
                        .filter(|(name, _)| names.contains(name))
                        .collect();
                    r.names_read(now, purpose, names, Ok(held));
                }
                _ => return (written, now),
            }
        }
    }

    /// Two survivors collecting one owner: the second's DELETE is refused, the name read again, and
    /// nothing else is withdrawn until the clean-up checks again, even where the owner is back.
    #[test]
    fn a_refused_withdrawal_waits_for_the_next_check() {
        let zone = vec![
            ours("web"),
            record("web", "10.0.0.2"),
            record("api", "10.0.0.2"),
        ];
        let mut r = started(settings(Routing::Multivalue), &["web"], zone);
        r.collect(gone(&["10.0.0.2"]));
        let wait = idle_until(&r.next(t(0))).unwrap();
        let action = r.next(wait);
        let Action::Send { batches } = &action else {
            panic!("expected a send, got {action:?}")
        };
        let all = batches.concat();
        let back = record("web", "10.0.0.2").ttl(60);
        r.sent(
            wait,
            FlushOutcome {
                accepted: vec![all[0].clone()],
                rejected: vec![Rejection {
                    changes: vec![all[1].clone()],
                    messages: vec!["Tried to delete resource record set [name='web.service.discovery.', type='A', set-identifier='10.0.0.2'] but it was not found".into()],
                }],
                reread: BTreeMap::from([(fqdn("web"), vec![ours("web"), back])]),
                requests: 2,
                ..FlushOutcome::default()
            },
        );
        assert_eq!(r.stats.gc_withdrawn.get(), 1);
        assert!(
            matches!(r.next(wait + ms(5000)), Action::Idle { settled: true, .. }),
            "the record set read back is left alone"
        );
        assert_eq!(r.others_seen(), names(&["10.0.0.2"]));
    }

    /// Simple routing: a name this instance changes in the same flush is collected in the next one, from
    /// the set as its own compare-and-swap left it.
    #[test]
    fn in_simple_routing_a_gone_ip_leaves_after_this_instances_own_swap() {
        let plain = |values: &[&str]| RecordSet::a(fqdn("web"), "").values(values);
        let marker = RecordSet::marker(&fqdn("web"));
        let mut r = reconciler(settings(Routing::Simple));
        r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
        r.desired_records(t(0), records(&["web"]));
        assert_eq!(r.next(t(0)), Action::ReadZone);
        r.zone_read(t(0), Ok(vec![plain(&["10.0.0.2"]), marker]));
        assert!(r.collect(gone(&["10.0.0.2"])));
        let first = r.next(t(0));
        let Action::Send { batches } = &first else {
            panic!("expected a send, got {first:?}")
        };
        assert_eq!(
            batches.concat().last().map(|c| c.record_set.values.clone()),
            Some(vec!["10.0.0.1".to_string(), "10.0.0.2".to_string()]),
            "this instance's own swap first, alone"
        );
        r.sent(t(0), accept_all(&first));
        let wait = idle_until(&r.next(t(0))).unwrap();
        let second = r.next(wait);
        let Action::Send { batches } = &second else {
            panic!("expected a send, got {second:?}")
        };
        let changes = batches.concat();
        assert_eq!(
            changes
                .iter()
                .map(|c| (c.action, c.record_set.values.clone()))
                .collect::<Vec<_>>(),
            vec![
                (
                    ChangeAction::Delete,
                    vec!["10.0.0.1".to_string(), "10.0.0.2".to_string()]
                ),
                (ChangeAction::Create, vec!["10.0.0.1".to_string()]),
            ]
        );
        r.sent(wait, accept_all(&second));
        assert_eq!(r.stats.gc_withdrawn.get(), 1);
        assert!(r.others_seen().is_empty());
    }

    #[test]
    fn the_ledger_follows_publishing_and_withdrawing_in_the_same_request() {
        let mut r = web_past_the_ledger(Some(ledger_listing(&["web"])));
        assert!(matches!(r.next(t(0)), Action::Idle { settled: true, .. }));

        r.desired_records(t(1000), records(&["web", "api"]));
        let action = r.next(t(1200));
        assert_eq!(
            sent(&action),
            vec![
                (ChangeAction::Upsert, LEDGER.to_string()),
                (ChangeAction::Create, "api".to_string())
            ],
            "one request: the ledger grows with the CREATE"
        );
        let Action::Send { batches } = &action else {
            unreachable!()
        };
        assert_eq!(batches.len(), 1);
        r.sent(t(1200), accept_all(&action));

        r.desired_records(t(5000), records(&[]));
        let action = r.next(t(5200));
        assert_eq!(
            sent(&action),
            vec![
                (ChangeAction::Delete, LEDGER.to_string()),
                (ChangeAction::Delete, "api".to_string()),
                (ChangeAction::Delete, "web".to_string())
            ],
            "the last withdrawal removes the ledger in the same request"
        );
        r.sent(t(5200), accept_all(&action));
        assert!(matches!(
            r.next(t(5200)),
            Action::Idle { settled: true, .. }
        ));
    }

    #[test]
    fn a_ledger_change_that_fails_is_read_again_before_it_is_written_again() {
        let mut r = web_past_the_ledger(Some(ledger_listing(&["web"])));
        r.next(t(0));
        r.desired_records(t(1000), records(&["web", "api"]));
        let action = r.next(t(1200));
        let Action::Send { batches } = &action else {
            panic!("expected a send, got {action:?}");
        };
        let ledger_change = batches[0][0].clone();
        assert_eq!(ledger_change.record_set.name, fqdn(LEDGER));
        // Lost to a hand edit between the read and the write, as Route53 words it.
        let conflict = format!(
            "Tried to delete resource record set [name='{}', type='TXT'] but it was not found",
            fqdn(LEDGER)
        );
        r.sent(
            t(1200),
            FlushOutcome {
                accepted: batches.concat()[1..].to_vec(),
                rejected: vec![Rejection {
                    changes: vec![ledger_change.clone()],
                    messages: vec![conflict.clone()],
                }],
                reread: [(fqdn(LEDGER), vec![])].into(),
                requests: 2,
                ..FlushOutcome::default()
            },
        );
        assert_eq!(r.next(t(1200)), crate::writer::startup::read_ledgers(ZONE));
        r.outcome(
            t(1300),
            Outcome::LedgersRead(Ok(vec![ledger_listing(&["web"])])),
        );
        assert!(
            matches!(r.next(t(1300)), Action::Idle { .. }),
            "through the debounce"
        );
        let action = r.next(t(3000));
        assert_eq!(
            ledger_written(&action),
            Some(vec!["api".to_string(), "web".to_string()]),
            "the ledger is written again from what was read"
        );
    }

    #[test]
    fn a_ledger_refused_for_good_is_given_up_and_the_rest_goes_on() {
        let once = WriterSettings {
            once: true,
            ..with_ledger(Routing::Multivalue)
        };
        let mut r = past_the_ledger(once, BIG_ZONE, names(&["web"]), None);
        assert_eq!(r.next(t(0)), Action::ReadZone);
        r.zone_read(t(0), Ok([others(), vec![ours("web")]].concat()));
        let action = r.next(t(0));
        let Action::Send { batches } = &action else {
            panic!("expected a send, got {action:?}");
        };
        r.sent(
            t(0),
            FlushOutcome {
                rejected: vec![Rejection {
                    changes: vec![batches[0][0].clone()],
                    messages: vec!["User is not authorized to change TXT records".into()],
                }],
                reread: [(fqdn(LEDGER), vec![])].into(),
                requests: 2,
                ..FlushOutcome::default()
            },
        );
        assert!(
            matches!(r.next(t(0)), Action::Idle { settled: true, .. }),
            "no ledger read, no ledger write again"
        );
        r.desired_records(t(1000), records(&["web", "api"]));
        let action = r.next(t(2000));
        assert_eq!(
            sent(&action),
            vec![(ChangeAction::Create, "api".to_string())],
            "publishing goes on without the ledger"
        );
    }

    fn ledger_change_failed(messages: &[&str]) -> FlushOutcome {
        let change = Change {
            action: ChangeAction::Upsert,
            record_set: ledger_listing(&["web"]),
        };
        FlushOutcome {
            rejected: vec![Rejection {
                changes: vec![change],
                messages: messages.iter().map(|m| m.to_string()).collect(),
            }],
            ..FlushOutcome::default()
        }
    }

    #[test]
    fn a_ledger_change_lost_in_a_race_is_read_again_and_one_refused_otherwise_is_given_up() {
        let mut known = KnownZone {
            ledger: Some(Some(ledger_listing(&["web"]))),
            ..KnownZone::default()
        };
        let ledger = known
            .own_ledger(true, &spec(Routing::Multivalue))
            .expect("a ledger");
        let mut raced =
            ledger_change_failed(&["Tried to delete resource record set but it was not found"]);
        known.ledger_failed(&ledger, &mut raced);
        assert!(
            raced.rejected.is_empty(),
            "the ledger's refusal is taken out of the flush"
        );
        assert_eq!(known.ledger, None, "read again");
        assert!(
            known.own_ledger(true, &spec(Routing::Multivalue)).is_some(),
            "and kept"
        );

        let mut refused = ledger_change_failed(&["AccessDenied"]);
        known.ledger_failed(&ledger, &mut refused);
        assert_eq!(
            known.own_ledger(true, &spec(Routing::Multivalue)),
            None,
            "given up"
        );
        known.forget();
        assert_eq!(
            known.own_ledger(true, &spec(Routing::Multivalue)),
            None,
            "even after a restart"
        );
    }

    #[test]
    fn a_read_that_differs_from_what_was_believed_is_a_repair() {
        let registry = crate::writer::registry::registry(spec(Routing::Multivalue));
        let stats = Stats::new();
        let mut known = KnownZone::default();
        let read = BTreeMap::from([(fqdn("web"), vec![ours("web")])]);
        assert!(
            known.take_in(registry.as_ref(), &read, "drift", &stats),
            "ours appeared"
        );
        assert!(
            !known.take_in(registry.as_ref(), &read, "drift", &stats),
            "the same again"
        );
        let others_only = BTreeMap::from([(fqdn("web"), vec![record("web", "10.0.0.2")])]);
        assert!(
            known.take_in(registry.as_ref(), &others_only, "drift", &stats),
            "ours gone"
        );
        assert_eq!(known.owners(), BTreeSet::from(["10.0.0.2"]));
    }
}
