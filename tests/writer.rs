//! The writer against the Route53 emulator: in-process behind the `Route53Api` trait, and over HTTP through
//! the AWS SDK where the wire format matters (the two shapes of `InvalidChangeBatch`, a stalled answer).
//! Every test checks the zone's record sets and the emulator's request log: what was really sent.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::future::ready;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Addr;
use aws_sdk_route53::config::timeout::TimeoutConfig;
use futures_util::future::FutureExt;
use proptest::prelude::*;
use route53_emulator::{spawn_server, Emulator, Fault, LoggedRequest, Operation, ServerHandle};
use route53_registrator::aws::sdk_config;
use route53_registrator::backoff::RetryPolicy;
use route53_registrator::desired::DesiredRecords;
use route53_registrator::host::{HostIdentity, HostIp, Identity};
use route53_registrator::route53::batch::BatchLimits;
use route53_registrator::route53::is_conflict;
use route53_registrator::route53::limited::{route53_limiter, RateLimited};
use route53_registrator::route53::rate::{Quota, FLEET_SHARE_HEADROOM};
use route53_registrator::route53::read::{count_under, read_all, resolve_zone};
use route53_registrator::route53::sdk::SdkRoute53;
use route53_registrator::route53::{
    Change, ChangeAction, HostedZone, RecordSet, Route53Api, Route53Error, Routing,
};
use route53_registrator::stats::Stats;
use route53_registrator::testing::{emulator_sdk_config, fail, pass, wait_until, Double};
use route53_registrator::writer::actor::{Route53Writer, WriterSettings};
use route53_registrator::writer::ledger::{
    is_fleet_ledger, is_ledger, ledger_name, ledger_parent, ledger_record, listed_names, member_of,
    Member,
};
use route53_registrator::writer::{Settle, Shutdown, WriteReport};
use support::fast_writer_settings;

const IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DEADLINE: Duration = Duration::from_secs(20);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn names(list: &[&str]) -> DesiredRecords {
    DesiredRecords::addresses(list.iter().copied())
}

/// One zone in a fresh emulator, and a writer on it.
struct Setup {
    emu: Emulator,
    zone: HostedZone,
}

impl Setup {
    fn new() -> Self {
        let emu = Emulator::new();
        let zone = emu.create_zone("service.discovery", true);
        Setup { emu, zone }
    }

    /// A multivalue writer of [`IP`] that has published `list` and settled.
    async fn settled_writer(&self, list: &[&str]) -> Addr<Route53Writer> {
        let writer = self.writer(fast_writer_settings(Routing::Multivalue));
        writer.do_send(HostIp(IP));
        writer.do_send(names(list));
        settle(&writer).await;
        writer
    }

    fn writer(&self, settings: WriterSettings) -> Addr<Route53Writer> {
        self.writer_over(Arc::new(self.emu.clone()), settings)
    }

    fn writer_over(
        &self,
        api: Arc<dyn Route53Api>,
        settings: WriterSettings,
    ) -> Addr<Route53Writer> {
        let limited = RateLimited::new(
            api,
            route53_limiter(settings.max_requests_per_second, settings.quota),
            Stats::new(),
        );
        Route53Writer::new(Arc::new(limited), self.zone.clone(), settings, Stats::new())
            .start_supervised()
    }

    fn fqdn(&self, name: &str) -> String {
        format!("{name}.{}", self.zone.name)
    }

    fn records(&self) -> Vec<RecordSet> {
        self.emu
            .record_sets(&self.zone.id)
            .into_iter()
            .filter(|rs| rs.rtype == "A")
            .collect()
    }

    /// The A record sets of `owner`, as (first label, values, ttl).
    fn owned(&self, owner: &str) -> Vec<(String, Vec<String>, i64)> {
        self.records()
            .into_iter()
            .filter(|rs| rs.set_identifier.as_deref() == Some(owner))
            .map(|rs| {
                (
                    rs.name.split('.').next().unwrap().to_string(),
                    rs.values,
                    rs.ttl,
                )
            })
            .collect()
    }

    fn owned_names(&self, owner: &str) -> Vec<String> {
        self.owned(owner)
            .into_iter()
            .map(|(name, _, _)| name)
            .collect()
    }

    /// ListResourceRecordSets requests that reached the emulator.
    fn lists(&self) -> usize {
        support::list_requests(&self.emu)
    }

    fn change_requests(&self) -> Vec<LoggedRequest> {
        self.emu
            .requests()
            .into_iter()
            .filter(|r| r.operation == Operation::ChangeResourceRecordSets)
            .collect()
    }

    /// ChangeResourceRecordSets requests Route53 answered with a 400 (throttled, busy or refused).
    fn refused_changes(&self) -> usize {
        self.change_requests()
            .iter()
            .filter(|r| r.status == 400)
            .count()
    }

    /// Puts a record set in the zone by hand (another instance, an operator), unlogged.
    fn put(&self, rs: RecordSet) {
        self.by_hand(ChangeAction::Create, rs);
    }

    /// Deletes a record set from the zone by hand (drift), unlogged.
    fn remove(&self, rs: RecordSet) {
        self.by_hand(ChangeAction::Delete, rs);
    }

    fn by_hand(&self, action: ChangeAction, record_set: RecordSet) {
        self.emu
            .apply_directly(&self.zone.id, &[Change { action, record_set }])
            .unwrap();
    }

    fn multivalue(&self, name: &str, owner: &str, ip: &str) -> RecordSet {
        RecordSet::a(self.fqdn(name), ip).multivalue(owner)
    }

    fn weighted(&self, name: &str, owner: &str, ip: &str, ttl: i64) -> RecordSet {
        RecordSet::a(self.fqdn(name), ip)
            .weighted(owner, 50)
            .ttl(ttl)
    }

    fn plain(&self, name: &str, ip: &str) -> RecordSet {
        RecordSet::a(self.fqdn(name), ip)
    }
}

/// The fleet's size is the number of ledgers, counted from their parent on in Route53's order (a name's
/// descendants right after it), a page of 300 at a time, whatever record sets sort before and after them; a
/// page that ends with the last of them is the last page read (the next one's start is past them).
#[actix_rt::test]
async fn the_fleets_ledgers_are_counted_a_page_per_300() {
    // (ledgers, pages read)
    for (ledgers, pages) in [(650, 3), (600, 2), (300, 1), (299, 1)] {
        let s = Setup::new();
        let zone = s.zone.name.clone();
        let web: BTreeSet<String> = [s.fqdn("web")].into();
        for k in 0..ledgers {
            let owner = format!("10.1.{}.{}", k / 250, k % 250 + 1);
            let name = ledger_name(&owner, &zone).expect("an IP stands as labels");
            s.put(ledger_record(&name, &zone, None, &web));
        }
        // Before the ledgers (the parent's parent), right after them (a sibling of the parent), and elsewhere.
        s.put(s.plain("_route53-registrator", "10.2.0.1"));
        s.put(s.plain("x._route53-registrator", "10.2.0.2"));
        s.put(s.multivalue("web", "10.1.0.1", "10.1.0.1"));
        s.put(s.plain("aaa", "10.2.0.3"));
        // A page's worth after them: a count that did not stop where the ledgers end would read it.
        for k in 0..300 {
            s.put(s.plain(&format!("w{k}"), "10.2.0.4"));
        }

        let parent = ledger_parent(&zone);
        let ledger = |rs: &RecordSet| is_fleet_ledger(rs, &parent);
        let counted = count_under(&s.emu, &s.zone.id, &parent, ledger)
            .await
            .unwrap();
        assert_eq!(counted, ledgers);
        assert_eq!(
            s.lists(),
            pages,
            "{ledgers} ledgers: {pages} pages, no more"
        );
    }
}

