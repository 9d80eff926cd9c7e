//! Pure: ownership. Which record sets under a name are this instance's, and what a change to them looks
//! like, behind one seam ([`Registry`]) with one implementation per routing, so that the diff, the writer,
//! verification and the clean-up of gone instances ([`Registry::others`], [`Registry::withdraw_gone`]) do not
//! branch on routing.
//!
//! The zone is seen name by name: [`NameRecords`] is what one name holds (every owner's A record sets, and its
//! ownership marker), as last read from Route53 or as changed by the changes it accepted since.
//!
//! Each registry also claims this instance's record sets of the other forms (its SetIdentifier in the other
//! routed policy, its IP in a shared set), so that a change of routing leaves them: in the same batch as the
//! new record set, unless another owner's record sets of another form still stand at the name (Route53
//! refuses two routing policies under one name), in which case the new one follows later.
//!
//! | routing      | this instance's record sets under a name                    | a change                       |
//! |--------------|-------------------------------------------------------------|--------------------------------|
//! | `multivalue` | the A record set with its SetIdentifier, `MultiValueAnswer` | DELETE as read, CREATE desired |
//! | `weighted`   | the A record set with its SetIdentifier and a `Weight`      | the same, at the group's TTL   |
//! | `simple`     | its IP in the name's one plain A record set, when the name  | compare-and-swap: DELETE the   |
//! |              | carries the ownership marker (TXT `_route53-registrator.…`) | set as read, CREATE it with    |
//! |              |                                                             | this IP added or removed       |

use std::collections::{BTreeMap, BTreeSet};

use crate::desired::DesiredValue;
use crate::route53::{
    group_name, marker_name, Change, ChangeAction, RecordSet, Routing, MARKER_LABEL, MARKER_VALUE,
};
use crate::writer::record::{
    desired_record_sets, is_ours, is_routed_as, is_service_name, RecordSpec, RECORD_TYPE,
};

/// What one name holds, as far as this instance knows: every owner's A record sets under it, and its
/// ownership marker (simple routing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameRecords {
    pub a: Vec<RecordSet>,
    pub marker: Option<RecordSet>,
}

impl NameRecords {
    /// What `record_sets` (a read of one name) hold under it.
    pub fn from_read(record_sets: &[RecordSet]) -> NameRecords {
        NameRecords {
            a: record_sets
                .iter()
                .filter(|rs| rs.rtype == RECORD_TYPE)
                .cloned()
                .collect(),
            marker: record_sets.iter().find(|rs| is_marker(rs)).cloned(),
        }
    }

    /// Takes in a change Route53 accepted for this name.
    pub fn apply(&mut self, change: &Change) {
        let rs = &change.record_set;
        if is_marker(rs) {
            self.marker = match change.action {
                ChangeAction::Delete => None,
                ChangeAction::Create | ChangeAction::Upsert => Some(rs.clone()),
            };
            return;
        }
        if rs.rtype != RECORD_TYPE {
            return;
        }
        let same_set = |held: &RecordSet| held.set_identifier == rs.set_identifier;
        match change.action {
            ChangeAction::Delete => self.a.retain(|held| held != rs),
            ChangeAction::Create | ChangeAction::Upsert => {
                self.a.retain(|held| !same_set(held));
                self.a.push(rs.clone());
            }
        }
    }

    /// The SetIdentifiers of the A record sets held (the owners seen under this name).
    pub fn owners(&self) -> impl Iterator<Item = &str> {
        self.a.iter().filter_map(|rs| rs.set_identifier.as_deref())
    }
}

/// Every name of a zone listing, with what it holds (a marker counts under the name it marks).
pub fn view_of(record_sets: &[RecordSet]) -> BTreeMap<String, NameRecords> {
    let mut view: BTreeMap<String, NameRecords> = BTreeMap::new();
    for rs in record_sets {
        if is_marker(rs) {
            let name = group_name(&rs.name).to_string();
            view.entry(name).or_default().marker = Some(rs.clone());
        } else if rs.rtype == RECORD_TYPE {
            view.entry(rs.name.clone()).or_default().a.push(rs.clone());
        }
    }
    view
}

