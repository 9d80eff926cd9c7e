//! [`Route53Api`] over `aws-sdk-route53`.
//!
//! The SDK's own retries are turned off ([`crate::aws::sdk_config`]): the writer owns every retry, so that each
//! request passes its rate limiter and is counted. Every SDK error is mapped to a [`Route53Error`] in one
//! place, `classify`, from what came back: the HTTP status, the error code, the message and the raw body.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_route53::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_route53::types as sdk;
use aws_sdk_route53::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::aws::THROTTLING_CODES;

use super::{
    Change, ChangeAction, ChangeInfo, HostedZone, RecordPage, RecordPosition, RecordSet,
    Route53Api, Route53Error,
};

/// The Route53 operations [`SdkRoute53`] calls, as IAM names them. `deploy/iam-policy.json` grants exactly
/// these and EC2's [`crate::gc::ec2::sdk::OPERATIONS`] (checked by tests/deploy.rs); the test
/// `operations_are_what_the_client_asks_for` below calls every method and holds this list to the operations
/// the SDK was asked for.
pub const OPERATIONS: &[&str] = &[
    "route53:GetHostedZone",
    "route53:ListResourceRecordSets",
    "route53:ChangeResourceRecordSets",
];

/// The change actions [`SdkRoute53`] can send, as the policy's condition key
/// `route53:ChangeResourceRecordSetsActions` spells them: one for each [`ChangeAction`], which the test
/// `change_actions_are_what_to_sdk_sends` below holds it to.
pub const CHANGE_ACTIONS: &[&str] = &["CREATE", "DELETE", "UPSERT"];

/// [`Route53Api`] over an `aws-sdk-route53` client.
#[derive(Clone, Debug)]
pub struct SdkRoute53 {
    client: Client,
}

impl SdkRoute53 {
    /// Wraps a client configured by the caller (it should have retries disabled, as
    /// [`crate::aws::sdk_config`] has).
    pub fn new(client: Client) -> Self {
        SdkRoute53 { client }
    }

    /// A client on the shared configuration ([`crate::aws::sdk_config`]: the standard chain, the SDK's
    /// retries off, timeouts on each call).
    pub fn from_config(config: &SdkConfig) -> Self {
        SdkRoute53::new(Client::new(config))
    }
}

#[async_trait]
impl Route53Api for SdkRoute53 {
    async fn get_hosted_zone(&self, zone_id: &str) -> Result<HostedZone, Route53Error> {
        let out = self
            .client
            .get_hosted_zone()
            .id(zone_id)
            .send()
            .await
            .map_err(|e| classify(Operation::GetHostedZone, failure(e)))?;
        let zone = out
            .hosted_zone()
            .ok_or_else(|| malformed("GetHostedZone answer without a HostedZone"))?;
        Ok(HostedZone {
            id: strip_prefix(zone.id()),
            name: decode_name(zone.name()),
            private: zone.config().is_some_and(|c| c.private_zone()),
            record_sets: zone
                .resource_record_set_count()
                .and_then(|count| usize::try_from(count).ok()),
        })
    }

    async fn list_record_sets(
        &self,
        zone_id: &str,
        start: Option<&RecordPosition>,
        max_items: Option<i32>,
    ) -> Result<RecordPage, Route53Error> {
        let out = self
            .client
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .set_start_record_name(start.map(|p| p.name.clone()))
            .set_start_record_type(
                start
                    .and_then(|p| p.rtype.as_deref())
                    .map(sdk::RrType::from),
            )
            .set_start_record_identifier(start.and_then(|p| p.identifier.clone()))
            .set_max_items(max_items)
            .send()
            .await
            .map_err(|e| classify(Operation::ListResourceRecordSets, failure(e)))?;
        let record_sets = out.resource_record_sets().iter().map(from_sdk).collect();
        let next = match (out.is_truncated(), out.next_record_name()) {
            // The name exactly as Route53 gave it: decoded, an escaped name (`caf\303\251`) would go back
            // as characters Route53 takes only escaped, and every listing would fail at that page.
            (true, Some(name)) => Some(RecordPosition {
                name: name.to_string(),
                rtype: out.next_record_type().map(|t| t.as_str().to_string()),
                identifier: out.next_record_identifier().map(str::to_string),
            }),
            _ => None,
        };
        Ok(RecordPage { record_sets, next })
    }

