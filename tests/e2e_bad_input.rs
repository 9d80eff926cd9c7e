//! Bad configuration and a bad environment, end to end, through the built binary: every setting refused with
//! exit code 2 and a message naming the key, the value and what is valid; Route53 unreachable at start-up
//! retried with `/healthz` saying why; the metadata service answering nonsense refused, retried, and never
//! published.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use route53_emulator::{spawn_server, Emulator};
use support::daemon::{Daemon, DaemonBuilder};
use support::imds::ImdsServer;
use support::world::{World, DEADLINE};
use support::{free_port, http_get, unique_zone, wait_until};

/// Where one bad value is given.
#[derive(Clone, Copy, Debug)]
enum Layer {
    /// In the config file: the value as TOML.
    File,
    /// In its `R53R_<SECTION>__<KEY>` variable: the value as the variable's text.
    Env,
}

/// One refused setting: the key, where, the bad value as written there, and what the message must show of
/// the value (`None`: the key is required and the message says so instead).
struct Refusal {
    key: &'static str,
    layer: Layer,
    written: &'static str,
    shown: Option<&'static str>,
}

const fn refusal(
    key: &'static str,
    layer: Layer,
    written: &'static str,
    shown: &'static str,
) -> Refusal {
    Refusal {
        key,
        layer,
        written,
        shown: Some(shown),
    }
}

/// One bad value for every key of the shipped config file, given in the file or in the environment.
fn refusals() -> Vec<Refusal> {
    use Layer::{Env, File};
    vec![
        Refusal {
            key: "route53.zone_id",
            layer: File,
            written: "\"  \"",
            shown: None,
        },
        refusal("route53.ttl", Env, "-5", "-5"),
        refusal("route53.routing", File, "\"geo\"", "geo"),
        refusal("route53.weight", Env, "300", "300"),
        refusal("route53.debounce", File, "\"soon\"", "soon"),
        refusal("route53.max_delay", Env, "forever", "forever"),
        refusal("route53.max_requests_per_second", File, "0", "0"),
        refusal("route53.quota_burst", Env, "0", "0"),
        refusal("route53.quota_per_second", File, "0", "0"),
        refusal("route53.verify_interval", Env, "500ms", "500ms"),
        refusal("route53.ledger", Env, "yes", "yes"),
        refusal("route53.startup_spread", File, "\"2h\"", "2h"),
        refusal("docker.host", File, "\"ftp://docker\"", "ftp://docker"),
        refusal("docker.resync_interval", Env, "0s", "0s"),
        refusal("selection.family_label", File, "\"\"", "\"\""),
        refusal("selection.name_label", Env, " ", "\" \""),
        refusal(
            "selection.family_suffixes",
            File,
            "[\"-service\", \" -svc\"]",
            "\" -svc\"",
        ),
        refusal("selection.name_override_label", File, "\" \"", "\" \""),
        refusal("selection.ignore_label", File, "\"\"", "\"\""),
        refusal("selection.respect_health", File, "\"yes\"", "yes"),
        refusal("host.ip", Env, "fe80::1", "fe80::1"),
        refusal("host.owner_id", File, LONG_OWNER_ID, "xxxxxxxx"),
        refusal("lifecycle.watch", Env, "yes", "yes"),
        refusal("lifecycle.interval", File, "\"0s\"", "0s"),
        refusal("lifecycle.rebalance", File, "\"no\"", "no"),
        refusal("gc.enabled", Env, "on", "on"),
        refusal("gc.interval", File, "\"0s\"", "0s"),
        refusal("gc.grace", Env, "a while", "a while"),
        refusal("shutdown.deregister", File, "1", "1"),
        refusal("shutdown.timeout", Env, "0s", "0s"),
        refusal("http.listen", File, "\"localhost\"", "localhost"),
        refusal("http.docker_grace", Env, "-1s", "-1s"),
        refusal("log.format", File, "\"xml\"", "xml"),
        refusal("log.level", Env, "[[", "[["),
    ]
}

