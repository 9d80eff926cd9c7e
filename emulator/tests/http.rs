//! Every HTTP operation through the real `aws-sdk-route53` client, so that the XML is what the SDK expects, and
//! the faults as the SDK sees them on the wire.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use aws_sdk_route53::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_route53::types::{ChangeStatus, HostedZoneConfig, RrType, Vpc, VpcRegion};
use common::*;
use route53_emulator::{
    spawn_server, BucketLimit, Emulator, Fault, Operation, Quota, ServerHandle,
};
use route53_registrator::route53::sdk::SdkRoute53;
use route53_registrator::route53::{Change, Route53Api, Route53Error};
use route53_registrator::testing::wait_until;

struct Setup {
    emulator: Emulator,
    server: ServerHandle,
    client: aws_sdk_route53::Client,
    zone: String,
}

/// An emulator with the zone `service.discovery.`, served on a free port, and an SDK client for it.
fn setup() -> Setup {
    let emulator = Emulator::new();
    let zone = emulator.create_zone(ZONE, true).id;
    let server = spawn_server(emulator.clone(), 0).expect("server starts");
    let client = sdk_client(&server.endpoint());
    Setup {
        emulator,
        server,
        client,
        zone,
    }
}

/// The status and body of an SDK error's raw response.
fn raw<E>(error: &SdkError<E, aws_sdk_route53::config::http::HttpResponse>) -> (u16, String) {
    let response = error
        .raw_response()
        .expect("the error came with a response");
    let body = std::str::from_utf8(response.body().bytes().unwrap_or_default())
        .unwrap_or_default()
        .to_string();
    (response.status().as_u16(), body)
}

/// `error` is Route53's throttle as the SDK reads it: HTTP 400, `Throttling`, "Rate exceeded".
fn assert_throttling<E: ProvideErrorMetadata>(
    error: &SdkError<E, aws_sdk_route53::config::http::HttpResponse>,
) {
    assert_eq!(error.code(), Some("Throttling"));
    assert_eq!(error.message(), Some("Rate exceeded"));
    assert_eq!(raw(error).0, 400);
}

