//! A script's template: a preload item whose strings may hold `{{name}}` placeholders, and the
//! typed parameters that fill them (seed 003's scripts, run through seed 000's preloads).

use serde_json::{Map, Value};

use crate::ProjectScript;

const MAX_INPUTS: usize = 50;
const MAX_INPUT_NAME: usize = 64;

/// The types a parameter may take; query strings are parsed into them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
}

impl ParamType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "string" | "str" => Self::String,
            "integer" | "int" => Self::Integer,
            "number" | "float" => Self::Number,
            "boolean" | "bool" => Self::Boolean,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
        }
    }

    fn of(value: &Value) -> Option<Self> {
        match value {
            Value::String(_) => Some(Self::String),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(Self::Integer),
            Value::Number(_) => Some(Self::Number),
            Value::Bool(_) => Some(Self::Boolean),
            _ => None,
        }
    }
}

/// One parameter of a script.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub kind: ParamType,
    pub description: Option<String>,
    pub default: Option<Value>,
}

impl Param {
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("name".into(), self.name.clone().into());
        out.insert("type".into(), self.kind.as_str().into());
        if let Some(d) = &self.description {
            out.insert("description".into(), d.clone().into());
        }
        if let Some(d) = &self.default {
            out.insert("default".into(), d.clone());
        }
        out.insert("required".into(), self.default.is_none().into());
        Value::Object(out)
    }

    /// Reads a parameter as stored or as sent; the error is a pydantic message.
    fn read(name: &str, spec: &Value) -> Result<Self, String> {
        let valid_name = !name.is_empty()
            && name.len() <= MAX_INPUT_NAME
            && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(format!(
                "Value error, input names are 1 to {MAX_INPUT_NAME} letters, digits or \
                 underscores, not starting with a digit: {name:?}"
            ));
        }
        let Value::Object(spec) = spec else {
            let kind = ParamType::of(spec).ok_or_else(|| {
                format!("Value error, input {name}: a default must be a string, number or boolean")
            })?;
            return Ok(Self {
                name: name.to_string(),
                kind,
                description: None,
                default: Some(spec.clone()),
            });
        };
        let default = spec.get("default").filter(|d| !d.is_null()).cloned();
        let kind = match spec.get("type") {
            Some(Value::String(t)) => ParamType::parse(t).ok_or_else(|| {
                format!(
                    "Value error, input {name}: type must be string, integer, number or boolean"
                )
            })?,
            None | Some(Value::Null) => default
                .as_ref()
                .and_then(ParamType::of)
                .unwrap_or(ParamType::String),
            Some(_) => return Err(format!("Value error, input {name}: type must be a string")),
        };
        if let Some(d) = &default {
            let fits = ParamType::of(d) == Some(kind)
                || (kind == ParamType::Number && ParamType::of(d) == Some(ParamType::Integer));
            if !fits {
                return Err(format!(
                    "Value error, input {name}: its default is not of type {}",
                    kind.as_str()
                ));
            }
        }
        let description = match spec.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(d)) => Some(d.clone()),
            Some(_) => {
                return Err(format!(
                    "Value error, input {name}: description must be a string"
                ))
            }
        };
        Ok(Self {
            name: name.to_string(),
            kind,
            description,
            default,
        })
    }
}

/// The parameters, from the official client's object (`{name: spec}`) or a list of specs.
pub fn params(inputs: &Value) -> Result<Vec<Param>, String> {
    let named: Vec<(String, &Value)> = match inputs {
        Value::Null => Vec::new(),
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(list) => list
            .iter()
            .map(|spec| match spec.get("name").and_then(Value::as_str) {
                Some(name) => Ok((name.to_string(), spec)),
                None => Err("Value error, each input in a list needs a name".to_string()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("Input should be a valid dictionary".into()),
    };
    if named.len() > MAX_INPUTS {
        return Err(format!("Value error, at most {MAX_INPUTS} inputs"));
    }
    let mut out: Vec<Param> = Vec::with_capacity(named.len());
    for (name, spec) in named {
        if out.iter().any(|p| p.name == name) {
            return Err(format!("Value error, input {name} is named twice"));
        }
        out.push(Param::read(&name, spec)?);
    }
    Ok(out)
}

/// The names of the `{{name}}` placeholders in every string of `value`.
pub fn placeholders(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                let after = &rest[start + 2..];
                let Some(end) = after.find("}}") else { break };
                let name = after[..end].trim();
                if !name.is_empty() && !out.iter().any(|n| n == name) {
                    out.push(name.to_string());
                }
                rest = &after[end + 2..];
            }
        }
        Value::Array(items) => items.iter().for_each(|v| placeholders(v, out)),
        Value::Object(map) => map.values().for_each(|v| placeholders(v, out)),
        _ => {}
    }
}

/// `value` with every placeholder replaced by its parameter's value. A string that is exactly
/// one placeholder becomes the value itself, so a number stays a number.
pub fn fill(value: &Value, values: &Map<String, Value>) -> Value {
    match value {
        Value::String(s) => {
            let trimmed = s.trim();
            if let Some(name) = trimmed
                .strip_prefix("{{")
                .and_then(|r| r.strip_suffix("}}"))
                .map(str::trim)
                .filter(|n| !n.contains("{{") && !n.contains("}}"))
            {
                if let Some(v) = values.get(name) {
                    return v.clone();
                }
            }
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                let after = &rest[start + 2..];
                let Some(end) = after.find("}}") else { break };
                out.push_str(&rest[..start]);
                match values.get(after[..end].trim()) {
                    Some(Value::String(v)) => out.push_str(v),
                    Some(v) => out.push_str(&v.to_string()),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, values)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The parameters a saved script takes; `None` if what the catalog holds does not parse.
pub fn stored_inputs(script: &ProjectScript) -> Option<Vec<Param>> {
    params(&serde_json::from_str(&script.inputs).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_found_once_in_every_string() {
        let mut found = Vec::new();
        let template =
            json!({"prompt": "a {{ subject }} at {{time}}", "n": ["{{time}}"], "x": "{{"});
        placeholders(&template, &mut found);
        found.sort();
        assert_eq!(found, ["subject", "time"]);
    }

    #[test]
    fn a_whole_placeholder_keeps_its_type_and_a_partial_one_interpolates() {
        let values = json!({"n": 3, "who": "fox"}).as_object().cloned().unwrap();
        let filled = fill(
            &json!({"count": "{{n}}", "prompt": "{{n}} red {{who}}s {{unknown}}"}),
            &values,
        );
        assert_eq!(
            filled,
            json!({"count": 3, "prompt": "3 red foxs {{unknown}}"})
        );
    }

    #[test]
    fn inputs_come_as_an_object_or_a_list_and_bad_ones_are_named() {
        let from_object = params(&json!({"subject": {"type": "string"}, "n": 2})).unwrap();
        let n = from_object.iter().find(|p| p.name == "n").unwrap();
        assert_eq!(
            (n.kind, n.default.clone()),
            (ParamType::Integer, Some(json!(2)))
        );
        let from_list = params(&json!([{"name": "subject", "description": "who"}])).unwrap();
        assert_eq!(from_list[0].description.as_deref(), Some("who"));
        assert!(params(&json!({"1x": "a"})).unwrap_err().contains("1x"));
        assert!(params(&json!({"n": {"type": "integer", "default": "two"}}))
            .unwrap_err()
            .contains("not of type integer"));
        assert!(params(&json!([{"name": "a"}, {"name": "a"}]))
            .unwrap_err()
            .contains("twice"));
    }
}
