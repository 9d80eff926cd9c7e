//! Route53's rules, in-process through the daemon's `Route53Api` trait and the `Emulator`'s own methods. Each test
//! names the looser behaviour (moto 5.2.5's, or a naive emulator's) that it would catch.

mod common;

use common::*;
use route53_emulator::Emulator;
use route53_registrator::route53::{Change, RecordPosition, RecordSet, Route53Api, Route53Error};

fn zone() -> (Emulator, String) {
    let emulator = Emulator::new();
    let zone = emulator.create_zone("service.discovery", true);
    (emulator, zone.id)
}

/// The messages of a rejected batch, or a panic naming what came instead.
fn rejected(result: Result<impl std::fmt::Debug, Route53Error>) -> Vec<String> {
    match result {
        Err(Route53Error::InvalidChangeBatch(messages)) => messages,
        other => panic!("expected InvalidChangeBatch, got {other:?}"),
    }
}

#[tokio::test]
async fn a_new_zone_is_lower_case_with_the_dot_and_holds_only_soa_and_ns() {
    let emulator = Emulator::new();
    let zone = emulator.create_zone("Service.Discovery", true);
    assert_eq!(zone.name, "service.discovery.");
    assert!(zone.private);
    let got = emulator.get_hosted_zone(&zone.id).await.unwrap();
    assert_eq!(got, zone);
    let via_prefix = emulator
        .get_hosted_zone(&format!("/hostedzone/{}", zone.id))
        .await
        .unwrap();
    assert_eq!(via_prefix, zone);
    let sets = emulator.record_sets(&zone.id);
    let kinds: Vec<_> = sets
        .iter()
        .map(|s| (s.name.as_str(), s.rtype.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [("service.discovery.", "NS"), ("service.discovery.", "SOA")]
    );
}

#[tokio::test]
async fn an_unknown_zone_is_no_such_hosted_zone() {
    let emulator = Emulator::new();
    assert!(matches!(
        emulator.get_hosted_zone("ZNOPE").await,
        Err(Route53Error::NoSuchHostedZone(_))
    ));
    assert!(matches!(
        emulator.list_record_sets("ZNOPE", None, None).await,
        Err(Route53Error::NoSuchHostedZone(_))
    ));
    assert!(matches!(
        emulator
            .change_record_sets("ZNOPE", &[create(simple("web", &["10.0.0.1"]))])
            .await,
        Err(Route53Error::NoSuchHostedZone(_))
    ));
    assert!(emulator.record_sets("ZNOPE").is_empty());
}

/// moto: "a CREATE of an existing name and type with other values or TTL succeeds and leaves two record sets".
#[tokio::test]
async fn create_of_an_existing_record_set_fails_and_changes_nothing() {
    let (emulator, zone) = zone();
    emulator
        .change_record_sets(&zone, &[create(multivalue("web", "h1", "10.0.0.1"))])
        .await
        .unwrap();

    let mut other = multivalue("web", "h1", "10.0.0.2");
    other.ttl = 60;
    let messages = rejected(emulator.change_record_sets(&zone, &[create(other)]).await);
    assert_eq!(
        messages,
        ["Tried to create resource record set [name='web.service.discovery.', type='A', set-identifier='h1'] \
          but it already exists"]
    );
    let plain = simple("api", &["10.0.0.1"]);
    emulator
        .change_record_sets(&zone, &[create(plain.clone())])
        .await
        .unwrap();
    let messages = rejected(emulator.change_record_sets(&zone, &[create(plain)]).await);
    assert_eq!(
        messages,
        ["Tried to create resource record set [name='api.service.discovery.', type='A'] but it already exists"]
    );
    assert_eq!(
        a_records(emulator.record_sets(&zone)),
        [
            simple("api", &["10.0.0.1"]),
            multivalue("web", "h1", "10.0.0.1")
        ]
    );
}

/// moto: "a DELETE is checked against every value ever written, not the current record set".
#[tokio::test]
async fn delete_must_name_the_current_record_set_exactly() {
    let (emulator, zone) = zone();
    let current = multivalue("web", "h1", "10.0.0.1");
    emulator
        .change_record_sets(&zone, &[create(current.clone())])
        .await
        .unwrap();

    let mismatch = "Tried to delete resource record set [name='web.service.discovery.', type='A', \
                    set-identifier='h1'] but the values provided do not match the current values";
    let mut wrong_ttl = current.clone();
    wrong_ttl.ttl = 11;
    let mut wrong_value = current.clone();
    wrong_value.values = vec!["10.0.0.2".into()];
    let mut wrong_routing = current.clone();
    wrong_routing.multivalue_answer = None;
    wrong_routing.weight = Some(50);
    let mut no_flag = current.clone();
    no_flag.multivalue_answer = None;
    for wrong in [wrong_ttl, wrong_value, wrong_routing, no_flag] {
        let messages = rejected(
            emulator
                .change_record_sets(&zone, &[delete(wrong.clone())])
                .await,
        );
        assert_eq!(messages, [mismatch], "deleting {wrong:?}");
    }

    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[delete(multivalue("web", "h2", "10.0.0.1"))])
            .await,
    );
    assert_eq!(
        messages,
        ["Tried to delete resource record set [name='web.service.discovery.', type='A', set-identifier='h2'] \
          but it was not found"]
    );
    assert_eq!(
        a_records(emulator.record_sets(&zone)),
        std::slice::from_ref(&current)
    );

    emulator
        .change_record_sets(&zone, &[delete(current)])
        .await
        .unwrap();
    assert!(a_records(emulator.record_sets(&zone)).is_empty());
}

