//! Pure: what the zone must hold, computed from the schedule's own record of what it did to the containers,
//! and how the zone read from the emulator differs from it.
//!
//! The model knows each container's daemon, service name, whether its label is one the daemon must refuse,
//! whether it runs, and its health. A name must hold a daemon's IP exactly while one of that daemon's
//! containers with a good label runs and is healthy (or has no health check). Nothing else: a record set of
//! ours that the model does not want is an extra one; an IP it wants that the zone lacks is a lost record.
//! Record sets planted by "someone else" at the start must be there unchanged at every check.

use std::collections::{BTreeMap, BTreeSet};

use route53_registrator::route53::{RecordSet, Routing};

/// What the schedule did to one container, as far as publishing goes.
#[derive(Clone, Debug)]
pub struct ModelContainer {
    /// Index of the daemon whose family suffix it carries.
    pub daemon: usize,
    /// The service name it asks for (its ECS container name).
    pub service: String,
    /// Its name-override label is one the daemon must refuse (a dot, Cyrillic letters, a wildcard).
    pub bad_label: bool,
    pub running: bool,
    /// `None`: no health check; `Some(up)`: the check passes while `up`.
    pub healthy: Option<bool>,
}

impl ModelContainer {
    /// Whether its daemon must publish its service's name for it now.
    pub fn publishes(&self) -> bool {
        self.running && !self.bad_label && self.healthy.unwrap_or(true)
    }
}

/// The zone's A records as the model wants them: fully qualified name → the IPs under it.
pub type Want = BTreeMap<String, BTreeSet<String>>;

/// What the zone must hold: every name that some daemon must publish, with every such daemon's IP.
pub fn want(containers: &[ModelContainer], ips: &[String], zone: &str) -> Want {
    let mut want = Want::new();
    for c in containers.iter().filter(|c| c.publishes()) {
        want.entry(format!("{}.{zone}.", c.service))
            .or_default()
            .insert(ips[c.daemon].clone());
    }
    want
}

/// How the zone differs from the model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// (name, IP) the model wants and the zone lacks.
    pub lost: Vec<(String, String)>,
    /// (name, IP) the zone holds in a record set of ours that the model does not want.
    pub extra: Vec<(String, String)>,
    /// Record sets of ours whose form is not the routing's (a multivalue set without its flag, a simple
    /// set with a SetIdentifier, an owner holding another's IP).
    pub malformed: Vec<String>,
    /// Planted record sets missing or changed.
    pub foreign_changed: Vec<String>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        *self == Diff::default()
    }
}

/// Compares the zone's record sets with the model. `foreign` are the record sets planted at the start;
/// any other A record set is ours. TXT record sets other than the planted ones (the ledger, simple routing's
/// markers) are the daemons' bookkeeping and not compared.
pub fn diff(zone: &[RecordSet], want: &Want, foreign: &[RecordSet], routing: Routing) -> Diff {
    let mut diff = Diff::default();
    for planted in foreign {
        if !zone.contains(planted) {
            diff.foreign_changed.push(format!("{planted:?}"));
        }
    }
    let mut held: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for set in zone
        .iter()
        .filter(|set| set.rtype == "A" && !foreign.contains(set))
    {
        if let Some(problem) = malformed(set, routing) {
            diff.malformed.push(problem);
        }
        held.entry(set.name.clone())
            .or_default()
            .extend(set.values.iter().cloned());
    }
    for (name, ips) in want {
        let have = held.get(name);
        for ip in ips
            .iter()
            .filter(|ip| !have.is_some_and(|h| h.contains(*ip)))
        {
            diff.lost.push((name.clone(), ip.clone()));
        }
    }
    for (name, ips) in &held {
        let wanted = want.get(name);
        for ip in ips
            .iter()
            .filter(|ip| !wanted.is_some_and(|w| w.contains(*ip)))
        {
            diff.extra.push((name.clone(), ip.clone()));
        }
    }
    diff
}

/// Why an A record set of ours does not have the routing's form, if it does not.
fn malformed(set: &RecordSet, routing: Routing) -> Option<String> {
    let owned_by_its_ip =
        set.values.len() == 1 && set.set_identifier.as_ref() == set.values.first();
    let ok = match routing {
        Routing::Multivalue => owned_by_its_ip && set.multivalue_answer == Some(true),
        Routing::Weighted => owned_by_its_ip && set.weight.is_some(),
        Routing::Simple => set.set_identifier.is_none() && set.weight.is_none(),
    };
    (!ok).then(|| format!("{routing:?}: {set:?}"))
}
