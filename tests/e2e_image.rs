//! The container image, built and run for real: `route53-registrator:test`, which `scripts/test.sh` builds
//! with `docker build --target prebuilt` from the top-level Dockerfile and a static musl binary built on the
//! host (the same runtime stage as the default target; nothing can be pulled here to build the other one).
//!
//! Each test runs the image as ECS runs it (deploy/task-definition.json): host network mode (so the emulator
//! on 127.0.0.1 is reachable), the Docker socket mounted read-only, a read-only root file system, every
//! capability dropped, the configuration in the environment; and as a user other than root, in the socket's
//! group, as docs/operations.md ("Container image") says to. Each test has its own zone and names, and its
//! daemon container ignores itself (`route53-registrator.ignore`); daemons run one at a time
//! (`.config/nextest.toml`).

mod support;

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use support::docker::{docker, docker_output, Container, ContainerSpec};
use support::proxy::DOCKER_SOCKET;
use support::tls::{TestPki, TlsProxy};
use support::world::{World, DEADLINE};
use support::{free_port, unique, wait_until};

/// The image `scripts/test.sh` builds.
const IMAGE: &str = "route53-registrator:test";

/// Where the image keeps its binary and its CA bundle.
const BINARY: &str = "/route53-registrator";
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The README's target for the image's size.
const MAX_IMAGE_BYTES: u64 = 12_000_000;

/// Panics with a pointer to `scripts/test.sh` unless the image exists.
fn require_image() {
    let output = docker_output(&["image", "inspect", "--format", "{{.Id}}", IMAGE]);
    assert!(
        output.status.success(),
        "the image {IMAGE} is missing: run scripts/test.sh (or scripts/test.sh --setup-only) first"
    );
}

fn repository_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// The emulator's own address, for a proxy in front of it.
fn emulator_address(world: &World) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], world.server.port()))
}

/// A daemon container from the image, run like ECS runs it, publishing `ip` into `world`'s zone through
/// `endpoint`.
struct DaemonRun<'a> {
    world: &'a World,
    endpoint: String,
    ip: String,
    listen: String,
    options: Vec<String>,
}

impl<'a> DaemonRun<'a> {
    fn new(world: &'a World, endpoint: &str, ip: &str) -> DaemonRun<'a> {
        DaemonRun {
            world,
            endpoint: endpoint.to_string(),
            ip: ip.to_string(),
            listen: format!("127.0.0.1:{}", free_port()),
            options: Vec::new(),
        }
    }

    /// One more environment variable.
    fn env(mut self, key: &str, value: &str) -> Self {
        self.options.push("--env".into());
        self.options.push(format!("{key}={value}"));
        self
    }

    /// A host file mounted read-only at `target`.
    fn mount(mut self, source: &Path, target: &str) -> Self {
        self.options.push("--volume".into());
        self.options
            .push(format!("{}:{target}:ro", source.display()));
        self
    }

    fn run(self) -> DaemonContainer {
        let socket_gid = std::fs::metadata(DOCKER_SOCKET)
            .unwrap_or_else(|e| panic!("{DOCKER_SOCKET}: {e}"))
            .gid();
        let mut spec = ContainerSpec::new(&unique("r53r-image"))
            .image(IMAGE, &[])
            .network_mode("host")
            .label("route53-registrator.ignore", "true")
            .option("--read-only")
            .option("--cap-drop=ALL")
            .option(&format!("--user=65534:{socket_gid}"))
            .option(&format!("--volume={DOCKER_SOCKET}:/var/run/docker.sock:ro"))
            // The image's check, run every second instead of every 30 s.
            .option("--health-interval=1s")
            .option("--health-start-period=0s")
            .option("--health-retries=1");
        let env = [
            ("R53R_ROUTE53__ZONE_ID", self.world.zone_id.as_str()),
            ("R53R_ROUTE53__DEBOUNCE", "50ms"),
            ("R53R_ROUTE53__MAX_DELAY", "300ms"),
            ("R53R_ROUTE53__MAX_REQUESTS_PER_SECOND", "50"),
            ("R53R_DOCKER__RESYNC_INTERVAL", "1s"),
            ("R53R_HOST__IP", self.ip.as_str()),
            ("R53R_HTTP__LISTEN", self.listen.as_str()),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("RUST_LOG", "info,route53_registrator=debug"),
        ];
        for (key, value) in env {
            spec = spec.option(&format!("--env={key}={value}"));
        }
        for option in &self.options {
            spec = spec.option(option);
        }
        DaemonContainer {
            container: spec.run(),
        }
    }
}

/// A daemon container; its log is printed when the test fails, and it is removed on drop.
struct DaemonContainer {
    container: Container,
}

impl DaemonContainer {
    fn logs(&self) -> String {
        self.container.logs()
    }
}

impl Drop for DaemonContainer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- daemon container {} -----\n{}\n----- end of {} -----",
                self.container.name(),
                self.logs(),
                self.container.name()
            );
        }
    }
}

/// A copy of the repository's ca-bundle.crt with the test root appended, in a temp dir.
fn bundle_with(pki: &TestPki) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("r53r-ca-")
        .tempdir()
        .expect("temp dir");
    let stock = std::fs::read_to_string(repository_file("ca-bundle.crt")).expect("ca-bundle.crt");
    let path = dir.path().join("ca-certificates.crt");
    std::fs::write(&path, format!("{stock}\n{}", pki.root_pem())).expect("write the bundle");
    (dir, path)
}