/// Whether `rs` is an ownership marker: the TXT record `_route53-registrator.<name>` with its value.
fn is_marker(rs: &RecordSet) -> bool {
    rs.rtype == "TXT"
        && rs.name.starts_with(&format!("{MARKER_LABEL}."))
        && rs.values.iter().any(|v| v == MARKER_VALUE)
}

/// Ownership under one routing.
pub trait Registry {
    /// This instance's record sets among what a name holds.
    fn mine<'a>(&self, held: &'a NameRecords) -> Vec<&'a RecordSet>;

    /// The changes that make name `fqdn` hold this instance's record sets of the `wanted` values, and nothing
    /// of this instance's when none is wanted, given what it `held`: DELETEs first, so that one batch
    /// replaces atomically.
    fn changes(
        &self,
        fqdn: &str,
        wanted: &BTreeSet<DesiredValue>,
        held: &NameRecords,
    ) -> Vec<Change>;

    /// Whether a read of a name must also read its ownership marker.
    fn reads_markers(&self) -> bool {
        false
    }

    /// The other owners present under a name in this routing: the SetIdentifiers of their record sets, or
    /// in simple routing the IPs of its managed set; never this instance's own.
    fn others(&self, held: &NameRecords) -> BTreeSet<String>;

    /// The changes that withdraw the `gone` owners from what a name `held` (the clean-up of instances that
    /// are gone, [`crate::gc::decide`]): their record sets in this routing exactly as last read, or in simple routing
    /// their IPs from the managed set by compare-and-swap. Nothing else, and nothing of this instance's.
    fn withdraw_gone(&self, held: &NameRecords, gone: &BTreeSet<String>) -> Vec<Change>;
}

/// The registry of `spec`'s routing.
pub fn registry(spec: RecordSpec) -> Box<dyn Registry> {
    match spec.routing {
        Routing::Multivalue | Routing::Weighted => Box::new(Routed(spec)),
        Routing::Simple => Box::new(Shared(spec)),
    }
}

/// `multivalue` and `weighted`: one record set per instance and name, told apart by SetIdentifier.
pub struct Routed(pub RecordSpec);

impl Routed {
    /// The TTL of the weighted group other owners hold under the name: what this instance must write to join
    /// it (Route53 refuses a weighted record set whose TTL differs from its group's). Should a listing
    /// disagree, the lowest, for determinism.
    fn group_ttl(&self, held: &NameRecords) -> Option<i64> {
        if self.0.routing != Routing::Weighted {
            return None;
        }
        held.a
            .iter()
            .filter(|rs| {
                rs.weight.is_some() && rs.set_identifier.is_some() && !is_ours(&self.0, rs)
            })
            .map(|rs| rs.ttl)
            .min()
    }
}

impl Routed {
    /// Whether `rs` is one of this instance's routed record sets, in either routed policy: an A record set
    /// of a service name with one of its owner ids.
    fn ours_in_any_policy(&self, rs: &RecordSet) -> bool {
        let spec = &self.0;
        rs.rtype == RECORD_TYPE
            && (rs.weight.is_some() || rs.multivalue_answer == Some(true))
            && rs
                .set_identifier
                .as_deref()
                .is_some_and(|id| id == spec.owner_id || spec.former_owner_ids.contains(id))
            && is_service_name(&rs.name, &spec.zone_name)
    }

    /// Another owner's record set in the configured routing, and that owner: what the clean-up of gone
    /// instances may withdraw.
    fn others_record<'a>(&self, rs: &'a RecordSet) -> Option<&'a str> {
        let owner = rs.set_identifier.as_deref()?;
        (is_routed_as(self.0.routing, rs)
            && rs.rtype == RECORD_TYPE
            && !self.ours_in_any_policy(rs)
            && is_service_name(&rs.name, &self.0.zone_name))
        .then_some(owner)
    }

    /// Whether `rs` is of another form than the configured one (plain, or the other routed policy): Route53
    /// refuses two routing policies under one name and type.
    fn other_form(&self, rs: &RecordSet) -> bool {
        match self.0.routing {
            Routing::Multivalue => is_plain(rs) || rs.weight.is_some(),
            Routing::Weighted => is_plain(rs) || rs.multivalue_answer == Some(true),
            Routing::Simple => !is_plain(rs),
        }
    }
}

