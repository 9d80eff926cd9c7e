//! The EC2 client of the clean-up ([`SdkEc2`], the real `aws-sdk-ec2` over HTTP) against the emulator's
//! DescribeInstances: what the SDK parses out of the emulator's XML (ids, IPs, state names, page tokens, the
//! error body's code), and what each failure becomes for the clean-up. It proves both sides of the wire:
//! the daemon's client and the emulator's answers.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::{Credentials, SharedCredentialsProvider};
use route53_emulator::{spawn_server, Emulator, Fault, ServerHandle};
use route53_registrator::gc::decide::{queries, Instance, OwnerKind, Query};
use route53_registrator::gc::ec2::limited::RateLimitedEc2;
use route53_registrator::gc::ec2::sdk::SdkEc2;
use route53_registrator::gc::ec2::{Ec2Api, Ec2Error};
use route53_registrator::stats::Stats;

/// An emulator with instances declared, served over HTTP, and the configuration pointing at it.
struct Setup {
    emulator: Emulator,
    _server: ServerHandle,
    config: SdkConfig,
}

impl Setup {
    fn new(instances: &[(&str, Option<&str>, &str)]) -> Setup {
        let emulator = Emulator::new();
        for (id, ip, state) in instances {
            emulator.declare_instance(id, *ip, state);
        }
        let server = spawn_server(emulator.clone(), 0).expect("emulator server");
        // As `aws::sdk_config` builds it in the daemon, with static credentials and the emulator's
        // endpoint instead of the standard chain: nothing here may reach a real AWS endpoint.
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .endpoint_url(server.endpoint())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDTEST",
                "test-secret",
                None,
                None,
                "ec2-tests",
            )))
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(5))
                    .build(),
            )
            .build();
        Setup {
            emulator,
            _server: server,
            config,
        }
    }

    fn client(&self) -> SdkEc2 {
        SdkEc2::from_config(&self.config)
    }
}

