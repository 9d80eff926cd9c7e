//! The narrow trait over the EC2 instance metadata service ([`MetadataApi`]) and its implementation over
//! aws-config's IMDSv2 client ([`ImdsMetadata`]).
//!
//! IMDSv2 only: every read carries a session token obtained with a `PUT`, which also works where the
//! instance requires tokens (with bridge networking, the instance's hop limit must be at least 2). Each
//! attempt is bounded by short connect and read timeouts and the client retries a few times itself, so a
//! slow or absent service costs seconds, never a hang; the caller ([`crate::host::cache`]) retries
//! with backoff beyond that.
//!
//! Where the service is: `AWS_EC2_METADATA_SERVICE_ENDPOINT` when set (the tests' loopback server), else
//! aws-config's own resolution (the `~/.aws/config` profile, then `http://169.254.169.254`).
//! `AWS_EC2_METADATA_DISABLED=true` turns the client off, as it does the AWS SDKs' own metadata providers:
//! building one fails at once ([`MetadataError::Disabled`]), since without `host.ip` the daemon could never
//! learn its IP, and saying so at start-up beats retrying forever.

use std::net::Ipv4Addr;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::imds::client::error::ImdsError;
use aws_config::imds::client::Client;

use crate::host::lifecycle::Item;
use crate::host::Identity;

