//! The deployment kit in `deploy/` agrees with itself and with the code.
//!
//! - every JSON file there parses;
//! - the task definition runs the daemon the way deploy/README.md says (host network, EC2, read-only root,
//!   no capability, the Docker socket read-only, an exec-form healthcheck, AWS_REGION set, a stop timeout
//!   longer than the shutdown flush, memory from the README's measured footprint), and its `R53R_` variables
//!   are a configuration the daemon accepts;
//! - the IAM policy grants exactly the AWS operations the code calls (found by scanning `src/` for SDK client
//!   calls), and its conditions allow exactly the record types and change actions the code can send;
//! - the CloudFormation template's task role carries the same policy and its task definition the same
//!   settings.
//!
//! Nothing here talks to AWS or Docker: it reads files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use route53_registrator::config::Settings;
use route53_registrator::docker::engine::DEFAULT_DOCKER_HOST;
use route53_registrator::writer::ledger::LEDGER_TYPE;
use route53_registrator::writer::record::RECORD_TYPE;
use serde_json::Value;

const TASK_DEFINITION: &str = "deploy/task-definition.json";
const IAM_POLICY: &str = "deploy/iam-policy.json";
const CLOUDFORMATION: &str = "deploy/cloudformation.json";
const DEPLOY_README: &str = "deploy/README.md";

/// Where the image holds the binary (its `ENTRYPOINT`); the healthcheck runs it directly, as there is no shell.
const IMAGE_BINARY: &str = "/route53-registrator";

/// The zone id the kit's configuration is checked with in place of its `<ZONE_ID>` placeholder.
const SAMPLE_ZONE_ID: &str = "Z0123456789ABCDEFGHIJ";

/// ECS refuses a `stopTimeout` above this many seconds.
const ECS_MAX_STOP_TIMEOUT: u64 = 120;

/// Methods of an SDK client that are not AWS operations (and need no permission).
const CLIENT_METHODS_NOT_OPERATIONS: &[&str] = &["config", "clone"];

// ---------------------------------------------------------------------------------------------------------
// Files

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_text(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{relative}: cannot read: {e}"))
}

fn read_json(relative: &str) -> Value {
    serde_json::from_str(&read_text(relative))
        .unwrap_or_else(|e| panic!("{relative}: not valid JSON: {e}"))
}

/// The value at `path` (object keys; array indices as numbers) in `file`, or a failure naming both.
fn at<'a>(file: &str, value: &'a Value, path: &[&str]) -> &'a Value {
    let mut current = value;
    for (i, step) in path.iter().enumerate() {
        let next = match step.parse::<usize>() {
            Ok(index) => current.get(index),
            Err(_) => current.get(*step),
        };
        current = next.unwrap_or_else(|| panic!("{file}: key {} is missing", path[..=i].join(".")));
    }
    current
}

fn str_at<'a>(file: &str, value: &'a Value, path: &[&str]) -> &'a str {
    at(file, value, path)
        .as_str()
        .unwrap_or_else(|| panic!("{file}: key {} is not a string", path.join(".")))
}

/// A string or a list of strings (IAM's `Action`, `Resource`), as a set.
fn string_or_list(file: &str, value: &Value, what: &str) -> BTreeSet<String> {
    match value {
        Value::String(s) => BTreeSet::from([s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .unwrap_or_else(|| panic!("{file}: {what} holds a non-string: {item}"))
                    .to_string()
            })
            .collect(),
        other => panic!("{file}: {what} is neither a string nor a list: {other}"),
    }
}

// ---------------------------------------------------------------------------------------------------------
// CloudFormation: its intrinsic functions resolved to the placeholders the plain JSON files use, so that the
// two can be compared.

/// What `Ref` of each parameter without a default stands for in the plain JSON files.
const PARAMETER_PLACEHOLDERS: &[(&str, &str)] = &[
    ("ZoneId", "<ZONE_ID>"),
    ("Cluster", "<CLUSTER>"),
    ("Image", "<IMAGE>"),
];

/// What each pseudo parameter stands for in the plain JSON files (`aws`: their ARNs are the commercial
/// partition's).
const PSEUDO_PARAMETERS: &[(&str, &str)] = &[
    ("AWS::Region", "<REGION>"),
    ("AWS::AccountId", "<ACCOUNT_ID>"),
    ("AWS::Partition", "aws"),
];

struct Template {
    doc: Value,
}

impl Template {
    fn load() -> Template {
        Template {
            doc: read_json(CLOUDFORMATION),
        }
    }

    fn resources(&self) -> &serde_json::Map<String, Value> {
        at(CLOUDFORMATION, &self.doc, &["Resources"])
            .as_object()
            .unwrap_or_else(|| panic!("{CLOUDFORMATION}: Resources is not an object"))
    }

    fn resource(&self, name: &str) -> &Value {
        self.resources()
            .get(name)
            .unwrap_or_else(|| panic!("{CLOUDFORMATION}: no resource {name}"))
    }

