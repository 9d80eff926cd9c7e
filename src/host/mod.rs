//! The host: the instance metadata service behind a narrow trait ([`metadata`]) and the
//! [`cache::MetadataCache`] actor that reads the instance's private IPv4 and refreshes it, and its identity.
//! Below: the messages it sends the writer.

pub mod cache;
pub mod end_watch;
pub mod lifecycle;
pub mod metadata;

use std::net::Ipv4Addr;

use actix::Message;

/// The instance's private IPv4 (metadata cache → writer), sent when first known and whenever it changes.
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct HostIp(pub Ipv4Addr);

/// Who the instance is, from the metadata service's instance identity document: what its ledger tells the
/// fleet, so that a peer can ask EC2 about it by id, in its own account and region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The EC2 instance id, such as `i-0123456789abcdef0`.
    pub instance_id: String,
    /// The AWS account id.
    pub account: String,
    /// The region, such as `us-east-1`.
    pub region: String,
}

/// The instance's identity (metadata cache → writer), sent once it is known, before the IP where both are
/// read together.
#[derive(Message, Clone, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct HostIdentity(pub Identity);

/// What the metadata service says of the instance's end (end watch → writer): its first answer, then every
/// change. `leaving`: what said the instance is going (it withdraws every record of its own and publishes
/// nothing while it is), or `None`: staying, or nothing known.
#[derive(Message, Clone, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct InstanceFate {
    pub leaving: Option<String>,
}
