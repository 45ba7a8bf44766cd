//! Secrets never reach the logs (issue 9): a server logging at `trace` is given API keys (good and
//! bad), presigned upload URLs and signed asset links, and its whole log (as JSON, the format log
//! collectors read) is then searched for them.

use std::{
    net::TcpListener,
    process::{Command, Stdio},
    time::Duration,
};

use reqwest::{multipart, Client, StatusCode, Url};
use serde_json::{json, Value};

use crate::harness::BIN;

fn signature(url: &str) -> String {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "signature")
        .map(|(_, v)| v.into_owned())
        .expect("a signed URL")
}

async fn post_json(http: &Client, url: &str, key: &str, body: Value) -> Value {
    let resp = http.post(url).header("x-api-key", key).json(&body).send();
    resp.await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn keys_and_signatures_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log_path = dir.path().join("server.log");
    let key = String::from_utf8(
        Command::new(BIN)
            .args([
                "key",
                "create",
                "--client",
                "acme",
                "--role",
                "admin",
                "--data-dir",
            ])
            .arg(&data)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
            "--data-dir",
        ])
        .arg(&data)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let http = Client::new();
    for _ in 0..400 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let wrong_key = format!("md_{}", "5ec7e7".repeat(10));
    let mut secrets = vec![key.clone(), wrong_key.clone()];

    let resp = http
        .get(format!("{base}/v2/media"))
        .header("x-api-key", &wrong_key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let refused_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let ticket = post_json(
        &http,
        &format!("{base}/v2/media/file"),
        &key,
        json!({"name": "a.bin", "contentType": "application/octet-stream", "size": 3}),
    )
    .await;
    let upload_url = ticket["uploadUrl"].as_str().unwrap();
    secrets.push(signature(upload_url));
    let resp = http
        .put(upload_url)
        .header("content-type", "application/octet-stream")
        .body(vec![1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let vj = format!("{base}/videojungle");
    let project = post_json(&http, &format!("{vj}/projects"), &key, json!({"name": "p"})).await;
    let asset_link = format!("{vj}/projects/{}/asset", project["id"].as_str().unwrap());
    let asset = post_json(&http, &asset_link, &key, json!({"keyname": "b.bin"})).await;
    let form =
        multipart::Form::new().part("file", multipart::Part::bytes(vec![4; 10]).file_name("b"));
    let uploaded: Value = http
        .post(format!(
            "{vj}{}",
            asset["upload_url"]["url"].as_str().unwrap()
        ))
        .header("x-api-key", &key)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for link in [&uploaded["url"], &uploaded["download_url"]] {
        let link = link.as_str().unwrap();
        secrets.push(signature(link));
        assert_eq!(
            http.get(link).send().await.unwrap().status(),
            StatusCode::OK
        );
        // A tampered copy, which the server must refuse without echoing it to the log.
        let tampered = link.replace("signature=", "signature=00");
        secrets.push(signature(&tampered));
        assert_eq!(
            http.get(&tampered).send().await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
    }
    secrets.push(uploaded["keyname"].as_str().unwrap().to_string());

    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines = log.lines().count();
    let leaks: Vec<&String> = secrets
        .iter()
        .filter(|s| log.contains(s.as_str()))
        .collect();
    println!(
        "secrets in logs: {} secrets searched in {lines} lines logged at trace, {} found",
        secrets.len(),
        leaks.len()
    );
    assert!(
        lines > 20,
        "the server logged too little for the search to mean anything"
    );
    assert!(leaks.is_empty(), "leaked: {leaks:?}");
    // Requests are still told apart, by their route's template.
    assert!(log.contains("\"/v2/media/file\""), "{log}");
    // Each line is one JSON object, and a request's lines carry the id its response gave.
    let entries: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(entries
        .iter()
        .any(|e| e["span"]["request_id"] == refused_id.as_str()));
}
