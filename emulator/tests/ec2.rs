//! EC2's DescribeInstances over HTTP, as the Query API sends it: a form POSTed to `/`, EC2's XML back,
//! with the emulator's EC2 faults and its own request log. Raw HTTP/1.1 on loopback, so that what is
//! checked is the wire.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use route53_emulator::{spawn_server, Emulator, Fault};

/// POSTs `form` to `/` and returns (status, body); status 0 when the connection closed without an answer.
fn post(port: u16, form: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn world() -> (Emulator, route53_emulator::ServerHandle) {
    let emu = Emulator::new();
    emu.declare_instance("i-00000001", Some("10.0.0.1"), "running");
    emu.declare_instance("i-00000002", Some("10.0.0.2"), "running");
    emu.declare_instance("i-00000003", Some("10.0.0.3"), "running");
    let server = spawn_server(emu.clone(), 0).expect("server");
    (emu, server)
}

const BY_IP: &str = "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=private-ip-address\
                     &Filter.1.Value.1=10.0.0.1&Filter.1.Value.2=10.0.0.2&Filter.1.Value.3=10.0.0.9";

#[test]
fn describe_instances_answers_the_declared_instances_the_filter_selects() {
    let (emu, server) = world();
    emu.declare_instance("i-00000002", Some("10.0.0.2"), "terminated");
    let (status, body) = post(server.port(), BY_IP);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(
        "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
    ));
    assert!(body.contains(
        "<instanceId>i-00000001</instanceId><instanceState><code>16</code><name>running</name>"
    ));
    assert!(body.contains(
        "<instanceId>i-00000002</instanceId><instanceState><code>48</code><name>terminated</name>"
    ));
    assert!(!body.contains("i-00000003"), "not asked about: {body}");
    let (_, page) = post(
        server.port(),
        "Action=DescribeInstances&MaxResults=5&Filter.1.Name=instance-state-name&Filter.1.Value.1=running",
    );
    assert!(
        page.contains("i-00000003")
            && !page.contains("i-00000002")
            && !page.contains("<nextToken>")
    );
    let log = emu.ec2_requests();
    assert_eq!(log.len(), 2);
    assert_eq!(
        log[0].filters,
        vec![(
            "private-ip-address".to_string(),
            vec![
                "10.0.0.1".to_string(),
                "10.0.0.2".to_string(),
                "10.0.0.9".to_string()
            ]
        )]
    );
    assert!(emu.requests().is_empty(), "Route53's log is apart");
}

#[test]
fn ec2_faults_answer_ec2s_errors_and_are_logged() {
    let (emu, server) = world();
    emu.ec2_fail_next(1, Fault::Status(500));
    emu.ec2_fail_next(1, Fault::Reset);
    let (status, body) = post(server.port(), BY_IP);
    assert_eq!(status, 500);
    assert!(
        body.contains("<Response><Errors><Error><Code>InternalError</Code>"),
        "{body}"
    );
    assert_eq!(post(server.port(), BY_IP).0, 0, "reset without an answer");
    // One request, then one every 10 s: the next three come well within that.
    emu.ec2_set_throttle(Some(0.1));
    let statuses: Vec<u16> = (0..3).map(|_| post(server.port(), BY_IP).0).collect();
    assert_eq!(statuses[0], 200);
    assert!(statuses[1..].iter().all(|s| *s == 503), "{statuses:?}");
    let (_, throttled) = post(server.port(), BY_IP);
    assert!(
        throttled.contains("<Code>RequestLimitExceeded</Code>"),
        "{throttled}"
    );
    let logged: Vec<u16> = emu.ec2_requests().iter().map(|r| r.status).collect();
    assert_eq!(logged, vec![500, 0, 200, 503, 503, 503]);
    emu.ec2_set_throttle(None);
    let (status, body) = post(server.port(), "Action=RunInstances");
    assert_eq!(status, 400);
    assert!(body.contains("<Code>InvalidAction</Code>"), "{body}");
}
