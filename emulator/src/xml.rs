//! Route53's REST XML (API version 2013-04-01): the request bodies the emulator reads and the answers it writes,
//! as serde types for quick-xml. Element names are Route53's; Rust field names follow them via `rename`.

use serde::{Deserialize, Serialize};

use route53_registrator::route53::{Change, RecordSet};

use crate::emulator::{parse_action, ApiError, ChangeView, ZoneSummary};

/// The namespace of every Route53 2013-04-01 document.
pub const NAMESPACE: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Serializes `value` as a whole document (declaration included).
pub fn document<T: Serialize>(value: &T) -> String {
    let body = quick_xml::se::to_string(value).expect("emulator responses always serialize");
    format!("{DECLARATION}{body}")
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

/// A request body as `T`, or Route53's `InvalidInput` for a body that is not UTF-8 or not the document.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::InvalidInput(format!("Invalid XML ; {e}")))?;
    quick_xml::de::from_str(text).map_err(|e| ApiError::InvalidInput(format!("Invalid XML ; {e}")))
}

/// A ChangeResourceRecordSets body as the batch the rules take (and its comment), or `InvalidInput`.
pub fn change_batch(body: &[u8]) -> Result<(Vec<Change>, Option<String>), ApiError> {
    parse::<ChangeResourceRecordSetsRequest>(body)?.into_changes()
}

/// `ChangeResourceRecordSetsRequest`.
#[derive(Debug, Deserialize)]
pub struct ChangeResourceRecordSetsRequest {
    #[serde(rename = "ChangeBatch")]
    pub change_batch: ChangeBatchXml,
}

#[derive(Debug, Deserialize)]
pub struct ChangeBatchXml {
    #[serde(rename = "Comment", default)]
    pub comment: Option<String>,
    #[serde(rename = "Changes", default)]
    pub changes: ChangesXml,
}

#[derive(Debug, Default, Deserialize)]
pub struct ChangesXml {
    #[serde(rename = "Change", default)]
    pub change: Vec<ChangeXml>,
}

#[derive(Debug, Deserialize)]
pub struct ChangeXml {
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "ResourceRecordSet")]
    pub record_set: RecordSetXml,
}

impl ChangeResourceRecordSetsRequest {
    /// The batch as the rules take it, or Route53's `InvalidInput`.
    pub fn into_changes(self) -> Result<(Vec<Change>, Option<String>), ApiError> {
        let comment = self.change_batch.comment;
        let changes = self
            .change_batch
            .changes
            .change
            .into_iter()
            .map(|change| {
                let action = parse_action(&change.action).ok_or_else(|| {
                    ApiError::InvalidInput(format!(
                        "1 validation error detected: Value '{}' at 'changeBatch.changes.1.member.action' failed \
                         to satisfy constraint: Member must satisfy enum value set: [CREATE, DELETE, UPSERT]",
                        change.action
                    ))
                })?;
                Ok(Change { action, record_set: change.record_set.into_record_set() })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok((changes, comment))
    }
}

/// `CreateHostedZoneRequest`.
#[derive(Debug, Deserialize)]
pub struct CreateHostedZoneRequest {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "CallerReference")]
    pub caller_reference: String,
    #[serde(rename = "VPC", default)]
    pub vpc: Option<VpcXml>,
    #[serde(rename = "HostedZoneConfig", default)]
    pub config: Option<HostedZoneConfigXml>,
}

// ---------------------------------------------------------------------------------------------------------------
// Shared pieces

/// `ResourceRecordSet`, read and written.
#[derive(Debug, Serialize, Deserialize)]
pub struct RecordSetXml {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Type")]
    pub rtype: String,
    #[serde(
        rename = "SetIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub set_identifier: Option<String>,
    #[serde(rename = "Weight", default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    #[serde(
        rename = "MultiValueAnswer",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub multivalue_answer: Option<bool>,
    #[serde(rename = "TTL", default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    #[serde(
        rename = "ResourceRecords",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_records: Option<ResourceRecordsXml>,
}

