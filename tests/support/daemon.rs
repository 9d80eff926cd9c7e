//! The built `route53-registrator` binary, run as a real process.
//!
//! ```ignore
//! let daemon = Daemon::builder(&emulator_endpoint)
//!     .config(&format!("[route53]\nzone_id = \"{zone_id}\"\n[host]\nip = \"10.1.2.3\"\n"))
//!     .spawn();
//! ```
//!
//! Its environment is cleaned of the caller's `R53R_*`, `AWS_*` and `ROUTE53_REGISTRATOR_CONFIG` variables
//! and given static test credentials, region `us-east-1`, `AWS_ENDPOINT_URL` (the emulator) and either
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT` (an [`super::imds::ImdsServer`]) or `AWS_EC2_METADATA_DISABLED=true`:
//! nothing it does can reach a real AWS endpoint or the real metadata address. `[http] listen` defaults to
//! `""` (off) unless the config sets it, so that two daemons never collide on a port.
//!
//! Its stdout and stderr go to one file; when the test fails (panics) while the daemon is alive or being
//! dropped, the file's tail is printed. On drop it gets SIGTERM and is waited for (SIGKILL after a deadline).
//! [`DaemonBuilder::run_in_terminal`] runs it on a pseudo-terminal instead (through util-linux's `script`),
//! as a person at a terminal would.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_route53-registrator");

/// How long a daemon gets to exit after SIGTERM before it is killed.
const EXIT_DEADLINE: Duration = Duration::from_secs(30);

/// How the daemon finds the instance metadata service.
#[derive(Clone, Debug)]
enum Metadata {
    Endpoint(String),
    Disabled,
}

/// Builds a daemon's command line, config and environment.
#[derive(Clone, Debug)]
pub struct DaemonBuilder {
    aws_endpoint: String,
    config: Option<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    env_removed: Vec<String>,
    metadata: Metadata,
    label: String,
}

/// A running (or exited) daemon process.
pub struct Daemon {
    child: Child,
    log: PathBuf,
    label: String,
    status: Option<ExitStatus>,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// A daemon that talks to Route53 at `aws_endpoint` (the emulator's or moto's `http://127.0.0.1:PORT`).
    pub fn builder(aws_endpoint: &str) -> DaemonBuilder {
        DaemonBuilder {
            aws_endpoint: aws_endpoint.to_string(),
            config: None,
            args: Vec::new(),
            env: Vec::new(),
            env_removed: Vec::new(),
            metadata: Metadata::Disabled,
            label: "daemon".to_string(),
        }
    }
}

impl DaemonBuilder {
    /// The TOML config, written to a file passed with `--config`.
    pub fn config(mut self, toml: &str) -> Self {
        self.config = Some(toml.to_string());
        self
    }

