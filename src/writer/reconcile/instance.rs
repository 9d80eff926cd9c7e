//! Who this instance is, as the writer was told, the owner ids it wrote under before the current one, and
//! whether it is going ([`ThisInstance`], pure); and how the reconciler takes in each of them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Instant;

use tracing::info;

use super::Reconciler;

use crate::host::Identity;
use crate::route53::RecordSet;
use crate::writer::ledger::member_of;

/// This instance: its IP, its EC2 identity, its former owner ids, and its end as the end watch tells it.
#[derive(Debug, Default)]
pub(crate) struct ThisInstance {
    /// The host IP; nothing is written before it is known.
    pub(crate) ip: Option<Ipv4Addr>,
    /// Who this instance is, once the metadata service told (its ledger says it).
    pub(crate) identity: Option<Identity>,
    /// Owner ids written under before the current one, still holding record sets (or possibly so).
    pub(crate) former_owner_ids: BTreeSet<String>,
    /// The end watch has answered at least once.
    pub(crate) fate_told: bool,
    /// What said the instance is going, while it is: every record of its own is withdrawn.
    pub(crate) leaving: Option<String>,
}

impl ThisInstance {
    /// The IP is now `ip`, which differs from the one known. Where the IP is the owner id
    /// (`ip_is_owner_id`), the old IP becomes a former owner id: the record sets written under it stay this
    /// instance's until they are gone. Returns whether the owner id changed.
    pub(crate) fn moved_to(&mut self, ip: Ipv4Addr, ip_is_owner_id: bool) -> bool {
        self.former_owner_ids.remove(&ip.to_string());
        let Some(old) = self.ip.replace(ip) else {
            return false;
        };
        if ip_is_owner_id {
            self.former_owner_ids.insert(old.to_string());
        }
        ip_is_owner_id
    }

    /// The ledgers among `ledgers` that say this instance's EC2 instance id and account under an owner id
    /// other than `owner_id`: its former selves (it ran with another `host.owner_id`, or another IP as its
    /// owner id), by owner id. Without an identity (no metadata service) none can be told.
    pub(crate) fn former_selves(
        &self,
        ledgers: &[RecordSet],
        owner_id: &str,
    ) -> BTreeMap<String, Option<RecordSet>> {
        let Some(me) = &self.identity else {
            return BTreeMap::new();
        };
        ledgers
            .iter()
            .filter_map(|ledger| {
                let member = member_of(ledger)?;
                let theirs = member.identity?;
                let former = theirs.instance_id == me.instance_id
                    && theirs.account == me.account
                    && member.owner_id != owner_id;
                former.then(|| (member.owner_id, Some(ledger.clone())))
            })
            .collect()
    }

    /// Former owner ids under which nothing of `still_held` (the owner ids of this instance's record sets)
    /// is left are forgotten. Returns whether any was.
    pub(crate) fn forget_former_owners(&mut self, still_held: &BTreeSet<String>) -> bool {
        let before = self.former_owner_ids.len();
        self.former_owner_ids.retain(|id| still_held.contains(id));
        self.former_owner_ids.len() != before
    }
}

impl Reconciler {
    /// The host IP is `ip` (first known, or changed). Returns whether it changed.
    pub fn host_ip(&mut self, now: Instant, ip: Ipv4Addr) -> bool {
        if self.shutting_down || self.instance.ip == Some(ip) {
            return false;
        }
        info!(ip = %ip, previous = ?self.instance.ip, "host IP");
        self.replan();
        if self.instance.moved_to(ip, self.settings.owner_id.is_none()) {
            // The new owner id has a ledger of its own, read before it is written.
            self.known.ledger = None;
        }
        self.mark_every_name_changed(now);
        true
    }

    /// This instance is `identity`, as the metadata service says: its ledger says so from the next flush.
    /// Returns whether it changed.
    pub fn host_identity(&mut self, identity: Identity) -> bool {
        if self.instance.identity.as_ref() == Some(&identity) {
            return false;
        }
        self.instance.identity = Some(identity);
        self.replan();
        true
    }

