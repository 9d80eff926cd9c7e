//! End to end: the real `route53-registrator` binary, the real Docker engine, the project's Route53 emulator
//! over HTTP (through the SDK, `AWS_ENDPOINT_URL`) and an IMDSv2 test server. Each test has its own zone and
//! service names; the daemons of different tests never run at once (see `.config/nextest.toml`).

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use route53_emulator::{spawn_server, Emulator, Fault, Operation, ServerHandle};
use route53_registrator::route53::{Change, ChangeAction, RecordSet};
use route53_registrator::writer::ledger::{ledger_name, ledger_record, listed_names, member_of};
use support::daemon::Daemon;
use support::docker::{ContainerSpec, IGNORE_TERM, NOT_A_SERVICE_FAMILY, SLEEP_UNTIL_TERM};
use support::imds::{self, ImdsServer};
use support::proxy::SocketProxy;
use support::world::{World, DEADLINE};
use support::{free_port, http_get, list_requests, unique, unique_zone, wait_until};

/// A multivalue record set of `owner` publishing `ip` under `fqdn`, as another instance would write it.
fn multivalue(fqdn: &str, owner: &str, ip: &str) -> RecordSet {
    RecordSet::a(fqdn, ip).multivalue(owner)
}

fn create(rs: RecordSet) -> Change {
    Change {
        action: ChangeAction::Create,
        record_set: rs,
    }
}

#[test]
fn a_service_is_published_with_the_ip_from_imds_and_withdrawn_when_it_stops() {
    let world = World::new();
    let imds = ImdsServer::start("10.20.30.40", "i-0123456789abcdef0");
    let _daemon = Daemon::builder(&world.server.endpoint())
        .config(&world.config_without_ip())
        .imds(&imds.endpoint())
        .spawn();

    let web = world.service("web").run();
    world.wait_published("web", "10.20.30.40");
    let records = world.a_records("web");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        records[0].set_identifier.as_deref(),
        Some("10.20.30.40"),
        "owner id defaults to the IP"
    );
    assert_eq!(records[0].multivalue_answer, Some(true));
    assert_eq!(records[0].ttl, 10);
    // Its ledger, its membership record, says who it is from the instance identity document.
    let ledger = ledger_name("10.20.30.40", &world.zone).expect("an IP stands as labels");
    let member = || {
        world
            .emulator
            .record_sets(&world.zone_id)
            .iter()
            .find(|rs| rs.name == ledger)
            .and_then(member_of)
    };
    wait_until(DEADLINE, "the ledger says its member", || {
        member().is_some()
    });
    let identity = member()
        .unwrap()
        .identity
        .expect("the metadata service told");
    assert_eq!(identity.instance_id, "i-0123456789abcdef0");
    assert_eq!(
        (identity.account.as_str(), identity.region.as_str()),
        (imds::ACCOUNT, imds::REGION)
    );

    web.stop(5);
    world.wait_withdrawn("web", "10.20.30.40");
    assert!(world.a_records("web").is_empty());
}

/// A change of owner id across a restart (the IP as owner id, then `host.owner_id` set to the instance id):
/// the restarted daemon finds its former self through the membership record that names its instance, and
/// converges to exactly what runs: its running service under the new id only, the service that stopped
/// while it was down withdrawn, the former ledger gone.
#[test]
fn a_restart_with_a_changed_owner_id_converges_to_exactly_what_runs() {
    const IP: &str = "10.20.30.41";
    const INSTANCE: &str = "i-0aaaaaaaaaaaaaaa1";
    let world = World::new();
    let imds = ImdsServer::start(IP, INSTANCE);
    let spawn = |config: &str| {
        Daemon::builder(&world.server.endpoint())
            .config(config)
            .imds(&imds.endpoint())
            .spawn()
    };
    let _web = world.service("ownerweb").run();
    let api = world.service("ownerapi").run();
    let mut first = spawn(&world.config_without_ip());
    world.wait_published("ownerweb", IP);
    world.wait_published("ownerapi", IP);
    let member_said = || {
        let ledger = ledger_name(IP, &world.zone).expect("an IP stands as labels");
        world
            .record_sets()
            .iter()
            .find(|rs| rs.name == ledger)
            .and_then(member_of)
            .is_some_and(|m| m.identity.is_some())
    };
    wait_until(
        DEADLINE,
        "the ledger says which instance it is",
        member_said,
    );
    first.signal("KILL");
    first.wait_exit(Duration::from_secs(10));
    api.stop(5);

    let config = format!(
        "{}[host]\nowner_id = \"{INSTANCE}\"\n",
        world.config_without_ip()
    );
    let _second = spawn(&config);
    let owners = |name: &str| -> Vec<Option<String>> {
        world
            .a_records(name)
            .into_iter()
            .map(|rs| rs.set_identifier)
            .collect()
    };
    wait_until(
        DEADLINE,
        "exactly what runs, under the new owner id",
        || {
            owners("ownerweb") == vec![Some(INSTANCE.to_string())]
                && owners("ownerapi").is_empty()
                && world.ledger_owners() == BTreeSet::from([INSTANCE.to_string()])
        },
    );
}

