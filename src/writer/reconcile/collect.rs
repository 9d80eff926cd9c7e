//! The clean-up's part of the reconciler: the owners it sees, and the withdrawal of owners gone (found by
//! [`crate::gc`]) or of this instance's former selves (found in the fleet's ledgers), through the same
//! flushes as every change.

use std::collections::{BTreeMap, BTreeSet};

use super::Reconciler;
use crate::route53::{RecordSet, Routing};
use crate::writer::known::CollectReason;
use crate::writer::registry::registry;

impl Reconciler {
    /// The other owners seen in the zone in the configured routing (the SetIdentifiers of their record
    /// sets; in simple routing, the IPs of managed sets): whom the clean-up of gone instances asks about.
    pub fn others_seen(&self) -> BTreeSet<String> {
        match self.registry() {
            Some(registry) => self.known.others_seen(registry.as_ref()),
            None => BTreeSet::new(),
        }
    }

    /// The clean-up found these owners gone ([`crate::gc::decide`]), each given with its ledger as read:
    /// the names the ledgers list are read, then their record sets are withdrawn with the next flush,
    /// through the same batching, rate limit and retries as every change, and then their ledgers deleted.
    /// Owners neither seen nor with a ledger, and this instance's own ids, are ignored. Returns whether
    /// there is anything to withdraw.
    pub fn collect(&mut self, gone: BTreeMap<String, Option<RecordSet>>) -> bool {
        self.collect_because(gone, CollectReason::InstanceGone)
    }

    /// [`Self::collect`], saying why (logged with each record set withdrawn).
    pub(super) fn collect_because(
        &mut self,
        gone: BTreeMap<String, Option<RecordSet>>,
        because: CollectReason,
    ) -> bool {
        if self.shutting_down {
            return false;
        }
        self.replan();
        let Some(spec) = self.spec() else {
            self.known.stop_collecting();
            return false;
        };
        let mut mine = spec.former_owner_ids.clone();
        mine.insert(spec.owner_id.clone());
        if spec.routing == Routing::Simple {
            // Its values are IPs, whatever the owner id: this instance's IP is never collected.
            mine.insert(spec.ip.to_string());
        }
        self.known.collect(
            registry(spec.clone()).as_ref(),
            gone,
            because,
            &mine,
            &spec.zone_name,
        )
    }

    /// This instance's former selves among `ledgers` ([`ThisInstance::former_selves`]); none before the IP
    /// is known.
    pub(super) fn former_selves(
        &self,
        ledgers: &[RecordSet],
    ) -> BTreeMap<String, Option<RecordSet>> {
        match self.owner_id() {
            Some(owner_id) => self.instance.former_selves(ledgers, &owner_id),
            None => BTreeMap::new(),
        }
    }

    /// Former owner ids with no record set left are forgotten, once nothing is uncertain: no record set of
    /// theirs can be anywhere else.
    pub(super) fn forget_former_owners(&mut self) {
        if self.instance.former_owner_ids.is_empty()
            || !self.start_up.is_loaded()
            || !self.failures.uncertain.is_empty()
            || !self.verification.recheck().is_empty()
        {
            return;
        }
        let mine: BTreeSet<String> = self
            .current()
            .into_iter()
            .filter_map(|rs| rs.set_identifier.clone())
            .collect();
        if self.instance.forget_former_owners(&mine) {
            self.replan();
        }
    }
}
