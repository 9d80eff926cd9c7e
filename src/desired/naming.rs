//! Pure: which containers are services, and under which name.
//!
//! The rules, in order (README, "Which containers, which names"):
//!
//! | the container                                                    | result                                  |
//! |------------------------------------------------------------------|-----------------------------------------|
//! | ignore label `true` (any case)                                   | not a service (opting out wins)         |
//! | neither the name-override label nor a family ending in a suffix  | not a service (silently)                |
//! | ECS container name starting with `~internal~` (`~internal~ecs~pause`) | skipped: ECS's own container       |
//! | network mode `none` or `container:…` (how `awsvpc` tasks run)    | skipped: the host IP would be wrong     |
//! | matching family, no override label and no name label             | skipped: nothing to name it by          |
//! | name-override label                                              | its value, sanitised (wins over the ECS name) |
//! | matching family                                                  | the name label's value, sanitised       |
//!
//! A name that cannot be sanitised is refused ([`NameRefusal`]). Skips and refusals are for the log (once per
//! container, by the classifier actor); a container that is simply not a service is not logged, since most
//! containers on an instance are not.
//!
//! A matching family without a name label is a *skip*, not a refusal: ECS always sets both labels, so it is a
//! hand-made container that copied one label, and there is no name to refuse.

use std::fmt;

use crate::config::SelectionSettings;
use crate::docker::container::ContainerInfo;

/// The ECS container-name prefix of ECS's own containers (the `awsvpc` pause container, for one).
const ECS_INTERNAL_PREFIX: &str = "~internal~";

/// The longest DNS label.
const MAX_LABEL_LEN: usize = 63;

/// What a container is to this daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Classification {
    /// A service, published under this name (one sanitised DNS label).
    Service(String),
    /// Not a service: no matching label, or opted out. Not logged.
    NotService,
    /// Would be a service but cannot be published from this host; logged once.
    Skipped(SkipReason),
    /// A service whose name cannot be used; logged once and counted.
    Refused(NameRefusal),
}

/// Why a container that asked to be published is not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Network mode `none`: the container is not reachable at the host IP.
    NetworkNone,
    /// Network mode `container:<id>` (how `awsvpc` tasks run): reachable at another container's IP, not the
    /// host's.
    NetworkContainer(String),
    /// One of ECS's own containers (its ECS container name starts with `~internal~`).
    EcsInternal(String),
    /// The family matches but the container has no name label (and no override label) to name it by.
    NoNameLabel { label: String },
}

impl SkipReason {
    /// A short name for the metrics' `reason` label.
    pub fn label(&self) -> &'static str {
        match self {
            SkipReason::NetworkNone => "network_none",
            SkipReason::NetworkContainer(_) => "network_container",
            SkipReason::EcsInternal(_) => "ecs_internal",
            SkipReason::NoNameLabel { .. } => "no_name_label",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NetworkNone => {
                write!(f, "network mode none: not reachable at the host IP")
            }
            SkipReason::NetworkContainer(mode) => {
                write!(f, "network mode {mode} (awsvpc or shared namespace): not reachable at the host IP")
            }
            SkipReason::EcsInternal(name) => write!(f, "ECS's own container {name:?}"),
            SkipReason::NoNameLabel { label } => {
                write!(
                    f,
                    "the family matches but the label {label} is missing: no name to publish"
                )
            }
        }
    }
}

/// Why a name was refused; each carries the value as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameRefusal {
    /// It contains a dot: a name is one label, never a sub-domain.
    Dot(String),
    /// It contains `*`: no wildcards.
    Wildcard(String),
    /// It holds characters a DNS label cannot (a space, `/`, `@`, a non-ASCII letter, ...), listed once
    /// each in `chars`. Replacing or dropping them could turn one service's name into another's
    /// (`сервис-api` into `api`), so the name is refused instead.
    Characters { raw: String, chars: String },
    /// Nothing is left after sanitising (it was empty, or made only of `-` and `_`).
    Empty(String),
    /// Longer than 63 characters after sanitising; never truncated, so that two long names cannot collide.
    TooLong { raw: String, len: usize },
}

impl NameRefusal {
    /// A short name for the metrics' `reason` label.
    pub fn label(&self) -> &'static str {
        match self {
            NameRefusal::Dot(_) => "dot",
            NameRefusal::Wildcard(_) => "wildcard",
            NameRefusal::Characters { .. } => "characters",
            NameRefusal::Empty(_) => "empty",
            NameRefusal::TooLong { .. } => "too_long",
        }
    }
}

