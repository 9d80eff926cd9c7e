//! Containers and networks on the real Docker engine, through the `docker` CLI (what a person would type).
//!
//! Every container and network is a guard that removes itself on drop, also when the test panics. The
//! image is `route53-registrator-test:latest`, built by `scripts/test.sh` from `scripts/test-image/`:
//! busybox only, with `sh`, `sleep`, `kill` and friends (unless a spec names another, [`ContainerSpec::image`]).

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The image every test container runs.
pub const TEST_IMAGE: &str = "route53-registrator-test:latest";

/// The ECS labels the daemon reads by default.
pub const FAMILY_LABEL: &str = "com.amazonaws.ecs.task-definition-family";
pub const NAME_LABEL: &str = "com.amazonaws.ecs.container-name";

/// A task family no daemon publishes (it ends with neither `-service` nor `.service`): tests that do not
/// start daemons label their containers with it, so that an end-to-end test running meanwhile never
/// publishes them.
pub const NOT_A_SERVICE_FAMILY: &str = "route53-registrator-test-task";

/// A command that sleeps until it gets SIGTERM, then exits 0 at once. (A plain `sleep` as PID 1 ignores
/// SIGTERM, which makes every `docker stop` wait for its timeout.) It prints [`READY`] once its trap is set:
/// a SIGTERM sent before that is lost (PID 1 ignores what it has no handler for), so a test that sends one
/// itself waits for the line first ([`Container::wait_for_output`]).
pub const SLEEP_UNTIL_TERM: &str = "trap 'exit 0' TERM; echo ready; sleep 86400 & wait";

/// The line [`SLEEP_UNTIL_TERM`] prints once SIGTERM ends it.
pub const READY: &str = "ready";

/// A command that ignores SIGTERM and keeps running (until SIGKILL): a container that drains slowly.
pub const IGNORE_TERM: &str = "trap '' TERM; while true; do sleep 1; done";

/// Runs `docker ARGS` and returns its output, whatever the exit status.
pub fn docker_output(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run `docker {}`: {error}", args.join(" ")))
}