impl Registry for Routed {
    fn others(&self, held: &NameRecords) -> BTreeSet<String> {
        held.a
            .iter()
            .filter_map(|rs| self.others_record(rs))
            .map(str::to_string)
            .collect()
    }

    fn withdraw_gone(&self, held: &NameRecords, gone: &BTreeSet<String>) -> Vec<Change> {
        held.a
            .iter()
            .filter(|rs| {
                self.others_record(rs)
                    .is_some_and(|owner| gone.contains(owner))
            })
            .map(|rs| Change {
                action: ChangeAction::Delete,
                record_set: rs.clone(),
            })
            .collect()
    }

    fn mine<'a>(&self, held: &'a NameRecords) -> Vec<&'a RecordSet> {
        let shared = Shared(self.0.clone());
        let in_shared = shared.mine_shared(held);
        held.a
            .iter()
            .filter(|rs| self.ours_in_any_policy(rs) || in_shared.contains(rs))
            .collect()
    }

    /// The configured record set, after this instance has left any other form it held the name in (its IP in
    /// a shared set, its record set of the other routed policy): all in one batch, which Route53 applies
    /// atomically, unless another owner's record sets of another form still stand there, beside which
    /// Route53 would refuse it; then only the leaving goes now.
    fn changes(
        &self,
        fqdn: &str,
        wanted: &BTreeSet<DesiredValue>,
        held: &NameRecords,
    ) -> Vec<Change> {
        let mut left = held.clone();
        let mut changes = Shared(self.0.clone()).swap(fqdn, false, held);
        changes.extend(
            held.a
                .iter()
                .filter(|rs| self.ours_in_any_policy(rs) && !is_ours(&self.0, rs))
                .map(|rs| Change {
                    action: ChangeAction::Delete,
                    record_set: rs.clone(),
                }),
        );
        for change in &changes {
            left.apply(change);
        }
        // Leaving an old form while another owner's record sets of another form stand: the new record set
        // would make Route53 refuse the whole batch, leaving included, so it waits for a later diff.
        let leaving = !changes.is_empty();
        let blocked = leaving
            && left
                .a
                .iter()
                .any(|rs| !self.ours_in_any_policy(rs) && self.other_form(rs));
        let label = fqdn.strip_suffix(&format!(".{}", self.0.zone_name.trim_start_matches('.')));
        let mut desired = if blocked {
            Vec::new()
        } else {
            desired_record_sets(&self.0, label.unwrap_or(fqdn), wanted)
        };
        // The weighted group whose TTL must be matched is the other owners' A record sets: it sets the TTL of
        // this instance's A record set only.
        if let Some(ttl) = self.group_ttl(&left) {
            for rs in desired.iter_mut().filter(|rs| rs.rtype == RECORD_TYPE) {
                rs.ttl = ttl;
            }
        }
        let mine: Vec<&RecordSet> = left.a.iter().filter(|rs| is_ours(&self.0, rs)).collect();
        changes.extend(
            mine.iter()
                .filter(|rs| !desired.contains(rs))
                .map(|rs| Change {
                    action: ChangeAction::Delete,
                    record_set: (*rs).clone(),
                }),
        );
        changes.extend(
            desired
                .into_iter()
                .filter(|rs| !mine.contains(&rs))
                .map(|rs| Change {
                    action: ChangeAction::Create,
                    record_set: rs,
                }),
        );
        changes
    }
}

