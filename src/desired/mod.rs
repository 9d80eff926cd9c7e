//! What this instance should publish, second stage: the naming rules ([`naming`], pure), the containers running
//! here counted into the records to publish ([`state`], pure), and the [`classifier::Classifier`] actor that
//! keeps that state from the watcher's events and snapshots. Below: what it publishes under a name
//! ([`DesiredValue`]) and the message it sends the writer ([`DesiredRecords`]).

pub mod classifier;
pub mod naming;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};

use actix::Message;

/// One thing this instance publishes under a name. The writer renders it, with what only the writer knows,
/// into a value of a record set of [`DesiredValue::record_type`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DesiredValue {
    /// The instance's IPv4 address, in an A record set: one per name and instance, however many containers
    /// run the service here. The writer knows the address (`HostIp`); the classifier does not.
    HostAddress,
}

impl DesiredValue {
    /// The type of the record set that holds this value (`"A"`).
    pub fn record_type(self) -> &'static str {
        match self {
            DesiredValue::HostAddress => "A",
        }
    }
}

/// For each name (first DNS label, sanitised) the values this instance should publish now (classifier →
/// writer); a name with no values is never a key. Sent only once the classifier has had a first snapshot,
/// so that an empty map really means "nothing runs".
#[derive(Message, Clone, Debug, Default, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct DesiredRecords(pub BTreeMap<String, BTreeSet<DesiredValue>>);

impl DesiredRecords {
    /// The records that publish this instance's address under each of `names` (and nothing else).
    pub fn addresses<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        DesiredRecords(
            names
                .into_iter()
                .map(|name| (name.into(), BTreeSet::from([DesiredValue::HostAddress])))
                .collect(),
        )
    }

    /// The names published, in order.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    /// How many names are published.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is published.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_publish_the_host_address_under_each_name_once() {
        let records = DesiredRecords::addresses(["web", "api", "web"]);
        let host = BTreeSet::from([DesiredValue::HostAddress]);
        assert_eq!(
            records.0,
            BTreeMap::from([("api".to_string(), host.clone()), ("web".to_string(), host)])
        );
        assert_eq!(records.names().collect::<Vec<_>>(), vec!["api", "web"]);
        assert_eq!(records.len(), 2);
        assert!(DesiredRecords::addresses(Vec::<String>::new()).is_empty());
    }

    #[test]
    fn the_host_address_is_published_in_an_a_record_set() {
        assert_eq!(DesiredValue::HostAddress.record_type(), "A");
    }
}
