//! The metadata side against an IMDSv2 server on loopback (tests/support/imds.rs): aws-config's client as
//! `ImdsMetadata`, and the `MetadataCache` actor that hands the host IP to the writer.

mod support;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use route53_registrator::backoff::RetryPolicy;
use route53_registrator::config::HostSettings;
use route53_registrator::host::cache::{HostIpSource, MetadataCache};
use route53_registrator::host::lifecycle::{
    fate, Fate, Item, Readings, SPOT_ACTION_PATH, TARGET_STATE_PATH,
};
use route53_registrator::host::metadata::{
    ImdsMetadata, MetadataApi, IDENTITY_PATH, LOCAL_IPV4_PATH,
};
use route53_registrator::host::HostIp;
use route53_registrator::testing::{wait_until, Recorder, Recording};

use support::imds::{self, ImdsServer};

const TIMEOUT: Duration = Duration::from_secs(20);
const FAST_RETRIES: RetryPolicy = RetryPolicy {
    min_delay: Duration::from_millis(50),
    max_delay: Duration::from_millis(300),
};

/// Records the host IPs the cache sends.
fn recorder() -> (Recipient<HostIp>, Recording<HostIp>) {
    let seen = Recorder::start();
    (seen.recipient(), seen)
}

fn client(endpoint: &str) -> Arc<dyn MetadataApi> {
    Arc::new(ImdsMetadata::with_endpoint(Some(endpoint)).expect("a valid endpoint"))
}

#[actix_rt::test]
async fn the_client_reads_the_ip_and_the_identity_with_a_session_token() {
    let server = ImdsServer::start("10.20.30.40", "i-0abc123def4567890");
    let metadata = client(&server.endpoint());
    assert_eq!(
        metadata.local_ipv4().await.unwrap(),
        Ipv4Addr::new(10, 20, 30, 40)
    );
    let identity = metadata.identity().await.unwrap();
    assert_eq!(identity.instance_id, "i-0abc123def4567890");
    assert_eq!(
        (identity.account.as_str(), identity.region.as_str()),
        (imds::ACCOUNT, imds::REGION)
    );

    let requests = server.requests();
    assert_eq!(
        requests[0].method, "PUT",
        "IMDSv2 starts with a token: {requests:?}"
    );
    assert_eq!(requests[0].path, "/latest/api/token");
    assert_eq!(server.answered(LOCAL_IPV4_PATH), 1, "{requests:?}");
    assert_eq!(server.answered(IDENTITY_PATH), 1, "{requests:?}");
    assert!(
        requests.iter().all(|r| r.status == 200),
        "every request was authorised: {requests:?}"
    );
}

#[actix_rt::test]
async fn the_client_from_the_environment_reads_the_endpoint_variable() {
    let server = ImdsServer::start("10.20.30.41", "i-1");
    let endpoint = server.endpoint();
    // The same code path as `from_env`, with the variable looked up in a table instead of the process's
    // environment (which tests running in parallel share).
    let metadata = ImdsMetadata::from_lookup(|key| {
        (key == "AWS_EC2_METADATA_SERVICE_ENDPOINT").then(|| endpoint.clone())
    })
    .expect("a valid endpoint");
    assert_eq!(
        metadata.local_ipv4().await.unwrap(),
        Ipv4Addr::new(10, 20, 30, 41)
    );
    assert_eq!(server.answered(LOCAL_IPV4_PATH), 1);
}

#[actix_rt::test]
async fn the_cache_delivers_the_ip_from_the_metadata_service() {
    let server = ImdsServer::start("10.1.2.3", "i-1");
    let (recipient, seen) = recorder();
    MetadataCache::new(
        HostIpSource::Metadata(client(&server.endpoint())),
        recipient,
    )
    .start();
    wait_until(TIMEOUT, "the host IP is delivered", || !seen.is_empty()).await;
    assert_eq!(seen.seen(), vec![HostIp(Ipv4Addr::new(10, 1, 2, 3))]);
}

#[actix_rt::test]
async fn with_host_ip_set_no_request_reaches_the_metadata_service() {
    let server = ImdsServer::start("10.1.2.3", "i-1");
    let (recipient, seen) = recorder();
    let clients_built = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&clients_built);
    let endpoint = server.endpoint();
    let host = HostSettings {
        ip: "192.168.77.5".into(),
        owner_id: String::new(),
    };
    let cache = MetadataCache::from_settings(&host, recipient, move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(client(&endpoint))
    })
    .expect("a valid host.ip")
    .with_refresh_interval(Duration::from_millis(20));
    cache.start();

    wait_until(TIMEOUT, "host.ip is delivered", || !seen.is_empty()).await;
    assert_eq!(seen.seen(), vec![HostIp(Ipv4Addr::new(192, 168, 77, 5))]);
    // Give a (wrong) refresh timer many chances to fire: still nothing may reach the server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        clients_built.load(Ordering::SeqCst),
        0,
        "no metadata client is even built"
    );
    assert_eq!(server.request_count(), 0, "{:?}", server.requests());
    assert_eq!(seen.len(), 1, "host.ip is sent once");
}