/// 129 characters: one more than a SetIdentifier holds.
const LONG_OWNER_ID: &str = "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"";

/// Every key of the shipped config file, dotted (`route53.ttl`).
fn shipped_keys() -> BTreeSet<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/route53-registrator.toml"
    );
    let text = std::fs::read_to_string(path).expect("the shipped config file");
    let table: toml::Table = text.parse().expect("the shipped config file is TOML");
    table
        .iter()
        .flat_map(|(section, keys)| {
            let keys = keys.as_table().expect("a section");
            keys.keys().map(move |key| format!("{section}.{key}"))
        })
        .collect()
}

/// The config file for `refusal`: a zone id (unless the zone id is what is refused), the bad value when it
/// goes in the file.
fn config_for(refusal: &Refusal) -> String {
    let (section, key) = refusal.key.split_once('.').expect("a dotted key");
    let mut sections = vec![("route53", "zone_id = \"ZBADINPUT\"".to_string())];
    if let Layer::File = refusal.layer {
        let line = format!("{key} = {}", refusal.written);
        match sections.iter_mut().find(|(name, _)| *name == section) {
            Some((_, lines)) if key == "zone_id" => *lines = line,
            Some((_, lines)) => *lines = format!("{lines}\n{line}"),
            None => sections.push((section, line)),
        }
    }
    sections
        .iter()
        .map(|(name, lines)| format!("[{name}]\n{lines}\n"))
        .collect()
}

/// `run` with a bad value in any key, in the file or in the environment, exits 2 before doing anything, and
/// its message names the key, shows the value, and says what is valid. Every key of the shipped file has a
/// row: a key added without one fails here.
#[test]
fn every_setting_refuses_a_bad_value_with_exit_2_naming_key_value_and_what_is_valid() {
    let refusals = refusals();
    let covered: BTreeSet<String> = refusals.iter().map(|r| r.key.to_string()).collect();
    assert_eq!(
        covered,
        shipped_keys(),
        "one row per key of the shipped file"
    );

    for refusal in &refusals {
        let mut daemon = Daemon::builder("http://127.0.0.1:9").config(&config_for(refusal));
        if let Layer::Env = refusal.layer {
            let variable = format!("R53R_{}", refusal.key.to_uppercase().replacen('.', "__", 1));
            daemon = daemon.env(&variable, refusal.written);
        }
        let (status, output) = daemon.run(DEADLINE);
        let line = output
            .lines()
            .find(|line| line.contains("invalid configuration"))
            .unwrap_or_else(|| panic!("{}: no refusal in {output}", refusal.key));
        assert_eq!(status.code(), Some(2), "{}: {output}", refusal.key);
        assert!(
            line.contains(refusal.key),
            "{}: the key is named: {line}",
            refusal.key
        );
        if let Some(shown) = refusal.shown {
            assert!(
                line.contains(shown),
                "{}: the value {shown} is shown: {line}",
                refusal.key
            );
        }
        assert!(
            line.contains("expected"),
            "{}: what is valid is said: {line}",
            refusal.key
        );
    }
}

/// What is wrong beyond one key's value: a key no setting has (in either layer), a file that is not TOML or
/// does not exist, a command line that does not parse. Each exits 2 and names the culprit.
#[test]
fn unknown_keys_broken_files_and_bad_arguments_exit_2_naming_them() {
    let zone = "[route53]\nzone_id = \"ZBADINPUT\"\n";
    let cases: Vec<(&str, DaemonBuilder, &[&str])> = vec![
        (
            "unknown key in the file",
            Daemon::builder("http://127.0.0.1:9").config(&format!("{zone}tll = 10\n")),
            &["route53.tll", "expected one of"],
        ),
        (
            "unknown key in the environment",
            Daemon::builder("http://127.0.0.1:9")
                .config(zone)
                .env("R53R_ROUTE53__TLL", "10"),
            &["route53.tll", "R53R_ROUTE53__TLL"],
        ),
        (
            "a file that is not TOML",
            Daemon::builder("http://127.0.0.1:9").config(&format!("{zone}ttl = = 10\n")),
            &["config file", "line 3"],
        ),
        (
            "a file that does not exist",
            Daemon::builder("http://127.0.0.1:9")
                .env("ROUTE53_REGISTRATOR_CONFIG", "/nonexistent/r53r.toml"),
            &["/nonexistent/r53r.toml"],
        ),
        (
            "an argument that does not exist",
            Daemon::builder("http://127.0.0.1:9")
                .config(zone)
                .arg("--dry-rum"),
            &["--dry-rum"],
        ),
    ];
    for (what, daemon, needles) in cases {
        let (status, output) = daemon.run(DEADLINE);
        assert_eq!(status.code(), Some(2), "{what}: {output}");
        for needle in needles {
            assert!(
                output.contains(needle),
                "{what}: {needle} is named in {output}"
            );
        }
    }
}