    /// The one resource of `kind`, and its logical name.
    fn only_resource_of(&self, kind: &str) -> (&str, &Value) {
        let found: Vec<(&String, &Value)> = self
            .resources()
            .iter()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "{CLOUDFORMATION}: expected exactly one resource of type {kind}, found {}",
            found.len()
        );
        (found[0].0.as_str(), found[0].1)
    }

    /// The logical name `value` refers to through `{"Fn::GetAtt": [name, "Arn"]}`.
    fn get_att_arn_target<'a>(&self, value: &'a Value, what: &str) -> &'a str {
        let parts = value
            .get("Fn::GetAtt")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{CLOUDFORMATION}: {what} is not an Fn::GetAtt: {value}"));
        assert_eq!(
            parts.get(1).and_then(Value::as_str),
            Some("Arn"),
            "{CLOUDFORMATION}: {what} must be the Arn of a role"
        );
        parts[0]
            .as_str()
            .unwrap_or_else(|| panic!("{CLOUDFORMATION}: {what} names no resource"))
    }

    /// `Ref name` as the plain JSON files write it.
    fn resolve_ref(&self, name: &str) -> String {
        if let Some((_, v)) = PSEUDO_PARAMETERS.iter().find(|(p, _)| *p == name) {
            return v.to_string();
        }
        if let Some(parameter) = self.doc.get("Parameters").and_then(|p| p.get(name)) {
            if let Some((_, v)) = PARAMETER_PLACEHOLDERS.iter().find(|(p, _)| *p == name) {
                return v.to_string();
            }
            return match parameter.get("Default") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => panic!(
                    "{CLOUDFORMATION}: parameter {name} has no default and no placeholder in this test"
                ),
            };
        }
        if let Some(resource) = self.resources().get(name) {
            // `Ref` of a log group is its name.
            if resource.get("Type").and_then(Value::as_str) == Some("AWS::Logs::LogGroup") {
                let group = at(CLOUDFORMATION, resource, &["Properties", "LogGroupName"]);
                return self.resolve_string(group, &format!("{name}.LogGroupName"));
            }
            return format!("<Ref {name}>");
        }
        panic!("{CLOUDFORMATION}: Ref of {name}, which is neither a parameter nor a resource")
    }

    fn resolve_sub(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .unwrap_or_else(|| panic!("{CLOUDFORMATION}: unclosed ${{ in Fn::Sub {text:?}"));
            let name = &after[..end];
            out.push_str(&match name.split_once('.') {
                Some((resource, attribute)) => format!("<{resource}.{attribute}>"),
                None => self.resolve_ref(name),
            });
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// `value` with every `Ref`, `Fn::Sub` and `Fn::GetAtt` replaced by what the plain JSON files write.
    fn resolve(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) if map.len() == 1 && map.contains_key("Ref") => {
                Value::String(self.resolve_ref(
                    map["Ref"].as_str().unwrap_or_else(|| {
                        panic!("{CLOUDFORMATION}: Ref of a non-string: {value}")
                    }),
                ))
            }
            Value::Object(map) if map.len() == 1 && map.contains_key("Fn::Sub") => {
                Value::String(self.resolve_sub(map["Fn::Sub"].as_str().unwrap_or_else(|| {
                    panic!(
                        "{CLOUDFORMATION}: only the string form of Fn::Sub is supported: {value}"
                    )
                })))
            }
            Value::Object(map) if map.len() == 1 && map.contains_key("Fn::GetAtt") => {
                let parts: Vec<&str> = map["Fn::GetAtt"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                Value::String(format!("<{}>", parts.join(".")))
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.resolve(v)).collect()),
            other => other.clone(),
        }
    }

    fn resolve_string(&self, value: &Value, what: &str) -> String {
        match self.resolve(value) {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            other => panic!("{CLOUDFORMATION}: {what} does not resolve to a string: {other}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Task definitions: the settings that matter, taken from either spelling (the ECS API's camelCase in
// task-definition.json, CloudFormation's PascalCase in the template).

#[derive(Clone, Copy)]
enum Spelling {
    Camel,
    Pascal,
}

impl Spelling {
    fn key(self, camel: &str) -> String {
        match self {
            Spelling::Camel => camel.to_string(),
            Spelling::Pascal => {
                let mut chars = camel.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            }
        }
    }

    /// `path` (camelCase) in this spelling; numbers stay.
    fn path(self, path: &[&str]) -> Vec<String> {
        path.iter().map(|p| self.key(p)).collect()
    }
}

#[derive(Debug, PartialEq)]
struct TaskSettings {
    family: String,
    network_mode: String,
    requires_compatibilities: BTreeSet<String>,
    containers: usize,
    container_name: String,
    essential: bool,
    memory_reservation: u64,
    memory: Option<u64>,
    stop_timeout: u64,
    readonly_root_filesystem: bool,
    privileged: bool,
    capabilities_dropped: BTreeSet<String>,
    capabilities_added: BTreeSet<String>,
    health_command: Vec<String>,
    /// interval, timeout, retries, startPeriod
    health_timing: Vec<u64>,
    environment: BTreeMap<String, String>,
    /// containerPath → (readOnly, the volume's host sourcePath)
    mounts: BTreeMap<String, (bool, String)>,
    docker_labels: BTreeMap<String, String>,
    log_driver: String,
    log_options: BTreeMap<String, String>,
}

/// Reads a task definition (already resolved, for the template) in one spelling, failing with the file and key.
struct Reader<'a> {
    file: &'a str,
    def: &'a Value,
    spelling: Spelling,
}

impl<'a> Reader<'a> {
    fn k(&self, camel: &str) -> String {
        self.spelling.key(camel)
    }

    fn get(&self, path: &[&str]) -> &'a Value {
        let owned = self.spelling.path(path);
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        at(self.file, self.def, &refs)
    }

    /// `path` under the first container definition.
    fn container(&self, path: &[&str]) -> &'a Value {
        let mut full = vec!["containerDefinitions", "0"];
        full.extend_from_slice(path);
        self.get(&full)
    }

    fn container_opt(&self, path: &[&str]) -> Option<&'a Value> {
        let mut current = self.get(&["containerDefinitions", "0"]);
        for step in path {
            current = current.get(self.k(step))?;
        }
        Some(current)
    }

    fn string(&self, v: &Value, what: &str) -> String {
        v.as_str()
            .unwrap_or_else(|| panic!("{}: {what} is not a string: {v}", self.file))
            .to_string()
    }

    fn number(&self, v: &Value, what: &str) -> u64 {
        v.as_u64()
            .unwrap_or_else(|| panic!("{}: {what} is not a whole number: {v}", self.file))
    }

    fn boolean(&self, v: &Value, what: &str) -> bool {
        v.as_bool()
            .unwrap_or_else(|| panic!("{}: {what} is not true or false: {v}", self.file))
    }

    fn names(&self, v: &Value, what: &str) -> BTreeSet<String> {
        string_or_list(self.file, v, what)
    }

    fn string_map(&self, v: Option<&Value>, what: &str) -> BTreeMap<String, String> {
        v.and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(key, value)| (key.clone(), self.string(value, &format!("{what}.{key}"))))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `field` of `item` (an element of a list), by its camelCase name.
    fn field(&self, item: &Value, field: &str, what: &str) -> String {
        self.string(at(self.file, item, &[self.k(field).as_str()]), what)
    }
}

