//! Sending changes through any [`Route53Api`]: batches in order, a refused batch halved until the refused
//! record set is alone (so every other change is applied), and the refused names read again.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tracing::debug;

use super::batch;
use super::read::read_names;
use super::{group_name, Change, Meaning, RecordSet, Route53Api, Route53Error};

/// A change Route53 refused on its own (its record set's changes isolated from the rest of the batch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The changes of one record set, as sent.
    pub changes: Vec<Change>,
    /// Route53's messages.
    pub messages: Vec<String>,
}

/// What sending a set of batches achieved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushOutcome {
    /// Changes Route53 accepted, in order.
    pub accepted: Vec<Change>,
    /// Record sets whose changes were refused ([`Meaning::Refused`]).
    pub rejected: Vec<Rejection>,
    /// The A record sets under each refused name, read again after the refusal.
    pub reread: BTreeMap<String, Vec<RecordSet>>,
    /// The failure that ended the flush early (the rest was not sent).
    pub error: Option<Route53Error>,
    /// The names of the batch that failed with `error` when that failure may have been applied anyway
    /// ([`Meaning::MaybeApplied`]): what Route53 holds under them is unknown until they are read again.
    pub uncertain: BTreeSet<String>,
    /// Requests sent.
    pub requests: usize,
}

/// Sends `batches` in order. A batch that is refused ([`Meaning::Refused`]: invalid, or forbidden by an IAM
/// policy that limits record names or types) is halved along record-set boundaries ([`batch::groups`])
/// until each refused record set is alone, so every good change is applied; the refused names are then
/// read again. Any other failure ends the flush: what was not sent is recomputed at the retry, and when
/// the failed batch may have been applied its names are [`FlushOutcome::uncertain`]. `markers`: the names
/// are read again with their ownership markers (simple routing).
pub async fn send_batches(
    api: &dyn Route53Api,
    zone_id: &str,
    batches: Vec<Vec<Change>>,
    markers: bool,
) -> FlushOutcome {
    let mut out = FlushOutcome::default();
    let mut work: VecDeque<Vec<Change>> = batches.into();
    while let Some(batch) = work.pop_front() {
        out.requests += 1;
        match api.change_record_sets(zone_id, &batch).await {
            Ok(info) => {
                debug!(
                    zone_id,
                    change_id = info.id,
                    changes = batch.len(),
                    "batch accepted"
                );
                out.accepted.extend(batch);
            }
            Err(e) if e.meaning() == Meaning::Refused => {
                let groups = batch::groups(&batch);
                if groups.len() > 1 {
                    debug!(
                        zone_id,
                        changes = batch.len(),
                        error = %e,
                        "batch refused; halving it to isolate the refused change"
                    );
                    let (first, second) = groups.split_at(groups.len() / 2);
                    work.push_front(second.concat());
                    work.push_front(first.concat());
                } else {
                    out.rejected.push(Rejection {
                        changes: batch,
                        messages: e.messages(),
                    });
                }
            }
            Err(e) => {
                if e.meaning() == Meaning::MaybeApplied {
                    out.uncertain = batch
                        .iter()
                        .map(|c| group_name(&c.record_set.name).to_string())
                        .collect();
                }
                out.error = Some(e);
                return out;
            }
        }
    }
    let names: BTreeSet<String> = out
        .rejected
        .iter()
        .filter_map(|r| r.changes.first())
        .map(|c| group_name(&c.record_set.name).to_string())
        .collect();
    if !names.is_empty() {
        out.requests += names.len();
        match read_names(api, zone_id, &names, markers).await {
            Ok(reread) => out.reread = reread,
            Err(e) => out.error = Some(e),
        }
    }
    out
}
