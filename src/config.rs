//! Settings: the structs every key of `config/route53-registrator.toml` lands in.
//!
//! Layering (defaults → file → `R53R_<SECTION>__<KEY>` environment) and `validate()` live here too.
//! Every struct denies unknown keys, so a typo is an error rather than a silently ignored setting, and every
//! value must have its key's type (see `Kind`): nothing is converted by guesswork, so `R53R_HOST__OWNER_ID=00012`
//! stays `00012` and `R53R_ROUTE53__WEIGHT=3.7` is refused rather than rounded.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::route53::Routing;

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub route53: Route53Settings,
    pub docker: DockerSettings,
    pub selection: SelectionSettings,
    pub host: HostSettings,
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
    /// `multivalue` or `weighted`. `simple` is parsed, so that its error says it is not supported yet, and
    /// refused by [`Settings::validate`] until the writer can compare-and-swap shared record sets.
    pub routing: Routing,
    /// Weight of this instance's record sets when `routing = "weighted"`, 0..=255.
    pub weight: i64,
    /// How long the writer waits after the last change before it sends a batch.
    #[serde(with = "humantime_serde")]
    pub debounce: Duration,
    /// The longest the writer holds a change back while changes keep arriving.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Route53 requests per second this instance sends at most (the account allows about 5 in all).
    pub max_requests_per_second: u32,
    /// The shortest interval between two verifications of this instance's records against Route53.
    #[serde(with = "humantime_serde")]
    pub verify_interval: Duration,
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
            verify_interval: Duration::from_secs(15 * 60),
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

/// `[gc]`: clean-up of the records of instances that are gone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcSettings {
    /// Whether this instance takes part in cleaning up (needs `ec2:DescribeInstances`).
    pub enabled: bool,
    /// How often, jittered.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long an owner must have been gone before its records are withdrawn.
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
    /// `/healthz` fails once the Docker event stream has been down this long.
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

/// The origin the `config` crate gives every value taken from the environment.
const ENV_ORIGIN: &str = "the environment";

/// The type a key's value must have, checked by us rather than left to the `config` crate: the crate would
/// convert between types on its own, turning the string `00012` into the number 12, `1e5` into 100000, the
/// float 3.7 into the integer 4 and `yes` into `true`. Here a value is taken exactly as written, or refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A string (durations and the enums too): in the environment, the variable's text as it is.
    Str,
    /// An integer: in the environment, decimal digits with an optional sign.
    Int,
    /// `true` or `false`.
    Bool,
    /// A list of strings: in the environment, comma-separated, each item trimmed.
    List,
}

/// Every key, its type, and what a valid value looks like. It is the list of known keys (anything else is
/// refused), the type each value is checked against, and the "expected …" half of every error message; a unit
/// test keeps it in step with the structs.
const KEYS: &[(&str, Kind, &str)] = &[
    (
        "route53.zone_id",
        Kind::Str,
        "the id of a private hosted zone, such as Z0123456789ABCDEFGHIJ",
    ),
    (
        "route53.ttl",
        Kind::Int,
        "an integer number of seconds, 0..=2147483647",
    ),
    ("route53.routing", Kind::Str, "one of multivalue, weighted"),
    ("route53.weight", Kind::Int, "an integer, 0..=255"),
    (
        "route53.debounce",
        Kind::Str,
        "a duration such as 200ms, at most route53.max_delay",
    ),
    (
        "route53.max_delay",
        Kind::Str,
        "a duration such as 1s, at least route53.debounce",
    ),
    (
        "route53.max_requests_per_second",
        Kind::Int,
        "an integer, at least 1",
    ),
    (
        "route53.verify_interval",
        Kind::Str,
        "a duration of at least 1s, such as 15m",
    ),
    (
        "docker.host",
        Kind::Str,
        "empty, or a unix://, tcp:// or http:// URL such as unix:///var/run/docker.sock",
    ),
    (
        "docker.resync_interval",
        Kind::Str,
        "a duration greater than 0, such as 60s",
    ),
    ("selection.family_label", Kind::Str, "a non-empty label key"),
    ("selection.name_label", Kind::Str, "a non-empty label key"),
    (
        "selection.family_suffixes",
        Kind::List,
        "a list of non-empty strings without surrounding spaces, such as [\"-service\", \".service\"]",
    ),
    (
        "selection.name_override_label",
        Kind::Str,
        "a non-empty label key",
    ),
    ("selection.ignore_label", Kind::Str, "a non-empty label key"),
    ("selection.respect_health", Kind::Bool, "true or false"),
    (
        "host.ip",
        Kind::Str,
        "empty, or an IPv4 address such as 10.0.0.12",
    ),
    (
        "host.owner_id",
        Kind::Str,
        "empty, or a string of at most 128 characters (Route53's SetIdentifier limit)",
    ),
    ("gc.enabled", Kind::Bool, "true or false"),
    (
        "gc.interval",
        Kind::Str,
        "a duration greater than 0, such as 10m",
    ),
    ("gc.grace", Kind::Str, "a duration greater than 0, such as 5m"),
    ("shutdown.deregister", Kind::Bool, "true or false"),
    (
        "shutdown.timeout",
        Kind::Str,
        "a duration greater than 0, such as 20s",
    ),
    (
        "http.listen",
        Kind::Str,
        "empty, or a socket address such as 0.0.0.0:9753",
    ),
    ("http.docker_grace", Kind::Str, "a duration such as 30s"),
    ("log.format", Kind::Str, "one of text, json"),
    (
        "log.level",
        Kind::Str,
        "a tracing filter such as info or route53_registrator=debug",
    ),
];

