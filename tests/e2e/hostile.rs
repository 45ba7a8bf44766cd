//! The malformed-request battery (issue 9): every operation the OpenAPI document lists, and the
//! routes beside it, sent hostile path parameters, broken and oversized bodies, wrong types, huge
//! and negative numbers, control characters, `..`, encoded slashes, null bytes and oversized
//! headers, over raw TCP so that nothing normalises them first; and hostile conditional and range
//! headers on a served file and on a cache asset. Every request must get an HTTP answer (a
//! connection closed without one fails), none a 5xx, and none an answer its case does not allow.
//! Each hostile value replaces one field of a body the server is first shown to accept, and a
//! walk of the whole drive afterwards finds every file there and only safe names.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    harness::{bytes, Server},
    hostile_cases::{
        bases, case, hostile_bodies, hostile_paths, hostile_targets, numbered, Case, Expect,
    },
};

/// Sends one request as raw bytes and returns the status of the answer, or why there was none.
async fn send(addr: &str, key: &str, case: &Case) -> Result<u16, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
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
    // The server may answer and close before reading an oversized body: a failed write is fine,
    // as long as the answer arrives.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut chunk = [0u8; 16 * 1024];
    let ended = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Err(_) => break "no answer within 20 s".to_string(),
            Ok(Ok(0)) => break "closed".to_string(),
            Ok(Ok(read)) => answer.extend_from_slice(&chunk[..read]),
            Ok(Err(e)) => break e.to_string(),
        }
    };
    let status_line = String::from_utf8_lossy(&answer[..answer.len().min(20)]).to_string();
    status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            format!(
                "connection {ended} without an answer ({} bytes)",
                answer.len()
            )
        })
}

/// What a served URL answers with, for validators that match it.
struct Served {
    /// Path and query, as sent.
    target: String,
    etag: String,
    /// None for representations validated by their ETag alone.
    last_modified: Option<String>,
}