async fn settle(writer: &Addr<Route53Writer>) -> WriteReport {
    tokio::time::timeout(DEADLINE, writer.send(Settle))
        .await
        .expect("the writer settles in time")
        .expect("mailbox")
}

async fn shutdown(writer: &Addr<Route53Writer>, deregister: bool) -> WriteReport {
    tokio::time::timeout(DEADLINE, writer.send(Shutdown { deregister }))
        .await
        .expect("the writer shuts down in time")
        .expect("mailbox")
}

/// Lets time pass in which nothing may happen (the only way to observe an absence).
async fn quiet_period() {
    actix_rt::time::sleep(ms(300)).await;
}

fn sdk_client(endpoint: &str, operation_timeout: Duration) -> SdkRoute53 {
    let config = emulator_sdk_config(endpoint)
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(operation_timeout)
                .build(),
        )
        .build();
    SdkRoute53::new(aws_sdk_route53::Client::from_conf(config))
}

/// How a writer reaches the emulator: in-process behind the trait, or over HTTP through the SDK with
/// `InvalidChangeBatch` in the error-response shape or in the legacy one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    InProcess,
    Http,
    HttpLegacy,
}

impl Setup {
    /// A writer over `transport`, and the HTTP server it talks to, if any (to keep while the test runs).
    fn writer_by(
        &self,
        transport: Transport,
        settings: WriterSettings,
    ) -> (Addr<Route53Writer>, Option<ServerHandle>) {
        if transport == Transport::InProcess {
            return (self.writer(settings), None);
        }
        self.emu
            .set_legacy_invalid_change_batch(transport == Transport::HttpLegacy);
        let server = spawn_server(self.emu.clone(), 0).unwrap();
        let client = sdk_client(&server.endpoint(), Duration::from_secs(5));
        (self.writer_over(Arc::new(client), settings), Some(server))
    }
}

#[actix_rt::test]
async fn publishes_and_withdraws() {
    let s = Setup::new();
    let writer = s.writer(fast_writer_settings(Routing::Multivalue));
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["web"]));
    let report = settle(&writer).await;
    assert_eq!(
        report,
        WriteReport {
            applied: 1,
            rejected: 0
        }
    );
    let web = s
        .records()
        .into_iter()
        .find(|rs| rs.name == s.fqdn("web"))
        .expect("web published");
    assert_eq!(web, s.multivalue("web", "10.0.0.1", "10.0.0.1"));

    writer.do_send(names(&[]));
    settle(&writer).await;
    assert_eq!(s.owned_names("10.0.0.1"), Vec::<String>::new());
}

#[actix_rt::test]
async fn nothing_is_read_or_written_before_the_ip_and_the_names_are_known() {
    let s = Setup::new();
    let writer = s.writer(fast_writer_settings(Routing::Multivalue));
    writer.do_send(names(&["web"]));
    quiet_period().await;
    assert_eq!(s.emu.requests(), vec![], "no IP yet");
    writer.do_send(HostIp(IP));
    settle(&writer).await;
    assert_eq!(s.owned_names("10.0.0.1"), vec!["web"]);
}

#[actix_rt::test]
async fn withdrawing_one_name_leaves_the_others() {
    let s = Setup::new();
    let writer = s.settled_writer(&["api", "db", "web"]).await;
    assert_eq!(s.owned_names("10.0.0.1"), vec!["api", "db", "web"]);
    s.emu.clear_requests();

    writer.do_send(names(&["api", "web"]));
    settle(&writer).await;
    assert_eq!(s.owned_names("10.0.0.1"), vec!["api", "web"]);
    let sent = s.change_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].changes.len(), 1);
    assert_eq!(sent[0].changes[0].action, ChangeAction::Delete);
    assert_eq!(sent[0].changes[0].record_set.name, s.fqdn("db"));
}

#[actix_rt::test]
async fn another_owners_record_set_under_the_same_name_survives() {
    let s = Setup::new();
    let theirs = s.multivalue("web", "10.0.0.2", "10.0.0.2");
    s.put(theirs.clone());
    let writer = s.settled_writer(&["web"]).await;
    assert_eq!(s.records().len(), 2, "both owners under web");

    writer.do_send(names(&[]));
    settle(&writer).await;
    assert_eq!(s.records(), vec![theirs]);
    for request in s.change_requests() {
        for change in request.changes {
            assert_eq!(
                change.record_set.set_identifier.as_deref(),
                Some("10.0.0.1"),
                "only ours touched"
            );
        }
    }
}

#[actix_rt::test]
async fn an_ip_change_replaces_the_record_set_in_one_batch() {
    let s = Setup::new();
    let writer = s.writer(WriterSettings {
        owner_id: Some("i-0abc".into()),
        ..fast_writer_settings(Routing::Multivalue)
    });
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["web"]));
    settle(&writer).await;
    s.emu.clear_requests();

    writer.do_send(HostIp(Ipv4Addr::new(10, 0, 0, 7)));
    settle(&writer).await;
    assert_eq!(
        s.owned("i-0abc"),
        vec![("web".to_string(), vec!["10.0.0.7".to_string()], 10)]
    );
    let sent = s.change_requests();
    assert_eq!(sent.len(), 1, "one atomic batch");
    let actions: Vec<ChangeAction> = sent[0].changes.iter().map(|c| c.action).collect();
    assert_eq!(actions, vec![ChangeAction::Delete, ChangeAction::Create]);
}

/// Route53 refuses a weighted record set whose TTL differs from its group's. Another owner creates the group
/// at TTL 60 after this writer read the zone: its CREATE at the configured TTL 5 is refused, the name is read
/// again, and the CREATE at the group's TTL goes through; nothing counts as rejected, and the withdrawal later
/// deletes the record set as it is.
#[actix_rt::test]
async fn a_weighted_writer_joins_a_group_created_after_its_read_at_the_groups_ttl() {
    let s = Setup::new();
    let writer = s.writer(WriterSettings {
        ttl: 5,
        ..fast_writer_settings(Routing::Weighted)
    });
    writer.do_send(HostIp(IP));
    writer.do_send(names(&[]));
    settle(&writer).await;

    let theirs = s.weighted("web", "10.0.0.2", "10.0.0.2", 60);
    s.put(theirs.clone());
    writer.do_send(names(&["web"]));
    let report = settle(&writer).await;
    assert_eq!(report.rejected, 0, "a stale read is not a rejected change");
    assert_eq!(
        s.owned("10.0.0.1"),
        vec![("web".to_string(), vec!["10.0.0.1".to_string()], 60)]
    );
    let creates: Vec<(i64, u16)> = s
        .change_requests()
        .iter()
        .filter(|r| r.changes.iter().any(|c| c.action == ChangeAction::Create))
        .map(|r| (r.changes[0].record_set.ttl, r.status))
        .collect();
    assert_eq!(
        creates,
        vec![(5, 400), (60, 200)],
        "refused as configured, accepted at the group's TTL"
    );

    writer.do_send(names(&[]));
    settle(&writer).await;
    assert_eq!(s.records(), vec![theirs]);
}

#[actix_rt::test]
async fn a_burst_of_changes_goes_out_as_one_request() {
    let s = Setup::new();
    let writer = s.settled_writer(&[]).await;
    s.emu.clear_requests();

    let mut desired = BTreeSet::new();
    for i in 0..20 {
        desired.insert(format!("svc{i}"));
        writer.do_send(DesiredRecords::addresses(desired.clone()));
    }
    // A name that comes and goes within the window is never sent.
    let mut with_flicker = desired.clone();
    with_flicker.insert("flicker".into());
    writer.do_send(DesiredRecords::addresses(with_flicker));
    writer.do_send(DesiredRecords::addresses(desired.clone()));
    let report = settle(&writer).await;
    assert_eq!(report.applied, 20);
    let sent = s.change_requests();
    assert_eq!(sent.len(), 1, "coalesced: {sent:?}");
    assert_eq!(sent[0].changes.len(), 20);
    assert!(sent[0]
        .changes
        .iter()
        .all(|c| c.action == ChangeAction::Create));
    assert_eq!(s.owned_names("10.0.0.1").len(), 20);
}