/// A plain record set's values may come in any order in the DELETE; only their set counts.
#[tokio::test]
async fn delete_matches_values_in_any_order() {
    let (emulator, zone) = zone();
    emulator
        .change_record_sets(&zone, &[create(simple("web", &["10.0.0.1", "10.0.0.2"]))])
        .await
        .unwrap();
    emulator
        .change_record_sets(&zone, &[delete(simple("web", &["10.0.0.2", "10.0.0.1"]))])
        .await
        .unwrap();
    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[delete(simple("web", &["10.0.0.1"]))])
            .await,
    );
    assert!(
        messages[0].ends_with("but it was not found"),
        "{messages:?}"
    );
}

/// moto: "a DELETE of a record set that has a SetIdentifier removes that identifier's record sets under every name".
#[tokio::test]
async fn delete_with_a_set_identifier_removes_only_that_record_set() {
    let (emulator, zone) = zone();
    let sets = [
        multivalue("api", "h1", "10.0.0.1"),
        multivalue("db", "h1", "10.0.0.1"),
        multivalue("web", "h1", "10.0.0.1"),
        multivalue("web", "h2", "10.0.0.2"),
    ];
    let creates: Vec<Change> = sets.iter().cloned().map(create).collect();
    emulator.change_record_sets(&zone, &creates).await.unwrap();
    emulator
        .change_record_sets(&zone, &[delete(sets[2].clone())])
        .await
        .unwrap();
    assert_eq!(
        a_records(emulator.record_sets(&zone)),
        [sets[0].clone(), sets[1].clone(), sets[3].clone()]
    );
}

/// moto: "batches are not atomic".
#[tokio::test]
async fn a_batch_is_atomic_and_reports_every_broken_change() {
    let (emulator, zone) = zone();
    let batch = [
        create(multivalue("web", "h1", "10.0.0.1")),
        create(multivalue("api", "h1", "10.0.0.300")),
        create(multivalue("db", "h1", "10.0.0.1")),
        create(RecordSet::a("web.elsewhere.", "10.0.0.1").multivalue("h1")),
    ];
    let messages = rejected(emulator.change_record_sets(&zone, &batch).await);
    assert_eq!(
        messages,
        [
            "Invalid Resource Record: FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) \
             encountered with '10.0.0.300'",
            "RRSet with DNS name web.elsewhere. is not permitted in zone service.discovery.",
        ]
    );
    assert!(
        a_records(emulator.record_sets(&zone)).is_empty(),
        "nothing of a rejected batch is applied"
    );
}

