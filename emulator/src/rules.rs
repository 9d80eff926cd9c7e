//! Route53's rules for the record sets of one hosted zone: validating and applying a change batch, and listing
//! them in Route53's order, a page at a time. Pure: no I/O, no clock, no faults; [`crate::Emulator`] wraps it.
//!
//! | rule | what Route53 says when it is broken |
//! |---|---|
//! | CREATE of an existing record set (name, type, set identifier) | `Tried to create resource record set [name='…', type='…'] but it already exists` |
//! | DELETE of a record set that does not exist | `Tried to delete resource record set [name='…', type='…'] but it was not found` |
//! | DELETE whose TTL, values, weight or multivalue flag differ from the current ones | `… but the values provided do not match the current values` |
//! | a batch is atomic and applied in order (DELETE then CREATE of one record set is fine) | every message of the batch, nothing applied |
//! | at most 1000 values and 32,000 characters of values per batch, UPSERT counting twice | `Number of records limit of 1000 exceeded.` / `RDATA character limit of 32000 exceeded.` |
//! | one routing policy per name and type | `… cannot be created as other RRSets exist with the same name and type.` and the like |
//! | at most 100 weighted (or multivalue) record sets per name and type | `Exceeded limit on number of weighted RRSets for …, type … in this zone.` |
//! | the weighted record sets of a name and type share one TTL | `RRSet with DNS name … and type …, SetIdentifier … cannot be created as weighted sets must contain the same TTL.` |
//! | names inside the zone, labels of at most 63 characters | `RRSet with DNS name … is not permitted in zone …` / `DomainLabelTooLong` |
//! | A values are IPv4 addresses, TXT values are quoted | `ARRDATAIllegalIPv4Address` / `InvalidCharacterString` |
//! | names compare case-insensitively | stored lower-case with the trailing dot |
//! | a byte other than `a-z 0-9 - _` in a label | listed as an escape (`*` → `\052`); a space, control or non-ASCII character given unescaped, in a change or a StartRecordName, is `InvalidInput` |
//!
//! The wording is Route53's where it could be found in public reports of real answers; the multivalue limit and the
//! weighted-versus-other conflict messages are modelled on their siblings.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use route53_registrator::route53::{Change, ChangeAction, RecordPage, RecordPosition, RecordSet};

/// Values (`ResourceRecord` elements) per ChangeResourceRecordSets request; UPSERT counts twice.
pub const MAX_RECORDS_PER_BATCH: usize = 1000;
/// Characters of all `Value` elements per request; UPSERT counts twice.
pub const MAX_VALUE_CHARS_PER_BATCH: usize = 32_000;
/// Weighted (or multivalue) record sets per name and type.
pub const MAX_ROUTED_SETS_PER_NAME_AND_TYPE: usize = 100;
/// Bytes per DNS label.
pub const MAX_LABEL_LEN: usize = 63;
/// Bytes per DNS name, dots included.
pub const MAX_NAME_LEN: usize = 255;
/// ListResourceRecordSets' page size when `maxitems` is absent, and its ceiling.
pub const MAX_PAGE_ITEMS: usize = 300;

/// Route53's form of a name, as it stores and lists it: lower-cased, with its trailing dot, and every byte of a
/// label other than `a-z`, `0-9`, `-` and `_` written as `\` and three octal digits (`*.Web.Example.com` →
/// `\052.web.example.com.`; the Route53 Developer Guide, "DNS domain name format"). In `name`, `\` and three
/// digits stand for that byte, and `\` before any other character for the character itself, so a name given
/// either way is one name. A character Route53 takes only escaped ([`unescaped_character`]) is kept as its
/// bytes here; the request that sends it is refused before.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    for label in labels(name.trim()) {
        for byte in label {
            match byte.to_ascii_lowercase() {
                b @ (b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_') => out.push(char::from(b)),
                b => out.push_str(&format!("\\{b:03o}")),
            }
        }
        out.push('.');
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// The labels of `name` as bytes, escapes decoded; a trailing dot ends the last label.
fn labels(name: &str) -> Vec<Vec<u8>> {
    let bytes = name.as_bytes();
    let mut labels = vec![Vec::new()];
    let mut i = 0;
    while i < bytes.len() {
        let label = labels.last_mut().expect("one label at least");
        match bytes[i] {
            b'\\' => {
                let digits = bytes
                    .get(i + 1..i + 4)
                    .filter(|d| d.iter().all(u8::is_ascii_digit));
                match digits.and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok())
                {
                    Some(byte) => {
                        label.push(byte);
                        i += 4;
                    }
                    None => {
                        label.extend(bytes.get(i + 1).copied());
                        i += 2;
                    }
                }
            }
            b'.' => {
                labels.push(Vec::new());
                i += 1;
            }
            byte => {
                label.push(byte);
                i += 1;
            }
        }
    }
    if labels.last().is_some_and(Vec::is_empty) {
        labels.pop();
    }
    labels
}