#[actix_rt::test]
async fn no_calls_while_nothing_changes() {
    let s = Setup::new();
    let writer = s.settled_writer(&["web"]).await;
    s.emu.clear_requests();

    writer.do_send(HostIp(IP));
    writer.do_send(names(&["web"]));
    settle(&writer).await;
    quiet_period().await;
    settle(&writer).await;
    assert_eq!(s.emu.requests(), vec![]);
}

#[actix_rt::test]
async fn a_record_set_of_ours_left_from_before_is_withdrawn_at_start() {
    let s = Setup::new();
    s.put(s.multivalue("old", "10.0.0.1", "10.0.0.1"));
    s.put(s.multivalue("web", "10.0.0.1", "10.0.0.1"));
    s.put(s.multivalue("old", "10.0.0.2", "10.0.0.2"));
    let _writer = s.settled_writer(&["web"]).await;
    assert_eq!(s.owned_names("10.0.0.1"), vec!["web"]);
    assert_eq!(s.owned_names("10.0.0.2"), vec!["old"]);
    let sent = s.change_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].changes,
        vec![Change {
            action: ChangeAction::Delete,
            record_set: s.multivalue("old", "10.0.0.1", "10.0.0.1")
        }]
    );
}

#[actix_rt::test]
async fn faults_are_retried_until_every_change_is_applied() {
    let s = Setup::new();
    let writer = s.settled_writer(&[]).await;

    let faults = [
        Fault::Status(503),
        Fault::Status(500),
        Fault::Reset,
        Fault::Stall(ms(50)),
    ];
    let mut desired = Vec::new();
    for (i, fault) in faults.iter().enumerate() {
        s.emu.fail_next(2, *fault);
        desired.push(format!("f{i}"));
        writer.do_send(DesiredRecords::addresses(desired.iter().cloned()));
        settle(&writer).await;
        assert_eq!(s.owned_names("10.0.0.1"), desired, "after {fault:?}");
    }
    // A 5xx or a reset may have been applied: the writer reads the name before it retries, so the second
    // fault of each pair may hit that read instead of the change.
    let failed = s.emu.requests().iter().filter(|r| r.status != 200).count();
    assert_eq!(failed, 6, "two each of 503, 500 and reset");
}

#[actix_rt::test]
async fn throttling_is_retried_and_nothing_is_lost() {
    let s = Setup::new();
    let writer = s.settled_writer(&[]).await;

    // Below the writer's own pace (one change request per 200 ms `max_delay`), so the throttle is hit.
    s.emu.set_throttle(Some(2.0));
    let mut desired = BTreeSet::new();
    for i in 0..12 {
        desired.insert(format!("t{i:02}"));
        writer.do_send(DesiredRecords::addresses(desired.clone()));
        settle(&writer).await;
    }
    assert_eq!(s.owned_names("10.0.0.1").len(), 12);
    let throttled = s.refused_changes();
    assert!(
        throttled > 0,
        "the throttle was hit: {:?}",
        s.change_requests()
    );
}

#[actix_rt::test]
async fn prior_request_not_complete_is_retried() {
    let s = Setup::new();
    let writer = s.settled_writer(&["a"]).await;

    s.emu.set_prior_request_window(ms(500));
    writer.do_send(names(&["a", "b"]));
    settle(&writer).await;
    writer.do_send(names(&["a", "b", "c"]));
    settle(&writer).await;
    assert_eq!(s.owned_names("10.0.0.1"), vec!["a", "b", "c"]);
    let refused = s.refused_changes();
    assert!(
        refused > 0,
        "a change arrived inside the window: {:?}",
        s.change_requests()
    );
}

/// A plain A record set under `bad` makes our multivalue CREATE there invalid (one routing policy per name
/// and type). The name Route53's message is about is set apart, the rest is sent again in one request and
/// published, the bad one is logged and counted, the plain record set is untouched, and the refused change is
/// not sent again and again.
async fn check_isolation(transport: Transport) {
    let s = Setup::new();
    let (writer, _server) = s.writer_by(transport, fast_writer_settings(Routing::Multivalue));
    let plain = s.plain("bad", "192.0.2.1");
    s.put(plain.clone());
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["alpha", "bad", "beta", "gamma", "omega"]));
    let report = settle(&writer).await;
    assert_eq!(
        report,
        WriteReport {
            applied: 4,
            rejected: 1
        }
    );
    assert_eq!(
        s.owned_names("10.0.0.1"),
        vec!["alpha", "beta", "gamma", "omega"]
    );
    assert!(s.records().contains(&plain));
    let refused: Vec<LoggedRequest> = s
        .change_requests()
        .into_iter()
        .filter(|r| r.status == 400)
        .collect();
    assert_eq!(refused.len(), 1, "refused once: {refused:?}");
    let sizes: Vec<usize> = s
        .change_requests()
        .iter()
        .map(|r| r.changes.len())
        .collect();
    assert_eq!(
        sizes,
        vec![5, 4],
        "the rest in one request, without the bad change"
    );

    s.emu.clear_requests();
    writer.do_send(names(&["alpha", "bad", "beta", "gamma", "omega", "zeta"]));
    settle(&writer).await;
    quiet_period().await;
    let sent = s.change_requests();
    assert_eq!(
        sent.len(),
        1,
        "only the new name, not the refused one again: {sent:?}"
    );
    assert_eq!(sent[0].changes[0].record_set.name, s.fqdn("zeta"));
}

#[actix_rt::test]
async fn an_invalid_change_is_isolated_in_process() {
    check_isolation(Transport::InProcess).await;
}

#[actix_rt::test]
async fn an_invalid_change_is_isolated_over_http_in_the_error_response_shape() {
    check_isolation(Transport::Http).await;
}

#[actix_rt::test]
async fn an_invalid_change_is_isolated_over_http_in_the_legacy_shape() {
    check_isolation(Transport::HttpLegacy).await;
}

/// A change an IAM policy forbids is isolated like an invalid one: the other names of its batch are
/// published, the forbidden one is logged and counted once, and the writer neither restarts nor reads the
/// zone again and again.
#[actix_rt::test]
async fn a_forbidden_change_is_isolated_and_the_rest_published() {
    let s = Setup::new();
    // An IAM policy forbids every change to one name: a batch that touches it is refused as a whole.
    let forbidden = s.fqdn("secret");
    let api = Arc::new(Double::new(s.emu.clone()).refuse_changes(move |changes| {
        changes
            .iter()
            .any(|c| c.record_set.name == forbidden)
            .then(|| {
                Route53Error::AccessDenied("AccessDenied: not allowed to change this record".into())
            })
    }));
    let writer = s.writer_over(api, fast_writer_settings(Routing::Multivalue));
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["alpha", "beta", "secret"]));
    let report = settle(&writer).await;
    assert_eq!(
        report,
        WriteReport {
            applied: 2,
            rejected: 1
        }
    );
    assert_eq!(s.owned_names("10.0.0.1"), vec!["alpha", "beta"]);
    quiet_period().await;
    let lists = s.lists();
    assert_eq!(lists, 2, "the zone at start, the refused name once");
}

