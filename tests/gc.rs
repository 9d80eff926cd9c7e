//! The clean-up of gone instances, actor to zone: the real writer on the Route53 emulator (in-process,
//! with Route53's rules) and the `GcCollector` asking a scripted EC2 (the double isolates EC2's answers
//! and faults). Every test checks the zone's record sets: what was really withdrawn, and what was not.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Actor;
use async_trait::async_trait;
use route53_emulator::Emulator;
use route53_registrator::desired::DesiredRecords;
use route53_registrator::gc::collector::GcCollector;
use route53_registrator::gc::decide::{GcTiming, Instance, OwnerKind, Query};
use route53_registrator::gc::ec2::{Ec2Api, Ec2Error};
use route53_registrator::host::{HostIdentity, HostIp, Identity};
use route53_registrator::route53::{Change, ChangeAction, HostedZone, RecordSet, Routing};
use route53_registrator::stats::Stats;
use route53_registrator::testing::{pass, wait_until, Double};
use route53_registrator::writer::actor::Route53Writer;
use route53_registrator::writer::ledger::{ledger_name, ledger_record, Member};
use route53_registrator::writer::Settle;
use support::fast_writer_settings;

const ME: &str = "10.0.0.1";
const DEAD: &str = "10.0.0.2";
const ALIVE: &str = "10.0.0.3";
const DEADLINE: Duration = Duration::from_secs(20);

/// EC2 as a test scripts it: instances by private IP with a state, or an error for every call.
#[derive(Default)]
struct ScriptedEc2 {
    states: Mutex<BTreeMap<String, String>>,
    failing: Mutex<Option<Ec2Error>>,
    calls: AtomicUsize,
    /// Every name asked about.
    asked: Mutex<BTreeSet<String>>,
}

impl ScriptedEc2 {
    fn set(&self, ip: &str, state: &str) {
        self.states
            .lock()
            .unwrap()
            .insert(ip.to_string(), state.to_string());
    }

    fn fail(&self, error: Option<Ec2Error>) {
        *self.failing.lock().unwrap() = error;
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Ec2Api for ScriptedEc2 {
    /// Instances by the name set: a private IP, or an instance id (asked by the `instance-id` filter).
    async fn describe_instances(&self, query: &Query) -> Result<Vec<Instance>, Ec2Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.asked
            .lock()
            .unwrap()
            .extend(query.values.iter().cloned());
        if let Some(error) = self.failing.lock().unwrap().clone() {
            return Err(error);
        }
        let states = self.states.lock().unwrap();
        Ok(query
            .values
            .iter()
            .filter_map(|name| {
                let state = states.get(name)?.clone();
                Some(match query.kind {
                    OwnerKind::PrivateIp => Instance {
                        id: format!("i-{:08x}", name.parse::<Ipv4Addr>().map_or(0, u32::from)),
                        private_ip: Some(name.clone()),
                        state,
                    },
                    OwnerKind::InstanceId => Instance {
                        id: name.clone(),
                        private_ip: None,
                        state,
                    },
                })
            })
            .collect())
    }
}

/// A zone holding `records`, this instance's writer publishing `web` on it, and a collector checking
/// every 100 ms with a grace of 300 ms.
struct World {
    emu: Emulator,
    zone: HostedZone,
    ec2: Arc<ScriptedEc2>,
    stats: Stats,
    /// The ListResourceRecordSets (numbered from 1 since the start) that panics; 0: none.
    panic_at: Arc<AtomicUsize>,
}

impl World {
    /// `records`, and a ledger for each other owner among them (IPs: SetIdentifiers and values), saying no
    /// identity, as with `host.ip` set: members asked about by their owner ids.
    async fn start(routing: Routing, records: Vec<RecordSet>) -> World {
        let owners: BTreeSet<String> = records
            .iter()
            .flat_map(|rs| rs.set_identifier.iter().chain(&rs.values))
            .filter(|owner| owner.parse::<Ipv4Addr>().is_ok() && owner.as_str() != ME)
            .cloned()
            .collect();
        let ledgers = owners.iter().map(|owner| member_ledger(owner, None));
        let records = records.iter().cloned().chain(ledgers).collect();
        World::start_as(routing, records, None).await
    }

