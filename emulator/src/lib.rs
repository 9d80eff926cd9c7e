//! A Route53 emulator: Route53's rules in memory, and a REST XML server over them.
#![forbid(unsafe_code)]
