//! The `R53R_<SECTION>__<KEY>` variables as a layer of the `config` crate, each read by the type of its key's
//! default (why by hand: [`super`]'s documentation).

use std::collections::BTreeMap;
use std::path::PathBuf;

use ::config::{Source, Value as Layered, ValueKind};
use toml::{Table, Value};

use super::tree::expected;
use super::{invalid, ConfigError, CONFIG_FILE_ENV, ENV_PREFIX};

/// The file `ROUTE53_REGISTRATOR_CONFIG` names (unset or empty: none), and the `R53R_` variables of `env`,
/// each by its key (`R53R_ROUTE53__TTL` as `route53.ttl`) with its name and text. Sorted, so that of two bad
/// variables the same one is reported every time.
pub(super) fn variables(
    env: impl IntoIterator<Item = (String, String)>,
) -> (Option<PathBuf>, BTreeMap<String, (String, String)>) {
    let mut file_from_env = None;
    let mut vars = BTreeMap::new();
    let prefix = format!("{}_", ENV_PREFIX.to_ascii_lowercase());
    for (name, value) in env {
        if name == CONFIG_FILE_ENV {
            file_from_env = Some(value).filter(|v| !v.is_empty()).map(PathBuf::from);
        } else if let Some(key) = name.to_ascii_lowercase().strip_prefix(&prefix) {
            vars.insert(key.replace("__", "."), (name, value));
        }
    }
    (file_from_env, vars)
}

/// The `R53R_` variables as a layer of the `config` crate: each value already of its key's type (see
/// [`from_env`]), with the variable's name as its origin.
#[derive(Clone, Debug)]
pub(super) struct Variables(::config::Map<String, Layered>);

impl Variables {
    /// `vars` maps each key (`route53.ttl`) to its variable's name and text; `defaults` gives the keys' types.
    pub(super) fn read(
        vars: BTreeMap<String, (String, String)>,
        defaults: &Table,
    ) -> Result<Variables, ConfigError> {
        let values = vars.into_iter().map(|(key, (name, raw))| {
            // `R53R_`, `R53R___TTL`, `R53R_ROUTE53__`: no section or no key to name (found by the config
            // fuzz target, which got "unknown key ``"); the variable's own name is what the user wrote.
            if key.split('.').any(str::is_empty) {
                return Err(ConfigError::UnknownKey {
                    key: name,
                    origin: "the environment".into(),
                    expected: format!(
                        "{ENV_PREFIX}_<SECTION>__<KEY>, such as {ENV_PREFIX}_ROUTE53__ZONE_ID"
                    ),
                });
            }
            let mut path = key.split('.');
            let section = path.next().and_then(|name| defaults.get(name));
            let default = path.fold(section, |value, name| value?.get(name));
            Ok((key.clone(), from_env(&key, &name, default, &raw)?))
        });
        values.collect::<Result<_, _>>().map(Variables)
    }
}

impl Source for Variables {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    /// Keyed by path (`route53.ttl`): `config` sets each value into its section.
    fn collect(&self) -> Result<::config::Map<String, Layered>, ::config::ConfigError> {
        Ok(self.0.clone())
    }
}

/// The value of the variable `name` for `key`, of the type of the key's default: an integer or a boolean
/// trimmed and parsed strictly, a list split on commas with every item trimmed and none empty, anything else
/// (strings, durations, enums; and a key that is unknown, a section or below a value, for `check_keys` and
/// serde to refuse) the text as written.
fn from_env(
    key: &str,
    name: &str,
    default: Option<&Value>,
    raw: &str,
) -> Result<Layered, ConfigError> {
    let origin = Some(name.to_owned());
    let layered = |kind: ValueKind| Layered::new(origin.as_ref(), kind);
    let text = raw.trim();
    let shown = if text.is_empty() { "\"\"" } else { text };
    let refuse = |serde_says| invalid(key, shown, expected(serde_says, default));
    Ok(layered(match default {
        Some(Value::Integer(_)) => text.parse::<i64>().map_err(|_| refuse("i64"))?.into(),
        Some(Value::Float(_)) => text.parse::<f64>().map_err(|_| refuse("f64"))?.into(),
        Some(Value::Boolean(_)) if text.eq_ignore_ascii_case("true") => true.into(),
        Some(Value::Boolean(_)) if text.eq_ignore_ascii_case("false") => false.into(),
        Some(Value::Boolean(_)) => return Err(refuse("a boolean")),
        Some(Value::Array(_)) if text.is_empty() => ValueKind::Array(Vec::new()),
        Some(Value::Array(_)) => {
            let items: Vec<&str> = raw.split(',').map(str::trim).collect();
            if let Some(i) = items.iter().position(|item| item.is_empty()) {
                return Err(invalid(
                    &format!("{key}[{i}]"),
                    format!("\"\" (in {name}={raw:?})"),
                    "comma-separated non-empty items",
                ));
            }
            ValueKind::Array(items.into_iter().map(|item| layered(item.into())).collect())
        }
        _ => raw.into(),
    }))
}