/// The settings of the task definition `def` (already resolved, for the template), as `file` spells them.
fn task_settings(file: &str, def: &Value, spelling: Spelling) -> TaskSettings {
    let r = Reader {
        file,
        def,
        spelling,
    };
    let containers = r
        .get(&["containerDefinitions"])
        .as_array()
        .unwrap_or_else(|| panic!("{file}: containerDefinitions is not a list"));

    let environment = r
        .container(&["environment"])
        .as_array()
        .unwrap_or_else(|| panic!("{file}: containerDefinitions.0.environment is not a list"))
        .iter()
        .map(|pair| {
            (
                r.field(pair, "name", "an environment name"),
                r.field(pair, "value", "an environment value"),
            )
        })
        .collect();

    let volumes: BTreeMap<String, String> = def
        .get(r.k("volumes"))
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .map(|v| {
                    let source = v
                        .get(r.k("host"))
                        .and_then(|h| h.get(r.k("sourcePath")))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    (r.field(v, "name", "a volume's name"), source)
                })
                .collect()
        })
        .unwrap_or_default();
    let mounts = r
        .container_opt(&["mountPoints"])
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .map(|m| {
                    let volume = r.field(m, "sourceVolume", "a mount's sourceVolume");
                    let source = volumes.get(&volume).cloned().unwrap_or_else(|| {
                        panic!("{file}: mountPoints: volume {volume:?} is not declared in volumes")
                    });
                    let read_only = m
                        .get(r.k("readOnly"))
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    (
                        r.field(m, "containerPath", "a mount's containerPath"),
                        (read_only, source),
                    )
                })
                .collect()
        })
        .unwrap_or_default();

    let health = r.container(&["healthCheck"]);
    TaskSettings {
        family: r.string(r.get(&["family"]), "family"),
        network_mode: r.string(r.get(&["networkMode"]), "networkMode"),
        requires_compatibilities: r.names(
            r.get(&["requiresCompatibilities"]),
            "requiresCompatibilities",
        ),
        containers: containers.len(),
        container_name: r.string(r.container(&["name"]), "the container's name"),
        essential: r.boolean(r.container(&["essential"]), "essential"),
        memory_reservation: r.number(r.container(&["memoryReservation"]), "memoryReservation"),
        memory: r.container_opt(&["memory"]).map(|v| r.number(v, "memory")),
        stop_timeout: r.number(r.container(&["stopTimeout"]), "stopTimeout"),
        readonly_root_filesystem: r.boolean(
            r.container(&["readonlyRootFilesystem"]),
            "readonlyRootFilesystem",
        ),
        privileged: r
            .container_opt(&["privileged"])
            .map(|v| r.boolean(v, "privileged"))
            .unwrap_or(false),
        capabilities_dropped: r.names(
            r.container(&["linuxParameters", "capabilities", "drop"]),
            "linuxParameters.capabilities.drop",
        ),
        capabilities_added: r
            .container_opt(&["linuxParameters", "capabilities", "add"])
            .map(|v| r.names(v, "linuxParameters.capabilities.add"))
            .unwrap_or_default(),
        health_command: at(file, health, &[r.k("command").as_str()])
            .as_array()
            .unwrap_or_else(|| panic!("{file}: healthCheck.command is not a list"))
            .iter()
            .map(|v| r.string(v, "healthCheck.command"))
            .collect(),
        health_timing: ["interval", "timeout", "retries", "startPeriod"]
            .iter()
            .map(|key| {
                r.number(
                    at(file, health, &[r.k(key).as_str()]),
                    &format!("healthCheck.{key}"),
                )
            })
            .collect(),
        environment,
        mounts,
        docker_labels: r.string_map(r.container_opt(&["dockerLabels"]), "dockerLabels"),
        log_driver: r.string(
            r.container(&["logConfiguration", "logDriver"]),
            "logConfiguration.logDriver",
        ),
        log_options: r.string_map(
            r.container_opt(&["logConfiguration", "options"]),
            "logConfiguration.options",
        ),
    }
}

/// The fields in which `template` and `json` differ: `field: template's vs json's`.
fn differing_fields(template: &TaskSettings, json: &TaskSettings) -> Vec<String> {
    macro_rules! compare {
        ($($field:ident),* $(,)?) => {{
            // Naming every field: a new one must be added here too.
            let TaskSettings { $($field: _),* } = template;
            let mut out = Vec::new();
            $(
                if template.$field != json.$field {
                    out.push(format!(
                        "{}: {:?} in the template vs {:?} in the JSON",
                        stringify!($field),
                        template.$field,
                        json.$field
                    ));
                }
            )*
            out
        }};
    }
    compare!(
        family,
        network_mode,
        requires_compatibilities,
        containers,
        container_name,
        essential,
        memory_reservation,
        memory,
        stop_timeout,
        readonly_root_filesystem,
        privileged,
        capabilities_dropped,
        capabilities_added,
        health_command,
        health_timing,
        environment,
        mounts,
        docker_labels,
        log_driver,
        log_options,
    )
}

