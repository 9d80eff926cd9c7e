//! The start-up: the steps of a start (or a restart) until every name where this instance may hold a record
//! set has been read, at the least cost to the account's shared quota. With a ledger: read the ledger,
//! (multivalue) publish what runs with the ledger listing its names besides those it listed, read the
//! names it lists. Without one, or in a zone of one page: list the zone, in multivalue at a moment spread
//! over the time the fleet's listings take (what runs is published meanwhile, no ledger written).
//!
//! Nothing is written under a name the ledger Route53 holds does not list, a start included: a crash after
//! any request leaves a zone where a restart finds every record set of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use rand::rngs::SmallRng;
use rand::Rng;
use tracing::info;

use crate::route53::rate::Quota;
use crate::route53::read::{listing_is_cheaper, ZONE_PAGE};
use crate::route53::{RecordSet, Routing};
use crate::writer::action::{Action, ReadPurpose};
use crate::writer::ledger::{ledger_parent, listed_names};
use crate::writer::pacing::scan_spread;
use crate::writer::registry::NameRecords;

/// How far the start-up has got.
#[derive(Debug, Default)]
pub(crate) struct StartUp {
    /// The zone's names that matter were read since the start (or the last restart): the diff can be
    /// trusted.
    loaded: bool,
    /// A start-up's first UPSERT of the desired names (multivalue), after the ledger's read, has been sent.
    published: bool,
    /// Without a ledger, when the zone is listed to find this instance's stale record sets (multivalue:
    /// what runs is published already, so the listing is spread over the fleet's share of the quota);
    /// `None` once the zone's names that matter are known.
    scan_at: Option<Instant>,
}

/// What the start-up needs to know of the rest of the writer to take its next step.
pub(crate) struct Facts<'a> {
    /// This instance's ledger's name, unless it keeps none.
    pub ledger: Option<String>,
    /// The ledger as read: `None` until read, then the record or its absence.
    pub ledger_read: Option<&'a Option<RecordSet>>,
    /// Record sets in the zone, as last read or described.
    pub zone_size: usize,
    /// The names known, as read or published.
    pub names: &'a BTreeMap<String, NameRecords>,
    /// The zone's name.
    pub zone_name: &'a str,
    /// The desired names, fully qualified.
    pub desired: BTreeSet<String>,
    /// The routing configured.
    pub routing: Routing,
    /// The account's request quota.
    pub quota: Quota,
    /// `--once`: a listing is not put off.
    pub once: bool,
    /// The writer is shutting down.
    pub shutting_down: bool,
    /// The writer is shutting down to withdraw every record set of this instance.
    pub withdrawing: bool,
}

/// The next step of the start-up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Perform this action.
    Do(Action),
    /// Publish the desired names (multivalue) before the names the ledger lists are read, the ledger as
    /// read (if any) listing them too, then go on.
    Publish,
    /// Every name that matters is known: the start-up is over.
    Loaded,
    /// List the zone to find this instance's stale record sets, when [`StartUp::scan`] says so.
    Scan { ledger: String },
}

impl StartUp {
    /// Whether the zone's names that matter are known.
    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// The zone's names that matter are known: the diff can be trusted.
    pub(crate) fn loaded(&mut self) {
        self.loaded = true;
        self.scan_at = None;
    }

    /// The zone is to be read again (too many names are uncertain to read them one by one).
    pub(crate) fn unload(&mut self) {
        self.loaded = false;
    }

    /// When a listing put off is due.
    pub(crate) fn scan_at(&self) -> Option<Instant> {
        self.scan_at
    }

    /// A flush failed: if it was the first UPSERT of a start that did not get through (throttled, say), it
    /// goes out again, before the names are read, when the retry's time comes (with the ledger read again
    /// first, should its change have failed ambiguously).
    pub(crate) fn flush_failed(&mut self) {
        if !self.loaded && self.scan_at.is_none() {
            self.published = false;
        }
    }

