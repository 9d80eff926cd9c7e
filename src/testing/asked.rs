//! For the tests of the SDK clients: which operations a client asks for, without sending anything (the
//! policy's actions are held to the clients' `OPERATIONS` with it).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use aws_sdk_route53::config::{interceptors::BeforeSerializationInterceptorContextRef, ConfigBag};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// An interceptor that notes each request's operation as IAM names it (`route53:GetHostedZone`, with
/// the IAM prefix it is given) and stops the request there: nothing is signed or sent.
#[derive(Clone, Debug)]
pub struct Asked {
    prefix: &'static str,
    seen: Arc<Mutex<BTreeSet<String>>>,
}

impl Asked {
    /// Notes operations under the IAM prefix `prefix` (`route53`, `ec2`).
    pub fn new(prefix: &'static str) -> Self {
        Asked {
            prefix,
            seen: Arc::default(),
        }
    }

    /// The operations asked for so far.
    pub fn operations(&self) -> BTreeSet<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Intercept for Asked {
    fn name(&self) -> &'static str {
        "Asked"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .expect("the SDK names each operation");
        self.seen
            .lock()
            .unwrap()
            .insert(format!("{}:{}", self.prefix, operation.name()));
        Err("stopped by the test before it is sent".into())
    }
}