/// One HTTP/1.1 request over a fresh connection; the raw answer (empty when the connection closed without one).
fn raw_request(endpoint: &str, method: &str, path: &str, body: &str) -> String {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn create_get_and_list_hosted_zones() {
    let s = setup();
    let created = s
        .client
        .create_hosted_zone()
        .name("Other.Discovery")
        .caller_reference("ref-1")
        .vpc(
            Vpc::builder()
                .vpc_region(VpcRegion::UsEast1)
                .vpc_id("vpc-123")
                .build(),
        )
        .hosted_zone_config(
            HostedZoneConfig::builder()
                .private_zone(true)
                .comment("tests")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let zone = created.hosted_zone().unwrap();
    let id = zone.id().trim_start_matches("/hostedzone/").to_string();
    assert!(zone.id().starts_with("/hostedzone/Z"), "{}", zone.id());
    assert_eq!(zone.name(), "other.discovery.");
    assert!(zone.config().unwrap().private_zone());
    assert_eq!(zone.resource_record_set_count(), Some(2), "SOA and NS");
    assert!(
        created
            .location()
            .ends_with(&format!("/2013-04-01/hostedzone/{id}")),
        "{}",
        created.location()
    );
    assert_eq!(
        created.change_info().unwrap().status(),
        &ChangeStatus::Pending
    );
    assert_eq!(created.vpc().unwrap().vpc_id(), Some("vpc-123"));

    let again = s
        .client
        .create_hosted_zone()
        .name("x.discovery")
        .caller_reference("ref-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("HostedZoneAlreadyExists"));
    let private_without_vpc = s
        .client
        .create_hosted_zone()
        .name("y.discovery")
        .caller_reference("ref-2")
        .hosted_zone_config(HostedZoneConfig::builder().private_zone(true).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(private_without_vpc.code(), Some("InvalidInput"));

    let got = s.client.get_hosted_zone().id(&id).send().await.unwrap();
    assert_eq!(got.hosted_zone().unwrap().name(), "other.discovery.");
    assert_eq!(
        got.hosted_zone().unwrap().config().unwrap().comment(),
        Some("tests")
    );
    assert_eq!(got.vpcs().len(), 1);
    let got = s
        .client
        .get_hosted_zone()
        .id(format!("/hostedzone/{}", s.zone))
        .send()
        .await
        .unwrap();
    assert_eq!(got.hosted_zone().unwrap().name(), ZONE);

    let missing = s
        .client
        .get_hosted_zone()
        .id("ZNOPE")
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("NoSuchHostedZone"));
    assert!(missing.as_service_error().unwrap().is_no_such_hosted_zone());
    assert_eq!(raw(&missing).0, 404);

    let all = s.client.list_hosted_zones().send().await.unwrap();
    assert_eq!(all.hosted_zones().len(), 2);
    assert!(!all.is_truncated());
    let first = s
        .client
        .list_hosted_zones()
        .max_items(1)
        .send()
        .await
        .unwrap();
    assert_eq!(first.hosted_zones().len(), 1);
    assert!(first.is_truncated());
    let rest = s
        .client
        .list_hosted_zones()
        .marker(first.next_marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.hosted_zones().len(), 1);
    assert_ne!(rest.hosted_zones()[0].id(), first.hosted_zones()[0].id());

    let by_name = s
        .client
        .list_hosted_zones_by_name()
        .dns_name("service.discovery")
        .send()
        .await
        .unwrap();
    assert_eq!(by_name.hosted_zones()[0].name(), ZONE);
    assert_eq!(
        by_name.hosted_zones()[0].id(),
        format!("/hostedzone/{}", s.zone)
    );
    let by_name = s.client.list_hosted_zones_by_name().send().await.unwrap();
    let names: Vec<&str> = by_name.hosted_zones().iter().map(|z| z.name()).collect();
    assert_eq!(
        names,
        ["other.discovery.", "service.discovery."],
        "by reversed name: discovery.other < discovery.service"
    );

    let ops: Vec<(Operation, u16)> = s
        .emulator
        .requests()
        .iter()
        .map(|r| (r.operation, r.status))
        .collect();
    assert_eq!(
        ops,
        [
            (Operation::CreateHostedZone, 201),
            (Operation::CreateHostedZone, 409),
            (Operation::CreateHostedZone, 400),
            (Operation::GetHostedZone, 200),
            (Operation::GetHostedZone, 200),
            (Operation::GetHostedZone, 404),
            (Operation::ListHostedZones, 200),
            (Operation::ListHostedZones, 200),
            (Operation::ListHostedZones, 200),
            (Operation::ListHostedZonesByName, 200),
            (Operation::ListHostedZonesByName, 200),
        ]
    );
}

#[tokio::test]
async fn change_list_and_get_change() {
    let s = setup();
    s.emulator.set_insync_delay(Duration::from_secs(3600));
    let batch = [
        create(multivalue("web", "10.0.0.1", "10.0.0.1")),
        create(weighted("api", "10.0.0.1", "10.0.0.1", 5)),
        create(simple("db", &["10.0.0.1", "10.0.0.2"])),
    ];
    let changed = s
        .client
        .change_resource_record_sets()
        .hosted_zone_id(&s.zone)
        .change_batch(sdk_batch(&batch))
        .send()
        .await
        .unwrap();
    let info = changed.change_info().unwrap();
    assert_eq!(info.status(), &ChangeStatus::Pending);
    assert!(info.id().starts_with("/change/C"), "{}", info.id());

    let listed = s
        .client
        .list_resource_record_sets()
        .hosted_zone_id(&s.zone)
        .send()
        .await
        .unwrap();
    assert!(!listed.is_truncated());
    assert_eq!(listed.max_items(), 300);
    let sets: Vec<_> = listed.resource_record_sets().iter().map(from_sdk).collect();
    assert_eq!(sets, s.emulator.record_sets(&s.zone));
    assert_eq!(
        a_records(sets),
        [
            weighted("api", "10.0.0.1", "10.0.0.1", 5),
            simple("db", &["10.0.0.1", "10.0.0.2"]),
            multivalue("web", "10.0.0.1", "10.0.0.1"),
        ]
    );

    let change = s.client.get_change().id(info.id()).send().await.unwrap();
    assert_eq!(
        change.change_info().unwrap().status(),
        &ChangeStatus::Pending
    );
    s.emulator.set_insync_delay(Duration::ZERO);
    let change = s.client.get_change().id(info.id()).send().await.unwrap();
    assert_eq!(
        change.change_info().unwrap().status(),
        &ChangeStatus::Insync
    );
    let missing = s.client.get_change().id("CNOPE").send().await.unwrap_err();
    assert_eq!(missing.code(), Some("NoSuchChange"));
    assert_eq!(raw(&missing).0, 404);

    let withdrawn = s
        .client
        .change_resource_record_sets()
        .hosted_zone_id(&s.zone)
        .change_batch(sdk_batch(&[delete(multivalue(
            "web", "10.0.0.1", "10.0.0.1",
        ))]))
        .send()
        .await
        .unwrap();
    assert!(withdrawn.change_info().is_some());
    assert_eq!(a_records(s.emulator.record_sets(&s.zone)).len(), 2);

    let log = s.emulator.requests();
    assert_eq!(log[0].operation, Operation::ChangeResourceRecordSets);
    assert_eq!(log[0].zone_id.as_deref(), Some(s.zone.as_str()));
    assert_eq!(
        log[0].changes, batch,
        "the log holds the batch as it arrived over HTTP"
    );
}

/// moto never returns NextRecordIdentifier here; a client trusting IsTruncated then loops forever.
#[tokio::test]
async fn paging_through_more_than_300_record_sets_with_set_identifiers() {
    let s = setup();
    for name in ["a", "b", "c", "d"] {
        let batch: Vec<Change> = (0..90)
            .map(|i| create(multivalue(name, &format!("h{i:02}"), "10.0.0.1")))
            .collect();
        s.client
            .change_resource_record_sets()
            .hosted_zone_id(&s.zone)
            .change_batch(sdk_batch(&batch))
            .send()
            .await
            .unwrap();
    }
    let mut listed = Vec::new();
    let (mut name, mut rtype, mut identifier): (Option<String>, Option<RrType>, Option<String>) =
        (None, None, None);
    let mut pages = 0;
    loop {
        let page = s
            .client
            .list_resource_record_sets()
            .hosted_zone_id(&s.zone)
            .set_start_record_name(name.clone())
            .set_start_record_type(rtype.clone())
            .set_start_record_identifier(identifier.clone())
            .max_items(1000)
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.resource_record_sets().len() <= 300);
        listed.extend(page.resource_record_sets().iter().map(from_sdk));
        if !page.is_truncated() {
            assert!(page.next_record_name().is_none());
            break;
        }
        assert!(
            page.next_record_identifier().is_some(),
            "the next record set has a SetIdentifier"
        );
        name = page.next_record_name().map(String::from);
        rtype = page.next_record_type().cloned();
        identifier = page.next_record_identifier().map(String::from);
        assert!(pages < 10, "paging does not advance");
    }
    assert_eq!(pages, 2);
    assert_eq!(listed.len(), 362);
    assert_eq!(listed, s.emulator.record_sets(&s.zone));

    let from_c = s
        .client
        .list_resource_record_sets()
        .hosted_zone_id(&s.zone)
        .start_record_name("c.service.discovery.")
        .start_record_type(RrType::A)
        .max_items(2)
        .send()
        .await
        .unwrap();
    let ids: Vec<_> = from_c
        .resource_record_sets()
        .iter()
        .map(|r| r.set_identifier().unwrap())
        .collect();
    assert_eq!(ids, ["h00", "h01"]);
    assert_eq!(from_c.next_record_identifier(), Some("h02"));
    assert_eq!(from_c.max_items(), 2);

    let type_without_name = raw_request(
        &s.server.endpoint(),
        "GET",
        &format!("/2013-04-01/hostedzone/{}/rrset?type=A", s.zone),
        "",
    );
    assert!(
        type_without_name.starts_with("HTTP/1.1 400"),
        "{type_without_name}"
    );
    assert!(
        type_without_name.contains("<Code>InvalidInput</Code>"),
        "{type_without_name}"
    );
}

#[tokio::test]
async fn a_rejected_batch_is_invalid_change_batch_with_every_message() {
    let s = setup();
    s.emulator
        .apply_directly(&s.zone, &[create(multivalue("web", "h1", "10.0.0.1"))])
        .unwrap();
    let batch = [
        create(multivalue("web", "h1", "10.0.0.2")),
        create(multivalue("api", "h1", "10.0.0.300")),
    ];
    let error = s
        .client
        .change_resource_record_sets()
        .hosted_zone_id(&s.zone)
        .change_batch(sdk_batch(&batch))
        .send()
        .await
        .unwrap_err();
    assert!(error.as_service_error().unwrap().is_invalid_change_batch());
    assert_eq!(error.code(), Some("InvalidChangeBatch"));
    assert_eq!(
        error.message(),
        Some(
            "[Tried to create resource record set [name='web.service.discovery.', type='A', set-identifier='h1'] \
             but it already exists, Invalid Resource Record: FATAL problem: ARRDATAIllegalIPv4Address (Value is \
             not a valid IPv4 address) encountered with '10.0.0.300']"
        )
    );
    let (status, body) = raw(&error);
    assert_eq!(status, 400);
    assert!(body.contains("<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type>"), "{body}");
    assert!(body.contains("<RequestId>"), "{body}");
}

/// The weighted-TTL refusal as the SDK sees it: Route53's code and its bracketed list holding the one message,
/// which carries commas of its own.
#[tokio::test]
async fn a_weighted_ttl_mismatch_reaches_the_sdk_as_invalid_change_batch() {
    let s = setup();
    // Another owner's weighted record set at TTL 60.
    s.emulator
        .apply_directly(&s.zone, &[create(weighted("web", "other", "10.0.0.9", 60))])
        .unwrap();
    let before = s.emulator.record_sets(&s.zone);
    let error = s
        .client
        .change_resource_record_sets()
        .hosted_zone_id(&s.zone)
        .change_batch(sdk_batch(&[create(weighted("web", "h1", "10.0.0.1", 10))]))
        .send()
        .await
        .unwrap_err();
    assert!(error.as_service_error().unwrap().is_invalid_change_batch());
    assert_eq!(error.code(), Some("InvalidChangeBatch"));
    assert_eq!(raw(&error).0, 400);
    let list = error.message().expect("a message");
    let inner = list
        .strip_prefix('[')
        .and_then(|l| l.strip_suffix(']'))
        .unwrap_or_else(|| panic!("a bracketed list: {list}"));
    assert_eq!(
        inner,
        "RRSet with DNS name web.service.discovery. and type A, SetIdentifier h1 cannot be created as weighted \
         sets must contain the same TTL."
    );
    assert_eq!(s.emulator.record_sets(&s.zone), before);

    // The daemon's client splits the list where Route53 starts a new message, not at each comma.
    let daemon = SdkRoute53::new(sdk_client(&s.server.endpoint()));
    let refused = daemon
        .change_record_sets(
            &s.zone,
            &[
                create(weighted("web", "h1", "10.0.0.1", 10)),
                create(weighted("web", "other", "10.0.0.9", 60)),
            ],
        )
        .await;
    assert_eq!(
        refused,
        Err(Route53Error::InvalidChangeBatch(vec![
            "RRSet with DNS name web.service.discovery. and type A, SetIdentifier h1 cannot be created as \
             weighted sets must contain the same TTL."
                .into(),
            "Tried to create resource record set [name='web.service.discovery.', type='A', \
             set-identifier='other'] but it already exists"
                .into(),
        ]))
    );

    s.client
        .change_resource_record_sets()
        .hosted_zone_id(&s.zone)
        .change_batch(sdk_batch(&[create(weighted("web", "h1", "10.0.0.1", 60))]))
        .send()
        .await
        .expect("joining at the group's TTL is accepted");
    assert_eq!(a_records(s.emulator.record_sets(&s.zone)).len(), 2);
}

/// The SDK finds no `<Error>` in this shape: it reports an unhandled error with no code, and the daemon must go
/// by the status (400) and the body.
#[tokio::test]
async fn the_legacy_invalid_change_batch_shape_reaches_the_sdk_as_an_uncoded_400() {
    let s = setup();
    s.emulator.set_legacy_invalid_change_batch(true);
    let error = s
        .client
        .change_resource_record_sets()
        .hosted_zone_id(&s.zone)
        .change_batch(sdk_batch(&[delete(multivalue("web", "h1", "10.0.0.1"))]))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, SdkError::ServiceError(_)), "{error:?}");
    assert_eq!(error.code(), None);
    assert!(!error.as_service_error().unwrap().is_invalid_change_batch());
    let (status, body) = raw(&error);
    assert_eq!(status, 400);
    assert!(
        body.contains(
            "<InvalidChangeBatch xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Messages><Message>Tried \
             to delete resource record set [name='web.service.discovery.', type='A', set-identifier='h1'] but it \
             was not found</Message></Messages>"
        ),
        "{body}"
    );
    // Other errors keep the usual shape.
    let missing = s
        .client
        .get_hosted_zone()
        .id("ZNOPE")
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("NoSuchHostedZone"));
}

