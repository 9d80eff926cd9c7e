//! Performs what the [`Reconciler`](crate::writer::reconcile::Reconciler) decides, through any [`Route53Api`]: the
//! I/O half of the writer. The `Route53Writer` actor calls it for every action, and so does the fleet
//! simulation in `benches/fleet`, which drives hundreds of reconcilers against one emulator without an
//! actor system per instance.

use tracing::info;

use crate::route53::read::{read_all, read_names, read_under, RereadPlan};
use crate::route53::send::{send_batches, FlushOutcome};
use crate::route53::{Change, RecordSet, Route53Api, Route53Error};
use crate::writer::ledger::is_fleet_ledger;
use crate::writer::reconcile::{Action, Outcome};

/// Performs `action` against `zone_id` and returns its outcome for
/// [`Reconciler::outcome`](crate::writer::reconcile::Reconciler::outcome); `None` for [`Action::Idle`], which
/// is the caller's to wait out. `reread` is the reconciler's
/// ([`Reconciler::reread_plan`](crate::writer::reconcile::Reconciler::reread_plan)): how refused names are read again, and
/// whether reads of names include their ownership markers. With `dry_run` the changes are logged instead
/// of sent, and answered as if Route53 had accepted them.
pub async fn perform(
    api: &dyn Route53Api,
    zone_id: &str,
    action: Action,
    reread: RereadPlan,
    dry_run: bool,
) -> Option<Outcome> {
    Some(match action {
        Action::Idle { .. } => return None,
        Action::ReadZone => Outcome::ZoneRead(read_all(api, zone_id).await),
        Action::ReadLedgers { parent } => {
            Outcome::LedgersRead(read_ledgers(api, zone_id, &parent).await)
        }
        Action::CountOwners { parent } => {
            Outcome::OwnersCounted(read_ledgers(api, zone_id, &parent).await)
        }
        Action::ReadNames { names, purpose } => {
            let result = read_names(api, zone_id, &names, reread.markers).await;
            Outcome::NamesRead {
                purpose,
                names,
                result,
            }
        }
        Action::Send { batches } if dry_run => Outcome::Sent(pretend(batches.concat())),
        Action::Send { batches } => {
            Outcome::Sent(send_batches(api, zone_id, batches, reread).await)
        }
    })
}

/// The fleet's ledgers, whoever's, under `parent` ([`ledger_parent`](crate::writer::ledger::ledger_parent)):
/// one request per 300 members.
pub async fn read_ledgers(
    api: &dyn Route53Api,
    zone_id: &str,
    parent: &str,
) -> Result<Vec<RecordSet>, Route53Error> {
    read_under(api, zone_id, parent, |rs| is_fleet_ledger(rs, parent)).await
}

/// `--dry-run`: logs what would be sent and answers as if Route53 had accepted it.
fn pretend(changes: Vec<Change>) -> FlushOutcome {
    for change in &changes {
        info!(
            action = ?change.action,
            name = change.record_set.name,
            values = ?change.record_set.values,
            ttl = change.record_set.ttl,
            set_identifier = change.record_set.set_identifier,
            "dry run: would send"
        );
    }
    FlushOutcome {
        accepted: changes,
        ..FlushOutcome::default()
    }
}