/// With the default owner id (the host IP), an IP change replaces every record set of the old owner id,
/// even when the replacing batch fails in a way that may have been applied: the re-read still counts the
/// old owner id's record sets as ours, so none is left behind.
#[actix_rt::test]
async fn an_ip_change_whose_batch_fails_ambiguously_leaves_no_old_record_set() {
    let s = Setup::new();
    let failures = Failures::new(
        0,
        Route53Error::Server {
            status: 503,
            message: "unavailable".into(),
        },
    );
    let writer = s.writer_over(
        failures.on_changes(s.emu.clone()),
        fast_writer_settings(Routing::Multivalue),
    );
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["api", "web"]));
    settle(&writer).await;
    assert_eq!(s.owned_names("10.0.0.1"), vec!["api", "web"]);

    failures.remaining.store(2, Ordering::SeqCst);
    writer.do_send(HostIp(Ipv4Addr::new(10, 0, 0, 2)));
    settle(&writer).await;
    assert_eq!(failures.failed.load(Ordering::SeqCst), 2);
    assert_eq!(s.owned_names("10.0.0.2"), vec!["api", "web"]);
    assert_eq!(
        s.owned_names("10.0.0.1"),
        Vec::<String>::new(),
        "nothing orphaned"
    );

    // A container that stops later is withdrawn too.
    writer.do_send(names(&["web"]));
    settle(&writer).await;
    assert_eq!(s.owned_names("10.0.0.2"), vec!["web"]);
    assert_eq!(s.records().len(), 1);
}

/// A request the client gave up on (timeout) may still be applied, as with the real service. Here the first
/// attempt stalls past the client's timeout and is applied when its stall ends, after the writer read the
/// name again and sent the CREATE once more: the late one is refused as existing, harmlessly. The writer
/// settles with nothing counted as rejected and nothing sent again.
#[actix_rt::test]
async fn a_timed_out_request_that_was_applied_anyway_is_reconciled() {
    let s = Setup::new();
    let server = spawn_server(s.emu.clone(), 0).unwrap();
    let writer = s.writer_over(
        Arc::new(sdk_client(&server.endpoint(), ms(300))),
        fast_writer_settings(Routing::Multivalue),
    );
    writer.do_send(HostIp(IP));
    writer.do_send(names(&[]));
    settle(&writer).await;

    s.emu.fail_next(1, Fault::Stall(ms(600)));
    writer.do_send(names(&["web"]));
    let report = settle(&writer).await;
    assert_eq!(s.owned_names("10.0.0.1"), vec!["web"]);
    assert_eq!(
        report.rejected, 0,
        "a change that is in place is not a rejected one"
    );
    wait_until(DEADLINE, "the late CREATE was refused as existing", || {
        s.change_requests().iter().any(|r| r.status == 400)
    })
    .await;
    let requests = s.emu.requests().len();
    quiet_period().await;
    assert_eq!(s.emu.requests().len(), requests, "nothing sent again");
    assert_eq!(s.owned_names("10.0.0.1"), vec!["web"]);
}

/// A writer over HTTP whose client gives up after 200 ms, with retries 400–800 ms after a failure: a request
/// stalled for 300 ms lands after the client gave up and before the writer tries again.
fn stalled_writer(s: &Setup, server: &route53_emulator::ServerHandle) -> Addr<Route53Writer> {
    s.writer_over(
        Arc::new(sdk_client(&server.endpoint(), ms(200))),
        WriterSettings {
            retry: RetryPolicy {
                min_delay: ms(400),
                max_delay: ms(400),
            },
            ..fast_writer_settings(Routing::Multivalue)
        },
    )
}

/// A change that timed out but was applied, when the writer tries again with what was desired before it:
/// the writer reads the name before its next diff and finds what the stalled change did. `before` is what is
/// published first, `stalled` what the stalled change publishes.
async fn a_change_that_timed_out_but_landed_is_undone(before: &[&str], stalled: &[&str]) {
    let s = Setup::new();
    let server = spawn_server(s.emu.clone(), 0).unwrap();
    let writer = stalled_writer(&s, &server);
    writer.do_send(HostIp(IP));
    writer.do_send(names(before));
    settle(&writer).await;
    assert_eq!(s.owned_names("10.0.0.1"), before);

    s.emu.fail_next(1, Fault::Stall(ms(300)));
    writer.do_send(names(stalled));
    wait_until(
        DEADLINE,
        &format!("the stalled change to {stalled:?} lands after the client gave up"),
        || s.owned_names("10.0.0.1") == stalled,
    )
    .await;
    writer.do_send(names(before));
    let report = settle(&writer).await;
    assert_eq!(
        s.owned_names("10.0.0.1"),
        before,
        "back to {before:?}: {:?}",
        s.emu.requests()
    );
    assert_eq!(report.rejected, 0);
}

/// A CREATE that timed out but was applied, for a name that is no longer desired when the writer tries
/// again: withdrawn (instead of left orphaned until a restart).
#[actix_rt::test]
async fn a_create_that_timed_out_but_landed_is_withdrawn_when_no_longer_desired() {
    a_change_that_timed_out_but_landed_is_undone(&[], &["web"]).await;
}

/// The mirror: a DELETE that timed out but was applied, for a name desired again when the writer tries
/// again: published again (instead of waiting for a verification).
#[actix_rt::test]
async fn a_delete_that_timed_out_but_landed_is_undone_when_desired_again() {
    a_change_that_timed_out_but_landed_is_undone(&["web"], &[]).await;
}

/// A hook that fails the next `remaining` calls with `error`, counting them in `failed`.
struct Failures {
    remaining: AtomicUsize,
    failed: AtomicUsize,
    error: Route53Error,
}

impl Failures {
    fn new(remaining: usize, error: Route53Error) -> Arc<Self> {
        Arc::new(Failures {
            remaining: AtomicUsize::new(remaining),
            failed: AtomicUsize::new(0),
            error,
        })
    }

    /// A fatal answer: the zone is gone (as far as this answer says).
    fn fatal(remaining: usize) -> Arc<Self> {
        Self::new(
            remaining,
            Route53Error::NoSuchHostedZone("No hosted zone found".into()),
        )
    }

    /// The emulator, with the next `remaining` ChangeResourceRecordSets failing.
    fn on_changes(self: &Arc<Self>, inner: Emulator) -> Arc<Double> {
        let failures = self.clone();
        Arc::new(Double::new(inner).before_change(move |_| ready(failures.next()).boxed()))
    }

    fn next(&self) -> Result<(), Route53Error> {
        if self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(self.error.clone());
        }
        Ok(())
    }
}

#[actix_rt::test]
async fn more_than_a_thousand_names_go_out_in_batches_within_limits() {
    let s = Setup::new();
    let writer = s.writer(fast_writer_settings(Routing::Multivalue));
    writer.do_send(HostIp(IP));
    let desired: BTreeSet<String> = (0..2100).map(|i| format!("svc{i:04}")).collect();
    writer.do_send(DesiredRecords::addresses(desired));
    let report = settle(&writer).await;
    assert_eq!(
        report,
        WriteReport {
            applied: 2100,
            rejected: 0
        }
    );
    assert_eq!(s.owned_names("10.0.0.1").len(), 2100);
    let sizes: Vec<usize> = s
        .change_requests()
        .iter()
        .map(|r| r.changes.len())
        .collect();
    assert_eq!(sizes, vec![1000, 1000, 100]);
    for request in s.change_requests() {
        let chars: usize = request
            .changes
            .iter()
            .flat_map(|c| &c.record_set.values)
            .map(String::len)
            .sum();
        assert!(chars <= 32_000);
        assert_eq!(request.status, 200);
    }
}