/// Two running instances given one owner id (one `R53R_HOST__OWNER_ID` for a whole DAEMON service): the
/// second takes the ledger over at its start, as after an IP reused; each then finds the other's instance
/// in the ledger at a verification and says so loudly, and they do not flap: the ledger stops changing.
#[test]
fn two_instances_with_one_owner_id_both_say_so_and_do_not_flap() {
    const CONFLICT: &str = "two running instances write under one owner id";
    let world = World::new();
    let _service = world.service("oneowner").run();
    let config = format!(
        "{}[host]\nowner_id = \"shared-owner\"\n",
        world.config_without_ip()
    )
    .replace("[route53]\n", "[route53]\nverify_interval = \"1s\"\n");
    let imds_a = ImdsServer::start("10.20.30.61", "i-0aaaaaaaaaaaaaa61");
    let imds_b = ImdsServer::start("10.20.30.62", "i-0aaaaaaaaaaaaaa62");
    let spawn = |imds: &ImdsServer, label: &str| {
        Daemon::builder(&world.server.endpoint())
            .config(&config)
            .imds(&imds.endpoint())
            .label(label)
            .spawn()
    };
    let ledger = ledger_name("shared-owner", &world.zone).expect("labels");
    let says = || {
        world
            .record_sets()
            .iter()
            .find(|rs| rs.name == ledger)
            .and_then(member_of)
            .and_then(|m| m.identity)
            .map(|identity| identity.instance_id)
    };
    let mut a = spawn(&imds_a, "a");
    wait_until(DEADLINE, "the first instance's ledger", || {
        says().as_deref() == Some("i-0aaaaaaaaaaaaaa61")
    });
    let mut b = spawn(&imds_b, "b");
    a.wait_for_output(DEADLINE, CONFLICT);
    b.wait_for_output(DEADLINE, CONFLICT);
    for (daemon, other) in [(&a, "i-0aaaaaaaaaaaaaa62"), (&b, "i-0aaaaaaaaaaaaaa61")] {
        let output = daemon.output();
        let line = output
            .lines()
            .find(|l| l.contains(CONFLICT))
            .unwrap_or_default();
        assert!(line.contains(other), "names the other instance: {line}");
    }
    // No flapping: each wrote the ledger at its start and once more on finding the other, and no more,
    // over several verifications of both after (each reads the fleet's ledgers and its names).
    let ledger_writes = || {
        world
            .emulator
            .requests()
            .iter()
            .filter(|r| r.status == 200)
            .filter(|r| r.changes.iter().any(|c| c.record_set.name == ledger))
            .count()
    };
    let reads = list_requests(&world.emulator);
    wait_until(DEADLINE, "several verifications after both said so", || {
        list_requests(&world.emulator) >= reads + 8
    });
    assert!(ledger_writes() <= 4, "{} ledger writes", ledger_writes());
}

#[test]
fn only_selected_containers_are_published() {
    let world = World::new();
    let daemon = world.daemon("10.0.0.1");
    let net = world.network.name().to_string();

    // Started first, so that by the time the control is published the daemon has seen all of them.
    let _other_family = ContainerSpec::new(&unique("c"))
        .network(&world.network)
        .ecs(NOT_A_SERVICE_FAMILY, "nofam")
        .shell(SLEEP_UNTIL_TERM)
        .run();
    let _ignored = world
        .service("ignored")
        .label("route53-registrator.ignore", "true")
        .run();
    let _internal = world
        .service("pause")
        .label("com.amazonaws.ecs.container-name", "~internal~ecs~pause")
        .run();
    let target = world.service("target").run();
    let _shares_netns = ContainerSpec::new(&unique("c"))
        .network_mode(&format!("container:{}", target.id()))
        .ecs("awsvpc-service", "awsvpc")
        .shell(SLEEP_UNTIL_TERM)
        .run();
    let _opt_in = ContainerSpec::new(&unique("c"))
        .network(&world.network)
        .label("route53-registrator.name", "Opt_In")
        .shell(SLEEP_UNTIL_TERM)
        .run();
    let _renamed = world
        .service("ecsname")
        .label("route53-registrator.name", "renamed")
        .run();
    let _dotted = world
        .service("dotted")
        .label("route53-registrator.name", "a.b")
        .run();
    // Sanitised by replacing its Cyrillic letters, it would be published as `api`: another service's name.
    let cyrillic = world
        .service("cyrillic")
        .label("route53-registrator.name", "сервис-api")
        .run();
    let _control = world.service("control").run();

    world.wait_published("control", "10.0.0.1");
    world.wait_published("target", "10.0.0.1");
    world.wait_published("opt-in", "10.0.0.1");
    world.wait_published("renamed", "10.0.0.1");
    let names: BTreeSet<String> = world
        .emulator
        .record_sets(&world.zone_id)
        .into_iter()
        .filter(|rs| rs.rtype == "A")
        .map(|rs| rs.name)
        .collect();
    let expected: BTreeSet<String> = ["control", "target", "opt-in", "renamed"]
        .iter()
        .map(|n| world.fqdn(n))
        .collect();
    assert_eq!(
        names, expected,
        "only the selected containers are published (network {net})"
    );
    // Each refusal and each name that differs from its label is logged once, with the container's name.
    let log = daemon.output();
    let lines = |words: &[&str]| {
        log.lines()
            .filter(|line| words.iter().all(|w| line.contains(w)))
            .count()
    };
    assert_eq!(
        lines(&["name refused", cyrillic.name(), "серви"]),
        1,
        "the Cyrillic name refused once, naming its letters:\n{log}"
    );
    assert_eq!(
        lines(&["published under its sanitised name", "Opt_In", "opt-in"]),
        1,
        "the sanitised name logged once with its label:\n{log}"
    );
}

#[test]
fn a_name_stays_while_one_container_of_the_service_runs() {
    let world = World::new();
    let _daemon = world.daemon("10.0.0.2");
    let first = world.service("api").run();
    let second = ContainerSpec::new(&unique("api2"))
        .network(&world.network)
        .ecs("api-service", "api")
        .shell(SLEEP_UNTIL_TERM)
        .run();
    world.wait_published("api", "10.0.0.2");

    first.stop(5);
    // The second container still runs: after a full resync the name must still be there.
    world.assert_stays("api", true, Duration::from_secs(3));
    assert_eq!(world.ips("api"), BTreeSet::from(["10.0.0.2".to_string()]));

    second.stop(5);
    world.wait_withdrawn("api", "10.0.0.2");
}