impl RecordSetXml {
    fn into_record_set(self) -> RecordSet {
        RecordSet {
            name: self.name,
            rtype: self.rtype,
            set_identifier: self.set_identifier,
            weight: self.weight,
            multivalue_answer: self.multivalue_answer,
            ttl: self.ttl.unwrap_or(0),
            values: self
                .resource_records
                .map(|r| r.records.into_iter().map(|r| r.value).collect())
                .unwrap_or_default(),
        }
    }
}

impl From<&RecordSet> for RecordSetXml {
    fn from(set: &RecordSet) -> Self {
        RecordSetXml {
            name: set.name.clone(),
            rtype: set.rtype.clone(),
            set_identifier: set.set_identifier.clone(),
            weight: set.weight,
            multivalue_answer: set.multivalue_answer,
            ttl: Some(set.ttl),
            resource_records: Some(ResourceRecordsXml {
                records: set
                    .values
                    .iter()
                    .map(|v| ResourceRecordXml { value: v.clone() })
                    .collect(),
            }),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ResourceRecordsXml {
    #[serde(rename = "ResourceRecord", default)]
    pub records: Vec<ResourceRecordXml>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ResourceRecordXml {
    #[serde(rename = "Value")]
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VpcXml {
    #[serde(rename = "VPCRegion", default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(rename = "VPCId", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct HostedZoneConfigXml {
    #[serde(rename = "Comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(rename = "PrivateZone", default)]
    pub private_zone: bool,
}

/// `HostedZone`.
#[derive(Debug, Serialize)]
pub struct HostedZoneXml {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "CallerReference")]
    caller_reference: String,
    #[serde(rename = "Config")]
    config: HostedZoneConfigXml,
    #[serde(rename = "ResourceRecordSetCount")]
    count: usize,
}

impl From<&ZoneSummary> for HostedZoneXml {
    fn from(zone: &ZoneSummary) -> Self {
        HostedZoneXml {
            id: format!("/hostedzone/{}", zone.zone.id),
            name: zone.zone.name.clone(),
            caller_reference: zone.caller_reference.clone(),
            config: HostedZoneConfigXml {
                comment: zone.comment.clone(),
                private_zone: zone.zone.private,
            },
            count: zone.record_set_count,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct HostedZonesXml {
    #[serde(rename = "HostedZone")]
    zones: Vec<HostedZoneXml>,
}

impl HostedZonesXml {
    pub fn of(zones: &[ZoneSummary]) -> Self {
        HostedZonesXml {
            zones: zones.iter().map(HostedZoneXml::from).collect(),
        }
    }
}

/// `DelegationSet` of a public zone: the name servers Route53 gives every new zone here.
#[derive(Debug, Serialize)]
pub struct DelegationSetXml {
    #[serde(rename = "NameServers")]
    name_servers: NameServersXml,
}

#[derive(Debug, Serialize)]
struct NameServersXml {
    #[serde(rename = "NameServer")]
    name_servers: Vec<String>,
}

impl DelegationSetXml {
    pub fn standard() -> Self {
        DelegationSetXml {
            name_servers: NameServersXml {
                name_servers: [
                    "ns-1536.awsdns-00.co.uk",
                    "ns-0.awsdns-00.com",
                    "ns-1024.awsdns-00.org",
                    "ns-512.awsdns-00.net",
                ]
                .map(String::from)
                .to_vec(),
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct VpcsXml {
    #[serde(rename = "VPC")]
    vpcs: Vec<VpcXml>,
}

/// `ChangeInfo`.
#[derive(Debug, Serialize)]
pub struct ChangeInfoXml {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "SubmittedAt")]
    submitted_at: String,
    #[serde(rename = "Comment", skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

impl From<&ChangeView> for ChangeInfoXml {
    fn from(change: &ChangeView) -> Self {
        ChangeInfoXml {
            id: format!("/change/{}", change.id),
            status: change.status.to_string(),
            submitted_at: humantime::format_rfc3339_millis(change.submitted_at).to_string(),
            comment: change.comment.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Responses

#[derive(Debug, Serialize)]
#[serde(rename = "GetHostedZoneResponse")]
pub struct GetHostedZoneResponse {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "HostedZone")]
    zone: HostedZoneXml,
    #[serde(rename = "DelegationSet", skip_serializing_if = "Option::is_none")]
    delegation_set: Option<DelegationSetXml>,
    #[serde(rename = "VPCs", skip_serializing_if = "Option::is_none")]
    vpcs: Option<VpcsXml>,
}

impl GetHostedZoneResponse {
    pub fn of(zone: &ZoneSummary) -> Self {
        GetHostedZoneResponse {
            xmlns: NAMESPACE,
            zone: zone.into(),
            delegation_set: (!zone.zone.private).then(DelegationSetXml::standard),
            vpcs: vpc_of(zone).map(|vpc| VpcsXml { vpcs: vec![vpc] }),
        }
    }
}

fn vpc_of(zone: &ZoneSummary) -> Option<VpcXml> {
    zone.vpc.as_ref().map(|(region, id)| VpcXml {
        region: Some(region.clone()),
        id: Some(id.clone()),
    })
}

#[derive(Debug, Serialize)]
#[serde(rename = "CreateHostedZoneResponse")]
pub struct CreateHostedZoneResponse {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "HostedZone")]
    zone: HostedZoneXml,
    #[serde(rename = "ChangeInfo")]
    change_info: ChangeInfoXml,
    #[serde(rename = "DelegationSet", skip_serializing_if = "Option::is_none")]
    delegation_set: Option<DelegationSetXml>,
    #[serde(rename = "VPC", skip_serializing_if = "Option::is_none")]
    vpc: Option<VpcXml>,
}

impl CreateHostedZoneResponse {
    pub fn of(zone: &ZoneSummary, change: &ChangeView) -> Self {
        CreateHostedZoneResponse {
            xmlns: NAMESPACE,
            zone: zone.into(),
            change_info: change.into(),
            delegation_set: (!zone.zone.private).then(DelegationSetXml::standard),
            vpc: vpc_of(zone),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename = "ListHostedZonesResponse")]
pub struct ListHostedZonesResponse {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "HostedZones")]
    pub zones: HostedZonesXml,
    #[serde(rename = "Marker")]
    pub marker: String,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "NextMarker", skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    #[serde(rename = "MaxItems")]
    pub max_items: String,
}

#[derive(Debug, Serialize)]
#[serde(rename = "ListHostedZonesByNameResponse")]
pub struct ListHostedZonesByNameResponse {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "HostedZones")]
    pub zones: HostedZonesXml,
    #[serde(rename = "DNSName", skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    #[serde(rename = "HostedZoneId", skip_serializing_if = "Option::is_none")]
    pub hosted_zone_id: Option<String>,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "NextDNSName", skip_serializing_if = "Option::is_none")]
    pub next_dns_name: Option<String>,
    #[serde(rename = "NextHostedZoneId", skip_serializing_if = "Option::is_none")]
    pub next_hosted_zone_id: Option<String>,
    #[serde(rename = "MaxItems")]
    pub max_items: String,
}

#[derive(Debug, Serialize)]
pub struct RecordSetsXml {
    #[serde(rename = "ResourceRecordSet")]
    pub sets: Vec<RecordSetXml>,
}

#[derive(Debug, Serialize)]
#[serde(rename = "ListResourceRecordSetsResponse")]
pub struct ListResourceRecordSetsResponse {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "ResourceRecordSets")]
    pub sets: RecordSetsXml,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "NextRecordName", skip_serializing_if = "Option::is_none")]
    pub next_name: Option<String>,
    #[serde(rename = "NextRecordType", skip_serializing_if = "Option::is_none")]
    pub next_type: Option<String>,
    #[serde(
        rename = "NextRecordIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_identifier: Option<String>,
    #[serde(rename = "MaxItems")]
    pub max_items: String,
}

