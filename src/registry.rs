//! Pure: ownership. Which record sets under a name are this instance's, and what a change to them looks
//! like, behind one seam ([`Registry`]) with one implementation per routing, so that the diff, the writer,
//! verification and (later) the clean-up of gone instances do not branch on routing.
//!
//! The zone is seen name by name: [`Held`] is what one name holds (every owner's A record sets), as last
//! read from Route53 or as changed by the changes it accepted since.
//!
//! | routing      | this instance's record sets under a name                    | a change                       |
//! |--------------|-------------------------------------------------------------|--------------------------------|
//! | `multivalue` | the A record set with its SetIdentifier, `MultiValueAnswer` | DELETE as read, CREATE desired |
//! | `weighted`   | the A record set with its SetIdentifier and a `Weight`      | the same, at the group's TTL   |
//! | `simple`     | none yet: refused by the settings until it is implemented   | —                              |

use std::collections::BTreeMap;

use crate::plan::{desired_record, is_ours, RecordSpec, RECORD_TYPE};
use crate::route53::{Change, ChangeAction, RecordSet, Routing};

/// What one name holds, as far as this instance knows: every owner's A record sets under it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Held {
    pub a: Vec<RecordSet>,
}

impl Held {
    /// What `record_sets` (a read of one name) hold under it.
    pub fn from_read(record_sets: &[RecordSet]) -> Held {
        Held {
            a: record_sets
                .iter()
                .filter(|rs| rs.rtype == RECORD_TYPE)
                .cloned()
                .collect(),
        }
    }

    /// Takes in a change Route53 accepted for this name.
    pub fn apply(&mut self, change: &Change) {
        let rs = &change.record_set;
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

/// Every name of a zone listing, with what it holds.
pub fn view_of(record_sets: &[RecordSet]) -> BTreeMap<String, Held> {
    let mut view: BTreeMap<String, Held> = BTreeMap::new();
    for rs in record_sets.iter().filter(|rs| rs.rtype == RECORD_TYPE) {
        view.entry(rs.name.clone()).or_default().a.push(rs.clone());
    }
    view
}

/// Ownership under one routing.
pub trait Registry {
    /// This instance's record sets among what a name holds.
    fn mine<'a>(&self, held: &'a Held) -> Vec<&'a RecordSet>;

    /// The changes that make name `fqdn` hold this instance's IP when `wanted`, and nothing of this
    /// instance's otherwise, given what it `held`: DELETEs first, so that one batch replaces atomically.
    fn changes(&self, fqdn: &str, wanted: bool, held: &Held) -> Vec<Change>;
}

/// The registry of `spec`'s routing.
pub fn registry(spec: RecordSpec) -> Box<dyn Registry> {
    match spec.routing {
        Routing::Multivalue | Routing::Weighted => Box::new(Routed(spec)),
        Routing::Simple => Box::new(NothingYet),
    }
}

/// `multivalue` and `weighted`: one record set per instance and name, told apart by SetIdentifier.
pub struct Routed(pub RecordSpec);

impl Routed {
    /// The TTL of the weighted group other owners hold under the name: what this instance must write to join
    /// it (Route53 refuses a weighted record set whose TTL differs from its group's). Should a listing
    /// disagree, the lowest, for determinism.
    fn group_ttl(&self, held: &Held) -> Option<i64> {
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

impl Registry for Routed {
    fn mine<'a>(&self, held: &'a Held) -> Vec<&'a RecordSet> {
        held.a.iter().filter(|rs| is_ours(&self.0, rs)).collect()
    }

    fn changes(&self, fqdn: &str, wanted: bool, held: &Held) -> Vec<Change> {
        let label = fqdn.strip_suffix(&format!(".{}", self.0.zone_name.trim_start_matches('.')));
        let desired = wanted.then(|| {
            let mut rs = desired_record(&self.0, label.unwrap_or(fqdn));
            if let Some(ttl) = self.group_ttl(held) {
                rs.ttl = ttl;
            }
            rs
        });
        let mine = self.mine(held);
        let mut changes: Vec<Change> = mine
            .iter()
            .filter(|rs| Some(**rs) != desired.as_ref())
            .map(|rs| Change {
                action: ChangeAction::Delete,
                record_set: (*rs).clone(),
            })
            .collect();
        if let Some(desired) = desired {
            if !mine.contains(&&desired) {
                changes.push(Change {
                    action: ChangeAction::Create,
                    record_set: desired,
                });
            }
        }
        changes
    }
}

/// `simple`: not implemented yet (the settings refuse it); it claims nothing and changes nothing.
pub struct NothingYet;

impl Registry for NothingYet {
    fn mine<'a>(&self, _: &'a Held) -> Vec<&'a RecordSet> {
        Vec::new()
    }

    fn changes(&self, _: &str, _: bool, _: &Held) -> Vec<Change> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(owner: &str, ttl: i64) -> RecordSet {
        RecordSet {
            name: "web.zone.".into(),
            rtype: "A".into(),
            set_identifier: Some(owner.into()),
            weight: None,
            multivalue_answer: Some(true),
            ttl,
            values: vec!["10.0.0.1".into()],
        }
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
                    RecordSet {
                        rtype: "TXT".into(),
                        ..b.clone()
                    },
                ),
                vec![a.clone()],
            ),
        ];
        for (before, change, after) in cases {
            let mut held = Held { a: before.clone() };
            held.apply(&change);
            assert_eq!(held.a, after, "{before:?} then {change:?}");
        }
    }

    #[test]
    fn a_listing_is_seen_name_by_name() {
        let other = RecordSet {
            name: "api.zone.".into(),
            ..rs("c", 10)
        };
        let txt = RecordSet {
            rtype: "TXT".into(),
            ..rs("d", 10)
        };
        let view = view_of(&[rs("a", 10), other.clone(), rs("b", 10), txt]);
        assert_eq!(view.len(), 2);
        assert_eq!(view["web.zone."].a, vec![rs("a", 10), rs("b", 10)]);
        assert_eq!(view["api.zone."].owners().collect::<Vec<_>>(), vec!["c"]);
    }
}