/// Compare-and-swap: DELETE the record set as last read and CREATE its successor in one batch.
#[tokio::test]
async fn a_batch_applies_in_order_so_delete_then_create_of_one_record_set_works() {
    let (emulator, zone) = zone();
    let old = simple("web", &["10.0.0.1"]);
    let new = simple("web", &["10.0.0.1", "10.0.0.2"]);
    emulator
        .change_record_sets(&zone, &[create(old.clone())])
        .await
        .unwrap();

    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[create(new.clone()), delete(old.clone())])
            .await,
    );
    assert!(
        messages[0].ends_with("but it already exists"),
        "CREATE before DELETE: {messages:?}"
    );

    emulator
        .change_record_sets(&zone, &[delete(old.clone()), create(new.clone())])
        .await
        .unwrap();
    assert_eq!(
        a_records(emulator.record_sets(&zone)),
        std::slice::from_ref(&new)
    );

    // A stale DELETE (another instance changed the record set since) fails as a whole.
    let newer = simple("web", &["10.0.0.3"]);
    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[delete(old), create(newer)])
            .await,
    );
    assert!(
        messages[0].ends_with("do not match the current values"),
        "{messages:?}"
    );
    assert_eq!(a_records(emulator.record_sets(&zone)), [new]);
}

#[tokio::test]
async fn deleting_the_same_record_set_twice_in_one_batch_fails() {
    let (emulator, zone) = zone();
    let set = multivalue("web", "h1", "10.0.0.1");
    emulator
        .change_record_sets(&zone, &[create(set.clone())])
        .await
        .unwrap();
    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[delete(set.clone()), delete(set.clone())])
            .await,
    );
    assert!(
        messages[0].ends_with("but it was not found"),
        "{messages:?}"
    );
    assert_eq!(a_records(emulator.record_sets(&zone)), [set]);
}

fn creates_of_one_value(count: usize) -> Vec<Change> {
    (0..count)
        .map(|i| create(multivalue(&format!("n{i}"), "h1", "10.0.0.1")))
        .collect()
}

#[tokio::test]
async fn a_batch_holds_at_most_1000_values_and_upsert_counts_twice() {
    let (emulator, zone) = zone();
    let messages = rejected(
        emulator
            .change_record_sets(&zone, &creates_of_one_value(1001))
            .await,
    );
    assert_eq!(messages, ["Number of records limit of 1000 exceeded."]);
    assert!(a_records(emulator.record_sets(&zone)).is_empty());

    let upserts: Vec<Change> = (0..501)
        .map(|i| upsert(multivalue(&format!("u{i}"), "h1", "10.0.0.1")))
        .collect();
    let messages = rejected(emulator.change_record_sets(&zone, &upserts).await);
    assert_eq!(
        messages,
        ["Number of records limit of 1000 exceeded."],
        "501 UPSERTs count as 1002"
    );

    emulator
        .change_record_sets(&zone, &upserts[..500])
        .await
        .unwrap();
    emulator
        .change_record_sets(&zone, &creates_of_one_value(1000))
        .await
        .unwrap();
    assert_eq!(a_records(emulator.record_sets(&zone)).len(), 1500);
}

/// 200 quoted TXT values of 160 characters: exactly 32,000.
fn txt_of(label: &str, values: usize, len: usize) -> RecordSet {
    RecordSet {
        name: format!("{label}.{ZONE}"),
        rtype: "TXT".into(),
        set_identifier: None,
        weight: None,
        multivalue_answer: None,
        ttl: 10,
        values: (0..values)
            .map(|i| format!("\"{:0>width$}\"", i, width = len - 2))
            .collect(),
    }
}