/// The resident memory the README measured and its target, in MiB, from the row of "Measured numbers".
fn measured_memory_mib() -> (f64, f64) {
    let readme = read_text("README.md");
    let row = readme
        .lines()
        .find(|l| l.starts_with('|') && l.contains("resident memory"))
        .unwrap_or_else(|| panic!("README.md: no \"resident memory\" row in the measured numbers"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    let mib = |text: &str| -> f64 {
        text.trim_end_matches(')')
            .trim()
            .strip_suffix("MiB")
            .and_then(|n| n.trim().rsplit(' ').next())
            .and_then(|n| n.trim_start_matches('≤').trim().parse().ok())
            .unwrap_or_else(|| panic!("README.md: cannot read MiB from {text:?} in {row:?}"))
    };
    let target = cells
        .get(1)
        .and_then(|c| c.rsplit_once("(≤"))
        .map(|(_, t)| mib(t))
        .unwrap_or_else(|| panic!("README.md: no (≤ N MiB) target in {row:?}"));
    let measured = mib(cells
        .get(2)
        .unwrap_or_else(|| panic!("README.md: no measured cell in {row:?}")));
    (measured, target)
}

/// Fails, naming `file` and the key, unless `s` runs the daemon the way deploy/README.md says.
fn check_task_settings(file: &str, s: &TaskSettings) {
    assert_eq!(s.network_mode, "host", "{file}: networkMode must be host");
    assert_eq!(
        s.requires_compatibilities,
        BTreeSet::from(["EC2".to_string()]),
        "{file}: requiresCompatibilities must be [\"EC2\"] (a DAEMON service on container instances)"
    );
    assert_eq!(
        s.containers, 1,
        "{file}: containerDefinitions must hold the daemon alone"
    );
    assert!(
        s.essential,
        "{file}: containerDefinitions.0.essential must be true"
    );
    assert!(
        s.readonly_root_filesystem,
        "{file}: containerDefinitions.0.readonlyRootFilesystem must be true"
    );
    assert!(
        !s.privileged,
        "{file}: containerDefinitions.0.privileged must not be true"
    );
    assert!(
        s.capabilities_dropped.contains("ALL"),
        "{file}: linuxParameters.capabilities.drop must be [\"ALL\"], is {:?}",
        s.capabilities_dropped
    );
    assert!(
        s.capabilities_added.is_empty(),
        "{file}: linuxParameters.capabilities.add must be empty, is {:?}",
        s.capabilities_added
    );

    // Exec form: the image has no shell.
    assert_eq!(
        s.health_command.first().map(String::as_str),
        Some("CMD"),
        "{file}: healthCheck.command must be in exec form ([\"CMD\", ...]; the image has no shell), is {:?}",
        s.health_command
    );
    assert_eq!(
        s.health_command.get(1..3),
        Some(&[IMAGE_BINARY.to_string(), "healthcheck".to_string()][..]),
        "{file}: healthCheck.command must run {IMAGE_BINARY} healthcheck, is {:?}",
        s.health_command
    );
    let (interval, timeout) = (s.health_timing[0], s.health_timing[1]);
    assert!(
        timeout < interval,
        "{file}: healthCheck.timeout ({timeout}) must be shorter than healthCheck.interval ({interval})"
    );

    // The socket, read-only, where the daemon looks for it by default.
    let socket = DEFAULT_DOCKER_HOST
        .strip_prefix("unix://")
        .expect("the default Docker host is a unix socket");
    let mount = s.mounts.get(socket).unwrap_or_else(|| {
        panic!(
            "{file}: mountPoints must mount the Docker socket at {socket}, has {:?}",
            s.mounts
        )
    });
    assert!(
        mount.0,
        "{file}: mountPoints: the Docker socket mount must have readOnly true"
    );
    assert_eq!(
        mount.1, socket,
        "{file}: volumes: the Docker socket's host sourcePath"
    );
    assert_eq!(
        s.mounts.len(),
        1,
        "{file}: mountPoints: nothing but the Docker socket, has {:?}",
        s.mounts
    );

    // Environment.
    let region = s
        .environment
        .get("AWS_REGION")
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| panic!("{file}: environment must set AWS_REGION (older agents do not)"));
    assert_eq!(
        s.environment.get("R53R_LOG__FORMAT").map(String::as_str),
        Some("json"),
        "{file}: environment must set R53R_LOG__FORMAT=json"
    );
    assert!(
        s.environment.contains_key("R53R_ROUTE53__ZONE_ID"),
        "{file}: environment must set R53R_ROUTE53__ZONE_ID"
    );
    let env = s
        .environment
        .iter()
        .map(|(name, value)| (name.clone(), value.replace("<ZONE_ID>", SAMPLE_ZONE_ID)));
    let settings = Settings::load_from(None, env).unwrap_or_else(|e| {
        panic!("{file}: environment: the daemon refuses this configuration: {e}")
    });

    // Stop: ECS sends SIGTERM, waits stopTimeout, then SIGKILL; the final flush must fit in between.
    let flush = settings.shutdown.timeout;
    assert!(
        Duration::from_secs(s.stop_timeout) > flush,
        "{file}: stopTimeout ({} s) must be longer than shutdown.timeout ({} s) so the final flush is not killed",
        s.stop_timeout,
        flush.as_secs_f64()
    );
    assert!(
        s.stop_timeout <= ECS_MAX_STOP_TIMEOUT,
        "{file}: stopTimeout ({} s) is above ECS's maximum of {ECS_MAX_STOP_TIMEOUT} s",
        s.stop_timeout
    );

    // Memory, from the README's measured numbers.
    let (measured, target) = measured_memory_mib();
    assert!(
        s.memory_reservation as f64 >= measured,
        "{file}: memoryReservation ({} MiB) is below the measured resident memory ({measured} MiB, README.md)",
        s.memory_reservation
    );
    let hard = s.memory.unwrap_or_else(|| {
        panic!("{file}: containerDefinitions.0.memory (the hard limit) must be set")
    });
    assert!(
        hard > s.memory_reservation,
        "{file}: memory ({hard} MiB) must be above memoryReservation ({} MiB)",
        s.memory_reservation
    );
    assert!(
        hard as f64 > target,
        "{file}: memory ({hard} MiB) must leave the daemon its README target ({target} MiB) and more"
    );

    // The daemon never publishes itself.
    let ignore_label = Settings::default().selection.ignore_label;
    assert_eq!(
        s.docker_labels.get(&ignore_label).map(String::as_str),
        Some("true"),
        "{file}: dockerLabels must set {ignore_label}=true"
    );

    // Logs to CloudWatch, in the region set above.
    assert_eq!(
        s.log_driver, "awslogs",
        "{file}: logConfiguration.logDriver must be awslogs"
    );
    for option in ["awslogs-group", "awslogs-region", "awslogs-stream-prefix"] {
        assert!(
            s.log_options.get(option).is_some_and(|v| !v.is_empty()),
            "{file}: logConfiguration.options must set {option}"
        );
    }
    assert_eq!(
        s.log_options.get("awslogs-region"),
        Some(region),
        "{file}: logConfiguration.options.awslogs-region must be the AWS_REGION of the environment"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Scanning the source for what the code really does.

/// Each `src/**/*.rs` file (relative path) with its production code: the test module (`#[cfg(test)]` then
/// `mod`, which this repository keeps last in each file) cut off, and comment lines dropped.
fn production_sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("src"), &mut files);
    assert!(!files.is_empty(), "src/: no Rust file found");
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(root()).unwrap().display().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            (relative, production_code(&text))
        })
        .collect()
}