#[test]
fn withdrawing_one_service_leaves_the_others_untouched() {
    let world = World::new();
    let _daemon = world.daemon("10.0.0.3");
    let a = world.service("alpha").run();
    let _b = world.service("beta").run();
    let _c = world.service("gamma").run();
    for name in ["alpha", "beta", "gamma"] {
        world.wait_published(name, "10.0.0.3");
    }
    a.stop(5);
    world.wait_withdrawn("alpha", "10.0.0.3");
    assert_eq!(world.ips("beta"), BTreeSet::from(["10.0.0.3".to_string()]));
    assert_eq!(world.ips("gamma"), BTreeSet::from(["10.0.0.3".to_string()]));
}

#[test]
fn start_up_publishes_running_containers_and_removes_stale_records() {
    let world = World::new();
    let _running = world.service("early").run();
    // A record of this instance whose container stopped while the daemon was down, and another owner's.
    world
        .emulator
        .apply_directly(
            &world.zone_id,
            &[
                create(multivalue(&world.fqdn("stale"), "10.0.0.4", "10.0.0.4")),
                create(multivalue(&world.fqdn("stale"), "10.9.9.9", "10.9.9.9")),
            ],
        )
        .expect("seed records");

    let _daemon = world.daemon("10.0.0.4");
    world.wait_published("early", "10.0.0.4");
    world.wait_withdrawn("stale", "10.0.0.4");
    assert_eq!(
        world.ips("stale"),
        BTreeSet::from(["10.9.9.9".to_string()]),
        "the other owner's record stays"
    );
}

#[test]
fn a_restart_in_a_populated_zone_reads_its_ledger_publishes_then_finds_its_stale_record() {
    let world = World::new();
    let _running = world.service("early").run();
    // 99 other owners under four names (more than one page of a listing: a start reads its ledger rather than
    // the zone), and what this instance (10.0.0.4) left when it went down: its record set of a service that
    // stopped meanwhile, and its ledger listing both its names.
    let mut seed: Vec<Change> = (1..=99)
        .flat_map(|k| {
            let ip = format!("10.1.0.{k}");
            ["early", "stale", "other-a", "other-b"]
                .map(|name| create(multivalue(&world.fqdn(name), &ip, &ip)))
        })
        .collect();
    seed.push(create(multivalue(
        &world.fqdn("stale"),
        "10.0.0.4",
        "10.0.0.4",
    )));
    let ledger = ledger_name("10.0.0.4", &world.zone).expect("an IP can name a ledger");
    let listed = BTreeSet::from([world.fqdn("early"), world.fqdn("stale")]);
    seed.push(create(ledger_record(&ledger, &world.zone, None, &listed)));
    world
        .emulator
        .apply_directly(&world.zone_id, &seed)
        .expect("seed the zone");
    let others = |name: &str| world.ips(name).len();
    assert_eq!((others("early"), others("stale")), (99, 100));

    let _daemon = world.daemon("10.0.0.4");
    world.wait_published("early", "10.0.0.4");
    world.wait_withdrawn("stale", "10.0.0.4");
    assert_eq!(
        (others("early"), others("stale")),
        (100, 99),
        "every other owner's record set stays"
    );

    let operations = world.operations();
    let route53: Vec<Operation> = operations
        .iter()
        .filter(|o| {
            matches!(
                o,
                Operation::ListResourceRecordSets | Operation::ChangeResourceRecordSets
            )
        })
        .cloned()
        .collect();
    assert_eq!(
        route53.get(..3),
        Some(
            &[
                Operation::ListResourceRecordSets,
                Operation::ChangeResourceRecordSets,
                Operation::ListResourceRecordSets
            ][..]
        ),
        "the ledger is read, what runs published (the ledger listing it in the same request), then \
         the one name the ledger lists that is not published read: {operations:?}"
    );
    let reads = operations
        .iter()
        .filter(|o| **o == Operation::ListResourceRecordSets)
        .count();
    assert_eq!(reads, 2, "no other read: {operations:?}");
    let ledger_now = world
        .record_sets()
        .into_iter()
        .find(|rs| rs.name == ledger)
        .expect("the ledger stays while a name is published");
    assert_eq!(
        listed_names(&ledger_now, &world.zone),
        BTreeSet::from([world.fqdn("early")])
    );
}

#[test]
fn containers_removed_at_once_are_withdrawn() {
    let world = World::new();
    let _daemon = world.daemon("10.0.0.5");
    let rm = world.service("rmflag").auto_remove().run();
    let forced = world.service("forced").run();
    world.wait_published("rmflag", "10.0.0.5");
    world.wait_published("forced", "10.0.0.5");

    rm.kill("KILL");
    forced.remove_now();
    world.wait_withdrawn("rmflag", "10.0.0.5");
    world.wait_withdrawn("forced", "10.0.0.5");
    assert!(
        !rm.exists() && !forced.exists(),
        "both containers are gone and could not be inspected"
    );
}

#[test]
fn a_container_with_a_healthcheck_is_published_only_while_healthy() {
    let world = World::new();
    let _daemon = world.daemon("10.0.0.6");
    let checked = world
        .service("checked")
        .health_cmd("test -f /healthy", "1s")
        .run();
    wait_until(DEADLINE, "the healthcheck fails", || {
        checked.health().as_deref() == Some("unhealthy")
    });
    let _control = world.service("hcontrol").run();
    world.wait_published("hcontrol", "10.0.0.6");
    assert!(world.ips("checked").is_empty(), "published while unhealthy");

    support::docker::docker(&["exec", checked.id(), "sh", "-c", "touch /healthy"]);
    world.wait_published("checked", "10.0.0.6");

    support::docker::docker(&["exec", checked.id(), "sh", "-c", "rm /healthy"]);
    world.wait_withdrawn("checked", "10.0.0.6");
}

