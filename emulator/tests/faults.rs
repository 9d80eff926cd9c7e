//! Faults on command and the request log, in-process (the HTTP side is in `http.rs`).

mod common;

use std::time::{Duration, Instant};

use common::*;
use route53_emulator::{BucketLimit, ChangeUnit, Emulator, Fault, Operation, Quota};
use route53_registrator::route53::{RecordSet, Route53Api, Route53Error};

fn zone() -> (Emulator, String) {
    let emulator = Emulator::new();
    let zone = emulator.create_zone("service.discovery", true);
    (emulator, zone.id)
}

#[tokio::test]
async fn the_throttle_is_account_wide_and_answers_throttling() {
    let (emulator, zone) = zone();
    let other = emulator.create_zone("other.discovery", true).id;
    emulator.set_throttle(Some(2.0));
    emulator.get_hosted_zone(&zone).await.unwrap();
    emulator.list_record_sets(&other, None, None).await.unwrap();
    let throttled = emulator
        .change_record_sets(&zone, &[create(multivalue("web", "h1", "10.0.0.1"))])
        .await;
    assert_eq!(
        throttled,
        Err(Route53Error::Throttling("Rate exceeded".into()))
    );
    assert!(
        a_records(emulator.record_sets(&zone)).is_empty(),
        "a throttled change is not applied"
    );
    let statuses: Vec<u16> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 400]);

    emulator.set_throttle(None);
    emulator
        .change_record_sets(&zone, &[create(multivalue("web", "h1", "10.0.0.1"))])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_change_within_the_window_of_the_previous_one_is_prior_request_not_complete() {
    let (emulator, zone) = zone();
    let other = emulator.create_zone("other.discovery", true).id;
    emulator.set_prior_request_window(Duration::from_secs(3600));

    emulator
        .change_record_sets(&zone, &[create(multivalue("web", "h1", "10.0.0.1"))])
        .await
        .unwrap();
    let second = emulator
        .change_record_sets(&zone, &[create(multivalue("api", "h1", "10.0.0.1"))])
        .await;
    assert!(
        matches!(second, Err(Route53Error::PriorRequestNotComplete(ref m))
        if m == "The request was rejected because Route 53 was still processing a prior request.")
    );
    assert_eq!(
        a_records(emulator.record_sets(&zone)).len(),
        1,
        "the refused change is not applied"
    );

    // Reads, and changes to another zone, are not held up.
    emulator.list_record_sets(&zone, None, None).await.unwrap();
    let other_set = RecordSet::a("web.other.discovery.", "10.0.0.1").multivalue("h1");
    emulator
        .change_record_sets(&other, &[create(other_set)])
        .await
        .unwrap();

    emulator.set_prior_request_window(Duration::ZERO);
    emulator
        .change_record_sets(&zone, &[create(multivalue("api", "h1", "10.0.0.1"))])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_rejected_batch_does_not_start_the_window() {
    let (emulator, zone) = zone();
    emulator.set_prior_request_window(Duration::from_secs(3600));
    let bad = emulator
        .change_record_sets(&zone, &[delete(multivalue("web", "h1", "10.0.0.1"))])
        .await;
    assert!(matches!(bad, Err(Route53Error::InvalidChangeBatch(_))));
    emulator
        .change_record_sets(&zone, &[create(multivalue("web", "h1", "10.0.0.1"))])
        .await
        .unwrap();
}

#[tokio::test]
async fn queued_faults_hit_the_next_requests_in_order() {
    let (emulator, zone) = zone();
    emulator.fail_next(1, Fault::Status(503));
    emulator.fail_next(1, Fault::Status(500));
    emulator.fail_next(1, Fault::Reset);
    let change = [create(multivalue("web", "h1", "10.0.0.1"))];

    assert!(matches!(
        emulator.change_record_sets(&zone, &change).await,
        Err(Route53Error::Server { status: 503, .. })
    ));
    assert!(matches!(
        emulator.get_hosted_zone(&zone).await,
        Err(Route53Error::Server { status: 500, .. })
    ));
    assert!(matches!(
        emulator.change_record_sets(&zone, &change).await,
        Err(Route53Error::Transport(_))
    ));
    assert!(
        a_records(emulator.record_sets(&zone)).is_empty(),
        "failed requests change nothing"
    );

    emulator.change_record_sets(&zone, &change).await.unwrap();
    let statuses: Vec<u16> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [503, 500, 0, 200],
        "a reset is logged with status 0"
    );
}

/// What a soak calls between its storms: every Route53 fault switched off at once, whatever was queued.
#[tokio::test]
async fn clear_faults_switches_every_route53_fault_off() {
    let (emulator, zone) = zone();
    emulator.fail_next(5, Fault::Status(503));
    emulator.set_throttle(Some(0.001));
    emulator.set_quota(Some(Quota {
        account: Some(BucketLimit::new(1.0, 0.0)),
        ..Quota::default()
    }));
    emulator.set_prior_request_window(Duration::from_secs(3600));
    emulator.clear_faults();

    for name in ["web", "api", "db"] {
        emulator
            .change_record_sets(&zone, &[create(multivalue(name, "h1", "10.0.0.1"))])
            .await
            .expect("no queued fault, no throttle, no window");
    }
    assert_eq!(a_records(emulator.record_sets(&zone)).len(), 3);
    assert_eq!(emulator.quota(), None);
}

