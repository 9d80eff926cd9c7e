//! The narrow trait over the Docker engine ([`DockerApi`]) and its implementation over bollard
//! ([`BollardDocker`]).
//!
//! The daemon only reads from Docker: it lists the running containers, inspects one, and follows the event
//! stream. Everything it keeps of a container is a [`ContainerInfo`], taken from `docker inspect` when the
//! container starts (or is first listed), so that a container that is already gone when its `die` arrives
//! (`docker run --rm`, `docker rm -f`) can still be withdrawn without inspecting it again.
//!
//! The mapping from bollard's types is made of plain functions ([`container_info`], [`parse_event`]) that
//! the unit tests below reach without an engine.
//!
//! Version: bollard speaks Docker API 1.53 by default, and engines in use still speak older versions (Debian's
//! 20.10 speaks 1.41), which refuse newer requests. [`BollardDocker::connect`] negotiates: it asks the
//! engine for its version and downgrades the client to it.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerInspectResponse, EventMessage, HealthStatusEnum};
use bollard::query_parameters::{EventsOptions, InspectContainerOptions, ListContainersOptions};
use bollard::Docker;
use futures_util::stream::{self, BoxStream, StreamExt};
use futures_util::FutureExt;

use crate::docker::container::{ContainerEvent, ContainerInfo, Health, TimedEvent};

/// The engine's address when neither `docker.host` nor `DOCKER_HOST` names one.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// How many containers are inspected at once when listing (a bound, so that 200 containers do not open
/// 200 connections to the engine at once).
const INSPECT_CONCURRENCY: usize = 8;

/// The container events the daemon acts on; the engine filters out every other one.
const EVENT_ACTIONS: [&str; 5] = ["start", "kill", "die", "health_status", "destroy"];

/// Timeout of each request to the engine. It bounds the wait for the response's headers, not the life of
/// the event stream, which stays open for as long as the engine keeps it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a Docker call failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The address is not one bollard can connect to (`unix://`, `tcp://`, `http://`).
    #[error("cannot use Docker host {host:?}: {source}")]
    Host { host: String, source: BollardError },
    /// The engine did not answer, or answered with an error.
    #[error("Docker {operation} failed: {source}")]
    Api {
        operation: &'static str,
        source: BollardError,
    },
    /// A container's inspection had no id: the engine's answer is not one we understand.
    #[error("Docker answered an inspection of {0} without a container id")]
    Malformed(String),
    /// A bug in our own code or a library's, caught instead of taking the daemon down.
    #[error("panic while talking to Docker: {0}")]
    Panic(String),
}

/// The subset of the Docker API the daemon uses. Add methods as required.
#[async_trait]
pub trait DockerApi: Send + Sync {
    /// Every running container, inspected. A container that disappears or stops between the listing and its
    /// inspection is left out, and so is one that Docker lists while it waits for its restart policy (see
    /// [`is_running`]).
    async fn list_running(&self) -> Result<Vec<ContainerInfo>, DockerError>;

    /// One container, or `None` when the engine no longer knows it (404).
    async fn inspect(&self, id: &str) -> Result<Option<ContainerInfo>, DockerError>;

    /// The container events (`start`, `kill`, `die`, `health_status`, `destroy`) from `since` on, in the
    /// engine's order; the events the engine still holds from before the request are replayed. A `start`
    /// is inspected and becomes [`ContainerEvent::Started`]; one whose container is already gone is
    /// dropped (its `die` and `destroy` follow). The stream ends or yields an error when the connection
    /// does; it never resumes.
    /// Each event carries the engine's time for it ([`TimedEvent`]).
    fn events(&self, since: SystemTime) -> BoxStream<'static, Result<TimedEvent, DockerError>>;
}

/// [`DockerApi`] over a bollard client whose API version has been negotiated with the engine.
#[derive(Clone, Debug)]
pub struct BollardDocker {
    docker: Docker,
}

