//! Shared support for the integration and end-to-end tests: `mod support;` at the top of each `tests/*.rs`.
//!
//! - [`docker`]: containers and networks on the real engine, through the `docker` CLI, removed on drop
//!   (even when the test fails); the test image built by `scripts/test.sh`.
//! - [`imds`]: an IMDSv2 server on loopback that counts the requests it gets; it can also serve role
//!   credentials (an instance role's, and a task role's on the container credentials endpoint).
//! - [`daemon`]: the built `route53-registrator` binary, run with a config, its output kept in a file whose
//!   tail is printed when the test fails, stopped with SIGTERM on drop; or run on a pseudo-terminal.
//! - [`emulator`]: the Route53 emulator over HTTP with one zone of a unique name, for daemon tests that start
//!   no containers.
//! - [`proxy`]: a Unix socket proxy in front of the engine that a test can cut and restore.
//! - [`world`]: one end-to-end test's emulator zone (served over HTTP) and Docker network, and waiting until
//!   a name is published or withdrawn.
//! - [`tls`]: a test root and server certificate generated at run time, and a loopback TLS proxy with them.
//! - [`wait_until`]: poll a condition with a deadline instead of sleeping, on a thread of its own (an async
//!   test has `route53_registrator::testing::wait_until`).
//! - [`fast_writer_settings`]: a writer actor's settings for in-process tests (`tests/writer.rs`, `tests/gc.rs`).
//! - [`in_parallel`] / [`drop_in_parallel`]: many `docker` commands at once (a storm of starts, say), and
//!   the removal of many container guards.
//! - [`free_port`] and [`http_get`]: a loopback port for a daemon's `http.listen`, and a GET of it.
//! - [`write_tmp`]: a file left under Cargo's target tmp dir for a person to read (request logs, tails).
//! - [`unique`]: names no other test (or earlier run) uses: zones, services, containers, networks.
//!
//! Every test shares the one Docker engine, and a running daemon sees every container on it: give each test
//! its own zone and service names ([`unique`]). Tests outside `e2e_*` binaries (which run in parallel with
//! the daemons) must not label containers as services a daemon would publish: see
//! [`docker::NOT_A_SERVICE_FAMILY`].

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod daemon;
pub mod docker;
pub mod emulator;
pub mod imds;
pub mod proxy;
pub mod tls;
pub mod world;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use route53_registrator::backoff::RetryPolicy;
use route53_registrator::route53::batch::BatchLimits;
use route53_registrator::route53::rate::Quota;
use route53_registrator::route53::Routing;
use route53_registrator::writer::actor::WriterSettings;

/// The ListResourceRecordSets requests `emu` has answered.
pub fn list_requests(emu: &route53_emulator::Emulator) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.operation == route53_emulator::Operation::ListResourceRecordSets)
        .count()
}

/// Writer settings for tests that drive a writer actor in-process: a short debounce and retries, no rate
/// limit to speak of, no ledger, verification out of the way (an hour).
pub fn fast_writer_settings(routing: Routing) -> WriterSettings {
    WriterSettings {
        routing,
        ttl: 10,
        weight: 50,
        owner_id: None,
        debounce: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_requests_per_second: 1000,
        quota: Quota::DOCUMENTED,
        verify_interval: Duration::from_secs(3600),
        ledger: false,
        once: false,
        dry_run: false,
        retry: RetryPolicy {
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        },
        limits: BatchLimits::ROUTE53,
        watches_end: false,
    }
}

/// Polls `condition` every 50 ms until it holds; panics naming `what` once `timeout` has passed.
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting until {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `job` on every item on `workers` threads at once (each thread takes the next item when it is done
/// with one) and returns the results in the items' order. A job that panics fails the call, once every
/// thread has finished.
pub fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    job: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(index) else {
                    break;
                };
                let result = job(item);
                results.lock().unwrap_or_else(PoisonError::into_inner)[index] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .map(|result| result.expect("every job ran"))
        .collect()
}

/// Drops every item on `workers` threads at once: container guards, whose drop (`docker rm -f`) takes a
/// while each.
pub fn drop_in_parallel<T: Send>(items: Vec<T>, workers: usize) {
    let workers = workers.clamp(1, items.len().max(1));
    let items = Mutex::new(items);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let item = items.lock().unwrap_or_else(PoisonError::into_inner).pop();
                match item {
                    Some(item) => drop(item),
                    None => break,
                }
            });
        }
    });
}

/// `prefix-xxxxxxxx`: a lower-case DNS label unique to this test (process id, clock and a counter), so that
/// tests running at once, and leftovers of an earlier run, never share a name.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    let mixed = (u64::from(std::process::id()) << 32)
        ^ nanos.rotate_left(17)
        ^ u64::from(COUNTER.fetch_add(1, Ordering::Relaxed)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // A 64-bit finaliser (splitmix64) spreads the bits, so that nearby inputs give unrelated names.
    let mut z = mixed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    format!("{prefix}-{:08x}", z as u32)
}

/// A zone domain unique to this test, such as `t-1a2b3c4d.test` (no trailing dot).
pub fn unique_zone() -> String {
    format!("{}.test", unique("t"))
}

/// Writes `text` to `file` in `dir` under Cargo's target tmp dir, creating `dir`: where tests and benches
/// leave what they write for a person to read. The path written, or the path and why it could not be.
pub fn write_tmp(
    dir: &str,
    file: &str,
    text: &str,
) -> Result<std::path::PathBuf, (std::path::PathBuf, std::io::Error)> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
    let path = dir.join(file);
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, text)) {
        Ok(()) => Ok(path),
        Err(e) => Err((path, e)),
    }
}

/// A loopback port free a moment ago, for a daemon's `http.listen` (`127.0.0.1:PORT`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `GET http://{addr}{path}`: the status and the body, or the error (nothing listening yet, say).
pub fn http_get(addr: &str, path: &str) -> Result<(u16, String), String> {
    route53_registrator::http::get(addr, path, Duration::from_secs(5))
}
