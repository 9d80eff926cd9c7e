//! Pure: which owners the clean-up of gone instances (`crate::gc`) may ask EC2 about and collect: the fleet's
//! members, as their ledgers (their membership records, [`crate::writer::ledger::Member`]) say, never an
//! owner id alone. A record set whose
//! SetIdentifier looks like an IP or an instance id may be anybody's: made by hand, another tool's, or a
//! registrator's of another region sharing the private zone, whose instances this region's EC2 never returns.
//!
//! | the owner's ledger                                        | this instance's identity | the clean-up       |
//! |-----------------------------------------------------------|--------------------------|--------------------|
//! | none                                                      | any                      | never asks, never collects |
//! | says an instance of this account and region               | known                    | asks by its instance id |
//! | says an instance of another account or region             | known                    | never asks, never collects |
//! | says an instance                                          | unknown (`host.ip` set)  | never asks: its account and region cannot be compared |
//! | says no instance (written with `host.ip` set), or written by the version before (no member value) | any | asks by its owner id, as before |
//!
//! The last row keeps a fleet without a metadata service, and one in a rolling upgrade from the version
//! before, collected as before; such a ledger of a registrator of another region is the one case the rule
//! cannot tell apart, until that registrator runs this version.

use std::collections::{BTreeMap, BTreeSet};

use crate::gc::Owners;
use crate::host::Identity;
use crate::route53::RecordSet;
use crate::writer::ledger::{ledger_owner, member_of};

/// How the clean-up asks EC2 about a member.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AskBy {
    /// By its instance id, as its ledger says.
    InstanceId(String),
    /// By its owner id (an IP or an instance id), as before members said who they are.
    OwnerId,
}

/// A member of the fleet that the clean-up may ask about: how, and its ledger as read (the names where
/// its record sets may stand, read before they are withdrawn).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fellow {
    pub ask: AskBy,
    pub ledger: RecordSet,
}

/// The members found in the fleet's ledgers, by owner id.
pub type Members = BTreeMap<String, Fellow>;

/// The members among the owners of `ledgers` (the fleet's ledgers in the zone `zone_name`, as a census
/// read them) that this instance, `me`, may ask about (see the module documentation).
pub fn members(ledgers: &[RecordSet], zone_name: &str, me: Option<&Identity>) -> Members {
    let mut out = Members::new();
    for ledger in ledgers {
        let Some(owner) = ledger_owner(&ledger.name, zone_name) else {
            continue;
        };
        let ask = match member_of(ledger).map(|member| member.identity) {
            None | Some(None) => Some(AskBy::OwnerId),
            Some(Some(theirs)) => me
                .filter(|me| me.account == theirs.account && me.region == theirs.region)
                .map(|_| AskBy::InstanceId(theirs.instance_id)),
        };
        if let Some(ask) = ask {
            let ledger = ledger.clone();
            out.insert(owner, Fellow { ask, ledger });
        }
    }
    out
}