    /// Whether what the end watch says is known, or not waited for.
    pub(super) fn fate_known(&self) -> bool {
        self.instance.fate_told || !self.settings.watches_end
    }

    /// What the metadata service says of this instance's end ([`crate::host::InstanceFate`]): `Some(why)`,
    /// it is going: every record set and value of its own is withdrawn at once, ahead of the debounce and
    /// of a retry's wait, and nothing is published while it is; `None`, staying (or nothing known): what
    /// runs is published again. Returns whether it changed anything.
    pub fn instance_fate(&mut self, now: Instant, leaving: Option<String>) -> bool {
        let first = !self.instance.fate_told;
        self.instance.fate_told = true;
        if self.instance.leaving.is_some() == leaving.is_some() {
            return first;
        }
        self.replan();
        let going = leaving.is_some();
        self.instance.leaving = leaving;
        self.mark_every_name_changed(now);
        if going {
            info!(
                ours = self.current().len(),
                "withdrawing every record set of this instance: it is going"
            );
            self.pacing.hurry();
            self.failures.retry_at = None;
        }
        true
    }

    /// Whether changes go out at once and retries wait the least: while shutting down, and while the
    /// instance is going.
    pub(super) fn hurried(&self) -> bool {
        self.shutting_down || self.instance.leaving.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::ledger::{ledger_record, Member};

    const ZONE: &str = "service.discovery.";

    fn me() -> Identity {
        Identity {
            instance_id: "i-0000000000000000a".into(),
            account: "111111111111".into(),
            region: "eu-west-1".into(),
        }
    }

    fn ledger(owner_id: &str, identity: Option<Identity>) -> RecordSet {
        let member = Member {
            owner_id: owner_id.into(),
            ip: Ipv4Addr::new(10, 0, 0, 9),
            identity,
        };
        ledger_record(
            &format!("{owner_id}.l."),
            ZONE,
            Some(&member),
            &BTreeSet::new(),
        )
    }

    #[test]
    fn a_new_ip_makes_the_old_one_a_former_owner_id_only_where_the_ip_is_the_owner_id() {
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let mut instance = ThisInstance::default();
        assert!(!instance.moved_to(a, true), "the first IP replaces none");
        assert!(instance.moved_to(b, true));
        assert_eq!(
            instance.former_owner_ids,
            BTreeSet::from(["10.0.0.1".into()])
        );
        assert!(instance.moved_to(a, true));
        assert_eq!(
            instance.former_owner_ids,
            BTreeSet::from(["10.0.0.2".into()]),
            "back to an IP: it is the owner id again, not a former one"
        );
        let mut configured = ThisInstance::default();
        configured.moved_to(a, false);
        assert!(
            !configured.moved_to(b, false),
            "a configured owner id stays"
        );
        assert!(configured.former_owner_ids.is_empty());
    }

    #[test]
    fn former_selves_are_ledgers_of_this_instance_under_another_owner_id() {
        let instance = ThisInstance {
            identity: Some(me()),
            ..ThisInstance::default()
        };
        let elsewhere = Identity {
            account: "222222222222".into(),
            ..me()
        };
        let other = Identity {
            instance_id: "i-0000000000000000b".into(),
            ..me()
        };
        let ledgers = [
            ledger("10.0.0.9", Some(me())),
            ledger("i-0000000000000000a", Some(me())),
            ledger("10.0.0.8", Some(elsewhere)),
            ledger("10.0.0.7", Some(other)),
            ledger("10.0.0.6", None),
        ];
        let former = instance.former_selves(&ledgers, "i-0000000000000000a");
        assert_eq!(former.keys().collect::<Vec<_>>(), vec!["10.0.0.9"]);
        let unknown = ThisInstance::default();
        assert!(unknown.former_selves(&ledgers, "x").is_empty());
    }
}
