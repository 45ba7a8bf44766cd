//! The requests of the malformed-request battery (`hostile.rs`): hostile path parameters and
//! targets, broken bodies, and wrong and hostile values in each field of a valid body.

use serde_json::{json, Value};

/// What a request must get. Every request must get an HTTP answer: a connection closed without
/// one fails whatever is expected.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Expect {
    /// A 4xx.
    Refused,
    /// Anything below 500; an acceptance is checked afterwards through the drive.
    NoServerError,
    /// What a conditional or ranged read of existing bytes may answer.
    Conditional,
    /// This status and no other.
    Exactly(u16),
}

impl Expect {
    pub fn allows(self, status: u16) -> bool {
        match self {
            Expect::Refused => (400..500).contains(&status),
            Expect::NoServerError => (100..500).contains(&status),
            Expect::Conditional => [200, 206, 304, 412, 416].contains(&status),
            Expect::Exactly(wanted) => status == wanted,
        }
    }
}

pub struct Case {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub expect: Expect,
}

const HOSTILE_SEGMENTS: &[&str] = &[
    "..",
    "%2e%2e",
    "..%2F..%2Fetc%2Fpasswd",
    "%2F",
    "a%00b",
    "%00",
    "%ff%fe",
    "%E2%80%AE",
    "-1",
    "99999999999999999999999999",
    "%20",
    "%0d%0aX-Injected:%201",
    "nonexistent",
];

fn long_segment() -> String {
    "a".repeat(8000)
}

/// Bodies no endpoint may accept.
fn broken_bodies() -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = [
        "{",
        "}",
        "[]",
        "null",
        "0",
        "\"text\"",
        "{\"a\":",
        "{\"a\" 1}",
        "{'a': 1}",
        "\u{0}",
        "{\"name\": 1e999}",
        "[{\"type\": \"image\"}]",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    bodies.push(vec![0xff, 0xfe, 0x7b, 0x7d]);
    bodies.push(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes());
    bodies.push(format!("{}{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)).into_bytes());
    bodies
}

/// Values a required field of any type must not be accepted as.
fn wrong_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!([]),
        json!({}),
        json!([1, 2]),
        json!(""),
        json!("   "),
        json!(-1),
        json!(0),
        json!(1.5),
        json!(-1e308),
        json!(f64::MAX),
        json!(u64::MAX),
        json!(i64::MIN),
    ]
}

/// Strings that may be accepted once sanitised, and must then leave a safe name.
fn hostile_strings() -> Vec<Value> {
    [
        "../../../../etc/passwd",
        "..",
        ".",
        "/absolute",
        "a/b/../../c",
        "name\u{0}.mp4",
        "line\r\nbreak",
        "\u{202e}gpj.exe",
        "%2e%2e%2f",
        "con",
        "\\\\server\\share",
        "emoji-🎬.mp4",
        "\u{7f}\u{1b}[31m",
    ]
    .into_iter()
    .map(Value::from)
    .chain([Value::String("x".repeat(100_000))])
    .collect()
}

/// A valid body of an operation that takes JSON, and the fields it cannot do without. `{n}` in
/// its strings is replaced by a number of the case's own, so that no case finds the name an
/// earlier one took, or the file an earlier one moved away.
pub struct Base {
    pub method: &'static str,
    pub target: String,
    pub valid: Value,
    pub required: &'static [&'static str],
    /// Each case moves a file `in/src-{n}.bin` of its own, which must exist beforehand.
    pub moves_source: bool,
}

pub fn bases(project: &str) -> Vec<Base> {
    let base = |method, target: String, valid, required| Base {
        method,
        target,
        valid,
        required,
        moves_source: false,
    };
    vec![
        base(
            "POST",
            "/v2/media/file".into(),
            json!({"name": "ok-{n}.mp4", "contentType": "video/mp4", "size": 100, "folder": "in"}),
            &["name", "contentType", "size"],
        ),
        base(
            "POST",
            "/v2/media/folder".into(),
            json!({"folder": "made/f-{n}"}),
            &["folder"],
        ),
        Base {
            moves_source: true,
            ..base(
                "PUT",
                "/v2/media/file".into(),
                json!({"name": "src-{n}.bin", "folder": "in", "destination": "moved",
                       "newName": "dst-{n}.bin"}),
                &["name"],
            )
        },
        base(
            "POST",
            "/v2/preloads".into(),
            json!({"preload": [{"type": "image", "prompt": "fox"}]}),
            &["preload"],
        ),
        base(
            "POST",
            "/v2/webhooks".into(),
            json!({"url": "https://example.com/hook-{n}", "events": ["file.uploaded"]}),
            &["url"],
        ),
        base(
            "POST",
            "/videojungle/projects".into(),
            json!({"name": "p-{n}", "description": "d", "data": {}}),
            &["name"],
        ),
        base(
            "POST",
            format!("/videojungle/projects/{project}/asset"),
            json!({"upload_method": "file-no-chunk", "keyname": "k-{n}.mp4", "asset_type": "user"}),
            &["keyname"],
        ),
        base(
            "POST",
            format!("/videojungle/scripts/{project}/scripts"),
            json!({"name": "s-{n}", "data": {"type": "image", "prompt": "a {{x}}"},
                   "inputs": {"x": {"type": "string"}}}),
            &["name", "data"],
        ),
        base(
            "POST",
            "/serve/v1/assets".into(),
            json!({"url": "https://example.com/a-{n}.mp4", "id": "x{n}",
                   "destinations": [{"provider": "shotstack"}]}),
            &["url", "id", "destinations"],
        ),
    ]
}