#[tokio::test]
async fn throttling_and_prior_request_not_complete_as_the_sdk_sees_them() {
    let s = setup();
    s.emulator
        .set_prior_request_window(Duration::from_secs(3600));
    let change = |label: &str| sdk_batch(&[create(multivalue(label, "h1", "10.0.0.1"))]);
    s.client
        .change_resource_record_sets()
        .hosted_zone_id(&s.zone)
        .change_batch(change("web"))
        .send()
        .await
        .unwrap();
    let prior = s
        .client
        .change_resource_record_sets()
        .hosted_zone_id(&s.zone)
        .change_batch(change("api"))
        .send()
        .await
        .unwrap_err();
    assert!(prior
        .as_service_error()
        .unwrap()
        .is_prior_request_not_complete());
    assert_eq!(raw(&prior).0, 400);

    s.emulator.set_throttle(Some(1.0));
    s.client.get_hosted_zone().id(&s.zone).send().await.unwrap();
    let throttled = s
        .client
        .get_hosted_zone()
        .id(&s.zone)
        .send()
        .await
        .unwrap_err();
    assert_throttling(&throttled);
}

/// The quota on the wire: buckets of the documented capacity (50) pass a burst of 50 and throttle the 51st
/// with Route53's error. Their refill is held at zero here, so that the answer does not depend on how fast
/// this machine sends; the refill of 10 per second is stepped on a fake clock in `quota.rs`'s tests.
#[tokio::test]
async fn buckets_of_the_documented_capacity_pass_a_burst_of_50_and_throttle_the_51st() {
    let s = setup();
    let no_refill = |limit: BucketLimit| BucketLimit {
        refill_per_second: 0.0,
        ..limit
    };
    let documented = Quota::documented();
    s.emulator.set_quota(Some(Quota {
        account: documented.account.map(no_refill),
        per_action: documented.per_action.map(no_refill),
        ..documented
    }));
    burst_of_50(&s).await;
    let throttled = s
        .client
        .get_hosted_zone()
        .id(&s.zone)
        .send()
        .await
        .expect_err("the 51st finds no token");
    assert_throttling(&throttled);
    let statuses: Vec<u16> = s.emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses.len(), 51);
    assert_eq!(statuses.iter().filter(|&&status| status == 200).count(), 50);
    assert_eq!(statuses.last(), Some(&400));
}

