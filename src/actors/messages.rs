//! The messages between the actors, kept together so that the pipeline reads in one place:
//! `DockerWatcher` → `Classifier` → `Route53Writer`, with `MetadataCache` → `Route53Writer`.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use actix::{Message, MessageResponse, Recipient};

use crate::container::{ContainerEvent, ContainerInfo};
pub use crate::reconcile::WriteReport;

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

/// The names (first DNS labels, sanitised) this instance should publish now (classifier → writer). Sent
/// only once the classifier has had a first snapshot, so that an empty set really means "nothing runs".
#[derive(Message, Clone, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct DesiredNames(pub BTreeSet<String>);

/// The instance's private IPv4 (metadata cache → writer), sent when first known and whenever it changes.
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct HostIp(pub Ipv4Addr);

/// Resolves once the writer knows the IP and the desired names, has read the zone, and has applied
/// everything pending (for `--once`).
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "WriteReport")]
pub struct Settle;

/// Flush what is pending now and, with `deregister`, withdraw every record of this instance; resolves when
/// done (main bounds it with `shutdown.timeout`).
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "WriteReport")]
pub struct Shutdown {
    pub deregister: bool,
}

/// Answered at once by every actor: `/healthz` asks each whether it answers (its mailbox is open and it is
/// not stuck).
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Ping;

/// Asks the writer whom the clean-up of gone instances should ask EC2 about (collector → writer): this
/// instance's owner id (`None` before the IP is known) and the other owners seen in the zone.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "OwnersSeen")]
pub struct SeenOwners;

/// The writer's answer to [`SeenOwners`].
#[derive(MessageResponse, Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnersSeen {
    pub me: Option<String>,
    pub others: BTreeSet<String>,
}

/// Owners EC2 says are gone, in two checks `gc.grace` apart (collector → writer): their record sets are
/// withdrawn.
#[derive(Message, Clone, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct Collect(pub BTreeSet<String>);