    async fn change_record_sets(
        &self,
        zone_id: &str,
        changes: &[Change],
    ) -> Result<ChangeInfo, Route53Error> {
        let changes = changes.iter().map(to_sdk).collect::<Result<Vec<_>, _>>()?;
        let batch = sdk::ChangeBatch::builder()
            .set_changes(Some(changes))
            .build()
            .map_err(|e| malformed(&format!("change batch: {e}")))?;
        let out = self
            .client
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| classify(Operation::ChangeResourceRecordSets, failure(e)))?;
        let info = out
            .change_info()
            .ok_or_else(|| malformed("ChangeResourceRecordSets answer without ChangeInfo"))?;
        Ok(ChangeInfo {
            id: strip_prefix(info.id()),
            status: info.status().as_str().to_string(),
        })
    }
}

/// The Route53 operation that failed; a 400 means different things to different operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    GetHostedZone,
    ListResourceRecordSets,
    ChangeResourceRecordSets,
}

/// What came back from a failed call, reduced to what [`classify`] needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Failure {
    /// No answer at all (connection refused or reset, timeout): the description.
    pub transport: Option<String>,
    /// The request could not even be built (a bug here, not Route53's answer).
    pub construction: Option<String>,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: Option<String>,
    /// The raw body of the answer, when it was read.
    pub body: Option<String>,
}

/// Reduces an SDK error to a [`Failure`].
fn failure<E>(err: SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::ConstructionFailure(_) => Failure {
            construction: Some(detail),
            ..Failure::default()
        },
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Failure {
            transport: Some(detail),
            ..Failure::default()
        },
        SdkError::ResponseError(ctx) => {
            // An answer that could not be read or parsed: a reset mid-body, or a body that is not XML.
            let status = ctx.raw().status().as_u16();
            Failure {
                transport: (status < 400).then(|| detail.clone()),
                status: Some(status),
                message: Some(detail),
                body: body_text(ctx.raw()),
                ..Failure::default()
            }
        }
        SdkError::ServiceError(ctx) => Failure {
            status: Some(ctx.raw().status().as_u16()),
            code: err.code().map(str::to_string),
            message: err.message().map(str::to_string),
            body: body_text(ctx.raw()),
            ..Failure::default()
        },
        _ => Failure {
            transport: Some(detail),
            ..Failure::default()
        },
    }
}

fn body_text(raw: &HttpResponse) -> Option<String> {
    raw.body()
        .bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

/// An IAM policy forbids the request (the credentials themselves are good).
const ACCESS_DENIED_CODES: &[&str] = &["AccessDenied", "AccessDeniedException", "NotAuthorized"];

/// The credentials themselves were refused.
const CREDENTIALS_CODES: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "InvalidAccessKeyId",
    "ExpiredToken",
    "ExpiredTokenException",
    "AuthFailure",
];

