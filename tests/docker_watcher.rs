//! The Docker side against the real engine: `BollardDocker` (version negotiation, inspection) and the
//! `DockerWatcher` actor (snapshots and events, as the classifier will see them).
//!
//! Containers here carry a task family no daemon publishes, so that end-to-end tests running meanwhile on
//! the same engine ignore them; every check filters the watcher's output down to this test's containers.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use route53_registrator::config::SelectionSettings;
use route53_registrator::desired::state::DesiredState;
use route53_registrator::docker::container::{ContainerEvent, ContainerInfo, Health};
use route53_registrator::docker::engine::{resolve_host, started_at, BollardDocker, DockerApi};
use route53_registrator::docker::watcher::{Connection, DockerStatus, DockerWatcher};
use route53_registrator::testing::{wait_until, Recorder, Recording, WatcherMessage};

use support::docker::{
    docker, require_test_image, ContainerSpec, Network, FAMILY_LABEL, NAME_LABEL,
    NOT_A_SERVICE_FAMILY, READY,
};
use support::unique;

const TIMEOUT: Duration = Duration::from_secs(30);

fn host() -> String {
    resolve_host("", std::env::var("DOCKER_HOST").ok().as_deref())
}

/// A supervised watcher of the real engine, and what it sends.
struct Watched {
    seen: Recording<WatcherMessage>,
    status: Arc<DockerStatus>,
    _watcher: Addr<DockerWatcher>,
}

impl Watched {
    fn start(resync_interval: Duration) -> Watched {
        let seen = Recorder::start();
        let recorder = seen.clone();
        let status = Arc::new(DockerStatus::new(Instant::now()));
        let for_watcher = Arc::clone(&status);
        let watcher = Supervisor::start(move |_| {
            DockerWatcher::for_host(
                host(),
                resync_interval,
                recorder.recipient(),
                recorder.recipient(),
                for_watcher,
            )
        });
        Watched {
            seen,
            status,
            _watcher: watcher,
        }
    }

    fn seen(&self) -> Vec<WatcherMessage> {
        self.seen.seen()
    }

    fn snapshots(&self) -> Vec<Vec<ContainerInfo>> {
        self.seen()
            .into_iter()
            .filter_map(|seen| match seen {
                WatcherMessage::Snapshot(containers) => Some(containers),
                WatcherMessage::Event(_) => None,
            })
            .collect()
    }

    /// The events about container `id`, in order.
    fn events_of(&self, id: &str) -> Vec<ContainerEvent> {
        self.seen()
            .into_iter()
            .filter_map(|seen| match seen {
                WatcherMessage::Event(event) if event_id(&event) == id => Some(event),
                _ => None,
            })
            .collect()
    }

    async fn first_snapshot(&self) {
        wait_until(TIMEOUT, "the watcher's first snapshot", || {
            !self.snapshots().is_empty()
        })
        .await;
    }

    async fn wait_for_event(
        &self,
        id: &str,
        what: &str,
        matches: impl Fn(&ContainerEvent) -> bool,
    ) -> ContainerEvent {
        wait_until(TIMEOUT, what, || self.events_of(id).iter().any(&matches)).await;
        self.events_of(id)
            .into_iter()
            .find(|event| matches(event))
            .expect("just seen")
    }
}

fn event_id(event: &ContainerEvent) -> &str {
    match event {
        ContainerEvent::Started(info) => &info.id,
        ContainerEvent::Kill { id, .. }
        | ContainerEvent::Die { id }
        | ContainerEvent::Health { id, .. }
        | ContainerEvent::Destroy { id } => id,
    }
}

#[actix_rt::test]
async fn the_client_negotiates_the_engines_api_version() {
    let engine_version = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    let client = BollardDocker::connect(&host())
        .await
        .expect("connect to Docker");
    assert_eq!(
        client.api_version(),
        engine_version,
        "bollard must speak the engine's version, not its default"
    );
    let missing = client
        .inspect("no-such-container-route53-registrator")
        .await
        .expect("a 404 is not an error");
    assert_eq!(missing, None);
}