/// The ledger counts in the limits of the request it goes in (an UPSERT twice): 400 names, whose ledger
/// alone is 804 of the 1,000 records, go out in two requests that Route53 accepts. 600 names are more than
/// one ledger record can list: the ledger is deleted (a restart lists the zone) and every name is
/// published; back at 100 names, the ledger is written again.
#[actix_rt::test]
async fn the_ledger_stays_within_a_requests_limits_or_is_not_kept() {
    let s = Setup::new();
    let writer = s.writer(WriterSettings {
        ledger: true,
        ..fast_writer_settings(Routing::Multivalue)
    });
    writer.do_send(HostIp(IP));
    let ledger_fqdn = ledger_name(&IP.to_string(), &s.zone.name).unwrap();
    let ledger = || {
        s.emu
            .record_sets(&s.zone.id)
            .into_iter()
            .find(|rs| is_ledger(rs, &ledger_fqdn))
    };
    let numbered =
        |n: usize| -> BTreeSet<String> { (0..n).map(|i| format!("svc{i:04}")).collect() };

    for n in [400, 600, 100] {
        s.emu.clear_requests();
        writer.do_send(DesiredRecords::addresses(numbered(n)));
        let report = settle(&writer).await;
        assert_eq!(report.rejected, 0, "{n} names: {report:?}");
        assert_eq!(s.owned_names("10.0.0.1").len(), n);
        for request in s.change_requests() {
            assert_eq!(request.status, 200, "{n} names");
            let records: usize = request
                .changes
                .iter()
                .map(|c| {
                    c.record_set.values.len()
                        * if c.action == ChangeAction::Upsert {
                            2
                        } else {
                            1
                        }
                })
                .sum();
            assert!(records <= 1000, "{n} names: a request of {records} records");
        }
        match ledger() {
            Some(held) if n <= 498 => {
                assert_eq!(
                    held.values.len(),
                    n + 2,
                    "the marker, the member and {n} names"
                )
            }
            None if n > 498 => {}
            held => panic!("{n} names, ledger {held:?}"),
        }
    }
}

/// A ledger the version before wrote (names, no member) is brought up to date in place: the writer told
/// its identity writes its ledger again saying who it is, listing the same names, in one request.
#[actix_rt::test]
async fn a_ledger_of_the_version_before_is_brought_up_to_date_with_who_the_instance_is() {
    let s = Setup::new();
    let name = ledger_name(&IP.to_string(), &s.zone.name).unwrap();
    let web: BTreeSet<String> = [s.fqdn("web")].into();
    s.put(ledger_record(&name, &s.zone.name, None, &web));
    s.put(s.multivalue("web", "10.0.0.1", "10.0.0.1"));
    let identity = Identity {
        instance_id: "i-0abc123def4567890".into(),
        account: "123456789012".into(),
        region: "eu-west-1".into(),
    };
    let writer = s.writer(WriterSettings {
        ledger: true,
        ..fast_writer_settings(Routing::Multivalue)
    });
    writer.do_send(HostIdentity(identity.clone()));
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["web"]));
    settle(&writer).await;

    let ledger = s
        .emu
        .record_sets(&s.zone.id)
        .into_iter()
        .find(|rs| is_ledger(rs, &name))
        .expect("the ledger stays");
    assert_eq!(
        member_of(&ledger),
        Some(Member {
            owner_id: IP.to_string(),
            ip: IP,
            identity: Some(identity),
        })
    );
    assert_eq!(listed_names(&ledger, &s.zone.name), web);
    assert_eq!(
        s.change_requests().len(),
        1,
        "one UPSERT of the ledger, nothing else"
    );
}

#[actix_rt::test]
async fn requests_are_spaced_by_the_rate_limit() {
    let s = Setup::new();
    let limits = BatchLimits {
        max_records: 1,
        max_value_chars: 32_000,
    };
    let writer = s.writer(WriterSettings {
        max_requests_per_second: 10,
        limits,
        ..fast_writer_settings(Routing::Multivalue)
    });
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["a", "b", "c", "d"]));
    settle(&writer).await;
    let requests = s.emu.requests();
    assert_eq!(requests.len(), 5, "one read, four single-record batches");
    for pair in requests.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= ms(90),
            "{gap:?} between two requests at 10 per second"
        );
    }
}

#[actix_rt::test]
async fn a_dry_run_sends_no_change() {
    let s = Setup::new();
    s.put(s.multivalue("old", "10.0.0.1", "10.0.0.1"));
    let writer = s.writer(WriterSettings {
        dry_run: true,
        ..fast_writer_settings(Routing::Multivalue)
    });
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["web"]));
    let report = settle(&writer).await;
    assert_eq!(report.applied, 2, "CREATE web and DELETE old, logged");
    writer.do_send(names(&[]));
    settle(&writer).await;
    assert_eq!(s.change_requests(), vec![]);
    assert_eq!(
        s.owned_names("10.0.0.1"),
        vec!["old"],
        "the zone is untouched"
    );
}

#[actix_rt::test]
async fn shutdown_with_deregister_withdraws_everything_ours_and_nothing_else() {
    let s = Setup::new();
    let theirs = s.multivalue("web", "10.0.0.2", "10.0.0.2");
    let plain = s.plain("static", "192.0.2.1");
    s.put(theirs.clone());
    s.put(plain.clone());
    let writer = s.settled_writer(&["api", "web"]).await;
    assert_eq!(s.owned_names("10.0.0.1"), vec!["api", "web"]);

    let report = shutdown(&writer, true).await;
    assert_eq!(report.applied, 4);
    let mut left = s.records();
    left.sort();
    let mut want = vec![theirs, plain];
    want.sort();
    assert_eq!(left, want, "only this instance's record sets are withdrawn");

    // Events after the shutdown are not taken.
    writer.do_send(names(&["api"]));
    quiet_period().await;
    assert_eq!(s.owned_names("10.0.0.1"), Vec::<String>::new());
}

/// A zone that holds this instance's record sets in another routing (the old tool's weighted ones, say)
/// ends in the configured one: a name still wanted is replaced in one batch, one no longer wanted withdrawn;
/// another owner's weighted record set is left alone.
#[actix_rt::test]
async fn a_switch_of_routing_replaces_this_instances_record_sets() {
    let s = Setup::new();
    let ours_kept = s.weighted("kept", "10.0.0.1", "10.0.0.1", 5);
    let ours_gone = s.weighted("gone", "10.0.0.1", "10.0.0.1", 5);
    let theirs = s.weighted("other", "10.0.0.2", "10.0.0.2", 5);
    for rs in [&ours_kept, &ours_gone, &theirs] {
        s.put(rs.clone());
    }
    let writer = s.writer(fast_writer_settings(Routing::Multivalue));
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["kept"]));
    let report = settle(&writer).await;
    assert_eq!(report.rejected, 0);
    let mut left = s.records();
    left.sort();
    let mut want = vec![s.multivalue("kept", "10.0.0.1", "10.0.0.1"), theirs];
    want.sort();
    assert_eq!(left, want);
    let replaced = s
        .change_requests()
        .into_iter()
        .find(|r| r.changes.iter().any(|c| c.record_set == ours_kept))
        .expect("the kept name's request");
    let created = s.multivalue("kept", "10.0.0.1", "10.0.0.1");
    assert!(
        replaced
            .changes
            .iter()
            .any(|c| c.action == ChangeAction::Create && c.record_set == created),
        "DELETE and CREATE in one batch: {replaced:?}"
    );
}