#[tokio::test]
async fn a_batch_holds_at_most_32000_characters_of_values_and_upsert_counts_twice() {
    let (emulator, zone) = zone();
    let exactly = txt_of("big", 200, 160);
    assert_eq!(
        exactly.values.iter().map(String::len).sum::<usize>(),
        32_000
    );
    let one_more = create(txt_of("tiny", 1, 3));

    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[create(exactly.clone()), one_more])
            .await,
    );
    assert_eq!(messages, ["RDATA character limit of 32000 exceeded."]);

    let half = txt_of("half", 100, 160);
    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[upsert(half.clone()), create(txt_of("tiny", 1, 3))])
            .await,
    );
    assert_eq!(
        messages,
        ["RDATA character limit of 32000 exceeded."],
        "an UPSERT of 16,000 counts 32,000"
    );

    emulator
        .change_record_sets(&zone, &[create(exactly)])
        .await
        .unwrap();
    emulator
        .change_record_sets(&zone, &[upsert(half)])
        .await
        .unwrap();
}

/// moto: "routing policies may be mixed".
#[tokio::test]
async fn one_routing_policy_per_name_and_type() {
    let (emulator, zone) = zone();
    emulator
        .change_record_sets(&zone, &[create(simple("plain", &["10.0.0.1"]))])
        .await
        .unwrap();
    emulator
        .change_record_sets(&zone, &[create(multivalue("multi", "h1", "10.0.0.1"))])
        .await
        .unwrap();
    emulator
        .change_record_sets(&zone, &[create(weighted("heavy", "h1", "10.0.0.1", 10))])
        .await
        .unwrap();

    let cases = [
        (
            multivalue("plain", "h2", "10.0.0.2"),
            "RRSet with DNS name plain.service.discovery., type A, SetIdentifier h2 cannot be created because a \
             non multivalue answer rrset exists with the same name and type.",
        ),
        (
            simple("multi", &["10.0.0.2"]),
            "RRSet with DNS name multi.service.discovery., type A cannot be created as other RRSets exist with the \
             same name and type.",
        ),
        (
            weighted("multi", "h2", "10.0.0.2", 10),
            "RRSet with DNS name multi.service.discovery., type A, SetIdentifier h2 cannot be created because a \
             non weighted rrset exists with the same name and type.",
        ),
        (
            multivalue("heavy", "h2", "10.0.0.2"),
            "RRSet with DNS name heavy.service.discovery., type A, SetIdentifier h2 cannot be created because a \
             non multivalue answer rrset exists with the same name and type.",
        ),
    ];
    for (set, message) in cases {
        assert_eq!(
            rejected(
                emulator
                    .change_record_sets(&zone, &[create(set.clone())])
                    .await
            ),
            [message]
        );
        assert_eq!(
            rejected(emulator.change_record_sets(&zone, &[upsert(set)]).await),
            [message]
        );
    }
    // Another type under the same name is another group.
    let txt = RecordSet {
        rtype: "TXT".into(),
        values: vec!["\"x\"".into()],
        ..simple("multi", &[])
    };
    emulator
        .change_record_sets(&zone, &[create(txt)])
        .await
        .unwrap();
    // Replacing the only record set of a name by another policy is fine in one batch.
    emulator
        .change_record_sets(
            &zone,
            &[
                delete(simple("plain", &["10.0.0.1"])),
                create(multivalue("plain", "h1", "10.0.0.1")),
            ],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn at_most_100_multivalue_or_weighted_record_sets_per_name_and_type() {
    let (emulator, zone) = zone();
    let hundred: Vec<Change> = (0..100)
        .map(|i| create(multivalue("web", &format!("h{i:03}"), "10.0.0.1")))
        .collect();
    emulator.change_record_sets(&zone, &hundred).await.unwrap();
    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[create(multivalue("web", "h100", "10.0.0.1"))])
            .await,
    );
    assert_eq!(
        messages,
        ["Exceeded limit on number of multivalue answer RRSets for web.service.discovery., type A in this zone."]
    );
    // A DELETE in the same batch makes room.
    emulator
        .change_record_sets(
            &zone,
            &[
                delete(multivalue("web", "h000", "10.0.0.1")),
                create(multivalue("web", "h100", "10.0.0.1")),
            ],
        )
        .await
        .unwrap();

    let hundred: Vec<Change> = (0..100)
        .map(|i| create(weighted("api", &format!("h{i:03}"), "10.0.0.1", 5)))
        .collect();
    emulator.change_record_sets(&zone, &hundred).await.unwrap();
    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[create(weighted("api", "h100", "10.0.0.1", 5))])
            .await,
    );
    assert_eq!(messages, ["Exceeded limit on number of weighted RRSets for api.service.discovery., type A in this zone."]);
}

