//! End to end: the clean-up of a gone instance's record sets (`[gc]`), by real daemons on the real engine,
//! against the emulator over HTTP, which answers both Route53 and EC2's DescribeInstances.
//!
//! In each routing: two daemons (two instances, declared running in the emulator's EC2) publish one name;
//! one is killed with SIGKILL (it withdraws nothing) and declared terminated. The survivor's first check
//! after the kill gets an EC2 error, which must count for nothing; the checks after it see the owner gone
//! twice, at least `gc.grace` apart, and the survivor withdraws the dead owner's record set (in simple
//! routing, its IP from the shared set) and keeps its own.
//!
//! A member that joined after the survivor read the zone (in multivalue routing a running instance reads
//! nothing) is known from its ledger at each check, and collected with its ledger once terminated.
//!
//! With one other owner in sight, a daemon checks at most every 1 / 0.2 per second = 5 s (jittered up to
//! 7.5 s): the fleet's budget, which no setting shortens. So each routing takes about four checks, 20 s.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use route53_emulator::Fault;
use support::daemon::Daemon;
use support::wait_until;
use support::world::World;

/// The test's `[gc]`: checks as often as the fleet's budget allows, and a short grace.
const GC: &str = "[gc]\nenabled = true\ninterval = \"1s\"\ngrace = \"2s\"\n";
const GRACE: Duration = Duration::from_secs(2);

/// What the survivor logs for each gone owner's record set it withdraws.
const WITHDRAWN: &str = "withdrawn: its instance is gone";

/// The longest from one check to the next with one other owner in sight (5 s, jittered up to 1.5x), with
/// room for a busy machine.
const ONE_CHECK: Duration = Duration::from_secs(20);

/// One instance of the test: its IP, its instance id, and the owner id it writes (`host.owner_id`).
struct Instance {
    ip: &'static str,
    id: &'static str,
    by_instance_id: bool,
}

impl Instance {
    fn owner(&self) -> &'static str {
        if self.by_instance_id {
            self.id
        } else {
            self.ip
        }
    }

    fn daemon(&self, world: &World, routing: &str) -> Daemon {
        let mut config = world.config(self.ip).replace(
            "[route53]\n",
            &format!("[route53]\nrouting = \"{routing}\"\n"),
        ) + GC;
        if self.by_instance_id {
            config = config.replace("[host]\n", &format!("[host]\nowner_id = \"{}\"\n", self.id));
        }
        Daemon::builder(&world.server.endpoint())
            .config(&config)
            .label(&format!("{routing} {}", self.ip))
            .spawn()
    }
}

/// The owners of the record sets under `name`: the SetIdentifiers, or in simple routing the IPs.
fn owners(world: &World, name: &str) -> Vec<String> {
    let mut owners: Vec<String> = world
        .a_records(name)
        .iter()
        .flat_map(|rs| match &rs.set_identifier {
            Some(id) => vec![id.clone()],
            None => rs.values.clone(),
        })
        .collect();
    owners.sort();
    owners
}

/// The number of DescribeInstances the emulator answered with `status`.
fn ec2_answers(world: &World, status: u16) -> usize {
    world
        .emulator
        .ec2_requests()
        .iter()
        .filter(|r| r.status == status)
        .count()
}

