//! The merged tree of settings, before serde: unknown keys refused with their origin, and serde's complaints
//! worded for a user (the value as written, and what would be valid).

use ::config::{Value as Layered, ValueKind};
use serde_path_to_error::Segment;
use toml::{Table, Value};

use super::{invalid, ConfigError};

/// Refuses a key of `layers` (the file's, or all merged) that no setting has, naming where it came from (its
/// [`origin`], else `source`: the file's values have none), with the keys that exist; and a value where a
/// section belongs.
pub(super) fn check_keys(
    layers: &::config::Map<String, Layered>,
    defaults: &Table,
    prefix: &str,
    source: &str,
) -> Result<(), ConfigError> {
    for (name, value) in layers {
        let key = match prefix {
            "" => name.clone(),
            _ => format!("{prefix}.{name}"),
        };
        let Some(default) = defaults.get(name) else {
            let known = defaults.keys().map(|k| match prefix {
                "" => k.clone(),
                _ => format!("{prefix}.{k}"),
            });
            let known = known.collect::<Vec<_>>().join(", ");
            return Err(ConfigError::UnknownKey {
                key,
                origin: origin(value).unwrap_or(source).into(),
                expected: match prefix {
                    "" => format!("the sections {known}"),
                    _ => known,
                },
            });
        };
        match (default, &value.kind) {
            (Value::Table(default), ValueKind::Table(value)) => {
                check_keys(value, default, &key, source)?
            }
            (Value::Table(_), _) => {
                let shown = to_toml(value.clone()).map_or_else(String::new, |v| show(&v));
                return Err(invalid(&key, shown, format!("a table ([{key}])")));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The variable a value came from: its origin, or for a section the merge made, its first value's. `None` for
/// the defaults and the file (`config::File::from_str` gives its values no origin).
fn origin(value: &Layered) -> Option<&str> {
    value.origin().or_else(|| match &value.kind {
        ValueKind::Table(table) => table.values().find_map(origin),
        ValueKind::Array(items) => items.iter().find_map(origin),
        _ => None,
    })
}

/// The merged layers as a TOML tree, kind for kind (I64 → Integer, Float → Float, String → String, ...):
/// nothing is converted, so serde judges each value as it was written. `None` for nil, which only fills the
/// gaps `config` leaves in a list given by index (a quoted `"a.b[3]"` key), and is dropped.
fn to_toml(value: Layered) -> Option<Value> {
    Some(match value.kind {
        ValueKind::Nil => return None,
        ValueKind::Boolean(b) => Value::Boolean(b),
        ValueKind::I64(n) => Value::Integer(n),
        // Only the defaults are of these kinds (a `u32` serialises as U64), and all of them fit TOML.
        ValueKind::U64(n) => Value::Integer(n.try_into().ok()?),
        ValueKind::I128(n) => Value::Integer(n.try_into().ok()?),
        ValueKind::U128(n) => Value::Integer(n.try_into().ok()?),
        ValueKind::Float(x) => Value::Float(x),
        ValueKind::String(s) => Value::String(s),
        ValueKind::Table(table) => Value::Table(to_toml_table(table)),
        ValueKind::Array(items) => Value::Array(items.into_iter().filter_map(to_toml).collect()),
    })
}

pub(super) fn to_toml_table(table: ::config::Map<String, Layered>) -> Table {
    let values = table.into_iter();
    values.filter_map(|(k, v)| Some((k, to_toml(v)?))).collect()
}

/// serde's refusal of a value, as a [`ConfigError`] naming the key (from the error's path), the value as
/// written (read back from the tree) and what would be valid (serde's expectation, in a user's words).
pub(super) fn type_error(
    merged: &Value,
    defaults: &Value,
    err: &serde_path_to_error::Error<toml::de::Error>,
) -> ConfigError {
    // serde words every type error "<what was found>, expected <what would do>".
    let message = err.inner().message();
    let (found, serde_says) = message
        .rsplit_once(", expected ")
        .unwrap_or((message, message));
    let at = |tree| {
        err.path()
            .iter()
            .try_fold(tree, |value: &Value, segment| match segment {
                Segment::Map { key } => value.get(key.as_str()),
                Segment::Seq { index } => value.get(*index),
                _ => None,
            })
    };
    let value = at(merged).map_or_else(|| found.to_owned(), show);
    invalid(
        &err.path().to_string(),
        value,
        expected(serde_says, at(defaults)),
    )
}

/// What a valid value looks like, from serde's expectation (`i64`, `a boolean`, `a duration`, `one of
/// `multivalue`, ...`) and, as an example, the key's default.
pub(super) fn expected(serde_says: &str, default: Option<&Value>) -> String {
    let what = match serde_says {
        "i8" | "i16" | "i32" | "i64" => "an integer".to_owned(),
        "u8" | "u16" | "u32" | "u64" => {
            let bits: u32 = serde_says[1..].parse().unwrap_or(64);
            format!("an integer, 0..={}", u64::MAX >> (64 - bits))
        }
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => return "true or false".into(),
        "a sequence" => "a list".to_owned(),
        // toml's word for an enum given something else than a string.
        "string only" => "a string".to_owned(),
        // The variants of an enum: "one of `a`, `b`", "`a` or `b`".
        variants if variants.contains('`') => return variants.replace('`', ""),
        // A type of our own that says what it wants, with its example (`route53.startup_spread`).
        own if own.contains("such as") => return own.to_owned(),
        other => other.to_owned(),
    };
    match default {
        None | Some(Value::Boolean(_)) => what,
        Some(Value::String(s)) if s.is_empty() => what,
        Some(Value::Array(items)) if items.is_empty() => what,
        Some(example) => format!("{what}, such as {}", show(example)),
    }
}

/// A value as a user would have written it: strings quoted, lists bracketed.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        Value::Table(_) => "a table".into(),
        other => other.to_string(),
    }
}