/// Reduces a failed call's answer to a [`Route53Error`] (what it *means* is decided by
/// [`Route53Error::meaning`]). In order:
///
/// | what came back                                              | error                       |
/// |-------------------------------------------------------------|-----------------------------|
/// | no answer: refused, reset, timeout                          | `Transport`                 |
/// | code `Throttling` (any status), or HTTP 429                 | `Throttling`                |
/// | code `PriorRequestNotComplete`                              | `PriorRequestNotComplete`   |
/// | code `NoSuchHostedZone`                                     | `NoSuchHostedZone`          |
/// | `InvalidClientTokenId`, `ExpiredToken`, ... (credentials)    | `Unauthenticated`           |
/// | `AccessDenied`, `NotAuthorized`, or HTTP 403                | `AccessDenied`              |
/// | HTTP 5xx                                                    | `Server`                    |
/// | ChangeResourceRecordSets: `InvalidChangeBatch` or any 400   | `InvalidChangeBatch`        |
/// | anything else                                               | `Other`                     |
///
/// The "any 400" row covers `InvalidInput` and the legacy `<InvalidChangeBatch><Messages>` shape, which the
/// SDK cannot parse (it finds no code): either way the batch was refused as a whole. The messages come from
/// every `<Message>` of the body; Route53 puts several into one as `[first, second]`.
pub(crate) fn classify(op: Operation, f: Failure) -> Route53Error {
    if let Some(detail) = f.construction {
        return Route53Error::Other {
            code: "ConstructionFailure".into(),
            message: detail,
        };
    }
    if let Some(detail) = f.transport {
        return Route53Error::Transport(detail);
    }
    let code = f.code.as_deref().unwrap_or_default();
    let status = f.status.unwrap_or_default();
    let message = f.message.clone().unwrap_or_default();
    if THROTTLING_CODES.contains(&code) || status == 429 {
        return Route53Error::Throttling(message);
    }
    if code == "PriorRequestNotComplete" {
        return Route53Error::PriorRequestNotComplete(message);
    }
    if code == "NoSuchHostedZone" {
        return Route53Error::NoSuchHostedZone(message);
    }
    if CREDENTIALS_CODES.contains(&code) {
        return Route53Error::Unauthenticated(format!("{code}: {message}"));
    }
    if ACCESS_DENIED_CODES.contains(&code) || status == 403 {
        return Route53Error::AccessDenied(if code.is_empty() {
            message
        } else {
            format!("{code}: {message}")
        });
    }
    if status >= 500 {
        return Route53Error::Server {
            status,
            message: if message.is_empty() {
                code.to_string()
            } else {
                message
            },
        };
    }
    if op == Operation::ChangeResourceRecordSets && (code == "InvalidChangeBatch" || status == 400)
    {
        return Route53Error::InvalidChangeBatch(change_batch_messages(&f));
    }
    let code = if code.is_empty() {
        format!("HTTP {status}")
    } else {
        code.to_string()
    };
    Route53Error::Other { code, message }
}

/// The messages of a refused batch: each `<Message>` of the body (both shapes), each split when it is a
/// bracketed list; else the parsed message; else a placeholder naming the status.
fn change_batch_messages(f: &Failure) -> Vec<String> {
    let from_body: Vec<String> = f
        .body
        .as_deref()
        .map(xml_elements_named_message)
        .unwrap_or_default();
    let raw = if from_body.is_empty() {
        f.message.iter().cloned().collect()
    } else {
        from_body
    };
    let messages: Vec<String> = raw.iter().flat_map(|m| split_message_list(m)).collect();
    if messages.is_empty() {
        vec![format!(
            "change batch refused (HTTP {})",
            f.status.unwrap_or_default()
        )]
    } else {
        messages
    }
}

/// The text of every `<Message>` element in `body`, unescaped.
pub(crate) fn xml_elements_named_message(body: &str) -> Vec<String> {
    const OPEN: &str = "<Message>";
    const CLOSE: &str = "</Message>";
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else { break };
        out.push(unescape_xml(&after[..end]));
        rest = &after[end + CLOSE.len()..];
    }
    out
}