fn by_ip(values: &[&str]) -> Query {
    Query {
        kind: OwnerKind::PrivateIp,
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

/// (id, state) of each instance, sorted by id.
fn states(instances: &[Instance]) -> Vec<(String, String)> {
    let mut states: Vec<_> = instances
        .iter()
        .map(|i| (i.id.clone(), i.state.clone()))
        .collect();
    states.sort();
    states
}

const FLEET: &[(&str, Option<&str>, &str)] = &[
    ("i-0000000000000000a", Some("10.0.0.1"), "running"),
    ("i-0000000000000000b", Some("10.0.0.2"), "terminated"),
    ("i-0000000000000000c", Some("10.0.0.3"), "stopped"),
    ("i-0000000000000000d", Some("10.0.0.4"), "pending"),
    ("i-0000000000000000e", Some("10.0.0.5"), "shutting-down"),
    ("i-0000000000000000f", None, "terminated"),
];

#[actix_rt::test]
async fn describes_the_instances_a_filter_selects_with_their_states() {
    let s = Setup::new(FLEET);
    let ec2 = s.client();

    let found = ec2
        .describe_instances(&by_ip(&["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.9.9.9"]))
        .await
        .unwrap();
    assert_eq!(
        states(&found),
        vec![
            ("i-0000000000000000a".into(), "running".into()),
            ("i-0000000000000000b".into(), "terminated".into()),
            ("i-0000000000000000c".into(), "stopped".into()),
        ],
        "an IP no instance has selects nothing"
    );
    let ips: BTreeSet<_> = found.iter().filter_map(|i| i.private_ip.clone()).collect();
    assert_eq!(
        ips,
        BTreeSet::from(["10.0.0.1".into(), "10.0.0.2".into(), "10.0.0.3".into()])
    );

    let by_id = Query {
        kind: OwnerKind::InstanceId,
        values: vec!["i-0000000000000000d".into(), "i-0000000000000000f".into()],
    };
    let found = ec2.describe_instances(&by_id).await.unwrap();
    assert_eq!(
        states(&found),
        vec![
            ("i-0000000000000000d".into(), "pending".into()),
            ("i-0000000000000000f".into(), "terminated".into()),
        ]
    );
    assert_eq!(
        found
            .iter()
            .find(|i| i.id == "i-0000000000000000f")
            .unwrap()
            .private_ip,
        None,
        "a terminated instance without an IP"
    );

    let requests = s.emulator.ec2_requests();
    assert_eq!(requests.len(), 2, "one request per query: {requests:?}");
    assert_eq!(
        requests[1].filters,
        vec![(
            "instance-id".to_string(),
            vec![
                "i-0000000000000000d".to_string(),
                "i-0000000000000000f".to_string()
            ]
        )]
    );
}

#[actix_rt::test]
async fn follows_the_page_tokens_to_the_last_page() {
    let fleet: Vec<(String, String)> = (1..=12)
        .map(|n| (format!("i-{n:017x}"), format!("10.0.1.{n}")))
        .collect();
    let declared: Vec<(&str, Option<&str>, &str)> = fleet
        .iter()
        .map(|(id, ip)| (id.as_str(), Some(ip.as_str()), "running"))
        .collect();
    let s = Setup::new(&declared);
    let ec2 = s.client().with_page_size(5);

    let ips: Vec<&str> = fleet.iter().map(|(_, ip)| ip.as_str()).collect();
    let found = ec2.describe_instances(&by_ip(&ips)).await.unwrap();
    let ids: BTreeSet<_> = found.iter().map(|i| i.id.clone()).collect();
    assert_eq!(ids, fleet.iter().map(|(id, _)| id.clone()).collect());
    assert_eq!(found.len(), 12, "no instance twice");
    assert_eq!(s.emulator.ec2_requests().len(), 3, "pages of 5, 5 and 2");
}

#[actix_rt::test]
async fn each_failure_is_told_apart_and_counted() {
    let s = Setup::new(FLEET);
    let stats = Stats::new();
    let ec2 = RateLimitedEc2::new(Arc::new(s.client()), stats.clone());
    let query = by_ip(&["10.0.0.1"]);

    s.emulator.ec2_set_throttle(Some(0.001));
    // The bucket's first token, then EC2's own throttling error.
    assert!(ec2.describe_instances(&query).await.is_ok());
    let throttled = ec2.describe_instances(&query).await;
    assert!(
        matches!(throttled, Err(Ec2Error::Throttled(_))),
        "{throttled:?}"
    );
    s.emulator.ec2_set_throttle(None);

    s.emulator.ec2_fail_next(1, Fault::Status(500));
    let failed = ec2.describe_instances(&query).await;
    assert!(
        matches!(&failed, Err(Ec2Error::Service { code, .. }) if code == "InternalError"),
        "{failed:?}"
    );
    s.emulator.ec2_fail_next(1, Fault::Reset);
    let reset = ec2.describe_instances(&query).await;
    assert!(matches!(reset, Err(Ec2Error::Transport(_))), "{reset:?}");

    // More filter values than EC2 takes in one call: the gc never sends such a query (queries() splits
    // them), and EC2's refusal comes back with its code.
    let many: Vec<String> = (0..201)
        .map(|n| format!("10.1.{}.{}", n / 250, n % 250))
        .collect();
    let too_many = Query {
        kind: OwnerKind::PrivateIp,
        values: many,
    };
    let refused = ec2.describe_instances(&too_many).await;
    assert!(
        matches!(&refused, Err(Ec2Error::Service { code, .. }) if code == "FilterLimitExceeded"),
        "{refused:?}"
    );
    let owners: BTreeSet<String> = too_many.values.iter().cloned().collect();
    for query in queries(Some("10.0.0.1"), &owners) {
        assert!(ec2.describe_instances(&query).await.is_ok(), "{query:?}");
    }

    let rendered = stats.render();
    for (outcome, count) in [
        ("ok", 3),
        ("throttled", 1),
        ("error", 2),
        ("unreachable", 1),
    ] {
        let line = format!(
            "ec2_requests_total{{operation=\"DescribeInstances\",outcome=\"{outcome}\"}} {count}"
        );
        assert!(rendered.contains(&line), "{line} in\n{rendered}");
    }
}
