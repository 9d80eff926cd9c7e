//! Pure: this instance's record sets: what decides them ([`RecordSpec`]), their names and form, and which
//! record sets in the zone are its own ([`is_ours`]). The plan and the registry both build on this; neither is
//! imported here.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::desired::DesiredValue;
use crate::route53::{RecordSet, Routing};

/// The record type of the record sets this daemon writes and claims (A: [`DesiredValue::HostAddress`]'s), while
/// it is the only one.
pub const RECORD_TYPE: &str = "A";

/// Everything that decides what this instance's record set for a name looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordSpec {
    /// The zone's domain, lower-case, with the trailing dot: `service.discovery.`
    pub zone_name: String,
    /// The `SetIdentifier` of this instance's record sets (`host.owner_id`, default the host IP).
    pub owner_id: String,
    /// Owner ids this instance wrote under before (the IP it had before it changed): their record sets are
    /// still ours, to withdraw, until they are gone.
    pub former_owner_ids: BTreeSet<String>,
    /// The address published.
    pub ip: Ipv4Addr,
    /// `multivalue` or `weighted`; `simple` is not handled by this plan (it claims no record set).
    pub routing: Routing,
    /// TTL in seconds.
    pub ttl: i64,
    /// `Weight` of weighted record sets.
    pub weight: i64,
}

/// The fully qualified, lower-case name of `name` (one label) in `zone`: `fqdn("Web", "service.discovery")`
/// is `web.service.discovery.`.
pub fn fqdn(name: &str, zone: &str) -> String {
    let zone = zone.trim_end_matches('.');
    format!("{}.{}.", name.trim_end_matches('.'), zone).to_ascii_lowercase()
}

/// The record sets this instance should hold for `name` (one label under the spec's zone) to publish the
/// `wanted` values: one per record type, holding each value as rendered for this instance (the address of
/// [`DesiredValue::HostAddress`] is `spec.ip`). None when nothing is wanted.
pub fn desired_record_sets(
    spec: &RecordSpec,
    name: &str,
    wanted: &BTreeSet<DesiredValue>,
) -> Vec<RecordSet> {
    let mut by_type: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for value in wanted {
        by_type
            .entry(value.record_type())
            .or_default()
            .push(rendered(spec, *value));
    }
    let routed = spec.routing != Routing::Simple;
    by_type
        .into_iter()
        .map(|(rtype, values)| RecordSet {
            name: fqdn(name, &spec.zone_name),
            rtype: rtype.to_string(),
            set_identifier: routed.then(|| spec.owner_id.clone()),
            weight: (spec.routing == Routing::Weighted).then_some(spec.weight),
            multivalue_answer: (spec.routing == Routing::Multivalue).then_some(true),
            ttl: spec.ttl,
            values,
        })
        .collect()
}

/// `value` as it stands in a record set of this instance's: what the classifier could not know is the
/// writer's (the host's address).
fn rendered(spec: &RecordSpec, value: DesiredValue) -> String {
    match value {
        DesiredValue::HostAddress => spec.ip.to_string(),
    }
}

/// Whether `name` (fully qualified) is one label directly under `zone`: the only names this daemon writes.
/// The apex, a sub-domain (`a.b.<zone>`) and a wildcard are never ours, whatever their SetIdentifier.
pub fn is_service_name(name: &str, zone: &str) -> bool {
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    let Some(label) = name
        .to_ascii_lowercase()
        .trim_end_matches('.')
        .strip_suffix(&zone)
        .and_then(|rest| rest.strip_suffix('.'))
        .map(str::to_string)
    else {
        return false;
    };
    !label.is_empty() && !label.contains('.') && !label.contains('*')
}

/// Whether `rs` belongs to this instance: an A record set of a service name ([`is_service_name`]) whose
/// `SetIdentifier` is the owner id (or a former one) and whose routing is the configured one. Nothing else
/// is ever changed.
pub fn is_ours(spec: &RecordSpec, rs: &RecordSet) -> bool {
    let Some(id) = rs.set_identifier.as_deref() else {
        return false;
    };
    if rs.rtype != RECORD_TYPE
        || (id != spec.owner_id && !spec.former_owner_ids.contains(id))
        || !is_service_name(&rs.name, &spec.zone_name)
    {
        return false;
    }
    is_routed_as(spec.routing, rs)
}