/// 50 GetHostedZone at once, each of which must pass.
async fn burst_of_50(s: &Setup) {
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let request = s.client.get_hosted_zone().id(&s.zone);
        burst.spawn(async move { request.send().await });
    }
    while let Some(answer) = burst.join_next().await {
        answer
            .unwrap()
            .expect("each of the 50 finds a token, however long the burst took");
    }
}

#[tokio::test]
async fn server_errors_resets_and_stalls_on_the_wire() {
    let s = setup();
    let change = sdk_batch(&[create(multivalue("web", "h1", "10.0.0.1"))]);

    for (status, code) in [(503, "ServiceUnavailable"), (500, "InternalFailure")] {
        s.emulator.fail_next(1, Fault::Status(status));
        let error = s
            .client
            .get_hosted_zone()
            .id(&s.zone)
            .send()
            .await
            .unwrap_err();
        assert_eq!(raw(&error).0, status);
        assert_eq!(error.code(), Some(code));
    }

    s.emulator.fail_next(1, Fault::Reset);
    let reset = s
        .client
        .change_resource_record_sets()
        .hosted_zone_id(&s.zone)
        .change_batch(change.clone())
        .send()
        .await
        .unwrap_err();
    assert!(
        reset.raw_response().is_none(),
        "no answer at all: {reset:?}"
    );
    assert!(
        matches!(
            reset,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        ),
        "{reset:?}"
    );
    assert!(a_records(s.emulator.record_sets(&s.zone)).is_empty());

    s.emulator.fail_next(1, Fault::Reset);
    let path = format!("/2013-04-01/hostedzone/{}", s.zone);
    assert_eq!(
        raw_request(&s.server.endpoint(), "GET", &path, ""),
        "",
        "the connection closes without a byte"
    );

    // A client that gives up on a stalled request still finds its change applied later.
    s.emulator
        .fail_next(1, Fault::Stall(Duration::from_millis(500)));
    let impatient = sdk_client_with_timeout(&s.server.endpoint(), Some(Duration::from_millis(100)));
    let timed_out = impatient
        .change_resource_record_sets()
        .hosted_zone_id(&s.zone)
        .change_batch(change)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(timed_out, SdkError::TimeoutError(_)),
        "{timed_out:?}"
    );
    let emulator = s.emulator.clone();
    let zone = s.zone.clone();
    wait_until(Duration::from_secs(5), "the stalled change", || {
        a_records(emulator.record_sets(&zone)).len() == 1
    })
    .await;

    let statuses: Vec<u16> = s.emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 500, 0, 0, 200]);
}