pub(crate) fn unescape_xml(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// How each message Route53 puts in an `InvalidChangeBatch` list begins. The messages carry commas of their own
/// (`RRSet with DNS name a.zone. and type A, SetIdentifier h1 cannot be created as weighted sets must contain the
/// same TTL.`, `Tried to create an alias that targets b.zone., type A in zone Z1, but …`, values quoted as
/// `encountered with '1.1.1.1, 2.2.2.2'`), so a `, ` separates two messages only where one of these follows it.
/// The openings are those of the messages public reports of real answers show, and of the emulator's messages
/// for the batch limits and the apex.
const MESSAGE_OPENINGS: &[&str] = &[
    "Tried to create ",
    "Tried to delete ",
    "RRSet with DNS name ",
    "RRSet of type ",
    "Invalid Resource Record: ",
    "FATAL problem: ",
    "A HostedZone must contain ",
    "Exceeded limit on number of ",
    "The request contains an invalid set of changes",
    "Number of records limit of ",
    "RDATA character limit of ",
];

/// Splits Route53's `[first, second]` into its messages: Route53 joins them with `, ` inside one pair of
/// brackets. A `, ` splits only outside any inner bracket (`[name='a.zone.', type='A']`) and where a known
/// message begins after it ([`MESSAGE_OPENINGS`]); anything else, an unknown message included, stays with the
/// message before it rather than being cut. A message without the outer brackets is one message.
pub(crate) fn split_message_list(message: &str) -> Vec<String> {
    let trimmed = message.trim();
    let Some(inner) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return if trimmed.is_empty() {
            vec![]
        } else {
            vec![trimmed.to_string()]
        };
    };
    let begins_message = |rest: &str| {
        rest.strip_prefix(", ")
            .is_some_and(|next| MESSAGE_OPENINGS.iter().any(|o| next.starts_with(o)))
    };
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 && begins_message(&inner[i..]) => {
                out.push(inner[start..i].trim().to_string());
                start = i + ", ".len();
            }
            _ => {}
        }
    }
    out.push(inner[start..].trim().to_string());
    out.retain(|m| !m.is_empty());
    out
}

fn malformed(what: &str) -> Route53Error {
    Route53Error::Other {
        code: "MalformedResponse".into(),
        message: what.to_string(),
    }
}

/// `/hostedzone/Z123` → `Z123`, `/change/C1` → `C1`.
pub(crate) fn strip_prefix(id: &str) -> String {
    ["/hostedzone/", "hostedzone/", "/change/", "change/"]
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id)
        .to_string()
}