/// Route53's API refuses a weighted record set whose TTL differs from the rest of its group. A looser emulator
/// (moto among them) accepts any TTL; this one used to rewrite the whole group to the TTL written last, as the
/// console does.
#[tokio::test]
async fn a_weighted_record_set_with_another_ttl_than_its_group_is_refused() {
    let (emulator, zone) = zone();
    let refusal = |id: &str| {
        format!(
            "RRSet with DNS name web.service.discovery. and type A, SetIdentifier {id} cannot be created as \
             weighted sets must contain the same TTL."
        )
    };
    emulator
        .change_record_sets(
            &zone,
            &[
                create(weighted("web", "h1", "10.0.0.1", 10)),
                create(weighted("web", "h2", "10.0.0.2", 10)),
            ],
        )
        .await
        .unwrap();
    let before = emulator.record_sets(&zone);

    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[create(weighted("web", "h3", "10.0.0.3", 60))])
            .await,
    );
    assert_eq!(messages, [refusal("h3")]);
    // An UPSERT of one member of several is refused too: h2 keeps the group at 10.
    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[upsert(weighted("web", "h1", "10.0.0.1", 60))])
            .await,
    );
    assert_eq!(messages, [refusal("h1")]);
    // The batch is atomic: the good change beside the refused one is not applied either.
    let messages = rejected(
        emulator
            .change_record_sets(
                &zone,
                &[
                    create(weighted("web", "h3", "10.0.0.3", 10)),
                    create(weighted("web", "h4", "10.0.0.4", 60)),
                ],
            )
            .await,
    );
    assert_eq!(messages, [refusal("h4")]);
    // A CREATE before the DELETEs that would empty the group is checked against the group as it still is.
    let messages = rejected(
        emulator
            .change_record_sets(
                &zone,
                &[
                    create(weighted("web", "h3", "10.0.0.3", 60)),
                    delete(weighted("web", "h1", "10.0.0.1", 10)),
                    delete(weighted("web", "h2", "10.0.0.2", 10)),
                ],
            )
            .await,
    );
    assert_eq!(messages, [refusal("h3")]);
    assert_eq!(emulator.record_sets(&zone), before, "nothing was applied");

    // Joining at the group's TTL is accepted.
    emulator
        .change_record_sets(&zone, &[create(weighted("web", "h3", "10.0.0.3", 10))])
        .await
        .unwrap();
    let ttls: Vec<i64> = a_records(emulator.record_sets(&zone))
        .iter()
        .map(|s| s.ttl)
        .collect();
    assert_eq!(ttls, [10, 10, 10]);

    // Other names and types are other groups; multivalue record sets keep their own TTLs.
    emulator
        .change_record_sets(&zone, &[create(weighted("api", "h1", "10.0.0.1", 60))])
        .await
        .unwrap();
    let mut slow = multivalue("db", "h2", "10.0.0.2");
    slow.ttl = 300;
    emulator
        .change_record_sets(
            &zone,
            &[create(multivalue("db", "h1", "10.0.0.1")), create(slow)],
        )
        .await
        .unwrap();
    let others: Vec<(String, i64)> = a_records(emulator.record_sets(&zone))
        .iter()
        .filter(|s| !s.name.starts_with("web."))
        .map(|s| (s.name.clone(), s.ttl))
        .collect();
    assert_eq!(
        others,
        [
            ("api.service.discovery.".to_string(), 60),
            ("db.service.discovery.".to_string(), 10),
            ("db.service.discovery.".to_string(), 300),
        ]
    );
}

