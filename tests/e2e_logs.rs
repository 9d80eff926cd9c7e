//! End to end, the daemon's logs: the real binary with `--once` against the project's Route53 emulator over
//! HTTP, with no containers of its own (a daemon lists the shared engine's containers, but no test here
//! starts any).
//!
//! - No credential is logged at any level: at `RUST_LOG=trace`, with recognisable fake credentials from each
//!   place the AWS chain finds them on ECS (environment with a session token, a task role's container
//!   credentials endpoint, an instance role through IMDSv2), the output holds neither the secret key, nor the
//!   session token, nor the endpoint's authorization token, while the signer's own trace is there.
//! - JSON logs are one JSON object per line, fields at the top level, even with the AWS SDK at `trace`.
//! - Text logs are coloured only on a terminal, and not even there with `NO_COLOR`.
//! - `RUST_LOG` wins over `log.level`.

mod support;

use std::time::Duration;

use route53_emulator::Operation;
use serde_json::Value;
use support::daemon::{Daemon, DaemonBuilder};
use support::emulator::EmulatedZone;
use support::imds::{self, ImdsServer, RoleCredentials};
use support::unique;

/// Long enough for a `--once` run on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

/// What starts an escape sequence (colours, bold, dim).
const ESCAPE: &str = "\x1b[";

/// Fake credentials unique to this run, each beginning with a marker that nothing else prints, so that a
/// leak of any of them (or of its beginning) is found by a plain search.
fn fake_credentials() -> RoleCredentials {
    let tag = unique("x").replace('-', "").to_ascii_uppercase();
    RoleCredentials {
        // Not a secret (it names the key in every request's Authorization header), but recognisable too.
        access_key_id: format!("AKIAR53RTEST{tag}"),
        secret_access_key: format!("R53RSECRETKEY{tag}abcdefghijklmnopqrstuvwxyz"),
        session_token: format!("R53RSESSIONTOKEN{tag}IQoJb3JpZ2luX2VjEDcaCXVzLWVhc3QtMSJHMEUCIQ"),
        authorization: format!("R53RAUTHORIZATION{tag}"),
    }
}

/// Runs the daemon built by `builder` with `--once` at `RUST_LOG=trace` in log `format` against `zone`, in
/// which it has one stale record of its own to withdraw (so that it signs a GetHostedZone, a
/// ListResourceRecordSets and a ChangeResourceRecordSets); checks that it succeeded and that the signer's
/// trace is in its output, and returns the output.
fn run_once_at_trace(builder: DaemonBuilder, zone: &EmulatedZone, format: &str) -> String {
    let (status, output) = builder
        .arg("--once")
        .env("RUST_LOG", "trace")
        .env("R53R_LOG__FORMAT", format)
        .run(DEADLINE);
    assert_eq!(status.code(), Some(0), "{output}");
    let operations = zone.operations();
    for operation in [
        Operation::GetHostedZone,
        Operation::ListResourceRecordSets,
        Operation::ChangeResourceRecordSets,
    ] {
        assert!(
            operations.contains(&operation),
            "{operation:?} was not sent: {operations:?}"
        );
    }
    assert!(
        output
            .lines()
            .any(|line| line.contains("TRACE") && line.contains("aws_sigv4")),
        "the signer's trace is not in the output, so the test proves nothing:\n{output}"
    );
    output
}

/// Panics naming the first of `secrets` found in `output`.
fn assert_never_logged(output: &str, secrets: &[(&str, &str)]) {
    for (what, secret) in secrets {
        if let Some(at) = output.find(secret) {
            let line = output[..at].lines().count();
            panic!("the {what} is logged, on line {line}:\n{output}");
        }
    }
}

/// Every line of `output` is a JSON object with the formatter's fields and the event's at its top level.
fn assert_json_lines(output: &str) {
    let mut lines = 0;
    for line in output.lines() {
        let object = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => object,
            _ => panic!("not a JSON object: {line:?}"),
        };
        for key in ["timestamp", "level", "target"] {
            assert!(object.contains_key(key), "no {key}: {line}");
        }
        assert!(!object.contains_key("fields"), "nested fields: {line}");
        lines += 1;
    }
    assert!(lines > 0, "no output");
    assert!(
        output.contains(r#""message":"hosted zone found""#) && output.contains(r#""zone_id":"#),
        "the daemon's own event with its field at the top level:\n{output}"
    );
}

#[test]
fn no_credential_is_logged_at_trace_from_the_environment_with_a_session_token() {
    for format in ["text", "json"] {
        let zone = EmulatedZone::private();
        zone.seed_own_record("stale", "10.0.0.31");
        let credentials = fake_credentials();
        let builder = Daemon::builder(&zone.endpoint())
            .config(&zone.config(Some("10.0.0.31")))
            .env("AWS_ACCESS_KEY_ID", &credentials.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &credentials.secret_access_key)
            .env("AWS_SESSION_TOKEN", &credentials.session_token)
            .label(format);
        let output = run_once_at_trace(builder, &zone, format);
        assert_never_logged(
            &output,
            &[
                ("secret access key", "R53RSECRETKEY"),
                ("session token", "R53RSESSIONTOKEN"),
            ],
        );
        if format == "json" {
            assert_json_lines(&output);
        } else {
            assert!(!output.contains(ESCAPE), "{output:?}");
        }
    }
}