/// Route53 unreachable at start-up is not fatal (it is the network's trouble, or Route53's, and it passes):
/// the daemon retries, `/healthz` answers 200 saying it waits for the hosted zone and why, and once Route53
/// answers the daemon goes on.
#[test]
fn route53_unreachable_at_start_is_retried_with_healthz_saying_why() {
    let emulator = Emulator::new();
    let hosted = emulator.create_zone(&unique_zone(), true);
    let route53_port = free_port();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut daemon = Daemon::builder(&format!("http://127.0.0.1:{route53_port}"))
        .config(&format!(
            "[route53]\nzone_id = \"{}\"\n[host]\nip = \"10.0.0.21\"\n[http]\nlisten = \"{listen}\"\n",
            hosted.id
        ))
        .env("R53R_DOCKER__HOST", "unix:///nonexistent.sock")
        .spawn();

    wait_until(DEADLINE, "/healthz says why the zone is not read", || {
        http_get(&listen, "/healthz").is_ok_and(|(status, body)| {
            status == 200
                && body.contains("not ready: waiting for the hosted zone")
                && body.contains("last request failed")
        })
    });
    let (_, body) = http_get(&listen, "/healthz").expect("/healthz");
    let route53 = body
        .lines()
        .find(|line| line.starts_with("route53: "))
        .unwrap_or_default();
    assert!(
        route53.contains("GetHostedZone"),
        "the failing request is named: {body}"
    );
    assert!(
        daemon.try_status().is_none(),
        "still running: {}",
        daemon.output()
    );

    let _server = spawn_server(emulator, route53_port).expect("the emulator on the same port");
    daemon.wait_for_output(Duration::from_secs(90), "hosted zone found");
}

/// The metadata service answering something that is not an IPv4 address (an HTML page, an IPv6 address, an
/// empty body) is refused with a line that shows the answer, and asked again; nothing is published until it
/// answers an address, which is then published.
#[test]
fn metadata_nonsense_is_refused_retried_and_never_published() {
    let world = World::new();
    let imds = ImdsServer::start(
        "<html><body>Service Unavailable</body></html>",
        "i-0123456789abcdef0",
    );
    let mut daemon = Daemon::builder(&world.server.endpoint())
        .config(&world.config_without_ip())
        .imds(&imds.endpoint())
        .spawn();
    let _web = world.service("web").run();

    for (answer, next) in [
        ("<html><body>Service Unavailable</body></html>", "fe80::1"),
        ("fe80::1", ""),
        ("", "10.20.30.41"),
    ] {
        let shown = format!("answered {answer:?}");
        wait_until(DEADLINE, &format!("the daemon refuses {answer:?}"), || {
            daemon.output().lines().any(|line| line.contains(&shown))
        });
        assert_eq!(
            world.change_requests(),
            0,
            "nothing is published without an IP"
        );
        imds.set_local_ipv4(next);
    }
    world.wait_published("web", "10.20.30.41");
    assert_eq!(
        world.a_records("web").len(),
        1,
        "only the address is published: {:?}",
        world.a_records("web")
    );
    assert!(daemon.try_status().is_none(), "still running");
}