    /// The next step of a start (or a restart), or `None` once over (also while a listing is put off, see
    /// [`StartUp::scan`]). With a ledger: read the ledger, (multivalue) publish what runs, read the names
    /// it lists that are not published yet (the desired names too, in the routings that read before
    /// writing). A zone of one page, or no ledger (none in the zone yet, or an owner id that cannot have
    /// one): list the zone. Once started, a ledger whose change failed is read again.
    pub(crate) fn next(&mut self, facts: &Facts<'_>) -> Option<Step> {
        if self.loaded {
            return match (&facts.ledger, facts.ledger_read) {
                (Some(_), None) => Some(Step::Do(read_ledgers(facts.zone_name))),
                _ => None,
            };
        }
        let Some(name) = facts.ledger.clone() else {
            return Some(Step::Do(Action::ReadZone));
        };
        if facts.ledger_read.is_none() && facts.zone_size <= ZONE_PAGE {
            // A zone of one page is listed for what reading the ledger costs, and the listing shows the
            // ledger too; what runs then goes out with the ledger in one request, where publishing first
            // would take one more.
            return Some(Step::Do(Action::ReadZone));
        }
        let Some(held) = facts.ledger_read else {
            return Some(Step::Do(read_ledgers(facts.zone_name)));
        };
        if facts.routing == Routing::Multivalue && !self.published {
            // An UPSERT of this instance's own record set (its SetIdentifier, so nobody else's) needs no
            // read of its name, and Route53 refuses it where it would mix routing policies under a name
            // (the refusal re-reads the name, and the usual rules take over). It waits for the ledger's
            // read all the same, so that the ledger lists its names before they hold anything. Weighted
            // and simple routing read first: a weighted group's TTL and a shared record set's values come
            // from what the name holds.
            self.published = true;
            return Some(Step::Publish);
        }
        let Some(held) = held else {
            return Some(Step::Scan { ledger: name });
        };
        let mut names = listed_names(held, facts.zone_name);
        if facts.routing == Routing::Multivalue {
            // What was published first is known; the rest may hold stale record sets of ours.
            names.retain(|name| !facts.names.contains_key(name));
        } else {
            // A weighted group's TTL and a shared record set's values come from a read.
            names.extend(facts.desired.iter().cloned());
        }
        if names.is_empty() {
            return Some(Step::Loaded);
        }
        if listing_is_cheaper(names.len(), facts.zone_size) {
            return Some(Step::Do(Action::ReadZone));
        }
        Some(Step::Do(Action::ReadNames {
            names,
            purpose: ReadPurpose::Owned,
        }))
    }

    /// Without a ledger, the zone is listed once to find this instance's stale record sets (and the ledger
    /// is written from what it finds). Weighted and simple routing list it at once, as they must read before
    /// they write. Multivalue has published what runs already, and a listing costs one request per 300
    /// record sets for every instance without a ledger (every new instance of a scale-out, every instance
    /// after an upgrade): it waits a random share of the time the fleet's listings take at
    /// [`crate::writer::pacing::FLEET_SCAN_SHARE`] of the quota ([`scan_spread`]) for a fleet of `fleet`,
    /// and changes go out meanwhile. `--once` and a withdrawal of everything at shutdown list at once; a
    /// shutdown that keeps the records does not list.
    pub(crate) fn scan(
        &mut self,
        now: Instant,
        ledger: &str,
        facts: &Facts<'_>,
        fleet: usize,
        rng: &mut SmallRng,
    ) -> Option<Action> {
        let withdrawing = facts.withdrawing;
        let put_off = facts.routing == Routing::Multivalue && !facts.once;
        if put_off && facts.shutting_down && !withdrawing {
            return None;
        }
        if put_off && !withdrawing {
            let at = match self.scan_at {
                Some(at) => at,
                None => {
                    let pages = facts.zone_size / ZONE_PAGE + 1;
                    let spread = scan_spread(fleet, pages, facts.quota);
                    let at = now + spread.mul_f64(rng.random::<f64>());
                    info!(
                        ledger,
                        in_secs = at.saturating_duration_since(now).as_secs(),
                        "no ledger of this instance in the zone; listing the zone once, spread over the fleet"
                    );
                    self.scan_at = Some(at);
                    at
                }
            };
            if at > now {
                return None;
            }
        }
        info!(
            ledger,
            "no ledger of this instance in the zone; reading the whole zone once"
        );
        Some(Action::ReadZone)
    }
}

/// The read of the fleet's ledgers in the zone `zone_name`: this instance's, and the members counted.
pub(crate) fn read_ledgers(zone_name: &str) -> Action {
    Action::ReadLedgers {
        parent: ledger_parent(zone_name),
    }
}

#[cfg(test)]
mod tests {
    //! The start-up on a fake clock: through the whole reconciler, and the machine on its own.

    use super::*;
    use crate::writer::testkit::*;