/// A task role: ECS hands its credentials out on the container credentials endpoint (here with an
/// authorization token, as `AWS_CONTAINER_CREDENTIALS_FULL_URI` requires off ECS).
#[test]
fn no_credential_is_logged_at_trace_from_a_task_roles_credentials_endpoint() {
    let zone = EmulatedZone::private();
    zone.seed_own_record("stale", "10.0.0.32");
    let credentials = fake_credentials();
    let server = ImdsServer::start("10.0.0.32", "i-0123456789abcdef0");
    server.serve_credentials(&credentials);
    let builder = Daemon::builder(&zone.endpoint())
        .config(&zone.config(Some("10.0.0.32")))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            &server.container_credentials_uri(),
        )
        .env(
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            &credentials.authorization,
        );
    let output = run_once_at_trace(builder, &zone, "json");
    assert!(
        server.answered(imds::CONTAINER_CREDENTIALS_PATH) >= 1,
        "the credentials did not come from the endpoint: {:?}",
        server.requests()
    );
    assert_never_logged(
        &output,
        &[
            ("secret access key", "R53RSECRETKEY"),
            ("session token", "R53RSESSIONTOKEN"),
            ("authorization token", "R53RAUTHORIZATION"),
        ],
    );
    assert_json_lines(&output);
}

/// An instance role: its credentials come from IMDSv2 (the host IP too, here), behind IMDS's own token.
#[test]
fn no_credential_is_logged_at_trace_from_an_instance_role() {
    let zone = EmulatedZone::private();
    zone.seed_own_record("stale", "10.0.0.33");
    let credentials = fake_credentials();
    let server = ImdsServer::start("10.0.0.33", "i-0123456789abcdef0");
    server.serve_credentials(&credentials);
    let builder = Daemon::builder(&zone.endpoint())
        .config(&zone.config(None))
        .imds(&server.endpoint())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let output = run_once_at_trace(builder, &zone, "text");
    let role = format!(
        "/latest/meta-data/iam/security-credentials/{}",
        imds::ROLE_NAME
    );
    assert!(
        server.answered(&role) >= 1,
        "the credentials did not come from IMDS: {:?}",
        server.requests()
    );
    assert!(
        server.answered("/latest/meta-data/local-ipv4") >= 1,
        "{:?}",
        server.requests()
    );
    assert_never_logged(
        &output,
        &[
            ("secret access key", "R53RSECRETKEY"),
            ("session token", "R53RSESSIONTOKEN"),
            ("IMDSv2 token", imds::TOKEN),
        ],
    );
}

/// `docker logs`, a file, a pipe: no escape sequences, whatever `NO_COLOR` says.
#[test]
fn text_logs_that_do_not_go_to_a_terminal_are_not_coloured() {
    let zone = EmulatedZone::private();
    let (status, output) = Daemon::builder(&zone.endpoint())
        .config(&zone.config(Some("10.0.0.34")))
        .arg("--once")
        .env_remove("NO_COLOR")
        .run(DEADLINE);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(output.contains("reconciled once"), "{output}");
    assert!(
        output.contains("INFO") && output.contains("DEBUG"),
        "{output}"
    );
    assert!(!output.contains(ESCAPE), "{output:?}");
}

/// On a terminal, text logs are coloured unless `NO_COLOR` is set to something (no-color.org: an empty
/// value counts as unset).
#[test]
fn text_logs_on_a_terminal_are_coloured_unless_no_color_is_set() {
    let zone = EmulatedZone::private();
    let run = |no_color: Option<&str>| {
        let builder = Daemon::builder(&zone.endpoint())
            .config(&zone.config(Some("10.0.0.35")))
            .arg("--once")
            .label(&format!("NO_COLOR={no_color:?}"));
        let builder = match no_color {
            Some(value) => builder.env("NO_COLOR", value),
            None => builder.env_remove("NO_COLOR"),
        };
        let (status, output) = builder.run_in_terminal(DEADLINE);
        assert_eq!(status.code(), Some(0), "NO_COLOR={no_color:?}: {output}");
        assert!(output.contains("reconciled once"), "{output}");
        output
    };
    let output = run(None);
    assert!(
        output.contains(ESCAPE),
        "no colours on a terminal: {output:?}"
    );
    let output = run(Some(""));
    assert!(output.contains(ESCAPE), "NO_COLOR empty: {output:?}");
    let output = run(Some("1"));
    assert!(!output.contains(ESCAPE), "NO_COLOR=1: {output:?}");
}

#[test]
fn rust_log_wins_over_log_level() {
    let zone = EmulatedZone::private();
    let config = zone.config(Some("10.0.0.36")) + "[log]\nlevel = \"warn\"\n";
    let run = |rust_log: Option<&str>| {
        let builder = Daemon::builder(&zone.endpoint())
            .config(&config)
            .arg("--once");
        let builder = match rust_log {
            Some(value) => builder.env("RUST_LOG", value),
            None => builder.env_remove("RUST_LOG"),
        };
        let (status, output) = builder.run(DEADLINE);
        assert_eq!(status.code(), Some(0), "RUST_LOG={rust_log:?}: {output}");
        output
    };
    let output = run(None);
    assert!(
        !output.contains("hosted zone found"),
        "log.level = warn: {output}"
    );
    let output = run(Some(""));
    assert!(
        !output.contains("hosted zone found"),
        "an empty RUST_LOG is unset: {output}"
    );
    let output = run(Some("info"));
    assert!(
        output.contains("hosted zone found"),
        "RUST_LOG=info: {output}"
    );
    let output = run(Some("info=lol"));
    assert!(
        output.contains("RUST_LOG is not a valid filter") && !output.contains("hosted zone found"),
        "an invalid RUST_LOG is said and log.level applies: {output}"
    );
}