fn production_code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = (0..lines.len())
        .find(|&i| {
            lines[i].trim() == "#[cfg(test)]"
                && lines[i + 1..]
                    .iter()
                    .find(|l| !l.trim().is_empty())
                    .is_some_and(|l| l.trim_start().starts_with("mod "))
        })
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .filter(|l| !l.trim_start().starts_with("//"))
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `get_hosted_zone` → `GetHostedZone`.
fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The IAM actions (`route53:GetHostedZone`) for the operations `code` calls on an AWS SDK client: a file that
/// uses `aws_sdk_<service>::Client` calls operations as `client.<operation>()` (the fluent builder, whatever
/// the receiver: `self.client`, `client`); the IAM prefix is the crate's service name.
fn sdk_actions(file: &str, code: &str) -> BTreeSet<String> {
    let services: BTreeSet<&str> = code
        .match_indices("aws_sdk_")
        .filter_map(|(i, _)| {
            let rest = &code[i + "aws_sdk_".len()..];
            let service_end = rest.find(|c: char| !is_ident(c))?;
            rest[service_end..]
                .starts_with("::Client")
                .then_some(&rest[..service_end])
        })
        .collect();
    if services.is_empty() {
        return BTreeSet::new();
    }
    assert_eq!(
        services.len(),
        1,
        "{file}: uses the clients of several AWS services ({services:?}); teach tests/deploy.rs which call is whose"
    );
    let service = services.first().unwrap();
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let mut actions = BTreeSet::new();
    for (i, _) in compact.match_indices("client.") {
        if compact[..i].chars().next_back().is_some_and(is_ident) {
            continue; // `http_client.`, not the SDK's client
        }
        let rest = &compact[i + "client.".len()..];
        let method_end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        let method = &rest[..method_end];
        if !rest[method_end..].starts_with("()") || CLIENT_METHODS_NOT_OPERATIONS.contains(&method)
        {
            continue;
        }
        actions.insert(format!("{service}:{}", pascal_case(method)));
    }
    assert!(
        !actions.is_empty(),
        "{file}: uses aws_sdk_{service}::Client but no `client.<operation>()` call was found; teach tests/deploy.rs \
         how this file calls it"
    );
    actions
}

/// The `ChangeAction` variants `code` builds (as values): every `ChangeAction::X` except patterns (followed by
/// `=>` or `|`), comparisons (after `==` or `!=`) and other types of that name (`sdk::ChangeAction`).
fn change_actions_built(code: &str) -> BTreeSet<String> {
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let mut built = BTreeSet::new();
    for (i, _) in compact.match_indices("ChangeAction::") {
        let before = &compact[..i];
        if before.ends_with("::") || before.chars().next_back().is_some_and(is_ident) {
            continue; // another crate's ChangeAction, or a longer name
        }
        if before.ends_with("==") || before.ends_with("!=") {
            continue;
        }
        let rest = &compact[i + "ChangeAction::".len()..];
        let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        let after = &rest[end..];
        if after.starts_with("=>") || (after.starts_with('|') && !after.starts_with("||")) {
            continue;
        }
        built.insert(rest[..end].to_string());
    }
    built
}

/// Every IAM action the code needs, and the file that needs each.
fn actions_the_code_calls() -> BTreeMap<String, String> {
    let mut actions = BTreeMap::new();
    for (file, code) in production_sources() {
        for action in sdk_actions(&file, &code) {
            actions.entry(action).or_insert_with(|| file.clone());
        }
    }
    assert!(
        !actions.is_empty(),
        "src/: no AWS SDK operation found; the scanner in tests/deploy.rs no longer sees the Route53 client"
    );
    actions
}

/// The change actions the code can send, as IAM's condition key spells them (`CREATE`).
fn change_actions_the_code_sends() -> BTreeSet<String> {
    let built: BTreeSet<String> = production_sources()
        .iter()
        .flat_map(|(_, code)| change_actions_built(code))
        .map(|variant| variant.to_ascii_uppercase())
        .collect();
    assert!(
        !built.is_empty(),
        "src/: no ChangeAction built; the scanner in tests/deploy.rs no longer sees how changes are made"
    );
    built
}

// ---------------------------------------------------------------------------------------------------------
// The policy

/// The IAM actions `policy` grants (every statement is checked to be an Allow).
fn granted_actions(file: &str, policy: &Value) -> BTreeSet<String> {
    let statements = at(file, policy, &["Statement"])
        .as_array()
        .unwrap_or_else(|| panic!("{file}: Statement is not a list"));
    let mut granted = BTreeSet::new();
    for (i, statement) in statements.iter().enumerate() {
        let idx = i.to_string();
        assert_eq!(
            str_at(file, policy, &["Statement", &idx, "Effect"]),
            "Allow",
            "{file}: Statement.{i}.Effect"
        );
        assert!(
            statement.get("NotAction").is_none() && statement.get("NotResource").is_none(),
            "{file}: Statement.{i} must not use NotAction or NotResource"
        );
        granted.extend(string_or_list(
            file,
            at(file, statement, &["Action"]),
            &format!("Statement.{i}.Action"),
        ));
    }
    granted
}

