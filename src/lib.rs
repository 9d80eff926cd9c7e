//! route53-registrator: DNS service discovery for containers on ECS instances through a Route53 private
//! hosted zone.
//!
//! # Layout
//!
//! One folder per stage of the pipeline, in the order a Docker event travels, each holding the stage's narrow
//! trait over its external system, its pure decisions and its actor:
//!
//! - [`docker`]: the engine (a narrow trait over bollard, which negotiates the API version), what the daemon
//!   knows of a container and of Docker's events, and the `DockerWatcher` actor (events first, then a listing;
//!   reconnects with backoff).
//! - [`desired`]: the naming rules (labels and network mode → a name, a skip or a refusal), the containers
//!   running here counted into the records this instance should publish (the values wanted under each name;
//!   health, stopping, tombstones), and the `Classifier` actor.
//! - [`host`]: the instance metadata service (IMDSv2 through aws-config's client), the `MetadataCache` actor
//!   that supplies the host IP and the instance's identity, and the `EndWatch` actor that tells the writer
//!   when EC2 is about to take the instance away (a Spot interruption, an Auto Scaling termination).
//! - [`gc`]: the clean-up of gone instances' record sets: its decisions, EC2's DescribeInstances, and the
//!   `GcCollector` actor.
//! - [`writer`]: the reconciler (the writer's decisions as a sans-I/O state machine: time in, actions out), the
//!   plan (this instance's record sets and the diff), ownership per routing, the ledger (also the instance's
//!   membership record) and the members the clean-up may act on, pacing, and the `Route53Writer` actor that
//!   performs the actions.
//! - [`route53`]: the narrow [`route53::Route53Api`] trait, its SDK implementation, what each failure means
//!   ([`route53::Meaning`]), batches under Route53's limits, reads, sending, and the adaptive rate every request
//!   passes.
//!
//! Beside the pipeline, what the process needs: [`config`] (settings, layering, validation), [`cli`],
//! [`logging`], [`signals`], [`http`] (`/healthz`, `/metrics`), [`stats`] (the counters every actor updates),
//! [`aws`] (the SDK configuration the Route53 and EC2 clients share), [`backoff`] (retry with jitter) and
//! [`supervise`] (a panic becomes a restart).
//!
//! Imports run one way, with no circle: a stage imports the stage that feeds it (its messages and types), the
//! Route53 layer it calls and the modules beside the pipeline; nothing imports a stage above it. A message
//! lives in the stage that emits it (the watcher's in [`docker`], `DesiredRecords` — the values wanted under
//! each name — in [`desired`], `HostIp` and `InstanceFate` in [`host`], the collector's in [`gc`]); the writer's own (`Settle`,
//! `Shutdown`) in [`writer`]. `src/main.rs` wires the actors together. The emulator the tests run against
//! (Route53, and EC2's DescribeInstances) is a separate crate (`emulator/`), not part of the daemon's binary.
#![forbid(unsafe_code)]

pub mod aws;
pub mod backoff;
pub mod cli;
pub mod config;
pub mod desired;
pub mod docker;
// The fuzz targets' properties as plain functions (fuzz/, tests/fuzz_corpus.rs); not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod gc;
pub mod host;
pub mod http;
pub mod logging;
pub mod route53;
pub mod signals;
pub mod stats;
pub mod supervise;
// What the tests share (the record set builder, the Route53 double, the recorder, wait_until): for the unit
// tests, and for the integration tests and benches through the `test-util` feature.
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod writer;