/// Whether `key` is a key of [`KEYS`] (no list index).
fn is_known(key: &str) -> bool {
    KEYS.iter().any(|(k, _, _)| *k == key)
}

/// The type of `key`'s value, when `key` is known.
fn kind_of(key: &str) -> Option<Kind> {
    KEYS.iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, kind, _)| *kind)
}

/// What a valid value of `key` looks like (`key` may carry a list index: `selection.family_suffixes[1]`).
fn expected_for(key: &str) -> Option<&'static str> {
    let key = key.split('[').next().unwrap_or(key);
    KEYS.iter().find(|(k, _, _)| *k == key).map(|(_, _, e)| *e)
}

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
    /// A documented value this version cannot act on yet (`routing = "simple"`).
    #[error("{key}: {value} is not supported yet; expected {expected}")]
    Unsupported {
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
            | ConfigError::Invalid { key, .. }
            | ConfigError::Unsupported { key, .. } => Some(key),
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

fn invalid_default(key: &str, value: impl std::fmt::Display) -> ConfigError {
    invalid(key, value, expected_for(key).unwrap_or("a valid value"))
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
        // Strings (and unknown keys, refused below naming their variable) go to the crate's environment
        // source as they are; typed keys are converted here, strictly, and set as overrides.
        let mut vars = ::config::Map::new();
        let mut typed = BTreeMap::new();
        let mut file_from_env = None;
        let prefix = format!("{}_", ENV_PREFIX.to_ascii_lowercase());
        for (name, value) in env {
            if name == CONFIG_FILE_ENV {
                file_from_env = Some(value).filter(|v| !v.is_empty()).map(PathBuf::from);
                continue;
            }
            // The key the crate derives from the name: prefix dropped, lower-cased, "__" → ".".
            let Some(key) = name
                .to_ascii_lowercase()
                .strip_prefix(&prefix)
                .map(|k| k.replace("__", "."))
            else {
                continue;
            };
            match kind_of(&key) {
                Some(kind) if kind != Kind::Str => {
                    typed.insert(key, (kind, name, value));
                }
                _ => {
                    vars.insert(name, value);
                }
            }
        }
        let file = file.map(Path::to_path_buf).or(file_from_env);

        let mut builder = ::config::Config::builder();
        if let Some(path) = &file {
            // Read the file ourselves: the crate's "not found" message does not say which file it wanted.
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            builder =
                builder.add_source(::config::File::from_str(&text, ::config::FileFormat::Toml));
        }
        // The crate's prefix separator defaults to `separator` ("__"), which would silently ignore
        // `R53R_ROUTE53__ZONE_ID`; hence the explicit "_". No `try_parsing`: it guesses a type from the text
        // (see [`Kind`]); every value reaching the crate here is a string key's, kept as written.
        let environment = ::config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("_")
            .separator("__")
            .try_parsing(false);
        builder = builder.add_source(environment.source(Some(vars)));
        for (key, (kind, name, value)) in &typed {
            let value = env_value(key, *kind, name, value)?;
            builder = builder
                .set_override(key.as_str(), value)
                .map_err(|e| invalid(key, e, expected_for(key).unwrap_or("a valid value")))?;
        }

        let origin_of_file = file.as_ref().map(|p| p.display().to_string());
        let merged = builder.build().map_err(|e| match &file {
            Some(path) => ConfigError::File {
                path: path.clone(),
                reason: e.to_string(),
            },
            None => invalid("environment", e, "R53R_<SECTION>__<KEY>=<value>"),
        })?;

        check_unknown_keys(&merged, origin_of_file.as_deref())?;
        check_kinds(&merged)?;
        let settings: Settings = merged
            .clone()
            .try_deserialize()
            .map_err(|e| map_deserialize_error(&merged, e))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every rule a value must follow beyond its type; the first broken rule is the error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let r = &self.route53;
        if r.zone_id.trim().is_empty() {
            return Err(ConfigError::Required {
                key: "route53.zone_id".into(),
                expected: expected_for("route53.zone_id").unwrap_or_default().into(),
            });
        }
        if r.routing == Routing::Simple {
            // Parsed as a known value so that this message, not "unknown variant", is what a user of the
            // documented setting sees; the writer cannot do compare-and-swap record sets yet.
            return Err(ConfigError::Unsupported {
                key: "route53.routing".into(),
                value: "\"simple\"".into(),
                expected: "multivalue or weighted".into(),
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

        let host = &self.docker.host;
        let scheme_ok = ["unix://", "tcp://", "http://"]
            .iter()
            .any(|s| host.strip_prefix(s).is_some_and(|rest| !rest.is_empty()));
        if !host.is_empty() && !scheme_ok {
            return Err(invalid_default("docker.host", format!("{host:?}")));
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
                return Err(invalid_default(key, format!("{value:?}")));
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
            return Err(invalid_default(
                &format!("selection.family_suffixes[{i}]"),
                format!("{suffix:?}"),
            ));
        }

        if !self.host.ip.is_empty() && self.host.ip.parse::<Ipv4Addr>().is_err() {
            return Err(invalid_default("host.ip", format!("{:?}", self.host.ip)));
        }
        if self.host.owner_id.chars().count() > 128 {
            return Err(invalid_default(
                "host.owner_id",
                format!("{:?}", self.host.owner_id),
            ));
        }

        positive("gc.interval", self.gc.interval)?;
        positive("gc.grace", self.gc.grace)?;
        positive("shutdown.timeout", self.shutdown.timeout)?;

        if !self.http.listen.is_empty() && self.http.listen.parse::<SocketAddr>().is_err() {
            return Err(invalid_default(
                "http.listen",
                format!("{:?}", self.http.listen),
            ));
        }

        let level = &self.log.level;
        if level.trim().is_empty() || tracing_subscriber::EnvFilter::try_new(level).is_err() {
            return Err(invalid_default("log.level", format!("{level:?}")));
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
        return Err(invalid_default(key, "0s"));
    }
    Ok(())
}

/// The environment variable that sets `key`: `route53.zone_id` → `R53R_ROUTE53__ZONE_ID`.
fn env_var_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}_{}",
        key.to_ascii_uppercase().replace('.', "__")
    )
}

/// The value of a typed key's environment variable `name`, converted by the rules of [`Kind`]: integers and
/// booleans trimmed and parsed strictly, lists split on commas with every item trimmed and none empty.
fn env_value(key: &str, kind: Kind, name: &str, raw: &str) -> Result<::config::Value, ConfigError> {
    let text = raw.trim();
    // As written, like a TOML number or boolean would be shown; `""` makes an empty variable visible.
    let shown = if text.is_empty() { "\"\"" } else { text };
    let refuse = || invalid_default(key, shown);
    match kind {
        Kind::Str => Ok(raw.into()),
        Kind::Int => text.parse::<i64>().map(Into::into).map_err(|_| refuse()),
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" => Ok(true.into()),
            "false" => Ok(false.into()),
            _ => Err(refuse()),
        },
        Kind::List if text.is_empty() => Ok(Vec::<String>::new().into()),
        Kind::List => {
            let items: Vec<&str> = raw.split(',').map(str::trim).collect();
            if let Some(i) = items.iter().position(|item| item.is_empty()) {
                return Err(invalid(
                    &format!("{key}[{i}]"),
                    format!("\"\" (in {name}={raw:?})"),
                    "comma-separated non-empty items",
                ));
            }
            Ok(items
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
                .into())
        }
    }
}