    /// `records` as they are, this instance being `identity` when the metadata service told it one.
    async fn start_as(
        routing: Routing,
        records: Vec<RecordSet>,
        identity: Option<Identity>,
    ) -> World {
        let emu = Emulator::new();
        let zone = emu.create_zone("gc.discovery", true);
        let create: Vec<Change> = records
            .into_iter()
            .map(|record_set| Change {
                action: ChangeAction::Create,
                record_set,
            })
            .collect();
        emu.apply_directly(&zone.id, &create)
            .expect("seed the zone");
        let stats = Stats::new();
        // Panics at the ListResourceRecordSets numbered `panic_at` (from 1; 0: never), counted from here.
        let panic_at = Arc::new(AtomicUsize::new(0));
        let at = Arc::clone(&panic_at);
        let api = Double::new(emu.clone()).before_list(move |n| {
            if at.load(Ordering::SeqCst) == n {
                panic!("test: ListResourceRecordSets number {n} panics");
            }
            pass()
        });
        let writer = Route53Writer::new(
            Arc::new(api),
            zone.clone(),
            fast_writer_settings(routing),
            stats.clone(),
        )
        .start_supervised();
        if let Some(identity) = identity {
            writer.do_send(HostIdentity(identity));
        }
        writer.do_send(HostIp(ME.parse().unwrap()));
        writer.do_send(DesiredRecords::addresses(["web"]));
        writer.send(Settle).await.expect("the writer settles");
        let ec2 = Arc::new(ScriptedEc2::default());
        ec2.set(ME, "running");
        let timing = GcTiming {
            // Two owners at the fleet's budget of 0.2 calls a second would check every 10 s.
            fleet_rate: 100.0,
            ..GcTiming::new(Duration::from_millis(100), Duration::from_millis(300))
        };
        GcCollector::new(
            ec2.clone(),
            writer.clone().recipient(),
            writer.recipient(),
            timing,
            stats.clone(),
        )
        .start();
        World {
            emu,
            zone,
            ec2,
            stats,
            panic_at,
        }
    }

    /// Every A value under the zone's names, as `name=ip` (multivalue: one per record set).
    fn published(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .emu
            .record_sets(&self.zone.id)
            .into_iter()
            .filter(|rs| rs.rtype == "A")
            .flat_map(|rs| {
                let label = rs.name.split('.').next().unwrap_or("").to_string();
                rs.values.into_iter().map(move |ip| format!("{label}={ip}"))
            })
            .collect();
        out.sort();
        out
    }

    /// The ListResourceRecordSets requests the emulator has answered.
    fn lists(&self) -> usize {
        support::list_requests(&self.emu)
    }

    /// The ledgers in the zone, by name.
    fn ledgers(&self) -> Vec<String> {
        self.emu
            .record_sets(&self.zone.id)
            .into_iter()
            .filter(|rs| rs.rtype == "TXT" && rs.name.contains("._owners."))
            .map(|rs| rs.name)
            .collect()
    }

