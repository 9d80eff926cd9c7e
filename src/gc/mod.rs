//! The clean-up of gone instances' record sets (`gc.enabled`): the decisions ([`decide`], pure: whom to ask EC2
//! about, when, and who is gone), the narrow trait over EC2 ([`ec2`]), and the [`collector::GcCollector`] actor
//! that asks the writer whom it sees and tells it whom to withdraw. Below: the messages between them.

pub mod collector;
pub mod decide;
pub mod ec2;

use std::collections::BTreeSet;

use actix::{Message, MessageResponse};

/// Asks the writer whom the clean-up of gone instances should ask EC2 about (collector → writer): this
/// instance's owner id (`None` before the IP is known) and the other owners seen in the zone.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "Owners")]
pub struct GetOwners;

/// The writer's answer to [`GetOwners`].
#[derive(MessageResponse, Clone, Debug, Default, PartialEq, Eq)]
pub struct Owners {
    pub me: Option<String>,
    pub others: BTreeSet<String>,
}

/// Owners EC2 says are gone, in two checks `gc.grace` apart (collector → writer): their record sets are
/// withdrawn.
#[derive(Message, Clone, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct Collect(pub BTreeSet<String>);
