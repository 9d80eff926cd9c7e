//! Pure: an instance's ledger, the one record that says where its record sets may be, so that a restart
//! finds its stale record sets with one read instead of listing the whole zone.
//!
//! Listing a zone costs one request per 300 record sets, and every instance of a fleet that restarts at
//! once would list it: with 100 instances of 20 names, 700 requests, more than two minutes of the account's
//! whole Route53 quota. The ledger turns that into one read per instance. It is the TXT record
//!
//! ```text
//! <owner id>._owners._route53-registrator.<zone>.  TXT  "heritage=route53-registrator"
//!     "member owner=10.0.0.1 ip=10.0.0.1 instance=i-0abc… account=123456789012 region=us-east-1" "web" "api" …
//! ```
//!
//! (one value per service name, the first label of each name where this owner may hold a record set; the
//! marker value makes it recognisable as this daemon's; the member value says who the owner is
//! ([`Member`]): the ledger is the instance's membership record). Route53 lists a name's children together, so the
//! ledgers of a fleet sit side by side under `_owners._route53-registrator.<zone>`.
//!
//! The rule that makes it safe: the ledger Route53 holds always lists every name where the owner holds a
//! record set. A name is added in the same batch as (or in a batch before) the first record set under it,
//! and removed only in a batch that also removes the record set, or after it is gone. A start reads the
//! ledger before its first write, which adds what runs to what the ledger listed (see
//! [`crate::writer::startup`]); without a ledger it writes none until the zone's listing has shown every
//! record set of its own.
//!
//! An owner id that cannot stand as DNS labels (anything but letters, digits, `-` and `_`, dot-separated)
//! has no ledger; its instance reads the whole zone at start-up instead. So does an instance whose names are
//! more than one record can list within a request's limits (about 500, [`fits`]): its ledger is deleted
//! in the flush that goes past them, and written again once they fit.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::host::Identity;
use crate::route53::batch::{self, BatchLimits};
use crate::route53::{Change, ChangeAction, RecordSet, MARKER_VALUE};
use crate::writer::record::{fqdn, is_service_name};

/// The ledgers' parent under the zone's apex.
pub const LEDGER_PARENT: &str = "_owners._route53-registrator";

/// `_owners._route53-registrator.<zone>.`: the name the fleet's ledgers stand under, side by side.
pub fn ledger_parent(zone_name: &str) -> String {
    fqdn(LEDGER_PARENT, zone_name)
}

/// The ledger's TTL: nobody resolves it, so it is only what Route53 requires.
pub const LEDGER_TTL: i64 = 300;

/// The ledger's record type.
pub const LEDGER_TYPE: &str = "TXT";

/// The name of `owner_id`'s ledger in the zone `zone_name`, or `None` when the owner id cannot stand as
/// DNS labels.
pub fn ledger_name(owner_id: &str, zone_name: &str) -> Option<String> {
    let valid_label = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !owner_id.split('.').all(valid_label) {
        return None;
    }
    Some(fqdn(&format!("{owner_id}.{LEDGER_PARENT}"), zone_name))
}

/// The owner id the ledger `name` of the zone `zone_name` is named for ([`ledger_name`]'s inverse), if it
/// is a ledger's name.
pub fn ledger_owner(name: &str, zone_name: &str) -> Option<String> {
    let suffix = format!(".{LEDGER_PARENT}.{}", zone_name.trim_end_matches('.'));
    let owner = name.trim_end_matches('.').strip_suffix(&suffix)?;
    ledger_name(owner, zone_name)
        .is_some_and(|own| own == name)
        .then(|| owner.to_string())
}

/// Who an instance is, as its ledger tells the fleet: the ledger is its membership record. One value of
/// the ledger holds it, `"member owner=<owner id> ip=<IPv4> instance=<id> account=<id> region=<name>"`
/// (the last three when the metadata service told them); the version before, which wrote no such value,
/// skips it as a value that is not a service name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The owner id its record sets carry as `SetIdentifier`.
    pub owner_id: String,
    /// The IP it publishes.
    pub ip: Ipv4Addr,
    /// Its EC2 identity; `None` without a metadata service (`host.ip` set).
    pub identity: Option<Identity>,
}

/// The word a member value starts with.
const MEMBER_WORD: &str = "member";

