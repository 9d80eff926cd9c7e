//! The deployment kit in `deploy/` agrees with itself and with the code.
//!
//! - every JSON file there parses;
//! - the task definition runs the daemon the way deploy/README.md says (host network, EC2, read-only root,
//!   no capability, the Docker socket read-only, an exec-form healthcheck, AWS_REGION set, a stop timeout
//!   longer than the shutdown flush, memory from the README's measured footprint), and its `R53R_` variables
//!   are a configuration the daemon accepts;
//! - the IAM policy grants exactly the AWS operations the SDK clients declare they call (the `OPERATIONS` of
//!   `src/route53/sdk.rs` and `src/gc/ec2/sdk.rs`, which their unit tests hold to the calls), EC2's apart for
//!   the clean-up, and its conditions allow exactly the record types and change actions the code can send;
//! - the CloudFormation template's task role carries the same policy (its EC2 statement only with gc on) and
//!   its task definition the same settings; each of the daemon's parameters reaches its variable; the zone id
//!   in either form, the socket's group and the log group's name come out as an operator expects (its
//!   `Fn::If`, `Fn::Join`, `Fn::Split` and `Fn::Sub` resolved here with the parameters given);
//! - deploy/README.md's recipe for pinning record names admits every name the daemon writes for the services
//!   it lists.
//!
//! Nothing here talks to AWS or Docker: it reads files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use route53_registrator::config::Settings;
use route53_registrator::docker::engine::DEFAULT_DOCKER_HOST;
use route53_registrator::gc::ec2::sdk::OPERATIONS as EC2_OPERATIONS;
use route53_registrator::route53::marker_name;
use route53_registrator::route53::sdk::{CHANGE_ACTIONS, OPERATIONS as ROUTE53_OPERATIONS};
use route53_registrator::writer::ledger::{ledger_name, LEDGER_TYPE};
use route53_registrator::writer::record::fqdn;
use route53_registrator::writer::record::RECORD_TYPE;
use serde_json::Value;

const TASK_DEFINITION: &str = "deploy/task-definition.json";
const IAM_POLICY: &str = "deploy/iam-policy.json";
const CLOUDFORMATION: &str = "deploy/cloudformation.json";
const DEPLOY_README: &str = "deploy/README.md";
const ALERTS: &str = "deploy/alerts.yml";
const ALERTS_TESTS: &str = "deploy/alerts.test.yml";

/// Where the image holds the binary (its `ENTRYPOINT`); the healthcheck runs it directly, as there is no shell.
const IMAGE_BINARY: &str = "/route53-registrator";

/// The zone id the kit's configuration is checked with in place of its `<ZONE_ID>` placeholder.
const SAMPLE_ZONE_ID: &str = "Z0123456789ABCDEFGHIJ";

/// ECS refuses a `stopTimeout` above this many seconds.
const ECS_MAX_STOP_TIMEOUT: u64 = 120;

/// The IAM actions each SDK client declares next to its calls, and where: all that the policy may grant.
const DECLARED_OPERATIONS: &[(&str, &[&str])] = &[
    ("src/route53/sdk.rs (OPERATIONS)", ROUTE53_OPERATIONS),
    ("src/gc/ec2/sdk.rs (OPERATIONS)", EC2_OPERATIONS),
];

// ---------------------------------------------------------------------------------------------------------
// The tests (the helpers they read the files with follow them)

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
            // Prometheus' rules and their tests, which promtool checks (below).
            Some("yml") => {}
            _ => panic!("{relative}: only JSON (checked here), alerting rules (checked by promtool) and Markdown belong in deploy/"),
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
    for statement in statements(&policy) {
        if statement.actions.is_subset(&set(EC2_OPERATIONS)) {
            continue; // EC2's statement has no resource to name (policy_grants_describe_instances_apart)
        }
        for resource in statement.names(&["Resource"]) {
            assert_eq!(
                resource, "arn:aws:route53:::hostedzone/<ZONE_ID>",
                "{IAM_POLICY}: Statement.{}.Resource must be the zone's ARN with the placeholder <ZONE_ID>",
                statement.index
            );
        }
    }
}