/// A name as Route53 returns it → as the daemon compares names: octal escapes decoded (`\052` is `*`,
/// `\100` is `@`), lower-cased, with the trailing dot.
pub(crate) fn decode_name(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match escape.and_then(|d| {
            u8::try_from(d.iter().fold(0u32, |n, b| n * 8 + u32::from(b - b'0'))).ok()
        }) {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    let mut name = String::from_utf8_lossy(&out).to_lowercase();
    if !name.ends_with('.') {
        name.push('.');
    }
    name
}

fn from_sdk(rs: &sdk::ResourceRecordSet) -> RecordSet {
    RecordSet {
        name: decode_name(rs.name()),
        rtype: rs.r#type().as_str().to_string(),
        set_identifier: rs.set_identifier().map(str::to_string),
        weight: rs.weight(),
        multivalue_answer: rs.multi_value_answer(),
        ttl: rs.ttl().unwrap_or(0),
        values: rs
            .resource_records()
            .iter()
            .map(|r| r.value().to_string())
            .collect(),
    }
}

fn to_sdk(change: &Change) -> Result<sdk::Change, Route53Error> {
    let rs = &change.record_set;
    let records = rs
        .values
        .iter()
        .map(|v| sdk::ResourceRecord::builder().value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| malformed(&format!("record value: {e}")))?;
    let record_set = sdk::ResourceRecordSet::builder()
        .name(&rs.name)
        .r#type(sdk::RrType::from(rs.rtype.as_str()))
        .set_set_identifier(rs.set_identifier.clone())
        .set_weight(rs.weight)
        .set_multi_value_answer(rs.multivalue_answer)
        .ttl(rs.ttl)
        .set_resource_records(Some(records))
        .build()
        .map_err(|e| malformed(&format!("record set: {e}")))?;
    let action = match change.action {
        ChangeAction::Create => sdk::ChangeAction::Create,
        ChangeAction::Delete => sdk::ChangeAction::Delete,
        ChangeAction::Upsert => sdk::ChangeAction::Upsert,
    };
    sdk::Change::builder()
        .action(action)
        .resource_record_set(record_set)
        .build()
        .map_err(|e| malformed(&format!("change: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, code: &str, message: &str) -> Failure {
        Failure {
            status: Some(status),
            code: (!code.is_empty()).then(|| code.to_string()),
            message: (!message.is_empty()).then(|| message.to_string()),
            ..Failure::default()
        }
    }

    #[test]
    fn classification_table() {
        use Operation::*;
        let change = ChangeResourceRecordSets;
        let cases: Vec<(Operation, Failure, Route53Error)> = vec![
            (
                change,
                Failure {
                    transport: Some("connection reset".into()),
                    ..Failure::default()
                },
                Route53Error::Transport("connection reset".into()),
            ),
            (
                change,
                answer(400, "Throttling", "Rate exceeded"),
                Route53Error::Throttling("Rate exceeded".into()),
            ),
            (
                GetHostedZone,
                answer(429, "", "slow down"),
                Route53Error::Throttling("slow down".into()),
            ),
            (
                change,
                answer(400, "PriorRequestNotComplete", "wait"),
                Route53Error::PriorRequestNotComplete("wait".into()),
            ),
            (
                GetHostedZone,
                answer(404, "NoSuchHostedZone", "No hosted zone found with ID: Z1"),
                Route53Error::NoSuchHostedZone("No hosted zone found with ID: Z1".into()),
            ),
            (
                change,
                answer(403, "AccessDenied", "no"),
                Route53Error::AccessDenied("AccessDenied: no".into()),
            ),
            (
                GetHostedZone,
                answer(403, "InvalidClientTokenId", "bad key"),
                Route53Error::Unauthenticated("InvalidClientTokenId: bad key".into()),
            ),
            (
                ListResourceRecordSets,
                answer(400, "UnrecognizedClientException", "who"),
                Route53Error::Unauthenticated("UnrecognizedClientException: who".into()),
            ),
            (
                GetHostedZone,
                answer(403, "", "forbidden"),
                Route53Error::AccessDenied("forbidden".into()),
            ),
            (
                change,
                answer(503, "ServiceUnavailable", "busy"),
                Route53Error::Server {
                    status: 503,
                    message: "busy".into(),
                },
            ),
            (
                change,
                answer(500, "", ""),
                Route53Error::Server {
                    status: 500,
                    message: String::new(),
                },
            ),
            (
                change,
                answer(
                    400,
                    "InvalidChangeBatch",
                    "[RRSet with DNS name a.zone. and type A, SetIdentifier h1 cannot be created as weighted sets \
                     must contain the same TTL., Tried to delete resource record set [name='b.zone.', type='A'] but \
                     it was not found]",
                ),
                Route53Error::InvalidChangeBatch(vec![
                    "RRSet with DNS name a.zone. and type A, SetIdentifier h1 cannot be created as weighted sets \
                     must contain the same TTL."
                        .into(),
                    "Tried to delete resource record set [name='b.zone.', type='A'] but it was not found".into(),
                ]),
            ),
            (
                change,
                answer(400, "InvalidInput", "bad name"),
                Route53Error::InvalidChangeBatch(vec!["bad name".into()]),
            ),
            (
                change,
                answer(400, "", ""),
                Route53Error::InvalidChangeBatch(vec!["change batch refused (HTTP 400)".into()]),
            ),
            (
                ListResourceRecordSets,
                answer(400, "InvalidInput", "bad start"),
                Route53Error::Other {
                    code: "InvalidInput".into(),
                    message: "bad start".into(),
                },
            ),
            (
                GetHostedZone,
                answer(400, "", "?"),
                Route53Error::Other {
                    code: "HTTP 400".into(),
                    message: "?".into(),
                },
            ),
            (
                change,
                Failure {
                    construction: Some("no region".into()),
                    ..Failure::default()
                },
                Route53Error::Other {
                    code: "ConstructionFailure".into(),
                    message: "no region".into(),
                },
            ),
        ];
        for (i, (op, failure, want)) in cases.into_iter().enumerate() {
            assert_eq!(classify(op, failure), want, "case {i}");
        }
    }

    #[test]
    fn retriable_and_fatal_classes() {
        let retriable = |f| classify(Operation::ChangeResourceRecordSets, f).is_retriable();
        assert!(retriable(answer(400, "Throttling", "")));
        assert!(retriable(answer(400, "PriorRequestNotComplete", "")));
        assert!(retriable(answer(502, "", "")));
        assert!(retriable(Failure {
            transport: Some("timeout".into()),
            ..Failure::default()
        }));
        assert!(!retriable(answer(400, "InvalidChangeBatch", "")));
        assert!(!retriable(answer(403, "AccessDenied", "")));
        assert!(!retriable(answer(404, "NoSuchHostedZone", "")));
    }

    #[test]
    fn invalid_change_batch_in_the_error_response_shape() {
        let body = "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">\
            <Error><Type>Sender</Type><Code>InvalidChangeBatch</Code>\
            <Message>[Tried to create resource record set [name='web.zone.', type='A', set-identifier='h1'] \
            but it already exists, Invalid Resource Record: &apos;FATAL problem: ARRDATAIllegalIPv4Address \
            encountered at 10.0.0&apos;]</Message></Error><RequestId>r1</RequestId></ErrorResponse>";
        let f = Failure {
            body: Some(body.into()),
            ..answer(400, "InvalidChangeBatch", "ignored")
        };
        assert_eq!(
            classify(Operation::ChangeResourceRecordSets, f),
            Route53Error::InvalidChangeBatch(vec![
                "Tried to create resource record set [name='web.zone.', type='A', set-identifier='h1'] but it \
                 already exists"
                    .into(),
                "Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address encountered at 10.0.0'".into(),
            ])
        );
    }

    #[test]
    fn invalid_change_batch_in_the_legacy_shape() {
        // The SDK finds no <Error><Code> in this shape: no code, only the status and the body.
        let body = "<?xml version=\"1.0\"?>\n<InvalidChangeBatch xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">\
            <Messages><Message>Tried to delete resource record set [name='a.zone.', type='A'] but it was not found</Message>\
            <Message>RRSet with DNS name b.zone. is not permitted in zone zone.</Message></Messages>\
            <RequestId>r2</RequestId></InvalidChangeBatch>";
        let f = Failure {
            body: Some(body.into()),
            ..answer(400, "", "")
        };
        assert_eq!(
            classify(Operation::ChangeResourceRecordSets, f),
            Route53Error::InvalidChangeBatch(vec![
                "Tried to delete resource record set [name='a.zone.', type='A'] but it was not found".into(),
                "RRSet with DNS name b.zone. is not permitted in zone zone.".into(),
            ])
        );
    }

    /// Each row: Route53's `<Message>`, then the messages it holds. The shapes are Route53's as public reports of
    /// real answers show them (aws/aws-sdk-go-v2#518, hashicorp/terraform-provider-aws#1961,
    /// kubernetes-sigs/external-dns#1411, #3141 and #5939, aws/aws-cdk#19643, danpilch/aws-dyndns#3,
    /// RJPearson94/terraform-aws-open-next#24), and the emulator's own for the limits and the apex.
    #[test]
    fn message_lists() {
        const TTL: &str = "RRSet with DNS name web.zone. and type A, SetIdentifier h1 cannot be \
                           created as weighted sets must contain the same TTL.";
        const TTL_COMMA: &str = "RRSet with DNS name x., type A, SetIdentifier h1 cannot be \
                                 created as weighted sets must contain the same TTL.";
        const EXISTS: &str = "Tried to create resource record set [name='web.zone.', type='A', \
                              set-identifier='h2'] but it already exists";
        const NOT_FOUND: &str = "Tried to delete resource record set [name='api.zone.', type='A'] \
                                 but it was not found";
        const NO_MATCH: &str = "Tried to delete resource record set [name='db.zone.', type='A', \
                                set-identifier='h1'] but the values provided do not match the \
                                current values";
        const NON_WEIGHTED: &str = "RRSet with DNS name web.zone., type TXT, SetIdentifier h1 \
                                    cannot be created as a non-weighted set exists with the same \
                                    name and type.";
        const OTHERS: &str = "RRSet with DNS name web.zone., type A cannot be created as other \
                              RRSets exist with the same name and type.";
        const BAD_IP: &str = "Invalid Resource Record: FATAL problem: ARRDATAIllegalIPv4Address \
                              (Value is not a valid IPv4 address) encountered with '10.0.0.300'";
        const SPACES: &str = "Invalid Resource Record: FATAL problem: ARRDATANotSingleField \
                              (Value contains spaces) encountered with '10.0.0.1, 10.0.0.2'";
        const CNAME: &str = "RRSet of type A with DNS name www.zone. is not permitted because a \
                             conflicting RRSet of type  CNAME with the same DNS name already \
                             exists in zone zone.";
        const OUTSIDE: &str = "RRSet with DNS name web.other. is not permitted in zone zone.";
        const ALIAS_ZONE: &str = "Tried to create an alias that targets lb.example., type A in \
                                  zone Z1, but the alias target name does not lie within the \
                                  target zone";
        const ALIAS_GONE: &str = "Tried to create an alias that targets lb.example., type A in \
                                  zone Z1, but that target was not found";
        const LABEL: &str = "FATAL problem: DomainLabelTooLong (Domain label is too long) \
                             encountered with 'aaa'";
        const UNKNOWN: &str = "Some message Route53 may add one day, with a comma, and more";
        let list = |messages: &[&str]| format!("[{}]", messages.join(", "));
        let rows: Vec<(String, Vec<&str>)> = vec![
            (String::new(), vec![]),
            ("[]".into(), vec![]),
            // The weighted-TTL message alone, also in the `name., type A,` shape of its siblings: one each.
            (list(&[TTL]), vec![TTL]),
            (list(&[TTL_COMMA]), vec![TTL_COMMA]),
            // ... and in a list with another message, either side.
            (list(&[TTL, EXISTS]), vec![TTL, EXISTS]),
            (list(&[EXISTS, TTL]), vec![EXISTS, TTL]),
            (list(&[NON_WEIGHTED, NON_WEIGHTED, OTHERS]), vec![NON_WEIGHTED, NON_WEIGHTED, OTHERS]),
            (list(&[NOT_FOUND, NO_MATCH, BAD_IP, CNAME]), vec![NOT_FOUND, NO_MATCH, BAD_IP, CNAME]),
            (list(&[SPACES, OUTSIDE, LABEL]), vec![SPACES, OUTSIDE, LABEL]),
            (list(&[ALIAS_ZONE, ALIAS_GONE]), vec![ALIAS_ZONE, ALIAS_GONE]),
            (
                list(&["Number of records limit of 1000 exceeded."]),
                vec!["Number of records limit of 1000 exceeded."],
            ),
            (
                list(&[
                    "A HostedZone must contain exactly one SOA record.",
                    "Exceeded limit on number of weighted RRSets for web.zone., type A in this zone.",
                ]),
                vec![
                    "A HostedZone must contain exactly one SOA record.",
                    "Exceeded limit on number of weighted RRSets for web.zone., type A in this zone.",
                ],
            ),
            // An unrecognised message is never cut: it stays whole, or with the message before it.
            (list(&[UNKNOWN]), vec![UNKNOWN]),
            (
                list(&[NOT_FOUND, UNKNOWN, EXISTS]),
                vec![
                    "Tried to delete resource record set [name='api.zone.', type='A'] but it was not \
                     found, Some message Route53 may add one day, with a comma, and more",
                    EXISTS,
                ],
            ),
            ("[a, b]".into(), vec!["a, b"]),
            // A known opening inside an inner bracket does not split.
            (
                "[x [v='1, Tried to delete y'] z]".into(),
                vec!["x [v='1, Tried to delete y'] z"],
            ),
            // Without the outer brackets (Route53's older answers): one message, as it came.
            (NOT_FOUND.into(), vec![NOT_FOUND]),
            (format!("  {TTL}  "), vec![TTL]),
            ("plain, with comma".into(), vec!["plain, with comma"]),
        ];
        for (message, expected) in rows {
            assert_eq!(split_message_list(&message), expected, "{message}");
        }
    }

    #[test]
    fn ids_and_names() {
        assert_eq!(strip_prefix("/hostedzone/Z0123"), "Z0123");
        assert_eq!(strip_prefix("/change/C9"), "C9");
        assert_eq!(strip_prefix("Z0123"), "Z0123");
        assert_eq!(
            decode_name("Web.Service.Discovery."),
            "web.service.discovery."
        );
        assert_eq!(
            decode_name("\\052.service.discovery."),
            "*.service.discovery."
        );
        assert_eq!(decode_name("a\\100b.zone"), "a@b.zone.");
        assert_eq!(
            decode_name("a\\9b.zone."),
            "a\\9b.zone.",
            "not an octal escape: kept"
        );
    }

    #[test]
    fn record_sets_round_trip_through_the_sdk_types() {
        let rs = RecordSet {
            name: "web.service.discovery.".into(),
            rtype: "A".into(),
            set_identifier: Some("10.0.0.1".into()),
            weight: Some(50),
            multivalue_answer: None,
            ttl: 5,
            values: vec!["10.0.0.1".into()],
        };
        let change = Change {
            action: ChangeAction::Delete,
            record_set: rs.clone(),
        };
        let sdk_change = to_sdk(&change).unwrap();
        assert_eq!(sdk_change.action(), &sdk::ChangeAction::Delete);
        assert_eq!(from_sdk(sdk_change.resource_record_set().unwrap()), rs);
    }

    /// An upsert, or another `action`, of a plain A record set.
    fn change(action: ChangeAction) -> Change {
        Change {
            action,
            record_set: RecordSet {
                name: "web.zone.".into(),
                rtype: "A".into(),
                set_identifier: None,
                weight: None,
                multivalue_answer: None,
                ttl: 5,
                values: vec!["10.0.0.1".into()],
            },
        }
    }

    /// Every method of [`Route53Api`] asks the SDK for operations of [`OPERATIONS`], and together for all of
    /// them: a call added here without its entry there (so without its grant in the policy) fails.
    #[tokio::test]
    async fn operations_are_what_the_client_asks_for() {
        let asked = crate::testing::Asked::new("route53");
        let config = aws_sdk_route53::Config::builder()
            .behavior_version_latest()
            .interceptor(asked.clone())
            .build();
        let client = SdkRoute53::new(Client::from_conf(config));
        // Every call fails (the interceptor stops it); what matters is what it asked for.
        let _ = client.get_hosted_zone("Z1").await;
        let _ = client.list_record_sets("Z1", None, None).await;
        let _ = client
            .change_record_sets("Z1", &[change(ChangeAction::Upsert)])
            .await;
        let declared: std::collections::BTreeSet<String> =
            OPERATIONS.iter().map(|o| o.to_string()).collect();
        assert_eq!(
            declared.len(),
            OPERATIONS.len(),
            "{OPERATIONS:?} repeats itself"
        );
        assert_eq!(
            asked.operations(),
            declared,
            "src/route53/sdk.rs: OPERATIONS (right) must be the operations SdkRoute53 asks the SDK for (left)"
        );
    }

    /// [`CHANGE_ACTIONS`] is what [`to_sdk`] makes of each [`ChangeAction`].
    #[test]
    fn change_actions_are_what_to_sdk_sends() {
        use ChangeAction::{Create, Delete, Upsert};
        // A new variant fails to compile here until it is named, and so added to the list below.
        let _every_variant = |a: ChangeAction| match a {
            Create | Delete | Upsert => (),
        };
        let sent: Vec<String> = [Create, Delete, Upsert]
            .into_iter()
            .map(|action| {
                to_sdk(&change(action))
                    .unwrap()
                    .action()
                    .as_str()
                    .to_string()
            })
            .collect();
        assert_eq!(
            sent, CHANGE_ACTIONS,
            "src/route53/sdk.rs: CHANGE_ACTIONS must be what to_sdk sends for each ChangeAction"
        );
    }
}