/// The first character of `name` that Route53 accepts only as an escape: a space, a control character, or
/// anything outside ASCII ("If your domain name contains any of the following characters, you must specify the
/// characters by using escape codes").
pub fn unescaped_character(name: &str) -> Option<char> {
    name.trim()
        .chars()
        .find(|c| !c.is_ascii() || c.is_ascii_control() || *c == ' ')
}

/// A name with its labels reversed, trailing dot kept, as Route53 sorts: `www.example.com.` → `com.example.www.`
pub fn reversed_name(name: &str) -> String {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let mut out: String = trimmed.rsplit('.').collect::<Vec<_>>().join(".");
    out.push('.');
    out
}

/// Where a record set sits in ListResourceRecordSets: reversed name, then type, then set identifier (a record set
/// without one first).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortKey {
    reversed_name: String,
    rtype: String,
    identifier: Option<String>,
}

impl SortKey {
    /// The key of a record set whose name is already normalized.
    pub fn of(record_set: &RecordSet) -> Self {
        SortKey {
            reversed_name: reversed_name(&record_set.name),
            rtype: record_set.rtype.clone(),
            identifier: record_set.set_identifier.clone(),
        }
    }

    /// The smallest key at or after `position` (a missing type or identifier sorts first).
    fn start_of(position: &RecordPosition) -> Self {
        SortKey {
            reversed_name: reversed_name(&normalize_name(&position.name)),
            rtype: position.rtype.clone().unwrap_or_default(),
            identifier: position.identifier.clone(),
        }
    }
}

/// The routing policy of a record set, from its routing fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// No SetIdentifier: the one record set of its name and type.
    Simple,
    /// SetIdentifier and Weight.
    Weighted,
    /// SetIdentifier and MultiValueAnswer.
    Multivalue,
}

impl Policy {
    /// The policy of `record_set`, or why its routing fields do not fit together (Route53's `InvalidInput`).
    pub fn of(record_set: &RecordSet) -> Result<Policy, String> {
        let described = describe(record_set);
        match (&record_set.set_identifier, record_set.weight, record_set.multivalue_answer) {
            (None, None, None) => Ok(Policy::Simple),
            (Some(_), Some(_), None) => Ok(Policy::Weighted),
            (Some(_), None, Some(_)) => Ok(Policy::Multivalue),
            (None, _, _) => Err(format!(
                "Invalid request: Missing field 'SetIdentifier' in Change with {described}"
            )),
            (Some(_), None, None) => Err(format!(
                "Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, MultiValueAnswer, \
                 GeoProximityLocation, or CidrRoutingConfig], but found none in Change with {described}"
            )),
            (Some(_), Some(_), Some(_)) => Err(format!(
                "Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, MultiValueAnswer, \
                 GeoProximityLocation, or CidrRoutingConfig], but found more than one in Change with {described}"
            )),
        }
    }
}

/// Why a batch was refused as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// `InvalidChangeBatch`: one message per broken rule, in the order of the changes.
    InvalidChangeBatch(Vec<String>),
    /// `InvalidInput`: the request itself is malformed.
    InvalidInput(String),
}