/// Refuses a value whose type is not its key's [`Kind`] (`ttl = 3.7`, `ttl = "10"`, `enabled = 1`,
/// `owner_id = 1e5`), before the crate's deserialiser would convert it without a word.
fn check_kinds(merged: &::config::Config) -> Result<(), ConfigError> {
    use ::config::ValueKind as V;
    for (key, kind, expected) in KEYS {
        // Absent: the default applies.
        let Ok(value) = merged.get::<::config::Value>(key) else {
            continue;
        };
        let fits = match (kind, &value.kind) {
            (Kind::Str, V::String(_)) | (Kind::Bool, V::Boolean(_)) => true,
            (Kind::Int, V::I64(_) | V::I128(_) | V::U64(_) | V::U128(_)) => true,
            (Kind::List, V::Array(items)) => {
                if let Some(i) = items.iter().position(|v| !matches!(v.kind, V::String(_))) {
                    return Err(invalid(
                        &format!("{key}[{i}]"),
                        show_value(&items[i]),
                        *expected,
                    ));
                }
                true
            }
            _ => false,
        };
        if !fits {
            return Err(invalid(key, show_value(&value), *expected));
        }
    }
    Ok(())
}

/// Refuses keys no setting has, naming where each came from. serde's `deny_unknown_fields` would refuse them
/// too, but its message names neither the file nor the variable.
fn check_unknown_keys(merged: &::config::Config, file: Option<&str>) -> Result<(), ConfigError> {
    use ::config::Source;
    let tree = merged.collect().unwrap_or_default();
    let mut sections: Vec<&str> = KEYS
        .iter()
        .filter_map(|(k, _, _)| k.split('.').next())
        .collect();
    sections.dedup();
    let mut leaves = Vec::new();
    for (name, value) in sorted(&tree) {
        collect_leaves(name.clone(), value, &mut leaves);
    }
    for (key, value, origin) in leaves {
        if is_known(&key) {
            continue;
        }
        if sections.contains(&key.as_str()) {
            // `route53 = 5`, or `R53R_ROUTE53=5`: a section given as a plain value.
            return Err(invalid(&key, value, format!("a table ([{key}])")));
        }
        let section = key.split('.').next().unwrap_or(&key);
        let expected = if sections.contains(&section) {
            KEYS.iter()
                .filter(|(k, _, _)| k.split('.').next() == Some(section))
                .map(|(k, _, _)| *k)
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            format!("the sections {}", sections.join(", "))
        };
        let origin = match origin.as_deref() {
            // The crate marks every environment value with this one origin; name the variable instead.
            Some(ENV_ORIGIN) => env_var_name(&key),
            _ => file.unwrap_or("the configuration").to_owned(),
        };
        return Err(ConfigError::UnknownKey {
            key,
            origin,
            expected,
        });
    }
    Ok(())
}