#[test]
fn a_draining_container_is_withdrawn_at_its_stop_signal_and_not_republished() {
    let world = World::new();
    let _daemon = world.daemon("10.0.0.7");
    let stubborn = world.service("drain").shell(IGNORE_TERM).run();
    world.wait_published("drain", "10.0.0.7");

    let mut stopping = stubborn.stop_in_background(30);
    world.wait_withdrawn("drain", "10.0.0.7");
    assert!(
        stubborn.is_running(),
        "withdrawn at the kill event, while the container still drains"
    );
    // Several resyncs (every second) list it as running; none may publish it again.
    world.assert_stays("drain", false, Duration::from_secs(4));
    assert!(
        stubborn.is_running(),
        "the container drained through the whole check"
    );
    stubborn.kill("KILL");
    let _ = stopping.wait();
}

#[test]
fn only_the_containers_own_stop_signal_withdraws_it() {
    let world = World::new();
    let _daemon = world.daemon("10.0.0.17");
    let quits = world
        .service("quits")
        .stop_signal("SIGQUIT")
        .shell("trap '' TERM QUIT; while true; do sleep 1; done")
        .run();
    world.wait_published("quits", "10.0.0.17");

    // SIGTERM is not this container's stop signal: it is not stopping, and stays published.
    quits.kill("TERM");
    world.assert_stays("quits", true, Duration::from_secs(3));

    // `docker stop` sends its SIGQUIT (reported as 3): withdrawn while it still drains.
    let mut stopping = quits.stop_in_background(30);
    world.wait_withdrawn("quits", "10.0.0.17");
    assert!(
        quits.is_running(),
        "withdrawn at the kill event, while it drains"
    );
    quits.kill("KILL");
    let _ = stopping.wait();
}

/// Three daemons (three instances, each with its own `host.ip`) on one engine see the same containers: in
/// each routing every name ends with all three IPs while its container runs (one record set per instance,
/// or one shared set and its marker), and nothing at all is left, neither A nor TXT, once it stops.
#[test]
fn three_daemons_publish_every_ip_under_every_name_in_each_routing() {
    for routing in ["multivalue", "weighted", "simple"] {
        let world = World::new();
        let ips = ["10.0.1.1", "10.0.1.2", "10.0.1.3"];
        let _daemons: Vec<Daemon> = ips
            .iter()
            .map(|ip| {
                let config = world.config(ip).replace(
                    "[route53]\n",
                    &format!("[route53]\nrouting = \"{routing}\"\n"),
                );
                Daemon::builder(&world.server.endpoint())
                    .config(&config)
                    .label(&format!("{routing} {ip}"))
                    .spawn()
            })
            .collect();
        let all: BTreeSet<String> = ips.iter().map(|ip| ip.to_string()).collect();
        let services: Vec<_> = ["trioa", "triob"]
            .iter()
            .map(|name| world.service(name).run())
            .collect();
        for name in ["trioa", "triob"] {
            wait_until(DEADLINE, &format!("{routing}: {name} has every IP"), || {
                world.ips(name) == all
            });
            let (sets, markers) = (world.a_records(name).len(), world.markers(name));
            let want = if routing == "simple" { (1, 1) } else { (3, 0) };
            assert_eq!((sets, markers), want, "{routing}: {name}");
        }
        for service in &services {
            service.stop(5);
        }
        wait_until(DEADLINE, &format!("{routing}: nothing is left"), || {
            world
                .emulator
                .record_sets(&world.zone_id)
                .iter()
                .all(|rs| rs.rtype != "A" && rs.rtype != "TXT")
        });
    }
}

#[test]
fn another_owners_record_set_survives_everything() {
    let world = World::new();
    let fqdn = world.fqdn("keep");
    let theirs = multivalue(&fqdn, "i-other", "10.8.8.8");
    world
        .emulator
        .apply_directly(&world.zone_id, &[create(theirs.clone())])
        .expect("seed");

    let daemon = world.daemon("10.0.0.8");
    let keep = world.service("keep").run();
    world.wait_published("keep", "10.0.0.8");
    keep.stop(5);
    world.wait_withdrawn("keep", "10.0.0.8");
    drop(daemon);
    assert_eq!(world.a_records("keep"), vec![theirs]);
}

#[test]
fn weighted_routing_writes_the_old_tools_record_sets() {
    let world = World::new();
    let config = world.config("10.0.0.9").replace(
        "[route53]\n",
        "[route53]\nrouting = \"weighted\"\nttl = 5\n",
    );
    let _daemon = Daemon::builder(&world.server.endpoint())
        .config(&config)
        .spawn();
    let _w = world.service("weighted").run();
    world.wait_published("weighted", "10.0.0.9");
    let records = world.a_records("weighted");
    assert_eq!(records.len(), 1);
    assert_eq!(
        (
            records[0].weight,
            records[0].ttl,
            records[0].multivalue_answer
        ),
        (Some(50), 5, None)
    );
    assert_eq!(records[0].set_identifier.as_deref(), Some("10.0.0.9"));
}

