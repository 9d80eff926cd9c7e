//! Pure: what this instance's record sets should be, and the changes from what Route53 holds to that. No
//! I/O; the writer calls these (packing the changes into requests is [`crate::route53::batch`]).
//!
//! # Reconciliation cases
//!
//! `current` is this instance's record sets as last read from Route53 (or as last accepted by it); the
//! spec here is owner `10.0.0.1`, IP `10.0.0.1`, TTL 10 (weight 50 when weighted).
//!
//! ```text
//! | case                          | desired | current (ours)                  | changes                                   |
//! |-------------------------------|---------|---------------------------------|-------------------------------------------|
//! | first run                     | web     | —                               | CREATE web 10.0.0.1                       |
//! | second run                    | web     | web 10.0.0.1 ttl 10             | —                                         |
//! | idempotency (diff applied)    | a, b    | what the first diff created     | —                                         |
//! | container gone                | —       | web 10.0.0.1                    | DELETE web as read                        |
//! | one of several gone           | a, c    | a, b, c                         | DELETE b                                  |
//! | IP change                     | web     | web 10.0.0.9                    | DELETE web 10.0.0.9, CREATE web 10.0.0.1  |
//! | TTL changed in the settings   | web     | web ttl 60                      | DELETE web ttl 60, CREATE web ttl 10      |
//! | withdrawn after a TTL change  | —       | web ttl 60                      | DELETE web ttl 60 (as read, not 10)       |
//! | other owner's record set      | web     | — (theirs is not ours)          | CREATE web; theirs untouched              |
//! | joining a weighted group      | web     | — (theirs: weighted, ttl 60)    | CREATE web ttl 60 (the group's TTL)       |
//! | owner id changed (new IP)     | web     | web under the old owner id      | DELETE old owner's web, CREATE web        |
//! | routing switched              | web     | web weighted (now multivalue)   | DELETE weighted web, CREATE multivalue web |
//! | not a name we could produce   | —       | a.b / apex / `*` with our id    | — (never ours)                            |
//! ```
//!
//! A DELETE always carries the record set exactly as it was last read: Route53 refuses a DELETE whose TTL or
//! values differ from what it holds. A record set that differs from the desired one in any way (IP, TTL,
//! weight, owner) is replaced by a DELETE and a CREATE in one batch, which Route53 applies atomically.
//!
//! Route53 refuses a weighted record set whose TTL differs from the other weighted record sets of its name
//! (`InvalidChangeBatch`: "... cannot be created as weighted sets must contain the same TTL."), so an
//! instance joining an existing weighted group writes the group's TTL, not `route53.ttl` (the weighted
//! registry, [`crate::writer::registry::Routed`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::desired::DesiredValue;
use crate::route53::Change;
use crate::writer::registry::{NameRecords, Registry};

