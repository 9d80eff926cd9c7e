//! Sending changes through any [`Route53Api`]: batches in order, a refused batch halved until the refused
//! record set is alone (so every other change is applied), and the refused names read again.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tracing::debug;

use super::batch;
use super::read::RereadPlan;
use super::{group_name, names_in, Change, Meaning, RecordSet, Route53Api, Route53Error};

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

/// Sends `batches` in order. A batch that is refused ([`Meaning::Refused`]: invalid, a lost race, or
/// forbidden by an IAM policy that limits record names or types) is split so that every good change is
/// applied: the names Route53's messages are about ([`names_in`]) are set apart at once and the rest sent
/// again in one request; when the messages name none of the batch's names (an IAM refusal, say), it is
/// halved along record-set boundaries ([`batch::groups`]) until each refused record set is alone. The refused
/// names are then read again. Any other failure ends the flush: what was not sent is recomputed at the retry, and when
/// the failed batch may have been applied its names are [`FlushOutcome::uncertain`]. `reread` says how the
/// refused names are read again.
pub async fn send_batches(
    api: &dyn Route53Api,
    zone_id: &str,
    batches: Vec<Vec<Change>>,
    reread: RereadPlan,
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
                let messages = e.messages();
                let named: BTreeSet<String> = messages
                    .iter()
                    .flat_map(|m| names_in(m))
                    .map(|name| group_name(&name).to_string())
                    .collect();
                let (refused, rest): (Vec<Vec<Change>>, Vec<Vec<Change>>) = groups
                    .iter()
                    .cloned()
                    .partition(|g| named.contains(group_name(&g[0].record_set.name)));
                if !refused.is_empty() {
                    debug!(
                        zone_id,
                        refused = refused.len(),
                        rest = rest.len(),
                        "batch refused; setting apart the names Route53 named and sending the rest"
                    );
                    for changes in refused {
                        let name = group_name(&changes[0].record_set.name).to_string();
                        let about: Vec<String> = messages
                            .iter()
                            .filter(|m| names_in(m).iter().any(|n| group_name(n) == name))
                            .cloned()
                            .collect();
                        out.rejected.push(Rejection {
                            changes,
                            messages: about,
                        });
                    }
                    if !rest.is_empty() {
                        work.push_front(rest.concat());
                    }
                } else if groups.len() > 1 {
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
        match reread.read(api, zone_id, &names).await {
            Ok(reread) => out.reread = reread,
            Err(e) => out.error = Some(e),
        }
    }
    out
}
