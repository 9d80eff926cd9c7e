//! Settings: the structs every key of `config/route53-registrator.toml` lands in, their layering (defaults →
//! file → `R53R_<SECTION>__<KEY>` environment) and `validate()`.
//!
//! The structs are the only description of the keys. [`Settings::default`] serialised as a TOML tree is the list
//! of known keys and gives each key's type (the TOML kind of its default); every value must have that type, as
//! written: nothing is converted by guesswork, so `R53R_HOST__OWNER_ID=00012` stays `00012`,
//! `R53R_ROUTE53__WEIGHT=3.7` is refused rather than rounded, and `enabled = 1` in the file is refused.
//!
//! Who carries what:
//! - the `config` crate, the layering: its builder stacks the defaults (`Config::try_from`), the file (its
//!   TOML format, which keeps each value's kind: `ttl = 3.7` stays a float, `owner_id = "00012"` a string)
//!   and the `R53R_` variables (a `config::Source` of ours, `Variables`); a later layer replaces a value and
//!   merges into a section. Its deserialiser is not used, as it converts between types (`1`, `"yes"`, `"on"`
//!   → `true`; 3.7 → 4; 1e5 → `"100000"`): the merged tree becomes a `toml::Value`, kind for kind.
//!   Two readings are its own: a TOML date-time arrives as its text (which only a string key takes), and a
//!   quoted dotted key at the top of the file (`"route53.ttl" = 5`) is a path, as `[route53]` `ttl = 5`.
//! - serde, from the typed fields (`deny_unknown_fields`, `humantime_serde`, the enums) deserialised from that
//!   `toml::Value`, which converts nothing: every type check of a file value (`ttl = 3.7`, `ttl = "10"`,
//!   `enabled = 1`, `owner_id = 1e5`, `routing = "geo"`, `debounce = "5"`, a negative `u32`), and of an
//!   environment value once it is in the tree. `serde_path_to_error` names the key of the failure.
//! - By hand, because neither serde nor the `config` crate can do it:
//!   - reading an environment variable: its text has no type, and only the key's type says whether `007` is
//!     the integer 7 or the string `"007"`. The `config` crate's `Environment` either guesses from the text
//!     (`try_parsing`) or leaves strings, so `from_env` reads each variable by the kind of its key's default:
//!     integers and booleans strictly, lists comma-separated with every item trimmed and none empty (naming
//!     the variable), anything else the string as written; `Variables` hands these typed values to `config`;
//!   - refusing an unknown key *naming the file or the variable* it came from (each value's origin), with
//!     the keys that exist, and a value where a section belongs (`check_keys`, on the file's tree alone,
//!     then on the merged one; serde's `deny_unknown_fields` names neither, and stays as a backstop);
//!   - wording serde's complaint for a user: the value as written and what would be valid (`type_error`);
//!   - the rules beyond a value's type ([`Settings::validate`]).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ::config::Source;
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::route53::rate::{Quota, StartSpread};
use crate::route53::Routing;

mod environment;
mod tree;

use environment::{variables, Variables};
use tree::{check_keys, to_toml_table, type_error};

/// The whole configuration. Adding a key is adding a field (with its doc line and its default) to a section
/// here, and its line to `config/route53-registrator.toml` and the README's table; a test holds both to it. A
/// field must serialise its default (no `Option`): the serialised defaults are the list of keys and their types.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub route53: Route53Settings,
    pub docker: DockerSettings,
    pub selection: SelectionSettings,
    pub host: HostSettings,
    pub lifecycle: LifecycleSettings,
    pub gc: GcSettings,
    pub shutdown: ShutdownSettings,
    pub http: HttpSettings,
    pub log: LogSettings,
}

/// `[route53]`: the zone and how this instance writes to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Route53Settings {
    /// The private hosted zone's id (required); its domain is read with GetHostedZone.
    pub zone_id: String,
    /// TTL of the records written, in seconds, 0..=2147483647.
    pub ttl: i64,
    /// `multivalue`, `weighted` or `simple` (one shared record set per name, changed by compare-and-swap).
    pub routing: Routing,
    /// Weight of this instance's record sets when `routing = "weighted"`, 0..=255.
    pub weight: i64,
    /// How long the writer waits after the last change before it sends a batch.
    #[serde(with = "humantime_serde")]
    pub debounce: Duration,
    /// The longest the writer holds a change back while changes keep arriving.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Route53 requests per second this instance sends at most, on its own (the account's quota, below, is
    /// shared by the whole fleet and every other client of the account).
    pub max_requests_per_second: u32,
    /// The account's Route53 request quota: requests its bucket holds, absorbed at once (Route53's
    /// documented 50; raise it only where AWS raised the account's quota).
    pub quota_burst: u32,
    /// The account's Route53 request quota: requests per second its bucket refills, sustained (Route53's
    /// documented 10). The fleet keeps nine tenths of it for itself.
    pub quota_per_second: u32,
    /// The shortest interval between two verifications of this instance's records against Route53.
    #[serde(with = "humantime_serde")]
    pub verify_interval: Duration,
    /// Keep this instance's ledger, a TXT record listing the names where it holds record sets, so that a
    /// start reads one record instead of the whole zone (needs permission to write TXT records).
    pub ledger: bool,
    /// How a start spreads its requests among the instances starting with it (an upgrade of the daemon,
    /// an AMI roll): `"auto"` goes at once and, when Route53 throttles the start, spreads it over a window
    /// sized from the quota and the throttles; a duration waits a random time up to it before the first
    /// request (at most 1h); `"0s"`: at once, never spread.
    pub startup_spread: StartSpread,
}

impl Default for Route53Settings {
    fn default() -> Self {
        Route53Settings {
            zone_id: String::new(),
            ttl: 10,
            routing: Routing::Multivalue,
            weight: 50,
            debounce: Duration::from_millis(200),
            max_delay: Duration::from_secs(1),
            max_requests_per_second: 5,
            quota_burst: 50,
            quota_per_second: 10,
            verify_interval: Duration::from_secs(15 * 60),
            ledger: true,
            startup_spread: StartSpread::Auto,
        }
    }
}

