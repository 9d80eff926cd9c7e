//! What the reconciler asks for ([`Action`]) and what performing it found ([`Outcome`]): the only way in and
//! out of the writer's state machine, shared by its parts and performed by [`crate::writer::perform`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::route53::send::FlushOutcome;
use crate::route53::{Change, RecordSet, Route53Error};

/// Why some names are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPurpose {
    /// A change to them failed in a way that may have been applied: what they hold is unknown.
    Uncertain,
    /// A step of a verification.
    Verify,
    /// The names the ledgers of gone owners list, before the clean-up withdraws their record sets there.
    Collect,
    /// At start-up: the names this instance's ledger lists (and, in the routings that need a read before
    /// a write, the desired names), to find its stale record sets without listing the zone.
    Owned,
}

/// What the writer should do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing before `until` (`None`: before the next input). `settled`: everything due is done, so a
    /// `Settle` or `Shutdown` waiting for it can be answered.
    Idle {
        until: Option<Instant>,
        settled: bool,
    },
    /// Read the whole zone, then call [`crate::writer::reconcile::Reconciler::zone_read`].
    ReadZone,
    /// Read the fleet's ledgers under `parent` (`_owners._route53-registrator.<zone>.`, one request per 300
    /// members): this instance's (see [`crate::writer::ledger`]) and how many members the fleet has. Then
    /// hand back [`Outcome::LedgersRead`].
    ReadLedgers { parent: String },
    /// Count the ledgers under `parent` (`_owners._route53-registrator.<zone>.`): how many instances share
    /// the zone, which sizes the verification's interval. Then hand back [`Outcome::OwnersCounted`].
    CountOwners { parent: String },
    /// Read the A record sets under these names, then call [`crate::writer::reconcile::Reconciler::names_read`].
    ReadNames {
        names: BTreeSet<String>,
        purpose: ReadPurpose,
    },
    /// Send these batches in order, then call [`crate::writer::reconcile::Reconciler::sent`].
    Send { batches: Vec<Vec<Change>> },
}

impl Action {
    /// What performing it does, for a log line ("read the zone").
    pub fn what(&self) -> &'static str {
        match self {
            Action::Idle { .. } => "wait",
            Action::ReadZone => "read the zone",
            Action::ReadLedgers { .. } => "read the fleet's ledgers",
            Action::CountOwners { .. } => "count the fleet's ledgers",
            Action::ReadNames {
                purpose: ReadPurpose::Uncertain,
                ..
            } => "read the uncertain names again",
            Action::ReadNames {
                purpose: ReadPurpose::Verify,
                ..
            } => "verify the zone",
            Action::ReadNames {
                purpose: ReadPurpose::Owned,
                ..
            } => "read the names this instance may hold",
            Action::ReadNames {
                purpose: ReadPurpose::Collect,
                ..
            } => "read the names of the gone owners",
            Action::Send { .. } => "send changes",
        }
    }
}

/// What performing an [`Action`] found, for [`crate::writer::reconcile::Reconciler::outcome`].
#[derive(Debug)]
pub enum Outcome {
    /// [`Action::ReadZone`]: every record set of the zone, or why not.
    ZoneRead(Result<Vec<RecordSet>, Route53Error>),
    /// [`Action::ReadLedgers`]: every ledger under the parent, or why not.
    LedgersRead(Result<Vec<RecordSet>, Route53Error>),
    /// [`Action::CountOwners`]: the ledgers read to be counted, or why not.
    OwnersCounted(Result<Vec<RecordSet>, Route53Error>),
    /// [`Action::ReadNames`]: the record sets under each name, or why not.
    NamesRead {
        purpose: ReadPurpose,
        names: BTreeSet<String>,
        result: Result<BTreeMap<String, Vec<RecordSet>>, Route53Error>,
    },
    /// [`Action::Send`]: what was accepted, refused, and how the flush ended.
    Sent(FlushOutcome),
}

/// What the writer did, for `--once` and shutdown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Changes Route53 accepted (or, with `--dry-run`, that would have been sent).
    pub applied: usize,
    /// Changes Route53 refused as invalid (logged and counted).
    pub rejected: usize,
}