impl BollardDocker {
    /// Connects to `host` (see [`resolve_host`]) and negotiates the API version. Fails when the engine does
    /// not answer.
    pub async fn connect(host: &str) -> Result<BollardDocker, DockerError> {
        let docker = Docker::connect_with_host(host)
            .map_err(|source| DockerError::Host {
                host: host.to_string(),
                source,
            })?
            .with_timeout(REQUEST_TIMEOUT);
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|source| DockerError::Api {
                operation: "version negotiation",
                source,
            })?;
        Ok(BollardDocker { docker })
    }

    /// The API version in use after negotiation, such as `1.41`.
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }
}

/// The engine address to use: `docker.host` when set, else `DOCKER_HOST` when set, else
/// [`DEFAULT_DOCKER_HOST`].
pub fn resolve_host(configured: &str, docker_host_env: Option<&str>) -> String {
    [Some(configured), docker_host_env]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|host| !host.is_empty())
        .unwrap_or(DEFAULT_DOCKER_HOST)
        .to_string()
}

/// The engine's time for an event: `timeNano`, else `time` (seconds); `None` when it gives neither.
pub fn event_time(message: &EventMessage) -> Option<SystemTime> {
    let nanos = message.time_nano.filter(|n| *n > 0).or_else(|| {
        message
            .time
            .filter(|s| *s > 0)
            .map(|s| s.saturating_mul(1_000_000_000))
    })?;
    UNIX_EPOCH.checked_add(Duration::from_nanos(u64::try_from(nanos).ok()?))
}

/// What an event from the engine means before any follow-up call: either the event itself, or a container
/// that started and must be inspected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParsedEvent {
    /// `start`: inspect the container to learn its labels, network mode, health and stop signal.
    Start { id: String },
    /// Any other event the daemon acts on, complete as it is.
    Ready(ContainerEvent),
}

/// Maps one engine event to what the daemon acts on; `None` for events it ignores (other types and
/// actions, or an event without a container id).
///
/// | `Action`                     | result                                   |
/// |------------------------------|------------------------------------------|
/// | `start`                      | `Start { id }`                           |
/// | `kill` (attribute `signal`)  | `Kill { id, signal }` (`""` when absent) |
/// | `die`                        | `Die { id }`                             |
/// | `health_status: healthy`     | `Health { id, Healthy }`                 |
/// | `health_status: unhealthy`   | `Health { id, Unhealthy }`               |
/// | `health_status: starting`    | `Health { id, Starting }`                |
/// | `destroy`                    | `Destroy { id }`                         |
/// | anything else                | `None`                                   |
pub fn parse_event(message: &EventMessage) -> Option<ParsedEvent> {
    use bollard::models::EventMessageTypeEnum;
    if let Some(kind) = message.typ {
        if kind != EventMessageTypeEnum::CONTAINER {
            return None;
        }
    }
    let actor = message.actor.as_ref()?;
    let id = actor.id.clone().filter(|id| !id.is_empty())?;
    let action = message.action.as_deref()?;
    let event = match action {
        "start" => return Some(ParsedEvent::Start { id }),
        "kill" => {
            let signal = actor
                .attributes
                .as_ref()
                .and_then(|attributes| attributes.get("signal"))
                .cloned()
                .unwrap_or_default();
            ContainerEvent::Kill { id, signal }
        }
        "die" => ContainerEvent::Die { id },
        "destroy" => ContainerEvent::Destroy { id },
        _ => {
            // Docker reports health changes as the action `health_status: <status>`.
            let status = action
                .strip_prefix("health_status")?
                .trim_start_matches(':')
                .trim();
            let health = match status {
                "healthy" => Health::Healthy,
                "unhealthy" => Health::Unhealthy,
                "starting" => Health::Starting,
                _ => return None,
            };
            ContainerEvent::Health { id, health }
        }
    };
    Some(ParsedEvent::Ready(event))
}

