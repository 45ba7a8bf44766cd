//! The malformed-request battery (issue 9): every operation the OpenAPI document lists, and the
//! routes beside it, sent hostile path parameters, broken and oversized bodies, wrong types, huge
//! and negative numbers, control characters, `..`, encoded slashes, null bytes and oversized
//! headers, over raw TCP so that nothing normalises them first. It counts the answers that were a
//! 5xx (target 0) and the ones accepted that should have been refused (target 0), and checks that
//! whatever was accepted left only safe names in the drive.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::harness::Server;

/// What a request must get.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Anything below 500 but 2xx.
    Refused,
    /// Anything below 500; an acceptance is checked afterwards through the drive.
    NoServerError,
}

struct Case {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    expect: Expect,
}

/// Sends one request as raw bytes and returns the status (0 when the server closed the
/// connection without answering, as hyper does for some malformed requests).
async fn send(addr: &str, key: &str, case: &Case) -> u16 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nX-API-Key: {key}\r\n\
         Content-Length: {}\r\n",
        case.method,
        case.target,
        case.body.len()
    )
    .into_bytes();
    for (name, value) in &case.headers {
        request.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(&case.body);
    // The server may answer and close before reading an oversized body: a failed write is fine.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer));
    match read.await {
        Ok(_) => {}
        Err(_) => panic!("{} {}: no answer within 20 s", case.method, case.target),
    }
    let status_line = String::from_utf8_lossy(&answer[..answer.len().min(20)]).to_string();
    status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
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

/// Valid bodies for the operations that take JSON, with the fields that are required.
fn bodies(project: &str) -> Vec<(&'static str, String, Value, &'static [&'static str])> {
    vec![
        (
            "POST",
            "/v2/media/file".to_string(),
            json!({"name": "ok.mp4", "contentType": "video/mp4", "size": 100, "folder": "in"}),
            &["name", "contentType", "size"],
        ),
        (
            "POST",
            "/v2/media/folder".to_string(),
            json!({"name": "made", "parent": ""}),
            &["name"],
        ),
        (
            "PUT",
            "/v2/media/file".to_string(),
            json!({"path": "in/ok.mp4", "newName": "ok2.mp4"}),
            &["path"],
        ),
        (
            "POST",
            "/v2/preloads".to_string(),
            json!({"preload": [{"type": "image", "prompt": "fox"}]}),
            &["preload"],
        ),
        (
            "POST",
            "/v2/webhooks".to_string(),
            json!({"url": "https://example.com/hook", "events": ["file.uploaded"]}),
            &["url"],
        ),
        (
            "POST",
            "/videojungle/projects".to_string(),
            json!({"name": "p", "description": "d", "data": {}}),
            &["name"],
        ),
        (
            "POST",
            format!("/videojungle/projects/{project}/asset"),
            json!({"upload_method": "file-no-chunk", "keyname": "k.mp4", "asset_type": "user"}),
            &["keyname"],
        ),
        (
            "POST",
            format!("/videojungle/scripts/{project}/scripts"),
            json!({"name": "s", "data": {"type": "image", "prompt": "{{x}}"}, "inputs": {"x": "a"}}),
            &["name", "data"],
        ),
        (
            "POST",
            "/serve/v1/assets".to_string(),
            json!({"url": "https://example.com/a.mp4", "id": "x"}),
            &["url"],
        ),
    ]
}

fn case(method: &str, target: String, body: Vec<u8>, expect: Expect) -> Case {
    Case {
        method: method.to_string(),
        target,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body,
        expect,
    }
}

/// Every operation of the OpenAPI document, with each path parameter replaced by hostile text.
fn hostile_paths(openapi: &Value) -> Vec<Case> {
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
fn hostile_targets() -> Vec<Case> {
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
    for range in [
        "bytes=abc",
        "bytes=5-1",
        "bytes=-0",
        "bytes=99999999999999999999999-",
        "bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21,22-23",
        "items=0-1",
        "bytes=\u{0}",
        "bytes=-99999999999999999999999",
    ] {
        let mut c = case(
            "GET",
            "/acme/files/in/served.bin".into(),
            Vec::new(),
            Expect::NoServerError,
        );
        c.headers.push(("Range".into(), range.into()));
        cases.push(c);
    }
    for (name, value) in [
        ("X-Huge", "h".repeat(200_000)),
        ("If-None-Match", "\"".repeat(10_000)),
        ("If-Modified-Since", "not a date".into()),
        ("Content-Length", "-1".into()),
    ] {
        let mut c = case("GET", "/v2/media".into(), Vec::new(), Expect::NoServerError);
        c.headers.push((name.into(), value));
        cases.push(c);
    }
    cases
}

/// Broken bodies, wrong types in each required field, hostile strings in each string field.
fn hostile_bodies(project: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for (method, target, valid, required) in bodies(project) {
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
        for field in valid.as_object().unwrap().keys() {
            let mut without = valid.clone();
            without.as_object_mut().unwrap().remove(field);
            let expect = if required.contains(&field.as_str()) {
                Expect::Refused
            } else {
                Expect::NoServerError
            };
            cases.push(case(
                method,
                target.clone(),
                without.to_string().into_bytes(),
                expect,
            ));
            let hostile = match valid[field].is_string() {
                true => hostile_strings(),
                false => Vec::new(),
            };
            let variants = (wrong_values().into_iter().map(|v| (v, expect)))
                .chain(hostile.into_iter().map(|v| (v, Expect::NoServerError)));
            for (value, expect) in variants {
                let mut bad = valid.clone();
                bad[field] = value;
                cases.push(case(
                    method,
                    target.clone(),
                    bad.to_string().into_bytes(),
                    expect,
                ));
            }
        }
    }
    cases
}

/// A name the drive may hold: no separator, no control character, not a dot segment.
fn safe(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
        && name.len() <= 255
}

async fn drive_names(server: &Server, key: &str, folder: &str, out: &mut Vec<String>) {
    let (_, listing) = server
        .call("GET", &format!("/v2/media/folder?path={folder}"), key, None)
        .await;
    for entry in listing["folders"].as_array().into_iter().flatten() {
        let name = entry["name"].as_str().unwrap_or_default().to_string();
        out.push(name.clone());
        if safe(&name) {
            let path = if folder.is_empty() {
                name
            } else {
                format!("{folder}/{name}")
            };
            Box::pin(drive_names(server, key, &path, out)).await;
        }
    }
    for entry in listing["files"].as_array().into_iter().flatten() {
        out.push(entry["name"].as_str().unwrap_or_default().to_string());
    }
}

#[tokio::test]
async fn a_thousand_malformed_requests_get_no_5xx_and_nothing_they_should_not() {
    // Unlimited, so that every request reaches the validation it is aimed at.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("unlimited.toml");
    std::fs::write(&config, "[limits]\nrequests_per_second = 0\n").unwrap();
    let server = Server::start_with(&["--config", config.to_str().unwrap()]).await;
    let key = server.key("acme", "admin");
    let (_, project) = server
        .call(
            "POST",
            "/videojungle/projects",
            &key,
            Some(json!({"name": "p"})),
        )
        .await;
    let project = project["id"].as_str().unwrap().to_string();
    server
        .upload(
            &key,
            "in",
            "served.bin",
            "application/octet-stream",
            &[7u8; 64],
        )
        .await;
    let openapi = server.openapi().await;

    let mut cases = hostile_paths(&openapi);
    cases.extend(hostile_targets());
    cases.extend(hostile_bodies(&project));
    let addr = server.base.trim_start_matches("http://").to_string();
    let (mut server_errors, mut wrongly_accepted) = (Vec::new(), Vec::new());
    for c in &cases {
        let status = send(&addr, &key, c).await;
        if status >= 500 {
            server_errors.push(format!("{status} {} {}", c.method, c.target));
        } else if c.expect == Expect::Refused && (200..300).contains(&status) {
            let body = String::from_utf8_lossy(&c.body[..c.body.len().min(120)]).to_string();
            wrongly_accepted.push(format!("{status} {} {} {body}", c.method, c.target));
        }
    }
    let mut names = Vec::new();
    drive_names(&server, &key, "", &mut names).await;
    let unsafe_names: Vec<&String> = names.iter().filter(|n| !safe(n)).collect();
    println!(
        "malformed requests: {} sent, {} answered 5xx, {} accepted that should have been \
         refused, {} drive names checked, {} unsafe",
        cases.len(),
        server_errors.len(),
        wrongly_accepted.len(),
        names.len(),
        unsafe_names.len()
    );
    assert!(cases.len() >= 1000, "only {} cases", cases.len());
    assert!(server_errors.is_empty(), "5xx: {server_errors:#?}");
    assert!(
        wrongly_accepted.is_empty(),
        "accepted: {wrongly_accepted:#?}"
    );
    assert!(unsafe_names.is_empty(), "unsafe names: {unsafe_names:?}");
    // The server still answers after all of it.
    let (status, _) = server.call("GET", "/healthz", &key, None).await;
    assert!(status.is_success());
}
