//! A Route53 emulator that keeps Route53's rules, for route53-registrator's tests, benchmarks and quick start.
//!
//! # Layout
//!
//! - [`rules`]: pure. One zone's record sets, a change batch validated and applied under Route53's rules
//!   (atomic, in order), and ListResourceRecordSets' order and paging.
//! - [`faults`]: pure. `PriorRequestNotComplete` window, queued failures, `PENDING`/`INSYNC`, EC2's throttle;
//!   every decision takes `now`.
//! - [`quota`]: pure. Route53's request throttle: the quota model's token buckets (account, each action, change
//!   throughput) and the old single-rate model; every decision takes `now`.
//! - [`Emulator`] (`emulator.rs`): the account behind one lock — zones, changes, faults, the request log — and the
//!   in-process [`Route53Api`](route53_registrator::route53::Route53Api).
//! - [`ec2`]: pure. EC2's DescribeInstances (Query API) for the clean-up of gone instances: the request's
//!   form, the filters and paging over the instances a test declares, the XML answers and errors.
//! - `server.rs` and `xml.rs`: the REST XML API (2013-04-01) over actix-web, [`spawn_server`].
//!
//! Tests drive it in-process through the daemon's trait, or start the server and point the AWS SDK at
//! [`ServerHandle::endpoint`]; either way every request lands in [`Emulator::requests`].
#![forbid(unsafe_code)]

pub mod ec2;
mod emulator;
pub mod faults;
// The fuzz target's property as a plain function (fuzz/, the top-level tests/fuzz_corpus.rs); not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod quota;
pub mod rules;
mod server;
mod xml;

pub use emulator::{bare_zone_id, ApiError, Ec2Request, Emulator, LoggedRequest, Operation};
pub use faults::Fault;
pub use quota::{BucketLimit, ChangeUnit, Quota};
pub use server::{spawn_server, ServerHandle};