#[actix_rt::test]
async fn a_started_container_is_reported_with_labels_network_health_and_stop_signal() {
    require_test_image();
    let network = Network::create(&unique("r53r-net"));
    let name = unique("watch-start");
    let watched = Watched::start(Duration::from_secs(3600));
    watched.first_snapshot().await;
    assert!(matches!(
        watched.status.connection(),
        Connection::Connected { .. }
    ));

    let container = ContainerSpec::new(&name)
        .network(&network)
        .ecs(NOT_A_SERVICE_FAMILY, &name)
        .label("extra", "value")
        .stop_signal("SIGQUIT")
        .health_cmd("test ! -e /sick", "1s")
        .run();

    let started = watched
        .wait_for_event(container.id(), "the Started event", |event| {
            matches!(event, ContainerEvent::Started(_))
        })
        .await;
    let ContainerEvent::Started(info) = started else {
        unreachable!()
    };
    assert_eq!(info.id, container.id());
    assert_eq!(info.name, name, "the name without Docker's leading '/'");
    assert_eq!(
        info.labels.get(FAMILY_LABEL).map(String::as_str),
        Some(NOT_A_SERVICE_FAMILY)
    );
    assert_eq!(info.labels.get(NAME_LABEL), Some(&name));
    assert_eq!(info.labels.get("extra").map(String::as_str), Some("value"));
    assert_eq!(info.network_mode, network.name());
    assert_eq!(info.stop_signal.as_deref(), Some("SIGQUIT"));
    assert_eq!(info.health, Health::Starting, "a healthcheck's first state");

    watched
        .wait_for_event(container.id(), "healthy", |event| {
            matches!(
                event,
                ContainerEvent::Health {
                    health: Health::Healthy,
                    ..
                }
            )
        })
        .await;
    docker(&["exec", container.id(), "sh", "-c", "echo > /sick"]);
    watched
        .wait_for_event(container.id(), "unhealthy", |event| {
            matches!(
                event,
                ContainerEvent::Health {
                    health: Health::Unhealthy,
                    ..
                }
            )
        })
        .await;
}

#[actix_rt::test]
async fn the_snapshot_lists_a_container_already_running_and_resyncs_list_again() {
    require_test_image();
    let network = Network::create(&unique("r53r-net"));
    let name = unique("watch-list");
    let container = ContainerSpec::new(&name)
        .network(&network)
        .ecs(NOT_A_SERVICE_FAMILY, &name)
        .run();

    let watched = Watched::start(Duration::from_millis(500));
    watched.first_snapshot().await;
    let listed = watched.snapshots()[0]
        .iter()
        .find(|info| info.id == container.id())
        .cloned();
    let listed = listed.expect("the running container is in the first snapshot");
    assert_eq!(listed.name, name);
    assert_eq!(listed.network_mode, network.name());
    assert_eq!(listed.health, Health::NoCheck);
    assert_eq!(listed.stop_signal, None);
    assert_eq!(listed.labels.get(NAME_LABEL), Some(&name));

    // A resync lists again; once the container is gone, it is no longer in the snapshots.
    container.remove_now();
    wait_until(
        TIMEOUT,
        "a resync's snapshot without the removed container",
        || {
            watched.snapshots().len() >= 2
                && !watched
                    .snapshots()
                    .last()
                    .unwrap()
                    .iter()
                    .any(|info| info.id == container.id())
        },
    )
    .await;
}

