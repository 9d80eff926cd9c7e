//! Pure: packing changes into ChangeResourceRecordSets requests within Route53's limits, and the groups of
//! changes that must travel together (which the sender also halves a refused batch along).

use std::collections::BTreeMap;

use super::{group_name, Change, ChangeAction};

/// Route53's limits on one ChangeResourceRecordSets request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLimits {
    /// `ResourceRecord` elements per request (an UPSERT counts twice).
    pub max_records: usize,
    /// Characters in all `Value` elements of a request (an UPSERT counts twice).
    pub max_value_chars: usize,
}

impl BatchLimits {
    /// The limits Route53 documents: 1000 records and 32,000 characters of values per request.
    pub const ROUTE53: BatchLimits = BatchLimits {
        max_records: 1000,
        max_value_chars: 32_000,
    };
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits::ROUTE53
    }
}

/// What one change costs against [`BatchLimits`]: (records, characters of values). Route53 counts an UPSERT
/// twice, as a DELETE and a CREATE.
pub fn cost(change: &Change) -> (usize, usize) {
    let times = if change.action == ChangeAction::Upsert {
        2
    } else {
        1
    };
    let records = change.record_set.values.len();
    let chars: usize = change
        .record_set
        .values
        .iter()
        .map(|v| v.chars().count())
        .sum();
    (records * times, chars * times)
}

/// Packs `changes` into requests within `limits`. The changes of one name ([`groups`]), such as a DELETE
/// and the CREATE that replaces it, or a record set's first CREATE and its ownership marker, always travel
/// together and keep their order; groups are sorted by name, so the same changes always give the same
/// batches. A group that alone exceeds the limits gets a batch of its own (Route53 will refuse it, and the
/// sender isolates it).
pub fn batches(changes: &[Change], limits: BatchLimits) -> Vec<Vec<Change>> {
    batches_led_by(None, changes, limits)
}

