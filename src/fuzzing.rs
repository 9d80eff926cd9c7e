//! The properties the fuzz targets check (`fuzz/fuzz_targets/`), one plain function per target over the raw
//! input, so that the fuzzer (on nightly) and the corpus replay (`tests/fuzz_corpus.rs`, on stable) run the
//! same code. Each check panics, with the broken property and the input, when the code under test breaks a
//! property; libFuzzer then records the input as a crash.
//!
//! Not an API: the module is hidden from the docs and only the fuzz crate and the tests call it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::{SelectionSettings, Settings};
use crate::desired::naming::{
    classify, name_label_value, sanitize_name, Classification, NameRefusal,
};
use crate::docker::container::{ContainerInfo, Health};
use crate::route53::sdk::{
    classify as classify_failure, decode_name, split_message_list, unescape_xml,
    xml_elements_named_message, Failure, Operation,
};
use crate::route53::Route53Error;
use crate::writer::ledger::{ledger_record, listed_names};
use crate::writer::record::{fqdn, is_service_name};

/// The zone the names are published in, for the checks that a name lands inside it.
const ZONE: &str = "service.discovery.";

/// The path the config check's errors name for the fuzzed file's text.
const CONFIG_PATH: &str = "fuzz.toml";

/// Whether `name` is one DNS label as the daemon publishes it: 1..=63 characters of `[a-z0-9-]`, not
/// starting or ending with `-`.
fn is_dns_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Target `classify`: label values and containers → names.
///
/// The input, as UTF-8 (lossily), one item a line: the family suffixes (comma-separated; an empty line for
/// none), the network mode, then the container's labels as `key=value`. The selection's label keys are
/// short (`f` family, `n` name, `o` override, `i` ignore) so that the fuzzer finds them. The whole input and
/// every label value also go through [`sanitize_name`] on their own.
///
/// Properties: [`sanitize_name`] gives one valid DNS label (which it maps to itself, and no longer than the
/// value) or a refusal that carries the value as written and says something; [`classify`] names a service
/// only by the sanitised name label, refuses only as [`sanitize_name`] does, and publishes nothing for a
/// container opted out or in network mode `none` or `container:`; a service's name, put in the zone, is one
/// of the zone's service names, reads back unchanged from Route53's name encoding, and survives the ledger.
pub fn check_classify(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    check_sanitize(&text);

    let mut lines = text.split('\n');
    let suffixes = lines.next().unwrap_or_default();
    let network_mode = lines.next().unwrap_or_default();
    let labels: BTreeMap<String, String> = lines
        .map(|line| {
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            (key.to_owned(), value.to_owned())
        })
        .collect();
    for value in labels.values() {
        check_sanitize(value);
    }
    let sel = SelectionSettings {
        family_label: "f".into(),
        name_label: "n".into(),
        family_suffixes: match suffixes {
            "" => vec![],
            list => list.split(',').map(str::to_owned).collect(),
        },
        name_override_label: "o".into(),
        ignore_label: "i".into(),
        respect_health: true,
    };
    let container = ContainerInfo {
        id: "c1".into(),
        name: "fuzz".into(),
        labels,
        network_mode: network_mode.to_owned(),
        health: Health::NoCheck,
        stop_signal: None,
        started_at: None,
    };

    let result = classify(&sel, &container);
    let raw = name_label_value(&sel, &container);
    let opted_out = container
        .labels
        .get("i")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    match &result {
        Classification::Service(name) => {
            assert!(
                !opted_out,
                "an opted-out container is published as {name:?}"
            );
            assert!(
                network_mode != "none" && !network_mode.starts_with("container:"),
                "a container in network mode {network_mode:?} is published as {name:?}"
            );
            let raw = raw.expect("a service has a name label");
            assert_eq!(
                sanitize_name(raw).as_ref(),
                Ok(name),
                "a service's name is its sanitised name label"
            );
            check_in_zone(name);
        }
        Classification::Refused(refusal) => {
            let raw = raw.expect("a refusal has a name label");
            assert_eq!(
                sanitize_name(raw).as_ref(),
                Err(refusal),
                "classify refuses as sanitize_name does"
            );
        }
        Classification::Skipped(reason) => {
            assert!(!opted_out, "an opted-out container is logged as skipped");
            assert!(!reason.to_string().is_empty(), "a skip says why");
        }
        Classification::NotService => {}
    }
}

/// [`sanitize_name`]'s properties for one value.
fn check_sanitize(raw: &str) {
    match sanitize_name(raw) {
        Ok(name) => {
            assert!(is_dns_label(&name), "{raw:?} → {name:?}: not one DNS label");
            assert!(name.len() <= raw.len(), "{raw:?} → {name:?}: longer");
            assert_eq!(sanitize_name(&name).as_ref(), Ok(&name), "not idempotent");
            check_in_zone(&name);
        }
        Err(refusal) => {
            let carried = match &refusal {
                NameRefusal::Dot(raw)
                | NameRefusal::Wildcard(raw)
                | NameRefusal::Characters { raw, .. }
                | NameRefusal::Empty(raw)
                | NameRefusal::TooLong { raw, .. } => raw,
            };
            assert_eq!(carried, raw, "a refusal carries the value as written");
            assert!(!refusal.to_string().is_empty(), "a refusal says why");
        }
    }
}