/// The statements of `policy` that grant `action`.
fn statements_granting<'a>(file: &str, policy: &'a Value, action: &str) -> Vec<&'a Value> {
    at(file, policy, &["Statement"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| string_or_list(file, at(file, s, &["Action"]), "Action").contains(action))
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// The tests

#[test]
fn every_file_in_deploy_parses() {
    let dir = root().join("deploy");
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("deploy/: {e}")) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let relative = format!("deploy/{name}");
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                let value = read_json(&relative);
                assert!(
                    value.is_object(),
                    "{relative}: the document must be a JSON object"
                );
            }
            Some("md") => {}
            _ => panic!("{relative}: only JSON (checked here) and Markdown belong in deploy/"),
        }
        seen.insert(relative);
    }
    for expected in [TASK_DEFINITION, IAM_POLICY, CLOUDFORMATION, DEPLOY_README] {
        assert!(seen.contains(expected), "{expected} is missing");
    }
}

#[test]
fn task_definition_runs_the_daemon_safely() {
    let def = read_json(TASK_DEFINITION);
    let settings = task_settings(TASK_DEFINITION, &def, Spelling::Camel);
    check_task_settings(TASK_DEFINITION, &settings);
}

#[test]
fn task_definition_placeholders_are_obvious() {
    let def = read_json(TASK_DEFINITION);
    let s = task_settings(TASK_DEFINITION, &def, Spelling::Camel);
    assert_eq!(
        s.environment
            .get("R53R_ROUTE53__ZONE_ID")
            .map(String::as_str),
        Some("<ZONE_ID>"),
        "{TASK_DEFINITION}: environment R53R_ROUTE53__ZONE_ID must be the placeholder <ZONE_ID>"
    );
    assert_eq!(
        s.environment.get("AWS_REGION").map(String::as_str),
        Some("<REGION>"),
        "{TASK_DEFINITION}: environment AWS_REGION must be the placeholder <REGION>"
    );
    let image = str_at(
        TASK_DEFINITION,
        &def,
        &["containerDefinitions", "0", "image"],
    );
    assert!(
        image.contains('<') && image.contains('>'),
        "{TASK_DEFINITION}: containerDefinitions.0.image must hold a <PLACEHOLDER>, is {image:?}"
    );
    for role in ["taskRoleArn", "executionRoleArn"] {
        let arn = str_at(TASK_DEFINITION, &def, &[role]);
        assert!(
            arn.contains("<ACCOUNT_ID>"),
            "{TASK_DEFINITION}: {role} must hold the placeholder <ACCOUNT_ID>, is {arn:?}"
        );
    }
    let policy = read_json(IAM_POLICY);
    for (i, statement) in policy["Statement"].as_array().unwrap().iter().enumerate() {
        let actions = string_or_list(IAM_POLICY, at(IAM_POLICY, statement, &["Action"]), "Action");
        if actions.iter().all(|a| a.starts_with("ec2:")) {
            continue; // EC2's statement has no resource to name (policy_grants_describe_instances_apart)
        }
        for resource in string_or_list(
            IAM_POLICY,
            at(IAM_POLICY, statement, &["Resource"]),
            "Resource",
        ) {
            assert_eq!(
                resource, "arn:aws:route53:::hostedzone/<ZONE_ID>",
                "{IAM_POLICY}: Statement.{i}.Resource must be the zone's ARN with the placeholder <ZONE_ID>"
            );
        }
    }
}

/// `ec2:DescribeInstances` is needed only with `gc.enabled`: it stands in a statement of its own, marked by
/// its Sid, that an operator who leaves gc off can drop, and it names no resource because DescribeInstances
/// supports no resource-level permissions (IAM refuses it on anything but `*`).
#[test]
fn policy_grants_describe_instances_apart() {
    let policy = read_json(IAM_POLICY);
    let statements = statements_granting(IAM_POLICY, &policy, "ec2:DescribeInstances");
    assert_eq!(
        statements.len(),
        1,
        "{IAM_POLICY}: exactly one statement grants ec2:DescribeInstances"
    );
    let statement = statements[0];
    assert_eq!(
        string_or_list(IAM_POLICY, at(IAM_POLICY, statement, &["Action"]), "Action"),
        BTreeSet::from(["ec2:DescribeInstances".to_string()]),
        "{IAM_POLICY}: the statement granting ec2:DescribeInstances grants nothing else"
    );
    let sid = str_at(IAM_POLICY, statement, &["Sid"]);
    assert!(
        sid.starts_with("GcOnly"),
        "{IAM_POLICY}: the statement granting ec2:DescribeInstances must say it is for gc only (Sid GcOnly...), is {sid:?}"
    );
    assert_eq!(
        string_or_list(
            IAM_POLICY,
            at(IAM_POLICY, statement, &["Resource"]),
            "Resource"
        ),
        BTreeSet::from(["*".to_string()]),
        "{IAM_POLICY}: {sid}.Resource"
    );
    assert!(
        statement.get("Condition").is_none(),
        "{IAM_POLICY}: {sid} needs no condition"
    );
}

#[test]
fn policy_grants_exactly_the_operations_the_code_calls() {
    let policy = read_json(IAM_POLICY);
    let granted = granted_actions(IAM_POLICY, &policy);
    let called = actions_the_code_calls();
    let missing: Vec<String> = called
        .iter()
        .filter(|(action, _)| !granted.contains(*action))
        .map(|(action, file)| format!("{action} (called in {file})"))
        .collect();
    let extra: Vec<&String> = granted
        .iter()
        .filter(|a| !called.contains_key(*a))
        .collect();
    assert!(
        missing.is_empty(),
        "{IAM_POLICY}: Statement[*].Action does not grant what the code calls: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "{IAM_POLICY}: Statement[*].Action grants what the code never calls: {extra:?}"
    );
    for action in &granted {
        assert!(
            !action.contains('*'),
            "{IAM_POLICY}: Statement[*].Action must not use wildcards: {action}"
        );
    }
}

