//! What the writer's unit tests share: a fake clock (every instant is `t(ms)` after a fixed start, and
//! nothing sleeps), the settings and reconcilers they start from, the record sets they find in a zone, and
//! the outcomes of the actions they perform.

use std::sync::OnceLock;

// What the tests of the writer's machines use, so that each says `use crate::writer::testkit::*;`.
#[allow(unused_imports)]
pub(crate) use std::collections::{BTreeMap, BTreeSet};
#[allow(unused_imports)]
pub(crate) use std::net::Ipv4Addr;
#[allow(unused_imports)]
pub(crate) use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub(crate) use crate::backoff::RetryPolicy;
#[allow(unused_imports)]
pub(crate) use crate::route53::batch::BatchLimits;
#[allow(unused_imports)]
pub(crate) use crate::route53::rate::Quota;
#[allow(unused_imports)]
pub(crate) use crate::route53::send::{FlushOutcome, Rejection};
#[allow(unused_imports)]
pub(crate) use crate::route53::{
    Change, ChangeAction, HostedZone, Meaning, RecordSet, Route53Error, Routing,
};
#[allow(unused_imports)]
pub(crate) use crate::stats::Stats;
#[allow(unused_imports)]
pub(crate) use crate::writer::reconcile::{
    idle, Action, Outcome, ReadPurpose, Reconciler, WriteReport, WriterSettings,
    SAME_CONFLICTS_FOR_GOOD, SHUTDOWN_MAX_RETRY_DELAY, VERIFY_NAMES_PER_STEP,
};

pub(crate) fn t(ms: u64) -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now) + Duration::from_millis(ms)
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) const ZONE: &str = "service.discovery.";

pub(crate) fn settings(routing: Routing) -> WriterSettings {
    WriterSettings {
        routing,
        ttl: 10,
        weight: 50,
        owner_id: None,
        debounce: ms(200),
        max_delay: ms(1000),
        max_requests_per_second: 5,
        quota: Quota::DOCUMENTED,
        verify_interval: Duration::from_secs(900),
        ledger: false,
        dry_run: false,
        once: false,
        retry: RetryPolicy::default(),
        limits: BatchLimits::ROUTE53,
        watches_end: false,
    }
}

pub(crate) fn reconciler(settings: WriterSettings) -> Reconciler {
    Reconciler::new(zone_of(None), settings, Stats::new(), 7)
}

pub(crate) fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub(crate) fn fqdn(name: &str) -> String {
    format!("{name}.{ZONE}")
}

/// `owner`'s multivalue record set of `name` (one label under the zone) holding the IP `owner`.
pub(crate) fn record(name: &str, owner: &str) -> RecordSet {
    RecordSet::a(fqdn(name), owner).multivalue(owner)
}

pub(crate) fn ours(name: &str) -> RecordSet {
    record(name, "10.0.0.1")
}

pub(crate) fn accept_all(action: &Action) -> FlushOutcome {
    let Action::Send { batches } = action else {
        panic!("expected a send, got {action:?}");
    };
    FlushOutcome {
        accepted: batches.concat(),
        requests: batches.len(),
        ..FlushOutcome::default()
    }
}

pub(crate) fn failure(action: &Action, error: Route53Error) -> FlushOutcome {
    let Action::Send { batches } = action else {
        panic!("expected a send, got {action:?}");
    };
    let uncertain = if error.meaning() == Meaning::MaybeApplied {
        batches
            .concat()
            .iter()
            .map(|c| c.record_set.name.clone())
            .collect()
    } else {
        BTreeSet::new()
    };
    FlushOutcome {
        error: Some(error),
        uncertain,
        requests: 1,
        ..FlushOutcome::default()
    }
}

/// (action, name) of every change of a send, in order.
pub(crate) fn sent(action: &Action) -> Vec<(ChangeAction, String)> {
    let Action::Send { batches } = action else {
        panic!("expected a send, got {action:?}");
    };
    batches
        .concat()
        .iter()
        .map(|c| {
            (
                c.action,
                c.record_set
                    .name
                    .trim_end_matches(ZONE)
                    .trim_end_matches('.')
                    .to_string(),
            )
        })
        .collect()
}