/// `simple`: one plain A record set per name holding every instance's IP, changed by compare-and-swap.
///
/// | the name holds                                   | wanted, IP missing           | not wanted, IP there          |
/// |--------------------------------------------------|------------------------------|-------------------------------|
/// | nothing                                          | CREATE `[ip]`, CREATE marker | —                             |
/// | a plain set and the marker                       | DELETE set, CREATE set + ip  | DELETE set, CREATE set − ip   |
/// | a plain set of this IP alone and the marker      | —                            | DELETE set, DELETE marker     |
/// | a plain set without the marker (not ours)        | — (never touched)            | — (never touched)             |
/// | routed record sets (another routing)             | — (Route53 refuses mixing)   | —                             |
///
/// Only this instance's IP is ever added or removed (and, after an IP change, its former IPs removed); the
/// DELETE carries the set exactly as last read, so when another instance changed it first Route53 refuses
/// the batch, and the name is read again and the change recomputed.
pub struct Shared(pub RecordSpec);

impl Shared {
    /// The plain A record set the name holds, when the marker says it is managed.
    fn managed<'a>(&self, held: &'a NameRecords) -> Option<&'a RecordSet> {
        held.marker.as_ref()?;
        held.a.iter().find(|rs| is_plain(rs))
    }

    /// Whether `value` is this instance's IP, now or before it changed.
    fn is_mine(&self, value: &str) -> bool {
        value == self.0.ip.to_string() || self.0.former_owner_ids.contains(value)
    }
}

impl Registry for Shared {
    fn others(&self, held: &NameRecords) -> BTreeSet<String> {
        self.managed(held)
            .map(|rs| {
                rs.values
                    .iter()
                    .filter(|v| !self.is_mine(v))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn withdraw_gone(&self, held: &NameRecords, gone: &BTreeSet<String>) -> Vec<Change> {
        let (Some(current), Some(marker)) = (self.managed(held), &held.marker) else {
            return Vec::new();
        };
        let values = current
            .values
            .iter()
            .filter(|v| self.is_mine(v) || !gone.contains(*v))
            .cloned()
            .collect();
        rewrite(current, marker, values)
    }

    fn mine<'a>(&self, held: &'a NameRecords) -> Vec<&'a RecordSet> {
        let routed = Routed(self.0.clone());
        let mut mine = self.mine_shared(held);
        mine.extend(held.a.iter().filter(|rs| routed.ours_in_any_policy(rs)));
        mine
    }

    fn reads_markers(&self) -> bool {
        true
    }

    /// The swap, after this instance's routed record sets of an earlier routing are deleted, in the same
    /// batch: when they were the only routed ones, the name switches to the shared form atomically. The
    /// shared set holds addresses only: this instance's is in it when [`DesiredValue::HostAddress`] is wanted.
    fn changes(
        &self,
        fqdn: &str,
        wanted: &BTreeSet<DesiredValue>,
        held: &NameRecords,
    ) -> Vec<Change> {
        let routed = Routed(self.0.clone());
        let mut changes: Vec<Change> = held
            .a
            .iter()
            .filter(|rs| routed.ours_in_any_policy(rs))
            .map(|rs| Change {
                action: ChangeAction::Delete,
                record_set: rs.clone(),
            })
            .collect();
        let mut left = held.clone();
        for change in &changes {
            left.apply(change);
        }
        changes.extend(self.swap(fqdn, wanted.contains(&DesiredValue::HostAddress), &left));
        changes
    }
}

/// A record set without routing: no SetIdentifier, weight or multivalue flag.
fn is_plain(rs: &RecordSet) -> bool {
    rs.set_identifier.is_none() && rs.weight.is_none() && rs.multivalue_answer.is_none()
}

impl Shared {
    /// The shared record set, when it is managed and holds this instance's IP (or a former one).
    fn mine_shared<'a>(&self, held: &'a NameRecords) -> Vec<&'a RecordSet> {
        self.managed(held)
            .filter(|rs| rs.values.iter().any(|v| self.is_mine(v)))
            .into_iter()
            .collect()
    }

    /// The compare-and-swap that adds (`wanted`) or removes this instance's IP in the shared record set:
    /// the table of [`Shared`].
    fn swap(&self, fqdn: &str, wanted: bool, held: &NameRecords) -> Vec<Change> {
        let ip = self.0.ip.to_string();
        let marker = || RecordSet {
            name: marker_name(fqdn),
            rtype: "TXT".into(),
            set_identifier: None,
            weight: None,
            multivalue_answer: None,
            ttl: self.0.ttl,
            values: vec![MARKER_VALUE.to_string()],
        };
        let change = |action, record_set| Change { action, record_set };
        let plain = held.a.iter().find(|rs| is_plain(rs));
        let Some(current) = plain else {
            if !wanted || !held.a.is_empty() {
                // Nothing to withdraw; or another routing's record sets stand here, beside which Route53
                // refuses a plain one.
                return Vec::new();
            }
            let created = RecordSet {
                name: fqdn.to_string(),
                rtype: RECORD_TYPE.to_string(),
                set_identifier: None,
                weight: None,
                multivalue_answer: None,
                ttl: self.0.ttl,
                values: vec![ip],
            };
            let mut changes = vec![change(ChangeAction::Create, created)];
            if held.marker.is_none() {
                changes.push(change(ChangeAction::Create, marker()));
            }
            return changes;
        };
        let Some(held_marker) = &held.marker else {
            // A plain record set made by hand or by another tool: never changed.
            return Vec::new();
        };
        let mut values: Vec<String> = current
            .values
            .iter()
            .filter(|v| !self.is_mine(v))
            .cloned()
            .collect();
        if wanted {
            values.push(ip);
        }
        rewrite(current, held_marker, values)
    }
}