impl fmt::Display for NameRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameRefusal::Dot(raw) => write!(f, "{raw:?} contains \".\": a name is one DNS label, no sub-domains"),
            NameRefusal::Wildcard(raw) => write!(f, "{raw:?} contains \"*\": no wildcards"),
            NameRefusal::Characters { raw, chars } => write!(
                f,
                "{raw:?} contains {chars:?}, which a DNS name cannot hold; only letters a-z (any case), digits, \
                 \"-\" and \"_\" are allowed, since replacing others could make it another service's name"
            ),
            NameRefusal::Empty(raw) => write!(f, "{raw:?} is empty once sanitised"),
            NameRefusal::TooLong { raw, len } => write!(
                f,
                "{raw:?} is {len} characters once sanitised, more than a DNS label's {MAX_LABEL_LEN} (never truncated)"
            ),
        }
    }
}

/// Decides what `c` is under the selection settings `sel` (see the module's table).
pub fn classify(sel: &SelectionSettings, c: &ContainerInfo) -> Classification {
    let label = |key: &str| c.labels.get(key).map(String::as_str);

    if label(&sel.ignore_label).is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Classification::NotService;
    }
    let name_override = label(&sel.name_override_label);
    let family_matches = label(&sel.family_label).is_some_and(|family| {
        sel.family_suffixes
            .iter()
            .any(|suffix| family.ends_with(suffix.as_str()))
    });
    if name_override.is_none() && !family_matches {
        return Classification::NotService;
    }

    let ecs_name = label(&sel.name_label);
    if let Some(ecs_name) = ecs_name.filter(|n| n.starts_with(ECS_INTERNAL_PREFIX)) {
        return Classification::Skipped(SkipReason::EcsInternal(ecs_name.to_owned()));
    }
    if c.network_mode == "none" {
        return Classification::Skipped(SkipReason::NetworkNone);
    }
    if c.network_mode.starts_with("container:") {
        return Classification::Skipped(SkipReason::NetworkContainer(c.network_mode.clone()));
    }

    let Some(raw) = name_label_value(sel, c) else {
        return Classification::Skipped(SkipReason::NoNameLabel {
            label: sel.name_label.clone(),
        });
    };
    match sanitize_name(raw) {
        Ok(name) => Classification::Service(name),
        Err(refusal) => Classification::Refused(refusal),
    }
}

/// Whether a label value may hold `ch`: sanitising changes nothing but case and `_` (to `-`).
fn is_allowed(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'
}

/// The label value a service container is named by: the name-override label's, else the ECS name label's.
pub fn name_label_value<'a>(sel: &SelectionSettings, c: &'a ContainerInfo) -> Option<&'a str> {
    let label = |key: &str| c.labels.get(key).map(String::as_str);
    label(&sel.name_override_label).or(label(&sel.name_label))
}