pub(crate) fn idle_until(action: &Action) -> Option<Instant> {
    match action {
        Action::Idle { until, .. } => *until,
        other => panic!("expected idle, got {other:?}"),
    }
}

/// A reconciler at `t(0)` that knows its IP, has read a zone holding `zone` and published `desired`.
pub(crate) fn started(
    settings: WriterSettings,
    desired: &[&str],
    zone: Vec<RecordSet>,
) -> Reconciler {
    let mut r = reconciler(settings);
    r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
    r.desired_records(t(0), records(desired));
    assert_eq!(r.next(t(0)), Action::ReadZone);
    r.zone_read(t(0), Ok(zone));
    let action = r.next(t(0));
    if let Action::Send { .. } = action {
        r.sent(t(0), accept_all(&action));
    }
    assert!(matches!(r.next(t(0)), Action::Idle { settled: true, .. }));
    r
}

pub(crate) const LEDGER: &str = "10.0.0.1._owners._route53-registrator";

pub(crate) fn with_ledger(routing: Routing) -> WriterSettings {
    WriterSettings {
        ledger: true,
        ..settings(routing)
    }
}

/// The ledger of the instance the tests run (10.0.0.1, no metadata service) listing `list`, as it writes it.
pub(crate) fn ledger_listing(list: &[&str]) -> RecordSet {
    ledger_of("10.0.0.1", list)
}

/// The ledger of the instance `owner` (its IP, no metadata service) listing `list`, as it writes it.
pub(crate) fn ledger_of(owner: &str, list: &[&str]) -> RecordSet {
    let listed = list.iter().map(|n| fqdn(n)).collect();
    let member = crate::writer::ledger::Member {
        owner_id: owner.into(),
        ip: owner.parse().expect("an IP"),
        identity: None,
    };
    let name = crate::writer::ledger::ledger_name(owner, ZONE).expect("a ledger's name");
    crate::writer::ledger::ledger_record(&name, ZONE, Some(&member), &listed)
}

/// `n` ledgers of other instances, as a verification reads them to count the fleet.
pub(crate) fn fleet_of(n: usize) -> Vec<RecordSet> {
    (0..n)
        .map(|k| ledger_of(&format!("10.8.{}.{}", k / 250, k % 250 + 1), &["web"]))
        .collect()
}

/// The next send of `r`, from `at` on (past a debounce), is the deletion of `ledger` alone (a gone owner's):
/// it is accepted, and the time it went out returned.
pub(crate) fn ledger_deleted_next(r: &mut Reconciler, at: Instant, ledger: &RecordSet) -> Instant {
    let later = idle_until(&r.next(at)).unwrap_or(at);
    let delete = r.next(later);
    let Action::Send { batches } = &delete else {
        panic!("expected the ledger's deletion, got {delete:?}")
    };
    assert_eq!(
        batches.concat(),
        vec![Change {
            action: ChangeAction::Delete,
            record_set: ledger.clone()
        }]
    );
    r.sent(later, accept_all(&delete));
    later
}

/// The clean-up's verdict that `owners` are gone, given without their ledgers.
pub(crate) fn gone(owners: &[&str]) -> BTreeMap<String, Option<RecordSet>> {
    owners.iter().map(|o| (o.to_string(), None)).collect()
}

/// A hosted zone of `record_sets` record sets (as GetHostedZone described it; `None`: not said).
pub(crate) fn zone_of(record_sets: Option<usize>) -> HostedZone {
    HostedZone {
        id: "Z1".into(),
        name: ZONE.into(),
        private: true,
        record_sets,
    }
}

/// Record sets in a zone of 100 owners of 20 names: more than one page of a listing, so that a ledger
/// pays.
pub(crate) const BIG_ZONE: usize = 2_000;

/// The record sets of such a zone's other owners (300 of them here, in one name), for a listing.
pub(crate) fn others() -> Vec<RecordSet> {
    (0..300)
        .map(|k| record("other", &format!("10.9.{}.{}", k / 250, k % 250 + 1)))
        .collect()
}

