//! The writer, the stage that keeps the zone equal to what is desired: the reconciler, a sans-I/O state machine
//! of the writer's decisions ([`reconcile`]: the scheduler, and its machines `startup`, `known`, `failures`
//! and `verification`), with what it asks for and hears back ([`action`]) and its [`settings`]; this
//! instance's record sets and the diff ([`plan`]); ownership per routing ([`registry`]); the ledger of names,
//! which is also an instance's membership record ([`ledger`]), and the members the clean-up may act on
//! ([`members`]); when to send and verify ([`pacing`]); an action performed through Route53 ([`perform`]); and
//! the [`actor::Route53Writer`] that runs them. Below: the messages main sends it.

pub mod action;
pub mod actor;
mod failures;
mod known;
pub mod ledger;
pub mod members;
pub mod pacing;
pub mod perform;
pub mod plan;
pub mod reconcile;
pub mod record;
pub mod registry;
pub mod settings;
mod startup;
#[cfg(test)]
mod testkit;
mod verification;

use actix::Message;

pub use reconcile::WriteReport;

/// Resolves once the writer knows the IP and the desired records, has read the zone, and has applied
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