/// `ChangeResourceRecordSetsResponse` and `GetChangeResponse` carry the same `ChangeInfo`.
#[derive(Debug, Serialize)]
pub struct ChangeInfoResponse {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "ChangeInfo")]
    change_info: ChangeInfoXml,
}

impl ChangeInfoResponse {
    /// The document with `root` as its root element.
    pub fn document(root: &str, change: &ChangeView) -> String {
        let value = ChangeInfoResponse {
            xmlns: NAMESPACE,
            change_info: change.into(),
        };
        let body = quick_xml::se::to_string_with_root(root, &value)
            .expect("emulator responses always serialize");
        format!("{DECLARATION}{body}")
    }
}

#[derive(Debug, Serialize)]
#[serde(rename = "ErrorResponse")]
pub struct ErrorResponse {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "Error")]
    error: ErrorXml,
    #[serde(rename = "RequestId")]
    request_id: String,
}

#[derive(Debug, Serialize)]
struct ErrorXml {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message")]
    message: String,
}

impl ErrorResponse {
    pub fn of(error: &ApiError, request_id: &str) -> Self {
        ErrorResponse {
            xmlns: NAMESPACE,
            error: ErrorXml {
                kind: error.kind().into(),
                code: error.code().into(),
                message: error.message(),
            },
            request_id: request_id.into(),
        }
    }
}

