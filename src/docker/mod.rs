//! The Docker engine, first stage of the pipeline: the narrow trait over bollard ([`engine`]), what the daemon
//! knows of a container and of Docker's events ([`container`]), and the [`watcher::DockerWatcher`] actor that
//! subscribes, lists and reconnects. Below: the messages the watcher emits and takes.

pub mod container;
pub mod engine;
pub mod watcher;

use actix::{Message, Recipient};

use container::{ContainerEvent, ContainerInfo};

/// One Docker event about a container (watcher → classifier).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Event(pub ContainerEvent);

/// Every container running now, from a listing (watcher → classifier): at start, after every reconnect and
/// every `docker.resync_interval`. The classifier replaces what it knew with this.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Snapshot(pub Vec<ContainerInfo>);

/// Asks the watcher to list the running containers now: the classifier, restarted after a panic, has nothing
/// to go on until it has a snapshot (classifier → watcher).
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Resync;

/// Tells the classifier whom to ask for a [`Resync`] (main → classifier). The watcher is built with the
/// classifier's address, so this cannot be given when the classifier is built.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct ResyncVia(pub Recipient<Resync>);