    /// Waits until EC2 has been asked `more` more times than now: checks happened.
    async fn checks(&self, more: usize) {
        let target = self.ec2.calls() + more;
        wait_until(DEADLINE, "the collector asks EC2 again", || {
            self.ec2.calls() >= target
        })
        .await;
    }
}

/// The ledger of `owner` (an IP) listing `web` and `api`, saying `identity`.
fn member_ledger(owner: &str, identity: Option<Identity>) -> RecordSet {
    let zone = "gc.discovery.";
    let member = Member {
        owner_id: owner.to_string(),
        ip: owner.parse().unwrap(),
        identity,
    };
    let names = BTreeSet::from([format!("web.{zone}"), format!("api.{zone}")]);
    ledger_record(
        &ledger_name(owner, zone).unwrap(),
        zone,
        Some(&member),
        &names,
    )
}

fn identity(instance: &str, region: &str) -> Identity {
    Identity {
        instance_id: instance.to_string(),
        account: "123456789012".to_string(),
        region: region.to_string(),
    }
}

fn multivalue(name: &str, owner: &str) -> RecordSet {
    RecordSet::a(format!("{name}.gc.discovery."), owner).multivalue(owner)
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// An owner EC2 reports running is never touched; once it is terminated (two checks a grace apart), its
/// record sets go, every other owner's stay, and each withdrawal is counted.
#[actix_rt::test]
async fn a_terminated_owner_is_withdrawn_and_a_running_one_never() {
    let world = World::start(
        Routing::Multivalue,
        vec![
            multivalue("web", DEAD),
            multivalue("web", ALIVE),
            multivalue("api", DEAD),
            multivalue("api", ALIVE),
        ],
    )
    .await;
    world.ec2.set(DEAD, "running");
    world.ec2.set(ALIVE, "pending");
    world.checks(6).await;
    let everything = strings(&[
        "api=10.0.0.2",
        "api=10.0.0.3",
        "web=10.0.0.1",
        "web=10.0.0.2",
        "web=10.0.0.3",
    ]);
    assert_eq!(
        world.published(),
        everything,
        "running and pending owners stay"
    );

    world.ec2.set(DEAD, "terminated");
    wait_until(
        DEADLINE,
        "the terminated owner's record sets are withdrawn",
        || !world.published().iter().any(|p| p.ends_with(DEAD)),
    )
    .await;
    assert_eq!(
        world.published(),
        strings(&["api=10.0.0.3", "web=10.0.0.1", "web=10.0.0.3"])
    );
    assert_eq!(world.stats.gc_withdrawn.get(), 2);
    let alive_only = vec![ledger_name(ALIVE, "gc.discovery.").unwrap()];
    wait_until(DEADLINE, "the gone owner's ledger is deleted", || {
        world.ledgers() == alive_only
    })
    .await;
}

/// Members that joined after this instance read the zone (and that it never reads again in multivalue
/// routing) are known from their ledgers at each check: one holding record sets and one holding none yet
/// are collected once terminated, their ledgers with them, and the running one stays.
#[actix_rt::test]
async fn members_that_joined_after_the_last_read_are_collected_with_their_ledgers() {
    const IDLE: &str = "10.0.0.4";
    let world = World::start(Routing::Multivalue, vec![multivalue("web", ALIVE)]).await;
    world.ec2.set(ALIVE, "running");
    world.ec2.set(DEAD, "running");
    world.ec2.set(IDLE, "running");
    let joined: Vec<Change> = [
        multivalue("web", DEAD),
        multivalue("api", DEAD),
        member_ledger(DEAD, None),
        member_ledger(IDLE, None),
    ]
    .into_iter()
    .map(|record_set| Change {
        action: ChangeAction::Create,
        record_set,
    })
    .collect();
    world
        .emu
        .apply_directly(&world.zone.id, &joined)
        .expect("the late members write");
    let asked = || world.ec2.asked.lock().unwrap().clone();
    wait_until(DEADLINE, "the late members are asked about", || {
        asked().contains(DEAD) && asked().contains(IDLE)
    })
    .await;
    world.checks(4).await;
    assert_eq!(
        world.published(),
        strings(&[
            "api=10.0.0.2",
            "web=10.0.0.1",
            "web=10.0.0.2",
            "web=10.0.0.3"
        ]),
        "running members stay"
    );

    world.ec2.set(DEAD, "terminated");
    world.ec2.set(IDLE, "terminated");
    let alive_only = vec![ledger_name(ALIVE, "gc.discovery.").unwrap()];
    wait_until(
        DEADLINE,
        "the late members and their ledgers are gone",
        || world.ledgers() == alive_only,
    )
    .await;
    assert_eq!(
        world.published(),
        strings(&["web=10.0.0.1", "web=10.0.0.3"])
    );
    assert_eq!(world.stats.gc_withdrawn.get(), 2);
}

/// While EC2 answers errors, or an answer that misses this instance, nothing is deleted however long the
/// owner has been gone; once EC2 answers sensibly again, the owner goes.
#[actix_rt::test]
async fn doubtful_answers_delete_nothing() {
    let world = World::start(
        Routing::Multivalue,
        vec![multivalue("web", DEAD), multivalue("web", ALIVE)],
    )
    .await;
    world.ec2.set(ALIVE, "running");
    world
        .ec2
        .fail(Some(Ec2Error::Throttled("Request limit exceeded.".into())));
    world.checks(8).await;
    world.ec2.fail(None);
    world.ec2.set(ME, "terminated");
    world.checks(8).await;
    assert_eq!(
        world.published(),
        strings(&["web=10.0.0.1", "web=10.0.0.2", "web=10.0.0.3"]),
        "an EC2 error, or an answer that does not show this instance alive, deletes nothing"
    );
    assert!(world.stats.gc_doubtful_checks.get() >= 16);
    assert_eq!(world.stats.gc_withdrawn.get(), 0);

    world.ec2.set(ME, "running");
    wait_until(DEADLINE, "the gone owner is withdrawn", || {
        world.published() == strings(&["web=10.0.0.1", "web=10.0.0.3"])
    })
    .await;
}

/// Simple routing: the gone IP leaves the shared set by compare-and-swap; the other IPs and the marker stay.
#[actix_rt::test]
async fn in_simple_routing_only_the_gone_ip_leaves_the_shared_set() {
    let shared = RecordSet::a("web.gc.discovery.", DEAD).values(&[DEAD, ALIVE]);
    let marker = RecordSet::marker("web.gc.discovery.");
    let world = World::start(Routing::Simple, vec![shared, marker]).await;
    world.ec2.set(ALIVE, "running");
    world.ec2.set(DEAD, "stopped");
    wait_until(DEADLINE, "the stopped owner's IP leaves the set", || {
        world.published() == strings(&["web=10.0.0.1", "web=10.0.0.3"])
    })
    .await;
    let marked = world
        .emu
        .record_sets(&world.zone.id)
        .iter()
        .any(|rs| rs.rtype == "TXT" && rs.name.starts_with("_route53-registrator.web."));
    assert!(marked, "the name is still managed");
    assert_eq!(world.stats.gc_withdrawn.get(), 1);
}

/// Only members are collected. A hand-made record set whose SetIdentifier is an IP (no ledger behind it),
/// and a registrator of another region sharing the zone (its ledger says so), are never asked about nor
/// collected, although EC2 here knows neither; a member of this fleet and region is asked about by the
/// instance id its ledger gives (not by its IP, which EC2 would not find if it is not its primary one)
/// and collected once terminated.
#[actix_rt::test]
async fn only_members_of_this_fleet_and_region_are_collected() {
    const HAND_MADE: &str = "10.50.0.7";
    const OTHER_REGION: &str = "10.60.0.8";
    let me = identity("i-000000000000000a1", "eu-west-1");
    let records = vec![
        multivalue("web", DEAD),
        multivalue("db", HAND_MADE),
        multivalue("web", OTHER_REGION),
        member_ledger(DEAD, Some(identity("i-000000000000000d2", "eu-west-1"))),
        member_ledger(
            OTHER_REGION,
            Some(identity("i-000000000000000f3", "us-east-1")),
        ),
    ];
    let world = World::start_as(Routing::Multivalue, records, Some(me.clone())).await;
    world.ec2.set(&me.instance_id, "running");
    world.ec2.set("i-000000000000000d2", "terminated");
    wait_until(
        DEADLINE,
        "the terminated member's record set is withdrawn",
        || !world.published().contains(&format!("web={DEAD}")),
    )
    .await;
    // The checks go on, each reading the fleet's ledgers, with no one left to ask EC2 about.
    let before = world.lists();
    wait_until(DEADLINE, "three more checks", || {
        world.lists() >= before + 3
    })
    .await;
    assert_eq!(
        world.published(),
        strings(&["db=10.50.0.7", "web=10.0.0.1", "web=10.60.0.8"]),
        "the hand-made record set and the other region's member stay"
    );
    let asked = world.ec2.asked.lock().unwrap().clone();
    assert_eq!(
        asked,
        BTreeSet::from([me.instance_id.clone(), "i-000000000000000d2".to_string()]),
        "asked by instance id, about members of this region only"
    );
    assert_eq!(world.stats.gc_strangers.get(), 2);
}

/// A panic in the read of the fleet's ledgers that a check makes is caught: that check asks EC2 about no
/// one, the writer lives on, and a later check collects the gone member.
#[actix_rt::test]
async fn a_panic_in_the_read_of_the_ledgers_is_caught_and_a_later_check_collects() {
    let world = World::start(Routing::Multivalue, vec![multivalue("web", DEAD)]).await;
    world.panic_at.store(world.lists() + 1, Ordering::SeqCst);
    world.ec2.set(DEAD, "terminated");
    wait_until(DEADLINE, "the gone member is withdrawn after all", || {
        world.published() == strings(&["web=10.0.0.1"])
    })
    .await;
    assert!(
        world.panic_at.load(Ordering::SeqCst) <= world.lists(),
        "the read that panicked came before"
    );
}