/// `value` with `{n}` in its strings replaced by `n`.
pub fn numbered(value: &Value, n: usize) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("{n}", &n.to_string())),
        Value::Array(items) => Value::Array(items.iter().map(|v| numbered(v, n)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), numbered(v, n)))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub fn case(method: &str, target: String, body: Vec<u8>, expect: Expect) -> Case {
    Case {
        method: method.to_string(),
        target,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body,
        expect,
    }
}

/// Every operation of the OpenAPI document, with each path parameter replaced by hostile text.
pub fn hostile_paths(openapi: &Value) -> Vec<Case> {
    let mut cases = Vec::new();
    let long = long_segment();
    for (path, ops) in openapi["paths"].as_object().unwrap() {
        if !path.contains('{') {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            for segment in HOSTILE_SEGMENTS.iter().copied().chain([long.as_str()]) {
                let mut target = String::new();
                let mut rest = path.as_str();
                while let Some(start) = rest.find('{') {
                    let end = rest[start..].find('}').unwrap() + start;
                    target.push_str(&rest[..start]);
                    target.push_str(segment);
                    rest = &rest[end + 1..];
                }
                target.push_str(rest);
                cases.push(case(&method, target, b"{}".to_vec(), Expect::Refused));
            }
        }
    }
    cases
}

/// Routes outside the OpenAPI document and query strings that name a path.
pub fn hostile_targets() -> Vec<Case> {
    let mut cases = Vec::new();
    let long = long_segment();
    for segment in HOSTILE_SEGMENTS.iter().copied().chain([long.as_str()]) {
        for target in [
            format!("/acme/files/{segment}"),
            format!("/acme/files/{segment}/{segment}/secret"),
            format!("/{segment}/files/a.mp4"),
            format!("/tmp/assets/acme/{segment}"),
            format!("/v2/media/file?path={segment}"),
            format!("/v2/media/file?path=in/{segment}"),
            format!("/v2/media/file/metadata?path={segment}"),
            format!("/v2/media?limit={segment}"),
            format!("/videojungle/projects/x/assets?limit={segment}"),
            format!("/videojungle/projects/x/assets?cursor={segment}"),
            format!("/videojungle/files/acme/x/a.mp4?expires={segment}&signature={segment}"),
            format!("/upload/acme/x?expires={segment}&signature={segment}"),
        ] {
            cases.push(case("GET", target, Vec::new(), Expect::Refused));
        }
        // A listing maps a blank or `/` path to the root: it may answer, never escape it.
        cases.push(case(
            "GET",
            format!("/v2/media/folder?path={segment}"),
            Vec::new(),
            Expect::NoServerError,
        ));
    }
    // A large header fits hyper's buffer and may be read; a second, negative length may not.
    for (name, value, expect) in [
        ("X-Huge", "h".repeat(200_000), Expect::NoServerError),
        ("Content-Length", "-1".into(), Expect::Refused),
    ] {
        let mut c = case("GET", "/v2/media".into(), Vec::new(), expect);
        c.headers.push((name.into(), value));
        cases.push(c);
    }
    cases
}

/// Broken bodies, wrong types in each field, hostile strings in each string field, each in an
/// otherwise valid body. Returns the cases and the numbers `{n}` took in bodies that move a
/// file, whose sources must exist before the cases are sent.
pub fn hostile_bodies(project: &str) -> (Vec<Case>, Vec<usize>) {
    let mut cases = Vec::new();
    let mut sources = Vec::new();
    let mut n = 0;
    for base in bases(project) {
        let (method, target) = (base.method, base.target.clone());
        for body in broken_bodies() {
            cases.push(case(method, target.clone(), body, Expect::Refused));
        }
        cases.push(case(method, target.clone(), Vec::new(), Expect::Refused));
        let big = format!("{{\"name\": \"{}\"}}", "a".repeat(3 << 20));
        cases.push(case(
            method,
            target.clone(),
            big.into_bytes(),
            Expect::Refused,
        ));
        for field in base.valid.as_object().unwrap().keys() {
            let expect = if base.required.contains(&field.as_str()) {
                Expect::Refused
            } else {
                Expect::NoServerError
            };
            let hostile = match base.valid[field].is_string() {
                true => hostile_strings(),
                false => Vec::new(),
            };
            let variants = [(None, expect)]
                .into_iter()
                .chain(wrong_values().into_iter().map(|v| (Some(v), expect)))
                .chain(
                    hostile
                        .into_iter()
                        .map(|v| (Some(v), Expect::NoServerError)),
                );
            for (value, expect) in variants {
                n += 1;
                let mut bad = numbered(&base.valid, n);
                match value {
                    Some(value) => bad[field] = value,
                    None => {
                        bad.as_object_mut().unwrap().remove(field);
                    }
                }
                if base.moves_source {
                    sources.push(n);
                }
                cases.push(case(
                    method,
                    target.clone(),
                    bad.to_string().into_bytes(),
                    expect,
                ));
            }
        }
    }
    (cases, sources)
}