/// The path of the instance's private IPv4.
pub const LOCAL_IPV4_PATH: &str = "/latest/meta-data/local-ipv4";
/// The path of the instance identity document (a JSON document: the instance id, account, region, …).
pub const IDENTITY_PATH: &str = "/latest/dynamic/instance-identity/document";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Attempts the client makes per read (token and value), before the caller's own backoff.
const ATTEMPTS: u32 = 3;
/// The longest one read may take, all attempts together.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a metadata read failed.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// `AWS_EC2_METADATA_DISABLED` is set.
    #[error(
        "the instance metadata service is disabled (AWS_EC2_METADATA_DISABLED=true); set host.ip"
    )]
    Disabled,
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT` is not a URI.
    #[error("AWS_EC2_METADATA_SERVICE_ENDPOINT={endpoint:?} is not a valid URI: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    /// The service did not answer, refused, or answered an error.
    #[error("instance metadata {path}: {source}")]
    Request {
        path: &'static str,
        source: Box<ImdsError>,
    },
    /// `host.ip` is set to something that is not an IPv4 address.
    #[error("host.ip = {value:?} is not an IPv4 address")]
    HostIp { value: String },
    /// The service answered something that is not what was asked for.
    #[error("instance metadata {path} answered {value:?}, which is not {expected}")]
    Invalid {
        path: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// The subset of the instance metadata service the daemon uses. Add methods as required.
#[async_trait]
pub trait MetadataApi: Send + Sync {
    /// The instance's private IPv4 address (`local-ipv4`).
    async fn local_ipv4(&self) -> Result<Ipv4Addr, MetadataError>;
    /// Who the instance is (`dynamic/instance-identity/document`).
    async fn identity(&self) -> Result<Identity, MetadataError>;
    /// An item that exists only while something is planned (`spot/instance-action`, …): its text,
    /// [`Item::Absent`] when the service answers 404, [`Item::Failed`] for any other failure.
    async fn item(&self, path: &'static str) -> Item;
}

/// Where the metadata client points, from the environment: `Ok(None)` for aws-config's own resolution,
/// `Ok(Some(uri))` for an explicit endpoint, `Err(Disabled)` when turned off.
///
/// | `AWS_EC2_METADATA_DISABLED` | `AWS_EC2_METADATA_SERVICE_ENDPOINT` | result                 |
/// |-----------------------------|-------------------------------------|------------------------|
/// | `true` (any case)           | anything                            | `Err(Disabled)`        |
/// | unset, `false`, other       | `http://127.0.0.1:8111`             | `Ok(Some(that))`       |
/// | unset, `false`, other       | unset or empty                      | `Ok(None)`             |
pub fn endpoint_from_env(
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, MetadataError> {
    if env("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
    {
        return Err(MetadataError::Disabled);
    }
    Ok(env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .map(|value| value.trim().to_string())
        .filter(|v| !v.is_empty()))
}

/// [`MetadataApi`] over aws-config's IMDSv2 client.
#[derive(Clone, Debug)]
pub struct ImdsMetadata {
    client: Client,
}

impl ImdsMetadata {
    /// A client configured from the process environment (see [`endpoint_from_env`]); `Err(Disabled)` when
    /// `AWS_EC2_METADATA_DISABLED=true`. Building it sends nothing.
    pub fn from_env() -> Result<ImdsMetadata, MetadataError> {
        ImdsMetadata::from_lookup(|key| std::env::var(key).ok())
    }

    /// A client configured from `env` (the process environment in production, a table in tests).
    pub fn from_lookup(
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ImdsMetadata, MetadataError> {
        ImdsMetadata::with_endpoint(endpoint_from_env(env)?.as_deref())
    }

    /// A client for `endpoint`, or for aws-config's own resolution when `None`.
    pub fn with_endpoint(endpoint: Option<&str>) -> Result<ImdsMetadata, MetadataError> {
        let mut builder = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .max_attempts(ATTEMPTS);
        if let Some(endpoint) = endpoint {
            builder =
                builder
                    .endpoint(endpoint)
                    .map_err(|error| MetadataError::InvalidEndpoint {
                        endpoint: endpoint.to_string(),
                        reason: error.to_string(),
                    })?;
        }
        Ok(ImdsMetadata {
            client: builder.build(),
        })
    }

    async fn get(&self, path: &'static str) -> Result<String, MetadataError> {
        let value = self
            .client
            .get(path)
            .await
            .map_err(|source| MetadataError::Request {
                path,
                source: Box::new(source),
            })?;
        Ok(value.as_ref().trim().to_string())
    }
}

/// The `local-ipv4` answer as an address.
pub fn parse_local_ipv4(value: &str) -> Result<Ipv4Addr, MetadataError> {
    value.trim().parse().map_err(|_| MetadataError::Invalid {
        path: LOCAL_IPV4_PATH,
        value: value.to_string(),
        expected: "an IPv4 address",
    })
}

/// The instance identity document's fields the daemon uses; it holds more (`privateIp`, `imageId`, …).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityDocument {
    instance_id: String,
    account_id: String,
    region: String,
}

/// The instance identity document as an [`Identity`]: each of its three fields present and not empty.
pub fn parse_identity(document: &str) -> Result<Identity, MetadataError> {
    let invalid = || MetadataError::Invalid {
        path: IDENTITY_PATH,
        value: document.chars().take(200).collect(),
        expected: "a JSON document with instanceId, accountId and region",
    };
    let doc: IdentityDocument = serde_json::from_str(document).map_err(|_| invalid())?;
    let identity = Identity {
        instance_id: doc.instance_id.trim().to_string(),
        account: doc.account_id.trim().to_string(),
        region: doc.region.trim().to_string(),
    };
    if [&identity.instance_id, &identity.account, &identity.region]
        .iter()
        .any(|field| field.is_empty())
    {
        return Err(invalid());
    }
    Ok(identity)
}

#[async_trait]
impl MetadataApi for ImdsMetadata {
    async fn local_ipv4(&self) -> Result<Ipv4Addr, MetadataError> {
        parse_local_ipv4(&self.get(LOCAL_IPV4_PATH).await?)
    }

    async fn identity(&self) -> Result<Identity, MetadataError> {
        parse_identity(&self.get(IDENTITY_PATH).await?)
    }

    async fn item(&self, path: &'static str) -> Item {
        match self.client.get(path).await {
            Ok(value) => Item::Text(value.as_ref().trim().to_string()),
            Err(ImdsError::ErrorResponse(answer)) if answer.response().status().as_u16() == 404 => {
                Item::Absent
            }
            Err(error) => Item::Failed(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |key| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_endpoint_comes_from_the_environment() {
        let endpoint = "http://127.0.0.1:8111";
        assert_eq!(
            endpoint_from_env(env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint)]))
                .unwrap()
                .as_deref(),
            Some(endpoint)
        );
        assert_eq!(endpoint_from_env(env(&[])).unwrap(), None);
        assert_eq!(
            endpoint_from_env(env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", " ")])).unwrap(),
            None
        );
        let disabled = [
            ("AWS_EC2_METADATA_DISABLED", "TRUE"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint),
        ];
        assert!(matches!(
            endpoint_from_env(env(&disabled)),
            Err(MetadataError::Disabled)
        ));
        let enabled = [
            ("AWS_EC2_METADATA_DISABLED", "false"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint),
        ];
        assert_eq!(
            endpoint_from_env(env(&enabled)).unwrap().as_deref(),
            Some(endpoint)
        );
    }

    #[test]
    fn an_invalid_endpoint_is_refused_with_its_value() {
        let error =
            ImdsMetadata::from_lookup(env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "not a uri")]))
                .unwrap_err();
        assert!(error.to_string().contains("not a uri"), "{error}");
    }

    #[test]
    fn a_disabled_service_gives_no_client() {
        let disabled = ImdsMetadata::from_lookup(env(&[("AWS_EC2_METADATA_DISABLED", "true")]));
        let error = disabled.unwrap_err();
        assert!(matches!(error, MetadataError::Disabled));
        assert!(
            error.to_string().contains("host.ip"),
            "the message says what to do: {error}"
        );
    }

    #[test]
    fn the_identity_document_gives_the_instance_account_and_region() {
        let document = r#"{"accountId" : "123456789012", "architecture" : "x86_64",
            "availabilityZone" : "us-east-1a", "instanceId" : "i-0abc123def4567890",
            "privateIp" : "10.0.1.17", "region" : "us-east-1", "version" : "2017-09-30"}"#;
        assert_eq!(
            parse_identity(document).unwrap(),
            Identity {
                instance_id: "i-0abc123def4567890".into(),
                account: "123456789012".into(),
                region: "us-east-1".into(),
            }
        );
        for bad in [
            "",
            "<html>",
            r#"{"accountId": "123456789012", "region": "us-east-1"}"#,
            r#"{"accountId": "", "instanceId": "i-1", "region": "us-east-1"}"#,
        ] {
            assert!(
                matches!(parse_identity(bad), Err(MetadataError::Invalid { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn local_ipv4_must_be_an_ipv4_address() {
        assert_eq!(
            parse_local_ipv4("10.0.1.17\n").unwrap(),
            Ipv4Addr::new(10, 0, 1, 17)
        );
        for bad in ["", "fe80::1", "10.0.1", "<html>"] {
            assert!(
                matches!(parse_local_ipv4(bad), Err(MetadataError::Invalid { .. })),
                "{bad:?}"
            );
        }
    }
}
