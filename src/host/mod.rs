//! The host: the instance metadata service behind a narrow trait ([`metadata`]) and the
//! [`cache::MetadataCache`] actor that reads the instance's private IPv4 and refreshes it. Below: the message it
//! sends the writer.

pub mod cache;
pub mod metadata;

use std::net::Ipv4Addr;

use actix::Message;

/// The instance's private IPv4 (metadata cache → writer), sent when first known and whenever it changes.
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct HostIp(pub Ipv4Addr);
