//! The cross-check: one sequence (create a private zone, publish one multivalue A record set with a SetIdentifier,
//! list, withdraw it, list again) through the SDK against moto's server, a Route53 emulator we did not write, and
//! against ours; both must answer alike on this path, which moto gets right.
//!
//! moto_server comes from `MOTO_SERVER`, else `<workspace>/.venv/bin/moto_server` (the test command creates that
//! virtualenv with `moto[server]==5.2.5`). Without it this test fails: it is never skipped.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_route53::types::{HostedZoneConfig, Vpc, VpcRegion};
use common::*;
use route53_emulator::{spawn_server, Emulator};
use route53_registrator::route53::RecordSet;

/// A moto server on a free loopback port, killed on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server_path() -> PathBuf {
    match std::env::var_os("MOTO_SERVER") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server"),
    }
}

fn start_moto() -> Moto {
    let path = moto_server_path();
    assert!(
        path.is_file(),
        "moto_server not found at {}: run the test command (scripts/test.sh, or `scripts/test.sh --setup-only` \
         to only set up), which creates .venv with moto[server]==5.2.5; or point MOTO_SERVER at a moto_server",
        path.display()
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&path)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    let mut moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = moto.child.try_wait().unwrap() {
            panic!("moto_server exited before listening: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "moto_server did not listen on port {port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    moto
}

/// What one server answered along the sequence, in terms both should agree on.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    zone_name: String,
    zone_private: bool,
    zone_id_shape_ok: bool,
    /// Every record set listed after the publish: (name, type) in listing order, and the A record sets in full.
    listed_after_publish: Vec<(String, String)>,
    a_after_publish: Vec<RecordSet>,
    truncated_after_publish: bool,
    got_zone_name: String,
    a_after_withdraw: Vec<RecordSet>,
    listed_after_withdraw: Vec<(String, String)>,
}

async fn run_sequence(endpoint: &str) -> (Observed, String) {
    let client = sdk_client(endpoint);
    let created = client
        .create_hosted_zone()
        .name("service.discovery")
        .caller_reference("cross-check")
        .vpc(
            Vpc::builder()
                .vpc_region(VpcRegion::UsEast1)
                .vpc_id("vpc-12345678")
                .build(),
        )
        .hosted_zone_config(HostedZoneConfig::builder().private_zone(true).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{endpoint}: CreateHostedZone: {e:?}"));
    let zone = created.hosted_zone().unwrap();
    let zone_id = zone.id().trim_start_matches("/hostedzone/").to_string();
    let zone_name = zone.name().to_string();
    let zone_private = zone.config().map(|c| c.private_zone()).unwrap_or(false);
    let zone_id_shape_ok = zone.id().starts_with("/hostedzone/") && !zone_id.is_empty();
    let got = client.get_hosted_zone().id(&zone_id).send().await.unwrap();
    let got_zone_name = got.hosted_zone().unwrap().name().to_string();

    let record = multivalue("web", "10.0.0.1", "10.0.0.1");
    let published = client
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(sdk_batch(&[create(record.clone())]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{endpoint}: publish: {e:?}"));
    let change_status = published
        .change_info()
        .unwrap()
        .status()
        .as_str()
        .to_string();

    let (sets, truncated_after_publish) = list(&client, &zone_id).await;
    let listed_after_publish = names_and_types(&sets);

    client
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(sdk_batch(&[delete(record)]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{endpoint}: withdraw: {e:?}"));
    let (after, _) = list(&client, &zone_id).await;

    let observed = Observed {
        zone_name,
        zone_private,
        zone_id_shape_ok,
        listed_after_publish,
        a_after_publish: a_records(sets),
        truncated_after_publish,
        got_zone_name,
        listed_after_withdraw: names_and_types(&after),
        a_after_withdraw: a_records(after),
    };
    (observed, change_status)
}

/// The zone's first page of record sets, and whether it says more follow.
async fn list(client: &aws_sdk_route53::Client, zone_id: &str) -> (Vec<RecordSet>, bool) {
    let listed = client
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .unwrap();
    let sets = listed.resource_record_sets().iter().map(from_sdk).collect();
    (sets, listed.is_truncated())
}

fn names_and_types(sets: &[RecordSet]) -> Vec<(String, String)> {
    sets.iter()
        .map(|s| (s.name.clone(), s.rtype.clone()))
        .collect()
}

#[tokio::test]
async fn moto_and_the_emulator_answer_the_same_sequence_alike() {
    let moto = start_moto();
    let emulator = Emulator::new();
    let server = spawn_server(emulator.clone(), 0).unwrap();

    let (from_moto, moto_status) = run_sequence(&moto.endpoint).await;
    let (from_emulator, emulator_status) = run_sequence(&server.endpoint()).await;

    assert_eq!(
        from_emulator, from_moto,
        "the emulator (left) and moto (right) disagree"
    );
    // The path itself, so that two equally wrong answers cannot agree.
    assert_eq!(from_emulator.zone_name, "service.discovery.");
    assert!(from_emulator.zone_private);
    assert_eq!(
        from_emulator.a_after_publish,
        [multivalue("web", "10.0.0.1", "10.0.0.1")]
    );
    assert!(from_emulator.a_after_withdraw.is_empty());
    assert!(from_emulator
        .listed_after_withdraw
        .iter()
        .any(|(_, t)| t == "SOA"));
    // Known, deliberate difference: Route53 answers a change PENDING; moto says INSYNC at once.
    assert_eq!(emulator_status, "PENDING");
    assert!(
        ["PENDING", "INSYNC"].contains(&moto_status.as_str()),
        "moto said {moto_status}"
    );
}
