//! What this instance should publish, second stage: the naming rules ([`naming`], pure), the containers running
//! here counted into names ([`state`], pure), and the [`classifier::Classifier`] actor that keeps that state from
//! the watcher's events and snapshots. Below: the message it sends the writer.

pub mod classifier;
pub mod naming;
pub mod state;

use std::collections::BTreeSet;

use actix::Message;

/// The names (first DNS labels, sanitised) this instance should publish now (classifier → writer). Sent
/// only once the classifier has had a first snapshot, so that an empty set really means "nothing runs".
#[derive(Message, Clone, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct DesiredNames(pub BTreeSet<String>);
