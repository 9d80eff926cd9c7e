//! route53-registrator: DNS service discovery for containers on ECS instances through a Route53 private
//! hosted zone.
//!
//! # Layout
//!
//! The pipeline is docker → classify → plan → route53, with metadata and config beside it.
//!
//! - [`cli`]: the command line (clap): `run` (the default), `check-config`, `healthcheck`.
//! - [`config`]: the settings structs, their layering (defaults → file → environment) and validation.
//! - [`container`]: what the daemon knows of a container and of Docker's events, free of bollard's types.
//! - [`route53`]: the narrow [`route53::Route53Api`] trait, its SDK implementation and error classes.
#![forbid(unsafe_code)]

pub mod actors;
pub mod cli;
pub mod config;
pub mod container;
pub mod route53;