    #[test]
    fn a_restart_reads_its_ledger_publishes_with_it_then_reads_only_the_names_it_lists() {
        let mut r = Reconciler::new(
            zone_of(Some(2_000)),
            with_ledger(Routing::Multivalue),
            Stats::new(),
            7,
        );
        r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
        r.desired_records(t(0), records(&["web", "api"]));
        assert_eq!(r.next(t(0)), read_ledgers(ZONE));
        r.outcome(
            t(1),
            Outcome::LedgersRead(Ok(vec![ledger_listing(&["web", "old", "gone"])])),
        );
        let first = r.next(t(1));
        assert_eq!(
            sent(&first),
            vec![
                (ChangeAction::Upsert, LEDGER.to_string()),
                (ChangeAction::Upsert, "api".to_string()),
                (ChangeAction::Upsert, "web".to_string())
            ],
            "what runs goes out at once, as UPSERTs of our own record sets, the ledger first"
        );
        assert_eq!(
            ledger_written(&first),
            Some(strings(&["api", "gone", "old", "web"])),
            "the ledger lists what runs besides every name it listed: a crash now loses nothing"
        );
        r.sent(t(2), accept_all(&first));
        assert_eq!(
            r.next(t(2)),
            Action::ReadNames {
                names: [fqdn("gone"), fqdn("old")].into(),
                purpose: ReadPurpose::Owned
            },
            "only the listed names not published yet"
        );
        let zone = [ours("old"), record("old", "10.0.0.2")];
        r.names_read(
            t(3),
            ReadPurpose::Owned,
            names(&[]),
            Ok(read_back(&["old", "gone"], &zone)),
        );
        let action = r.next(t(3));
        assert_eq!(
            sent(&action),
            vec![
                (ChangeAction::Upsert, LEDGER.to_string()),
                (ChangeAction::Delete, "old".to_string())
            ],
            "the stale record set of ours goes at once, the other owner's stays; the ledger first"
        );
        assert_eq!(ledger_written(&action), Some(strings(&["api", "web"])));
        r.sent(t(4), accept_all(&action));
        assert!(matches!(r.next(t(4)), Action::Idle { settled: true, .. }));
        assert_eq!(
            r.report().applied,
            3,
            "two UPSERTs and a DELETE; the ledger is not counted"
        );
    }

    /// A restart under another owner id (`host.owner_id` set where the IP was the owner) finds its former
    /// self by the instance id its ledger says: the names it lists are read, its record sets withdrawn,
    /// then its ledger deleted; the fleet it counts is one.
    #[test]
    fn a_restart_under_another_owner_id_withdraws_what_its_former_self_wrote() {
        let me = crate::host::Identity {
            instance_id: "i-0000000000000000a".into(),
            account: "111111111111".into(),
            region: "eu-west-1".into(),
        };
        let former = {
            let member = crate::writer::ledger::Member {
                owner_id: "10.0.0.9".into(),
                ip: Ipv4Addr::new(10, 0, 0, 9),
                identity: Some(me.clone()),
            };
            let name = crate::writer::ledger::ledger_name("10.0.0.9", ZONE).unwrap();
            let listed = BTreeSet::from([fqdn("web"), fqdn("old")]);
            crate::writer::ledger::ledger_record(&name, ZONE, Some(&member), &listed)
        };
        let someone_else = ledger_of("10.0.0.7", &["web"]);
        let mut r = Reconciler::new(
            zone_of(Some(2_000)),
            with_ledger(Routing::Multivalue),
            Stats::new(),
            7,
        );
        r.host_identity(me);
        r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
        r.desired_records(t(0), records(&["web"]));
        assert_eq!(r.next(t(0)), read_ledgers(ZONE));
        r.outcome(
            t(0),
            Outcome::LedgersRead(Ok(vec![
                former.clone(),
                someone_else,
                ledger_listing(&["web"]),
            ])),
        );
        assert_eq!(
            r.fleet_estimate(),
            2,
            "itself and one other: its former self is not another member"
        );
        let first = r.next(t(0));
        r.sent(t(0), accept_all(&first));
        assert_eq!(
            r.next(t(0)),
            Action::ReadNames {
                names: BTreeSet::from([fqdn("old"), fqdn("web")]),
                purpose: ReadPurpose::Collect
            },
            "the names its former self listed"
        );
        let held = [
            ours("web"),
            record("web", "10.0.0.9"),
            record("old", "10.0.0.9"),
            record("web", "10.0.0.7"),
        ];
        r.names_read(
            t(0),
            ReadPurpose::Collect,
            BTreeSet::new(),
            Ok(read_back(&["web", "old"], &held)),
        );
        // Past the debounce, if any: the start has hurried the flush after it.
        let (at, withdraw) = match r.next(t(0)) {
            Action::Idle {
                until: Some(at), ..
            } => (at, r.next(at)),
            send => (t(0), send),
        };
        let Action::Send { batches } = &withdraw else {
            panic!("expected the withdrawals, got {withdraw:?}")
        };
        let owners: Vec<(String, Option<String>)> = batches
            .concat()
            .iter()
            .map(|c| {
                (
                    c.record_set.name.clone(),
                    c.record_set.set_identifier.clone(),
                )
            })
            .collect();
        assert_eq!(
            owners,
            vec![
                (fqdn("old"), Some("10.0.0.9".into())),
                (fqdn("web"), Some("10.0.0.9".into()))
            ],
            "the former self's record sets, nobody else's"
        );
        r.sent(at, accept_all(&withdraw));
        assert_eq!(
            r.stats.gc_withdrawn.get(),
            0,
            "not counted as the clean-up's: a former self is no gone instance"
        );
        ledger_deleted_next(&mut r, at, &former);
    }

