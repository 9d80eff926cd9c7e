//! A builder for the record sets tests make: `RecordSet::a(name, ip)` is a plain A record set (TTL 10)
//! that `.multivalue(owner)` or `.weighted(owner, weight)` routes, `.ttl(n)` and `.values(..)` change.

use crate::route53::{marker_name, RecordSet, MARKER_VALUE};

impl RecordSet {
    /// A plain A record set of `name` (fully qualified, as Route53 holds it) holding `ip`, TTL 10.
    pub fn a(name: impl Into<String>, ip: &str) -> RecordSet {
        RecordSet {
            name: name.into(),
            rtype: "A".into(),
            set_identifier: None,
            weight: None,
            multivalue_answer: None,
            ttl: 10,
            values: vec![ip.into()],
        }
    }

    /// The ownership marker of the name `fqdn` in simple routing: a TXT record set, TTL 10.
    pub fn marker(fqdn: &str) -> RecordSet {
        RecordSet {
            rtype: "TXT".into(),
            ..RecordSet::a(marker_name(fqdn), MARKER_VALUE)
        }
    }

    /// `owner`'s multivalue record set (`SetIdentifier = owner`, `MultiValueAnswer = true`).
    pub fn multivalue(self, owner: &str) -> RecordSet {
        RecordSet {
            set_identifier: Some(owner.into()),
            weight: None,
            multivalue_answer: Some(true),
            ..self
        }
    }

    /// `owner`'s weighted record set (`SetIdentifier = owner`, `Weight = weight`).
    pub fn weighted(self, owner: &str, weight: i64) -> RecordSet {
        RecordSet {
            set_identifier: Some(owner.into()),
            weight: Some(weight),
            multivalue_answer: None,
            ..self
        }
    }

    /// With this TTL.
    pub fn ttl(self, ttl: i64) -> RecordSet {
        RecordSet { ttl, ..self }
    }

    /// Holding these values instead.
    pub fn values(self, values: &[&str]) -> RecordSet {
        RecordSet {
            values: values.iter().map(|v| v.to_string()).collect(),
            ..self
        }
    }
}