/// Route53 refuses a weighted record set whose TTL differs from its group's. A zone holds another owner's
/// weighted record set at TTL 60 (the old tool's, or an instance configured otherwise); a daemon configured
/// with TTL 10 joins the group at TTL 60 instead of being refused, and leaves the other owner's untouched.
#[test]
fn a_weighted_daemon_joins_an_existing_group_with_the_groups_ttl() {
    let world = World::new();
    let fqdn = world.fqdn("joined");
    let theirs = RecordSet::a(fqdn.as_str(), "10.8.8.8")
        .weighted("10.8.8.8", 50)
        .ttl(60);
    world
        .emulator
        .apply_directly(&world.zone_id, &[create(theirs.clone())])
        .expect("seed");
    let config = world.config("10.0.0.10").replace(
        "[route53]\n",
        "[route53]\nrouting = \"weighted\"\nttl = 10\n",
    );
    let daemon = Daemon::builder(&world.server.endpoint())
        .config(&config)
        .spawn();
    let joined = world.service("joined").run();
    world.wait_published("joined", "10.0.0.10");
    let ours: Vec<(i64, Option<i64>)> = world
        .a_records("joined")
        .iter()
        .filter(|rs| rs.set_identifier.as_deref() == Some("10.0.0.10"))
        .map(|rs| (rs.ttl, rs.weight))
        .collect();
    assert_eq!(
        ours,
        vec![(60, Some(50))],
        "the group's TTL, not route53.ttl"
    );
    joined.stop(5);
    world.wait_withdrawn("joined", "10.0.0.10");
    drop(daemon);
    assert_eq!(world.a_records("joined"), vec![theirs]);
}

#[test]
fn once_reconciles_and_exits() {
    let world = World::new();
    let _running = world.service("oncesvc").run();
    world
        .emulator
        .apply_directly(
            &world.zone_id,
            &[create(multivalue(
                &world.fqdn("gone"),
                "10.0.0.10",
                "10.0.0.10",
            ))],
        )
        .expect("seed");
    let (status, output) = Daemon::builder(&world.server.endpoint())
        .config(&world.config("10.0.0.10"))
        .arg("--once")
        .run(DEADLINE);
    assert_eq!(status.code(), Some(0), "{output}");
    assert_eq!(
        world.ips("oncesvc"),
        BTreeSet::from(["10.0.0.10".to_string()])
    );
    assert!(
        world.ips("gone").is_empty(),
        "the stale record was withdrawn before exiting"
    );
}

#[test]
fn once_exits_1_when_a_change_is_rejected() {
    let world = World::new();
    // A plain record set under the name: Route53 refuses a multivalue record set beside it.
    let plain = RecordSet::a(world.fqdn("clash"), "10.7.7.7");
    world
        .emulator
        .apply_directly(&world.zone_id, &[create(plain.clone())])
        .expect("seed");
    let _clash = world.service("clash").run();
    let _fine = world.service("fine").run();
    let (status, output) = Daemon::builder(&world.server.endpoint())
        .config(&world.config("10.0.0.11"))
        .arg("--once")
        .run(DEADLINE);
    assert_eq!(status.code(), Some(1), "{output}");
    assert_eq!(
        world.ips("fine"),
        BTreeSet::from(["10.0.0.11".to_string()]),
        "the good change was applied"
    );
    assert_eq!(
        world.a_records("clash"),
        vec![plain],
        "the plain record set is untouched"
    );
}

#[test]
fn dry_run_sends_nothing() {
    let world = World::new();
    let _running = world.service("drysvc").run();
    let mut daemon = Daemon::builder(&world.server.endpoint())
        .config(&world.config("10.0.0.12"))
        .arg("--dry-run")
        .spawn();
    daemon.wait_for_output(DEADLINE, "dry run: would send");
    assert!(
        daemon.output().contains("drysvc"),
        "the change it would send names the service"
    );
    // Past the debounce and through the shutdown flush: still nothing may have been sent.
    assert_eq!(daemon.terminate().code(), Some(0));
    assert_eq!(world.change_requests(), 0, "dry run sent a change");
    assert!(world.ips("drysvc").is_empty());
}

#[test]
fn an_invalid_config_exits_2_naming_the_key() {
    let world = World::new();
    let config = world
        .config("10.0.0.13")
        .replace("[route53]\n", "[route53]\nttl = -5\n");
    let (status, output) = Daemon::builder(&world.server.endpoint())
        .config(&config)
        .run(DEADLINE);
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(
        output.contains("route53.ttl") && output.contains("-5"),
        "{output}"
    );

    let (status, output) = Daemon::builder(&world.server.endpoint())
        .config(&(world.config("10.0.0.13") + "[bogus]\nkey = 1\n"))
        .run(DEADLINE);
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(output.contains("bogus"), "{output}");
}

#[test]
fn a_zone_that_does_not_exist_exits_1_naming_it() {
    let world = World::new();
    let config = world
        .config("10.0.0.14")
        .replace(&world.zone_id, "ZNOSUCHZONE");
    let (status, output) = Daemon::builder(&world.server.endpoint())
        .config(&config)
        .run(DEADLINE);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("ZNOSUCHZONE"), "{output}");
}

#[test]
fn sigterm_with_deregister_withdraws_every_record_and_exits_0() {
    let world = World::new();
    let config = world.config("10.0.0.15") + "[shutdown]\nderegister = true\n";
    let theirs = multivalue(&world.fqdn("keepa"), "10.9.9.9", "10.9.9.9");
    world
        .emulator
        .apply_directly(&world.zone_id, &[create(theirs.clone())])
        .expect("seed");
    let mut daemon = Daemon::builder(&world.server.endpoint())
        .config(&config)
        .spawn();
    let _a = world.service("keepa").run();
    let _b = world.service("keepb").run();
    world.wait_published("keepa", "10.0.0.15");
    world.wait_published("keepb", "10.0.0.15");
    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        world.a_records("keepa"),
        vec![theirs],
        "only ours is withdrawn"
    );
    assert!(
        world.ips("keepb").is_empty(),
        "{:?}",
        world.emulator.record_sets(&world.zone_id)
    );
}

#[test]
fn sigterm_without_deregister_keeps_the_records() {
    let world = World::new();
    let mut daemon = world.daemon("10.0.0.16");
    let _a = world.service("stays").run();
    world.wait_published("stays", "10.0.0.16");
    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        world.ips("stays"),
        BTreeSet::from(["10.0.0.16".to_string()]),
        "a restart must not withdraw live services"
    );
}