    #[test]
    fn a_ledger_that_lists_nothing_stale_costs_one_read() {
        let ledger = Some(ledger_listing(&["web"]));
        let mut r = web_past_the_ledger(ledger);
        assert!(
            matches!(r.next(t(2)), Action::Idle { settled: true, .. }),
            "nothing else to read or write"
        );
    }

    #[test]
    fn without_a_ledger_a_start_lists_the_zone_once_and_writes_one() {
        let mut r = web_past_the_ledger(None);
        let Action::Idle {
            until: Some(scan_at),
            settled: true,
        } = r.next(t(2))
        else {
            panic!("the listing is put off for the fleet, what runs being published");
        };
        assert!(
            scan_at <= t(0) + Duration::from_secs(2_000 * 7 / 2),
            "2,000 record sets over one name: 2,000 owners at most, 7 pages, 2 requests/s"
        );
        assert_eq!(
            r.next(scan_at),
            Action::ReadZone,
            "the first start after an upgrade"
        );
        let listing = [ours("web"), ours("stale"), record("stale", "10.0.0.2")];
        r.zone_read(t(3), Ok([others(), listing.to_vec()].concat()));
        let action = r.next(t(3));
        assert_eq!(
            sent(&action),
            vec![
                (ChangeAction::Upsert, LEDGER.to_string()),
                (ChangeAction::Delete, "stale".to_string())
            ]
        );
        assert_eq!(ledger_written(&action), Some(vec!["web".to_string()]));
        r.sent(t(4), accept_all(&action));
        assert!(matches!(r.next(t(4)), Action::Idle { settled: true, .. }));
    }

    #[test]
    fn a_zone_of_one_page_is_listed_first_and_what_runs_goes_out_with_the_ledger() {
        let small = |ledger: Option<RecordSet>| {
            let mut r = Reconciler::new(
                zone_of(Some(120)),
                with_ledger(Routing::Multivalue),
                Stats::new(),
                7,
            );
            r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
            r.desired_records(t(0), records(&["web"]));
            assert_eq!(
                r.next(t(0)),
                Action::ReadZone,
                "a listing of one page costs what the ledger's read does, and shows the ledger"
            );
            r.zone_read(t(1), Ok(ledger.into_iter().collect()));
            r.next(t(1))
        };
        let action = small(None);
        assert_eq!(
            sent(&action),
            vec![
                (ChangeAction::Upsert, LEDGER.to_string()),
                (ChangeAction::Create, "web".to_string())
            ],
            "one request: the record set and the ledger that lists it"
        );
        let Action::Send { batches } = &action else {
            unreachable!()
        };
        assert_eq!(batches.len(), 1);
        assert_eq!(ledger_written(&action), Some(vec!["web".to_string()]));

        let action = small(Some(ledger_listing(&["old"])));
        assert_eq!(
            ledger_written(&action),
            Some(vec!["web".to_string()]),
            "a ledger in the listing is the one kept up to date"
        );
    }