#[actix_rt::test]
async fn a_kill_reports_the_signal_number_then_the_container_dies() {
    require_test_image();
    let network = Network::create(&unique("r53r-net"));
    let name = unique("watch-kill");
    let watched = Watched::start(Duration::from_secs(3600));
    watched.first_snapshot().await;
    let container = ContainerSpec::new(&name)
        .network(&network)
        .ecs(NOT_A_SERVICE_FAMILY, &name)
        .run();
    watched
        .wait_for_event(container.id(), "started", |event| {
            matches!(event, ContainerEvent::Started(_))
        })
        .await;

    // Its shell must have set its trap first: PID 1 drops a SIGTERM it has no handler for.
    container.wait_for_output(READY, Duration::from_secs(30));
    container.kill("TERM");
    watched
        .wait_for_event(container.id(), "die", |event| {
            matches!(event, ContainerEvent::Die { .. })
        })
        .await;
    let events = watched.events_of(container.id());
    let kill = events
        .iter()
        .position(|event| matches!(event, ContainerEvent::Kill { .. }))
        .expect("a kill event");
    let die = events
        .iter()
        .position(|event| matches!(event, ContainerEvent::Die { .. }))
        .unwrap();
    assert_eq!(
        events[kill],
        ContainerEvent::Kill {
            id: container.id().to_string(),
            signal: "15".into()
        }
    );
    assert!(kill < die, "kill comes before die: {events:?}");
}

#[actix_rt::test]
async fn a_container_removed_with_rm_f_still_yields_die_and_destroy() {
    require_test_image();
    let network = Network::create(&unique("r53r-net"));
    let name = unique("watch-rm");
    let container = ContainerSpec::new(&name)
        .network(&network)
        .ecs(NOT_A_SERVICE_FAMILY, &name)
        .run();
    let watched = Watched::start(Duration::from_secs(3600));
    watched.first_snapshot().await;

    container.remove_now();
    watched
        .wait_for_event(container.id(), "destroy", |event| {
            matches!(event, ContainerEvent::Destroy { .. })
        })
        .await;
    // The subscription reaches a second back, so the container's `start` may be replayed first.
    let events: Vec<ContainerEvent> = watched
        .events_of(container.id())
        .into_iter()
        .filter(|event| !matches!(event, ContainerEvent::Started(_)))
        .collect();
    let expected = [
        ContainerEvent::Kill {
            id: container.id().to_string(),
            signal: "9".into(),
        },
        ContainerEvent::Die {
            id: container.id().to_string(),
        },
        ContainerEvent::Destroy {
            id: container.id().to_string(),
        },
    ];
    assert_eq!(
        events, expected,
        "rm -f kills with SIGKILL, then the container dies and is destroyed"
    );
}

#[actix_rt::test]
async fn a_container_that_exits_at_once_with_rm_still_yields_die_and_destroy() {
    require_test_image();
    let network = Network::create(&unique("r53r-net"));
    let name = unique("watch-rm-exit");
    let watched = Watched::start(Duration::from_secs(3600));
    watched.first_snapshot().await;

    let container = ContainerSpec::new(&name)
        .network(&network)
        .ecs(NOT_A_SERVICE_FAMILY, &name)
        .auto_remove()
        .shell("exit 3")
        .run();
    watched
        .wait_for_event(container.id(), "destroy", |event| {
            matches!(event, ContainerEvent::Destroy { .. })
        })
        .await;
    let events = watched.events_of(container.id());
    let die = events
        .iter()
        .position(|event| matches!(event, ContainerEvent::Die { .. }))
        .expect("a die event");
    assert_eq!(
        die + 1,
        events.len() - 1,
        "destroy comes right after die: {events:?}"
    );
    // Its start is reported only if the container could still be inspected then.
    assert!(events.len() <= 3, "{events:?}");
}

/// This test's container in a listing of the running ones, if there.
async fn listed(client: &BollardDocker, id: &str) -> Option<ContainerInfo> {
    client
        .list_running()
        .await
        .expect("list the running containers")
        .into_iter()
        .find(|info| info.id == id)
}