/// The ways to a new TTL that Route53 accepts: one batch that deletes every member and creates them again, and an
/// UPSERT of a group's only member (the record set it replaces does not count).
#[tokio::test]
async fn a_weighted_group_moves_to_a_new_ttl_as_a_whole() {
    let (emulator, zone) = zone();
    emulator
        .change_record_sets(
            &zone,
            &[
                create(weighted("web", "h1", "10.0.0.1", 10)),
                create(weighted("web", "h2", "10.0.0.2", 10)),
            ],
        )
        .await
        .unwrap();
    emulator
        .change_record_sets(
            &zone,
            &[
                delete(weighted("web", "h1", "10.0.0.1", 10)),
                delete(weighted("web", "h2", "10.0.0.2", 10)),
                create(weighted("web", "h1", "10.0.0.1", 60)),
                create(weighted("web", "h2", "10.0.0.2", 60)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        a_records(emulator.record_sets(&zone)),
        [
            weighted("web", "h1", "10.0.0.1", 60),
            weighted("web", "h2", "10.0.0.2", 60)
        ]
    );

    // Once h1 is gone, h2 is the only member and an UPSERT may change its TTL, in the same batch or later.
    emulator
        .change_record_sets(
            &zone,
            &[
                delete(weighted("web", "h1", "10.0.0.1", 60)),
                upsert(weighted("web", "h2", "10.0.0.2", 30)),
            ],
        )
        .await
        .unwrap();
    emulator
        .change_record_sets(&zone, &[upsert(weighted("web", "h2", "10.0.0.2", 5))])
        .await
        .unwrap();
    assert_eq!(
        a_records(emulator.record_sets(&zone)),
        [weighted("web", "h2", "10.0.0.2", 5)]
    );
    // Nothing rewrote it behind the caller's back: a DELETE names the TTL last written to that record set.
    emulator
        .change_record_sets(&zone, &[delete(weighted("web", "h2", "10.0.0.2", 5))])
        .await
        .unwrap();
    assert!(a_records(emulator.record_sets(&zone)).is_empty());
}

/// A naive suffix test would take `evilservice.discovery.` for a name in `service.discovery.`.
#[tokio::test]
async fn names_must_lie_inside_the_zone() {
    let (emulator, zone) = zone();
    for name in ["web.other.", "evilservice.discovery.", "discovery."] {
        let set = RecordSet::a(name, "10.0.0.1").multivalue("h1");
        let messages = rejected(emulator.change_record_sets(&zone, &[create(set)]).await);
        assert_eq!(
            messages,
            [format!(
                "RRSet with DNS name {name} is not permitted in zone service.discovery."
            )]
        );
    }
    let deep = RecordSet::a("a.b.service.discovery.", "10.0.0.1").multivalue("h1");
    emulator
        .change_record_sets(&zone, &[create(deep)])
        .await
        .unwrap();
}

#[tokio::test]
async fn labels_hold_at_most_63_characters() {
    let (emulator, zone) = zone();
    let long = "a".repeat(64);
    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[create(multivalue(&long, "h1", "10.0.0.1"))])
            .await,
    );
    assert_eq!(messages, [format!("FATAL problem: DomainLabelTooLong (Domain label is too long) encountered with '{long}'")]);
    emulator
        .change_record_sets(
            &zone,
            &[create(multivalue(&"a".repeat(63), "h1", "10.0.0.1"))],
        )
        .await
        .unwrap();
}

/// moto: "invalid IPs are accepted".
#[tokio::test]
async fn a_values_must_be_ipv4_addresses() {
    let (emulator, zone) = zone();
    for value in ["10.0.0.256", "web", "::1", "10.0.0", ""] {
        let messages = rejected(
            emulator
                .change_record_sets(&zone, &[create(multivalue("web", "h1", value))])
                .await,
        );
        assert_eq!(
            messages,
            [format!(
                "Invalid Resource Record: FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 \
                 address) encountered with '{value}'"
            )]
        );
    }
}

