//! route53-registrator: DNS service discovery for containers on ECS instances through a Route53 private
//! hosted zone.
//!
//! # Layout
//!
//! The pipeline is docker → classify → plan → route53, with metadata and config beside it. Each stage is a
//! narrow trait over its external system (I/O) or a pure module (decisions); the actors in [`actors`] hold
//! the state and move messages between them.
//!
//! - [`docker`]: the narrow [`docker::DockerApi`] trait over the engine (list, inspect, events) and its
//!   bollard implementation, which negotiates the API version.
//! - [`container`]: what the daemon knows of a container and of Docker's events, free of bollard's types.
//! - [`classify`]: pure: a container's labels and network mode → a service name, a skip or a refusal; the
//!   naming table.
//! - [`desired`]: pure: the containers running here (events + snapshots) → the names this instance should
//!   publish (counting, health, stopping, tombstones).
//! - [`registry`]: pure: ownership, one implementation per routing: which record sets under a name are this
//!   instance's, and what a change to them looks like.
//! - [`ledger`]: pure: an instance's ledger, the TXT record listing the names where it may hold record
//!   sets, so that a restart finds its stale record sets with one read instead of a listing of the zone.
//! - [`plan`]: pure: this instance's record set for a name, and the diff from what the zone holds to what
//!   it should hold, through the registry.
//! - [`ec2`]: the narrow [`ec2::Ec2Api`] trait over EC2's DescribeInstances, all the clean-up asks of it,
//!   its SDK implementation, and the rate limiter in front of it.
//! - [`gc`]: pure: the clean-up of gone instances' record sets: which owners to ask EC2 about, when,
//!   and which are gone (two checks `gc.grace` apart; any doubt deletes nothing).
//! - [`timing`]: pure: debounce and max delay, retry backoff with jitter, the verification interval.
//! - [`reconcile`]: pure: the writer's decisions as a state machine that takes the time in: given what it
//!   knows, the next action (wait, read the zone, read names, send batches); given an action's outcome, what
//!   it now knows.
//! - [`perform`]: the I/O half of the writer: an action of the reconciler performed through any
//!   [`route53::Route53Api`], its outcome handed back.
//! - [`route53`]: the narrow [`route53::Route53Api`] trait, its SDK implementation, what each failure means
//!   ([`route53::Meaning`], the one place that decides it), packing changes into requests under Route53's
//!   limits ([`route53::batch`], pure), the zone reads (paginated, by name), sending batches with a refused
//!   change isolated, and the shared rate limiter every request passes.
//! - [`stats`]: the statistics handle every actor updates, rendered by `/metrics`.
//! - [`http`]: `/healthz` and `/metrics` on `http.listen` (actix-web), and the `healthcheck` client.
//! - [`metadata`]: the narrow [`metadata::MetadataApi`] trait over the instance metadata service (IMDSv2
//!   through aws-config's client: local-ipv4, instance-id).
//! - [`actors`]: `DockerWatcher` → `Classifier` → `Route53Writer`, with `MetadataCache` supplying the host
//!   IP and, with `gc.enabled`, `GcCollector` the owners that are gone; the messages between them in
//!   [`actors::messages`].
//! - [`config`]: the settings structs, their layering (defaults → file → environment) and validation.
//! - [`cli`]: the command line (clap): `run` (the default), `check-config`, `healthcheck`.
//! - [`aws`]: the AWS SDK configuration the Route53 and EC2 clients share (the standard chain, the SDK's
//!   retries off, timeouts).
//! - [`signals`], [`logging`]: what the process needs around the actors (SIGTERM/SIGINT, text or JSON
//!   logs, panics logged).
//!
//! `src/main.rs` wires the actors together, and builds the parts they share: the Route53 client behind the
//! one rate limiter, the EC2 client behind its own, and the statistics handle. The emulator the tests run
//! against (Route53, and EC2's DescribeInstances) is a separate crate (`emulator/`), not part of the daemon's
//! binary.
#![forbid(unsafe_code)]

pub mod actors;
pub mod aws;
pub mod classify;
pub mod cli;
pub mod config;
pub mod container;
pub mod desired;
pub mod docker;
pub mod ec2;
// The fuzz targets' properties as plain functions (fuzz/, tests/fuzz_corpus.rs); not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod gc;
pub mod http;
pub mod ledger;
pub mod logging;
pub mod metadata;
pub mod perform;
pub mod plan;
pub mod reconcile;
pub mod registry;
pub mod route53;
pub mod signals;
pub mod stats;
pub mod timing;