/// Hostile and genuine conditional and range headers on a URL serving bytes. Malformed ones are
/// ignored or refused (416), never a failure of the server; matching validators get the answer
/// RFC 9110 gives them.
fn conditional(served: &Served) -> Vec<Case> {
    const OLD: &str = "Thu, 01 Jan 1970 00:00:00 GMT";
    const FAR: &str = "Fri, 31 Dec 9999 23:59:59 GMT";
    let etag = served.etag.as_str();
    // As long as a header field may be (8 KiB with its name); one longer is refused whole.
    let quotes = "\"".repeat(8_000);
    let too_long = "\"".repeat(10_000);
    let commas = format!("\"a\"{}", ", ".repeat(2_000));
    let mut headers: Vec<(Vec<(&str, &str)>, Expect)> = vec![
        (vec![("Range", "bytes=abc")], Expect::Conditional),
        (vec![("Range", "bytes=5-1")], Expect::Conditional),
        (vec![("Range", "bytes=-0")], Expect::Conditional),
        (
            vec![("Range", "bytes=99999999999999999999999-")],
            Expect::Conditional,
        ),
        (
            vec![("Range", "bytes=-99999999999999999999999")],
            Expect::Conditional,
        ),
        (
            vec![(
                "Range",
                "bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21,22-23",
            )],
            Expect::Conditional,
        ),
        (vec![("Range", "items=0-1")], Expect::Conditional),
        (vec![("Range", "bytes=")], Expect::Conditional),
        (vec![("Range", "bytes=0-0")], Expect::Exactly(206)),
        (vec![("Range", "bytes=1000000000-")], Expect::Exactly(416)),
        (
            vec![("If-None-Match", quotes.as_str())],
            Expect::Conditional,
        ),
        (
            vec![("If-None-Match", commas.as_str())],
            Expect::Conditional,
        ),
        (vec![("If-None-Match", "W/")], Expect::Conditional),
        (vec![("If-None-Match", etag)], Expect::Exactly(304)),
        (vec![("If-None-Match", "*")], Expect::Exactly(304)),
        (vec![("If-None-Match", "\"other\"")], Expect::Exactly(200)),
        (
            vec![("If-Modified-Since", "not a date")],
            Expect::Exactly(200),
        ),
        (vec![("If-Modified-Since", OLD)], Expect::Exactly(200)),
        (
            vec![("If-Modified-Since", "Sun, 31 Feb 2024 99:99:99 GMT")],
            Expect::Exactly(200),
        ),
        (vec![("If-Match", quotes.as_str())], Expect::Exactly(412)),
        (vec![("If-Match", too_long.as_str())], Expect::Exactly(431)),
        (vec![("If-Match", "\"other\"")], Expect::Exactly(412)),
        (vec![("If-Match", "garbage")], Expect::Exactly(412)),
        (vec![("If-Match", etag)], Expect::Exactly(200)),
        (vec![("If-Match", "*")], Expect::Exactly(200)),
        (
            vec![("If-Unmodified-Since", "not a date")],
            Expect::Exactly(200),
        ),
        (vec![("If-Unmodified-Since", FAR)], Expect::Exactly(200)),
        (
            vec![("Range", "bytes=0-1"), ("If-Range", etag)],
            Expect::Exactly(206),
        ),
        (
            vec![("Range", "bytes=0-1"), ("If-Range", "\"other\"")],
            Expect::Exactly(200),
        ),
        (
            vec![("Range", "bytes=0-1"), ("If-Range", "garbage")],
            Expect::Exactly(200),
        ),
        (
            vec![("Range", "bytes=0-1"), ("If-Range", OLD)],
            Expect::Exactly(200),
        ),
        (
            vec![("Range", "bytes=0-1"), ("If-Range", quotes.as_str())],
            Expect::Exactly(200),
        ),
        (
            vec![
                ("Range", "bytes=abc"),
                ("If-Range", etag),
                ("If-None-Match", "\"x\""),
            ],
            Expect::Exactly(200),
        ),
        (
            vec![
                ("If-Match", "\"other\""),
                ("If-None-Match", etag),
                ("Range", "bytes=0-1"),
            ],
            Expect::Exactly(412),
        ),
        (
            vec![("If-None-Match", etag), ("Range", "bytes=0-1")],
            Expect::Exactly(304),
        ),
    ];
    match served.last_modified.as_deref() {
        Some(modified) => {
            headers.push((vec![("If-Modified-Since", modified)], Expect::Exactly(304)));
            headers.push((vec![("If-Modified-Since", FAR)], Expect::Exactly(304)));
            headers.push((vec![("If-Unmodified-Since", OLD)], Expect::Exactly(412)));
            headers.push((
                vec![("Range", "bytes=0-1"), ("If-Range", modified)],
                Expect::Exactly(206),
            ));
        }
        // Dates do not apply to a representation without one.
        None => {
            headers.push((vec![("If-Modified-Since", FAR)], Expect::Exactly(200)));
            headers.push((vec![("If-Unmodified-Since", OLD)], Expect::Exactly(200)));
        }
    }
    let mut cases = Vec::new();
    for method in ["GET", "HEAD"] {
        for (pairs, expect) in &headers {
            // Ranges apply to GET only (RFC 9110 §14.2): HEAD answers as without one.
            let expect = match (method, *expect) {
                ("HEAD", Expect::Exactly(206 | 416)) => Expect::Exactly(200),
                (_, expect) => expect,
            };
            let mut c = case(method, served.target.clone(), Vec::new(), expect);
            c.headers = pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            cases.push(c);
        }
    }
    // Bytes no header value may hold: refused by the parser, never a dropped connection.
    let mut nul = case(
        "GET",
        served.target.clone(),
        Vec::new(),
        Expect::NoServerError,
    );
    nul.headers.push(("Range".into(), "bytes=\u{0}".into()));
    cases.push(nul);
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

/// What a walk of the whole drive saw.
#[derive(Default, Debug)]
struct Walk {
    names: Vec<String>,
    uploaded: usize,
    /// Of uploaded files outside `temp`, which count against the quota.
    uploaded_bytes: u64,
    pending: usize,
}

/// Walks a folder and, through names that are safe to follow, everything under it, page by page.
async fn walk(server: &Server, key: &str, folder: &str, seen: &mut Walk) {
    let mut cursor = String::new();
    loop {
        let (status, listing) = server
            .call(
                "GET",
                &format!("/v2/media/folder?path={folder}&limit=1000&cursor={cursor}"),
                key,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{folder}: {listing}");
        for entry in listing["folders"].as_array().into_iter().flatten() {
            let name = entry["name"].as_str().unwrap().to_string();
            seen.names.push(name.clone());
            if safe(&name) {
                let path = match folder {
                    "" => name,
                    _ => format!("{folder}/{name}"),
                };
                Box::pin(walk(server, key, &path, seen)).await;
            }
        }
        for entry in listing["files"].as_array().unwrap() {
            seen.names.push(entry["name"].as_str().unwrap().to_string());
            match entry["status"].as_str().unwrap() {
                "uploaded" => {
                    seen.uploaded += 1;
                    if entry["temporary"] != true {
                        seen.uploaded_bytes += entry["size"].as_u64().unwrap();
                    }
                }
                _ => seen.pending += 1,
            }
        }
        match listing["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => return,
        }
    }
}

/// A served URL's path and the validators it answers with.
async fn served(server: &Server, url: &str) -> Served {
    let resp = server.get(url).await;
    assert_eq!(resp.status(), StatusCode::OK, "{url}");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    Served {
        target: url.strip_prefix(&server.base).unwrap().to_string(),
        etag: header("etag").expect("an ETag"),
        last_modified: header("last-modified"),
    }
}

/// The URL of a generated image in the temporary cache, once it is made.
async fn cache_asset(server: &Server, key: &str) -> String {
    let (status, queued) = server
        .call(
            "POST",
            "/v2/preloads",
            key,
            Some(json!({"preload": [{"type": "image", "prompt": "a lighthouse"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let path = format!("/v2/preloads/{}", queued["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, preload) = server.call("GET", &path, key, None).await;
        assert_eq!(status, StatusCode::OK, "{preload}");
        if preload["status"] == "done" {
            let url = preload["items"][0]["url"].as_str();
            return url.unwrap_or_else(|| panic!("{preload}")).to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the preload was never made: {preload}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Removes every webhook endpoint, so that the endpoint limit never refuses a later case.
async fn remove_endpoints(server: &Server, key: &str) {
    let (_, list) = server.call("GET", "/v2/webhooks", key, None).await;
    for endpoint in list["endpoints"].as_array().unwrap() {
        let path = format!("/v2/webhooks/{}", endpoint["id"].as_str().unwrap());
        let (status, body) = server.call("DELETE", &path, key, None).await;
        assert!(status.is_success(), "{path}: {body}");
    }
}

#[tokio::test]
async fn a_thousand_malformed_requests_each_get_an_answer_and_nothing_they_should_not() {
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
    let file_url = server
        .upload(
            &key,
            "in",
            "served.bin",
            "application/octet-stream",
            &bytes(1, 64),
        )
        .await;
    let cache_url = cache_asset(&server, &key).await;
    let openapi = server.openapi().await;
    let addr = server.base.trim_start_matches("http://").to_string();

    let (body_cases, mut sources) = hostile_bodies(&project);
    // Each valid body, numbered past every case, is accepted as it stands: the cases that
    // change one field of it reach the code behind the others.
    let valid: Vec<(Case, usize)> = bases(&project)
        .into_iter()
        .enumerate()
        .map(|(i, base)| {
            let n = 1_000_000 + i;
            if base.moves_source {
                sources.push(n);
            }
            let body = numbered(&base.valid, n).to_string().into_bytes();
            (case(base.method, base.target, body, Expect::Refused), n)
        })
        .collect();
    for &n in &sources {
        let name = format!("src-{n}.bin");
        let content = bytes(n as u64, 64 + n % 64);
        server
            .upload(&key, "in", &name, "application/octet-stream", &content)
            .await;
    }
    for (c, _) in &valid {
        let status = send(&addr, &key, c).await;
        let body = String::from_utf8_lossy(&c.body);
        assert!(
            matches!(status, Ok(200..=299)),
            "the valid body of {} {} was not accepted: {status:?} {body}",
            c.method,
            c.target
        );
        if c.target == "/v2/webhooks" {
            remove_endpoints(&server, &key).await;
        }
    }

    let mut cases = hostile_paths(&openapi);
    cases.extend(hostile_targets());
    cases.extend(body_cases);
    let conditional_cases = [&file_url, &cache_url]
        .into_iter()
        .map(|url| async { conditional(&served(&server, url).await) });
    for more in futures_util::future::join_all(conditional_cases).await {
        cases.extend(more);
    }
    let (mut unanswered, mut server_errors, mut unexpected) = (Vec::new(), Vec::new(), Vec::new());
    for c in &cases {
        let headers: Vec<String> = c
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {}", &v[..v.len().min(60)]))
            .collect();
        let body = String::from_utf8_lossy(&c.body[..c.body.len().min(120)]).to_string();
        let described = format!("{} {} {headers:?} {body}", c.method, c.target);
        match send(&addr, &key, c).await {
            Err(why) => unanswered.push(format!("{why}: {described}")),
            Ok(status) if status >= 500 => server_errors.push(format!("{status} {described}")),
            Ok(status) if !c.expect.allows(status) => {
                unexpected.push(format!("{status}, expected {:?}: {described}", c.expect))
            }
            Ok(status) => {
                if c.target == "/v2/webhooks" && (200..300).contains(&status) {
                    remove_endpoints(&server, &key).await;
                }
            }
        }
    }
    let mut seen = Walk::default();
    walk(&server, &key, "", &mut seen).await;
    let unsafe_names: Vec<&String> = seen.names.iter().filter(|n| !safe(n)).collect();
    println!(
        "malformed requests: {} sent, {} without an answer, {} answered 5xx, {} answered \
         otherwise than expected; the drive walk saw {} names, {} uploaded files ({} bytes), \
         {} pending, {} unsafe",
        cases.len(),
        unanswered.len(),
        server_errors.len(),
        unexpected.len(),
        seen.names.len(),
        seen.uploaded,
        seen.uploaded_bytes,
        seen.pending,
        unsafe_names.len()
    );
    assert!(cases.len() >= 1000, "only {} cases", cases.len());
    assert!(unanswered.is_empty(), "no answer: {unanswered:#?}");
    assert!(server_errors.is_empty(), "5xx: {server_errors:#?}");
    assert!(unexpected.is_empty(), "unexpected: {unexpected:#?}");
    assert!(unsafe_names.is_empty(), "unsafe names: {unsafe_names:?}");
    // Moves keep files; nothing in the battery uploads bytes: the walk finds the served file and
    // every source, wherever a move took it, and their bytes are what the quota counts.
    assert_eq!(seen.uploaded, 1 + sources.len(), "{seen:?}");
    let used = server.client_show("acme")["used_bytes"].as_u64().unwrap();
    assert_eq!(seen.uploaded_bytes, used);
    // The server still answers after all of it.
    let (status, _) = server.call("GET", "/healthz", &key, None).await;
    assert!(status.is_success());
}