/// Turns a label value into one DNS label, or refuses it. The rules, in order:
///
/// | the label value                                  | result                                              |
/// |--------------------------------------------------|-----------------------------------------------------|
/// | contains `.` or `*`                              | refused (no sub-domains, no wildcards)              |
/// | any character but `A-Z a-z 0-9 - _` (` `, `/`, `é`, `сервис-api`) | refused: replacing it could make another service's name |
/// | `My_Svc`                                         | `my-svc`: lower-cased, `_` becomes `-`              |
/// | `--api--`                                        | `api`: leading and trailing `-` (and `_`) trimmed   |
/// | empty, or empty after the rules above (`__`)     | refused                                             |
/// | longer than 63 characters after the rules above  | refused (never truncated: two long names must not collide) |
///
/// So two label values map to one name only when they differ in case, in `_` against `-`, or in leading
/// and trailing `-`/`_`; a name that differs from its label is logged (once per container) by the
/// classifier. Inner runs of `-` are kept (`a__b` → `a--b`): collapsing them would make `a_b` and `a__b`
/// collide.
pub fn sanitize_name(raw: &str) -> Result<String, NameRefusal> {
    if raw.contains('.') {
        return Err(NameRefusal::Dot(raw.to_owned()));
    }
    if raw.contains('*') {
        return Err(NameRefusal::Wildcard(raw.to_owned()));
    }
    let mut bad = String::new();
    for ch in raw.chars().filter(|ch| !is_allowed(*ch)) {
        if !bad.contains(ch) {
            bad.push(ch);
        }
    }
    if !bad.is_empty() {
        return Err(NameRefusal::Characters {
            raw: raw.to_owned(),
            chars: bad,
        });
    }
    let mapped: String = raw
        .chars()
        .map(|ch| {
            if ch == '_' {
                '-'
            } else {
                ch.to_ascii_lowercase()
            }
        })
        .collect();
    let name = mapped.trim_matches('-');
    if name.is_empty() {
        return Err(NameRefusal::Empty(raw.to_owned()));
    }
    if name.len() > MAX_LABEL_LEN {
        return Err(NameRefusal::TooLong {
            raw: raw.to_owned(),
            len: name.len(),
        });
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {

    use proptest::prelude::*;

    use super::*;

    const FAMILY: &str = "com.amazonaws.ecs.task-definition-family";
    const NAME: &str = "com.amazonaws.ecs.container-name";
    const OVERRIDE: &str = "route53-registrator.name";
    const IGNORE: &str = "route53-registrator.ignore";

    type Labels<'a> = &'a [(&'a str, &'a str)];

    fn container(labels: Labels, network_mode: &str) -> ContainerInfo {
        let plain = ContainerInfo {
            name: "ecs-web-1-web-abc".into(),
            network_mode: network_mode.into(),
            ..ContainerInfo::plain("c1")
        };
        labels
            .iter()
            .fold(plain, |c, (key, value)| c.label(key, value))
    }

    fn service(name: &str) -> Classification {
        Classification::Service(name.into())
    }

    #[test]
    fn classification_table() {
        use Classification::{NotService, Refused, Skipped};
        // (scenario, labels, network mode, expected)
        let cases: Vec<(&str, Labels, &str, Classification)> = vec![
            (
                "dash suffix",
                &[(FAMILY, "web-service"), (NAME, "web")],
                "bridge",
                service("web"),
            ),
            (
                "dot suffix",
                &[(FAMILY, "web.service"), (NAME, "web")],
                "bridge",
                service("web"),
            ),
            (
                "no suffix",
                &[(FAMILY, "web"), (NAME, "web")],
                "bridge",
                NotService,
            ),
            (
                "suffix not at the end",
                &[(FAMILY, "web-service-x"), (NAME, "web")],
                "bridge",
                NotService,
            ),
            ("no labels", &[], "bridge", NotService),
            (
                "host network",
                &[(FAMILY, "web-service"), (NAME, "web")],
                "host",
                service("web"),
            ),
            (
                "default network",
                &[(FAMILY, "web-service"), (NAME, "web")],
                "default",
                service("web"),
            ),
            (
                "user network",
                &[(FAMILY, "web-service"), (NAME, "web")],
                "my-net",
                service("web"),
            ),
            (
                "network none",
                &[(FAMILY, "web-service"), (NAME, "web")],
                "none",
                Skipped(SkipReason::NetworkNone),
            ),
            (
                "awsvpc",
                &[(FAMILY, "web-service"), (NAME, "web")],
                "container:abc",
                Skipped(SkipReason::NetworkContainer("container:abc".into())),
            ),
            (
                "ecs pause container",
                &[(FAMILY, "web-service"), (NAME, "~internal~ecs~pause")],
                "none",
                Skipped(SkipReason::EcsInternal("~internal~ecs~pause".into())),
            ),
            (
                "ecs internal even with an override",
                &[
                    (FAMILY, "web-service"),
                    (NAME, "~internal~ecs~pause"),
                    (OVERRIDE, "pause"),
                ],
                "bridge",
                Skipped(SkipReason::EcsInternal("~internal~ecs~pause".into())),
            ),
            (
                "internal but not a service",
                &[(NAME, "~internal~ecs~pause")],
                "none",
                NotService,
            ),
            (
                "not a service in network none",
                &[(FAMILY, "x")],
                "none",
                NotService,
            ),
            (
                "family without a name label",
                &[(FAMILY, "web-service")],
                "bridge",
                Skipped(SkipReason::NoNameLabel { label: NAME.into() }),
            ),
            (
                "opt in without ECS labels",
                &[(OVERRIDE, "api")],
                "bridge",
                service("api"),
            ),
            (
                "override wins over the ECS name",
                &[
                    (FAMILY, "web-service"),
                    (NAME, "web"),
                    (OVERRIDE, "Front_End"),
                ],
                "bridge",
                service("front-end"),
            ),
            (
                "override on a non-matching family",
                &[(FAMILY, "batch"), (NAME, "job"), (OVERRIDE, "job")],
                "bridge",
                service("job"),
            ),
            (
                "ignore wins",
                &[(FAMILY, "web-service"), (NAME, "web"), (IGNORE, "true")],
                "bridge",
                NotService,
            ),
            (
                "ignore wins over an override",
                &[(OVERRIDE, "api"), (IGNORE, "TRUE")],
                "bridge",
                NotService,
            ),
            (
                "ignore any case",
                &[(FAMILY, "web-service"), (NAME, "web"), (IGNORE, "True")],
                "bridge",
                NotService,
            ),
            (
                "ignore false",
                &[(FAMILY, "web-service"), (NAME, "web"), (IGNORE, "false")],
                "bridge",
                service("web"),
            ),
            (
                "ignore other value",
                &[(FAMILY, "web-service"), (NAME, "web"), (IGNORE, "yes")],
                "bridge",
                service("web"),
            ),
            (
                "refused name",
                &[(FAMILY, "web-service"), (NAME, "api.v2")],
                "bridge",
                Refused(NameRefusal::Dot("api.v2".into())),
            ),
            (
                "empty override",
                &[(OVERRIDE, "")],
                "bridge",
                Refused(NameRefusal::Empty("".into())),
            ),
            (
                "network none is checked before the name",
                &[(OVERRIDE, "a.b")],
                "none",
                Skipped(SkipReason::NetworkNone),
            ),
        ];
        let sel = SelectionSettings::default();
        for (name, labels, mode, expected) in cases {
            assert_eq!(classify(&sel, &container(labels, mode)), expected, "{name}");
        }
    }

    #[test]
    fn labels_and_suffixes_are_configurable() {
        let sel = SelectionSettings {
            family_label: "fam".into(),
            name_label: "nm".into(),
            family_suffixes: vec!["-svc".into()],
            name_override_label: "dns".into(),
            ignore_label: "skip".into(),
            respect_health: true,
        };
        let cases: Vec<(&[(&str, &str)], Classification)> = vec![
            (&[("fam", "web-svc"), ("nm", "web")], service("web")),
            (
                &[("fam", "web-service"), ("nm", "web")],
                Classification::NotService,
            ),
            (
                &[(FAMILY, "web-service"), (NAME, "web")],
                Classification::NotService,
            ),
            (&[("dns", "api")], service("api")),
            (&[(OVERRIDE, "api")], Classification::NotService),
            (
                &[("dns", "api"), ("skip", "true")],
                Classification::NotService,
            ),
            (&[("dns", "api"), (IGNORE, "true")], service("api")),
        ];
        for (labels, expected) in cases {
            assert_eq!(
                classify(&sel, &container(labels, "bridge")),
                expected,
                "{labels:?}"
            );
        }
        let only_opt_in = SelectionSettings {
            family_suffixes: vec![],
            ..SelectionSettings::default()
        };
        assert_eq!(
            classify(
                &only_opt_in,
                &container(&[(FAMILY, "web-service"), (NAME, "web")], "bridge")
            ),
            Classification::NotService
        );
    }

    #[test]
    fn naming_table() {
        let long63 = "a".repeat(63);
        let cases: Vec<(&str, Result<&str, NameRefusal>)> = vec![
            ("web", Ok("web")),
            ("My_Svc", Ok("my-svc")),
            ("--api--", Ok("api")),
            ("_api_", Ok("api")),
            ("API2", Ok("api2")),
            ("a__b", Ok("a--b")),
            ("a b/c:d", Err(chars("a b/c:d", " /:"))),
            ("café", Err(chars("café", "é"))),
            ("сервис-api", Err(chars("сервис-api", "серви"))),
            ("pay ment", Err(chars("pay ment", " "))),
            ("Pay_Ment", Ok("pay-ment")),
            ("pay-ment", Ok("pay-ment")),
            ("9lives", Ok("9lives")),
            ("a.b", Err(NameRefusal::Dot("a.b".into()))),
            ("web.", Err(NameRefusal::Dot("web.".into()))),
            ("*", Err(NameRefusal::Wildcard("*".into()))),
            ("*.web", Err(NameRefusal::Dot("*.web".into()))),
            ("we*b", Err(NameRefusal::Wildcard("we*b".into()))),
            ("", Err(NameRefusal::Empty("".into()))),
            ("---", Err(NameRefusal::Empty("---".into()))),
            ("сервис", Err(chars("сервис", "серви"))),
            ("-_-", Err(NameRefusal::Empty("-_-".into()))),
            ("___", Err(NameRefusal::Empty("___".into()))),
            (long63.as_str(), Ok(long63.as_str())),
        ];
        for (raw, expected) in cases {
            assert_eq!(sanitize_name(raw), expected.map(str::to_owned), "{raw:?}");
        }
        // Over-long after sanitising: refused, not truncated; trimming is applied first.
        let long64 = "b".repeat(64);
        assert_eq!(
            sanitize_name(&long64),
            Err(NameRefusal::TooLong {
                raw: long64.clone(),
                len: 64
            })
        );
        assert_eq!(sanitize_name(&format!("-{long63}-")), Ok(long63.clone()));
    }

    fn chars(raw: &str, chars: &str) -> NameRefusal {
        NameRefusal::Characters {
            raw: raw.into(),
            chars: chars.into(),
        }
    }

    #[test]
    fn refusals_say_why() {
        let cases = [
            (sanitize_name("a.b"), "no sub-domains"),
            (sanitize_name("*"), "no wildcards"),
            (
                sanitize_name("сервис-api"),
                "contains \"серви\", which a DNS name cannot hold",
            ),
            (sanitize_name("__"), "empty once sanitised"),
            (sanitize_name(&"x".repeat(70)), "70 characters"),
        ];
        for (result, words) in cases {
            let text = result.unwrap_err().to_string();
            assert!(text.contains(words), "{text:?} should say {words:?}");
        }
    }

    proptest! {
        #[test]
        fn a_sanitised_name_is_always_one_valid_label(raw in prop_oneof![any::<String>(), "[ -~]{0,80}"]) {
            if let Ok(name) = sanitize_name(&raw) {
                prop_assert!(!name.is_empty() && name.len() <= 63);
                prop_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                prop_assert!(!name.starts_with('-') && !name.ends_with('-'));
                prop_assert!(!raw.contains('.') && !raw.contains('*'));
                // Sanitising is idempotent: a published name maps to itself.
                prop_assert_eq!(sanitize_name(&name), Ok(name.clone()));
            }
        }

        #[test]
        fn label_like_names_are_kept(raw in "[a-z0-9][a-z0-9-]{0,61}[a-z0-9]") {
            prop_assert_eq!(sanitize_name(&raw), Ok(raw.clone()));
        }

        #[test]
        fn names_are_case_insensitive(raw in "[A-Za-z0-9_-]{1,80}") {
            prop_assert_eq!(sanitize_name(&raw).ok(), sanitize_name(&raw.to_ascii_lowercase()).ok());
        }

        /// Two label values that share a name differ only in case, `_` against `-`, and leading or trailing
        /// `-`/`_`. Short strings over a small alphabet (with characters that must be refused) make
        /// collisions common enough to test; arbitrary strings cover the rest.
        #[test]
        fn only_case_and_dashes_can_make_two_labels_one_name(
            a in prop_oneof!["[aAbB1_ .é-]{0,6}", any::<String>()],
            b in prop_oneof!["[aAbB1_ .é-]{0,6}", any::<String>()],
        ) {
            let canonical = |raw: &str| {
                raw.to_ascii_lowercase().replace('_', "-").trim_matches('-').to_string()
            };
            if let (Ok(x), Ok(y)) = (sanitize_name(&a), sanitize_name(&b)) {
                prop_assert_eq!(x == y, canonical(&a) == canonical(&b), "{:?} {:?} -> {:?} {:?}", a, b, x, y);
            }
        }

        /// A refusal for characters names each character that is not allowed, once, and only those.
        #[test]
        fn a_refusal_names_the_characters(raw in any::<String>()) {
            if let Err(NameRefusal::Characters { chars, .. }) = sanitize_name(&raw) {
                for ch in chars.chars() {
                    prop_assert!(raw.contains(ch) && !is_allowed(ch));
                    prop_assert_eq!(chars.matches(ch).count(), 1);
                }
                prop_assert!(!chars.is_empty());
            }
        }
    }
}