impl Route53Settings {
    /// The account's request quota, as configured.
    pub fn quota(&self) -> Quota {
        Quota {
            burst: f64::from(self.quota_burst),
            per_second: f64::from(self.quota_per_second),
        }
    }
}

/// `[docker]`: the engine to watch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DockerSettings {
    /// The engine's address; empty: `DOCKER_HOST`, else `unix:///var/run/docker.sock`.
    pub host: String,
    /// How often the running containers are listed again (a Docker-side reconciliation; no Route53 call).
    #[serde(with = "humantime_serde")]
    pub resync_interval: Duration,
}

impl Default for DockerSettings {
    fn default() -> Self {
        DockerSettings {
            host: String::new(),
            resync_interval: Duration::from_secs(60),
        }
    }
}

/// `[selection]`: which containers are services, and their names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelectionSettings {
    /// The label holding the ECS task definition family.
    pub family_label: String,
    /// The label holding the ECS container name (the record's first label).
    pub name_label: String,
    /// A container is a service when its family ends with one of these.
    pub family_suffixes: Vec<String>,
    /// Opt-in label of any container; its value is the name (and overrides the ECS name).
    pub name_override_label: String,
    /// Opt-out label: `true` keeps the container out.
    pub ignore_label: String,
    /// Publish a container that has a healthcheck only while it is healthy.
    pub respect_health: bool,
}

impl Default for SelectionSettings {
    fn default() -> Self {
        SelectionSettings {
            family_label: "com.amazonaws.ecs.task-definition-family".into(),
            name_label: "com.amazonaws.ecs.container-name".into(),
            family_suffixes: vec!["-service".into(), ".service".into()],
            name_override_label: "route53-registrator.name".into(),
            ignore_label: "route53-registrator.ignore".into(),
            respect_health: true,
        }
    }
}

/// `[host]`: this instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct HostSettings {
    /// The IPv4 address to publish; empty: the instance's `local-ipv4` from the metadata service.
    pub ip: String,
    /// The `SetIdentifier` of this instance's record sets; empty: the host IP.
    pub owner_id: String,
}

/// `[lifecycle]`: the instance's end, as the metadata service tells it in advance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleSettings {
    /// Watch for a Spot interruption notice and the Auto Scaling target lifecycle state, and withdraw every
    /// record of this instance when it is going (also with `host.ip` set).
    pub watch: bool,
    /// How often the metadata service is asked.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Also leave on a Spot rebalance recommendation (EC2's earlier warning, which may come hours before).
    pub rebalance: bool,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        LifecycleSettings {
            watch: true,
            interval: Duration::from_secs(5),
            rebalance: false,
        }
    }
}

/// `[gc]`: clean-up of the records of instances that are gone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcSettings {
    /// Whether this instance takes part in cleaning up (needs `ec2:DescribeInstances`).
    pub enabled: bool,
    /// The shortest interval between two checks, jittered (longer in a large fleet: see `gc::check_interval`).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// The least time between the two checks that must both find an owner gone before its record sets are
    /// withdrawn.
    #[serde(with = "humantime_serde")]
    pub grace: Duration,
}

impl Default for GcSettings {
    fn default() -> Self {
        GcSettings {
            enabled: false,
            interval: Duration::from_secs(600),
            grace: Duration::from_secs(300),
        }
    }
}

/// `[shutdown]`: what SIGTERM/SIGINT do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownSettings {
    /// Withdraw every record of this instance before exiting.
    pub deregister: bool,
    /// The longest the flush (and withdrawal) may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        ShutdownSettings {
            deregister: false,
            timeout: Duration::from_secs(20),
        }
    }
}

/// `[http]`: `/healthz` and `/metrics`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Address to listen on; empty disables the endpoint.
    pub listen: String,
    /// `/healthz` fails once the Docker event stream has been down this long; `--once` gives up after as
    /// long without the engine.
    #[serde(with = "humantime_serde")]
    pub docker_grace: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            listen: "0.0.0.0:9753".into(),
            docker_grace: Duration::from_secs(30),
        }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `[log]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter (`info`, `route53_registrator=debug`); `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// The environment variable naming the config file when `--config` is not given.
pub const CONFIG_FILE_ENV: &str = "ROUTE53_REGISTRATOR_CONFIG";

/// The prefix of the variables that override single keys: `R53R_<SECTION>__<KEY>`.
pub const ENV_PREFIX: &str = "R53R";

/// The longest `route53.startup_spread`: a longer wait before a start's first request is more likely a
/// mistaken unit than a fleet (an hour spreads 6,000 starting instances at the account's rate).
pub const MAX_STARTUP_SPREAD: Duration = Duration::from_secs(3600);

/// A configuration that cannot be used. Every message names the key, the value and what would be valid; `main`
/// exits 2 on any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or is not TOML (the reason names the line).
    #[error("config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    /// A key that no setting has: a typo in the file or in an `R53R_` variable.
    #[error("unknown key `{key}` in {origin}; expected one of {expected}")]
    UnknownKey {
        key: String,
        origin: String,
        expected: String,
    },
    /// A key that must be set.
    #[error("{key} is required; expected {expected}")]
    Required { key: String, expected: String },
    /// A number outside its range.
    #[error("{key}: {value} is out of range; expected {expected}")]
    OutOfRange {
        key: String,
        value: String,
        expected: String,
    },
    /// Any other value that cannot be used.
    #[error("{key}: {value} is not valid; expected {expected}")]
    Invalid {
        key: String,
        value: String,
        expected: String,
    },
}

impl ConfigError {
    /// The key the error is about (`None` for a file that cannot be read).
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::File { .. } => None,
            ConfigError::UnknownKey { key, .. }
            | ConfigError::Required { key, .. }
            | ConfigError::OutOfRange { key, .. }
            | ConfigError::Invalid { key, .. } => Some(key),
        }
    }
}