#[test]
fn policy_conditions_allow_only_what_the_code_sends() {
    let policy = read_json(IAM_POLICY);
    let statements = statements_granting(IAM_POLICY, &policy, "route53:ChangeResourceRecordSets");
    assert!(
        !statements.is_empty(),
        "{IAM_POLICY}: no statement grants route53:ChangeResourceRecordSets"
    );
    // The record sets the daemon writes are of record::RECORD_TYPE (desired_record builds them, and it only
    // deletes record sets of that type that it owns), and its ledger and simple routing's ownership markers,
    // both TXT records (ledger::LEDGER_TYPE).
    let types = BTreeSet::from([RECORD_TYPE.to_string(), LEDGER_TYPE.to_string()]);
    let actions = change_actions_the_code_sends();
    for statement in statements {
        let sid = statement.get("Sid").and_then(Value::as_str).unwrap_or("?");
        let condition = at(
            IAM_POLICY,
            statement,
            &["Condition", "ForAllValues:StringEquals"],
        );
        let keys: BTreeSet<&str> = condition
            .as_object()
            .unwrap_or_else(|| panic!("{IAM_POLICY}: statement {sid}: Condition.ForAllValues:StringEquals is not an object"))
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            keys.is_subset(&BTreeSet::from([
                "route53:ChangeResourceRecordSetsRecordTypes",
                "route53:ChangeResourceRecordSetsActions",
                "route53:ChangeResourceRecordSetsNormalizedRecordNames",
            ])),
            "{IAM_POLICY}: statement {sid}: unexpected condition keys {keys:?}"
        );
        assert_eq!(
            string_or_list(
                IAM_POLICY,
                at(IAM_POLICY, condition, &["route53:ChangeResourceRecordSetsRecordTypes"]),
                "route53:ChangeResourceRecordSetsRecordTypes"
            ),
            types,
            "{IAM_POLICY}: statement {sid}: Condition.ForAllValues:StringEquals.route53:ChangeResourceRecordSetsRecordTypes \
             must be exactly the record types the code writes"
        );
        assert_eq!(
            string_or_list(
                IAM_POLICY,
                at(IAM_POLICY, condition, &["route53:ChangeResourceRecordSetsActions"]),
                "route53:ChangeResourceRecordSetsActions"
            ),
            actions,
            "{IAM_POLICY}: statement {sid}: Condition.ForAllValues:StringEquals.route53:ChangeResourceRecordSetsActions \
             must be exactly the change actions the code builds"
        );
        for resource in string_or_list(
            IAM_POLICY,
            at(IAM_POLICY, statement, &["Resource"]),
            "Resource",
        ) {
            assert!(
                resource.starts_with("arn:aws:route53:::hostedzone/"),
                "{IAM_POLICY}: statement {sid}: Resource must be the zone, is {resource:?}"
            );
        }
    }
}

#[test]
fn cloudformation_task_role_carries_the_iam_policy() {
    let template = Template::load();
    let (_, def) = template.only_resource_of("AWS::ECS::TaskDefinition");
    let role_name = template.get_att_arn_target(
        at(CLOUDFORMATION, def, &["Properties", "TaskRoleArn"]),
        "TaskDefinition.Properties.TaskRoleArn",
    );
    let role = template.resource(role_name);
    assert_eq!(
        str_at(CLOUDFORMATION, role, &["Type"]),
        "AWS::IAM::Role",
        "{CLOUDFORMATION}: {role_name}.Type"
    );
    assert!(
        role["Properties"].get("ManagedPolicyArns").is_none(),
        "{CLOUDFORMATION}: {role_name}.Properties.ManagedPolicyArns would grant more than {IAM_POLICY}"
    );
    let policies = at(CLOUDFORMATION, role, &["Properties", "Policies"])
        .as_array()
        .unwrap_or_else(|| {
            panic!("{CLOUDFORMATION}: {role_name}.Properties.Policies is not a list")
        });
    assert_eq!(
        policies.len(),
        1,
        "{CLOUDFORMATION}: {role_name}.Properties.Policies must hold the one policy of {IAM_POLICY}"
    );
    let document = template.resolve(at(CLOUDFORMATION, &policies[0], &["PolicyDocument"]));
    assert_eq!(
        document,
        read_json(IAM_POLICY),
        "{CLOUDFORMATION}: {role_name}.Properties.Policies.0.PolicyDocument (its Fn::Sub resolved to \
         arn:aws:route53:::hostedzone/<ZONE_ID>) must equal {IAM_POLICY}"
    );
    let trusted = template.resolve(at(
        CLOUDFORMATION,
        role,
        &[
            "Properties",
            "AssumeRolePolicyDocument",
            "Statement",
            "0",
            "Principal",
            "Service",
        ],
    ));
    assert_eq!(
        trusted, "ecs-tasks.amazonaws.com",
        "{CLOUDFORMATION}: {role_name}.Properties.AssumeRolePolicyDocument.Statement.0.Principal.Service"
    );
}