/// [`batches`], with `lead` (a change that must be applied with or before every other, such as this
/// instance's ledger) first in the first request, and counted in its limits.
pub fn batches_led_by(
    lead: Option<Change>,
    changes: &[Change],
    limits: BatchLimits,
) -> Vec<Vec<Change>> {
    let mut out: Vec<Vec<Change>> = Vec::new();
    let (mut records, mut chars) = lead.as_ref().map_or((0, 0), cost);
    let mut batch: Vec<Change> = lead.into_iter().collect();
    for group in groups(changes) {
        let (group_records, group_chars) = group
            .iter()
            .map(cost)
            .fold((0, 0), |(r, c), (gr, gc)| (r + gr, c + gc));
        let fits = records + group_records <= limits.max_records
            && chars + group_chars <= limits.max_value_chars;
        if !fits && !batch.is_empty() {
            out.push(std::mem::take(&mut batch));
            (records, chars) = (0, 0);
        }
        batch.extend(group);
        records += group_records;
        chars += group_chars;
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    out
}

/// Splits `changes` into groups that must stay together (the changes of one name and of its underscore
/// attributes such as its ownership marker, [`group_name`], in order), sorted by name as [`batches`] sorts
/// them. The sender halves a refused batch along these groups to isolate the refused one.
pub fn groups(changes: &[Change]) -> Vec<Vec<Change>> {
    let mut groups: BTreeMap<&str, Vec<Change>> = BTreeMap::new();
    for change in changes {
        let key = group_name(&change.record_set.name);
        groups.entry(key).or_default().push(change.clone());
    }
    groups.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route53::RecordSet;

    /// A multivalue record set of `name` holding `10.0.0.1` (8 characters).
    fn record(name: &str) -> RecordSet {
        RecordSet::a(format!("{name}.zone."), "10.0.0.1").multivalue("10.0.0.1")
    }

    fn create(record_set: RecordSet) -> Change {
        Change {
            action: ChangeAction::Create,
            record_set,
        }
    }

    fn numbered(n: usize) -> Vec<Change> {
        (0..n)
            .map(|i| create(record(&format!("svc{i:05}"))))
            .collect()
    }

    #[test]
    fn batches_stay_within_the_record_limit() {
        let changes = numbered(2500);
        let out = batches(&changes, BatchLimits::ROUTE53);
        assert_eq!(
            out.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1000, 1000, 500]
        );
        assert_eq!(out.concat(), changes, "nothing lost, nothing reordered");
    }

    #[test]
    fn batches_stay_within_the_character_limit() {
        let limits = BatchLimits {
            max_records: 1000,
            max_value_chars: 25,
        };
        // Each value `10.0.0.1` is 8 characters: three fit in 25, a fourth does not.
        let out = batches(&numbered(7), limits);
        assert_eq!(out.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 1]);
    }

    #[test]
    fn upsert_counts_twice() {
        let up = |n: &str| Change {
            action: ChangeAction::Upsert,
            record_set: record(n),
        };
        assert_eq!(cost(&up("a")), (2, 16));
        let limits = BatchLimits {
            max_records: 3,
            max_value_chars: 1000,
        };
        let out = batches(&[up("a"), up("b")], limits);
        assert_eq!(out.len(), 2);
    }

    /// The lead (the ledger) goes first in the first request and counts against its limits: an UPSERT of
    /// 401 values costs 802 of the 1,000 records, and 400 changes of one record each then need two requests.
    #[test]
    fn the_lead_goes_first_and_counts_in_the_first_request() {
        let ledger = Change {
            action: ChangeAction::Upsert,
            record_set: RecordSet::marker("_owners.zone.").values(&["\"x\""; 401]),
        };
        let changes = numbered(400);
        let out = batches_led_by(Some(ledger.clone()), &changes, BatchLimits::ROUTE53);
        assert_eq!(out.iter().map(Vec::len).collect::<Vec<_>>(), vec![199, 202]);
        assert_eq!(out[0][0], ledger);
        assert_eq!(
            out.concat()[1..],
            changes[..],
            "nothing lost, nothing reordered"
        );
        for batch in &out {
            let records: usize = batch.iter().map(|c| cost(c).0).sum();
            assert!(records <= 1000, "{records} records in one request");
        }
        assert_eq!(
            batches_led_by(None, &changes, BatchLimits::ROUTE53),
            batches(&changes, BatchLimits::ROUTE53)
        );
    }

    #[test]
    fn batches_are_deterministic_whatever_the_input_order() {
        let changes = numbered(30);
        let mut shuffled = changes.clone();
        shuffled.reverse();
        shuffled.swap(3, 17);
        let limits = BatchLimits {
            max_records: 7,
            max_value_chars: 1000,
        };
        assert_eq!(batches(&shuffled, limits), batches(&changes, limits));
        assert_eq!(groups(&shuffled).concat(), changes);
    }

    #[test]
    fn an_oversized_group_gets_a_batch_of_its_own() {
        let big = record("big").values(&["10.0.0.1"; 5]);
        let limits = BatchLimits {
            max_records: 3,
            max_value_chars: 1000,
        };
        let out = batches(
            &[create(record("a")), create(big), create(record("c"))],
            limits,
        );
        assert_eq!(out.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1, 1]);
    }

    /// A name's ownership marker travels with the name's own changes, even where the limits would split
    /// them.
    #[test]
    fn a_marker_travels_with_its_name() {
        let marker = RecordSet::marker("web.zone.");
        let changes = vec![
            create(record("api")),
            create(record("web")),
            create(marker),
            create(record("zed")),
        ];
        let limits = BatchLimits {
            max_records: 2,
            max_value_chars: 1000,
        };
        let out = batches(&changes, limits);
        let names: Vec<Vec<&str>> = out
            .iter()
            .map(|b| b.iter().map(|c| c.record_set.name.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            vec![
                vec!["api.zone."],
                vec!["web.zone.", "_route53-registrator.web.zone."],
                vec!["zed.zone."]
            ]
        );
    }
}