#[tokio::test]
async fn a_batch_beyond_the_change_quota_is_throttled_logged_and_not_applied() {
    let (emulator, zone) = zone();
    let quota =
        Quota::documented().with_change_throughput(BucketLimit::new(4.0, 0.0), ChangeUnit::Value);
    emulator.set_quota(Some(quota));
    emulator.set_throttle(None);

    let large = [create(simple(
        "big",
        &["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"],
    ))];
    assert_eq!(
        emulator.change_record_sets(&zone, &large).await,
        Err(Route53Error::Throttling("Rate exceeded".into())),
        "5 values, 4 in the bucket (lifting the old model left the quota)"
    );
    let small = [create(simple("small", &["10.0.0.1", "10.0.0.2"]))];
    emulator.change_record_sets(&zone, &small).await.unwrap();
    emulator
        .change_record_sets(&zone, &[create(simple("more", &["10.0.0.3", "10.0.0.4"]))])
        .await
        .unwrap();

    let names: Vec<String> = a_records(emulator.record_sets(&zone))
        .into_iter()
        .map(|set| set.name)
        .collect();
    assert_eq!(
        names,
        ["more.service.discovery.", "small.service.discovery."]
    );
    let log: Vec<(u16, usize)> = emulator
        .requests()
        .iter()
        .map(|r| (r.status, r.changes.len()))
        .collect();
    assert_eq!(
        log,
        [(400, 1), (200, 1), (200, 1)],
        "the throttled batch is logged as sent"
    );
}

#[tokio::test]
async fn a_stalled_request_is_answered_late_and_applied() {
    let (emulator, zone) = zone();
    emulator.fail_next(1, Fault::Stall(Duration::from_millis(200)));
    let started = Instant::now();
    emulator
        .change_record_sets(&zone, &[create(multivalue("web", "h1", "10.0.0.1"))])
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(a_records(emulator.record_sets(&zone)).len(), 1);
    let started = Instant::now();
    emulator.get_hosted_zone(&zone).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "only the next request stalls"
    );
}

#[tokio::test]
async fn a_change_is_pending_until_the_insync_delay_passed() {
    let (emulator, zone) = zone();
    emulator.set_insync_delay(Duration::from_secs(3600));
    let info = emulator
        .change_record_sets(&zone, &[create(multivalue("web", "h1", "10.0.0.1"))])
        .await
        .unwrap();
    assert_eq!(info.status, "PENDING");
    assert_eq!(
        emulator.get_change(&info.id).await.unwrap().status,
        "PENDING"
    );
    assert_eq!(
        emulator
            .get_change(&format!("/change/{}", info.id))
            .await
            .unwrap()
            .status,
        "PENDING"
    );
    emulator.set_insync_delay(Duration::ZERO);
    assert_eq!(
        emulator.get_change(&info.id).await.unwrap().status,
        "INSYNC"
    );

    emulator.set_insync_delay(Duration::from_millis(100));
    let info = emulator
        .change_record_sets(&zone, &[create(multivalue("api", "h1", "10.0.0.1"))])
        .await
        .unwrap();
    assert_eq!(
        info.status, "PENDING",
        "a change answers PENDING, as Route53 does"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while emulator.get_change(&info.id).await.unwrap().status != "INSYNC" {
        assert!(
            Instant::now() < deadline,
            "still PENDING long after the delay"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        matches!(emulator.get_change("CNOPE").await, Err(Route53Error::Other { code, .. }) if code == "NoSuchChange")
    );
}

#[tokio::test]
async fn the_log_holds_every_request_in_order() {
    let (emulator, zone) = zone();
    let batch = [
        create(multivalue("web", "h1", "10.0.0.1")),
        create(multivalue("api", "h1", "10.0.0.1")),
    ];
    emulator.get_hosted_zone(&zone).await.unwrap();
    emulator.change_record_sets(&zone, &batch).await.unwrap();
    emulator
        .change_record_sets(&zone, &batch)
        .await
        .unwrap_err();
    emulator.list_record_sets(&zone, None, None).await.unwrap();
    emulator.get_hosted_zone("ZNOPE").await.unwrap_err();

    let log = emulator.requests();
    let summary: Vec<(Operation, Option<&str>, usize, u16)> = log
        .iter()
        .map(|r| (r.operation, r.zone_id.as_deref(), r.changes.len(), r.status))
        .collect();
    assert_eq!(
        summary,
        [
            (Operation::GetHostedZone, Some(zone.as_str()), 0, 200),
            (
                Operation::ChangeResourceRecordSets,
                Some(zone.as_str()),
                2,
                200
            ),
            (
                Operation::ChangeResourceRecordSets,
                Some(zone.as_str()),
                2,
                400
            ),
            (
                Operation::ListResourceRecordSets,
                Some(zone.as_str()),
                0,
                200
            ),
            (Operation::GetHostedZone, Some("ZNOPE"), 0, 404),
        ]
    );
    assert_eq!(log[1].changes, batch);
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));

    emulator.clear_requests();
    assert!(emulator.requests().is_empty());
    emulator.create_zone("third.discovery", false);
    assert!(emulator.requests().is_empty(), "set-up is not a request");
}

#[tokio::test]
async fn clones_share_one_account() {
    let (emulator, zone) = zone();
    let clone = emulator.clone();
    clone.set_throttle(Some(1.0));
    emulator.get_hosted_zone(&zone).await.unwrap();
    assert!(matches!(
        clone.get_hosted_zone(&zone).await,
        Err(Route53Error::Throttling(_))
    ));
    assert_eq!(emulator.requests().len(), 2);
}