#[tokio::test]
async fn txt_values_must_be_quoted() {
    let (emulator, zone) = zone();
    let bare = RecordSet {
        rtype: "TXT".into(),
        values: vec!["heritage=route53-registrator".into()],
        ..simple("_r", &[])
    };
    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[create(bare.clone())])
            .await,
    );
    assert!(
        messages[0].contains("InvalidCharacterString"),
        "{messages:?}"
    );
    let quoted = RecordSet {
        values: vec!["\"heritage=route53-registrator\"".into()],
        ..bare
    };
    emulator
        .change_record_sets(&zone, &[create(quoted)])
        .await
        .unwrap();
}

#[tokio::test]
async fn names_compare_case_insensitively_and_are_stored_lower_case() {
    let (emulator, zone) = zone();
    let mixed = RecordSet::a("Web.Service.Discovery", "10.0.0.1").multivalue("h1");
    emulator
        .change_record_sets(&zone, &[create(mixed)])
        .await
        .unwrap();
    assert_eq!(
        a_records(emulator.record_sets(&zone)),
        [multivalue("web", "h1", "10.0.0.1")]
    );

    let upper = RecordSet::a("WEB.SERVICE.DISCOVERY.", "10.0.0.1").multivalue("h1");
    let messages = rejected(
        emulator
            .change_record_sets(&zone, &[create(upper.clone())])
            .await,
    );
    assert!(
        messages[0].ends_with("but it already exists"),
        "{messages:?}"
    );
    emulator
        .change_record_sets(&zone, &[delete(upper)])
        .await
        .unwrap();
    assert!(a_records(emulator.record_sets(&zone)).is_empty());
}

#[tokio::test]
async fn upsert_creates_or_replaces() {
    let (emulator, zone) = zone();
    emulator
        .change_record_sets(&zone, &[upsert(simple("web", &["10.0.0.1"]))])
        .await
        .unwrap();
    emulator
        .change_record_sets(&zone, &[upsert(simple("web", &["10.0.0.2"]))])
        .await
        .unwrap();
    assert_eq!(
        a_records(emulator.record_sets(&zone)),
        [simple("web", &["10.0.0.2"])]
    );
}

#[tokio::test]
async fn the_apex_keeps_its_soa_and_ns() {
    let (emulator, zone) = zone();
    let soa = emulator
        .record_sets(&zone)
        .into_iter()
        .find(|s| s.rtype == "SOA")
        .unwrap();
    let messages = rejected(emulator.change_record_sets(&zone, &[delete(soa)]).await);
    assert_eq!(
        messages,
        ["A HostedZone must contain exactly one SOA record."]
    );
}

#[tokio::test]
async fn a_cname_may_not_share_its_name() {
    let (emulator, zone) = zone();
    emulator
        .change_record_sets(&zone, &[create(simple("web", &["10.0.0.1"]))])
        .await
        .unwrap();
    let cname = RecordSet {
        rtype: "CNAME".into(),
        values: vec!["other.example.".into()],
        ..simple("web", &[])
    };
    let messages = rejected(emulator.change_record_sets(&zone, &[create(cname)]).await);
    assert!(
        messages[0].starts_with(
            "RRSet of type CNAME with DNS name web.service.discovery. is not permitted"
        ),
        "{messages:?}"
    );
}