/// A published name, put in the zone, is one label under it wherever the daemon reads names back.
fn check_in_zone(name: &str) {
    let full = fqdn(name, ZONE);
    assert_eq!(full, format!("{name}.{ZONE}"), "one label under the zone");
    assert!(
        is_service_name(&full, ZONE),
        "{full:?} is not a service name of the zone"
    );
    assert_eq!(
        decode_name(&full),
        full,
        "Route53's name decoding changes {full:?}"
    );
    let listed = BTreeSet::from([full.clone()]);
    let ledger = ledger_record("ledger", ZONE, None, &listed);
    assert_eq!(
        listed_names(&ledger, ZONE),
        listed,
        "{full:?} does not survive the ledger"
    );
}

/// Target `config`: the config file's text and `R53R_` variables → settings.
///
/// The input, as UTF-8 (lossily): the file's text up to the first NUL byte (none when empty), then the
/// environment, one `NAME=value` a line.
///
/// Properties: no panic; settings that load pass [`Settings::validate`] and load back to themselves from
/// [`Settings::to_toml`] (what `check-config` prints); an error says something, and names its key when it
/// has one.
pub fn check_config(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let (file, env) = text.split_once('\0').unwrap_or((&text, ""));
    let env: Vec<(String, String)> = env
        .lines()
        .map(|line| {
            let (name, value) = line.split_once('=').unwrap_or((line, ""));
            (name.to_owned(), value.to_owned())
        })
        .collect();
    let path = Path::new(CONFIG_PATH);
    let file = (!file.is_empty()).then_some((path, file));
    match Settings::load_from_text(file, env) {
        Ok(settings) => {
            if let Err(e) = settings.validate() {
                panic!("loaded settings fail validate(): {e}");
            }
            let printed = settings.to_toml();
            match Settings::load_from_text(Some((path, &printed)), []) {
                Ok(again) => assert_eq!(again, settings, "to_toml does not load back:\n{printed}"),
                Err(e) => panic!("to_toml does not load back: {e}\n{printed}"),
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.trim().is_empty(), "an empty error: {e:?}");
            if let Some(key) = e.key() {
                assert!(!key.is_empty(), "an error names an empty key: {e:?}");
                assert!(message.contains(key), "{message:?} does not name {key:?}");
            }
        }
    }
}

/// Escapes `text` as XML character data: the inverse [`unescape_xml`] must undo.
fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Target `error_body`: the body of a Route53 error answer → the messages of a refused batch.
///
/// The input, as UTF-8 (lossily, as the daemon reads a body), is the body.
///
/// Properties: unescaping never lengthens text, and undoes escaping exactly (a wrong order of its
/// replacements, `&amp;` first, decodes `&amp;lt;` twice); the messages found are no more than the
/// `<Message>` elements, none longer than the body and all together no longer; a message escaped into a
/// `<Message>` element reads back as itself; a message list splits into trimmed, non-empty pieces of it;
/// and a refused batch always has at least one message, each non-empty.
pub fn check_error_body(input: &[u8]) {
    let body = String::from_utf8_lossy(input);

    let unescaped = unescape_xml(&body);
    assert!(
        unescaped.len() <= body.len(),
        "unescaping lengthened {body:?}"
    );
    assert_eq!(
        unescape_xml(&escape_xml(&body)),
        *body,
        "unescape does not undo escape"
    );

    let messages = xml_elements_named_message(&body);
    assert!(messages.len() <= body.matches("<Message>").count());
    assert!(messages.iter().map(String::len).sum::<usize>() <= body.len());
    let wrapped = format!("<Error><Message>{}</Message></Error>", escape_xml(&body));
    assert_eq!(
        xml_elements_named_message(&wrapped),
        [body.to_string()],
        "an escaped message does not read back"
    );

    for piece in split_message_list(&body) {
        assert!(
            !piece.is_empty() && piece.trim() == piece,
            "piece {piece:?}"
        );
        assert!(
            body.contains(piece.as_str()),
            "{piece:?} is not of the message"
        );
    }

    for (code, message) in [("InvalidChangeBatch", None), ("", Some(body.to_string()))] {
        let failure = Failure {
            status: Some(400),
            code: Some(code.to_owned()).filter(|c| !c.is_empty()),
            message,
            body: Some(body.to_string()),
            ..Failure::default()
        };
        match classify_failure(Operation::ChangeResourceRecordSets, failure) {
            Route53Error::InvalidChangeBatch(messages) => {
                assert!(!messages.is_empty(), "a refused batch without a message");
                assert!(
                    messages.iter().all(|m| !m.trim().is_empty()),
                    "{messages:?}"
                );
            }
            other => panic!("a 400 to a change is not InvalidChangeBatch: {other:?}"),
        }
    }
}