/// EC2's operations (`ec2:DescribeInstances`, src/gc/ec2/sdk.rs) are needed only with `gc.enabled`: they
/// stand in a statement of their own, marked by its Sid, that an operator who leaves gc off can drop, and it
/// names no resource because DescribeInstances supports no resource-level permissions (IAM refuses it on
/// anything but `*`).
#[test]
fn policy_grants_describe_instances_apart() {
    let policy = read_json(IAM_POLICY);
    let ec2 = set(EC2_OPERATIONS);
    let mut granting = statements(&policy);
    granting.retain(|s| !s.actions.is_disjoint(&ec2));
    assert_eq!(
        granting.len(),
        1,
        "{IAM_POLICY}: exactly one statement grants EC2's operations {ec2:?} (src/gc/ec2/sdk.rs)"
    );
    let statement = &granting[0];
    let sid = statement.sid;
    assert_eq!(
        statement.actions, ec2,
        "{IAM_POLICY}: Statement.{} ({sid}) must grant EC2's operations {ec2:?} (src/gc/ec2/sdk.rs) and nothing else",
        statement.index
    );
    assert!(
        sid.starts_with("GcOnly"),
        "{IAM_POLICY}: the statement granting {ec2:?} must say it is for gc only (Sid GcOnly...), is {sid:?}"
    );
    assert_eq!(
        statement.names(&["Resource"]),
        set(&["*"]),
        "{IAM_POLICY}: {sid}.Resource"
    );
    assert!(
        statement.get(&[]).get("Condition").is_none(),
        "{IAM_POLICY}: {sid} needs no condition"
    );
}

