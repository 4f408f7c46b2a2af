//! Kafka configs in `[broker]`, `[[topic]]` and `[[workload]]` tables: each name checked
//! against the configs this build honours where it is read, each value against its type and
//! range.

use super::*;

/// A table of Kafka configs read where `place` configs are read. Dotted keys written without
/// quotes (`linger.ms = 5`, which TOML reads as nested tables) are joined back into one name.
pub(super) fn configs_from(field: &Field, place: Scope) -> Result<Configs> {
    let table = field.table()?;
    let mut configs = Configs::new();
    collect_configs(&table, "", place, &mut configs)?;
    Ok(configs)
}

pub(super) fn collect_configs(
    table: &Obj,
    prefix: &str,
    place: Scope,
    out: &mut Configs,
) -> Result<()> {
    for (key, field) in table.fields() {
        let name = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        };
        let located = Field {
            path: join_path(&table.path, &name),
            ..field
        };
        if located.node.table_like().is_some() {
            let nested = Obj {
                path: table.path.clone(),
                ..located.table()?
            };
            collect_configs(&nested, &name, place, out)?;
            continue;
        }
        if out.contains_key(&name) {
            return Err(located.error(format!("`{name}` is set twice")));
        }
        let spec = config_spec(table, key, &name, place)?;
        out.insert(name, config_value(&located, spec)?);
    }
    Ok(())
}

pub(super) fn config_spec(
    table: &Obj,
    key: &str,
    name: &str,
    place: Scope,
) -> Result<&'static configs::ConfigSpec> {
    if let Some(spec) = configs::lookup(place, name) {
        return Ok(spec);
    }
    let field = join_path(&table.path, name);
    let span = table
        .table
        .key(key)
        .and_then(|key| key.span())
        .or_else(|| table.span.clone());
    let elsewhere = honoured_configs().iter().find(|spec| spec.name == name);
    let (message, suggestion) = match elsewhere {
        Some(spec) => (misplaced_config(name, spec.scope, place), None),
        None => {
            let names: Vec<&str> = honoured_configs()
                .iter()
                .filter(|spec| configs::allowed_in(place, spec.scope))
                .map(|spec| spec.name)
                .collect();
            let message = format!(
                "unknown {} config `{name}`: kafkasim does not honour it \
                 (scenarios/README.md lists the configs it does)",
                place.name()
            );
            (message, did_you_mean(name, &names).map(str::to_string))
        }
    };
    Err(table.source.error(span, &field, message, suggestion))
}

pub(super) fn misplaced_config(name: &str, scope: Scope, place: Scope) -> String {
    match (scope, place) {
        (Scope::Broker, Scope::Topic) => {
            format!(
                "`{name}` is a broker-wide config with no per-topic override: set it in [broker]"
            )
        }
        (_, Scope::Producer | Scope::Consumer) => format!(
            "`{name}` is a {} config, but this workload is a {}",
            scope.name(),
            place.name()
        ),
        _ => format!(
            "`{name}` is a {} config, not a {} config",
            scope.name(),
            place.name()
        ),
    }
}

pub(super) fn config_value(field: &Field, spec: &configs::ConfigSpec) -> Result<ConfigValue> {
    let value = match spec.kind {
        ConfigType::Int { min, max } => ConfigValue::Int(field.int_in(min, max)?),
        ConfigType::DurationMs { min, max } => ConfigValue::Int(duration_config(field, min, max)?),
        ConfigType::Bool => ConfigValue::Bool(field.bool()?),
        ConfigType::Enum(values) => ConfigValue::Str(enum_config(field, values)?.to_string()),
        ConfigType::Acks => ConfigValue::Str(acks_config(field)?.to_string()),
    };
    let text = match &value {
        ConfigValue::Int(value) => value.to_string(),
        ConfigValue::Bool(value) => value.to_string(),
        ConfigValue::Str(value) => value.clone(),
    };
    match spec.not_yet.iter().find(|(refused, _)| *refused == text) {
        Some((_, reason)) => Err(field.error(*reason)),
        None => Ok(value),
    }
}

/// Kafka's `.ms` configs are integer milliseconds; a duration string gets a pointed hint.
pub(super) fn duration_config(field: &Field, min: i64, max: i64) -> Result<i64> {
    if let Some(Value::String(text)) = field.node.value() {
        if parse_signed_duration_ms(text.value()).is_ok() {
            return Err(field.error(format!(
                "Kafka's .ms configs are integer milliseconds: expected an integer in {}, \
                 found \"{}\"",
                range(min, max),
                text.value()
            )));
        }
    }
    field.int_in(min, max)
}

pub(super) fn enum_config(field: &Field, values: &[&'static str]) -> Result<&'static str> {
    let text = field.str()?;
    match values.iter().find(|value| **value == text) {
        Some(value) => Ok(value),
        None => {
            let quoted: Vec<String> = values.iter().map(|value| format!("\"{value}\"")).collect();
            let message = format!("expected one of {}, found \"{text}\"", quoted.join(", "));
            let suggestion = did_you_mean(text, values).map(str::to_string);
            Err(ScenarioError {
                suggestion,
                ..field.error(message)
            })
        }
    }
}

/// `acks`: "all"/"-1"/-1 become "all", "1"/1 become "1", "0"/0 become "0".
pub(super) fn acks_config(field: &Field) -> Result<&'static str> {
    let normalised = match field.node.value() {
        Some(Value::String(text)) => match text.value().as_str() {
            "all" | "-1" => Some("all"),
            "1" => Some("1"),
            "0" => Some("0"),
            _ => None,
        },
        Some(Value::Integer(value)) => match *value.value() {
            -1 => Some("all"),
            1 => Some("1"),
            0 => Some("0"),
            _ => None,
        },
        _ => return Err(field.expected(r#"acks = "all", "1" or "0""#)),
    };
    normalised.ok_or_else(|| {
        let found = field
            .node
            .value()
            .map(|value| value.to_string())
            .unwrap_or_default();
        field.error(format!(
            r#"expected acks = "all" (or "-1"), "1" or "0", found {}"#,
            found.trim()
        ))
    })
}