/// What the daemon keeps of an inspected container; `None` when the answer has no id.
///
/// Health comes from `State.Health.Status` (no `Health`: the container has no healthcheck), the network
/// mode from `HostConfig.NetworkMode`, the stop signal from `Config.StopSignal`, the start of this run from
/// `State.StartedAt` (see [`started_at`]), and the name loses Docker's leading `/`.
pub fn container_info(inspected: ContainerInspectResponse) -> Option<ContainerInfo> {
    let id = inspected.id.filter(|id| !id.is_empty())?;
    let name = inspected
        .name
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let (labels, stop_signal) = match inspected.config {
        Some(config) => (
            config
                .labels
                .unwrap_or_default()
                .into_iter()
                .collect::<BTreeMap<_, _>>(),
            config.stop_signal.filter(|signal| !signal.is_empty()),
        ),
        None => (BTreeMap::new(), None),
    };
    let network_mode = inspected
        .host_config
        .and_then(|host| host.network_mode)
        .unwrap_or_default();
    let state = inspected.state.unwrap_or_default();
    let started_at = state.started_at.as_deref().and_then(started_at);
    let health = match state.health.and_then(|health| health.status) {
        None | Some(HealthStatusEnum::EMPTY) | Some(HealthStatusEnum::NONE) => Health::NoCheck,
        Some(HealthStatusEnum::STARTING) => Health::Starting,
        Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
        Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
    };
    Some(ContainerInfo {
        id,
        name,
        labels,
        network_mode,
        health,
        stop_signal,
        started_at,
    })
}

/// `State.StartedAt` as Docker writes it (RFC 3339 in UTC with up to nine fractional digits, trailing zeros
/// dropped: `2024-05-01T12:00:00.1234567Z`); `None` for Go's zero time `0001-01-01T00:00:00Z` (never
/// started) and anything unparsable. Parsed rather than kept as text so that one instant is one value
/// whatever its spelling.
pub fn started_at(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(text.trim()).ok()
}

/// Whether an inspected container belongs in a listing of the running ones. Docker lists a container that
/// waits to be restarted by its restart policy as running (`State.Restarting`, with `Running` still true and
/// the `StartedAt` of the run that died): no process serves there, so it is left out, as is one that exited
/// between the listing and its inspection. A paused container stays in: it is still there to come back.
pub fn is_running(inspected: &ContainerInspectResponse) -> bool {
    let Some(state) = inspected.state.as_ref() else {
        return true;
    };
    state.running != Some(false) && state.restarting != Some(true)
}

/// Docker's `since` parameter for `time`: seconds since the epoch, with nanoseconds.
fn since_parameter(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:09}", since.as_secs(), since.subsec_nanos())
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|message| message.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

impl BollardDocker {
    /// The engine's inspection of `id`, or `None` when it no longer knows the container.
    async fn inspect_raw(
        docker: &Docker,
        id: &str,
    ) -> Result<Option<ContainerInspectResponse>, DockerError> {
        match docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
        {
            Ok(inspected) => Ok(Some(inspected)),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(source) => Err(DockerError::Api {
                operation: "inspect",
                source,
            }),
        }
    }

    /// [`BollardDocker::inspect_raw`] made into a [`ContainerInfo`]; `running_only` leaves out a container
    /// that does not run (see [`is_running`]).
    async fn inspect_info(
        docker: &Docker,
        id: &str,
        running_only: bool,
    ) -> Result<Option<ContainerInfo>, DockerError> {
        let Some(inspected) = BollardDocker::inspect_raw(docker, id).await? else {
            return Ok(None);
        };
        if running_only && !is_running(&inspected) {
            return Ok(None);
        }
        container_info(inspected)
            .map(Some)
            .ok_or_else(|| DockerError::Malformed(id.into()))
    }
}

