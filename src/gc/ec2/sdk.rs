//! [`Ec2Api`] over `aws-sdk-ec2`: DescribeInstances with one filter, every page of the answer.
//!
//! Built on the shared configuration ([`crate::aws::sdk_config`]): the SDK's retries are off, so a throttle
//! or an error comes back at once and the clean-up doubts that round instead of waiting inside the SDK.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, Reservation};
use aws_sdk_ec2::Client;

use super::{Ec2Api, Ec2Error};
use crate::aws::THROTTLING_CODES;
use crate::gc::decide::{Instance, Query};

/// The EC2 operations [`SdkEc2`] calls, as IAM names them. `deploy/iam-policy.json` grants them in a
/// statement of their own, for the clean-up only (checked by tests/deploy.rs); the test
/// `operations_are_what_the_client_asks_for` below holds this list to the operations the SDK was asked for.
pub const OPERATIONS: &[&str] = &["ec2:DescribeInstances"];

/// Instances per page: EC2's largest (it accepts 5 to 1000). A fleet's owners fit in one page per query,
/// which asks about at most [`crate::gc::decide::FILTER_VALUES_PER_CALL`] of them.
pub const PAGE_SIZE: i32 = 1000;

/// The most pages one query may take. A query selects about as many instances as it names (at most 200),
/// so one page is the rule; the bound only guards against an endpoint whose page tokens never end.
const MAX_PAGES: usize = 20;

/// [`Ec2Api`] over an `aws-sdk-ec2` client.
#[derive(Clone, Debug)]
pub struct SdkEc2 {
    client: Client,
    page_size: i32,
}

impl SdkEc2 {
    /// A client on the shared configuration ([`crate::aws::sdk_config`]), asking for pages of
    /// [`PAGE_SIZE`].
    pub fn from_config(config: &SdkConfig) -> Self {
        SdkEc2 {
            client: Client::new(config),
            page_size: PAGE_SIZE,
        }
    }

    /// Asks for pages of `page_size` instances instead (EC2 accepts 5 to 1000): how a test sees the
    /// paging that a real fleet's answers rarely need.
    pub fn with_page_size(mut self, page_size: i32) -> Self {
        self.page_size = page_size;
        self
    }
}

#[async_trait]
impl Ec2Api for SdkEc2 {
    async fn describe_instances(&self, query: &Query) -> Result<Vec<Instance>, Ec2Error> {
        let filter = Filter::builder()
            .name(query.kind.filter())
            .set_values(Some(query.values.clone()))
            .build();
        let mut instances = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .client
                .describe_instances()
                .filters(filter.clone())
                .max_results(self.page_size)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(classify)?;
            instances.extend(out.reservations().iter().flat_map(instances_of));
            match out.next_token().filter(|next| !next.is_empty()) {
                // A token that does not move would ask for the same page for ever.
                Some(next) if token.as_deref() == Some(next) => {
                    return Err(malformed(&format!("page token {next:?} repeated")))
                }
                Some(next) => token = Some(next.to_string()),
                None => return Ok(instances),
            }
        }
        Err(malformed(&format!("more than {MAX_PAGES} pages")))
    }
}

/// The instances of one reservation, as the clean-up sees them. An instance without an id is skipped
/// (EC2 always sends one); one without a state counts as `unknown`, which the clean-up takes as alive.
fn instances_of(reservation: &Reservation) -> impl Iterator<Item = Instance> + '_ {
    reservation.instances().iter().filter_map(|i| {
        Some(Instance {
            id: i.instance_id()?.to_string(),
            private_ip: i.private_ip_address().map(str::to_string),
            state: i
                .state()
                .and_then(|s| s.name())
                .map_or("unknown", |name| name.as_str())
                .to_string(),
        })
    })
}

/// What a failed DescribeInstances means to the clean-up: throttled, refused, or not answered.
fn classify<E>(err: SdkError<E, aws_sdk_ec2::config::http::HttpResponse>) -> Ec2Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::ServiceError(ctx) => {
            let code = err.code().unwrap_or_default().to_string();
            let message = err.message().unwrap_or_default().to_string();
            if THROTTLING_CODES.contains(&code.as_str()) || ctx.raw().status().as_u16() == 429 {
                Ec2Error::Throttled(message)
            } else if code.is_empty() {
                Ec2Error::Service {
                    code: format!("HTTP {}", ctx.raw().status().as_u16()),
                    message: detail,
                }
            } else {
                Ec2Error::Service { code, message }
            }
        }
        SdkError::ResponseError(ctx) => Ec2Error::Service {
            code: format!("HTTP {}", ctx.raw().status().as_u16()),
            message: detail,
        },
        _ => Ec2Error::Transport(detail),
    }
}

fn malformed(what: &str) -> Ec2Error {
    Ec2Error::Service {
        code: "MalformedAnswer".into(),
        message: what.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::decide::OwnerKind;
    use crate::testing::Asked;

    /// Every method of [`Ec2Api`] asks the SDK for operations of [`OPERATIONS`], and together for all of
    /// them: a call added here without its entry there (so without its grant in the policy) fails.
    #[tokio::test]
    async fn operations_are_what_the_client_asks_for() {
        let asked = Asked::new("ec2");
        let config = aws_sdk_ec2::Config::builder()
            .behavior_version_latest()
            .interceptor(asked.clone())
            .build();
        let client = SdkEc2 {
            client: Client::from_conf(config),
            page_size: PAGE_SIZE,
        };
        let query = Query {
            kind: OwnerKind::PrivateIp,
            values: vec!["10.0.0.1".into()],
        };
        // The call fails (the interceptor stops it); what matters is what it asked for.
        let _ = client.describe_instances(&query).await;
        let declared = OPERATIONS.iter().map(|o| o.to_string()).collect();
        assert_eq!(
            asked.operations(),
            declared,
            "src/gc/ec2/sdk.rs: OPERATIONS (right) must be the operations SdkEc2 asks the SDK for (left)"
        );
    }
}