/// The other shape Route53 has sent a rejected batch in.
#[derive(Debug, Serialize)]
#[serde(rename = "InvalidChangeBatch")]
pub struct LegacyInvalidChangeBatch {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "Messages")]
    messages: MessagesXml,
    #[serde(rename = "RequestId")]
    request_id: String,
}

#[derive(Debug, Serialize)]
struct MessagesXml {
    #[serde(rename = "Message")]
    messages: Vec<String>,
}

impl LegacyInvalidChangeBatch {
    pub fn of(messages: &[String], request_id: &str) -> Self {
        LegacyInvalidChangeBatch {
            xmlns: NAMESPACE,
            messages: MessagesXml {
                messages: messages.to_vec(),
            },
            request_id: request_id.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use route53_registrator::route53::ChangeAction;

    #[test]
    fn reads_a_change_batch_as_the_sdk_writes_it() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Comment>c</Comment><Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>web.z.</Name><Type>A</Type><SetIdentifier>h1</SetIdentifier><MultiValueAnswer>true</MultiValueAnswer><TTL>10</TTL><ResourceRecords><ResourceRecord><Value>10.0.0.1</Value></ResourceRecord><ResourceRecord><Value>10.0.0.2</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change><Change><Action>DELETE</Action><ResourceRecordSet><Name>api.z.</Name><Type>A</Type><SetIdentifier>h1</SetIdentifier><Weight>50</Weight><TTL>5</TTL><ResourceRecords><ResourceRecord><Value>10.0.0.1</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"#;
        let request: ChangeResourceRecordSetsRequest = quick_xml::de::from_str(body).unwrap();
        let (changes, comment) = request.into_changes().unwrap();
        assert_eq!(comment.as_deref(), Some("c"));
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].action, ChangeAction::Upsert);
        assert_eq!(changes[0].record_set.values, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(changes[0].record_set.multivalue_answer, Some(true));
        assert_eq!(changes[0].record_set.ttl, 10);
        assert_eq!(changes[1].action, ChangeAction::Delete);
        assert_eq!(changes[1].record_set.weight, Some(50));
        assert_eq!(changes[1].record_set.set_identifier.as_deref(), Some("h1"));
    }

    #[test]
    fn refuses_an_unknown_action() {
        let body = r#"<ChangeResourceRecordSetsRequest><ChangeBatch><Changes><Change><Action>REPLACE</Action><ResourceRecordSet><Name>a.z.</Name><Type>A</Type></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"#;
        let request: ChangeResourceRecordSetsRequest = quick_xml::de::from_str(body).unwrap();
        assert!(matches!(
            request.into_changes(),
            Err(ApiError::InvalidInput(_))
        ));
    }

    #[test]
    fn error_response_has_route53s_shape() {
        let error = ApiError::InvalidChangeBatch(vec!["one".into(), "two".into()]);
        let xml = document(&ErrorResponse::of(&error, "rid"));
        assert!(xml.contains(
            r#"<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>InvalidChangeBatch</Code><Message>[one, two]</Message></Error><RequestId>rid</RequestId></ErrorResponse>"#
        ), "{xml}");
        let legacy = document(&LegacyInvalidChangeBatch::of(
            &["one".into(), "two".into()],
            "rid",
        ));
        assert!(legacy.contains(
            r#"<InvalidChangeBatch xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Messages><Message>one</Message><Message>two</Message></Messages><RequestId>rid</RequestId></InvalidChangeBatch>"#
        ), "{legacy}");
    }
}
