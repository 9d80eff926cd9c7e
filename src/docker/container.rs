//! What the daemon knows of a container and of Docker's events, independent of bollard's types.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// A container's health, from its Docker healthcheck.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Health {
    /// The container has no healthcheck.
    NoCheck,
    Starting,
    Healthy,
    Unhealthy,
}

/// What the daemon keeps of a container, taken from `docker inspect` when it starts (or is first listed),
/// so that a container that is already gone when its `die` arrives can still be withdrawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The full container id.
    pub id: String,
    /// The container's name, without Docker's leading `/`.
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `HostConfig.NetworkMode`: `bridge`, `host`, `default`, `none`, `container:<id>` or a user network's name.
    pub network_mode: String,
    pub health: Health,
    /// `Config.StopSignal` as set on the container (`SIGTERM`, `SIGQUIT`, `15`), `None` when unset (SIGTERM).
    pub stop_signal: Option<String>,
    /// `State.StartedAt`: when this run of the container started; `None` when Docker reports none, or its zero
    /// time (a container that never ran), or a value that is not RFC 3339.
    ///
    /// It tells one run of a container from the next: `docker start` of a stopped container, `docker
    /// restart`, a restart policy and ECS's in-place restarts keep the id but set a new `StartedAt`. Only
    /// compared for equality, never ordered, so that a host clock stepped back cannot make a new run look old.
    pub started_at: Option<SystemTime>,
}

/// A Docker event about a container, reduced to what the daemon acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerEvent {
    /// `start`, with the container inspected right after.
    Started(ContainerInfo),
    /// `kill`, with the signal as Docker reports it (a number, such as `15`).
    Kill { id: String, signal: String },
    /// `die`.
    Die { id: String },
    /// `health_status: healthy` / `health_status: unhealthy`.
    Health { id: String, health: Health },
    /// `destroy`: the container is gone for good.
    Destroy { id: String },
}

/// A [`ContainerEvent`] and the engine's time for it (its `timeNano`): the point a replay after a reconnect
/// must start from, since an event may be delivered long after it happened (behind a slow inspection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedEvent {
    pub event: ContainerEvent,
    pub at: SystemTime,
}

impl ContainerEvent {
    /// Docker's name for the event's action (the metrics' `action` label).
    pub fn action(&self) -> &'static str {
        match self {
            ContainerEvent::Started(_) => "start",
            ContainerEvent::Kill { .. } => "kill",
            ContainerEvent::Die { .. } => "die",
            ContainerEvent::Health { .. } => "health_status",
            ContainerEvent::Destroy { .. } => "destroy",
        }
    }
}
