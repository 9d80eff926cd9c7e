//! The narrow trait over EC2: the one call the clean-up of gone instances makes ([`crate::gc::decide`]).
//! "The subset of the EC2 API that we actually use": DescribeInstances with one filter, every page.
//!
//! [`sdk::SdkEc2`] implements it over `aws-sdk-ec2`; [`limited::RateLimitedEc2`] puts this instance's EC2
//! rate limiter in front of it and counts each request. The clean-up's tests script it in-process.

pub mod limited;
pub mod sdk;

use async_trait::async_trait;

use crate::gc::decide::{Instance, Query};

/// Why EC2 did not answer a DescribeInstances. Whatever it is, the clean-up deletes nothing that round.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ec2Error {
    /// `RequestLimitExceeded`: the account's EC2 API rate, shared with everything else in it.
    #[error("throttled by EC2: {0}")]
    Throttled(String),
    /// Any other error answer (`UnauthorizedOperation` without ec2:DescribeInstances, a 5xx, ...).
    #[error("EC2 answered {code}: {message}")]
    Service { code: String, message: String },
    /// No answer: the connection failed or timed out.
    #[error("no answer from EC2: {0}")]
    Transport(String),
}

/// What the clean-up asks of EC2.
#[async_trait]
pub trait Ec2Api: Send + Sync {
    /// Every instance the query's filter selects, across every page of the answer.
    async fn describe_instances(&self, query: &Query) -> Result<Vec<Instance>, Ec2Error>;
}