/// Whom the clean-up asks about: this instance (`owner_id`, `identity`) by its instance id when it knows it,
/// and every other member (whether its record sets were `seen` in the zone or not: one that joined after
/// this instance's last read of its names is as much a member), each by the name EC2 knows it by. The
/// owners `seen` that are no member are strangers, never asked about nor collected.
pub fn to_ask(
    owner_id: Option<String>,
    identity: Option<&Identity>,
    seen: &BTreeSet<String>,
    members: &Members,
) -> Owners {
    let me = match identity {
        Some(identity) => owner_id.clone().map(|_| identity.instance_id.clone()),
        None => owner_id.clone(),
    };
    let mut owners = Owners {
        me,
        ..Owners::default()
    };
    for (owner, fellow) in members {
        if Some(owner) == owner_id.as_ref() {
            continue;
        }
        let name = match &fellow.ask {
            AskBy::InstanceId(id) => id.clone(),
            AskBy::OwnerId => owner.clone(),
        };
        owners.others.insert(name, owner.clone());
        owners.ledgers.insert(owner.clone(), fellow.ledger.clone());
    }
    owners.strangers = seen
        .iter()
        .filter(|owner| !members.contains_key(*owner))
        .cloned()
        .collect();
    owners
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::writer::ledger::{ledger_name, ledger_record, Member};

    const ZONE: &str = "service.discovery.";

    fn identity(instance: &str, account: &str, region: &str) -> Identity {
        Identity {
            instance_id: instance.into(),
            account: account.into(),
            region: region.into(),
        }
    }

    /// The ledger of `owner`, saying `identity` (`Some(None)`: a member without one; `None`: no member
    /// value, as the version before wrote).
    fn ledger(owner: &str, identity: Option<Option<Identity>>) -> RecordSet {
        let member = identity.map(|identity| Member {
            owner_id: owner.into(),
            ip: Ipv4Addr::new(10, 0, 0, 9),
            identity,
        });
        let name = ledger_name(owner, ZONE).unwrap();
        ledger_record(
            &name,
            ZONE,
            member.as_ref(),
            &BTreeSet::from([format!("web.{ZONE}")]),
        )
    }

    /// The ledger of `owner` saying it is `instance` of `account` in `region`.
    fn saying(owner: &str, instance: &str, account: &str, region: &str) -> RecordSet {
        ledger(owner, Some(Some(identity(instance, account, region))))
    }

    const ACCOUNT: &str = "111111111111";

    #[test]
    fn only_members_of_this_account_and_region_are_asked_about_by_instance_id() {
        let me = identity("i-0000000000000000a", ACCOUNT, "eu-west-1");
        let ledgers = [
            saying("10.0.0.2", "i-0000000000000000b", ACCOUNT, "eu-west-1"),
            saying("10.0.0.3", "i-0000000000000000c", ACCOUNT, "us-east-1"),
            saying(
                "10.0.0.4",
                "i-0000000000000000d",
                "222222222222",
                "eu-west-1",
            ),
            ledger("10.0.0.5", Some(None)),
            ledger("10.0.0.6", None),
        ];
        let found = members(&ledgers, ZONE, Some(&me));
        assert_eq!(
            asks(&found),
            BTreeMap::from([
                (
                    "10.0.0.2".into(),
                    AskBy::InstanceId("i-0000000000000000b".into())
                ),
                ("10.0.0.5".into(), AskBy::OwnerId),
                ("10.0.0.6".into(), AskBy::OwnerId),
            ])
        );
        let seen = BTreeSet::from(["10.0.0.2", "10.0.0.3", "10.50.0.7"].map(String::from));
        let owners = to_ask(Some("10.0.0.1".into()), Some(&me), &seen, &found);
        assert_eq!(
            owners.me.as_deref(),
            Some("i-0000000000000000a"),
            "by its instance id"
        );
        assert_eq!(
            owners.others,
            BTreeMap::from([
                ("10.0.0.5".to_string(), "10.0.0.5".to_string()),
                ("10.0.0.6".to_string(), "10.0.0.6".to_string()),
                ("i-0000000000000000b".to_string(), "10.0.0.2".to_string()),
            ]),
            "every member, seen in the zone or not"
        );
        assert_eq!(
            owners.ledgers.keys().collect::<Vec<_>>(),
            ["10.0.0.2", "10.0.0.5", "10.0.0.6"],
            "with the ledgers that list their names"
        );
        assert_eq!(
            owners.strangers,
            BTreeSet::from(["10.0.0.3", "10.50.0.7"].map(String::from)),
            "another region's member and a record set with no ledger behind it"
        );
        let alone = to_ask(Some("10.0.0.1".into()), None, &seen, &found);
        assert_eq!(alone.me.as_deref(), Some("10.0.0.1"), "by its owner id");
    }

    #[test]
    fn without_its_own_identity_an_instance_asks_only_about_members_that_say_none() {
        let ledgers = [
            saying("10.0.0.2", "i-0000000000000000b", ACCOUNT, "eu-west-1"),
            ledger("10.0.0.5", Some(None)),
        ];
        assert_eq!(
            asks(&members(&ledgers, ZONE, None)),
            BTreeMap::from([("10.0.0.5".into(), AskBy::OwnerId)])
        );
    }

    #[test]
    fn this_instances_own_ledger_is_never_asked_about() {
        let ledgers = [
            ledger("10.0.0.1", Some(None)),
            ledger("10.0.0.5", Some(None)),
        ];
        let owners = to_ask(
            Some("10.0.0.1".into()),
            None,
            &BTreeSet::new(),
            &members(&ledgers, ZONE, None),
        );
        assert_eq!(
            owners.others.keys().collect::<Vec<_>>(),
            ["10.0.0.5"],
            "not itself"
        );
    }

    /// How each member is asked about.
    fn asks(members: &Members) -> BTreeMap<String, AskBy> {
        members
            .iter()
            .map(|(owner, fellow)| (owner.clone(), fellow.ask.clone()))
            .collect()
    }
}