/// The changes that make the zone hold this instance's record sets of the desired values under every desired
/// name (fully qualified → the values wanted there) and nothing of this instance's anywhere else, from `view`
/// (what each name held, as last read or accepted) and the ownership rules of `registry`. A name whose values
/// are empty is not desired. Sorted by name; for one name the DELETEs come before the CREATEs, so that one
/// batch replaces a record set atomically. See the module's table.
pub fn diff(
    desired: &BTreeMap<String, BTreeSet<DesiredValue>>,
    view: &BTreeMap<String, NameRecords>,
    registry: &dyn Registry,
) -> Vec<Change> {
    let held_by_us = view
        .iter()
        .filter(|(_, held)| !registry.mine(held).is_empty())
        .map(|(name, _)| name);
    let names: BTreeSet<&String> = desired.keys().chain(held_by_us).collect();
    let (nothing_held, nothing_wanted) = (NameRecords::default(), BTreeSet::new());
    names
        .into_iter()
        .flat_map(|name| {
            let held = view.get(name).unwrap_or(&nothing_held);
            let wanted = desired.get(name).unwrap_or(&nothing_wanted);
            registry.changes(name, wanted, held)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route53::batch::{batches, BatchLimits};
    use crate::route53::ChangeAction;
    use crate::writer::registry::{view_of, Routed};
    use std::net::Ipv4Addr;

    use crate::route53::{RecordSet, Routing};
    use crate::writer::record::{fqdn, RecordSpec};
    use crate::writer::testkit::{address_record, host_address, spec, with};

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn create(rs: RecordSet) -> Change {
        Change {
            action: ChangeAction::Create,
            record_set: rs,
        }
    }

    fn delete(rs: RecordSet) -> Change {
        Change {
            action: ChangeAction::Delete,
            record_set: rs,
        }
    }

    /// The host's address wanted under each of `list`, by fully qualified name.
    fn fqdns(list: &[&str]) -> BTreeMap<String, BTreeSet<DesiredValue>> {
        list.iter()
            .map(|s| (fqdn(s, "service.discovery."), host_address()))
            .collect()
    }

    fn diff_of(desired: &[&str], zone: &[RecordSet], spec: &RecordSpec) -> Vec<Change> {
        diff(&fqdns(desired), &view_of(zone), &Routed(spec.clone()))
    }

    /// The module's table, row by row.
    #[test]
    fn reconciliation_table() {
        let multi = spec(Routing::Multivalue);
        let weighted = spec(Routing::Weighted);
        let web = address_record(&multi, "web");
        let web_old_ip = with(web.clone(), |r| r.values = vec!["10.0.0.9".into()]);
        let web_w = address_record(&weighted, "web");
        let web_w_drift = with(web_w.clone(), |r| r.ttl = 60);
        let (a, b, c) = (
            address_record(&multi, "a"),
            address_record(&multi, "b"),
            address_record(&multi, "c"),
        );
        let theirs = with(web.clone(), |r| {
            r.set_identifier = Some("10.0.0.2".into());
            r.values = vec!["10.0.0.2".into()];
        });
        let theirs_w60 = with(web_w.clone(), |r| {
            r.set_identifier = Some("10.0.0.2".into());
            r.values = vec!["10.0.0.2".into()];
            r.ttl = 60;
        });
        let moved = RecordSpec {
            owner_id: "10.0.0.3".into(),
            ip: Ipv4Addr::new(10, 0, 0, 3),
            former_owner_ids: names(&["10.0.0.1"]),
            ..multi.clone()
        };
        let nested = with(web.clone(), |r| r.name = "a.web.service.discovery.".into());
        let apex = with(web.clone(), |r| r.name = "service.discovery.".into());

        struct Case {
            name: &'static str,
            spec: RecordSpec,
            desired: BTreeSet<String>,
            zone: Vec<RecordSet>,
            want: Vec<Change>,
        }
        let cases = vec![
            Case {
                name: "first run",
                spec: multi.clone(),
                desired: names(&["web"]),
                zone: vec![],
                want: vec![create(web.clone())],
            },
            Case {
                name: "second run",
                spec: multi.clone(),
                desired: names(&["web"]),
                zone: vec![web.clone()],
                want: vec![],
            },
            Case {
                name: "container gone",
                spec: multi.clone(),
                desired: names(&[]),
                zone: vec![web.clone()],
                want: vec![delete(web.clone())],
            },
            Case {
                name: "one of several gone",
                spec: multi.clone(),
                desired: names(&["a", "c"]),
                zone: vec![a.clone(), b.clone(), c.clone()],
                want: vec![delete(b.clone())],
            },
            Case {
                name: "IP change",
                spec: multi.clone(),
                desired: names(&["web"]),
                zone: vec![web_old_ip.clone()],
                want: vec![delete(web_old_ip.clone()), create(web.clone())],
            },
            Case {
                name: "TTL changed in the settings",
                spec: weighted.clone(),
                desired: names(&["web"]),
                zone: vec![web_w_drift.clone()],
                want: vec![delete(web_w_drift.clone()), create(web_w.clone())],
            },
            Case {
                name: "withdrawn after a TTL change",
                spec: weighted.clone(),
                desired: names(&[]),
                zone: vec![web_w_drift.clone()],
                want: vec![delete(web_w_drift.clone())],
            },
            Case {
                name: "other owner's record set",
                spec: multi.clone(),
                desired: names(&["web"]),
                zone: vec![theirs.clone()],
                want: vec![create(web.clone())],
            },
            Case {
                name: "other owner's record set, nothing desired",
                spec: multi.clone(),
                desired: names(&[]),
                zone: vec![theirs.clone()],
                want: vec![],
            },
            Case {
                name: "routing switched: the old routing's record set is withdrawn",
                spec: multi.clone(),
                desired: names(&[]),
                zone: vec![web_w.clone()],
                want: vec![delete(web_w.clone())],
            },
            Case {
                name: "routing switched: replaced in one batch",
                spec: multi.clone(),
                desired: names(&["web"]),
                zone: vec![web_w.clone()],
                want: vec![delete(web_w.clone()), create(web.clone())],
            },
            Case {
                name: "joining a weighted group",
                spec: weighted.clone(),
                desired: names(&["web"]),
                zone: vec![theirs_w60.clone()],
                want: vec![create(with(web_w.clone(), |r| r.ttl = 60))],
            },
            Case {
                name: "in a weighted group at its TTL",
                spec: weighted.clone(),
                desired: names(&["web"]),
                zone: vec![theirs_w60.clone(), with(web_w.clone(), |r| r.ttl = 60)],
                want: vec![],
            },
            Case {
                name: "owner id changed (new IP)",
                spec: moved.clone(),
                desired: names(&["web"]),
                zone: vec![web.clone()],
                want: vec![delete(web.clone()), create(address_record(&moved, "web"))],
            },
            Case {
                name: "owner id changed, name gone",
                spec: moved.clone(),
                desired: names(&[]),
                zone: vec![web.clone()],
                want: vec![delete(web.clone())],
            },
            Case {
                name: "not a name we could produce",
                spec: multi.clone(),
                desired: names(&[]),
                zone: vec![nested, apex],
                want: vec![],
            },
        ];
        for case in cases {
            let desired: Vec<&str> = case.desired.iter().map(String::as_str).collect();
            assert_eq!(
                diff_of(&desired, &case.zone, &case.spec),
                case.want,
                "case: {}",
                case.name
            );
        }
    }

    /// Applying a diff and diffing again gives nothing: the writer's level-triggered loop settles.
    #[test]
    fn idempotency() {
        let spec = spec(Routing::Weighted);
        let desired = fqdns(&["a", "b", "web"]);
        let registry = Routed(spec.clone());
        let mut view = view_of(&[
            with(address_record(&spec, "b"), |r| r.ttl = 60),
            address_record(&spec, "gone"),
        ]);
        for change in diff(&desired, &view, &registry) {
            view.entry(change.record_set.name.clone())
                .or_default()
                .apply(&change);
        }
        assert_eq!(diff(&desired, &view, &registry), vec![]);
        let held: usize = view.values().map(|held| held.a.len()).sum();
        assert_eq!(held, 3);
    }

    #[test]
    fn diff_is_sorted_by_name_with_delete_before_create() {
        let spec = spec(Routing::Multivalue);
        let old = |n: &str| with(address_record(&spec, n), |r| r.ttl = 1);
        let changes = diff_of(&["b", "c", "a"], &[old("b"), old("a")], &spec);
        let order: Vec<(ChangeAction, &str)> = changes
            .iter()
            .map(|c| (c.action, c.record_set.name.split('.').next().unwrap()))
            .collect();
        use ChangeAction::*;
        assert_eq!(
            order,
            vec![
                (Delete, "a"),
                (Create, "a"),
                (Delete, "b"),
                (Create, "b"),
                (Create, "c")
            ]
        );
    }

    #[test]
    fn a_replacement_pair_is_never_split() {
        let spec = spec(Routing::Multivalue);
        let old = |n: &str| {
            with(address_record(&spec, n), |r| {
                r.values = vec!["10.0.0.9".into()]
            })
        };
        let changes = diff_of(&["a", "b", "c"], &[old("a"), old("b"), old("c")], &spec);
        assert_eq!(changes.len(), 6);
        let limits = BatchLimits {
            max_records: 3,
            max_value_chars: 1000,
        };
        let out = batches(&changes, limits);
        assert_eq!(out.len(), 3, "one pair per batch: {out:?}");
        for batch in &out {
            assert_eq!(batch[0].action, ChangeAction::Delete);
            assert_eq!(batch[1].action, ChangeAction::Create);
            assert_eq!(batch[0].record_set.name, batch[1].record_set.name);
        }
    }

    /// A name that is a key with no values wanted is not desired: what is ours there is withdrawn, exactly as
    /// when the name is absent, in every routing.
    #[test]
    fn a_name_with_no_values_is_withdrawn_like_one_not_desired() {
        use crate::writer::registry::registry;
        let web = fqdn("web", "service.discovery.");
        let shared = RecordSet::a(web.clone(), "10.0.0.1").values(&["10.0.0.1", "10.0.0.2"]);
        let marker = RecordSet::marker(&web);
        let cases = [
            (
                Routing::Multivalue,
                vec![address_record(&spec(Routing::Multivalue), "web")],
            ),
            (
                Routing::Weighted,
                vec![address_record(&spec(Routing::Weighted), "web")],
            ),
            (Routing::Simple, vec![shared.clone(), marker]),
        ];
        for (routing, zone) in cases {
            let registry = registry(spec(routing));
            let view = view_of(&zone);
            let empty = BTreeMap::from([(web.clone(), BTreeSet::new())]);
            let changes = diff(&empty, &view, registry.as_ref());
            assert_eq!(
                changes,
                diff(&BTreeMap::new(), &view, registry.as_ref()),
                "{routing:?}: as if not desired"
            );
            let deleted: Vec<&RecordSet> = changes
                .iter()
                .filter(|c| c.action == ChangeAction::Delete)
                .map(|c| &c.record_set)
                .collect();
            assert_eq!(
                deleted.first(),
                zone.first().as_ref(),
                "{routing:?}: {changes:?}"
            );
            assert!(
                changes.iter().all(|c| c.action == ChangeAction::Delete
                    || !c.record_set.values.contains(&"10.0.0.1".to_string())),
                "{routing:?}: this instance's address is withdrawn, not published: {changes:?}"
            );
            assert_ne!(
                changes,
                diff(&fqdns(&["web"]), &view, registry.as_ref()),
                "{routing:?}: not what publishing the address does"
            );
        }
    }
}