#[async_trait]
impl DockerApi for BollardDocker {
    async fn list_running(&self) -> Result<Vec<ContainerInfo>, DockerError> {
        let options = ListContainersOptions {
            all: false,
            ..Default::default()
        };
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|source| DockerError::Api {
                operation: "list",
                source,
            })?;
        let ids: Vec<String> = summaries
            .into_iter()
            .filter_map(|summary| summary.id)
            .collect();
        let docker = &self.docker;
        let inspected: Vec<Result<Option<ContainerInfo>, DockerError>> = stream::iter(ids)
            .map(|id| async move { BollardDocker::inspect_info(docker, &id, true).await })
            .buffer_unordered(INSPECT_CONCURRENCY)
            .collect()
            .await;
        let mut containers = Vec::with_capacity(inspected.len());
        for container in inspected {
            // Gone (or stopped, or waiting to restart) between the listing and its inspection.
            if let Some(container) = container? {
                containers.push(container);
            }
        }
        containers.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(containers)
    }

    async fn inspect(&self, id: &str) -> Result<Option<ContainerInfo>, DockerError> {
        BollardDocker::inspect_info(&self.docker, id, false).await
    }

    fn events(&self, since: SystemTime) -> BoxStream<'static, Result<TimedEvent, DockerError>> {
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            (
                "event".to_string(),
                EVENT_ACTIONS
                    .iter()
                    .map(|action| action.to_string())
                    .collect(),
            ),
        ]);
        let options = EventsOptions {
            since: Some(since_parameter(since)),
            until: None,
            filters: Some(filters),
        };
        let docker = Arc::new(self.docker.clone());
        let raw = self.docker.events(Some(options));
        // A panic inside bollard (a surprise in the engine's answer) ends the stream with an error
        // instead of taking the watcher's task down; the watcher then reconnects.
        let raw = AssertUnwindSafe(raw).catch_unwind().map(|item| match item {
            Ok(Ok(message)) => Ok(message),
            Ok(Err(source)) => Err(DockerError::Api {
                operation: "event stream",
                source,
            }),
            Err(payload) => Err(DockerError::Panic(panic_message(payload))),
        });
        raw.filter_map(|item| async move {
            match item {
                Ok(message) => {
                    let at = event_time(&message).unwrap_or_else(SystemTime::now);
                    parse_event(&message).map(|parsed| Ok((parsed, at)))
                }
                Err(error) => Some(Err(error)),
            }
        })
        // `buffered` inspects a few started containers at once yet keeps the engine's order.
        .map(move |parsed| {
            let docker = Arc::clone(&docker);
            async move {
                match parsed {
                    Ok((ParsedEvent::Ready(event), at)) => Some(Ok(TimedEvent { event, at })),
                    Ok((ParsedEvent::Start { id }, at)) => {
                        let inspected =
                            AssertUnwindSafe(BollardDocker::inspect_info(&docker, &id, false))
                                .catch_unwind()
                                .await
                                .unwrap_or_else(|payload| {
                                    Err(DockerError::Panic(panic_message(payload)))
                                });
                        match inspected {
                            Ok(Some(info)) => Some(Ok(TimedEvent {
                                event: ContainerEvent::Started(info),
                                at,
                            })),
                            // Already gone: its `die` and `destroy` follow.
                            Ok(None) => None,
                            Err(error) => Some(Err(error)),
                        }
                    }
                    Err(error) => Some(Err(error)),
                }
            }
        })
        .buffered(INSPECT_CONCURRENCY)
        .filter_map(|item| async move { item })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{
        ContainerConfig, ContainerState, EventActor, EventMessageTypeEnum, Health as DockerHealth,
        HostConfig,
    };

    fn event(action: &str, id: &str, attributes: &[(&str, &str)]) -> EventMessage {
        EventMessage {
            typ: Some(EventMessageTypeEnum::CONTAINER),
            action: Some(action.to_string()),
            actor: Some(EventActor {
                id: Some(id.to_string()),
                attributes: Some(
                    attributes
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }),
            ..Default::default()
        }
    }

    fn ready(event: ContainerEvent) -> Option<ParsedEvent> {
        Some(ParsedEvent::Ready(event))
    }

    #[test]
    fn an_events_time_is_the_engines() {
        let mut message = event("die", "c1", &[]);
        assert_eq!(event_time(&message), None, "neither time given");
        message.time = Some(1_700_000_000);
        assert_eq!(
            event_time(&message),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        message.time_nano = Some(1_700_000_000_123_456_789);
        assert_eq!(
            event_time(&message),
            Some(UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789)),
            "timeNano wins"
        );
        message.time_nano = Some(-5);
        message.time = None;
        assert_eq!(event_time(&message), None, "nonsense is no time");
    }

    #[test]
    fn events_map_to_what_the_daemon_acts_on() {
        let cases: Vec<(EventMessage, Option<ParsedEvent>)> = vec![
            (
                event("start", "c1", &[("name", "web")]),
                Some(ParsedEvent::Start { id: "c1".into() }),
            ),
            (
                event("kill", "c1", &[("signal", "15"), ("name", "web")]),
                ready(ContainerEvent::Kill {
                    id: "c1".into(),
                    signal: "15".into(),
                }),
            ),
            (
                event("kill", "c1", &[]),
                ready(ContainerEvent::Kill {
                    id: "c1".into(),
                    signal: String::new(),
                }),
            ),
            (
                event("die", "c1", &[("exitCode", "137")]),
                ready(ContainerEvent::Die { id: "c1".into() }),
            ),
            (
                event("destroy", "c1", &[]),
                ready(ContainerEvent::Destroy { id: "c1".into() }),
            ),
            (
                event("health_status: healthy", "c1", &[]),
                ready(ContainerEvent::Health {
                    id: "c1".into(),
                    health: Health::Healthy,
                }),
            ),
            (
                event("health_status: unhealthy", "c1", &[]),
                ready(ContainerEvent::Health {
                    id: "c1".into(),
                    health: Health::Unhealthy,
                }),
            ),
            (
                event("health_status:starting", "c1", &[]),
                ready(ContainerEvent::Health {
                    id: "c1".into(),
                    health: Health::Starting,
                }),
            ),
            (event("health_status: bogus", "c1", &[]), None),
            (event("exec_create: sh -c true", "c1", &[]), None),
            (event("stop", "c1", &[]), None),
            (event("start", "", &[]), None),
        ];
        for (message, expected) in cases {
            assert_eq!(parse_event(&message), expected, "{:?}", message.action);
        }
    }

    #[test]
    fn events_of_other_object_types_are_ignored() {
        let mut message = event("start", "n1", &[]);
        message.typ = Some(EventMessageTypeEnum::NETWORK);
        assert_eq!(parse_event(&message), None);
        message.actor = None;
        message.typ = Some(EventMessageTypeEnum::CONTAINER);
        assert_eq!(parse_event(&message), None);
    }

    fn inspected(health: Option<HealthStatusEnum>) -> ContainerInspectResponse {
        ContainerInspectResponse {
            id: Some("abc123".into()),
            name: Some("/web-1".into()),
            config: Some(ContainerConfig {
                labels: Some(HashMap::from([(
                    "com.amazonaws.ecs.container-name".into(),
                    "web".into(),
                )])),
                stop_signal: Some("SIGQUIT".into()),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                network_mode: Some("bridge".into()),
                ..Default::default()
            }),
            state: Some(ContainerState {
                running: Some(true),
                started_at: Some("2024-05-01T12:00:00.1234567Z".into()),
                health: health.map(|status| DockerHealth {
                    status: Some(status),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn an_inspection_becomes_container_info() {
        let info = container_info(inspected(Some(HealthStatusEnum::HEALTHY))).unwrap();
        assert_eq!(info.id, "abc123");
        assert_eq!(info.name, "web-1", "Docker's leading '/' is dropped");
        assert_eq!(
            info.labels
                .get("com.amazonaws.ecs.container-name")
                .map(String::as_str),
            Some("web")
        );
        assert_eq!(info.network_mode, "bridge");
        assert_eq!(info.health, Health::Healthy);
        assert_eq!(info.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(
            info.started_at,
            Some(UNIX_EPOCH + Duration::new(1_714_564_800, 123_456_700))
        );
    }

    #[test]
    fn started_at_is_docker_s_rfc_3339_or_nothing() {
        let at = |secs, nanos| Some(UNIX_EPOCH + Duration::new(secs, nanos));
        let cases: &[(&str, Option<SystemTime>)] = &[
            (
                "2024-05-01T12:00:00.123456789Z",
                at(1_714_564_800, 123_456_789),
            ),
            // Go drops trailing zeros: these two are one instant, spelled differently.
            ("2024-05-01T12:00:00.1Z", at(1_714_564_800, 100_000_000)),
            (
                "2024-05-01T12:00:00.100000000Z",
                at(1_714_564_800, 100_000_000),
            ),
            ("2024-05-01T12:00:00Z", at(1_714_564_800, 0)),
            ("2024-05-01T12:00:00+00:00", at(1_714_564_800, 0)),
            // Go's zero time: a container that never started.
            ("0001-01-01T00:00:00Z", None),
            ("", None),
            ("yesterday", None),
        ];
        for (text, expected) in cases {
            assert_eq!(started_at(text), *expected, "{text:?}");
        }
        let mut never = inspected(None);
        never.state.as_mut().unwrap().started_at = Some("0001-01-01T00:00:00Z".into());
        assert_eq!(container_info(never).unwrap().started_at, None);
    }

    #[test]
    fn a_listing_leaves_out_containers_that_do_not_run() {
        let with_state = |running: Option<bool>, restarting: Option<bool>, paused: Option<bool>| {
            let mut c = inspected(None);
            let state = c.state.as_mut().unwrap();
            (state.running, state.restarting, state.paused) = (running, restarting, paused);
            c
        };
        let cases = [
            (with_state(Some(true), Some(false), Some(false)), true),
            (with_state(Some(true), None, None), true),
            // Paused: still there, and back with `docker unpause` without a start event.
            (with_state(Some(true), Some(false), Some(true)), true),
            // Waiting for its restart policy: Docker says running, with the dead run's StartedAt.
            (with_state(Some(true), Some(true), Some(false)), false),
            // Exited between the listing and the inspection.
            (with_state(Some(false), Some(false), Some(false)), false),
            (
                ContainerInspectResponse {
                    id: Some("abc".into()),
                    ..Default::default()
                },
                true,
            ),
        ];
        for (inspected, expected) in cases {
            assert_eq!(is_running(&inspected), expected, "{:?}", inspected.state);
        }
    }

    #[test]
    fn health_comes_from_the_state() {
        let cases = [
            (None, Health::NoCheck),
            (Some(HealthStatusEnum::NONE), Health::NoCheck),
            (Some(HealthStatusEnum::EMPTY), Health::NoCheck),
            (Some(HealthStatusEnum::STARTING), Health::Starting),
            (Some(HealthStatusEnum::HEALTHY), Health::Healthy),
            (Some(HealthStatusEnum::UNHEALTHY), Health::Unhealthy),
        ];
        for (status, expected) in cases {
            assert_eq!(
                container_info(inspected(status)).unwrap().health,
                expected,
                "{status:?}"
            );
        }
    }

    #[test]
    fn missing_parts_of_an_inspection_have_defaults() {
        let bare = ContainerInspectResponse {
            id: Some("abc".into()),
            ..Default::default()
        };
        let info = container_info(bare).unwrap();
        assert_eq!(
            info,
            ContainerInfo {
                id: "abc".into(),
                name: String::new(),
                labels: BTreeMap::new(),
                network_mode: String::new(),
                health: Health::NoCheck,
                stop_signal: None,
                started_at: None,
            }
        );
        let mut empty_signal = inspected(None);
        empty_signal.config.as_mut().unwrap().stop_signal = Some(String::new());
        assert_eq!(
            container_info(empty_signal).unwrap().stop_signal,
            None,
            "an empty StopSignal is unset"
        );
        assert_eq!(
            container_info(ContainerInspectResponse::default()),
            None,
            "no id, no container"
        );
    }

    #[test]
    fn the_host_is_the_setting_then_docker_host_then_the_default_socket() {
        assert_eq!(
            resolve_host("tcp://10.0.0.1:2375", Some("unix:///x.sock")),
            "tcp://10.0.0.1:2375"
        );
        assert_eq!(resolve_host("", Some("unix:///x.sock")), "unix:///x.sock");
        assert_eq!(resolve_host("  ", Some("")), DEFAULT_DOCKER_HOST);
        assert_eq!(resolve_host("", None), DEFAULT_DOCKER_HOST);
    }

    #[test]
    fn since_keeps_nanoseconds() {
        let time = UNIX_EPOCH + Duration::new(1_700_000_000, 5_000);
        assert_eq!(since_parameter(time), "1700000000.000005000");
    }
}