/// Switching a name from simple to multivalue routing across two instances: the first to switch leaves the
/// shared set at once (Route53 would refuse its multivalue record set beside the other's plain one); the
/// last one out switches in one batch, and once the first reads the name again it publishes too. Both IPs
/// end in multivalue record sets, and neither the plain set nor its marker is left.
#[actix_rt::test]
async fn a_switch_from_simple_routing_ends_in_the_new_routing() {
    let s = Setup::new();
    let (ip1, ip2) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    let (a, b) = (simple_writer(&s, ip1), simple_writer(&s, ip2));
    a.do_send(names(&["web"]));
    b.do_send(names(&["web"]));
    settle(&a).await;
    settle(&b).await;
    shutdown(&a, false).await;
    shutdown(&b, false).await;

    let fast_verify = WriterSettings {
        verify_interval: ms(300),
        ledger: false,
        once: false,
        ..fast_writer_settings(Routing::Multivalue)
    };
    let a = s.writer(fast_verify.clone());
    a.do_send(HostIp(ip1));
    a.do_send(names(&["web"]));
    settle(&a).await;
    let (by_name, _) = published(&s, Routing::Simple);
    assert_eq!(
        by_name["web"],
        BTreeSet::from(["10.0.0.2".to_string()]),
        "a left the shared set"
    );

    let b = s.writer(fast_verify);
    b.do_send(HostIp(ip2));
    b.do_send(names(&["web"]));
    settle(&b).await;
    wait_until(DEADLINE, "both IPs in multivalue record sets", || {
        s.owned_names("10.0.0.1") == vec!["web"] && s.owned_names("10.0.0.2") == vec!["web"]
    })
    .await;
    let (by_name, markers) = published(&s, Routing::Multivalue);
    assert_eq!(by_name["web"].len(), 2);
    assert!(markers.is_empty(), "the marker went with the plain set");
}

#[actix_rt::test]
async fn shutdown_flushes_what_is_pending_at_once() {
    let s = Setup::new();
    let writer = s.writer(WriterSettings {
        debounce: Duration::from_secs(30),
        max_delay: Duration::from_secs(60),
        ..fast_writer_settings(Routing::Multivalue)
    });
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["web"]));
    settle(&writer).await;
    writer.do_send(names(&["web", "api"]));
    let started = Instant::now();
    shutdown(&writer, false).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "not held back by the 30 s debounce"
    );
    assert_eq!(s.owned_names("10.0.0.1"), vec!["api", "web"]);
}

/// A multivalue writer that verifies every 200 ms.
fn verifying() -> WriterSettings {
    WriterSettings {
        verify_interval: ms(200),
        ledger: false,
        once: false,
        ..fast_writer_settings(Routing::Multivalue)
    }
}

#[actix_rt::test]
async fn verification_repairs_drift() {
    let s = Setup::new();
    let writer = s.writer(verifying());
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["web"]));
    settle(&writer).await;
    s.remove(s.multivalue("web", "10.0.0.1", "10.0.0.1"));
    s.emu.clear_requests();
    wait_until(DEADLINE, "the deleted record set is back", || {
        s.owned_names("10.0.0.1") == vec!["web"]
    })
    .await;
    let lists = s.lists();
    assert!(lists >= 1);
}

/// A fatal answer makes the writer forget the zone: it reads it again (finding what changed meanwhile)
/// before it reconciles.
#[actix_rt::test]
async fn a_restarted_writer_reads_the_zone_again_and_reconciles() {
    let s = Setup::new();
    let api = Failures::fatal(1).on_changes(s.emu.clone());
    let writer = s.writer_over(api, fast_writer_settings(Routing::Multivalue));
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["web"]));
    settle(&writer).await;
    assert_eq!(s.owned_names("10.0.0.1"), vec!["web"]);
    let reads = s.lists();
    assert_eq!(reads, 2, "read at start and again after the restart");
}

/// `aws::sdk_config` takes the endpoint, region and credentials from the standard AWS environment variables;
/// `resolve_zone` returns the zone, or the fatal error for a zone that does not exist. (The only test here
/// that reads the environment; it sets every variable the chain would otherwise look further for, so
/// nothing leaves this machine.)
#[actix_rt::test]
async fn the_sdk_client_from_the_environment_resolves_the_zone() {
    let s = Setup::new();
    let server = spawn_server(s.emu.clone(), 0).unwrap();
    std::env::set_var("AWS_ENDPOINT_URL", server.endpoint());
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDTEST");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test-secret");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/aws-config");
    std::env::set_var(
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/aws-credentials",
    );
    let api = SdkRoute53::from_config(&sdk_config(Duration::from_secs(5)).await);
    let fast = RetryPolicy {
        min_delay: ms(5),
        max_delay: ms(20),
    };

    let zone = resolve_zone(&api, &s.zone.id, fast, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(zone, s.zone);
    let missing = resolve_zone(&api, "ZNOSUCHZONE", fast, Duration::ZERO).await;
    assert!(
        matches!(missing, Err(Route53Error::NoSuchHostedZone(_))),
        "{missing:?}"
    );

    s.emu.fail_next(2, Fault::Status(503));
    assert_eq!(
        resolve_zone(&api, &s.zone.id, fast, Duration::ZERO)
            .await
            .unwrap(),
        s.zone,
        "503s are retried"
    );
    let gets = s
        .emu
        .requests()
        .iter()
        .filter(|r| r.operation == Operation::GetHostedZone)
        .count();
    assert_eq!(
        gets, 5,
        "one, one, and two failures then one: no SDK retries of its own"
    );
}

/// Route53 lists a name with characters outside `a-z 0-9 - _` escaped (`caf\303\251`), and takes such
/// characters in a StartRecordName only escaped: a page that ends before such a name gives it as the next
/// page's start, and the listing must send it back as given, or fail there every time.
#[actix_rt::test]
async fn a_listing_goes_on_past_a_page_that_ends_before_an_escaped_name() {
    let s = Setup::new();
    let server = spawn_server(s.emu.clone(), 0).unwrap();
    let api = sdk_client(&server.endpoint(), Duration::from_secs(5));
    // The apex's SOA and NS, then these in order fill the first page of 300.
    let apex = s.emu.record_sets(&s.zone.id).len();
    for k in 0..300 - apex {
        s.put(s.plain(&format!("a{k:03}"), "10.2.0.1"));
    }
    let escaped = format!("caf\\303\\251.{}", s.zone.name);
    s.put(RecordSet::a(escaped.clone(), "10.2.0.2"));
    s.put(s.plain("web", "10.2.0.3"));
    let first = s
        .emu
        .list_record_sets(&s.zone.id, None, None)
        .await
        .unwrap();
    assert_eq!(
        first.next.map(|next| next.name),
        Some(escaped.clone()),
        "the first page ends before the escaped name"
    );
    s.emu.clear_requests();

    let all = read_all(&api, &s.zone.id)
        .await
        .expect("every page is read");
    assert_eq!(all.len(), 302, "both pages, every record set once");
    assert!(all.iter().any(|rs| rs.name == s.fqdn("web")));
    assert_eq!(s.lists(), 2);
}

/// Which call of the API panics, once.
#[derive(Clone, Copy, Debug)]
enum PanicAt {
    /// The `n`th ListResourceRecordSets (from 1).
    List(usize),
    /// The `n`th ChangeResourceRecordSets (from 1).
    Change(usize),
}

/// The emulator, except that the call `at` panics (as a client with a bug would) instead of answering; the
/// panicking call reaches Route53 not at all.
fn panic_once(inner: Emulator, at: PanicAt) -> Arc<Double> {
    let api = Double::new(inner)
        .before_list(move |n| {
            if matches!(at, PanicAt::List(at) if at == n) {
                panic!("test: ListResourceRecordSets number {n} panics");
            }
            pass()
        })
        .before_change(move |n| {
            if matches!(at, PanicAt::Change(at) if at == n) {
                panic!("test: ChangeResourceRecordSets number {n} panics");
            }
            pass()
        });
    Arc::new(api)
}

