//! Settings: the structs every key of `config/route53-registrator.toml` lands in.
//!
//! Layering (defaults → file → `R53R_<SECTION>__<KEY>` environment) and `validate()` live here too.
//! Every struct denies unknown keys, so a typo is an error rather than a silently ignored setting.

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
    /// `multivalue`, `weighted` or `simple`.
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
        DockerSettings { host: String::new(), resync_interval: Duration::from_secs(60) }
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
        GcSettings { enabled: false, interval: Duration::from_secs(600), grace: Duration::from_secs(300) }
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
        ShutdownSettings { deregister: false, timeout: Duration::from_secs(20) }
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
        HttpSettings { listen: "0.0.0.0:9753".into(), docker_grace: Duration::from_secs(30) }
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
        LogSettings { format: LogFormat::Text, level: "info".into() }
    }
}