/// The record sets of one hosted zone, kept in Route53's listing order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneRecords {
    apex: String,
    sets: BTreeMap<SortKey, RecordSet>,
}

impl ZoneRecords {
    /// An empty zone for the domain `apex` (normalized here).
    pub fn empty(apex: &str) -> Self {
        ZoneRecords {
            apex: normalize_name(apex),
            sets: BTreeMap::new(),
        }
    }

    /// A new zone as Route53 creates it: the apex's SOA and NS record sets, and nothing else.
    pub fn new(apex: &str) -> Self {
        let mut zone = ZoneRecords::empty(apex);
        let apex = zone.apex.clone();
        let soa = RecordSet {
            name: apex.clone(),
            rtype: "SOA".into(),
            set_identifier: None,
            weight: None,
            multivalue_answer: None,
            ttl: 900,
            values: vec![
                "ns-1536.awsdns-00.co.uk. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"
                    .into(),
            ],
        };
        let ns = RecordSet {
            name: apex,
            rtype: "NS".into(),
            set_identifier: None,
            weight: None,
            multivalue_answer: None,
            ttl: 172_800,
            values: vec![
                "ns-1536.awsdns-00.co.uk.".into(),
                "ns-0.awsdns-00.com.".into(),
                "ns-1024.awsdns-00.org.".into(),
                "ns-512.awsdns-00.net.".into(),
            ],
        };
        for set in [soa, ns] {
            zone.sets.insert(SortKey::of(&set), set);
        }
        zone
    }

    /// The zone's domain, lower-case with the trailing dot.
    pub fn apex(&self) -> &str {
        &self.apex
    }

    /// Every record set, in Route53's order.
    pub fn record_sets(&self) -> Vec<RecordSet> {
        self.sets.values().cloned().collect()
    }

    /// How many record sets the zone holds (GetHostedZone's `ResourceRecordSetCount`).
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether the zone holds no record set at all.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// ChangeResourceRecordSets: applies `changes` in order to a copy of the zone and keeps the copy only when no
    /// change broke a rule. Every broken rule gives one message; the zone is then unchanged.
    pub fn apply(&mut self, changes: &[Change]) -> Result<(), BatchError> {
        if changes.is_empty() {
            return Err(BatchError::InvalidInput(
                "1 validation error detected: Value null at 'changeBatch.changes' failed to satisfy constraint: \
                 Member must not be null"
                    .into(),
            ));
        }
        for change in changes {
            let name = &change.record_set.name;
            if let Some(c) = unescaped_character(name) {
                return Err(BatchError::InvalidInput(format!(
                    "Invalid request: the name {name:?} holds {c:?}, which must be given as an escape code"
                )));
            }
        }
        let changes: Vec<Change> = changes.iter().map(normalize_change).collect();
        for change in &changes {
            check_input(change).map_err(BatchError::InvalidInput)?;
        }
        check_batch_size(&changes)
            .map_err(|message| BatchError::InvalidChangeBatch(vec![message]))?;

        let mut working = self.sets.clone();
        let mut messages = Vec::new();
        let mut touched: BTreeSet<(String, String)> = BTreeSet::new();
        for change in &changes {
            let set = &change.record_set;
            if let Err(message) = self.check_name_and_values(set) {
                messages.push(message);
                continue;
            }
            touched.insert((set.name.clone(), set.rtype.clone()));
            let result = match change.action {
                ChangeAction::Create => create(&mut working, set, &self.apex),
                ChangeAction::Delete => delete(&mut working, set),
                ChangeAction::Upsert => write(&mut working, SortKey::of(set), set, &self.apex),
            };
            if let Err(message) = result {
                messages.push(message);
            }
        }
        for (name, rtype) in &touched {
            messages.extend(check_group_size(&working, name, rtype));
        }
        messages.extend(self.check_apex(&working, &touched));
        if messages.is_empty() {
            self.sets = working;
            Ok(())
        } else {
            Err(BatchError::InvalidChangeBatch(messages))
        }
    }

