//! The clean-up of gone instances' record sets (`gc.enabled`): the decisions ([`decide`], pure: whom to ask EC2
//! about, when, and who is gone), the narrow trait over EC2 ([`ec2`]), and the [`collector::GcCollector`] actor
//! that asks the writer whom it sees and tells it whom to withdraw. Below: the messages between them.

pub mod collector;
pub mod decide;
pub mod ec2;

use std::collections::{BTreeMap, BTreeSet};

use actix::{Message, MessageResponse};

use crate::route53::RecordSet;

/// Asks the writer whom the clean-up of gone instances should ask EC2 about (collector → writer): it reads
/// the fleet's ledgers (one request per 300 members) and answers with the fleet's members, those that
/// joined after its last read of their names too ([`crate::writer::members`]).
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "Owners")]
pub struct GetOwners;

/// The writer's answer to [`GetOwners`]. Owners go by the name EC2 knows them by: an instance id where the
/// member's ledger says it, else the owner id (an IP or an instance id).
#[derive(MessageResponse, Clone, Debug, Default, PartialEq, Eq)]
pub struct Owners {
    /// How EC2 knows this instance (`None` before the IP is known).
    pub me: Option<String>,
    /// The other members that the clean-up may ask about: how EC2 knows each → its owner id.
    pub others: BTreeMap<String, String>,
    /// The ledger of each of `others`, by owner id, as read: the names where its record sets may stand.
    pub ledgers: BTreeMap<String, RecordSet>,
    /// The owners seen in the zone that are no such member: never asked about, never collected.
    pub strangers: BTreeSet<String>,
}

/// Owners EC2 says are gone, in two checks `gc.grace` apart (collector → writer), each by owner id with
/// its ledger as read: the names it lists are read, the owner's record sets there withdrawn, then the
/// ledger deleted.
#[derive(Message, Clone, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct Collect(pub BTreeMap<String, Option<RecordSet>>);