#[test]
fn policy_grants_exactly_the_operations_the_code_calls() {
    let policy = read_json(IAM_POLICY);
    let granted: BTreeSet<String> = statements(&policy)
        .into_iter()
        .flat_map(|s| s.actions)
        .collect();
    let mut declared = BTreeMap::new();
    for (place, operations) in DECLARED_OPERATIONS {
        assert!(!operations.is_empty(), "{place}: declares no operation");
        for operation in *operations {
            declared.insert(operation.to_string(), *place);
        }
    }
    let missing: Vec<String> = declared
        .iter()
        .filter(|(action, _)| !granted.contains(*action))
        .map(|(action, place)| format!("{action} (declared in {place})"))
        .collect();
    let extra: Vec<&String> = granted
        .iter()
        .filter(|a| !declared.contains_key(*a))
        .collect();
    assert!(
        missing.is_empty(),
        "{IAM_POLICY}: Statement[*].Action does not grant what the code calls: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "{IAM_POLICY}: Statement[*].Action grants what no SDK client declares it calls (the OPERATIONS of \
         src/route53/sdk.rs, src/gc/ec2/sdk.rs): {extra:?}"
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
    let mut statements = statements(&policy);
    statements.retain(|s| s.actions.contains("route53:ChangeResourceRecordSets"));
    assert!(
        !statements.is_empty(),
        "{IAM_POLICY}: no statement grants route53:ChangeResourceRecordSets"
    );
    // The record sets the daemon writes are of plan::RECORD_TYPE (desired_record builds them, and it only
    // deletes record sets of that type that it owns), and its ledger and simple routing's ownership markers,
    // both TXT records (ledger::LEDGER_TYPE); the change actions are those the Route53 client can send
    // (route53::sdk::CHANGE_ACTIONS, one for each ChangeAction).
    let types = set(&[RECORD_TYPE, LEDGER_TYPE]);
    let actions = set(CHANGE_ACTIONS);
    const CONDITION: [&str; 2] = ["Condition", "ForAllValues:StringEquals"];
    for statement in statements {
        let sid = statement.sid;
        let keys: BTreeSet<&str> = statement
            .get(&CONDITION)
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
        for (key, expected, what) in [
            ("RecordTypes", &types, "the record types the code writes"),
            ("Actions", &actions, "the change actions the code sends"),
        ] {
            let key = format!("route53:ChangeResourceRecordSets{key}");
            assert_eq!(
                statement.names(&[CONDITION[0], CONDITION[1], &key]),
                *expected,
                "{IAM_POLICY}: statement {sid}: Condition.ForAllValues:StringEquals.{key} must be exactly {what}"
            );
        }
        for resource in statement.names(&["Resource"]) {
            assert!(
                resource.starts_with("arn:aws:route53:::hostedzone/"),
                "{IAM_POLICY}: statement {sid}: Resource must be the zone, is {resource:?}"
            );
        }
    }
}

/// With gc on, the task role's policy is iam-policy.json; with gc off (the default), the same without its
/// EC2 statement.
#[test]
fn cloudformation_task_role_carries_the_iam_policy() {
    let policy_with_gc = |gc: &str| {
        let template = Template::load().with("GcEnabled", gc);
        let role = template.resource("TaskRole");
        template.resolve(at(
            CLOUDFORMATION,
            role,
            &["Properties", "Policies", "0", "PolicyDocument"],
        ))
    };
    let mut without_ec2 = read_json(IAM_POLICY);
    without_ec2["Statement"]
        .as_array_mut()
        .expect("a list of statements")
        .retain(|statement| statement["Action"] != "ec2:DescribeInstances");
    assert_eq!(
        policy_with_gc("false"),
        without_ec2,
        "{CLOUDFORMATION}: GcEnabled=false grants no ec2:DescribeInstances"
    );
    assert_ne!(
        without_ec2,
        read_json(IAM_POLICY),
        "iam-policy.json grants it"
    );
    let template = Template::load().with("GcEnabled", "true");
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
    // An update replaces the daemon a part of the fleet at a time: a DAEMON service's default minimum is 0,
    // which stops it on every instance at once; its maximum cannot pass 100 (one task per instance).
    let rolling = at(CLOUDFORMATION, properties, &["DeploymentConfiguration"]);
    let percent = |key: &str| {
        at(CLOUDFORMATION, rolling, &[key])
            .as_u64()
            .unwrap_or_else(|| {
                panic!("{CLOUDFORMATION}: DeploymentConfiguration.{key} is a number")
            })
    };
    assert_eq!(
        percent("MaximumPercent"),
        100,
        "{CLOUDFORMATION}: MaximumPercent"
    );
    let minimum = percent("MinimumHealthyPercent");
    assert!(
        (1..100).contains(&minimum),
        "{CLOUDFORMATION}: MinimumHealthyPercent {minimum} must roll in steps (1..=99)"
    );
    template.only_resource_of("AWS::Logs::LogGroup");
    // Everything account-specific comes from parameters: no <PLACEHOLDER> is left in the resources.
    let resources = serde_json::to_string(template.resources()).unwrap();
    assert!(
        !resources.contains("<") && !resources.contains(">"),
        "{CLOUDFORMATION}: Resources must take account, region, zone and image from parameters, not <PLACEHOLDERS>"
    );
}

/// The template's settings for the daemon: each parameter reaches the `R53R_` variable it names, its default
/// is the daemon's own default (the JSON task definition writes the same value), and the daemon takes every
/// value the parameter allows.
#[test]
fn each_daemon_parameter_reaches_its_variable() {
    // (parameter, variable)
    let table = [
        ("GcEnabled", "R53R_GC__ENABLED"),
        ("StartupSpread", "R53R_ROUTE53__STARTUP_SPREAD"),
        ("DeregisterOnShutdown", "R53R_SHUTDOWN__DEREGISTER"),
        ("LogLevel", "R53R_LOG__LEVEL"),
    ];
    let template = Template::load();
    let (_, def) = template.only_resource_of("AWS::ECS::TaskDefinition");
    let environment = at(
        CLOUDFORMATION,
        def,
        &["Properties", "ContainerDefinitions", "0", "Environment"],
    );
    let value_of = |name: &str| {
        environment
            .as_array()
            .and_then(|vars| {
                vars.iter()
                    .find(|v| v.get("Name") == Some(&Value::from(name)))
            })
            .and_then(|v| v.get("Value"))
            .unwrap_or_else(|| panic!("{CLOUDFORMATION}: no {name} in the task's Environment"))
            .clone()
    };
    let json = read_json(TASK_DEFINITION);
    let json_environment = at(
        TASK_DEFINITION,
        &json,
        &["containerDefinitions", "0", "environment"],
    );
    let zone = (
        "R53R_ROUTE53__ZONE_ID".to_string(),
        SAMPLE_ZONE_ID.to_string(),
    );
    let load = |vars: Vec<(String, String)>| Settings::load_from(None, vars);
    let defaults = load(vec![zone.clone()]).expect("the zone id alone is a configuration");
    for (parameter, variable) in table {
        assert_eq!(
            value_of(variable),
            serde_json::json!({ "Ref": parameter }),
            "{CLOUDFORMATION}: {variable} must be Ref {parameter}"
        );
        let declared = at(CLOUDFORMATION, &template.doc, &["Parameters", parameter]);
        let default = str_at(CLOUDFORMATION, declared, &["Default"]).to_string();
        let with_default = load(vec![zone.clone(), (variable.to_string(), default.clone())]);
        assert_eq!(
            with_default.as_ref().ok(),
            Some(&defaults),
            "{CLOUDFORMATION}: {parameter}'s default {default:?} must be the daemon's own"
        );
        let in_json = json_environment
            .as_array()
            .and_then(|vars| {
                vars.iter()
                    .find(|v| v.get("name") == Some(&Value::from(variable)))
            })
            .and_then(|v| v.get("value"))
            .and_then(Value::as_str);
        assert_eq!(
            in_json,
            Some(default.as_str()),
            "{TASK_DEFINITION}: {variable} as the template's default"
        );
        let allowed: Vec<String> = declared
            .get("AllowedValues")
            .and_then(Value::as_array)
            .map(|values| {
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        for value in allowed {
            let vars = vec![zone.clone(), (variable.to_string(), value.clone())];
            if let Err(e) = load(vars) {
                panic!(
                    "{CLOUDFORMATION}: {parameter} allows {value:?}, which the daemon refuses: {e}"
                );
            }
        }
    }
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

/// The zone id in either form reaches the daemon and the policy as the bare id; the socket's group id runs
/// the daemon as nobody in that group (root without it); the log group is named after the stack unless named.
#[test]
fn cloudformation_takes_what_an_operator_has_at_hand() {
    let environment = |template: &Template| -> BTreeMap<String, String> {
        let (_, def) = template.only_resource_of("AWS::ECS::TaskDefinition");
        let container = &template.resolve(def)["Properties"]["ContainerDefinitions"][0];
        container["Environment"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|v| {
                (
                    v["Name"].as_str().unwrap().into(),
                    v["Value"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    for given in ["Z0123456789ABCDEFGHIJ", "/hostedzone/Z0123456789ABCDEFGHIJ"] {
        let template = Template::load().with("ZoneId", given);
        assert_eq!(
            environment(&template)["R53R_ROUTE53__ZONE_ID"],
            "Z0123456789ABCDEFGHIJ",
            "{CLOUDFORMATION}: ZoneId={given}"
        );
        let policy = template.resolve(template.resource("TaskRole"));
        let statement = &policy["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0];
        assert_eq!(
            statement["Resource"], "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ",
            "{CLOUDFORMATION}: ZoneId={given}"
        );
    }
    let user = |template: Template| {
        let (_, def) = template.only_resource_of("AWS::ECS::TaskDefinition");
        template.resolve(def)["Properties"]["ContainerDefinitions"][0]
            .get("User")
            .cloned()
    };
    assert_eq!(user(Template::load()), None, "root unless told");
    assert_eq!(
        user(Template::load().with("SocketGroupId", "991")),
        Some(Value::from("65534:991"))
    );

    let group = |template: Template| {
        let group = template.resource("LogGroup");
        template.resolve(group)["Properties"]["LogGroupName"].clone()
    };
    assert_eq!(
        group(Template::load()),
        Value::from("/ecs/route53-registrator")
    );
    assert_eq!(
        group(Template::load().with("LogGroupName", "/ops/r53r")),
        Value::from("/ops/r53r")
    );
}

/// The alerting rules are valid Prometheus rules and pass their unit tests (`promtool`, from Debian's
/// `prometheus`, which scripts/test.sh installs).
#[test]
fn alert_rules_pass_promtool() {
    for (what, args) in [("check rules", [ALERTS]), ("test rules", [ALERTS_TESTS])] {
        let mut command = std::process::Command::new("promtool");
        command
            .args(what.split(' '))
            .args(args.map(|a| root().join(a)));
        let output = command.output().unwrap_or_else(|e| {
            panic!("promtool: {e}; install Debian's prometheus (scripts/test.sh does)")
        });
        assert!(
            output.status.success(),
            "promtool {what}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Every metric the alerting rules name is one the daemon exposes.
#[test]
fn alert_rules_name_only_metrics_the_daemon_exposes() {
    const PREFIX: &str = "route53_registrator_";
    let rules = read_text(ALERTS);
    let stats = route53_registrator::stats::Stats::new();
    // A family of labelled series shows only once it holds one.
    stats.request("ChangeResourceRecordSets", "throttled", None);
    stats.actor_restarted("writer");
    stats.ec2_request("DescribeInstances", "ok");
    let exposed = stats.render();
    let named: BTreeSet<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.len() > PREFIX.len() && word.starts_with(PREFIX))
        .collect();
    assert!(named.len() >= 7, "{ALERTS}: {named:?}");
    for metric in named {
        // A counter is declared without its `_total`.
        let family = metric.strip_suffix("_total").unwrap_or(metric);
        assert!(
            exposed.contains(&format!("# TYPE {family} ")),
            "{ALERTS}: {metric} is not a metric of /metrics"
        );
    }
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

/// deploy/README.md's recipe for pinning the names the role may change admits every name the daemon writes
/// for the services it lists, in every routing (the A record sets, the ledgers, simple routing's markers),
/// and refuses another service's; the recipe it replaced (exact names under `StringEquals` beside a
/// `StringLike` pattern, both holding for every name) would have refused them all.
#[test]
fn the_name_pinning_recipe_admits_the_daemons_names_and_nothing_else() {
    let recipe = json_after(
        &read_text(DEPLOY_README),
        "\"ForAllValues:StringLike\": {\n  \"route53:",
    );
    let patterns: Vec<String> = recipe
        .get("ForAllValues:StringLike")
        .and_then(|c| c.get("route53:ChangeResourceRecordSetsNormalizedRecordNames"))
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{DEPLOY_README}: the recipe lists no names: {recipe}"))
        .iter()
        .map(|p| p.as_str().expect("a pattern is a string").to_string())
        .collect();
    let zone = "service.discovery.";
    // What Route53 checks: lower case, no trailing dot.
    let normalized = |name: &str| name.trim_end_matches('.').to_ascii_lowercase();
    let mut written = Vec::new();
    for service in ["web", "api"] {
        let name = fqdn(service, zone);
        written.push(normalized(&marker_name(&name)));
        written.push(normalized(&name));
    }
    for owner in ["10.0.0.1", "i-0123456789abcdef0"] {
        written.push(normalized(&ledger_name(owner, zone).expect("labels")));
    }
    let admitted = |name: &str| patterns.iter().any(|p| string_like(p, name));
    for name in &written {
        assert!(admitted(name), "{name} is refused by {patterns:?}");
    }
    for other in ["db.service.discovery", "service.discovery", "web.elsewhere"] {
        assert!(!admitted(other), "{other} is admitted by {patterns:?}");
    }
    // The old recipe: `StringEquals` on the services AND `StringLike` on the ledgers, for every name.
    let services = ["web.service.discovery", "api.service.discovery"];
    let ledgers = "*._owners._route53-registrator.service.discovery";
    let old = |name: &str| services.contains(&name) && string_like(ledgers, name);
    assert!(
        written.iter().all(|name| !old(name)),
        "the AND refuses every name"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Files

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// IAM's `StringLike`: `*` matches any run of characters (dots too), `?` any one.
fn string_like(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    // matches[j]: the pattern so far matches the first j characters of the value.
    let mut matches = vec![false; v.len() + 1];
    matches[0] = true;
    for c in p {
        let mut next = vec![false; v.len() + 1];
        for j in 0..=v.len() {
            next[j] = match c {
                '*' => matches[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && matches[j - 1],
                c => j > 0 && matches[j - 1] && v[j - 1] == c,
            };
        }
        matches = next;
    }
    matches[v.len()]
}

/// The fenced example of a README that starts with `needle` (a JSON member, such as a policy's condition),
/// up to the fence that closes it, as the object holding that member.
fn json_after(text: &str, needle: &str) -> Value {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("no {needle:?} in the text"));
    let end = text[at..].find("\n```").map_or(text.len(), |e| at + e);
    let block = format!("{{{}}}", &text[at..end]);
    serde_json::from_str(&block).unwrap_or_else(|e| panic!("not JSON ({e}): {block}"))
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
        current = child(current, step)
            .unwrap_or_else(|| panic!("{file}: key {} is missing", path[..=i].join(".")));
    }
    current
}

/// The value under `step`: an object's key, or an array's index written as a number.
fn child<'a>(value: &'a Value, step: &str) -> Option<&'a Value> {
    match step.parse::<usize>() {
        Ok(index) => value.get(index),
        Err(_) => value.get(step),
    }
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
    // The stack name deploy/README.md deploys with: the log group the plain files name is named after it.
    ("AWS::StackName", "route53-registrator"),
];

/// What `Ref AWS::NoValue` resolves to until the object or list holding it drops it.
const NO_VALUE: &str = "<AWS::NoValue>";

struct Template {
    doc: Value,
    /// Parameter values given instead of the placeholders and defaults.
    given: BTreeMap<String, String>,
}

impl Template {
    fn load() -> Template {
        Template {
            doc: read_json(CLOUDFORMATION),
            given: BTreeMap::new(),
        }
    }

    /// The same template, deployed with `parameter` set to `value`.
    fn with(mut self, parameter: &str, value: &str) -> Template {
        at(CLOUDFORMATION, &self.doc, &["Parameters", parameter]);
        self.given.insert(parameter.to_string(), value.to_string());
        self
    }

    /// Whether the condition `name` holds (`Fn::Equals`, `Fn::Not`, `Condition`, as the template uses them).
    fn condition(&self, name: &str) -> bool {
        let condition = at(CLOUDFORMATION, &self.doc, &["Conditions", name]);
        self.holds(condition)
    }

    fn holds(&self, condition: &Value) -> bool {
        let operand = |key: &str| condition.get(key).and_then(Value::as_array);
        if let Some([a, b]) = operand("Fn::Equals").map(Vec::as_slice) {
            return self.resolve(a) == self.resolve(b);
        }
        if let Some([inner]) = operand("Fn::Not").map(Vec::as_slice) {
            return !self.holds(inner);
        }
        if let Some(name) = condition.get("Condition").and_then(Value::as_str) {
            return self.condition(name);
        }
        panic!("{CLOUDFORMATION}: a condition this test cannot evaluate: {condition}")
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
        if name == "AWS::NoValue" {
            return NO_VALUE.to_string();
        }
        if let Some(value) = self.given.get(name) {
            return value.clone();
        }
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

    fn resolve_sub(&self, text: &str, variables: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .unwrap_or_else(|| panic!("{CLOUDFORMATION}: unclosed ${{ in Fn::Sub {text:?}"));
            let name = &after[..end];
            out.push_str(&match (variables.get(name), name.split_once('.')) {
                (Some(value), _) => value.clone(),
                (None, Some((resource, attribute))) => format!("<{resource}.{attribute}>"),
                (None, None) => self.resolve_ref(name),
            });
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// `value` with every `Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::If`, `Fn::Join` and `Fn::Split` replaced by
    /// what the plain JSON files write; a member or item that resolves to `AWS::NoValue` is left out.
    fn resolve(&self, value: &Value) -> Value {
        let function = |name: &str| match value {
            Value::Object(map) if map.len() == 1 => map.get(name),
            _ => None,
        };
        let strings = |value: Value| -> Vec<String> {
            match value {
                Value::Array(items) => items
                    .into_iter()
                    .map(|i| i.as_str().expect("a string").to_string())
                    .collect(),
                other => panic!("{CLOUDFORMATION}: not a list of strings: {other}"),
            }
        };
        if let Some(Value::Array(args)) = function("Fn::If") {
            let name = args[0].as_str().expect("Fn::If names a condition");
            return self.resolve(&args[if self.condition(name) { 1 } else { 2 }]);
        }
        if let Some(Value::Array(args)) = function("Fn::Join") {
            let separator = args[0].as_str().expect("Fn::Join's separator");
            return Value::String(strings(self.resolve(&args[1])).join(separator));
        }
        if let Some(Value::Array(args)) = function("Fn::Split") {
            let separator = args[0].as_str().expect("Fn::Split's separator");
            let text = self.resolve_string(&args[1], "Fn::Split's text");
            return Value::Array(text.split(separator).map(Value::from).collect());
        }
        if let Some(Value::Array(args)) = function("Fn::Sub") {
            let text = args[0].as_str().expect("Fn::Sub's text");
            let variables = args[1]
                .as_object()
                .expect("Fn::Sub's variables")
                .iter()
                .map(|(k, v)| (k.clone(), self.resolve_string(v, k)))
                .collect();
            return Value::String(self.resolve_sub(text, &variables));
        }
        let kept = |v: &Value| v.as_str() != Some(NO_VALUE);
        match value {
            Value::Object(map) if map.len() == 1 && map.contains_key("Ref") => {
                Value::String(self.resolve_ref(
                    map["Ref"].as_str().unwrap_or_else(|| {
                        panic!("{CLOUDFORMATION}: Ref of a non-string: {value}")
                    }),
                ))
            }
            Value::Object(map) if map.len() == 1 && map.contains_key("Fn::Sub") => {
                let text = map["Fn::Sub"].as_str().unwrap_or_else(|| {
                    panic!("{CLOUDFORMATION}: Fn::Sub is a string or a list: {value}")
                });
                Value::String(self.resolve_sub(text, &BTreeMap::new()))
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
                    .filter(|(_, v)| kept(v))
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.resolve(v)).filter(kept).collect())
            }
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

#[derive(Debug, PartialEq, serde::Serialize)]
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

/// Reads one object of a task definition (already resolved, for the template) in one spelling: the
/// definition, its container or an item of a list, named by its camelCase path from the definition, which
/// every failure names with the file.
struct Reader<'a> {
    file: &'a str,
    root: &'a Value,
    spelling: Spelling,
    /// Where the object stands, as the file spells it.
    under: Vec<String>,
}

impl<'a> Reader<'a> {
    /// `path` (camelCase, below this object) as the file spells it, from the definition.
    fn path(&self, path: &[&str]) -> Vec<String> {
        let mut full = self.under.clone();
        full.extend(self.spelling.path(path));
        full
    }

    fn get(&self, path: &[&str]) -> &'a Value {
        let full = self.path(path);
        at(
            self.file,
            self.root,
            &full.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    }

    fn find(&self, path: &[&str]) -> Option<&'a Value> {
        self.path(path)
            .iter()
            .try_fold(self.root, |v, step| child(v, step))
    }

    /// The object at `path`, read the same way.
    fn below(&self, path: &[&str]) -> Reader<'a> {
        Reader {
            under: self.path(path),
            ..*self
        }
    }

    /// The value at `path` as `kind` (`f` reads it), `None` when absent.
    fn opt<T>(&self, path: &[&str], kind: &str, f: impl Fn(&'a Value) -> Option<T>) -> Option<T> {
        self.find(path).map(|v| {
            f(v).unwrap_or_else(|| {
                panic!(
                    "{}: {} is not {kind}: {v}",
                    self.file,
                    self.path(path).join(".")
                )
            })
        })
    }

    /// The value at `path` as `kind`, which must be there.
    fn req<T>(&self, path: &[&str], kind: &str, f: impl Fn(&'a Value) -> Option<T>) -> T {
        self.get(path);
        self.opt(path, kind, f).unwrap()
    }

    fn string(&self, path: &[&str]) -> String {
        self.req(path, "a string", Value::as_str).to_string()
    }

    fn number(&self, path: &[&str]) -> u64 {
        self.req(path, "a whole number", Value::as_u64)
    }

    fn flag(&self, path: &[&str]) -> Option<bool> {
        self.opt(path, "true or false", Value::as_bool)
    }

    /// The string or list of strings at `path`, as a set.
    fn names(&self, path: &[&str]) -> BTreeSet<String> {
        string_or_list(self.file, self.get(path), &self.path(path).join("."))
    }

    /// A reader of each item of the list at `path`, none when there is no list.
    fn items(&self, path: &[&str]) -> Vec<Reader<'a>> {
        let len = self
            .opt(path, "a list", Value::as_array)
            .map_or(0, Vec::len);
        (0..len)
            .map(|i| self.below(&[path, &[i.to_string().as_str()]].concat()))
            .collect()
    }

    /// The object of strings at `path` (its keys as written), empty when there is none.
    fn string_map(&self, path: &[&str]) -> BTreeMap<String, String> {
        let map = self.opt(path, "an object", Value::as_object);
        map.into_iter()
            .flatten()
            .map(|(key, value)| {
                let value = value.as_str().unwrap_or_else(|| {
                    let at = self.path(path).join(".");
                    panic!("{}: {at}.{key} is not a string: {value}", self.file)
                });
                (key.clone(), value.to_string())
            })
            .collect()
    }
}

/// The settings of the task definition `def` (already resolved, for the template), as `file` spells them.
fn task_settings(file: &str, def: &Value, spelling: Spelling) -> TaskSettings {
    let task = Reader {
        file,
        root: def,
        spelling,
        under: Vec::new(),
    };
    let c = task.below(&["containerDefinitions", "0"]);
    c.req(&["environment"], "a list", Value::as_array);
    let volumes: BTreeMap<String, String> = task
        .items(&["volumes"])
        .iter()
        .map(|v| {
            let source = v.opt(&["host", "sourcePath"], "a string", Value::as_str);
            (v.string(&["name"]), source.unwrap_or_default().to_string())
        })
        .collect();
    let mounts = c
        .items(&["mountPoints"])
        .iter()
        .map(|m| {
            let volume = m.string(&["sourceVolume"]);
            let source = volumes.get(&volume).cloned().unwrap_or_else(|| {
                panic!("{file}: mountPoints: volume {volume:?} is not declared in volumes")
            });
            let read_only = m.flag(&["readOnly"]).unwrap_or(false);
            (m.string(&["containerPath"]), (read_only, source))
        })
        .collect();
    c.req(&["healthCheck", "command"], "a list", Value::as_array);
    TaskSettings {
        family: task.string(&["family"]),
        network_mode: task.string(&["networkMode"]),
        requires_compatibilities: task.names(&["requiresCompatibilities"]),
        containers: task
            .req(&["containerDefinitions"], "a list", Value::as_array)
            .len(),
        container_name: c.string(&["name"]),
        essential: c.req(&["essential"], "true or false", Value::as_bool),
        memory_reservation: c.number(&["memoryReservation"]),
        memory: c.opt(&["memory"], "a whole number", Value::as_u64),
        stop_timeout: c.number(&["stopTimeout"]),
        readonly_root_filesystem: c.req(
            &["readonlyRootFilesystem"],
            "true or false",
            Value::as_bool,
        ),
        privileged: c.flag(&["privileged"]).unwrap_or(false),
        capabilities_dropped: c.names(&["linuxParameters", "capabilities", "drop"]),
        capabilities_added: c
            .find(&["linuxParameters", "capabilities", "add"])
            .map(|_| c.names(&["linuxParameters", "capabilities", "add"]))
            .unwrap_or_default(),
        health_command: c
            .items(&["healthCheck", "command"])
            .iter()
            .map(|part| part.string(&[]))
            .collect(),
        health_timing: ["interval", "timeout", "retries", "startPeriod"]
            .iter()
            .map(|key| c.number(&["healthCheck", key]))
            .collect(),
        environment: c
            .items(&["environment"])
            .iter()
            .map(|pair| (pair.string(&["name"]), pair.string(&["value"])))
            .collect(),
        mounts,
        docker_labels: c.string_map(&["dockerLabels"]),
        log_driver: c.string(&["logConfiguration", "logDriver"]),
        log_options: c.string_map(&["logConfiguration", "options"]),
    }
}

/// The fields in which `template` and `json` differ: `field: template's vs json's`.
fn differing_fields(template: &TaskSettings, json: &TaskSettings) -> Vec<String> {
    let (Value::Object(t), Value::Object(j)) = (
        serde_json::to_value(template).unwrap(),
        serde_json::to_value(json).unwrap(),
    ) else {
        unreachable!("TaskSettings serializes as an object")
    };
    t.iter()
        .filter(|(field, value)| j.get(*field) != Some(*value))
        .map(|(field, value)| {
            format!(
                "{field}: {value} in the template vs {} in the JSON",
                j[field]
            )
        })
        .collect()
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
    let ignore_label = Settings::default().selection.ignore_label;
    let env = |name: &str| s.environment.get(name).map(String::as_str);
    let (interval, timeout) = (s.health_timing[0], s.health_timing[1]);
    let must: Vec<(bool, String)> = vec![
        (s.network_mode == "host", "networkMode must be host".into()),
        (
            s.requires_compatibilities == set(&["EC2"]),
            "requiresCompatibilities must be [\"EC2\"] (a DAEMON service on container instances)".into(),
        ),
        (s.containers == 1, "containerDefinitions must hold the daemon alone".into()),
        (s.essential, "containerDefinitions.0.essential must be true".into()),
        (
            s.readonly_root_filesystem,
            "containerDefinitions.0.readonlyRootFilesystem must be true".into(),
        ),
        (!s.privileged, "containerDefinitions.0.privileged must not be true".into()),
        (
            s.capabilities_dropped.contains("ALL"),
            "linuxParameters.capabilities.drop must be [\"ALL\"]".into(),
        ),
        (
            s.capabilities_added.is_empty(),
            "linuxParameters.capabilities.add must be empty".into(),
        ),
        // Exec form: the image has no shell.
        (
            s.health_command.first().map(String::as_str) == Some("CMD"),
            "healthCheck.command must be in exec form ([\"CMD\", ...]; the image has no shell)".into(),
        ),
        (
            s.health_command.get(1..3) == Some(&[IMAGE_BINARY.into(), "healthcheck".into()]),
            format!("healthCheck.command must run {IMAGE_BINARY} healthcheck"),
        ),
        (
            timeout < interval,
            format!("healthCheck.timeout ({timeout}) must be shorter than healthCheck.interval ({interval})"),
        ),
        (
            env("R53R_LOG__FORMAT") == Some("json"),
            "environment must set R53R_LOG__FORMAT=json".into(),
        ),
        (
            env("R53R_ROUTE53__ZONE_ID").is_some(),
            "environment must set R53R_ROUTE53__ZONE_ID".into(),
        ),
        // The daemon never publishes itself.
        (
            s.docker_labels.get(&ignore_label).map(String::as_str) == Some("true"),
            format!("dockerLabels must set {ignore_label}=true"),
        ),
        (s.log_driver == "awslogs", "logConfiguration.logDriver must be awslogs".into()),
    ];
    for (holds, what) in must {
        assert!(holds, "{file}: {what}; the settings read are {s:#?}");
    }

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
    let region = env("AWS_REGION")
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| panic!("{file}: environment must set AWS_REGION (older agents do not)"));
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

    // Logs to CloudWatch, in the region set above.
    for option in ["awslogs-group", "awslogs-region", "awslogs-stream-prefix"] {
        assert!(
            s.log_options.get(option).is_some_and(|v| !v.is_empty()),
            "{file}: logConfiguration.options must set {option}"
        );
    }
    assert_eq!(
        s.log_options.get("awslogs-region").map(String::as_str),
        Some(region),
        "{file}: logConfiguration.options.awslogs-region must be the AWS_REGION of the environment"
    );
}

// ---------------------------------------------------------------------------------------------------------
// The policy

/// One statement of the policy: where it stands (`Statement.1`), its Sid, and the actions it grants.
struct Statement<'a> {
    policy: &'a Value,
    index: String,
    sid: &'a str,
    actions: BTreeSet<String>,
}

impl<'a> Statement<'a> {
    /// The value at `path` in this statement, or a failure naming the file and the key.
    fn get(&self, path: &[&str]) -> &'a Value {
        let mut full = vec!["Statement", self.index.as_str()];
        full.extend_from_slice(path);
        at(IAM_POLICY, self.policy, &full)
    }

    /// The string or list of strings at `path` (`Resource`, a condition's values), as a set.
    fn names(&self, path: &[&str]) -> BTreeSet<String> {
        let what = format!("Statement.{}.{}", self.index, path.join("."));
        string_or_list(IAM_POLICY, self.get(path), &what)
    }
}

/// The statements of `policy` (deploy/iam-policy.json), each checked to be an Allow without NotAction or
/// NotResource.
fn statements(policy: &Value) -> Vec<Statement<'_>> {
    let list = at(IAM_POLICY, policy, &["Statement"])
        .as_array()
        .unwrap_or_else(|| panic!("{IAM_POLICY}: Statement is not a list"));
    (0..list.len())
        .map(|i| {
            let mut statement = Statement {
                policy,
                index: i.to_string(),
                sid: list[i].get("Sid").and_then(Value::as_str).unwrap_or("?"),
                actions: BTreeSet::new(),
            };
            statement.actions = statement.names(&["Action"]);
            let effect = statement.get(&["Effect"]);
            assert_eq!(effect, "Allow", "{IAM_POLICY}: Statement.{i}.Effect");
            assert!(
                list[i].get("NotAction").is_none() && list[i].get("NotResource").is_none(),
                "{IAM_POLICY}: Statement.{i} must not use NotAction or NotResource"
            );
            statement
        })
        .collect()
}

/// `items` as a set of strings.
fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| item.to_string()).collect()
}