fn sorted(map: &::config::Map<String, ::config::Value>) -> BTreeMap<&String, &::config::Value> {
    map.iter().collect()
}

/// The dotted paths of the leaves under `value` (a table's keys; a list or a scalar is one leaf), each with
/// its value as written and the origin the crate recorded.
fn collect_leaves(
    path: String,
    value: &::config::Value,
    out: &mut Vec<(String, String, Option<String>)>,
) {
    match &value.kind {
        ::config::ValueKind::Table(table) if !is_known(&path) => {
            for (name, child) in sorted(table) {
                collect_leaves(format!("{path}.{name}"), child, out);
            }
        }
        _ => out.push((path, show_value(value), value.origin().map(str::to_owned))),
    }
}

/// Turns the crate's deserialisation error into one that names the key, the value as written and what would
/// be valid (the crate's own message for an enum, for one, lists no variants).
fn map_deserialize_error(merged: &::config::Config, err: ::config::ConfigError) -> ConfigError {
    let (key, message) = error_key(&err);
    let Some(key) = key else {
        return invalid(
            "config",
            format!("{err}"),
            "a table of the documented sections",
        );
    };
    if let Some(field) = message
        .strip_prefix("unknown field `")
        .and_then(|m| m.split('`').next())
    {
        let section = key.clone();
        return ConfigError::UnknownKey {
            key: format!("{key}.{field}"),
            origin: "the configuration".into(),
            expected: KEYS
                .iter()
                .filter(|(k, _, _)| k.split('.').next() == Some(section.as_str()))
                .map(|(k, _, _)| *k)
                .collect::<Vec<_>>()
                .join(", "),
        };
    }
    let value = merged
        .get::<::config::Value>(&key)
        .map(|v| show_value(&v))
        .unwrap_or_else(|_| message.clone());
    match expected_for(&key) {
        Some(expected) => invalid(&key, value, expected),
        None => invalid(&key, value, message),
    }
}