#[actix_rt::test]
async fn a_metadata_service_that_is_down_at_first_is_retried_until_it_answers() {
    let port = ImdsServer::reserve_port();
    let (recipient, seen) = recorder();
    let metadata = client(&format!("http://127.0.0.1:{port}"));
    MetadataCache::new(HostIpSource::Metadata(metadata), recipient)
        .with_retries(FAST_RETRIES, Duration::from_secs(5))
        .start();

    // Nothing listens: connections are refused for a while, and no IP can be known.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(seen.is_empty());

    let server = ImdsServer::start_on(port, "10.4.5.6", "i-1");
    wait_until(
        TIMEOUT,
        "the host IP is delivered once the service is up",
        || !seen.is_empty(),
    )
    .await;
    assert_eq!(seen.seen(), vec![HostIp(Ipv4Addr::new(10, 4, 5, 6))]);
    assert!(server.answered(LOCAL_IPV4_PATH) >= 1);
}

#[actix_rt::test]
async fn server_errors_are_retried_and_a_changed_ip_is_sent_again() {
    let server = ImdsServer::start("10.7.7.7", "i-1");
    server.set_failing(true);
    let (recipient, seen) = recorder();
    MetadataCache::new(
        HostIpSource::Metadata(client(&server.endpoint())),
        recipient,
    )
    .with_retries(FAST_RETRIES, Duration::from_secs(5))
    .with_refresh_interval(Duration::from_millis(100))
    .start();

    wait_until(TIMEOUT, "a few failed requests", || {
        server.request_count() >= 2
    })
    .await;
    assert!(seen.is_empty(), "no IP while the service fails");
    server.set_failing(false);
    wait_until(TIMEOUT, "the IP after the failures", || seen.len() == 1).await;

    // Refreshes that answer the same IP send nothing; a changed one is sent.
    let answered = server.answered(LOCAL_IPV4_PATH);
    wait_until(TIMEOUT, "two more refreshes", || {
        server.answered(LOCAL_IPV4_PATH) >= answered + 2
    })
    .await;
    assert_eq!(seen.len(), 1);
    server.set_local_ipv4("10.7.7.8");
    wait_until(TIMEOUT, "the changed IP", || seen.len() == 2).await;
    assert_eq!(
        seen.seen(),
        vec![
            HostIp(Ipv4Addr::new(10, 7, 7, 7)),
            HostIp(Ipv4Addr::new(10, 7, 7, 8))
        ]
    );
}

/// An item that exists only while something is planned, through aws-config's client over HTTP: a 404 is
/// "nothing planned" (absent), never an error; its text when it exists (a malformed one means nothing
/// known); a 500 and a service that hangs are nothing known.
#[actix_rt::test]
async fn a_notice_item_is_absent_present_or_unknown() {
    let server = ImdsServer::start("10.1.2.3", "i-1");
    let metadata = client(&server.endpoint());
    assert_eq!(metadata.item(SPOT_ACTION_PATH).await, Item::Absent);
    let notice = r#"{"action": "stop", "time": "2026-12-07T08:22:00Z"}"#;
    server.set_item(SPOT_ACTION_PATH, Some(notice));
    assert_eq!(
        metadata.item(SPOT_ACTION_PATH).await,
        Item::Text(notice.into())
    );
    server.set_item(TARGET_STATE_PATH, Some("InService\n"));
    assert_eq!(
        metadata.item(TARGET_STATE_PATH).await,
        Item::Text("InService".into()),
        "trimmed"
    );
    // A body that is not a notice is read as it is, and means nothing known.
    server.set_item(SPOT_ACTION_PATH, Some("{not json"));
    let spot = metadata.item(SPOT_ACTION_PATH).await;
    assert_eq!(spot, Item::Text("{not json".into()));
    let readings = Readings {
        spot,
        target_state: Item::Absent,
        rebalance: None,
    };
    assert!(matches!(fate(&readings), Fate::Unknown(_)));
    server.set_failing(true);
    let failed = metadata.item(SPOT_ACTION_PATH).await;
    assert!(matches!(failed, Item::Failed(_)), "{failed:?}");
    server.set_failing(false);
    // A service that never answers: the client's timeouts end the read, as nothing known.
    server.set_hanging(true);
    let hung = metadata.item(SPOT_ACTION_PATH).await;
    assert!(matches!(hung, Item::Failed(_)), "{hung:?}");
}