/// A panic inside a Route53 call would kill the writer's task (and its supervisor with it) and leave a
/// daemon that never writes again. Each one must instead restart the writer, which reads the zone again and
/// publishes what is desired — and still answers its mailbox.
#[actix_rt::test]
async fn a_panic_in_the_zone_read_or_a_change_restarts_the_writer() {
    for at in [PanicAt::List(1), PanicAt::Change(1)] {
        let s = Setup::new();
        let api = panic_once(s.emu.clone(), at);
        let writer = s.writer_over(api.clone(), fast_writer_settings(Routing::Multivalue));
        writer.do_send(HostIp(IP));
        writer.do_send(names(&["web", "api"]));
        wait_until(
            DEADLINE,
            &format!("published after a panic at {at:?}"),
            || s.owned_names("10.0.0.1") == vec!["api", "web"],
        )
        .await;
        let report = settle(&writer).await;
        assert_eq!(report.rejected, 0, "{at:?}");
        assert!(
            api.lists() >= 2,
            "{at:?}: the restarted writer read the zone again"
        );

        // The restarted writer is the one that keeps working.
        writer.do_send(names(&["web"]));
        wait_until(
            DEADLINE,
            &format!("withdrawn after a panic at {at:?}"),
            || s.owned_names("10.0.0.1") == vec!["web"],
        )
        .await;
    }
}

/// A panic while verifying restarts the writer too; the restarted writer's zone read finds the drift that
/// verification was looking for, and repairs it.
#[actix_rt::test]
async fn a_panic_in_verification_restarts_the_writer_which_repairs_drift() {
    let s = Setup::new();
    // The first list reads the zone; the second is the first verification.
    let api = panic_once(s.emu.clone(), PanicAt::List(2));
    let writer = s.writer_over(api.clone(), verifying());
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["web"]));
    settle(&writer).await;
    assert_eq!(api.lists(), 1);
    s.remove(s.multivalue("web", "10.0.0.1", "10.0.0.1"));
    wait_until(DEADLINE, "the deleted record set is back", || {
        s.owned_names("10.0.0.1") == vec!["web"]
    })
    .await;
    assert!(api.lists() >= 3, "verified, panicked, read again");
    settle(&writer).await;
}

/// What the zone holds under each name, per routing, as (first label → IPs published there), with the
/// ownership markers of simple routing: what a test compares with what the writers want.
fn published(
    s: &Setup,
    routing: Routing,
) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let mut by_name: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut markers = BTreeSet::new();
    for rs in s.emu.record_sets(&s.zone.id) {
        let label = rs.name.split('.').next().unwrap().to_string();
        match rs.rtype.as_str() {
            "A" => {
                let routed = rs.set_identifier.is_some();
                assert_eq!(routed, routing != Routing::Simple, "routing of {rs:?}");
                by_name.entry(label).or_default().extend(rs.values);
            }
            "TXT" => {
                let name = rs.name.split('.').nth(1).unwrap().to_string();
                assert_eq!(label, "_route53-registrator", "{rs:?}");
                markers.insert(name);
            }
            _ => {}
        }
    }
    (by_name, markers)
}

fn simple_writer(s: &Setup, ip: Ipv4Addr) -> Addr<Route53Writer> {
    let writer = s.writer(fast_writer_settings(Routing::Simple));
    writer.do_send(HostIp(ip));
    writer
}

/// Simple routing: two instances share one plain record set under a name, marked as managed; each adds and
/// removes only its own IP, and the last one out removes the set and its marker.
#[actix_rt::test]
async fn simple_routing_shares_one_record_set_and_the_last_one_out_cleans_up() {
    let s = Setup::new();
    let (ip1, ip2) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    let (a, b) = (simple_writer(&s, ip1), simple_writer(&s, ip2));
    a.do_send(names(&["web", "api"]));
    b.do_send(names(&["web"]));
    settle(&a).await;
    settle(&b).await;
    let ips = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let (by_name, markers) = published(&s, Routing::Simple);
    assert_eq!(by_name["web"], ips(&["10.0.0.1", "10.0.0.2"]));
    assert_eq!(by_name["api"], ips(&["10.0.0.1"]));
    assert_eq!(markers, ips(&["api", "web"]));

    a.do_send(names(&[]));
    settle(&a).await;
    let (by_name, markers) = published(&s, Routing::Simple);
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name["web"], ips(&["10.0.0.2"]));
    assert_eq!(markers, ips(&["web"]));

    b.do_send(names(&[]));
    settle(&b).await;
    assert_eq!(
        published(&s, Routing::Simple),
        Default::default(),
        "neither A nor TXT left"
    );
}

/// A plain record set without the marker (made by hand, or by another tool) is never changed; the name is
/// counted once as left alone.
#[actix_rt::test]
async fn simple_routing_leaves_an_unmarked_record_set_alone() {
    let s = Setup::new();
    let theirs = s.plain("web", "192.0.2.1");
    s.put(theirs.clone());
    let stats = Stats::new();
    let limited = RateLimited::new(
        Arc::new(s.emu.clone()),
        route53_limiter(1000, Quota::DOCUMENTED),
        Stats::new(),
    );
    let writer = Route53Writer::new(
        Arc::new(limited),
        s.zone.clone(),
        fast_writer_settings(Routing::Simple),
        stats.clone(),
    )
    .start_supervised();
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["web"]));
    let report = settle(&writer).await;
    assert_eq!(report, WriteReport::default());
    assert_eq!(s.records(), vec![theirs]);
    assert_eq!(s.change_requests(), vec![]);
    writer.do_send(names(&["web", "api"]));
    settle(&writer).await;
    assert_eq!(stats.names_left_alone.get(), 1, "counted once");
}

/// One writer's run in [`no_lost_updates`]: which writer, and the names (of 20) it wants from then on.
type Step = (usize, BTreeSet<usize>);

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        (
            0..10usize,
            proptest::collection::btree_set(0..20usize, 0..8),
        ),
        10..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// No lost update: 10 writers with distinct IPs change what they want over 20 names in random
    /// interleavings (each change sent while the others' requests, conflicts and re-reads are in flight),
    /// against the in-process emulator. When all have settled, every name holds exactly the IPs of the
    /// writers that want it, in every routing, and (simple routing) a marker exactly where IPs are.
    #[test]
    fn no_lost_updates(routing in prop_oneof![Just(Routing::Multivalue), Just(Routing::Weighted), Just(Routing::Simple)], steps in steps(), pauses in proptest::collection::vec(0..3u64, 40)) {
        let _ = tracing_subscriber::fmt().with_env_filter("route53_registrator=warn").try_init();
        actix_rt::System::new().block_on(async move {
            let s = Setup::new();
            let fast = WriterSettings {
                debounce: ms(1),
                max_delay: ms(5),
                max_requests_per_second: 100_000,
                retry: RetryPolicy { min_delay: ms(1), max_delay: ms(20) },
                ..fast_writer_settings(routing)
            };
            let writers: Vec<Addr<Route53Writer>> = (0..10u8)
                .map(|i| {
                    let writer = s.writer(fast.clone());
                    writer.do_send(HostIp(Ipv4Addr::new(10, 0, 0, i + 1)));
                    writer.do_send(DesiredRecords::default());
                    writer
                })
                .collect();
            let mut wants: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); 10];
            for ((writer, names), pause) in steps.iter().zip(pauses.iter().cycle()) {
                wants[*writer] = names.clone();
                let desired: BTreeSet<String> = names.iter().map(|n| format!("n{n:02}")).collect();
                writers[*writer].do_send(DesiredRecords::addresses(desired));
                actix_rt::time::sleep(ms(*pause)).await;
            }
            for writer in &writers {
                let report = settle(writer).await;
                assert_eq!(report.rejected, 0, "nothing refused for good");
            }
            let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (i, names) in wants.iter().enumerate() {
                for n in names {
                    expected.entry(format!("n{n:02}")).or_default().insert(format!("10.0.0.{}", i + 1));
                }
            }
            let (by_name, markers) = published(&s, routing);
            assert_eq!(by_name, expected, "{routing:?}");
            let marked: BTreeSet<String> = if routing == Routing::Simple {
                expected.keys().cloned().collect()
            } else {
                BTreeSet::new()
            };
            assert_eq!(markers, marked, "{routing:?}");
        });
    }
}