/// The image is the runtime stage plus the binary: its entrypoint, health check, CA bundle and size.
#[test]
fn the_image_runs_the_binary_and_checks_its_health_with_it() {
    require_image();
    let inspect = |format: &str| docker(&["image", "inspect", "--format", format, IMAGE]);
    assert_eq!(
        inspect("{{json .Config.Entrypoint}}"),
        format!("[\"{BINARY}\"]")
    );
    assert_eq!(
        inspect("{{json .Config.Healthcheck.Test}}"),
        format!("[\"CMD\",\"{BINARY}\",\"healthcheck\"]"),
        "an exec-form health check (the image has no shell)"
    );
    let env = inspect("{{json .Config.Env}}");
    assert!(
        env.contains(&format!("\"SSL_CERT_FILE={CA_BUNDLE}\"")),
        "{env}"
    );
    assert_eq!(
        inspect("{{.Config.User}}"),
        "",
        "root unless told otherwise"
    );
    let size: u64 = inspect("{{.Size}}").parse().expect("a size");
    assert!(
        size < MAX_IMAGE_BYTES,
        "{IMAGE} is {size} bytes, over the README's target of {MAX_IMAGE_BYTES}"
    );

    // The bundle in the image is the repository's.
    let container = docker(&["create", IMAGE]);
    let dir = tempfile::tempdir().expect("temp dir");
    let copied = dir.path().join("bundle.crt");
    let output = docker_output(&[
        "cp",
        &format!("{container}:{CA_BUNDLE}"),
        copied.to_str().expect("a UTF-8 path"),
    ]);
    docker(&["rm", &container]);
    assert!(output.status.success(), "{output:?}");
    assert!(
        std::fs::read(&copied).expect("the copied bundle")
            == std::fs::read(repository_file("ca-bundle.crt")).expect("ca-bundle.crt"),
        "{CA_BUNDLE} in {IMAGE} is not the repository's ca-bundle.crt: run scripts/test.sh again"
    );
}

/// The image, run the way ECS runs it, publishes a service container's name and withdraws it when the
/// container stops; its own health check turns it `healthy`.
#[test]
fn the_image_publishes_and_withdraws_a_service_and_turns_healthy() {
    require_image();
    let world = World::new();
    let ip = "10.0.3.1";
    let daemon = DaemonRun::new(&world, &world.server.endpoint(), ip).run();

    let web = world.service("imageweb").run();
    world.wait_published("imageweb", ip);
    wait_until(DEADLINE, "the daemon container is healthy", || {
        daemon.container.health().as_deref() == Some("healthy")
    });
    assert_eq!(
        daemon
            .container
            .inspect("{{json .Config.Healthcheck.Test}}")
            .as_deref(),
        Some(format!("[\"CMD\",\"{BINARY}\",\"healthcheck\"]").as_str()),
        "the image's own check"
    );
    assert_eq!(
        daemon
            .container
            .inspect("{{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.CapDrop}}")
            .as_deref(),
        Some("true [\"ALL\"]")
    );

    web.stop(5);
    world.wait_withdrawn("imageweb", ip);
    assert!(daemon.container.is_running(), "{}", daemon.logs());
}

/// With the test root appended to a copy of the bundle, mounted over the image's, the daemon reaches Route53
/// through a TLS endpoint whose certificate chains to that root.
#[test]
fn a_bundle_holding_the_test_root_lets_the_daemon_through_tls() {
    require_image();
    let world = World::new();
    let pki = TestPki::generate();
    let proxy = TlsProxy::start(&pki, emulator_address(&world));
    let (_dir, bundle) = bundle_with(&pki);
    let ip = "10.0.3.2";
    let _daemon = DaemonRun::new(&world, &proxy.endpoint(), ip)
        .mount(&bundle, CA_BUNDLE)
        .run();

    let _web = world.service("tlsweb").run();
    world.wait_published("tlsweb", ip);
    assert!(proxy.handshakes() >= 1, "{:?}", proxy.failed_handshakes());
}

/// `SSL_CERT_FILE` is what the daemon's TLS stack reads: the same bundle mounted elsewhere and named by it
/// works as well.
#[test]
fn ssl_cert_file_names_the_bundle_the_daemon_trusts() {
    require_image();
    let world = World::new();
    let pki = TestPki::generate();
    let proxy = TlsProxy::start(&pki, emulator_address(&world));
    let (_dir, bundle) = bundle_with(&pki);
    let ip = "10.0.3.3";
    let _daemon = DaemonRun::new(&world, &proxy.endpoint(), ip)
        .mount(&bundle, "/test-ca.crt")
        .env("SSL_CERT_FILE", "/test-ca.crt")
        .run();

    let _web = world.service("certfile").run();
    world.wait_published("certfile", ip);
    assert!(proxy.handshakes() >= 1, "{:?}", proxy.failed_handshakes());
}

/// With the image's own bundle the same endpoint is refused: the handshake fails, no request reaches the
/// emulator, and the daemon's log says why.
#[test]
fn the_stock_bundle_refuses_a_certificate_of_the_test_root() {
    require_image();
    let world = World::new();
    let pki = TestPki::generate();
    let proxy = TlsProxy::start(&pki, emulator_address(&world));
    let daemon = DaemonRun::new(&world, &proxy.endpoint(), "10.0.3.4").run();

    let mut logs = String::new();
    wait_until(DEADLINE, "the daemon logs a refused certificate", || {
        logs = daemon.logs();
        logs.contains("hosted zone not read yet")
            && logs.contains("invalid peer certificate: UnknownIssuer")
    });
    assert!(
        !proxy.failed_handshakes().is_empty(),
        "the daemon's handshakes failed at the proxy"
    );
    assert_eq!(proxy.handshakes(), 0, "no handshake succeeded");
    let requests = world.emulator.requests();
    assert!(
        requests.is_empty(),
        "no request reached the emulator: {requests:?}"
    );
    assert!(daemon.container.is_running(), "it keeps retrying: {logs}");
}