    #[test]
    fn weighted_routing_reads_the_desired_and_the_listed_names_before_it_writes() {
        let mut r = Reconciler::new(
            zone_of(Some(2_000)),
            with_ledger(Routing::Weighted),
            Stats::new(),
            7,
        );
        r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
        r.desired_records(t(0), records(&["web"]));
        assert_eq!(r.next(t(0)), read_ledgers(ZONE));
        r.outcome(
            t(1),
            Outcome::LedgersRead(Ok(vec![ledger_listing(&["old"])])),
        );
        assert_eq!(
            r.next(t(1)),
            Action::ReadNames {
                names: [fqdn("old"), fqdn("web")].into(),
                purpose: ReadPurpose::Owned
            }
        );
        let mut group = record("web", "10.0.0.2");
        (group.weight, group.multivalue_answer, group.ttl) = (Some(50), None, 60);
        let mut old = ours("old");
        (old.weight, old.multivalue_answer) = (Some(50), None);
        r.names_read(
            t(2),
            ReadPurpose::Owned,
            names(&[]),
            Ok(read_back(&["old", "web"], &[group, old])),
        );
        let action = r.next(t(2));
        let Action::Send { batches } = &action else {
            panic!("expected a send, got {action:?}");
        };
        let create = batches
            .concat()
            .into_iter()
            .find(|c| c.action == ChangeAction::Create)
            .expect("a CREATE of web");
        assert_eq!(create.record_set.ttl, 60, "the group's TTL, read first");
        assert_eq!(ledger_written(&action), Some(vec!["web".to_string()]));
        assert!(sent(&action).contains(&(ChangeAction::Delete, "old".to_string())));
    }

    #[test]
    fn while_a_listing_is_put_off_changes_go_out_and_no_ledger_is_written() {
        let twenty: BTreeSet<String> = (0..20).map(|i| format!("s{i}")).collect();
        let settings = with_ledger(Routing::Multivalue);
        let mut r = past_the_ledger(settings, BIG_ZONE, twenty.clone(), None);
        let Action::Idle {
            until: Some(scan_at),
            ..
        } = r.next(t(0))
        else {
            panic!("expected the listing to be put off");
        };
        assert!(
            scan_at <= t(0) + Duration::from_secs(175),
            "100 owners × 7 pages at 4 per second: within 175 s"
        );
        let mut fewer = twenty.clone();
        fewer.remove("s0");
        r.desired_records(t(1000), crate::desired::DesiredRecords::addresses(fewer));
        let action = r.next(t(1200));
        assert_eq!(
            sent(&action),
            vec![(ChangeAction::Delete, "s0".to_string())],
            "a withdrawal goes out before the listing, without the ledger"
        );
        r.sent(t(1200), accept_all(&action));
        assert_eq!(idle_until(&r.next(t(1200))), Some(scan_at));
    }

    #[test]
    fn once_and_a_withdrawal_of_everything_list_at_once() {
        let start = |settings| past_the_ledger(settings, BIG_ZONE, names(&["web"]), None);
        let mut once = start(WriterSettings {
            once: true,
            ..with_ledger(Routing::Multivalue)
        });
        assert_eq!(once.next(t(0)), Action::ReadZone);
        let mut leaving = start(with_ledger(Routing::Multivalue));
        assert!(matches!(leaving.next(t(0)), Action::Idle { .. }));
        leaving.shutdown(true);
        assert_eq!(
            leaving.next(t(0)),
            Action::ReadZone,
            "every record set of ours goes, the ones it has not seen yet too"
        );
        let mut staying = start(with_ledger(Routing::Multivalue));
        staying.next(t(0));
        staying.shutdown(false);
        assert_eq!(
            staying.next(t(0)),
            idle(None, true),
            "a shutdown that keeps the records does not list the zone"
        );
    }

    #[test]
    fn an_owner_id_that_cannot_be_dns_labels_lists_the_zone_as_without_a_ledger() {
        let mut r = reconciler(WriterSettings {
            owner_id: Some("my host".into()),
            ..with_ledger(Routing::Multivalue)
        });
        r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
        r.desired_records(t(0), records(&["web"]));
        assert_eq!(r.next(t(0)), Action::ReadZone);
    }