#[test]
fn the_survivor_withdraws_a_killed_instances_record_sets_in_each_routing() {
    for (routing, by_instance_id) in [("multivalue", false), ("weighted", true), ("simple", false)]
    {
        let world = World::new();
        let survivor = Instance {
            ip: "10.0.7.1",
            id: "i-0a0000000000000a1",
            by_instance_id,
        };
        let doomed = Instance {
            ip: "10.0.7.2",
            id: "i-0a0000000000000a2",
            by_instance_id,
        };
        for instance in [&survivor, &doomed] {
            world
                .emulator
                .declare_instance(instance.id, Some(instance.ip), "running");
        }
        let name = format!("gc{routing}");
        let _service = world.service(&name).run();
        // The doomed instance first: the survivor's start-up reads the zone and sees it there.
        let mut dead = doomed.daemon(&world, routing);
        world.wait_published(&name, doomed.ip);
        let mut alive = survivor.daemon(&world, routing);
        world.wait_published(&name, survivor.ip);
        let both = {
            let mut both = vec![survivor.owner().to_string(), doomed.owner().to_string()];
            both.sort();
            both
        };
        assert_eq!(owners(&world, &name), both, "{routing}");

        // A check of two running owners deletes nothing.
        wait_until(ONE_CHECK * 2, &format!("{routing}: a first check"), || {
            ec2_answers(&world, 200) >= 1
        });
        assert_eq!(owners(&world, &name), both, "{routing}: both running");

        dead.signal("KILL");
        dead.wait_exit(Duration::from_secs(10));
        // The fault first: no check may see the owner terminated before the error.
        world.emulator.ec2_fail_next(1, Fault::Status(503));
        world
            .emulator
            .declare_instance(doomed.id, Some(doomed.ip), "terminated");

        // The error, then the first sighting of the terminated owner: had the error counted as a
        // sighting (or as an answer without the owner), this check would be the second, and delete.
        wait_until(
            ONE_CHECK * 2,
            &format!("{routing}: an error answered"),
            || ec2_answers(&world, 503) == 1,
        );
        let answered = ec2_answers(&world, 200);
        wait_until(
            ONE_CHECK,
            &format!("{routing}: a check after the error"),
            || ec2_answers(&world, 200) > answered,
        );
        world.assert_stays(&name, true, Duration::from_secs(2));
        assert_eq!(
            owners(&world, &name),
            both,
            "{routing}: seen gone once is not gone"
        );

        // The second sighting, at least gc.grace later, withdraws it; the survivor's own record set stays.
        wait_until(
            GRACE + ONE_CHECK,
            &format!("{routing}: the dead owner withdrawn"),
            || owners(&world, &name) == vec![survivor.owner().to_string()],
        );
        // Logged with the owner and the name.
        alive.wait_for_output(Duration::from_secs(5), WITHDRAWN);
        let output = alive.output();
        let line = output
            .lines()
            .find(|l| l.contains(WITHDRAWN))
            .unwrap_or_default();
        assert!(
            line.contains(doomed.owner()) && line.contains(&name),
            "{routing}: the log names the owner and the name: {line}"
        );
        if routing == "simple" {
            assert_eq!(world.markers(&name), 1, "simple: the marker stays");
        }
        world.assert_stays(&name, true, Duration::from_secs(2));
        assert_eq!(owners(&world, &name), vec![survivor.owner().to_string()]);
    }
}

#[test]
fn a_member_that_joined_after_the_survivor_started_is_collected_with_its_ledger() {
    let world = World::new();
    let survivor = Instance {
        ip: "10.0.7.1",
        id: "i-0a0000000000000b1",
        by_instance_id: false,
    };
    let late = Instance {
        ip: "10.0.7.3",
        id: "i-0a0000000000000b3",
        by_instance_id: false,
    };
    for instance in [&survivor, &late] {
        world
            .emulator
            .declare_instance(instance.id, Some(instance.ip), "running");
    }
    let name = "gclate";
    let _service = world.service(name).run();
    // The survivor first: it has read the zone before the late member writes anything.
    let mut alive = survivor.daemon(&world, "multivalue");
    world.wait_published(name, survivor.ip);
    let mut dead = late.daemon(&world, "multivalue");
    world.wait_published(name, late.ip);
    let members = BTreeSet::from([survivor.ip.to_string(), late.ip.to_string()]);
    wait_until(ONE_CHECK, "both ledgers written", || {
        world.ledger_owners() == members
    });

    dead.signal("KILL");
    dead.wait_exit(Duration::from_secs(10));
    world
        .emulator
        .declare_instance(late.id, Some(late.ip), "terminated");
    wait_until(
        GRACE + ONE_CHECK * 3,
        "the late member withdrawn, and its ledger deleted",
        || {
            owners(&world, name) == vec![survivor.ip.to_string()]
                && world.ledger_owners() == BTreeSet::from([survivor.ip.to_string()])
        },
    );
    alive.wait_for_output(Duration::from_secs(5), "deleted the ledger of a gone owner");
    world.assert_stays(name, true, Duration::from_secs(2));
}