/// The compare-and-swap that leaves a managed set (`current`, as read, with its `marker`) holding `values`:
/// the set deleted as read and created again with them, or, with none left, deleted with its marker;
/// nothing when they are what it holds already.
fn rewrite(current: &RecordSet, marker: &RecordSet, mut values: Vec<String>) -> Vec<Change> {
    let change = |action, record_set| Change { action, record_set };
    values.sort();
    let mut before = current.values.clone();
    before.sort();
    if values == before {
        return Vec::new();
    }
    let mut changes = vec![change(ChangeAction::Delete, current.clone())];
    if values.is_empty() {
        changes.push(change(ChangeAction::Delete, marker.clone()));
    } else {
        changes.push(change(
            ChangeAction::Create,
            RecordSet {
                values,
                ..current.clone()
            },
        ));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::testkit::{host_address, with};

    /// `owner`'s multivalue record set of `web.zone.`, holding `10.0.0.1`.
    fn rs(owner: &str, ttl: i64) -> RecordSet {
        RecordSet::a("web.zone.", "10.0.0.1")
            .multivalue(owner)
            .ttl(ttl)
    }

    fn change(action: ChangeAction, record_set: RecordSet) -> Change {
        Change { action, record_set }
    }

    /// What an accepted change does to what a name holds, as Route53 applies it.
    #[test]
    fn accepted_changes_table() {
        let (a, b) = (rs("a", 10), rs("b", 10));
        // (held before, change, held after)
        let cases = [
            (
                vec![],
                change(ChangeAction::Create, a.clone()),
                vec![a.clone()],
            ),
            (
                vec![a.clone(), b.clone()],
                change(ChangeAction::Delete, a.clone()),
                vec![b.clone()],
            ),
            (
                vec![a.clone()],
                change(ChangeAction::Delete, rs("a", 60)),
                vec![a.clone()],
            ),
            (
                vec![a.clone(), b.clone()],
                change(ChangeAction::Upsert, rs("a", 60)),
                vec![b.clone(), rs("a", 60)],
            ),
            (
                vec![a.clone()],
                change(
                    ChangeAction::Create,
                    with(b.clone(), |r| r.rtype = "TXT".into()),
                ),
                vec![a.clone()],
            ),
        ];
        for (before, change, after) in cases {
            let mut held = NameRecords {
                a: before.clone(),
                marker: None,
            };
            held.apply(&change);
            assert_eq!(held.a, after, "{before:?} then {change:?}");
        }
    }

    #[test]
    fn a_listing_is_seen_name_by_name() {
        let other = with(rs("c", 10), |r| r.name = "api.zone.".into());
        let txt = with(rs("d", 10), |r| r.rtype = "TXT".into());
        let view = view_of(&[rs("a", 10), other.clone(), rs("b", 10), txt]);
        assert_eq!(view.len(), 2);
        assert_eq!(view["web.zone."].a, vec![rs("a", 10), rs("b", 10)]);
        assert_eq!(view["api.zone."].owners().collect::<Vec<_>>(), vec!["c"]);
    }

    fn spec(ip: [u8; 4]) -> RecordSpec {
        RecordSpec {
            zone_name: "zone.".into(),
            owner_id: std::net::Ipv4Addr::from(ip).to_string(),
            former_owner_ids: Default::default(),
            ip: ip.into(),
            routing: Routing::Simple,
            ttl: 10,
            weight: 50,
        }
    }

    /// The plain (shared) record set of `web.zone.` holding `values`, TTL 30.
    fn plain(values: &[&str]) -> RecordSet {
        RecordSet::a("web.zone.", "").values(values).ttl(30)
    }

    fn marker() -> RecordSet {
        RecordSet::marker("web.zone.")
    }

    /// What the clean-up of gone instances sees and withdraws under a name, in each routing, for the
    /// instance `10.0.0.1`: only other owners' record sets (IPs) of the configured routing.
    #[test]
    fn others_and_what_collecting_gone_owners_changes_table() {
        use ChangeAction::{Create, Delete};
        let gone =
            |list: &[&str]| -> BTreeSet<String> { list.iter().map(|s| s.to_string()).collect() };
        let weighted = |owner: &str| RecordSet::a("web.zone.", "10.0.0.1").weighted(owner, 50);
        let routed = NameRecords {
            a: vec![
                rs("a", 10),
                rs("b", 10),
                rs("10.0.0.1", 10),
                weighted("c"),
                plain(&["10.9.9.9"]),
            ],
            marker: None,
        };
        let multivalue = Routed(RecordSpec {
            routing: Routing::Multivalue,
            ..spec([10, 0, 0, 1])
        });
        assert_eq!(multivalue.others(&routed), gone(&["a", "b"]));
        assert_eq!(
            multivalue.withdraw_gone(&routed, &gone(&["a", "c", "10.0.0.1", "10.9.9.9"])),
            vec![change(Delete, rs("a", 10))],
            "only another owner's multivalue record set; never this instance's, another routing's or a plain one"
        );
        let weighted_registry = Routed(RecordSpec {
            routing: Routing::Weighted,
            ..spec([10, 0, 0, 1])
        });
        assert_eq!(weighted_registry.others(&routed), gone(&["c"]));
        assert_eq!(
            weighted_registry.withdraw_gone(&routed, &gone(&["a", "c"])),
            vec![change(Delete, weighted("c"))]
        );

        let shared = Shared(spec([10, 0, 0, 1]));
        let managed = |values: &[&str]| NameRecords {
            a: vec![plain(values)],
            marker: Some(marker()),
        };
        let three = managed(&["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        assert_eq!(shared.others(&three), gone(&["10.0.0.2", "10.0.0.3"]));
        assert_eq!(
            shared.withdraw_gone(&three, &gone(&["10.0.0.2", "10.0.0.1"])),
            vec![
                change(Delete, plain(&["10.0.0.1", "10.0.0.2", "10.0.0.3"])),
                change(Create, plain(&["10.0.0.1", "10.0.0.3"])),
            ],
            "a compare-and-swap that removes the gone IP and keeps this instance's"
        );
        let others_only = managed(&["10.0.0.2", "10.0.0.3"]);
        assert_eq!(
            shared.withdraw_gone(&others_only, &gone(&["10.0.0.2", "10.0.0.3"])),
            vec![
                change(Delete, plain(&["10.0.0.2", "10.0.0.3"])),
                change(Delete, marker()),
            ],
            "the last IPs go with the marker"
        );
        assert!(shared
            .withdraw_gone(&three, &gone(&["10.0.0.7"]))
            .is_empty());
        let unmanaged = NameRecords {
            a: vec![plain(&["10.0.0.2"])],
            marker: None,
        };
        assert!(
            shared.others(&unmanaged).is_empty(),
            "not managed: nobody's"
        );
        assert!(shared
            .withdraw_gone(&unmanaged, &gone(&["10.0.0.2"]))
            .is_empty());
    }

    /// The compare-and-swap table of [`Shared`], for the instance `10.0.0.1`.
    #[test]
    fn shared_changes_table() {
        use ChangeAction::{Create, Delete};
        let managed = |values: &[&str]| NameRecords {
            a: vec![plain(values)],
            marker: Some(marker()),
        };
        let new_plain = |values: &[&str]| plain(values).ttl(10);
        // (case, held, wanted, changes)
        let cases: Vec<(&str, NameRecords, bool, Vec<Change>)> = vec![
            (
                "first instance",
                NameRecords::default(),
                true,
                vec![
                    change(Create, new_plain(&["10.0.0.1"])),
                    change(Create, marker()),
                ],
            ),
            ("nothing to withdraw", NameRecords::default(), false, vec![]),
            (
                "joins others",
                managed(&["10.0.0.2", "10.0.0.3"]),
                true,
                vec![
                    change(Delete, plain(&["10.0.0.2", "10.0.0.3"])),
                    change(Create, plain(&["10.0.0.1", "10.0.0.2", "10.0.0.3"])),
                ],
            ),
            (
                "already in",
                managed(&["10.0.0.1", "10.0.0.2"]),
                true,
                vec![],
            ),
            (
                "leaves others",
                managed(&["10.0.0.1", "10.0.0.2"]),
                false,
                vec![
                    change(Delete, plain(&["10.0.0.1", "10.0.0.2"])),
                    change(Create, plain(&["10.0.0.2"])),
                ],
            ),
            (
                "the last one out removes the marker",
                managed(&["10.0.0.1"]),
                false,
                vec![
                    change(Delete, plain(&["10.0.0.1"])),
                    change(Delete, marker()),
                ],
            ),
            (
                "a plain set without the marker is not ours",
                NameRecords {
                    a: vec![plain(&["192.0.2.1"])],
                    marker: None,
                },
                true,
                vec![],
            ),
            (
                "another routing stands here",
                NameRecords {
                    a: vec![plain(&["10.0.0.2"]).multivalue("10.0.0.2")],
                    marker: None,
                },
                true,
                vec![],
            ),
        ];
        let registry = Shared(spec([10, 0, 0, 1]));
        for (case, held, wanted, want) in cases {
            let wanted = if wanted {
                host_address()
            } else {
                BTreeSet::new()
            };
            assert_eq!(
                registry.changes("web.zone.", &wanted, &held),
                want,
                "{case}"
            );
        }
    }

    /// After an IP change the former IP is removed and the new one added, in one swap; another instance's IP
    /// is never touched.
    #[test]
    fn shared_after_an_ip_change() {
        let mut moved = spec([10, 0, 0, 9]);
        moved.former_owner_ids.insert("10.0.0.1".into());
        let held = NameRecords {
            a: vec![plain(&["10.0.0.1", "10.0.0.2"])],
            marker: Some(marker()),
        };
        let registry = Shared(moved);
        assert_eq!(registry.mine(&held).len(), 1);
        assert_eq!(
            registry.changes("web.zone.", &host_address(), &held),
            vec![
                change(ChangeAction::Delete, plain(&["10.0.0.1", "10.0.0.2"])),
                change(ChangeAction::Create, plain(&["10.0.0.2", "10.0.0.9"])),
            ]
        );
    }
}