fn invalid(key: &str, value: impl std::fmt::Display, expected: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

fn out_of_range(key: &str, value: impl std::fmt::Display, range: &str) -> ConfigError {
    ConfigError::OutOfRange {
        key: key.into(),
        value: value.to_string(),
        expected: range.into(),
    }
}

impl Settings {
    /// Loads the effective settings: the defaults, then the TOML file (`file`, else the one named by
    /// `ROUTE53_REGISTRATOR_CONFIG`, else none), then `R53R_<SECTION>__<KEY>` variables; then validates them.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::load_from(file, std::env::vars())
    }

    /// [`Settings::load`] with the environment passed in, so that tests need not touch the process's own.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let (file_from_env, vars) = variables(env);
        let Some(path) = file.map(Path::to_path_buf).or(file_from_env) else {
            return Settings::layer(None, vars);
        };
        // Read here, not by `config::File::from(path)`, which would fall back to `<path>.toml`, read bad UTF-8
        // lossily and name the file relative to the working directory.
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Settings::layer(Some((&path, &text)), vars)
    }

    /// [`Settings::load_from`] with the file's text given instead of read: `file` is the path its errors name
    /// and the text. `ROUTE53_REGISTRATOR_CONFIG` in `env` is ignored, since the file is given. For callers
    /// that hold the text and no file: the config fuzz target and its corpus replay.
    pub fn load_from_text(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let (_, vars) = variables(env);
        Settings::layer(file, vars)
    }

    /// The layering and validation behind [`Settings::load_from`]: `file` is the file's path and text, `vars`
    /// the `R53R_` variables as [`variables`] keys them.
    fn layer(
        file: Option<(&Path, &str)>,
        vars: BTreeMap<String, (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let Ok(Value::Table(defaults)) = Value::try_from(Settings::default()) else {
            unreachable!("settings serialise to a table")
        };
        // The `config` crate layers the defaults, the file and the variables: a later layer replaces a value
        // and merges into a section.
        let bottom = ::config::Config::try_from(&Settings::default());
        let mut layers =
            ::config::Config::builder().add_source(bottom.expect("settings serialise to a table"));
        if let Some((path, text)) = file {
            let fail = |reason: String| ConfigError::File {
                path: path.to_path_buf(),
                reason,
            };
            let layer = ::config::Config::builder()
                .add_source(::config::File::from_str(text, ::config::FileFormat::Toml))
                .build()
                // toml's own message names the line, config's not always (`ttl = 99999999999999999999`).
                .map_err(|e| {
                    fail(
                        text.parse::<Table>()
                            .map_or_else(|t| t.to_string(), |_| e.to_string()),
                    )
                })?;
            // Checked on its own, before any variable: a variable below a key would otherwise hide the file's
            // value where a section belongs (`route53 = 5` under `R53R_ROUTE53__ZONE_ID`).
            let tree = layer.collect().expect("a parsed file is a table");
            check_keys(&tree, &defaults, "", &path.display().to_string())?;
            layers = layers.add_source(layer);
        }
        let merged = layers
            .add_source(Variables::read(vars, &defaults)?)
            .build()
            .and_then(|layers| layers.collect())
            .expect("every layer is in memory, parsed already");
        // The file's keys are known by now: an unknown key here has a variable for its origin.
        check_keys(&merged, &defaults, "", "the environment")?;

        let merged = Value::Table(to_toml_table(merged));
        let settings: Settings = serde_path_to_error::deserialize(merged.clone())
            .map_err(|e| type_error(&merged, &Value::Table(defaults), &e))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every rule a value must follow beyond its type; the first broken rule is the error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let r = &self.route53;
        if r.zone_id.trim().is_empty() {
            return Err(ConfigError::Required {
                key: "route53.zone_id".into(),
                expected: "the id of a private hosted zone, such as Z0123456789ABCDEFGHIJ".into(),
            });
        }
        if !(0..=i64::from(i32::MAX)).contains(&r.ttl) {
            return Err(out_of_range("route53.ttl", r.ttl, "0..=2147483647"));
        }
        if !(0..=255).contains(&r.weight) {
            return Err(out_of_range("route53.weight", r.weight, "0..=255"));
        }
        if r.max_requests_per_second < 1 {
            return Err(out_of_range(
                "route53.max_requests_per_second",
                r.max_requests_per_second,
                "at least 1",
            ));
        }
        if r.debounce > r.max_delay {
            return Err(invalid(
                "route53.debounce",
                humantime::format_duration(r.debounce),
                format!(
                    "at most route53.max_delay ({})",
                    humantime::format_duration(r.max_delay)
                ),
            ));
        }
        if r.verify_interval < Duration::from_secs(1) {
            return Err(out_of_range(
                "route53.verify_interval",
                humantime::format_duration(r.verify_interval),
                "at least 1s",
            ));
        }
        if r.quota_burst < 1 {
            return Err(out_of_range(
                "route53.quota_burst",
                r.quota_burst,
                "at least 1",
            ));
        }
        if r.quota_per_second < 1 {
            return Err(out_of_range(
                "route53.quota_per_second",
                r.quota_per_second,
                "at least 1",
            ));
        }
        if let StartSpread::Over(spread) = r.startup_spread {
            if spread > MAX_STARTUP_SPREAD {
                return Err(out_of_range(
                    "route53.startup_spread",
                    humantime::format_duration(spread),
                    "\"auto\", or at most 1h",
                ));
            }
        }

        let host = &self.docker.host;
        let scheme_ok = ["unix://", "tcp://", "http://"]
            .iter()
            .any(|s| host.strip_prefix(s).is_some_and(|rest| !rest.is_empty()));
        if !host.is_empty() && !scheme_ok {
            return Err(invalid(
                "docker.host",
                format!("{host:?}"),
                "empty, or a unix://, tcp:// or http:// URL such as unix:///var/run/docker.sock",
            ));
        }
        positive("docker.resync_interval", self.docker.resync_interval)?;

        let sel = &self.selection;
        for (key, value) in [
            ("selection.family_label", &sel.family_label),
            ("selection.name_label", &sel.name_label),
            ("selection.name_override_label", &sel.name_override_label),
            ("selection.ignore_label", &sel.ignore_label),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(key, format!("{value:?}"), "a non-empty label key"));
            }
        }
        // A suffix with a space at either end can never match a family (ECS allows none in a family name),
        // so it is a typo that would otherwise silently publish nothing.
        if let Some((i, suffix)) = sel
            .family_suffixes
            .iter()
            .enumerate()
            .find(|(_, s)| s.is_empty() || s.trim() != s.as_str())
        {
            return Err(invalid(
                &format!("selection.family_suffixes[{i}]"),
                format!("{suffix:?}"),
                "a list of non-empty strings without surrounding spaces, such as [\"-service\", \".service\"]",
            ));
        }

        if !self.host.ip.is_empty() && self.host.ip.parse::<Ipv4Addr>().is_err() {
            return Err(invalid(
                "host.ip",
                format!("{:?}", self.host.ip),
                "empty, or an IPv4 address such as 10.0.0.12",
            ));
        }
        if self.host.owner_id.chars().count() > 128 {
            return Err(invalid(
                "host.owner_id",
                format!("{:?}", self.host.owner_id),
                "empty, or a string of at most 128 characters (Route53's SetIdentifier limit)",
            ));
        }

        positive("lifecycle.interval", self.lifecycle.interval)?;
        positive("gc.interval", self.gc.interval)?;
        positive("gc.grace", self.gc.grace)?;
        // The clean-up collects members only, and an instance without a ledger is no member: it would
        // collect others that could never collect it.
        if self.gc.enabled && !self.route53.ledger {
            return Err(invalid(
                "gc.enabled",
                "true",
                "false while route53.ledger = false: the clean-up acts among members, and the ledger is \
                 an instance's membership record",
            ));
        }
        positive("shutdown.timeout", self.shutdown.timeout)?;

        if !self.http.listen.is_empty() && self.http.listen.parse::<SocketAddr>().is_err() {
            return Err(invalid(
                "http.listen",
                format!("{:?}", self.http.listen),
                "empty, or a socket address such as 0.0.0.0:9753",
            ));
        }

        let level = &self.log.level;
        if level.trim().is_empty() || tracing_subscriber::EnvFilter::try_new(level).is_err() {
            return Err(invalid(
                "log.level",
                format!("{level:?}"),
                "a tracing filter such as info or route53_registrator=debug",
            ));
        }
        Ok(())
    }

    /// The effective settings as TOML, durations as humantime strings (`200ms`, `15m`): what `check-config`
    /// prints, and a file that loads back to the same settings.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self)
            .expect("settings are plain tables of strings, numbers and lists")
    }
}
fn positive(key: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(invalid(key, "0s", "a duration greater than 0"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const ZONE: &str = "[route53]\nzone_id = \"Z1\"\n";

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load(text: &str, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let f = file(text);
        Settings::load_from(Some(f.path()), env(vars))
    }

    fn defaults_with_zone(zone: &str) -> Settings {
        let mut s = Settings::default();
        s.route53.zone_id = zone.into();
        s
    }

    #[test]
    fn a_variable_without_a_section_or_a_key_is_named() {
        for name in [
            "R53R_",
            "R53R___TTL",
            "R53R_ROUTE53__",
            "R53R_ROUTE53____TTL",
        ] {
            let err =
                Settings::load_from(None, env(&[("R53R_ROUTE53__ZONE_ID", "Z1"), (name, "5")]))
                    .unwrap_err();
            assert_eq!(err.key(), Some(name), "{err}");
            assert!(err.to_string().contains("R53R_<SECTION>__<KEY>"), "{err}");
        }
    }

    #[test]
    fn the_shipped_file_loads_and_holds_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/route53-registrator.toml");
        let s = Settings::load_from(Some(&path), env(&[])).unwrap();
        assert!(!s.route53.zone_id.is_empty());
        assert_eq!(s, defaults_with_zone(&s.route53.zone_id));
    }

    #[test]
    fn the_shipped_file_and_the_readme_name_every_key() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let shipped: Table = std::fs::read_to_string(root.join("config/route53-registrator.toml"))
            .unwrap()
            .parse()
            .unwrap();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let Ok(Value::Table(defaults)) = Value::try_from(Settings::default()) else {
            panic!()
        };
        for (section, keys) in &defaults {
            for name in keys.as_table().unwrap().keys() {
                let key = format!("{section}.{name}");
                assert!(
                    shipped[section].get(name).is_some(),
                    "{key} missing from the shipped file"
                );
                assert!(
                    readme.contains(&format!("`{key}`")),
                    "{key} missing from the README"
                );
            }
        }
    }

    #[test]
    fn no_file_and_no_environment_needs_only_a_zone() {
        let err = Settings::load_from(None, env(&[])).unwrap_err();
        assert_eq!(err.key(), Some("route53.zone_id"));
        let s = Settings::load_from(None, env(&[("R53R_ROUTE53__ZONE_ID", "Z0123")])).unwrap();
        assert_eq!(s, defaults_with_zone("Z0123"));
    }

    #[test]
    fn environment_lands_on_nested_keys_and_lists() {
        let s = Settings::load_from(
            None,
            env(&[
                ("R53R_ROUTE53__ZONE_ID", "Z0123"),
                ("R53R_SELECTION__FAMILY_SUFFIXES", "-a,.b"),
                ("R53R_SELECTION__RESPECT_HEALTH", "false"),
                ("R53R_ROUTE53__DEBOUNCE", "100ms"),
                ("R53R_ROUTE53__TTL", "5"),
                ("R53R_ROUTE53__ROUTING", "weighted"),
                ("R53R_HOST__IP", "10.1.2.3"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(s.route53.zone_id, "Z0123");
        assert_eq!(
            s.selection.family_suffixes,
            vec!["-a".to_string(), ".b".to_string()]
        );
        assert!(!s.selection.respect_health);
        assert_eq!(s.route53.debounce, Duration::from_millis(100));
        assert_eq!(s.route53.ttl, 5);
        assert_eq!(s.route53.routing, Routing::Weighted);
        assert_eq!(s.host.ip, "10.1.2.3");
    }

    #[test]
    fn environment_values_that_look_like_numbers_still_fill_strings() {
        let s = Settings::load_from(
            None,
            env(&[
                ("R53R_ROUTE53__ZONE_ID", "12345"),
                ("R53R_HOST__OWNER_ID", "true"),
                ("R53R_LOG__LEVEL", "debug"),
            ]),
        )
        .unwrap();
        assert_eq!(s.route53.zone_id, "12345");
        assert_eq!(s.host.owner_id, "true");
        assert_eq!(s.log.level, "debug");
    }

    #[test]
    fn an_empty_list_variable_is_an_empty_list() {
        let s = load(ZONE, &[("R53R_SELECTION__FAMILY_SUFFIXES", "")]).unwrap();
        assert_eq!(s.selection.family_suffixes, Vec::<String>::new());
    }

    #[test]
    fn a_single_suffix_in_the_environment_is_a_one_element_list() {
        let s = Settings::load_from(
            None,
            env(&[
                ("R53R_ROUTE53__ZONE_ID", "Z1"),
                ("R53R_SELECTION__FAMILY_SUFFIXES", "-svc"),
            ]),
        )
        .unwrap();
        assert_eq!(s.selection.family_suffixes, vec!["-svc".to_string()]);
    }

    #[test]
    fn layers_apply_in_order_defaults_file_environment() {
        let s = load(
            "[route53]\nzone_id = \"Zfile\"\nttl = 30\nweight = 7\n[log]\nformat = \"json\"\n",
            &[("R53R_ROUTE53__TTL", "40")],
        )
        .unwrap();
        assert_eq!(s.route53.zone_id, "Zfile", "file over default");
        assert_eq!(s.route53.ttl, 40, "environment over file");
        assert_eq!(
            s.route53.weight, 7,
            "file kept where the environment is silent"
        );
        assert_eq!(s.log.format, LogFormat::Json);
        assert_eq!(
            s.route53.max_delay,
            Duration::from_secs(1),
            "default kept where both are silent"
        );
    }

    #[test]
    fn the_file_comes_from_the_argument_else_the_environment() {
        let from_env = file("[route53]\nzone_id = \"Zenv\"\n");
        let from_arg = file("[route53]\nzone_id = \"Zarg\"\n");
        let vars = [(CONFIG_FILE_ENV, from_env.path().to_str().unwrap())];
        assert_eq!(
            Settings::load_from(None, env(&vars))
                .unwrap()
                .route53
                .zone_id,
            "Zenv"
        );
        assert_eq!(
            Settings::load_from(Some(from_arg.path()), env(&vars))
                .unwrap()
                .route53
                .zone_id,
            "Zarg"
        );
        // An empty variable is no file at all.
        let err = Settings::load_from(None, env(&[(CONFIG_FILE_ENV, "")])).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Required { key, .. } if key == "route53.zone_id"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_or_broken_file_is_named() {
        let missing = Path::new("/nonexistent/route53-registrator.toml");
        let err = Settings::load_from(Some(missing), env(&[])).unwrap_err();
        assert!(
            matches!(&err, ConfigError::File { path, .. } if path == missing),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("/nonexistent/route53-registrator.toml"),
            "{err}"
        );

        let broken = file("[route53\nzone_id = ");
        let err = Settings::load_from(Some(broken.path()), env(&[])).unwrap_err();
        assert!(
            matches!(&err, ConfigError::File { path, .. } if path == broken.path()),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_their_origin() {
        let f = file("[route53]\nzoneid = \"Z1\"\n");
        let err = Settings::load_from(Some(f.path()), env(&[])).unwrap_err();
        assert_eq!(err.key(), Some("route53.zoneid"));
        let text = err.to_string();
        assert!(
            text.starts_with("unknown key `route53.zoneid` in "),
            "{text}"
        );
        assert!(text.contains(&f.path().display().to_string()), "{text}");
        assert!(
            text.contains("route53.zone_id"),
            "the valid keys are listed: {text}"
        );

        let err = load(ZONE, &[("R53R_ROUTE53__ZONEID", "Z1")]).unwrap_err();
        assert_eq!(err.key(), Some("route53.zoneid"));
        assert!(err.to_string().contains("in R53R_ROUTE53__ZONEID"), "{err}");

        let err = load(&format!("{ZONE}[route35]\nttl = 1\n"), &[]).unwrap_err();
        assert_eq!(err.key(), Some("route35"));
        assert!(
            err.to_string().contains("the sections route53, docker"),
            "{err}"
        );

        let err = load(ZONE, &[("R53R_VERBOSE", "1")]).unwrap_err();
        assert_eq!(err.key(), Some("verbose"));

        // A section a variable made is named by the variable; one of the file, even empty, by the file.
        let err = load(ZONE, &[("R53R_ROUTE35__TTL", "1")]).unwrap_err();
        assert_eq!(err.key(), Some("route35"));
        assert!(err.to_string().contains("in R53R_ROUTE35__TTL;"), "{err}");
        let f = file(&format!("{ZONE}[route35]\n"));
        let err = Settings::load_from(Some(f.path()), env(&[])).unwrap_err();
        let origin = format!("in {};", f.path().display());
        assert!(err.to_string().contains(&origin), "{err}");
    }

    #[test]
    fn keys_are_case_sensitive_in_the_file_and_not_in_variable_names() {
        let err = load("[Route53]\nTTL = 5\n", &[]).unwrap_err();
        assert_eq!(err.key(), Some("Route53"), "{err}");
        assert!(
            err.to_string().contains("the sections route53, docker"),
            "{err}"
        );
        let err = load(&format!("{ZONE}TTL = 5\n"), &[]).unwrap_err();
        assert_eq!(err.key(), Some("route53.TTL"), "{err}");
        assert!(err.to_string().contains("route53.ttl,"), "{err}");
        let s = load(ZONE, &[("R53R_Route53__Ttl", "5")]).unwrap();
        assert_eq!(s.route53.ttl, 5);
    }

    #[test]
    fn the_file_layer_keeps_each_value_as_written() {
        let s = load(
            "[route53]\nzone_id = \"0012\"\nttl = 7\n[host]\nowner_id = \"00012\"\n[gc]\nenabled = true\n",
            &[],
        )
        .unwrap();
        assert_eq!((s.route53.zone_id.as_str(), s.route53.ttl), ("0012", 7));
        assert_eq!(s.host.owner_id, "00012");
        assert!(s.gc.enabled);
        for (line, key) in [
            ("ttl = 3.7", "route53.ttl"),
            ("ttl = \"10\"", "route53.ttl"),
            ("[host]\nowner_id = 1e5", "host.owner_id"),
            ("[host]\nowner_id = 12", "host.owner_id"),
            ("[gc]\nenabled = 1", "gc.enabled"),
            ("[gc]\nenabled = \"true\"", "gc.enabled"),
        ] {
            let err = load(&format!("{ZONE}{line}\n"), &[]).unwrap_err();
            assert_eq!(err.key(), Some(key), "{line}: {err}");
        }
        // The config crate reads a TOML date-time as its text, which only a string key takes.
        let s = load(&format!("{ZONE}[host]\nowner_id = 1979-05-27\n"), &[]).unwrap();
        assert_eq!(s.host.owner_id, "1979-05-27");
        let err = load(&format!("{ZONE}ttl = 1979-05-27\n"), &[]).unwrap_err();
        assert_eq!(err.key(), Some("route53.ttl"), "{err}");
        // An integer TOML cannot hold is named by its line.
        let err = load(&format!("{ZONE}ttl = 99999999999999999999\n"), &[]).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn type_errors_name_the_key_the_value_and_what_is_valid() {
        let cases: &[(&str, &str)] = &[
            (
                "[route53]\nzone_id = \"Z1\"\nrouting = \"geo\"\n",
                "route53.routing: \"geo\" is not valid; expected one of multivalue, weighted, simple",
            ),
            (
                "[route53]\nzone_id = \"Z1\"\nttl = \"ten\"\n",
                "route53.ttl: \"ten\" is not valid; expected an integer, such as 10",
            ),
            (
                "[route53]\nzone_id = \"Z1\"\ndebounce = \"5\"\n",
                "route53.debounce: \"5\" is not valid; expected a duration, such as \"200ms\"",
            ),
            (
                "[route53]\nzone_id = \"Z1\"\nmax_requests_per_second = -1\n",
                "route53.max_requests_per_second: -1 is not valid; expected an integer, 0..=4294967295, such as 5",
            ),
            (
                "[route53]\nzone_id = \"Z1\"\n[selection]\nrespect_health = \"maybe\"\n",
                "selection.respect_health: \"maybe\" is not valid; expected true or false",
            ),
            (
                "[route53]\nzone_id = \"Z1\"\n[log]\nformat = \"xml\"\n",
                "log.format: \"xml\" is not valid; expected text or json",
            ),
            (
                "[route53]\nzone_id = \"Z1\"\n[selection]\nfamily_suffixes = \"-service\"\n",
                "selection.family_suffixes: \"-service\" is not valid; expected a list, such as [\"-service\", \".service\"]",
            ),
            ("route53 = 5\n", "route53: 5 is not valid; expected a table ([route53])"),
            (
                "[route53]\nzone_id = \"Z1\"\nrouting = 5\n",
                "route53.routing: 5 is not valid; expected a string, such as \"multivalue\"",
            ),
            (
                "[route53]\nzone_id = \"Z1\"\n[route53.ttl]\nx = 1\n",
                "route53.ttl: a table is not valid; expected an integer, such as 10",
            ),
        ];
        for (text, message) in cases {
            let err = load(text, &[]).unwrap_err();
            assert_eq!(&err.to_string(), message, "for {text:?}");
        }
        let cases: &[(&str, &str, &str)] = &[
            (
                "R53R_ROUTE53__ROUTING",
                "geo",
                "route53.routing: \"geo\" is not valid; expected one of multivalue, weighted, simple",
            ),
            (
                "R53R_ROUTE53",
                "5",
                "route53: \"5\" is not valid; expected a table ([route53])",
            ),
            (
                "R53R_ROUTE53__TTL__X",
                "1",
                "route53.ttl: a table is not valid; expected an integer, such as 10",
            ),
        ];
        for (var, value, message) in cases {
            let err = load(ZONE, &[(var, value)]).unwrap_err();
            assert_eq!(&err.to_string(), message, "for {var}={value:?}");
        }
        // The file is checked before a variable can lay a section over its value.
        let err = load("route53 = 5\n", &[("R53R_ROUTE53__ZONE_ID", "Z1")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "route53: 5 is not valid; expected a table ([route53])"
        );
    }

    #[test]
    fn validation_names_the_broken_rule() {
        type Edit = fn(&mut Settings);
        let cases: &[(&str, Edit, &str)] = &[
            ("zone id", |s| s.route53.zone_id = " ".into(), "route53.zone_id is required"),
            ("ttl high", |s| s.route53.ttl = 3_000_000_000, "route53.ttl: 3000000000 is out of range; expected 0..=2147483647"),
            ("ttl negative", |s| s.route53.ttl = -1, "route53.ttl: -1 is out of range; expected 0..=2147483647"),
            ("weight", |s| s.route53.weight = 256, "route53.weight: 256 is out of range; expected 0..=255"),
            ("weight negative", |s| s.route53.weight = -1, "route53.weight: -1 is out of range; expected 0..=255"),
            ("rate", |s| s.route53.max_requests_per_second = 0, "route53.max_requests_per_second: 0 is out of range; expected at least 1"),
            (
                "debounce",
                |s| s.route53.debounce = Duration::from_secs(2),
                "route53.debounce: 2s is not valid; expected at most route53.max_delay (1s)",
            ),
            (
                "verify",
                |s| s.route53.verify_interval = Duration::from_millis(999),
                "route53.verify_interval: 999ms is out of range; expected at least 1s",
            ),
            (
                "spread",
                |s| s.route53.startup_spread = StartSpread::Over(Duration::from_secs(3601)),
                "route53.startup_spread: 1h 1s is out of range; expected \"auto\", or at most 1h",
            ),
            (
                "docker host",
                |s| s.docker.host = "/var/run/docker.sock".into(),
                "docker.host: \"/var/run/docker.sock\" is not valid; expected empty, or a unix://, tcp:// or http:// URL such as unix:///var/run/docker.sock",
            ),
            ("docker host empty url", |s| s.docker.host = "tcp://".into(), "docker.host: \"tcp://\" is not valid"),
            ("resync", |s| s.docker.resync_interval = Duration::ZERO, "docker.resync_interval: 0s is not valid"),
            ("family label", |s| s.selection.family_label = "".into(), "selection.family_label: \"\" is not valid; expected a non-empty label key"),
            ("name label", |s| s.selection.name_label = "".into(), "selection.name_label: \"\" is not valid"),
            ("override label", |s| s.selection.name_override_label = "".into(), "selection.name_override_label: \"\" is not valid"),
            ("ignore label", |s| s.selection.ignore_label = " ".into(), "selection.ignore_label: \" \" is not valid"),
            (
                "suffix",
                |s| s.selection.family_suffixes = vec!["-service".into(), "".into()],
                "selection.family_suffixes[1]: \"\" is not valid; expected a list of non-empty strings",
            ),
            ("ip", |s| s.host.ip = "10.0.0".into(), "host.ip: \"10.0.0\" is not valid; expected empty, or an IPv4 address"),
            ("ip v6", |s| s.host.ip = "::1".into(), "host.ip: \"::1\" is not valid"),
            ("owner", |s| s.host.owner_id = "x".repeat(129), "host.owner_id: \"xxx"),
            ("gc interval", |s| s.gc.interval = Duration::ZERO, "gc.interval: 0s is not valid"),
            ("gc grace", |s| s.gc.grace = Duration::ZERO, "gc.grace: 0s is not valid"),
            (
                "gc without a ledger",
                |s| {
                    s.gc.enabled = true;
                    s.route53.ledger = false;
                },
                "gc.enabled: true is not valid; expected false while route53.ledger = false",
            ),
            ("shutdown", |s| s.shutdown.timeout = Duration::ZERO, "shutdown.timeout: 0s is not valid"),
            ("listen", |s| s.http.listen = "localhost".into(), "http.listen: \"localhost\" is not valid; expected empty, or a socket address"),
            ("level", |s| s.log.level = "info=lol".into(), "log.level: \"info=lol\" is not valid; expected a tracing filter"),
            ("level empty", |s| s.log.level = "".into(), "log.level: \"\" is not valid"),
        ];
        for (name, edit, message) in cases {
            let mut s = defaults_with_zone("Z1");
            edit(&mut s);
            let err = s.validate().unwrap_err().to_string();
            assert!(
                err.starts_with(message),
                "{name}: {err:?} does not start with {message:?}"
            );
        }
    }

    #[test]
    fn validation_accepts_the_edges() {
        type Edit = fn(&mut Settings);
        let cases: &[(&str, Edit)] = &[
            ("defaults", |_| {}),
            ("ttl 0", |s| s.route53.ttl = 0),
            ("ttl max", |s| s.route53.ttl = 2_147_483_647),
            ("weight 0", |s| s.route53.weight = 0),
            ("weight 255", |s| s.route53.weight = 255),
            ("debounce = max_delay", |s| {
                s.route53.debounce = s.route53.max_delay
            }),
            ("verify 1s", |s| {
                s.route53.verify_interval = Duration::from_secs(1)
            }),
            ("unix", |s| {
                s.docker.host = "unix:///var/run/docker.sock".into()
            }),
            ("tcp", |s| s.docker.host = "tcp://127.0.0.1:2375".into()),
            ("http", |s| s.docker.host = "http://127.0.0.1:2375".into()),
            ("no suffixes", |s| s.selection.family_suffixes.clear()),
            ("ip", |s| s.host.ip = "10.0.0.12".into()),
            ("owner 128", |s| s.host.owner_id = "i".repeat(128)),
            ("listen off", |s| s.http.listen = "".into()),
            ("listen v6", |s| s.http.listen = "[::1]:9753".into()),
            ("level directive", |s| {
                s.log.level = "warn,route53_registrator=debug".into()
            }),
        ];
        for (name, edit) in cases {
            let mut s = defaults_with_zone("Z1");
            edit(&mut s);
            assert_eq!(s.validate(), Ok(()), "{name}");
        }
    }

    #[test]
    fn validation_runs_on_load() {
        let err = load("[route53]\nzone_id = \"Z1\"\nttl = 3000000000\n", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "route53.ttl: 3000000000 is out of range; expected 0..=2147483647"
        );
    }

    #[test]
    fn printed_config_loads_back_to_the_same_settings() {
        let mut s = defaults_with_zone("Z9");
        s.route53.routing = Routing::Weighted;
        s.route53.debounce = Duration::from_millis(250);
        s.route53.verify_interval = Duration::from_secs(3600 + 60);
        s.selection.family_suffixes = vec!["-x".into()];
        s.log.format = LogFormat::Json;
        let text = s.to_toml();
        assert!(text.contains("debounce = \"250ms\""), "{text}");
        assert!(text.contains("verify_interval = \"1h 1m\""), "{text}");
        assert!(text.contains("routing = \"weighted\""), "{text}");
        assert_eq!(load(&text, &[]).unwrap(), s);
    }

    #[test]
    fn environment_strings_are_taken_as_written() {
        let s = Settings::load_from(
            None,
            env(&[
                ("R53R_ROUTE53__ZONE_ID", "0012"),
                ("R53R_HOST__OWNER_ID", "00012"),
                ("R53R_LOG__LEVEL", "1e3"),
                ("R53R_HTTP__LISTEN", ""),
            ]),
        )
        .unwrap();
        assert_eq!(s.route53.zone_id, "0012");
        assert_eq!(
            s.host.owner_id, "00012",
            "the SetIdentifier must not change"
        );
        assert_eq!(s.log.level, "1e3");
        assert_eq!(s.http.listen, "");
        let s = load(ZONE, &[("R53R_HOST__OWNER_ID", "1e5")]).unwrap();
        assert_eq!(s.host.owner_id, "1e5");
        let s = load(ZONE, &[("R53R_HOST__OWNER_ID", "-0.50")]).unwrap();
        assert_eq!(s.host.owner_id, "-0.50");
    }

    #[test]
    fn integer_keys_take_only_integers_from_the_environment() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "R53R_ROUTE53__WEIGHT",
                "3.7",
                "route53.weight: 3.7 is not valid; expected an integer, such as 50",
            ),
            (
                "R53R_ROUTE53__TTL",
                "1e3",
                "route53.ttl: 1e3 is not valid; expected an integer, such as 10",
            ),
            (
                "R53R_ROUTE53__TTL",
                "true",
                "route53.ttl: true is not valid; expected an integer, such as 10",
            ),
            (
                "R53R_ROUTE53__TTL",
                "",
                "route53.ttl: \"\" is not valid; expected an integer, such as 10",
            ),
            (
                "R53R_ROUTE53__MAX_REQUESTS_PER_SECOND",
                "2.5",
                "route53.max_requests_per_second: 2.5 is not valid; expected an integer, such as 5",
            ),
        ];
        for (var, value, message) in cases {
            let err = load(ZONE, &[(var, value)]).unwrap_err().to_string();
            assert!(
                err.starts_with(message),
                "{var}={value:?}: {err:?} does not start with {message:?}"
            );
        }
        let s = load(
            ZONE,
            &[
                ("R53R_ROUTE53__TTL", "007"),
                ("R53R_ROUTE53__WEIGHT", " 255 "),
                ("R53R_ROUTE53__MAX_REQUESTS_PER_SECOND", "3"),
            ],
        )
        .unwrap();
        assert_eq!(
            (
                s.route53.ttl,
                s.route53.weight,
                s.route53.max_requests_per_second
            ),
            (7, 255, 3)
        );
    }

    #[test]
    fn integer_keys_take_only_integers_from_the_file() {
        let cases: &[(&str, &str)] = &[
            (
                "weight = 3.7",
                "route53.weight: 3.7 is not valid; expected an integer, such as 50",
            ),
            (
                "ttl = true",
                "route53.ttl: true is not valid; expected an integer, such as 10",
            ),
            (
                "ttl = \"10\"",
                "route53.ttl: \"10\" is not valid; expected an integer, such as 10",
            ),
        ];
        for (line, message) in cases {
            let err = load(&format!("{ZONE}{line}\n"), &[])
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(message),
                "{line}: {err:?} does not start with {message:?}"
            );
        }
    }

    #[test]
    fn boolean_keys_take_only_true_or_false() {
        let s = load(
            ZONE,
            &[
                ("R53R_GC__ENABLED", "TRUE"),
                ("R53R_SELECTION__RESPECT_HEALTH", "false"),
            ],
        )
        .unwrap();
        assert!(s.gc.enabled);
        assert!(!s.selection.respect_health);
        for value in ["yes", "1", "on", ""] {
            let err = load(ZONE, &[("R53R_GC__ENABLED", value)]).unwrap_err();
            assert_eq!(err.key(), Some("gc.enabled"), "{value:?}: {err}");
            assert!(
                err.to_string()
                    .ends_with("is not valid; expected true or false"),
                "{value:?}: {err}"
            );
        }
        let err = load(&format!("{ZONE}[gc]\nenabled = 1\n"), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "gc.enabled: 1 is not valid; expected true or false"
        );
    }

    #[test]
    fn string_keys_take_only_strings_from_the_file() {
        let err = load(&format!("{ZONE}[host]\nowner_id = 1e5\n"), &[]).unwrap_err();
        assert_eq!(err.key(), Some("host.owner_id"), "{err}");
        let err = load("[route53]\nzone_id = 12\n", &[]).unwrap_err();
        assert_eq!(err.key(), Some("route53.zone_id"), "{err}");
        let err = load(
            &format!("{ZONE}[selection]\nfamily_suffixes = [\"-a\", 5]\n"),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "selection.family_suffixes[1]: 5 is not valid; expected a string, such as \".service\""
        );
    }

    #[test]
    fn list_items_from_the_environment_are_trimmed() {
        let s = load(
            ZONE,
            &[("R53R_SELECTION__FAMILY_SUFFIXES", " -service, .service ")],
        )
        .unwrap();
        assert_eq!(
            s.selection.family_suffixes,
            vec!["-service".to_string(), ".service".to_string()]
        );
        let s = load(ZONE, &[("R53R_SELECTION__FAMILY_SUFFIXES", "  ")]).unwrap();
        assert_eq!(s.selection.family_suffixes, Vec::<String>::new());
    }

    #[test]
    fn empty_list_items_from_the_environment_are_refused() {
        for (value, index) in [
            ("-service,,.service", 1),
            ("-service,", 1),
            (" , .service", 0),
        ] {
            let err = load(ZONE, &[("R53R_SELECTION__FAMILY_SUFFIXES", value)]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "selection.family_suffixes[{index}]: \"\" (in R53R_SELECTION__FAMILY_SUFFIXES={value:?}) \
                     is not valid; expected comma-separated non-empty items"
                )
            );
        }
    }

    #[test]
    fn list_items_with_surrounding_spaces_are_refused() {
        for item in [" .service", "-service ", " "] {
            let mut s = defaults_with_zone("Z1");
            s.selection.family_suffixes = vec!["-a".into(), item.into()];
            let err = s.validate().unwrap_err();
            assert_eq!(
                err.key(),
                Some("selection.family_suffixes[1]"),
                "{item:?}: {err}"
            );
        }
    }

    #[test]
    fn every_routing_is_accepted() {
        for (text, routing) in [
            ("multivalue", Routing::Multivalue),
            ("weighted", Routing::Weighted),
            ("simple", Routing::Simple),
        ] {
            let file = format!("[route53]\nzone_id = \"Z1\"\nrouting = \"{text}\"\n");
            assert_eq!(load(&file, &[]).unwrap().route53.routing, routing);
            let from_env = load(ZONE, &[("R53R_ROUTE53__ROUTING", text)]).unwrap();
            assert_eq!(from_env.route53.routing, routing);
        }
    }

    #[test]
    fn a_missing_zone_id_says_what_to_give() {
        let message =
            "route53.zone_id is required; expected the id of a private hosted zone, such as \
                       Z0123456789ABCDEFGHIJ";
        let err = Settings::load_from(None, env(&[])).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(err.key(), Some("route53.zone_id"));
        let err = load("[route53]\nzone_id = \" \"\n", &[]).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
}