/// The key an error of the crate is about (if it says), and its message without the key.
fn error_key(err: &::config::ConfigError) -> (Option<String>, String) {
    match err {
        ::config::ConfigError::Type { key, .. } => {
            let text = err.to_string();
            let text = text.split(" for key `").next().unwrap_or(&text).to_owned();
            (key.clone(), text)
        }
        ::config::ConfigError::At { error, key, .. } => (key.clone(), error.to_string()),
        ::config::ConfigError::NotFound(key) => (Some(key.clone()), err.to_string()),
        other => (None, other.to_string()),
    }
}

/// A value as a user would have written it: strings quoted, lists bracketed.
fn show_value(value: &::config::Value) -> String {
    match &value.kind {
        ::config::ValueKind::String(s) => format!("{s:?}"),
        ::config::ValueKind::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(show_value).collect::<Vec<_>>().join(", ")
            )
        }
        ::config::ValueKind::Table(_) => "a table".into(),
        _ => value.to_string(),
    }
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
    fn the_shipped_file_loads_and_holds_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/route53-registrator.toml");
        let s = Settings::load_from(Some(&path), env(&[])).unwrap();
        assert!(!s.route53.zone_id.is_empty());
        assert_eq!(s, defaults_with_zone(&s.route53.zone_id));
    }

    #[test]
    fn the_shipped_file_names_every_key() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/route53-registrator.toml"),
        )
        .unwrap();
        let table: toml::Table = text.parse().unwrap();
        for (key, _, _) in KEYS {
            let (section, name) = key.split_once('.').unwrap();
            assert!(
                table[section].get(name).is_some(),
                "{key} missing from the shipped file"
            );
        }
    }

    #[test]
    fn keys_table_matches_the_structs() {
        let toml::Value::Table(top) = toml::Value::try_from(Settings::default()).unwrap() else {
            panic!()
        };
        let mut from_structs: Vec<(String, Kind)> = Vec::new();
        for (section, value) in &top {
            for (key, value) in value.as_table().unwrap() {
                let kind = match value {
                    toml::Value::String(_) => Kind::Str,
                    toml::Value::Integer(_) => Kind::Int,
                    toml::Value::Boolean(_) => Kind::Bool,
                    toml::Value::Array(_) => Kind::List,
                    other => panic!("{section}.{key}: no kind for {other:?}"),
                };
                from_structs.push((format!("{section}.{key}"), kind));
            }
        }
        from_structs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut listed: Vec<(String, Kind)> = KEYS
            .iter()
            .map(|(k, kind, _)| (k.to_string(), *kind))
            .collect();
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(from_structs, listed);
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
        assert_eq!(err.key(), Some("route35.ttl"));
        assert!(
            err.to_string().contains("the sections route53, docker"),
            "{err}"
        );

        let err = load(ZONE, &[("R53R_VERBOSE", "1")]).unwrap_err();
        assert_eq!(err.key(), Some("verbose"));
    }

    #[test]
    fn type_errors_name_the_key_the_value_and_what_is_valid() {
        let cases: &[(&str, &str)] = &[
            (
                "[route53]\nzone_id = \"Z1\"\nrouting = \"geo\"\n",
                "route53.routing: \"geo\" is not valid; expected one of multivalue, weighted",
            ),
            (
                "[route53]\nzone_id = \"Z1\"\nttl = \"ten\"\n",
                "route53.ttl: \"ten\" is not valid; expected an integer number of seconds, 0..=2147483647",
            ),
            (
                "[route53]\nzone_id = \"Z1\"\ndebounce = \"5\"\n",
                "route53.debounce: \"5\" is not valid; expected a duration such as 200ms, at most route53.max_delay",
            ),
            (
                "[route53]\nzone_id = \"Z1\"\nmax_requests_per_second = -1\n",
                "route53.max_requests_per_second: -1 is not valid; expected an integer, at least 1",
            ),
            (
                "[route53]\nzone_id = \"Z1\"\n[selection]\nrespect_health = \"maybe\"\n",
                "selection.respect_health: \"maybe\" is not valid; expected true or false",
            ),
            (
                "[route53]\nzone_id = \"Z1\"\n[log]\nformat = \"xml\"\n",
                "log.format: \"xml\" is not valid; expected one of text, json",
            ),
            (
                "[route53]\nzone_id = \"Z1\"\n[selection]\nfamily_suffixes = \"-service\"\n",
                "selection.family_suffixes: \"-service\" is not valid; expected a list of non-empty strings without surrounding spaces, such as [\"-service\", \".service\"]",
            ),
            ("route53 = 5\n", "route53: 5 is not valid; expected a table ([route53])"),
        ];
        for (text, message) in cases {
            let err = load(text, &[]).unwrap_err();
            assert_eq!(&err.to_string(), message, "for {text:?}");
        }
        let err = load(ZONE, &[("R53R_ROUTE53__ROUTING", "geo")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "route53.routing: \"geo\" is not valid; expected one of multivalue, weighted"
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
                "route53.weight: 3.7 is not valid; expected an integer, 0..=255",
            ),
            (
                "R53R_ROUTE53__TTL",
                "1e3",
                "route53.ttl: 1e3 is not valid; expected an integer number of seconds, 0..=2147483647",
            ),
            (
                "R53R_ROUTE53__TTL",
                "true",
                "route53.ttl: true is not valid; expected an integer number of seconds",
            ),
            (
                "R53R_ROUTE53__TTL",
                "",
                "route53.ttl: \"\" is not valid; expected an integer number of seconds",
            ),
            (
                "R53R_ROUTE53__MAX_REQUESTS_PER_SECOND",
                "2.5",
                "route53.max_requests_per_second: 2.5 is not valid; expected an integer, at least 1",
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
                "route53.weight: 3.7 is not valid; expected an integer, 0..=255",
            ),
            (
                "ttl = true",
                "route53.ttl: true is not valid; expected an integer number of seconds",
            ),
            (
                "ttl = \"10\"",
                "route53.ttl: \"10\" is not valid; expected an integer number of seconds",
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
            "selection.family_suffixes[1]: 5 is not valid; expected a list of non-empty strings without \
             surrounding spaces, such as [\"-service\", \".service\"]"
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
    fn simple_routing_is_refused_until_it_exists() {
        let message =
            "route53.routing: \"simple\" is not supported yet; expected multivalue or weighted";
        let err = load("[route53]\nzone_id = \"Z1\"\nrouting = \"simple\"\n", &[]).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(err.key(), Some("route53.routing"));
        let err = load(ZONE, &[("R53R_ROUTE53__ROUTING", "simple")]).unwrap_err();
        assert_eq!(err.to_string(), message);
        let mut s = defaults_with_zone("Z1");
        s.route53.routing = Routing::Simple;
        assert_eq!(s.validate().unwrap_err().to_string(), message);
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