    fn facts<'a>(
        held: &'a BTreeMap<String, NameRecords>,
        ledger_read: Option<&'a Option<RecordSet>>,
        zone_size: usize,
    ) -> Facts<'a> {
        Facts {
            ledger: Some(fqdn(LEDGER)),
            ledger_read,
            zone_size,
            names: held,
            zone_name: ZONE,
            desired: BTreeSet::from([fqdn("web")]),
            routing: Routing::Multivalue,
            quota: Quota::DOCUMENTED,
            once: false,
            shutting_down: false,
            withdrawing: false,
        }
    }

    #[test]
    fn in_multivalue_a_big_zone_reads_the_ledger_then_publishes_once() {
        let held = BTreeMap::new();
        let mut s = StartUp::default();
        let read_ledger = Some(Step::Do(read_ledgers(ZONE)));
        assert_eq!(s.next(&facts(&held, None, BIG_ZONE)), read_ledger);
        let ledger = Some(ledger_listing(&["web", "old"]));
        assert_eq!(
            s.next(&facts(&held, Some(&ledger), BIG_ZONE)),
            Some(Step::Publish)
        );
        assert!(matches!(
            s.next(&facts(&held, Some(&ledger), BIG_ZONE)),
            Some(Step::Do(Action::ReadNames { .. }))
        ));
        s.flush_failed();
        assert_eq!(
            s.next(&facts(&held, Some(&ledger), BIG_ZONE)),
            Some(Step::Publish),
            "a first publish that did not get through goes out again"
        );
    }

    #[test]
    fn a_zone_of_one_page_and_a_start_without_a_ledger_list_the_zone() {
        let held = BTreeMap::new();
        let mut s = StartUp::default();
        assert_eq!(
            s.next(&facts(&held, None, 10)),
            Some(Step::Do(Action::ReadZone))
        );
        let no_ledger = Facts {
            ledger: None,
            ..facts(&held, None, BIG_ZONE)
        };
        assert_eq!(s.next(&no_ledger), Some(Step::Do(Action::ReadZone)));
    }

    #[test]
    fn the_names_a_ledger_lists_are_read_unless_published_already() {
        let held = BTreeMap::from([(fqdn("web"), NameRecords::default())]);
        let mut s = StartUp::default();
        let only_web = Some(ledger_listing(&["web"]));
        assert_eq!(
            s.next(&facts(&held, Some(&only_web), BIG_ZONE)),
            Some(Step::Publish)
        );
        assert_eq!(
            s.next(&facts(&held, Some(&only_web), BIG_ZONE)),
            Some(Step::Loaded)
        );
        let with_old = Some(ledger_listing(&["web", "old"]));
        let read_old = Step::Do(Action::ReadNames {
            names: BTreeSet::from([fqdn("old")]),
            purpose: ReadPurpose::Owned,
        });
        assert_eq!(
            s.next(&facts(&held, Some(&with_old), BIG_ZONE)),
            Some(read_old)
        );
    }

    /// A first start without a ledger (an upgrade from a version without one) in a zone of 100 members
    /// of 20 names, 2,000 record sets: its listing is spread over the time the members' listings take (100
    /// × 7 pages at 4 per second, 175 s), not over the zone's size read as instances (2,000 record sets
    /// over its 5 names were 400 instances, and put the listing 923 s away).
    #[test]
    fn a_start_without_a_ledger_spreads_its_listing_over_the_members_counted() {
        let mut r = Reconciler::new(
            zone_of(Some(2_000)),
            with_ledger(Routing::Multivalue),
            Stats::new(),
            7,
        );
        r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
        r.desired_records(t(0), records(&["s1", "s2", "s3", "s4", "s5"]));
        assert_eq!(r.next(t(0)), read_ledgers(ZONE));
        r.outcome(t(0), Outcome::LedgersRead(Ok(fleet_of(100))));
        let first = r.next(t(0));
        r.sent(t(0), accept_all(&first));
        assert_eq!(r.fleet_estimate(), 100);
        let at = idle_until(&r.next(t(0))).expect("the listing put off");
        assert!(
            at.duration_since(t(0)) <= Duration::from_secs(175),
            "{:?}",
            at.duration_since(t(0))
        );
        assert_eq!(r.next(at), Action::ReadZone);
    }

    #[test]
    fn a_listing_put_off_draws_its_time_once_and_comes_at_it() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        let held = BTreeMap::new();
        let no_ledger_yet = None;
        let start = facts(&held, Some(&no_ledger_yet), BIG_ZONE);
        let mut s = StartUp::default();
        assert_eq!(s.next(&start), Some(Step::Publish));
        assert_eq!(
            s.next(&start),
            Some(Step::Scan {
                ledger: fqdn(LEDGER)
            })
        );
        assert_eq!(s.scan(t(0), LEDGER, &start, 100, &mut rng), None, "put off");
        let at = s.scan_at().expect("a time drawn");
        let before = t(0) + at.duration_since(t(0)) / 2;
        assert_eq!(s.scan(before, LEDGER, &start, 100, &mut rng), None);
        assert_eq!(s.scan_at(), Some(at), "drawn once");
        assert_eq!(
            s.scan(at, LEDGER, &start, 100, &mut rng),
            Some(Action::ReadZone)
        );
        s.loaded();
        assert_eq!(s.scan_at(), None);
    }
}