impl Member {
    /// The ledger value that says who the member is (quoted, as a TXT value is).
    pub fn value(&self) -> String {
        let mut value = format!("{MEMBER_WORD} owner={} ip={}", self.owner_id, self.ip);
        if let Some(identity) = &self.identity {
            value.push_str(&format!(
                " instance={} account={} region={}",
                identity.instance_id, identity.account, identity.region
            ));
        }
        format!("\"{value}\"")
    }

    /// The member a ledger value says, if it is a member value: its owner id and IP at least; an identity
    /// only when all three of its fields are there. Fields it does not know are skipped, for a later version.
    pub fn parse(value: &str) -> Option<Member> {
        let mut words = value.trim_matches('"').split_whitespace();
        if words.next() != Some(MEMBER_WORD) {
            return None;
        }
        let fields: BTreeMap<&str, &str> = words.filter_map(|word| word.split_once('=')).collect();
        let identity = match (
            fields.get("instance"),
            fields.get("account"),
            fields.get("region"),
        ) {
            (Some(instance), Some(account), Some(region)) => Some(Identity {
                instance_id: instance.to_string(),
                account: account.to_string(),
                region: region.to_string(),
            }),
            _ => None,
        };
        Some(Member {
            owner_id: fields.get("owner")?.to_string(),
            ip: fields.get("ip")?.parse().ok()?,
            identity,
        })
    }
}

/// This instance's own ledger: its name, its zone, and the member it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnLedger {
    pub name: String,
    pub zone_name: String,
    pub member: Member,
}

impl OwnLedger {
    /// [`ledger_change`] of this ledger.
    pub fn change(
        &self,
        held: Option<&RecordSet>,
        wanted: &BTreeSet<String>,
        limits: BatchLimits,
    ) -> Option<Change> {
        let member = Some(&self.member);
        ledger_change(&self.name, &self.zone_name, member, held, wanted, limits)
    }

    /// [`fits`] for this ledger.
    pub fn fits(&self, wanted: &BTreeSet<String>, limits: BatchLimits) -> bool {
        fits(&self.zone_name, Some(&self.member), wanted, limits)
    }
}

/// The member a ledger says, if it says one (a ledger of the version before does not).
pub fn member_of(ledger: &RecordSet) -> Option<Member> {
    ledger.values.iter().find_map(|value| Member::parse(value))
}

/// The instance that `ledger`, the ledger of this instance's owner id, names when it is not `me`: one that
/// had the owner id before (an IP reused), or another running instance given the same one.
pub fn another_instance(ledger: &RecordSet, me: &Identity) -> Option<Identity> {
    let theirs = member_of(ledger)?.identity?;
    (theirs.instance_id != me.instance_id).then_some(theirs)
}

/// The ledger record `name` of `member` listing `names` (fully qualified service names of the zone
/// `zone_name`); without a member, as the version before wrote it.
pub fn ledger_record(
    name: &str,
    zone_name: &str,
    member: Option<&Member>,
    names: &BTreeSet<String>,
) -> RecordSet {
    let zone = zone_name.trim_end_matches('.');
    let labels = names.iter().filter_map(|name| {
        name.trim_end_matches('.')
            .strip_suffix(zone)
            .and_then(|rest| rest.strip_suffix('.'))
            .map(|label| format!("\"{label}\""))
    });
    RecordSet {
        name: name.to_string(),
        rtype: LEDGER_TYPE.to_string(),
        set_identifier: None,
        weight: None,
        multivalue_answer: None,
        ttl: LEDGER_TTL,
        values: std::iter::once(MARKER_VALUE.to_string())
            .chain(member.map(Member::value))
            .chain(labels)
            .collect(),
    }
}

/// The fully qualified names a ledger lists. A value that is not a service name of the zone (edited by
/// hand, say) is left out: no record set of this daemon can stand there.
pub fn listed_names(ledger: &RecordSet, zone_name: &str) -> BTreeSet<String> {
    ledger
        .values
        .iter()
        .filter(|value| value.as_str() != MARKER_VALUE)
        .map(|value| fqdn(value.trim_matches('"'), zone_name))
        .filter(|name| is_service_name(name, zone_name))
        .collect()
}

/// Whether `rs` is the ledger named `name`: a TXT record there that carries the marker value.
pub fn is_ledger(rs: &RecordSet, name: &str) -> bool {
    rs.name == name && rs.rtype == LEDGER_TYPE && rs.values.iter().any(|v| v == MARKER_VALUE)
}