    /// ListResourceRecordSets: at most `max_items` record sets (300 when `None`, and never more) from `start`, and
    /// where the next page starts. Errors are Route53's `InvalidInput`.
    pub fn page(
        &self,
        start: Option<&RecordPosition>,
        max_items: Option<i32>,
    ) -> Result<RecordPage, String> {
        let limit = match max_items {
            None => MAX_PAGE_ITEMS,
            Some(n) if n < 1 => {
                return Err(format!(
                    "Invalid value for maxitems: {n}; it must be at least 1"
                ))
            }
            Some(n) => (n as usize).min(MAX_PAGE_ITEMS),
        };
        if let Some(position) = start {
            if position.name.trim().is_empty() {
                return Err("A StartRecordName is required when a StartRecordType is given".into());
            }
            if let Some(c) = unescaped_character(&position.name) {
                return Err(format!(
                    "Invalid StartRecordName {:?}: {c:?} must be given as an escape code",
                    position.name
                ));
            }
            if position.identifier.is_some() && position.rtype.is_none() {
                return Err(
                    "A StartRecordType is required when a StartRecordIdentifier is given".into(),
                );
            }
        }
        let from = start.map(SortKey::start_of);
        let mut iter: Box<dyn Iterator<Item = &RecordSet>> = match &from {
            Some(key) => Box::new(self.sets.range(key.clone()..).map(|(_, set)| set)),
            None => Box::new(self.sets.values()),
        };
        let record_sets: Vec<RecordSet> = iter.by_ref().take(limit).cloned().collect();
        let next = iter.next().map(|set| RecordPosition {
            name: set.name.clone(),
            rtype: Some(set.rtype.clone()),
            identifier: set.set_identifier.clone(),
        });
        Ok(RecordPage { record_sets, next })
    }