/// Docker keeps a container's id when it is started again and gives the new run a new `StartedAt`: that is
/// how the desired state keeps a listing of the run that died withdrawn, yet publishes the next run even
/// when its `start` event was missed.
#[actix_rt::test]
async fn a_container_started_again_keeps_its_id_and_its_new_run_is_told_from_the_dead_one() {
    require_test_image();
    let network = Network::create(&unique("r53r-net"));
    let name = unique("watch-rerun");
    let container = ContainerSpec::new(&name)
        .network(&network)
        .ecs(NOT_A_SERVICE_FAMILY, &name)
        .run();
    let client = BollardDocker::connect(&host())
        .await
        .expect("connect to Docker");

    let first = listed(&client, container.id())
        .await
        .expect("listed while it runs");
    let first_run = first
        .started_at
        .expect("a running container has a StartedAt");
    assert_eq!(
        started_at(&container.inspect("{{.State.StartedAt}}").unwrap()),
        Some(first_run),
        "the run the docker CLI reports"
    );
    let inspected = client.inspect(container.id()).await.unwrap().unwrap();
    assert_eq!(
        inspected.started_at,
        Some(first_run),
        "inspect and list agree"
    );

    // Only this test's state takes the test family for a service (no daemon publishes it).
    let mut state = DesiredState::new(SelectionSettings {
        family_suffixes: vec![NOT_A_SERVICE_FAMILY.to_string()],
        ..SelectionSettings::default()
    });
    state.snapshot(vec![first.clone()]);
    let published = state.records();
    assert_eq!(published.len(), 1, "{published:?}");

    container.stop(10);
    state.apply(ContainerEvent::Die {
        id: container.id().to_string(),
    });
    assert_eq!(listed(&client, container.id()).await, None, "stopped");
    state.snapshot(vec![first.clone()]);
    assert!(
        state.records().is_empty(),
        "a listing of the run that died (taken before its die) keeps it withdrawn"
    );

    // `docker start` again; the state hears nothing of it but the next listing.
    docker(&["start", container.id()]);
    let second = listed(&client, container.id())
        .await
        .expect("listed once started again");
    assert_eq!(second.id, first.id, "the same container");
    assert!(
        second.started_at.is_some() && second.started_at != first.started_at,
        "a new run: {:?} after {:?}",
        second.started_at,
        first.started_at
    );
    state.snapshot(vec![second]);
    assert_eq!(state.records(), published, "the new run is published again");
}

/// Docker lists a container that waits for its restart policy as running, with the `StartedAt` of the run
/// that died; the listing leaves it out, since nothing runs there.
#[actix_rt::test]
async fn a_container_waiting_for_its_restart_policy_is_not_listed() {
    require_test_image();
    let network = Network::create(&unique("r53r-net"));
    let name = unique("watch-restarting");
    let container = ContainerSpec::new(&name)
        .network(&network)
        .ecs(NOT_A_SERVICE_FAMILY, &name)
        .option("--restart")
        .option("always")
        .shell("exit 1")
        .run();
    let client = BollardDocker::connect(&host())
        .await
        .expect("connect to Docker");

    // Docker doubles its delay after each quick exit (100 ms, 200 ms, ...): after a few restarts the
    // container waits long enough to be listed meanwhile. A listing counts only if the container was
    // waiting, in the same run, both before and after it.
    let waiting = || {
        container
            .inspect("{{.State.Restarting}} {{.RestartCount}} {{.State.StartedAt}}")
            .and_then(|state| {
                let mut parts = state.split(' ');
                let restarting = parts.next()? == "true";
                let count: u32 = parts.next()?.parse().ok()?;
                let run = parts.next()?.to_string();
                (restarting && count >= 3).then_some(run)
            })
    };
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(
            Instant::now() < deadline,
            "never listed while waiting to restart"
        );
        let Some(before) = waiting() else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let seen = listed(&client, container.id()).await;
        let in_docker_ps =
            !docker(&["ps", "-q", "--filter", &format!("id={}", container.id())]).is_empty();
        if waiting().as_ref() == Some(&before) {
            assert!(
                in_docker_ps,
                "`docker ps` lists a container waiting to restart"
            );
            assert_eq!(seen, None, "listed while waiting to restart");
            break;
        }
    }
}