#[tokio::test]
async fn malformed_changes_are_invalid_input() {
    let (emulator, zone) = zone();
    let no_routing = RecordSet {
        multivalue_answer: None,
        ..multivalue("web", "h1", "10.0.0.1")
    };
    let no_values = multivalue("web", "h1", "10.0.0.1").values(&[]);
    for set in [no_routing, no_values] {
        match emulator.change_record_sets(&zone, &[create(set)]).await {
            Err(Route53Error::Other { code, .. }) => assert_eq!(code, "InvalidInput"),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }
}

/// Route53 lists by name with the labels reversed (trailing dot kept, so `a-b` sorts before `a`), then type,
/// then set identifier.
#[tokio::test]
async fn record_sets_come_in_route53s_order() {
    let (emulator, zone) = zone();
    let txt = RecordSet {
        rtype: "TXT".into(),
        values: vec!["\"t\"".into()],
        ..simple("a", &[])
    };
    let batch = [
        create(multivalue("b", "h2", "10.0.0.2")),
        create(txt.clone()),
        create(simple("a", &["10.0.0.1"])),
        create(multivalue("b", "h1", "10.0.0.1")),
        create(simple("a-b", &["10.0.0.1"])),
        create(simple("x.a", &["10.0.0.1"])),
    ];
    emulator.change_record_sets(&zone, &batch).await.unwrap();
    let order: Vec<(String, String, Option<String>)> = emulator
        .record_sets(&zone)
        .into_iter()
        .map(|s| (s.name, s.rtype, s.set_identifier))
        .collect();
    let expect = |name: &str, rtype: &str, id: Option<&str>| {
        (name.to_string(), rtype.to_string(), id.map(String::from))
    };
    assert_eq!(
        order,
        [
            expect("service.discovery.", "NS", None),
            expect("service.discovery.", "SOA", None),
            expect("a-b.service.discovery.", "A", None),
            expect("a.service.discovery.", "A", None),
            expect("a.service.discovery.", "TXT", None),
            expect("x.a.service.discovery.", "A", None),
            expect("b.service.discovery.", "A", Some("h1")),
            expect("b.service.discovery.", "A", Some("h2")),
        ]
    );
}

/// moto: "paging through record sets that have a SetIdentifier never returns NextRecordIdentifier".
#[tokio::test]
async fn paging_through_more_than_300_record_sets_with_set_identifiers() {
    let (emulator, zone) = zone();
    for name in ["a", "b", "c", "d"] {
        let batch: Vec<Change> = (0..90)
            .map(|i| create(multivalue(name, &format!("10.0.{i}.1"), "10.0.0.1")))
            .collect();
        emulator.change_record_sets(&zone, &batch).await.unwrap();
    }
    let all = emulator.record_sets(&zone);
    assert_eq!(all.len(), 362);

    let mut listed = Vec::new();
    let mut start: Option<RecordPosition> = None;
    let mut pages = 0;
    loop {
        let page = emulator
            .list_record_sets(&zone, start.as_ref(), Some(1000))
            .await
            .unwrap();
        pages += 1;
        assert!(
            page.record_sets.len() <= 300,
            "a page holds at most 300 record sets"
        );
        listed.extend(page.record_sets);
        match page.next {
            Some(next) => {
                assert!(
                    next.identifier.is_some(),
                    "the next record set has a SetIdentifier: {next:?}"
                );
                start = Some(next);
            }
            None => break,
        }
        assert!(pages < 10, "paging does not advance");
    }
    assert_eq!(pages, 2);
    assert_eq!(listed, all);

    // Smaller pages, and a start by name alone.
    let page = emulator
        .list_record_sets(&zone, None, Some(5))
        .await
        .unwrap();
    assert_eq!(page.record_sets, all[..5]);
    let position = RecordPosition {
        name: "C.Service.Discovery".into(),
        rtype: None,
        identifier: None,
    };
    let page = emulator
        .list_record_sets(&zone, Some(&position), Some(1))
        .await
        .unwrap();
    assert_eq!(page.record_sets[0].name, "c.service.discovery.");
    assert_eq!(
        page.record_sets[0].set_identifier.as_deref(),
        Some("10.0.0.1")
    );
    let next = page.next.unwrap();
    assert_eq!(
        (next.name.as_str(), next.identifier.as_deref()),
        ("c.service.discovery.", Some("10.0.1.1"))
    );
}

#[tokio::test]
async fn apply_directly_keeps_the_rules_and_is_not_logged() {
    let (emulator, zone) = zone();
    emulator
        .apply_directly(&zone, &[create(multivalue("web", "h1", "10.0.0.1"))])
        .unwrap();
    assert!(matches!(
        emulator.apply_directly(&zone, &[create(multivalue("web", "h1", "10.0.0.1"))]),
        Err(Route53Error::InvalidChangeBatch(_))
    ));
    assert_eq!(a_records(emulator.record_sets(&zone)).len(), 1);
    assert!(emulator.requests().is_empty());
}