#[tokio::test]
async fn the_change_path_is_served_with_and_without_the_trailing_slash() {
    let s = setup();
    let body = |label: &str| {
        format!(
            "<ChangeResourceRecordSetsRequest xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><ChangeBatch>\
             <Changes><Change><Action>CREATE</Action><ResourceRecordSet><Name>{label}.service.discovery</Name>\
             <Type>A</Type><TTL>10</TTL><ResourceRecords><ResourceRecord><Value>10.0.0.1</Value></ResourceRecord>\
             </ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"
        )
    };
    let with = raw_request(
        &s.server.endpoint(),
        "POST",
        &format!("/2013-04-01/hostedzone/{}/rrset/", s.zone),
        &body("a"),
    );
    assert!(with.starts_with("HTTP/1.1 200"), "{with}");
    assert!(with.contains("<ChangeResourceRecordSetsResponse"), "{with}");
    let without = raw_request(
        &s.server.endpoint(),
        "POST",
        &format!("/2013-04-01/hostedzone/{}/rrset", s.zone),
        &body("b"),
    );
    assert!(without.starts_with("HTTP/1.1 200"), "{without}");
    let garbled = raw_request(
        &s.server.endpoint(),
        "POST",
        &format!("/2013-04-01/hostedzone/{}/rrset/", s.zone),
        "<nope",
    );
    assert!(
        garbled.starts_with("HTTP/1.1 400") && garbled.contains("<Code>InvalidInput</Code>"),
        "{garbled}"
    );
    assert_eq!(a_records(s.emulator.record_sets(&s.zone)).len(), 2);
}

#[tokio::test]
async fn the_unofficial_records_page_lists_every_zone() {
    let s = setup();
    s.emulator
        .apply_directly(
            &s.zone,
            &[
                create(multivalue("web", "h1", "10.0.0.1")),
                create(weighted("api", "h1", "10.0.0.2", 5)),
            ],
        )
        .unwrap();
    let page = raw_request(&s.server.endpoint(), "GET", "/_emulator/records", "");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.contains(&format!(
            "{} web.service.discovery. A id=h1 multivalue ttl=10 10.0.0.1\n",
            s.zone
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "{} api.service.discovery. A id=h1 weight=50 ttl=5 10.0.0.2\n",
            s.zone
        )),
        "{page}"
    );
    assert!(
        s.emulator.requests().is_empty(),
        "the records page is not a Route53 request"
    );
}

#[test]
fn the_server_stops_when_its_handle_is_dropped() {
    let server = spawn_server(Emulator::new(), 0).unwrap();
    let address = server.endpoint().trim_start_matches("http://").to_string();
    assert!(TcpStream::connect(&address).is_ok());
    drop(server);
    assert!(
        TcpStream::connect(&address).is_err(),
        "nothing listens once the handle is gone"
    );
}