/// A daemon on an emulator zone of its own, `private` or public, with Docker unreachable (so nothing is
/// ever desired: it waits for Docker forever), and the emulator server it talks to.
fn daemon_without_docker(
    private: bool,
    ip: &str,
    extra_arg: Option<&str>,
) -> (Daemon, ServerHandle, String) {
    let emulator = Emulator::new();
    let zone = unique_zone();
    let hosted = emulator.create_zone(&zone, private);
    let server = spawn_server(emulator, 0).expect("emulator server");
    let mut builder = Daemon::builder(&server.endpoint())
        .config(&format!(
            "[route53]\nzone_id = \"{}\"\n[host]\nip = \"{ip}\"\n",
            hosted.id
        ))
        .env("R53R_DOCKER__HOST", "unix:///nonexistent.sock");
    if let Some(arg) = extra_arg {
        builder = builder.arg(arg);
    }
    (builder.spawn(), server, zone)
}

/// `--once` waits for Docker, which may never answer; SIGTERM still ends it, at once, with exit code 1 and
/// a message that the reconciliation did not finish. (Once tokio handles a signal, the default exit is
/// gone: every wait needs an arm for it.)
#[test]
fn once_is_stopped_by_sigterm_and_says_it_did_not_finish() {
    let (mut daemon, _server, _zone) = daemon_without_docker(true, "10.0.0.17", Some("--once"));
    daemon.wait_for_output(DEADLINE, "hosted zone found");
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(10));
    let output = daemon.output();
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("--once interrupted by SIGTERM")
            && output.contains("the reconciliation did not finish"),
        "{output}"
    );
}

/// `--once` with no engine to ask must end, not wait forever (a cron job or a deploy step would hang): after
/// `http.docker_grace` without a connection it exits 1, saying that Docker was unreachable and why, and has
/// sent nothing (without knowing what runs, a reconciliation would withdraw everything).
#[test]
fn once_gives_up_when_docker_stays_unreachable() {
    let emulator = Emulator::new();
    let hosted = emulator.create_zone(&unique_zone(), true);
    let server = spawn_server(emulator.clone(), 0).expect("emulator server");
    let (status, output) = Daemon::builder(&server.endpoint())
        .config(&format!(
            "[route53]\nzone_id = \"{}\"\n[host]\nip = \"10.0.0.19\"\n[http]\ndocker_grace = \"2s\"\n",
            hosted.id
        ))
        .env("R53R_DOCKER__HOST", "unix:///nonexistent.sock")
        .arg("--once")
        .run(DEADLINE);
    assert_eq!(status.code(), Some(1), "{output}");
    let line = output
        .lines()
        .find(|line| line.contains("--once gave up"))
        .unwrap_or_else(|| panic!("no line says why --once gave up: {output}"));
    assert!(
        line.contains("Docker engine was unreachable") && line.contains("nonexistent.sock"),
        "the line names the engine's trouble: {line}"
    );
    let changes = emulator
        .requests()
        .into_iter()
        .filter(|r| r.operation == Operation::ChangeResourceRecordSets)
        .count();
    assert_eq!(changes, 0, "nothing was sent without knowing what runs");
}

/// A public zone would publish the instances' private IPs to the internet: the daemon runs (it may be
/// deliberate), but says so at start, naming the zone.
#[test]
fn a_public_zone_is_used_with_a_warning_naming_it() {
    let (mut daemon, _server, zone) = daemon_without_docker(false, "10.0.0.18", None);
    daemon.wait_for_output(DEADLINE, "the hosted zone is public");
    let output = daemon.output();
    let line = output
        .lines()
        .find(|line| line.contains("the hosted zone is public"))
        .expect("the warning");
    assert!(line.contains("WARN") && line.contains(&zone), "{line}");
    assert_eq!(daemon.terminate().code(), Some(0), "{}", daemon.output());

    let (mut private, _server, _zone) = daemon_without_docker(true, "10.0.0.18", None);
    private.wait_for_output(DEADLINE, "hosted zone found");
    assert_eq!(private.terminate().code(), Some(0));
    assert!(
        !private.output().contains("the hosted zone is public"),
        "{}",
        private.output()
    );
}

/// A shutdown flush waits for Route53 up to `shutdown.timeout` (20 s); a second SIGTERM while it waits (here
/// on a stalled Route53) ends the daemon at once.
#[test]
fn a_second_sigterm_ends_a_shutdown_that_waits_for_route53() {
    let world = World::new();
    let config = world.config("10.0.0.19") + "[shutdown]\nderegister = true\n";
    let mut daemon = Daemon::builder(&world.server.endpoint())
        .config(&config)
        .spawn();
    let _a = world.service("second").run();
    world.wait_published("second", "10.0.0.19");
    world
        .emulator
        .fail_next(5, Fault::Stall(Duration::from_secs(30)));
    daemon.signal("TERM");
    daemon.wait_for_output(DEADLINE, "stopping: flushing pending changes");
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(5));
    let output = daemon.output();
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(output.contains("second signal"), "{output}");
}

/// The value of the series `series` (a metric's name with its labels, as rendered) in a Prometheus text
/// exposition; `None` when it is not there.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// `/metrics` of the daemon listening on `addr`, once it answers.
fn scrape(addr: &str) -> String {
    let mut text = String::new();
    wait_until(DEADLINE, "/metrics answers", || {
        match http_get(addr, "/metrics") {
            Ok((200, body)) => {
                text = body;
                true
            }
            _ => false,
        }
    });
    text
}