/// Whether `rs` is one of the fleet's ledgers, whoever's: a ledger ([`is_ledger`]) at a name under
/// `parent` ([`ledger_parent`]). The name matters: simple routing's ownership markers are TXT records with
/// the same marker value.
pub fn is_fleet_ledger(rs: &RecordSet, parent: &str) -> bool {
    let under = rs
        .name
        .strip_suffix(parent)
        .is_some_and(|owner| owner.len() > 1 && owner.ends_with('.'));
    under && is_ledger(rs, &rs.name)
}

/// Whether the ledger of `member` listing `wanted` can be written in one request within `limits`. It is
/// written as an UPSERT, which Route53 counts twice: at its 1,000 records, at most 498 names besides the
/// marker and the member, and fewer when they are long (32,000 characters of values).
pub fn fits(
    zone_name: &str,
    member: Option<&Member>,
    wanted: &BTreeSet<String>,
    limits: BatchLimits,
) -> bool {
    let (records, chars) = batch::cost(&Change {
        action: ChangeAction::Upsert,
        record_set: ledger_record("", zone_name, member, wanted),
    });
    records <= limits.max_records && chars <= limits.max_value_chars
}

/// The change that makes the ledger `name` of `member` list exactly `wanted`, given the ledger Route53
/// `held`: none when it already is that record; an UPSERT when something is to be listed (only this owner
/// writes its ledger, so there is nothing to compare-and-swap), which also brings a ledger of the version
/// before (no member) or of another member up to date; a DELETE of the record as held when nothing is
/// to be listed, or when `wanted` is more than one ledger can hold ([`fits`]): no ledger at all is then the
/// truth a restart can rely on (it lists the zone), where a ledger missing names would hide record sets.
pub fn ledger_change(
    name: &str,
    zone_name: &str,
    member: Option<&Member>,
    held: Option<&RecordSet>,
    wanted: &BTreeSet<String>,
    limits: BatchLimits,
) -> Option<Change> {
    let keep = !wanted.is_empty() && fits(zone_name, member, wanted, limits);
    let record = ledger_record(name, zone_name, member, wanted);
    let same = |held: &RecordSet| {
        let values = |rs: &RecordSet| rs.values.iter().cloned().collect::<BTreeSet<String>>();
        held.ttl == record.ttl && values(held) == values(&record)
    };
    match held {
        Some(held) if keep && same(held) => None,
        Some(held) if !keep => Some(Change {
            action: ChangeAction::Delete,
            record_set: held.clone(),
        }),
        None if !keep => None,
        _ => Some(Change {
            action: ChangeAction::Upsert,
            record_set: record,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: &str = "service.discovery.";

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|n| fqdn(n, ZONE)).collect()
    }

    fn member() -> Member {
        Member {
            owner_id: "10.0.0.1".into(),
            ip: Ipv4Addr::new(10, 0, 0, 1),
            identity: Some(Identity {
                instance_id: "i-0abc123def4567890".into(),
                account: "123456789012".into(),
                region: "eu-west-1".into(),
            }),
        }
    }

    #[test]
    fn ledger_names_by_owner_id() {
        // (owner id, ledger name)
        let cases = [
            (
                "10.0.0.1",
                Some("10.0.0.1._owners._route53-registrator.service.discovery."),
            ),
            (
                "i-0ABC123",
                Some("i-0abc123._owners._route53-registrator.service.discovery."),
            ),
            (
                "host_1",
                Some("host_1._owners._route53-registrator.service.discovery."),
            ),
            ("", None),
            ("a..b", None),
            ("has space", None),
            ("tab\t", None),
            ("сервис", None),
            ("a/b", None),
        ];
        for (owner, want) in cases {
            assert_eq!(ledger_name(owner, ZONE).as_deref(), want, "{owner:?}");
        }
        let long = "x".repeat(64);
        assert_eq!(ledger_name(&long, ZONE), None, "a label over 63 characters");
    }

    #[test]
    fn a_ledgers_name_gives_its_owner_back() {
        for owner in ["10.0.0.1", "i-0abc123def4567890", "host_1"] {
            let name = ledger_name(owner, ZONE).unwrap();
            assert_eq!(ledger_owner(&name, ZONE).as_deref(), Some(owner));
        }
        assert_eq!(ledger_owner("web.service.discovery.", ZONE), None);
        assert_eq!(
            ledger_owner("a b._owners._route53-registrator.service.discovery.", ZONE),
            None
        );
        assert_eq!(
            ledger_owner("10.0.0.1._owners._route53-registrator.elsewhere.", ZONE),
            None
        );
    }

    #[test]
    fn a_ledger_lists_what_it_was_written_with() {
        let name = ledger_name("10.0.0.1", ZONE).unwrap();
        let listed = names(&["web", "api", "db-1"]);
        let record = ledger_record(&name, ZONE, Some(&member()), &listed);
        assert_eq!(record.rtype, "TXT");
        let says = "\"member owner=10.0.0.1 ip=10.0.0.1 instance=i-0abc123def4567890 account=123456789012 \
                    region=eu-west-1\"";
        assert_eq!(
            record.values,
            vec![MARKER_VALUE, says, "\"api\"", "\"db-1\"", "\"web\""],
            "the marker first, then the labels in order"
        );
        assert!(is_ledger(&record, &name));
        assert_eq!(listed_names(&record, ZONE), listed);
    }

    #[test]
    fn values_that_are_not_service_names_are_left_out() {
        let name = ledger_name("10.0.0.1", ZONE).unwrap();
        let mut record = ledger_record(&name, ZONE, Some(&member()), &names(&["web"]));
        record.values.extend(
            ["\"a.b\"", "\"*\"", "\"\"", "plain"]
                .iter()
                .map(|v| v.to_string()),
        );
        assert_eq!(listed_names(&record, ZONE), names(&["web", "plain"]));
    }

    #[test]
    fn a_txt_record_without_the_marker_is_not_a_ledger() {
        let name = ledger_name("10.0.0.1", ZONE).unwrap();
        let mut record = ledger_record(&name, ZONE, Some(&member()), &names(&["web"]));
        record.values.retain(|v| v != MARKER_VALUE);
        assert!(!is_ledger(&record, &name));
        let other = ledger_record("elsewhere.", ZONE, Some(&member()), &names(&["web"]));
        assert!(!is_ledger(&other, &name));
    }

    #[test]
    fn a_fleet_ledger_is_a_ledger_under_the_ledgers_parent() {
        let parent = ledger_parent(ZONE);
        let at = |name: &str| ledger_record(name, ZONE, Some(&member()), &names(&["web"]));
        let ledger = ledger_name("10.0.0.1", ZONE).unwrap();
        assert!(is_fleet_ledger(&at(&ledger), &parent));
        // Simple routing's ownership marker: a TXT record with the same marker value, elsewhere.
        let marker = crate::route53::marker_name(&fqdn("web", ZONE));
        assert!(!is_fleet_ledger(&at(&marker), &parent));
        assert!(!is_fleet_ledger(&at(&parent), &parent));
        let sibling = format!("x{parent}");
        assert!(!is_fleet_ledger(&at(&sibling), &parent));
    }

    #[test]
    fn a_ledger_naming_another_instance_says_which() {
        let ledger = ledger_record("l.", ZONE, Some(&member()), &names(&["web"]));
        let me = member().identity.unwrap();
        assert_eq!(another_instance(&ledger, &me), None);
        let other = Identity {
            instance_id: "i-0fff".into(),
            ..me.clone()
        };
        assert_eq!(another_instance(&ledger, &other), Some(me));
        let unnamed = ledger_record("l.", ZONE, None, &names(&["web"]));
        assert_eq!(another_instance(&unnamed, &other), None);
    }

    #[test]
    fn the_change_that_makes_the_ledger_list_what_is_wanted() {
        let name = ledger_name("10.0.0.1", ZONE).unwrap();
        let held = ledger_record(&name, ZONE, Some(&member()), &names(&["web", "api"]));
        // (held, wanted, expected action, expected listing after)
        let cases: [(Option<&RecordSet>, &[&str], Option<ChangeAction>); 5] = [
            (None, &[], None),
            (None, &["web"], Some(ChangeAction::Upsert)),
            (Some(&held), &["api", "web"], None),
            (Some(&held), &["web"], Some(ChangeAction::Upsert)),
            (Some(&held), &[], Some(ChangeAction::Delete)),
        ];
        for (held_now, wanted, action) in cases {
            let wanted = names(wanted);
            let change = ledger_change(
                &name,
                ZONE,
                Some(&member()),
                held_now,
                &wanted,
                BatchLimits::ROUTE53,
            );
            assert_eq!(
                change.as_ref().map(|c| c.action),
                action,
                "held {held_now:?}, wanted {wanted:?}"
            );
            match change {
                Some(c) if c.action == ChangeAction::Delete => {
                    assert_eq!(
                        Some(&c.record_set),
                        held_now,
                        "a DELETE is of the record as held"
                    )
                }
                Some(c) => assert_eq!(listed_names(&c.record_set, ZONE), wanted),
                None => {}
            }
        }
    }

    /// 498 names, the marker and the member make 500 values, 1,000 records as an UPSERT: one ledger holds
    /// them. Past that (600 names, or fewer long ones against the 32,000 characters), no ledger is kept: the one held
    /// is deleted, none is written.
    #[test]
    fn names_more_than_one_ledger_holds_keep_no_ledger() {
        let numbered = |n: usize| -> BTreeSet<String> {
            (0..n).map(|i| fqdn(&format!("s{i}"), ZONE)).collect()
        };
        let limits = BatchLimits::ROUTE53;
        let member = member();
        assert!(fits(ZONE, Some(&member), &numbered(498), limits));
        assert!(!fits(ZONE, Some(&member), &numbered(499), limits));
        let long: BTreeSet<String> = (0..300).map(|i| fqdn(&format!("{i:0>60}"), ZONE)).collect();
        assert!(
            !fits(ZONE, Some(&member), &long, limits),
            "300 names of 62 characters"
        );

        let name = ledger_name("10.0.0.1", ZONE).unwrap();
        let held = ledger_record(&name, ZONE, Some(&member), &names(&["web"]));
        let change = ledger_change(
            &name,
            ZONE,
            Some(&member),
            Some(&held),
            &numbered(600),
            limits,
        );
        assert_eq!(
            change,
            Some(Change {
                action: ChangeAction::Delete,
                record_set: held
            })
        );
        assert_eq!(
            ledger_change(&name, ZONE, Some(&member), None, &numbered(600), limits),
            None
        );
    }

    /// The member value says who wrote the ledger; the names read from a ledger are the same with or without
    /// it, as the version before reads them (it knows no member value, and skips it as not a service name).
    #[test]
    fn a_ledger_says_its_member_and_reads_the_same_names_with_or_without_it() {
        let name = ledger_name("10.0.0.1", ZONE).unwrap();
        let listed = names(&["web", "api"]);
        let new = ledger_record(&name, ZONE, Some(&member()), &listed);
        let old = ledger_record(&name, ZONE, None, &listed);
        assert_eq!(member_of(&new), Some(member()));
        assert_eq!(member_of(&old), None);
        assert_eq!(listed_names(&new, ZONE), listed);
        assert_eq!(listed_names(&old, ZONE), listed);

        let without_metadata = Member {
            identity: None,
            ..member()
        };
        let record = ledger_record(&name, ZONE, Some(&without_metadata), &listed);
        assert_eq!(record.values[1], "\"member owner=10.0.0.1 ip=10.0.0.1\"");
        assert_eq!(member_of(&record), Some(without_metadata));
        // A later version's fields are skipped; a value that lacks the owner or the IP says no member.
        let later = "\"member owner=h1 ip=10.0.0.9 zone=z instance=i-1 account=1 region=r\"";
        assert_eq!(Member::parse(later).unwrap().owner_id, "h1");
        assert_eq!(Member::parse("\"member owner=h1\""), None);
        assert_eq!(Member::parse("\"web\""), None);
    }

    /// A ledger of the version before, or one that says another member, is written again as this member's,
    /// even where it lists the same names: the upgrade in place.
    #[test]
    fn a_ledger_without_this_member_is_brought_up_to_date() {
        let name = ledger_name("10.0.0.1", ZONE).unwrap();
        let listed = names(&["web"]);
        let old = ledger_record(&name, ZONE, None, &listed);
        let moved = Member {
            ip: Ipv4Addr::new(10, 0, 0, 2),
            ..member()
        };
        let others = ledger_record(&name, ZONE, Some(&moved), &listed);
        for held in [old, others] {
            let change = ledger_change(
                &name,
                ZONE,
                Some(&member()),
                Some(&held),
                &listed,
                BatchLimits::ROUTE53,
            )
            .expect("a change");
            assert_eq!(change.action, ChangeAction::Upsert);
            assert_eq!(member_of(&change.record_set), Some(member()));
        }
    }
}
