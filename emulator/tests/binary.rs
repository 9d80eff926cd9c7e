//! The standalone `route53-emulator`: two lines on stdout, a private zone that answers through the SDK, changes
//! logged to stderr, and a clean exit on SIGTERM or SIGINT.

mod common;

use std::io::{BufRead, BufReader, Lines, Read};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_route53::error::ProvideErrorMetadata;
use common::*;

/// The emulator process, killed on drop if a test failed before stopping it.
struct Running {
    child: Child,
    /// The rest of stdout, after the two lines.
    stdout: Lines<BufReader<ChildStdout>>,
    endpoint: String,
    zone_id: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> (Running, ChildStderr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_route53-emulator"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let endpoint = lines.next().expect("a first line").unwrap();
    let zone_id = lines.next().expect("a second line").unwrap();
    let endpoint = endpoint
        .strip_prefix("endpoint=")
        .unwrap_or_else(|| panic!("first line: {endpoint}"))
        .to_string();
    let zone_id = zone_id
        .strip_prefix("zone_id=")
        .unwrap_or_else(|| panic!("second line: {zone_id}"))
        .to_string();
    (
        Running {
            child,
            stdout: lines,
            endpoint,
            zone_id,
        },
        stderr,
    )
}

/// Sends `signal` (by the `kill` command) and waits up to 10 s for the exit status.
fn stop(running: &mut Running, signal: &str) -> std::process::ExitStatus {
    let pid = running.child.id().to_string();
    assert!(Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after {signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn prints_the_endpoint_and_zone_serves_and_stops_on_sigterm() {
    let (mut running, mut stderr) = start(&["--port", "0", "--zone", "Apps.Internal"]);
    assert!(
        running.endpoint.starts_with("http://127.0.0.1:"),
        "{}",
        running.endpoint
    );
    assert!(running.zone_id.starts_with('Z'), "{}", running.zone_id);

    let client = sdk_client(&running.endpoint);
    let zone = client
        .get_hosted_zone()
        .id(&running.zone_id)
        .send()
        .await
        .unwrap();
    let zone = zone.hosted_zone().unwrap();
    assert_eq!(zone.name(), "apps.internal.");
    assert!(zone.config().unwrap().private_zone());
    let record = route53_registrator::route53::RecordSet::a("web.apps.internal.", "10.0.0.1")
        .multivalue("h1");
    client
        .change_resource_record_sets()
        .hosted_zone_id(&running.zone_id)
        .change_batch(sdk_batch(&[create(record)]))
        .send()
        .await
        .unwrap();

    let status = stop(&mut running, "-TERM");
    assert!(status.success(), "{status}");
    assert!(
        running.stdout.next().is_none(),
        "exactly two lines on stdout"
    );
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    assert!(log.contains("change applied"), "{log}");
    assert!(log.contains("web.apps.internal."), "{log}");
}

#[test]
fn stops_on_sigint_right_after_printing() {
    let (mut running, _stderr) = start(&["--port", "0"]);
    let status = stop(&mut running, "-INT");
    assert!(status.success(), "{status}");
}

#[test]
fn a_busy_port_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_route53-emulator"))
        .args(["--port", &port])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout when it cannot serve"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen"));
}

/// The quota flags reach the running server: the documented quota with a two-request account bucket that never
/// refills lets exactly two requests through, whatever the machine's speed.
#[tokio::test]
async fn the_quota_flags_throttle_the_served_account() {
    let (mut running, _stderr) = start(&[
        "--port",
        "0",
        "--quota",
        "documented",
        "--account-quota",
        "2/0",
    ]);
    let client = sdk_client(&running.endpoint);
    for _ in 0..2 {
        client
            .get_hosted_zone()
            .id(&running.zone_id)
            .send()
            .await
            .unwrap();
    }
    let throttled = client
        .list_resource_record_sets()
        .hosted_zone_id(&running.zone_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(throttled.code(), Some("Throttling"));
    let status = stop(&mut running, "-TERM");
    assert!(status.success(), "{status}");
}