/// A multivalue reconciler with a ledger, in a zone of `record_sets`, that has read its ledger `ledger`
/// and published `desired` (with the ledger, when there is one, listing them too) at `t(0)`: what it does
/// next is the test's.
pub(crate) fn past_the_ledger(
    settings: WriterSettings,
    record_sets: usize,
    desired: BTreeSet<String>,
    ledger: Option<RecordSet>,
) -> Reconciler {
    let record_sets = Some(record_sets);
    let mut r = Reconciler::new(zone_of(record_sets), settings, Stats::new(), 7);
    r.host_ip(t(0), Ipv4Addr::new(10, 0, 0, 1));
    r.desired_records(t(0), crate::desired::DesiredRecords::addresses(desired));
    assert_eq!(r.next(t(0)), crate::writer::startup::read_ledgers(ZONE));
    r.outcome(t(0), Outcome::LedgersRead(Ok(ledger.into_iter().collect())));
    let first = r.next(t(0));
    r.sent(t(0), accept_all(&first));
    r
}

/// [`past_the_ledger`] with the usual set-up: multivalue, a zone of [`BIG_ZONE`], `web` desired.
pub(crate) fn web_past_the_ledger(ledger: Option<RecordSet>) -> Reconciler {
    past_the_ledger(
        with_ledger(Routing::Multivalue),
        BIG_ZONE,
        names(&["web"]),
        ledger,
    )
}

/// The names the ledger lists after `action`'s ledger change (`None`: no ledger change in it).
pub(crate) fn ledger_written(action: &Action) -> Option<Vec<String>> {
    let Action::Send { batches } = action else {
        panic!("expected a send, got {action:?}");
    };
    let change = batches
        .concat()
        .into_iter()
        .find(|c| c.record_set.name == fqdn(LEDGER))?;
    let listed = crate::writer::ledger::listed_names(&change.record_set, ZONE);
    Some(match change.action {
        ChangeAction::Delete => Vec::new(),
        _ => listed
            .iter()
            .map(|n| n.trim_end_matches(ZONE).trim_end_matches('.').to_string())
            .collect(),
    })
}

pub(crate) fn read_back(names: &[&str], zone: &[RecordSet]) -> BTreeMap<String, Vec<RecordSet>> {
    names
        .iter()
        .map(|n| {
            let held = zone.iter().filter(|rs| rs.name == fqdn(n)).cloned();
            (fqdn(n), held.collect())
        })
        .collect()
}

/// The record spec of this instance in the tests of the plan, ownership and the zone as known: owner and IP
/// `10.0.0.1` in `service.discovery.`, TTL 10, weight 50.
pub(crate) fn spec(routing: Routing) -> crate::writer::record::RecordSpec {
    crate::writer::record::RecordSpec {
        zone_name: ZONE.into(),
        owner_id: "10.0.0.1".into(),
        former_owner_ids: BTreeSet::new(),
        ip: Ipv4Addr::new(10, 0, 0, 1),
        routing,
        ttl: 10,
        weight: 50,
    }
}

/// `rs`, changed by `f`.
pub(crate) fn with(rs: RecordSet, f: impl FnOnce(&mut RecordSet)) -> RecordSet {
    let mut rs = rs;
    f(&mut rs);
    rs
}

/// What a name's published containers want of this instance: its address.
pub(crate) fn host_address() -> BTreeSet<crate::desired::DesiredValue> {
    BTreeSet::from([crate::desired::DesiredValue::HostAddress])
}

/// The one record set `spec` holds under `name` to publish its address: an A record set of `spec.ip`.
pub(crate) fn address_record(spec: &crate::writer::record::RecordSpec, name: &str) -> RecordSet {
    let mut sets = crate::writer::record::desired_record_sets(spec, name, &host_address());
    assert_eq!(sets.len(), 1, "one A record set: {sets:?}");
    sets.remove(0)
}

/// The records that publish this instance's address under each of `list`.
pub(crate) fn records(list: &[&str]) -> crate::desired::DesiredRecords {
    crate::desired::DesiredRecords::addresses(list.iter().copied())
}

/// `list` as owned strings.
pub(crate) fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}
