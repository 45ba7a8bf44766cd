//! The fields a generator reads, checked once when the preload arrives, with defaults filled in so
//! that equal requests canonicalise to equal sources.

use serde_json::{Map, Number, Value};

#[derive(Debug, Clone, Copy)]
pub enum InputKind {
    Text {
        max_chars: usize,
    },
    Integer {
        min: i64,
        max: i64,
    },
    Number {
        min: f64,
        max: f64,
    },
    Choice(&'static [&'static str]),
    /// An absolute http or https URL.
    Url,
}

#[derive(Debug, Clone, Copy)]
pub enum Default {
    Required,
    Optional,
    Integer(i64),
    Number(f64),
    Text(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub struct Input {
    pub name: &'static str,
    pub kind: InputKind,
    pub default: Default,
}

impl Input {
    pub const fn required(name: &'static str, kind: InputKind) -> Self {
        Self {
            name,
            kind,
            default: Default::Required,
        }
    }

    pub const fn optional(name: &'static str, kind: InputKind) -> Self {
        Self {
            name,
            kind,
            default: Default::Optional,
        }
    }

    pub const fn with_default(name: &'static str, kind: InputKind, default: Default) -> Self {
        Self {
            name,
            kind,
            default,
        }
    }
}

/// The longest prompt or text any generator takes.
pub const MAX_TEXT: usize = 10_000;

fn check(input: &Input, value: &Value) -> Result<Value, String> {
    let name = input.name;
    match input.kind {
        InputKind::Text { max_chars } => match value.as_str().filter(|s| !s.trim().is_empty()) {
            Some(s) if s.chars().count() <= max_chars => Ok(Value::String(s.to_string())),
            Some(_) => Err(format!("{name} must be at most {max_chars} characters")),
            None => Err(format!("{name} must be a non-empty string")),
        },
        InputKind::Integer { min, max } => match value.as_f64() {
            Some(n) if n.fract() == 0.0 && n >= min as f64 && n <= max as f64 => {
                Ok(Value::from(n as i64))
            }
            _ => Err(format!("{name} must be a whole number from {min} to {max}")),
        },
        InputKind::Number { min, max } => match value.as_f64() {
            Some(n) if n >= min && n <= max => {
                Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
            }
            _ => Err(format!("{name} must be a number from {min} to {max}")),
        },
        InputKind::Choice(options) => match value.as_str() {
            Some(s) if options.contains(&s) => Ok(Value::String(s.to_string())),
            _ => Err(format!("{name} must be one of {}", options.join(", "))),
        },
        InputKind::Url => match value.as_str().map(url::Url::parse) {
            Some(Ok(u)) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Ok(Value::String(u.to_string()))
            }
            _ => Err(format!("{name} must be an http or https URL")),
        },
    }
}

/// The inputs `specs` declare, taken from `item`, checked, with defaults filled in. Fields the
/// generator does not read are left out (a renderer sends whole scene elements). The error names
/// the field.
pub fn validate(specs: &[Input], item: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for input in specs {
        let value = match (item.get(input.name), input.default) {
            (Some(Value::Null) | None, Default::Required) => {
                return Err(format!("{} is required", input.name))
            }
            (Some(Value::Null) | None, Default::Optional) => continue,
            (Some(Value::Null) | None, Default::Integer(n)) => Value::from(n),
            (Some(Value::Null) | None, Default::Number(n)) => {
                Number::from_f64(n).map_or(Value::Null, Value::Number)
            }
            (Some(Value::Null) | None, Default::Text(s)) => Value::String(s.to_string()),
            (Some(v), _) => check(input, v)?,
        };
        out.insert(input.name.to_string(), value);
    }
    Ok(out)
}

/// JSON with object keys sorted at every level, whatever order the map keeps.
pub fn canonical_json(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// Text input `name`, when present.
pub fn text<'a>(inputs: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    inputs.get(name).and_then(Value::as_str)
}

pub fn integer(inputs: &Map<String, Value>, name: &str) -> Option<i64> {
    inputs.get(name).and_then(Value::as_i64)
}

pub fn number(inputs: &Map<String, Value>, name: &str) -> Option<f64> {
    inputs.get(name).and_then(Value::as_f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPECS: &[Input] = &[
        Input::required("prompt", InputKind::Text { max_chars: 10 }),
        Input::with_default(
            "width",
            InputKind::Integer { min: 1, max: 100 },
            Default::Integer(64),
        ),
        Input::optional("voice", InputKind::Choice(&["a", "b"])),
    ];

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn defaults_fill_in_and_unread_fields_are_dropped() {
        let got = validate(SPECS, &obj(json!({"prompt": "hi", "x": 1}))).unwrap();
        assert_eq!(Value::Object(got), json!({"prompt": "hi", "width": 64}));
    }

    #[test]
    fn each_error_names_its_field() {
        assert_eq!(
            validate(SPECS, &obj(json!({}))).unwrap_err(),
            "prompt is required"
        );
        assert_eq!(
            validate(SPECS, &obj(json!({"prompt": "hi", "width": 2.5}))).unwrap_err(),
            "width must be a whole number from 1 to 100"
        );
        assert_eq!(
            validate(SPECS, &obj(json!({"prompt": "hi", "voice": "c"}))).unwrap_err(),
            "voice must be one of a, b"
        );
        assert_eq!(
            validate(SPECS, &obj(json!({"prompt": "01234567890"}))).unwrap_err(),
            "prompt must be at most 10 characters"
        );
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = json!({"b": 1, "a": {"d": [1, {"z": 0, "y": 1}], "c": "x"}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":"x","d":[1,{"y":1,"z":0}]},"b":1}"#
        );
    }
}