/// Whether `rs` has the form of a record set of `routing`'s own, one per owner: multivalue (the flag, no
/// weight) or weighted (a weight, no flag). Simple routing has no such record sets.
pub fn is_routed_as(routing: Routing, rs: &RecordSet) -> bool {
    match routing {
        Routing::Multivalue => rs.multivalue_answer == Some(true) && rs.weight.is_none(),
        Routing::Weighted => rs.weight.is_some() && rs.multivalue_answer != Some(true),
        Routing::Simple => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::testkit::{address_record, host_address, spec, with};

    #[test]
    fn fqdn_is_lower_case_and_absolute() {
        assert_eq!(fqdn("web", "service.discovery."), "web.service.discovery.");
        assert_eq!(fqdn("Web", "Service.Discovery"), "web.service.discovery.");
    }

    #[test]
    fn desired_record_per_routing() {
        let multi = desired_record_sets(&spec(Routing::Multivalue), "web", &host_address());
        assert_eq!(
            multi,
            vec![RecordSet {
                name: "web.service.discovery.".into(),
                rtype: "A".into(),
                set_identifier: Some("10.0.0.1".into()),
                weight: None,
                multivalue_answer: Some(true),
                ttl: 10,
                values: vec!["10.0.0.1".into()],
            }]
        );
        let weighted = address_record(&spec(Routing::Weighted), "web");
        assert_eq!(weighted.weight, Some(50));
        assert_eq!(weighted.multivalue_answer, None);
        assert_eq!(weighted.set_identifier.as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn nothing_wanted_renders_no_record_set() {
        let none = desired_record_sets(&spec(Routing::Multivalue), "web", &BTreeSet::new());
        assert_eq!(none, vec![]);
    }

    #[test]
    fn ownership_table() {
        let multi = spec(Routing::Multivalue);
        let weighted = spec(Routing::Weighted);
        let mine = address_record(&multi, "web");
        let mine_weighted = address_record(&weighted, "web");
        // (record set, ours under multivalue, ours under weighted)
        let cases = [
            (mine.clone(), true, false),
            (mine_weighted.clone(), false, true),
            (
                with(mine.clone(), |r| r.set_identifier = Some("10.0.0.2".into())),
                false,
                false,
            ),
            (
                with(mine.clone(), |r| r.set_identifier = None),
                false,
                false,
            ),
            (with(mine.clone(), |r| r.rtype = "TXT".into()), false, false),
            (
                with(mine.clone(), |r| r.multivalue_answer = None),
                false,
                false,
            ),
            (with(mine_weighted.clone(), |r| r.ttl = 300), false, true),
            (
                with(mine.clone(), |r| r.name = "a.b.service.discovery.".into()),
                false,
                false,
            ),
            (
                with(mine.clone(), |r| r.name = "service.discovery.".into()),
                false,
                false,
            ),
            (
                with(mine.clone(), |r| r.name = "*.service.discovery.".into()),
                false,
                false,
            ),
            (
                with(mine.clone(), |r| r.name = "web.other.zone.".into()),
                false,
                false,
            ),
            (
                with(mine.clone(), |r| r.values = vec!["10.9.9.9".into()]),
                true,
                false,
            ),
        ];
        for (i, (rs, multi_ours, weighted_ours)) in cases.iter().enumerate() {
            assert_eq!(
                is_ours(&multi, rs),
                *multi_ours,
                "case {i} under multivalue: {rs:?}"
            );
            assert_eq!(
                is_ours(&weighted, rs),
                *weighted_ours,
                "case {i} under weighted: {rs:?}"
            );
        }
        assert!(!is_ours(
            &spec(Routing::Simple),
            &with(mine, |r| r.set_identifier = None)
        ));
    }
}
