//! The start-up: the steps of a start (or a restart) until every name where this instance may hold a record
//! set has been read, at the least cost to the account's shared quota. With a ledger: (multivalue) publish
//! what runs blind, read the ledger, read the names it lists. Without one, or in a zone of one page: list the
//! zone, in multivalue at a moment spread over the time the fleet's listings take.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use rand::rngs::SmallRng;
use rand::Rng;
use tracing::info;

use crate::route53::read::{listing_is_cheaper, ZONE_PAGE};
use crate::route53::{RecordSet, Routing};
use crate::writer::action::{Action, ReadPurpose};
use crate::writer::ledger::listed_names;
use crate::writer::pacing::scan_spread;
use crate::writer::registry::Held;

/// How far the start-up has got.
#[derive(Debug, Default)]
pub(crate) struct StartUp {
    /// The zone's names that matter were read since the start (or the last restart): the diff can be
    /// trusted.
    loaded: bool,
    /// A start-up's blind UPSERT of the desired names (multivalue) has been sent.
    published_blind: bool,
    /// Without a ledger, when the zone is listed to find this instance's stale record sets (multivalue:
    /// what runs is published already, so the listing is spread over the fleet's share of the quota);
    /// `None` once the zone's names that matter are known.
    scan_at: Option<Instant>,
}

/// What the start-up needs to know of the rest of the writer to take its next step.
pub(crate) struct Known<'a> {
    /// This instance's ledger's name, unless it keeps none.
    pub ledger: Option<String>,
    /// The ledger as read: `None` until read, then the record or its absence.
    pub ledger_read: Option<&'a Option<RecordSet>>,
    /// Record sets in the zone, as last read or described.
    pub zone_size: usize,
    /// The names known, as read or published.
    pub names: &'a BTreeMap<String, Held>,
    /// The zone's name.
    pub zone_name: &'a str,
    /// The desired names, fully qualified.
    pub desired: BTreeSet<String>,
    /// The routing configured.
    pub routing: Routing,
    /// `--once`: a listing is not put off.
    pub once: bool,
    /// The writer is shutting down.
    pub shutting_down: bool,
    /// The writer is shutting down to withdraw every record set of this instance.
    pub withdrawing: bool,
}

/// The next step of the start-up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Perform this action.
    Do(Action),
    /// Publish the desired names blind (multivalue), then go on.
    PublishBlind,
    /// Every name that matters is known: the start-up is over.
    Loaded,
    /// List the zone to find this instance's stale record sets, when [`StartUp::scan`] says so.
    Scan { ledger: String },
}

impl StartUp {
    /// Whether the zone's names that matter are known.
    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// The zone's names that matter are known: the diff can be trusted.
    pub(crate) fn loaded(&mut self) {
        self.loaded = true;
        self.scan_at = None;
    }

    /// The zone is to be read again (too many names are uncertain to read them one by one).
    pub(crate) fn unload(&mut self) {
        self.loaded = false;
    }

    /// When a listing put off is due.
    pub(crate) fn scan_at(&self) -> Option<Instant> {
        self.scan_at
    }

    /// A flush failed: if it was the blind UPSERT of a start that did not get through (throttled, say), it
    /// goes out again, before any read, when the retry's time comes.
    pub(crate) fn flush_failed(&mut self, ledger_read: bool) {
        if !self.loaded && !ledger_read {
            self.published_blind = false;
        }
    }

    /// The next step of a start (or a restart), or `None` once over (also while a listing is put off, see
    /// [`StartUp::scan`]). With a ledger: (multivalue) publish what runs blind, read the ledger, read the
    /// names it lists that are not published yet (the desired names too, in the routings that read before
    /// writing). A zone of one page, or no ledger (none in the zone yet, or an owner id that cannot have
    /// one): list the zone. Once started, a ledger whose change failed is read again.
    pub(crate) fn next(&mut self, known: &Known<'_>) -> Option<Step> {
        if self.loaded {
            return match (&known.ledger, known.ledger_read) {
                (Some(name), None) => Some(Step::Do(Action::ReadLedger { name: name.clone() })),
                _ => None,
            };
        }
        let Some(name) = known.ledger.clone() else {
            return Some(Step::Do(Action::ReadZone));
        };
        if known.ledger_read.is_none() && known.zone_size <= ZONE_PAGE {
            // A zone of one page is listed for what reading the ledger costs, and the listing shows the
            // ledger too; what runs then goes out with the ledger in one request, where publishing first
            // would take one more.
            return Some(Step::Do(Action::ReadZone));
        }
        if known.routing == Routing::Multivalue && !self.published_blind {
            // An UPSERT of this instance's own record set (its SetIdentifier, so nobody else's) needs no
            // read, and Route53 refuses it where it would mix routing policies under a name (the refusal
            // re-reads the name, and the usual rules take over). Weighted and simple routing read first:
            // a weighted group's TTL and a shared record set's values come from what the name holds.
            self.published_blind = true;
            return Some(Step::PublishBlind);
        }
        let Some(held) = known.ledger_read else {
            return Some(Step::Do(Action::ReadLedger { name }));
        };
        let Some(held) = held else {
            return Some(Step::Scan { ledger: name });
        };
        let mut names = listed_names(held, known.zone_name);
        if known.routing == Routing::Multivalue {
            // What was published blind is known; the rest may hold stale record sets of ours.
            names.retain(|name| !known.names.contains_key(name));
        } else {
            // A weighted group's TTL and a shared record set's values come from a read.
            names.extend(known.desired.iter().cloned());
        }
        if names.is_empty() {
            return Some(Step::Loaded);
        }
        if listing_is_cheaper(names.len(), known.zone_size) {
            return Some(Step::Do(Action::ReadZone));
        }
        Some(Step::Do(Action::ReadNames {
            names,
            purpose: ReadPurpose::Owned,
        }))
    }

    /// Without a ledger, the zone is listed once to find this instance's stale record sets (and the ledger
    /// is written from what it finds). Weighted and simple routing list it at once, as they must read before
    /// they write. Multivalue has published what runs already, and a listing costs one request per 300
    /// record sets for every instance without a ledger (every new instance of a scale-out, every instance
    /// after an upgrade): it waits a random share of the time the fleet's listings take at
    /// [`crate::writer::pacing::FLEET_SCAN_REQUESTS_PER_SECOND`] ([`scan_spread`]) for a fleet of `fleet`,
    /// and changes go out meanwhile. `--once` and a withdrawal of everything at shutdown list at once; a
    /// shutdown that keeps the records does not list.
    pub(crate) fn scan(
        &mut self,
        now: Instant,
        ledger: &str,
        known: &Known<'_>,
        fleet: usize,
        rng: &mut SmallRng,
    ) -> Option<Action> {
        let withdrawing = known.withdrawing;
        let put_off = known.routing == Routing::Multivalue && !known.once;
        if put_off && known.shutting_down && !withdrawing {
            return None;
        }
        if put_off && !withdrawing {
            let at = match self.scan_at {
                Some(at) => at,
                None => {
                    let pages = known.zone_size / ZONE_PAGE + 1;
                    let spread = scan_spread(fleet, pages);
                    let at = now + spread.mul_f64(rng.random::<f64>());
                    info!(
                        ledger,
                        in_secs = at.saturating_duration_since(now).as_secs(),
                        "no ledger of this instance in the zone; listing the zone once, spread over the fleet"
                    );
                    self.scan_at = Some(at);
                    at
                }
            };
            if at > now {
                return None;
            }
        }
        info!(
            ledger,
            "no ledger of this instance in the zone; reading the whole zone once"
        );
        Some(Action::ReadZone)
    }
}