/// `/metrics` follows what the daemon does: events by action, containers by outcome, names published,
/// Route53 requests by operation and outcome, batch sizes and the latency of each change.
#[test]
fn metrics_move_as_containers_start_and_stop() {
    let world = World::new();
    let addr = format!("127.0.0.1:{}", free_port());
    let _daemon = Daemon::builder(&world.server.endpoint())
        .config(&world.config("10.0.0.11"))
        .env("R53R_HTTP__LISTEN", &addr)
        .spawn();
    let published = "route53_registrator_published_names";
    wait_until(DEADLINE, "the zone is read and nothing published", || {
        let text = scrape(&addr);
        metric(&text, published) == Some(0.0)
            && metric(&text, r#"route53_registrator_route53_requests_total{operation="ListResourceRecordSets",outcome="ok"}"#)
                .is_some_and(|n| n >= 1.0)
    });

    let web = world.service("metricsweb").run();
    world.wait_published("metricsweb", "10.0.0.11");
    wait_until(DEADLINE, "the metrics show the start", || {
        let text = scrape(&addr);
        metric(&text, published) == Some(1.0)
            && metric(
                &text,
                r#"route53_registrator_docker_events_total{action="start"}"#,
            )
            .is_some_and(|n| n >= 1.0)
            && metric(
                &text,
                r#"route53_registrator_containers_total{outcome="published",reason=""}"#,
            ) == Some(1.0)
            && metric(
                &text,
                r#"route53_registrator_route53_requests_total{operation="ChangeResourceRecordSets",outcome="ok"}"#,
            ) == Some(1.0)
            && metric(&text, "route53_registrator_route53_batch_size_count") == Some(1.0)
            && metric(&text, "route53_registrator_change_latency_seconds_count") == Some(1.0)
            && metric(&text, "route53_registrator_seconds_since_reconciled")
                .is_some_and(|s| s >= 0.0)
    });

    web.stop(5);
    world.wait_withdrawn("metricsweb", "10.0.0.11");
    wait_until(DEADLINE, "the metrics show the stop", || {
        let text = scrape(&addr);
        metric(&text, published) == Some(0.0)
            && metric(
                &text,
                r#"route53_registrator_docker_events_total{action="die"}"#,
            )
            .is_some_and(|n| n >= 1.0)
            && metric(
                &text,
                r#"route53_registrator_route53_requests_total{operation="ChangeResourceRecordSets",outcome="ok"}"#,
            ) == Some(2.0)
            && metric(&text, "route53_registrator_change_latency_seconds_count") == Some(2.0)
    });
}

/// `/healthz` answers 200 while Docker is reachable, 503 (saying why) once the Docker socket has been
/// unreachable for longer than `http.docker_grace`, and 200 again once it is back; `healthcheck` exits 0 and
/// 1 accordingly. Route53 is not involved.
#[test]
fn healthz_follows_the_docker_socket_with_its_grace() {
    let world = World::new();
    let mut proxy = SocketProxy::start();
    let addr = format!("127.0.0.1:{}", free_port());
    let config = world
        .config("10.0.0.12")
        .replace(
            "[docker]\n",
            &format!("[docker]\nhost = \"{}\"\n", proxy.host()),
        )
        .replace(
            "[http]\nlisten = \"\"\n",
            &format!("[http]\nlisten = \"{addr}\"\ndocker_grace = \"2s\"\n"),
        );
    assert!(
        config.contains(&addr) && config.contains(&proxy.host()),
        "{config}"
    );
    let _daemon = Daemon::builder(&world.server.endpoint())
        .config(&config)
        .spawn();
    let healthz = |want: u16| {
        wait_until(
            DEADLINE,
            &format!("/healthz answers {want}"),
            || matches!(http_get(&addr, "/healthz"), Ok((status, _)) if status == want),
        );
        http_get(&addr, "/healthz")
            .map(|(_, body)| body)
            .unwrap_or_default()
    };
    // 200 from the start (the stream counts as down within its grace until the first listing), then
    // connected.
    healthz(200);
    wait_until(DEADLINE, "/healthz says the stream is connected", || {
        http_get(&addr, "/healthz").is_ok_and(|(status, body)| {
            status == 200 && body.contains("docker: event stream connected")
        })
    });
    let healthcheck = || {
        Daemon::builder(&world.server.endpoint())
            .config(&config)
            .arg("healthcheck")
            .run(DEADLINE)
            .0
            .code()
    };
    assert_eq!(healthcheck(), Some(0));

    proxy.cut();
    let body = healthz(503);
    assert!(
        body.starts_with("unhealthy: Docker event stream down"),
        "{body}"
    );
    let docker = body
        .lines()
        .find(|line| line.starts_with("docker: "))
        .unwrap_or_default();
    assert!(
        docker
            .split_once(" s: ")
            .is_some_and(|(_, why)| !why.is_empty()),
        "the docker line says why the stream is down: {body}"
    );
    assert_eq!(healthcheck(), Some(1));

    proxy.restore();
    let body = healthz(200);
    assert!(body.starts_with("ok"), "{body}");
}

/// The end watch polls this often in the tests below (the default is 5 s).
const LIFECYCLE: &str = "[lifecycle]\ninterval = \"300ms\"\n";
const SPOT_ACTION: &str = "/latest/meta-data/spot/instance-action";
const TARGET_STATE: &str = "/latest/meta-data/autoscaling/target-lifecycle-state";
const TERMINATE: &str = r#"{"action": "terminate", "time": "2026-12-07T08:22:00Z"}"#;

/// A daemon of `world` publishing `ip` with `config`, its end watched through `imds`.
fn watched_daemon(world: &World, config: &str, imds: &ImdsServer, ip: &str) -> Daemon {
    Daemon::builder(&world.server.endpoint())
        .config(config)
        .imds(&imds.endpoint())
        .label(ip)
        .spawn()
}

/// Whether any change request the emulator received wrote `ip` under a name starting with `name` (`""`:
/// any name); a DELETE writes nothing.
fn ever_published(world: &World, name: &str, ip: &str) -> bool {
    world
        .emulator
        .requests()
        .iter()
        .flat_map(|r| r.changes.clone())
        .any(|c| {
            c.record_set.name.starts_with(name)
                && c.action != ChangeAction::Delete
                && c.record_set.values.iter().any(|v| v == ip)
        })
}

/// Two instances publish one name in `routing`; one gets a Spot interruption notice: it withdraws its own
/// value within a poll and `max_delay`, the other's stays; a container started after the notice is
/// published by the other only.
fn a_spot_notice_withdraws_the_leaving_instance_only(routing: &str, name: &str) {
    let world = World::new();
    let _service = world.service(name).run();
    let (ip_a, ip_b) = ("10.20.32.1", "10.20.32.2");
    let imds_a = ImdsServer::start(ip_a, "i-0aaaaaaaaaaaaa321");
    let imds_b = ImdsServer::start(ip_b, "i-0aaaaaaaaaaaaa322");
    let spawn = |ip: &str, imds: &ImdsServer| {
        let config = world.config(ip).replace(
            "[route53]\n",
            &format!("[route53]\nrouting = \"{routing}\"\n"),
        ) + LIFECYCLE;
        watched_daemon(&world, &config, imds, ip)
    };
    let mut a = spawn(ip_a, &imds_a);
    let _b = spawn(ip_b, &imds_b);
    world.wait_published(name, ip_a);
    world.wait_published(name, ip_b);

    imds_a.set_item(SPOT_ACTION, Some(TERMINATE));
    let noticed = std::time::Instant::now();
    world.wait_withdrawn(name, ip_a);
    eprintln!(
        "{routing}: withdrawn {:?} after the notice (poll 300 ms + max_delay 300 ms)",
        noticed.elapsed()
    );
    assert!(world.ips(name).contains(ip_b), "the other instance's stays");
    a.wait_for_output(DEADLINE, "the instance is going");

    let later = format!("{name}2");
    let _later = world.service(&later).run();
    world.wait_published(&later, ip_b);
    assert!(
        !ever_published(&world, &format!("{later}."), ip_a),
        "nothing published after the notice"
    );
}

#[test]
fn a_spot_notice_withdraws_the_leaving_instance_only_in_multivalue() {
    a_spot_notice_withdraws_the_leaving_instance_only("multivalue", "endmv");
}

#[test]
fn a_spot_notice_withdraws_the_leaving_instance_only_in_weighted() {
    a_spot_notice_withdraws_the_leaving_instance_only("weighted", "endwt");
}

#[test]
fn a_spot_notice_withdraws_the_leaving_instance_only_in_simple() {
    a_spot_notice_withdraws_the_leaving_instance_only("simple", "endsp");
}

/// The Auto Scaling target lifecycle state: a warm pool's `Warmed:Running` withdraws and `InService`
/// publishes again; `Terminated` withdraws; metadata errors withdraw nothing.
#[test]
fn the_auto_scaling_state_withdraws_and_publishes_again_and_errors_change_nothing() {
    let world = World::new();
    let _service = world.service("endasg").run();
    let ip = "10.20.32.11";
    let imds = ImdsServer::start(ip, "i-0aaaaaaaaaaaa3211");
    let addr = format!("127.0.0.1:{}", free_port());
    let config =
        (world.config(ip) + LIFECYCLE).replace("listen = \"\"", &format!("listen = \"{addr}\""));
    let mut daemon = watched_daemon(&world, &config, &imds, ip);
    world.wait_published("endasg", ip);

    imds.set_failing(true);
    daemon.wait_for_output(DEADLINE, "cannot tell from the instance metadata service");
    world.assert_stays("endasg", true, Duration::from_secs(1));
    imds.set_failing(false);

    imds.set_item(TARGET_STATE, Some("Warmed:Running"));
    world.wait_withdrawn("endasg", ip);
    // Said in /healthz's body, which stays 200 (the daemon works; the instance is leaving), and the metrics.
    let (status, body) = http_get(&addr, "/healthz").expect("/healthz answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("INSTANCE LEAVING"), "{body}");
    assert!(body.contains("Warmed:Running"), "{body}");
    let (_, metrics) = http_get(&addr, "/metrics").expect("/metrics answers");
    assert!(
        metrics.contains("route53_registrator_instance_leaving 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("route53_registrator_lifecycle_notices_total 1"),
        "{metrics}"
    );
    imds.set_item(TARGET_STATE, Some("InService"));
    world.wait_published("endasg", ip);
    daemon.wait_for_output(DEADLINE, "the instance's end is called off");

    imds.set_item(TARGET_STATE, Some("Terminated"));
    world.wait_withdrawn("endasg", ip);
}

/// A notice that already stands when the daemon starts (restarted after it, or a warm pool's instance
/// booting) is seen before the first write: nothing is ever published.
#[test]
fn a_notice_standing_at_start_up_publishes_nothing() {
    let world = World::new();
    let _service = world.service("endstart").run();
    let ip = "10.20.32.21";
    let imds = ImdsServer::start(ip, "i-0aaaaaaaaaaaa3221");
    imds.set_item(SPOT_ACTION, Some(TERMINATE));
    let mut daemon = watched_daemon(&world, &(world.config(ip) + LIFECYCLE), &imds, ip);
    daemon.wait_for_output(DEADLINE, "the instance is going");
    // Its start goes on (the zone is read), and writes nothing that publishes.
    wait_until(DEADLINE, "the zone read", || {
        list_requests(&world.emulator) > 0
    });
    world.assert_stays("endstart", false, Duration::from_secs(1));
    assert!(!ever_published(&world, "", ip), "nothing published");
}
