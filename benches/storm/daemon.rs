//! The daemon under measurement: the real `route53-registrator` binary as a process of its own.
//!
//! Which binary: `R53R_BENCH_BINARY` when set (for example `target/release/route53-registrator`), else the
//! one Cargo built for this bench (`cargo bench` builds it with the `bench` profile, which inherits
//! `release`). Its environment holds nothing of the caller's `R53R_*`, `AWS_*` or
//! `ROUTE53_REGISTRATOR_CONFIG`: static test credentials, `AWS_ENDPOINT_URL` on the loopback emulator and
//! `AWS_EC2_METADATA_DISABLED=true` (the config sets `host.ip`, so no metadata request is made anyway).
//! Its output goes to a file whose tail is printed if the bench panics while it runs. SIGTERM on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The variable that names the binary to measure.
pub const BINARY_VAR: &str = "R53R_BENCH_BINARY";

/// How long the daemon gets to exit after SIGTERM before it is killed.
const EXIT_DEADLINE: Duration = Duration::from_secs(30);

/// The binary to measure: `$R53R_BENCH_BINARY`, else the one built for this bench.
pub fn binary() -> PathBuf {
    std::env::var_os(BINARY_VAR)
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_route53-registrator")))
}

/// The daemon's resident memory, from `/proc/PID/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now, in KiB.
    pub rss_kib: u64,
    /// `VmHWM`: the peak resident size so far, in KiB.
    pub peak_kib: u64,
}

/// A running daemon process.
pub struct Daemon {
    child: Child,
    label: String,
    log: PathBuf,
    spawned_at: Instant,
    exited: bool,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts `binary` with `config` (TOML), talking to Route53 at `aws_endpoint`.
    pub fn spawn(binary: &Path, aws_endpoint: &str, config: &str, label: &str) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("r53r-bench-")
            .tempdir()
            .expect("temp dir");
        let config_path = dir.path().join("route53-registrator.toml");
        std::fs::write(&config_path, config).expect("write the daemon's config");
        let log = dir.path().join("daemon.log");
        let file = File::create(&log).expect("create the daemon's log");

        let mut command = Command::new(binary);
        command.arg("--config").arg(&config_path);
        for (key, _) in std::env::vars_os() {
            let Some(key) = key.to_str() else { continue };
            if key.starts_with("R53R_")
                || key.starts_with("AWS_")
                || key == "ROUTE53_REGISTRATOR_CONFIG"
            {
                command.env_remove(key);
            }
        }
        let missing = dir.path().join("no-such-aws-file");
        command
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", aws_endpoint)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", &missing)
            .env("AWS_SHARED_CREDENTIALS_FILE", &missing)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().expect("clone the log file")))
            .stderr(Stdio::from(file));
        let spawned_at = Instant::now();
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
        Daemon {
            child,
            label: label.to_string(),
            log,
            spawned_at,
            exited: false,
            _dir: dir,
        }
    }

    /// When the process was spawned (just before `fork`).
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// Panics (printing its output) if the daemon has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.exited = true;
            panic!("{} exited early ({status})", self.label);
        }
    }

    /// Its resident memory now.
    pub fn memory(&mut self) -> Memory {
        self.assert_running();
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {path}: {error}"));
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse().ok())
                .unwrap_or_else(|| panic!("{path} has no {name}"))
        };
        Memory {
            rss_kib: field("VmRSS:"),
            peak_kib: field("VmHWM:"),
        }
    }

    /// SIGTERM, then waits for the exit (SIGKILL after 30 s).
    pub fn terminate(&mut self) {
        if self.exited {
            return;
        }
        if self.child.try_wait().ok().flatten().is_none() {
            // kill(1) rather than a signal API: this crate forbids unsafe code.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            let deadline = Instant::now() + EXIT_DEADLINE;
            while self.child.try_wait().ok().flatten().is_none() {
                if Instant::now() >= deadline {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.exited = true;
    }

    fn print_tail(&self) {
        let output = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = output.lines().collect();
        let start = lines.len().saturating_sub(60);
        eprintln!(
            "----- {}: last {} lines -----",
            self.label,
            lines.len() - start
        );
        for line in &lines[start..] {
            eprintln!("{line}");
        }
        eprintln!("----- end of {} -----", self.label);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.terminate();
        if std::thread::panicking() {
            self.print_tail();
        }
    }
}