#[test]
fn cloudformation_task_definition_matches_the_json_one() {
    let template = Template::load();
    let (name, def) = template.only_resource_of("AWS::ECS::TaskDefinition");
    let resolved = template.resolve(at(CLOUDFORMATION, def, &["Properties"]));
    let from_template = task_settings(CLOUDFORMATION, &resolved, Spelling::Pascal);
    check_task_settings(CLOUDFORMATION, &from_template);
    let from_json = task_settings(
        TASK_DEFINITION,
        &read_json(TASK_DEFINITION),
        Spelling::Camel,
    );
    let differences = differing_fields(&from_template, &from_json);
    assert!(
        differences.is_empty(),
        "{CLOUDFORMATION}: resource {name} (Ref and Fn::Sub resolved to the placeholders) must set what \
         {TASK_DEFINITION} sets; differs in {differences:#?}"
    );
    assert_eq!(from_template, from_json);
    let image = str_at(
        CLOUDFORMATION,
        &resolved,
        &["ContainerDefinitions", "0", "Image"],
    );
    assert_eq!(
        image, "<IMAGE>",
        "{CLOUDFORMATION}: {name}.ContainerDefinitions.0.Image must be Ref Image"
    );
    let execution = template.get_att_arn_target(
        at(CLOUDFORMATION, def, &["Properties", "ExecutionRoleArn"]),
        "TaskDefinition.Properties.ExecutionRoleArn",
    );
    assert_eq!(
        str_at(CLOUDFORMATION, template.resource(execution), &["Type"]),
        "AWS::IAM::Role",
        "{CLOUDFORMATION}: {execution}.Type"
    );
}

#[test]
fn cloudformation_runs_a_daemon_service_from_parameters() {
    let template = Template::load();
    for parameter in ["Cluster", "ZoneId", "Image"] {
        at(CLOUDFORMATION, &template.doc, &["Parameters", parameter]);
    }
    let (task_def_name, _) = template.only_resource_of("AWS::ECS::TaskDefinition");
    let (service_name, service) = template.only_resource_of("AWS::ECS::Service");
    let properties = at(CLOUDFORMATION, service, &["Properties"]);
    assert_eq!(
        str_at(CLOUDFORMATION, properties, &["SchedulingStrategy"]),
        "DAEMON",
        "{CLOUDFORMATION}: {service_name}.Properties.SchedulingStrategy"
    );
    assert_eq!(
        str_at(CLOUDFORMATION, properties, &["TaskDefinition", "Ref"]),
        task_def_name,
        "{CLOUDFORMATION}: {service_name}.Properties.TaskDefinition must be Ref {task_def_name}"
    );
    assert_eq!(
        str_at(CLOUDFORMATION, properties, &["Cluster", "Ref"]),
        "Cluster",
        "{CLOUDFORMATION}: {service_name}.Properties.Cluster must be Ref Cluster"
    );
    template.only_resource_of("AWS::Logs::LogGroup");
    // Everything account-specific comes from parameters: no <PLACEHOLDER> is left in the resources.
    let resources = serde_json::to_string(template.resources()).unwrap();
    assert!(
        !resources.contains("<") && !resources.contains(">"),
        "{CLOUDFORMATION}: Resources must take account, region, zone and image from parameters, not <PLACEHOLDERS>"
    );
}

/// The healthcheck names the binary where the image puts it (checked once the top-level Dockerfile exists).
#[test]
fn healthcheck_runs_the_image_entrypoint() {
    let Ok(dockerfile) = std::fs::read_to_string(root().join("Dockerfile")) else {
        eprintln!(
            "no top-level Dockerfile yet: the healthcheck's binary path is not checked against it"
        );
        return;
    };
    let quoted = format!("\"{IMAGE_BINARY}\"");
    assert!(
        dockerfile
            .lines()
            .any(|l| l.trim_start().starts_with("ENTRYPOINT") && l.contains(&quoted)),
        "Dockerfile: no ENTRYPOINT [{quoted}]: {TASK_DEFINITION} and {CLOUDFORMATION} run {IMAGE_BINARY} healthcheck"
    );
}

/// The scanners above see what they should, so that the tests built on them can fail.
#[test]
fn scanners_find_calls_and_built_actions() {
    let code = "use aws_sdk_route53::Client;\nfn f(c: &S) {\n    c\n        .client\n        .get_hosted_zone()\n        \
                .id(z);\n    self.client.change_resource_record_sets().send();\n    let x = self.client.config();\n    \
                http_client.delete_everything();\n}\n";
    assert_eq!(
        sdk_actions("snippet", code),
        BTreeSet::from([
            "route53:GetHostedZone".to_string(),
            "route53:ChangeResourceRecordSets".to_string()
        ])
    );
    assert_eq!(
        sdk_actions(
            "snippet",
            "use aws_sdk_ec2::Client;\nclient.describe_instances().send()"
        ),
        BTreeSet::from(["ec2:DescribeInstances".to_string()])
    );
    assert!(sdk_actions("snippet", "use aws_sdk_route53::types;\nclient.foo()").is_empty());

    let code = "let c = Change { action: ChangeAction::Upsert, record_set };\n\
                if a == ChangeAction::Create {}\n\
                match a { ChangeAction::Delete => x, ChangeAction::Create | ChangeAction::Upsert => y }\n\
                ChangeAction::Create => sdk::ChangeAction::Create,\n\
                v.push(ChangeAction::Delete);\n";
    assert_eq!(
        change_actions_built(code),
        BTreeSet::from(["Upsert".to_string(), "Delete".to_string()])
    );

    let text = "fn a() { ChangeAction::Create }\n// ChangeAction::Upsert\n#[cfg(test)]\nmod tests {\n    fn b() { ChangeAction::Delete }\n}\n";
    assert_eq!(
        change_actions_built(&production_code(text)),
        BTreeSet::from(["Create".to_string()])
    );
    assert_eq!(
        pascal_case("list_resource_record_sets"),
        "ListResourceRecordSets"
    );
}

/// The CloudFormation resolver turns the template's forms into the plain files' placeholders.
#[test]
fn template_resolver_maps_parameters_to_placeholders() {
    let template = Template::load();
    let sub =
        serde_json::json!({ "Fn::Sub": "arn:${AWS::Partition}:route53:::hostedzone/${ZoneId}" });
    assert_eq!(
        template.resolve(&sub),
        Value::String("arn:aws:route53:::hostedzone/<ZONE_ID>".into())
    );
    assert_eq!(
        template.resolve(&serde_json::json!({ "Ref": "AWS::Region" })),
        Value::String("<REGION>".into())
    );
}