    /// One more argument (`--once`, `--dry-run`, or a subcommand such as `check-config` first).
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_string());
        self
    }

    /// One more environment variable (`R53R_HOST__IP`, `RUST_LOG`, ...).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Leaves a variable the builder would set out of the environment.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.env_removed.push(key.to_string());
        self
    }

    /// Points `AWS_EC2_METADATA_SERVICE_ENDPOINT` at `endpoint` (an IMDS test server).
    pub fn imds(mut self, endpoint: &str) -> Self {
        self.metadata = Metadata::Endpoint(endpoint.to_string());
        self
    }

    /// A name for this daemon in failure output (when a test runs several).
    pub fn label(mut self, label: &str) -> Self {
        self.label = label.to_string();
        self
    }

    /// The command, ready to spawn, with its temp dir (holding the config) and the log's path.
    fn command(&self) -> (Command, tempfile::TempDir, PathBuf) {
        let dir = tempfile::Builder::new()
            .prefix("r53r-daemon-")
            .tempdir()
            .expect("temp dir");
        let log = dir.path().join("daemon.log");
        let mut command = Command::new(BINARY);
        // The subcommand (if any) comes first, then --config.
        let (subcommand, rest): (Vec<&String>, Vec<&String>) = match self.args.first() {
            Some(first) if !first.starts_with('-') => {
                (vec![first], self.args.iter().skip(1).collect())
            }
            _ => (vec![], self.args.iter().collect()),
        };
        command.args(subcommand);
        if let Some(toml) = &self.config {
            let path = dir.path().join("route53-registrator.toml");
            std::fs::write(&path, toml).expect("write the daemon's config");
            command.arg("--config").arg(&path);
        }
        command.args(rest);

        for (key, _) in std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))) {
            if key.starts_with("R53R_")
                || key.starts_with("AWS_")
                || key == "ROUTE53_REGISTRATOR_CONFIG"
            {
                command.env_remove(&key);
            }
        }
        let missing = dir.path().join("no-such-aws-file");
        command
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.aws_endpoint)
            .env("AWS_CONFIG_FILE", &missing)
            .env("AWS_SHARED_CREDENTIALS_FILE", &missing)
            .env("RUST_LOG", "info,route53_registrator=debug");
        match &self.metadata {
            Metadata::Endpoint(endpoint) => {
                command.env("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint)
            }
            Metadata::Disabled => command.env("AWS_EC2_METADATA_DISABLED", "true"),
        };
        // Two daemons must not both listen on the default port.
        let config_sets_listen = self
            .config
            .as_deref()
            .is_some_and(|toml| toml.contains("listen"));
        if !config_sets_listen && !self.env.iter().any(|(key, _)| key == "R53R_HTTP__LISTEN") {
            command.env("R53R_HTTP__LISTEN", "");
        }
        for (key, value) in &self.env {
            command.env(key, value);
        }
        for key in &self.env_removed {
            command.env_remove(key);
        }
        (command, dir, log)
    }

    /// Starts the daemon.
    pub fn spawn(self) -> Daemon {
        let (command, dir, log) = self.command();
        self.start(command, dir, log)
    }

    /// Runs the daemon to its end as [`DaemonBuilder::run`] does, but with its standard input, output and
    /// error on a pseudo-terminal (`script --quiet --return --command ... /dev/null`, from util-linux, which
    /// Debian always has), so that it sees a terminal. Its output (with the terminal's `\r\n` line ends)
    /// goes to the log as usual.
    pub fn run_in_terminal(self, timeout: Duration) -> (ExitStatus, String) {
        let (inner, dir, log) = self.command();
        let line = std::iter::once(inner.get_program())
            .chain(inner.get_args())
            .map(|word| shell_quote(&word.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ");
        let mut command = Command::new("script");
        command
            .args(["--quiet", "--return", "--command"])
            .arg(&line)
            .arg("/dev/null");
        // `script` runs the line with $SHELL, in the environment it was given: the daemon's.
        command.env("SHELL", "/bin/sh");
        for (key, value) in inner.get_envs() {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        let mut daemon = self.start(command, dir, log);
        let status = daemon.wait_exit(timeout);
        (status, daemon.output())
    }

    /// Spawns `command` with its output going to `log`.
    fn start(&self, mut command: Command, dir: tempfile::TempDir, log: PathBuf) -> Daemon {
        let file = File::create(&log).expect("create the daemon's log");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().expect("clone the log file")))
            .stderr(Stdio::from(file));
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {:?}: {error}", command.get_program()));
        Daemon {
            child,
            log,
            label: self.label.clone(),
            status: None,
            _dir: dir,
        }
    }

    /// Runs the daemon to its end (for `--once`, `check-config`, a config error): its exit status and
    /// output. Panics if it runs longer than `timeout`.
    pub fn run(self, timeout: Duration) -> (ExitStatus, String) {
        let mut daemon = self.spawn();
        let status = daemon.wait_exit(timeout);
        (status, daemon.output())
    }
}

/// `word` in single quotes for `sh` (a `'` inside becomes `'\''`).
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

impl Daemon {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it printed so far (stdout and stderr, interleaved).
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The file its output goes to.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Waits until its output contains `needle`; panics after `timeout` (or if it exits first).
    pub fn wait_for_output(&mut self, timeout: Duration, needle: &str) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.output().contains(needle) {
                return;
            }
            if let Some(status) = self.try_status() {
                panic!(
                    "{} exited ({status}) before printing {needle:?}",
                    self.label
                );
            }
            if Instant::now() >= deadline {
                panic!("{} did not print {needle:?} within {timeout:?}", self.label);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its exit status, if it has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("poll the daemon");
        }
        self.status
    }

    /// Waits for it to exit on its own; panics (after killing it) if it runs longer than `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        match self.wait_with_deadline(timeout) {
            Some(status) => status,
            None => {
                let _ = self.child.kill();
                self.status = self.child.wait().ok();
                panic!("{} did not exit within {timeout:?}", self.label);
            }
        }
    }

    /// Sends SIGTERM (as ECS and `docker stop` do) and waits for the exit; panics (after killing it) if it
    /// takes longer than 30 s.
    pub fn terminate(&mut self) -> ExitStatus {
        if let Some(status) = self.try_status() {
            return status;
        }
        self.signal("TERM");
        self.wait_exit(EXIT_DEADLINE)
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`) with `kill(1)`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .stdin(Stdio::null())
            .status()
            .expect("run kill");
        assert!(
            status.success(),
            "kill -{signal} {} failed",
            self.child.id()
        );
    }

    fn wait_with_deadline(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn print_tail(&self) {
        let output = self.output();
        let lines: Vec<&str> = output.lines().collect();
        let start = lines.len().saturating_sub(80);
        eprintln!(
            "----- {} (pid {}): last {} lines of {} -----",
            self.label,
            self.pid(),
            lines.len() - start,
            self.log.display()
        );
        for line in &lines[start..] {
            eprintln!("{line}");
        }
        eprintln!("----- end of {} -----", self.label);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            if self.wait_with_deadline(EXIT_DEADLINE).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        if std::thread::panicking() {
            self.print_tail();
        }
    }
}