/// Runs `docker ARGS`, panics (with its stderr) unless it succeeds, and returns its stdout, trimmed.
pub fn docker(args: &[&str]) -> String {
    let output = docker_output(args);
    assert!(
        output.status.success(),
        "`docker {}` failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Panics with a pointer to `scripts/test.sh` unless the test image exists.
pub fn require_test_image() {
    let output = docker_output(&["image", "inspect", "--format", "{{.Id}}", TEST_IMAGE]);
    assert!(
        output.status.success(),
        "the test image {TEST_IMAGE} is missing: run scripts/test.sh (or scripts/test.sh --setup-only) first"
    );
}

/// A user-defined bridge network, removed on drop. Containers on it are reachable at the host IP the way
/// ECS `bridge` tasks are, and it works where the engine runs without its default bridge.
#[derive(Debug)]
pub struct Network {
    name: String,
}

impl Network {
    /// Creates a network named `name` (use [`super::unique`]).
    pub fn create(name: &str) -> Network {
        docker(&[
            "network",
            "create",
            "--driver",
            "bridge",
            "--label",
            "route53-registrator-test=1",
            name,
        ]);
        Network {
            name: name.to_string(),
        }
    }

    /// Its name, as `docker run --network` takes it (and as `HostConfig.NetworkMode` reports it).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Containers declared after the network are dropped (and removed) before it.
        let _ = docker_output(&["network", "rm", &self.name]);
    }
}

/// What to run: `docker run -d` options, built up.
#[derive(Clone, Debug)]
pub struct ContainerSpec {
    name: String,
    image: String,
    network: Option<String>,
    labels: Vec<(String, String)>,
    options: Vec<String>,
    command: Vec<String>,
}

impl ContainerSpec {
    /// A container named `name` that sleeps until SIGTERM ([`SLEEP_UNTIL_TERM`]).
    pub fn new(name: &str) -> ContainerSpec {
        ContainerSpec {
            name: name.to_string(),
            image: TEST_IMAGE.to_string(),
            network: None,
            labels: Vec::new(),
            options: Vec::new(),
            command: vec!["sh".into(), "-c".into(), SLEEP_UNTIL_TERM.into()],
        }
    }

    /// `--network NAME`.
    pub fn network(mut self, network: &Network) -> Self {
        self.network = Some(network.name().to_string());
        self
    }

    /// `--network MODE` for a mode that is not a test network (`none`, `host`, `container:ID`).
    pub fn network_mode(mut self, mode: &str) -> Self {
        self.network = Some(mode.to_string());
        self
    }

    /// `--label KEY=VALUE`.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.to_string(), value.to_string()));
        self
    }

    /// The two ECS labels: task definition family and container name.
    pub fn ecs(self, family: &str, container_name: &str) -> Self {
        self.label(FAMILY_LABEL, family)
            .label(NAME_LABEL, container_name)
    }

    /// `--stop-signal SIGNAL`.
    pub fn stop_signal(self, signal: &str) -> Self {
        self.option("--stop-signal").option(signal)
    }

    /// A healthcheck `CMD` run by `/bin/sh` every `interval` (such as `"1s"`), unhealthy after one failure.
    pub fn health_cmd(self, cmd: &str, interval: &str) -> Self {
        self.option("--health-cmd")
            .option(cmd)
            .option("--health-interval")
            .option(interval)
            .option("--health-retries")
            .option("1")
            .option("--health-timeout")
            .option("2s")
    }

    /// `--rm`.
    pub fn auto_remove(self) -> Self {
        self.option("--rm")
    }

    /// Any other `docker run` option (one argument).
    pub fn option(mut self, option: &str) -> Self {
        self.options.push(option.to_string());
        self
    }

    /// The command, run through `/bin/sh -c`.
    pub fn shell(mut self, script: &str) -> Self {
        self.command = vec!["sh".into(), "-c".into(), script.into()];
        self
    }

    /// Another image than [`TEST_IMAGE`], run with its own entrypoint and these arguments (none: its `CMD`).
    pub fn image(mut self, image: &str, args: &[&str]) -> Self {
        self.image = image.to_string();
        self.command = args.iter().map(|arg| arg.to_string()).collect();
        self
    }

    /// `docker run -d` it; the container is removed when the guard drops.
    pub fn run(self) -> Container {
        self.launch(&["run", "-d"])
    }

    /// `docker create` it, not started yet ([`Container::start`]): a test that wants many containers to
    /// start at once creates them first, since creating is the slow part. Removed when the guard drops.
    pub fn create(self) -> Container {
        self.launch(&["create"])
    }

    /// `docker VERB... --name NAME [--network N] [--label K=V]... [OPTIONS] IMAGE COMMAND`.
    fn launch(self, verb: &[&str]) -> Container {
        let mut args: Vec<String> = verb.iter().map(|word| word.to_string()).collect();
        args.push("--name".into());
        args.push(self.name.clone());
        if let Some(network) = &self.network {
            args.push("--network".into());
            args.push(network.clone());
        }
        for (key, value) in &self.labels {
            args.push("--label".into());
            args.push(format!("{key}={value}"));
        }
        args.extend(self.options.iter().cloned());
        args.push(self.image.clone());
        args.extend(self.command.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = docker(&args);
        Container {
            id,
            name: self.name,
        }
    }
}

/// A container on the engine, removed (`docker rm -f`) when dropped.
#[derive(Debug)]
pub struct Container {
    id: String,
    name: String,
}

impl Container {
    /// The full id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The name given at `run`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `docker start` (of a container made with [`ContainerSpec::create`]), waiting for it.
    pub fn start(&self) {
        docker(&["start", &self.id]);
    }

    /// Waits until the container has printed `line` (`docker logs`), failing the test after `timeout`.
    pub fn wait_for_output(&self, line: &str, timeout: Duration) {
        super::wait_until(timeout, &format!("{} prints {line:?}", self.name), || {
            self.logs().lines().any(|printed| printed == line)
        });
    }

    /// `docker kill --signal SIGNAL` (such as `"TERM"` or `"KILL"`).
    pub fn kill(&self, signal: &str) {
        docker(&["kill", "--signal", signal, &self.id]);
    }

    /// `docker stop -t SECONDS`, waiting for it.
    pub fn stop(&self, timeout_seconds: u32) {
        docker(&["stop", "-t", &timeout_seconds.to_string(), &self.id]);
    }

    /// `docker stop -t SECONDS` in the background (it returns once the container has stopped); the test
    /// goes on meanwhile. Wait for the child, or let it be: it ends with the container.
    pub fn stop_in_background(&self, timeout_seconds: u32) -> Child {
        Command::new("docker")
            .args(["stop", "-t", &timeout_seconds.to_string(), &self.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn docker stop")
    }

    /// `docker rm -f`: killed and removed at once (its `die` and `destroy` follow; it can no longer be
    /// inspected).
    pub fn remove_now(&self) {
        docker(&["rm", "-f", &self.id]);
    }

    /// Whether the engine still knows the container.
    pub fn exists(&self) -> bool {
        docker_output(&["container", "inspect", "--format", "{{.Id}}", &self.id])
            .status
            .success()
    }

    /// Whether it is running.
    pub fn is_running(&self) -> bool {
        self.inspect("{{.State.Running}}").as_deref() == Some("true")
    }

    /// Its healthcheck status (`starting`, `healthy`, `unhealthy`), `None` without a healthcheck.
    pub fn health(&self) -> Option<String> {
        self.inspect("{{if .State.Health}}{{.State.Health.Status}}{{end}}")
            .filter(|status| !status.is_empty())
    }

    /// `docker logs`: everything it printed, standard output then standard error.
    pub fn logs(&self) -> String {
        let output = docker_output(&["logs", &self.id]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// `docker container inspect --format FORMAT`; `None` when the container is gone.
    pub fn inspect(&self, format: &str) -> Option<String> {
        let output = docker_output(&["container", "inspect", "--format", format, &self.id]);
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker_output(&["rm", "-f", "-v", &self.id]);
    }
}