/// A lost compare-and-swap reaches the daemon as Route53 sends it: over HTTP, through the SDK, a stale
/// DELETE of a shared record set and the CREATE that replaces it are refused as one `InvalidChangeBatch`,
/// whose messages the daemon reads as a lost race (not a refusal for good), and nothing is applied. Also in
/// Route53's older `<InvalidChangeBatch><Messages>` shape.
#[actix_rt::test]
async fn a_lost_compare_and_swap_is_a_conflict_on_the_wire() {
    for legacy in [false, true] {
        let s = Setup::new();
        s.emu.set_legacy_invalid_change_batch(legacy);
        let server = spawn_server(s.emu.clone(), 0).unwrap();
        let client = sdk_client(&server.endpoint(), Duration::from_secs(5));
        let read = s.plain("web", "10.0.0.1");
        s.put(read.clone().values(&["10.0.0.1", "10.0.0.2"]));
        let stale = [
            Change {
                action: ChangeAction::Delete,
                record_set: read.clone(),
            },
            Change {
                action: ChangeAction::Create,
                record_set: read.clone().values(&["10.0.0.1", "10.0.0.3"]),
            },
        ];
        let error = client
            .change_record_sets(&s.zone.id, &stale)
            .await
            .unwrap_err();
        let Route53Error::InvalidChangeBatch(messages) = &error else {
            panic!("legacy {legacy}: {error:?}");
        };
        assert!(
            messages.iter().all(|m| is_conflict(m)) && !messages.is_empty(),
            "legacy {legacy}: {messages:?}"
        );
        assert_eq!(
            s.records()[0].values,
            vec!["10.0.0.1".to_string(), "10.0.0.2".to_string()],
            "nothing applied"
        );
    }
}

/// The writer tells its rate limiter how many instances it sees in the zone, so that a throttle slows it to
/// its share of the account's rate instead of by half (`AdaptiveRate`).
#[actix_rt::test]
async fn the_writer_tells_its_rate_limiter_the_size_of_its_fleet() {
    let s = Setup::new();
    for i in 0..40 {
        let owner = format!("10.0.1.{}", i + 1);
        s.put(s.multivalue("web", &owner, &owner));
    }
    let settings = fast_writer_settings(Routing::Multivalue);
    let limiter = route53_limiter(settings.max_requests_per_second, settings.quota);
    let limited = RateLimited::new(Arc::new(s.emu.clone()), limiter.clone(), Stats::new());
    let writer = Route53Writer::new(Arc::new(limited), s.zone.clone(), settings, Stats::new())
        .start_supervised();
    writer.do_send(HostIp(IP));
    writer.do_send(names(&["web"]));
    settle(&writer).await;
    assert_eq!(s.owned_names(&IP.to_string()), vec!["web".to_string()]);
    // A throttle now: with about 41 owners in the zone (the 40 others, this one, and the zone's own record
    // sets counted by its size), the rate falls to 3 × 9 (the fleet's nine tenths of the documented 10 per
    // second) / owners per second, not to half of the 1,000 the tests allow.
    limiter.answered::<()>(&Err(Route53Error::Throttling("Rate exceeded".into())));
    let rate = limiter.rate();
    let fleet_share = FLEET_SHARE_HEADROOM * Quota::DOCUMENTED.fleet_rate();
    assert!(
        (fleet_share / 45.0..=fleet_share / 40.0).contains(&rate),
        "{rate} requests per second"
    );
}

/// The crash rule, at every instant of a start: a start in a zone over one page (so it goes by its ledger)
/// is cut off after each of its requests in turn (nothing it sends after reaches Route53), a service stops
/// while it is down, and a fresh writer starts. Whatever was cut off, the zone ends with exactly what runs,
/// and the ledger lists exactly that: nothing was ever written where the ledger Route53 held did not say.
#[actix_rt::test]
async fn a_start_cut_off_after_any_request_is_put_right_by_the_next_start() {
    let with_ledger = WriterSettings {
        ledger: true,
        ..fast_writer_settings(Routing::Multivalue)
    };
    let mut cut_after = 0;
    loop {
        let s = Setup::new();
        // 300 record sets of other owners (60 under each of five names), and what this instance left: `web`, `old`, its ledger.
        let mut seed: Vec<RecordSet> = (0..300)
            .map(|k| {
                let ip = format!("10.9.{}.{}", k / 250, k % 250 + 1);
                RecordSet::a(s.fqdn(&format!("other{}", k % 5)), &ip).multivalue(&ip)
            })
            .collect();
        let me = IP.to_string();
        seed.push(RecordSet::a(s.fqdn("web"), &me).multivalue(&me));
        seed.push(RecordSet::a(s.fqdn("old"), &me).multivalue(&me));
        let ledger = ledger_name(&me, &s.zone.name).unwrap();
        let listed = BTreeSet::from([s.fqdn("web"), s.fqdn("old")]);
        seed.push(ledger_record(&ledger, &s.zone.name, None, &listed));
        let create: Vec<Change> = seed
            .into_iter()
            .map(|record_set| Change {
                action: ChangeAction::Create,
                record_set,
            })
            .collect();
        s.emu.apply_directly(&s.zone.id, &create).expect("seed");
        let zone = HostedZone {
            record_sets: Some(create.len() + 2),
            ..s.zone.clone()
        };

        // The start that is cut off: `api` is new, `old` no longer runs.
        let tried = Arc::new(AtomicUsize::new(0));
        let cut = {
            let tried = Arc::clone(&tried);
            move |_| {
                if tried.fetch_add(1, Ordering::SeqCst) < cut_after {
                    pass()
                } else {
                    fail(Route53Error::Throttling("cut off".into()))
                }
            }
        };
        let api = Double::new(s.emu.clone())
            .before_list(cut.clone())
            .before_change(cut);
        let first = Route53Writer::new(
            Arc::new(api),
            zone.clone(),
            with_ledger.clone(),
            Stats::new(),
        )
        .start_supervised();
        first.do_send(HostIp(IP));
        first.do_send(names(&["web", "api"]));
        let settled = first.send(Settle);
        tokio::pin!(settled);
        let finished = tokio::time::timeout(DEADLINE, async {
            tokio::select! {
                _ = &mut settled => true,
                _ = async {
                    while tried.load(Ordering::SeqCst) <= cut_after {
                        tokio::time::sleep(ms(5)).await;
                    }
                } => false,
            }
        })
        .await
        .expect("the start goes on until it is cut off, or settles");

        // `api` stopped while it was down; the next start.
        let next = Route53Writer::new(
            Arc::new(s.emu.clone()),
            zone,
            with_ledger.clone(),
            Stats::new(),
        )
        .start_supervised();
        next.do_send(HostIp(IP));
        next.do_send(names(&["web"]));
        settle(&next).await;
        assert_eq!(
            s.owned_names(&me),
            vec!["web".to_string()],
            "cut off after {cut_after} requests"
        );
        let held = s
            .emu
            .record_sets(&s.zone.id)
            .into_iter()
            .find(|rs| is_ledger(rs, &ledger))
            .expect("a ledger");
        assert_eq!(
            listed_names(&held, &s.zone.name),
            BTreeSet::from([s.fqdn("web")]),
            "cut off after {cut_after} requests"
        );
        if finished {
            break;
        }
        cut_after += 1;
    }
    assert!(cut_after >= 3, "the start made {cut_after} requests");
}