    /// The name lies in the zone, its labels fit, and the values suit the type.
    fn check_name_and_values(&self, set: &RecordSet) -> Result<(), String> {
        let name = &set.name;
        if name != &self.apex && !name.ends_with(&format!(".{}", self.apex)) {
            return Err(format!(
                "RRSet with DNS name {name} is not permitted in zone {}",
                self.apex
            ));
        }
        // Lengths count bytes, an escape being one; the stored form escapes every dot within a label.
        let bytes = |label: &str| labels(label).first().map_or(0, Vec::len);
        let bare = name.strip_suffix('.').unwrap_or(name);
        if bare.split('.').map(|label| bytes(label) + 1).sum::<usize>() > MAX_NAME_LEN {
            return Err(format!(
                "FATAL problem: DomainNameTooLong (Domain name is too long) encountered with '{name}'"
            ));
        }
        for label in bare.split('.') {
            if label.is_empty() {
                return Err(format!("FATAL problem: DomainLabelEmpty (Domain label is empty) encountered with '{name}'"));
            }
            if bytes(label) > MAX_LABEL_LEN {
                return Err(format!(
                    "FATAL problem: DomainLabelTooLong (Domain label is too long) encountered with '{label}'"
                ));
            }
        }
        for value in &set.values {
            match set.rtype.as_str() {
                "A" if value.parse::<Ipv4Addr>().is_err() => {
                    return Err(format!(
                        "Invalid Resource Record: FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid \
                         IPv4 address) encountered with '{value}'"
                    ))
                }
                "TXT" if !(value.len() >= 2 && value.starts_with('"') && value.ends_with('"')) => {
                    return Err(format!(
                        "Invalid Resource Record: FATAL problem: InvalidCharacterString (Value should be enclosed in \
                         quotation marks) encountered with '{value}'"
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A zone keeps exactly one SOA and at least one NS record set at its apex.
    fn check_apex(
        &self,
        working: &BTreeMap<SortKey, RecordSet>,
        touched: &BTreeSet<(String, String)>,
    ) -> Vec<String> {
        let mut messages = Vec::new();
        let apex_has = |rtype: &str| {
            working
                .values()
                .any(|s| s.name == self.apex && s.rtype == rtype)
        };
        if touched.contains(&(self.apex.clone(), "SOA".into())) && !apex_has("SOA") {
            messages.push("A HostedZone must contain exactly one SOA record.".into());
        }
        if touched.contains(&(self.apex.clone(), "NS".into())) && !apex_has("NS") {
            messages.push(
                "A HostedZone must contain at least one NS record for the zone itself.".into(),
            );
        }
        messages
    }
}

/// `[name='web.service.discovery.', type='A', set-identifier='10.0.0.1']`, as Route53 names a record set.
fn describe(set: &RecordSet) -> String {
    match &set.set_identifier {
        Some(id) => format!(
            "[name='{}', type='{}', set-identifier='{id}']",
            set.name, set.rtype
        ),
        None => format!("[name='{}', type='{}']", set.name, set.rtype),
    }
}

fn normalize_change(change: &Change) -> Change {
    let mut change = change.clone();
    change.record_set.name = normalize_name(&change.record_set.name);
    change.record_set.rtype = change.record_set.rtype.trim().to_ascii_uppercase();
    change
}

/// Malformed changes (Route53's `InvalidInput`, sent before any rule is checked).
fn check_input(change: &Change) -> Result<(), String> {
    let set = &change.record_set;
    let described = describe(set);
    if set.name == "." && set.rtype.is_empty() {
        return Err("Invalid request: a Name and a Type are required".into());
    }
    if set.values.is_empty() {
        return Err(format!(
            "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or \
             TrafficPolicyInstanceId], but found none in Change with {described}"
        ));
    }
    if !(0..=i64::from(i32::MAX)).contains(&set.ttl) {
        return Err(format!(
            "Invalid request: TTL {} is outside 0..=2147483647 in Change with {described}",
            set.ttl
        ));
    }
    if let Some(weight) = set.weight {
        if !(0..=255).contains(&weight) {
            return Err(format!(
                "Invalid request: Weight {weight} is outside 0..=255 in Change with {described}"
            ));
        }
    }
    if change.action != ChangeAction::Delete {
        Policy::of(set)?;
    }
    Ok(())
}

/// The request-wide limits, each counted over every change (UPSERT twice, since it may delete and create).
fn check_batch_size(changes: &[Change]) -> Result<(), String> {
    let (mut records, mut chars) = (0usize, 0usize);
    for change in changes {
        let weight = if change.action == ChangeAction::Upsert {
            2
        } else {
            1
        };
        records += weight * change.record_set.values.len();
        chars += weight
            * change
                .record_set
                .values
                .iter()
                .map(|v| v.chars().count())
                .sum::<usize>();
    }
    if records > MAX_RECORDS_PER_BATCH {
        return Err(format!(
            "Number of records limit of {MAX_RECORDS_PER_BATCH} exceeded."
        ));
    }
    if chars > MAX_VALUE_CHARS_PER_BATCH {
        return Err(format!(
            "RDATA character limit of {MAX_VALUE_CHARS_PER_BATCH} exceeded."
        ));
    }
    Ok(())
}

fn create(
    working: &mut BTreeMap<SortKey, RecordSet>,
    set: &RecordSet,
    apex: &str,
) -> Result<(), String> {
    let key = SortKey::of(set);
    if working.contains_key(&key) {
        return Err(format!(
            "Tried to create resource record set {} but it already exists",
            describe(set)
        ));
    }
    write(working, key, set, apex)
}

fn delete(working: &mut BTreeMap<SortKey, RecordSet>, set: &RecordSet) -> Result<(), String> {
    let key = SortKey::of(set);
    let Some(current) = working.get(&key) else {
        return Err(format!(
            "Tried to delete resource record set {} but it was not found",
            describe(set)
        ));
    };
    if !same_contents(current, set) {
        return Err(format!(
            "Tried to delete resource record set {} but the values provided do not match the current values",
            describe(set)
        ));
    }
    working.remove(&key);
    Ok(())
}

/// Same TTL, routing fields and values (in any order): what a DELETE must name.
fn same_contents(a: &RecordSet, b: &RecordSet) -> bool {
    let sorted = |set: &RecordSet| {
        let mut values = set.values.clone();
        values.sort();
        values
    };
    a.ttl == b.ttl
        && a.weight == b.weight
        && a.multivalue_answer == b.multivalue_answer
        && a.set_identifier == b.set_identifier
        && sorted(a) == sorted(b)
}

/// UPSERT, and CREATE once it knows the record set is new: the CNAME, routing-policy and weighted-TTL rules
/// against the record sets of the same name as the batch has left them so far, then the write.
///
/// A weighted record set must carry the TTL of the other weighted record sets of its name and type (the record set
/// it replaces does not count): Route53's API refuses a different one rather than rewriting the group (the
/// developer guide's note that the TTL written last applies to the whole group describes the console). So an UPSERT
/// may change the TTL of a group's only member, and a batch may DELETE a whole group and CREATE it again at a new
/// TTL, but a member cannot move alone.
fn write(
    working: &mut BTreeMap<SortKey, RecordSet>,
    key: SortKey,
    set: &RecordSet,
    zone: &str,
) -> Result<(), String> {
    let policy = Policy::of(set)?;
    let (name, rtype) = (&set.name, &set.rtype);
    let same_name: Vec<&RecordSet> = working
        .iter()
        .filter(|(k, _)| k.reversed_name == key.reversed_name && **k != key)
        .map(|(_, s)| s)
        .collect();
    if rtype == "CNAME" && same_name.iter().any(|s| s.rtype != "CNAME") {
        return Err(format!(
            "RRSet of type CNAME with DNS name {name} is not permitted as it conflicts with other records with the \
             same DNS name in zone {zone}"
        ));
    }
    if rtype != "CNAME" && same_name.iter().any(|s| s.rtype == "CNAME") {
        return Err(format!(
            "RRSet of type {rtype} with DNS name {name} is not permitted because a conflicting RRSet of type  CNAME \
             with the same DNS name already exists in zone {zone}"
        ));
    }
    let siblings: Vec<&RecordSet> = same_name
        .into_iter()
        .filter(|s| &s.rtype == rtype)
        .collect();
    if !siblings.is_empty() {
        let id = set.set_identifier.as_deref().unwrap_or_default();
        let other_policies: Vec<Policy> =
            siblings.iter().filter_map(|s| Policy::of(s).ok()).collect();
        match policy {
            Policy::Simple => {
                return Err(format!(
                    "RRSet with DNS name {name}, type {rtype} cannot be created as other RRSets exist with the same \
                     name and type."
                ))
            }
            Policy::Multivalue if other_policies.iter().any(|p| *p != Policy::Multivalue) => {
                return Err(format!(
                    "RRSet with DNS name {name}, type {rtype}, SetIdentifier {id} cannot be created because a non \
                     multivalue answer rrset exists with the same name and type."
                ))
            }
            Policy::Weighted if other_policies.iter().any(|p| *p != Policy::Weighted) => {
                return Err(format!(
                    "RRSet with DNS name {name}, type {rtype}, SetIdentifier {id} cannot be created because a non \
                     weighted rrset exists with the same name and type."
                ))
            }
            Policy::Weighted if siblings.iter().any(|s| s.ttl != set.ttl) => {
                return Err(format!(
                    "RRSet with DNS name {name} and type {rtype}, SetIdentifier {id} cannot be created as weighted \
                     sets must contain the same TTL."
                ))
            }
            _ => {}
        }
    }
    working.insert(key, set.clone());
    Ok(())
}

/// At most 100 weighted or multivalue record sets per name and type, counted once the batch is applied.
fn check_group_size(
    working: &BTreeMap<SortKey, RecordSet>,
    name: &str,
    rtype: &str,
) -> Option<String> {
    let group: Vec<&RecordSet> = working
        .values()
        .filter(|s| s.name == name && s.rtype == rtype)
        .collect();
    if group.len() <= MAX_ROUTED_SETS_PER_NAME_AND_TYPE {
        return None;
    }
    let kind = match group.first().and_then(|s| Policy::of(s).ok()) {
        Some(Policy::Multivalue) => "multivalue answer",
        _ => "weighted",
    };
    Some(format!(
        "Exceeded limit on number of {kind} RRSets for {name}, type {rtype} in this zone."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversed_name_keeps_the_trailing_dot() {
        assert_eq!(reversed_name("www.example.com."), "com.example.www.");
        assert_eq!(reversed_name("example.com."), "com.example.");
    }

    #[test]
    fn normalize_lower_cases_and_adds_the_dot() {
        assert_eq!(
            normalize_name("Web.Service.Discovery"),
            "web.service.discovery."
        );
        assert_eq!(
            normalize_name("web.service.discovery."),
            "web.service.discovery."
        );
    }

    #[test]
    fn a_name_is_kept_as_route53_lists_it_with_escapes_however_it_was_given() {
        // (as given, as stored and listed)
        let cases = [
            ("*.Web.Example.com", "\\052.web.example.com."),
            ("\\052.web.example.com.", "\\052.web.example.com."),
            ("caf\\303\\251.example.com", "caf\\303\\251.example.com."),
            ("a\\040b.example.com", "a\\040b.example.com."),
            ("\\101pi.example.com", "api.example.com."),
            ("a\\.b.example.com", "a\\056b.example.com."),
            ("under_score-1.example.com", "under_score-1.example.com."),
        ];
        for (given, stored) in cases {
            assert_eq!(normalize_name(given), stored, "{given}");
            assert_eq!(
                normalize_name(stored),
                stored,
                "{stored} is stored as it is"
            );
        }
    }

    #[test]
    fn spaces_controls_and_non_ascii_must_come_escaped() {
        assert_eq!(unescaped_character("café.example.com"), Some('é'));
        assert_eq!(unescaped_character("a b.example.com"), Some(' '));
        assert_eq!(unescaped_character("a\tb.example.com"), Some('\t'));
        assert_eq!(unescaped_character("caf\\303\\251.example.com"), None);
        assert_eq!(unescaped_character("*.example.com"), None);
    }

    #[test]
    fn sort_key_orders_by_reversed_name_then_type_then_identifier() {
        let set = |name: &str, rtype: &str, id: Option<&str>| RecordSet {
            name: name.into(),
            rtype: rtype.into(),
            set_identifier: id.map(Into::into),
            weight: None,
            multivalue_answer: id.map(|_| true),
            ttl: 1,
            values: vec!["1.1.1.1".into()],
        };
        let mut keys = [
            SortKey::of(&set("b.z.", "A", None)),
            SortKey::of(&set("a.z.", "TXT", None)),
            SortKey::of(&set("a.z.", "A", Some("2"))),
            SortKey::of(&set("a.z.", "A", Some("1"))),
            SortKey::of(&set("z.", "SOA", None)),
            // '-' sorts before '.', so `a-b.z.` comes before `a.z.` (Route53's documented trailing-dot effect).
            SortKey::of(&set("a-b.z.", "A", None)),
        ];
        keys.sort();
        let names: Vec<_> = keys
            .iter()
            .map(|k| (k.reversed_name.as_str(), k.rtype.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("z.", "SOA"),
                ("z.a-b.", "A"),
                ("z.a.", "A"),
                ("z.a.", "A"),
                ("z.a.", "TXT"),
                ("z.b.", "A")
            ]
        );
        assert_eq!(keys[2].identifier.as_deref(), Some("1"));
    }

    #[test]
    fn policy_rejects_inconsistent_routing_fields() {
        let mut set = RecordSet {
            name: "a.z.".into(),
            rtype: "A".into(),
            set_identifier: Some("x".into()),
            weight: None,
            multivalue_answer: None,
            ttl: 1,
            values: vec!["1.1.1.1".into()],
        };
        assert!(Policy::of(&set).is_err());
        set.weight = Some(1);
        assert_eq!(Policy::of(&set), Ok(Policy::Weighted));
        set.multivalue_answer = Some(true);
        assert!(Policy::of(&set).is_err());
        set.weight = None;
        assert_eq!(Policy::of(&set), Ok(Policy::Multivalue));
        set.set_identifier = None;
        assert!(Policy::of(&set).is_err());
    }
}
