//! Floods (issue 9): a key beyond its request rate gets 429 with `Retry-After` in its surface's
//! error shape, and a tenant streams a bounded number of uploads at once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::harness::Server;

async fn start(limits: &str) -> (Server, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("limits.toml");
    std::fs::write(&config, format!("[limits]\n{limits}\n")).unwrap();
    let server = Server::start_with(&["--config", config.to_str().unwrap()]).await;
    (server, dir)
}

async fn get(server: &Server, path: &str, key: &str) -> (StatusCode, Option<u64>, Value) {
    let resp = server
        .http
        .get(server.url(path))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_key_beyond_its_rate_gets_429_with_retry_after() {
    let (server, _dir) = start("requests_per_second = 1\nburst = 5").await;
    let key = server.key("acme", "admin");
    let other = server.key("acme", "viewer");
    let uploader = server.key("acme", "render");
    let url = server
        .upload(&uploader, "", "a.bin", "application/octet-stream", b"abc")
        .await;
    for _ in 0..5 {
        assert_eq!(get(&server, "/v2/media", &key).await.0, StatusCode::OK);
    }
    let (status, retry, body) = get(&server, "/v2/media", &key).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        body,
        json!({"success": false, "message": "Too many requests, slow down"})
    );
    let retry = retry.expect("Retry-After");
    assert!((1..=2).contains(&retry), "{retry}");
    // In the Video Jungle surface's shape too.
    let (status, _, body) = get(&server, "/videojungle/projects", &key).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body, json!({"detail": "Too many requests, slow down"}));
    // Another key, and serving files, are not held back by it.
    assert_eq!(get(&server, "/v2/media", &other).await.0, StatusCode::OK);
    assert_eq!(server.get(&url).await.status(), StatusCode::OK);
    // Waiting as told lets the key through again.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(get(&server, "/v2/media", &key).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_tenant_streams_a_bounded_number_of_uploads() {
    let (server, _dir) = start("uploads_per_tenant = 1").await;
    if server.direct_uploads() {
        // Presigned PUTs then go to object storage and never stream through a node.
        return;
    }
    let key = server.key("acme", "render");
    let globex = server.key("globex", "render");
    let ct = "application/octet-stream";
    let slow = server.request_upload(&key, "", "slow.bin", ct, 8).await;
    let next = server.request_upload(&key, "", "next.bin", ct, 4).await;
    let elsewhere = server.request_upload(&globex, "", "g.bin", ct, 4).await;

    // The first upload sends half its bytes and holds the rest back.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let chunks = futures_util::stream::unfold(rx, |mut rx| async {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let body = reqwest::Body::wrap_stream(chunks);
    let first = server
        .http
        .put(slow["uploadUrl"].as_str().unwrap())
        .header("content-type", ct)
        .header("content-length", "8")
        .body(body)
        .send();
    let first = tokio::spawn(first);
    tx.send(Ok(vec![1; 4])).await.unwrap();
    // Its handler holds the tenant's one slot as soon as the bytes start coming.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = server
        .http
        .put(next["uploadUrl"].as_str().unwrap())
        .header("content-type", ct)
        .body(vec![2; 4])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Too many uploads in progress, retry when one has finished"
    );
    // Other tenants have slots of their own.
    let (status, _) = server
        .put(elsewhere["uploadUrl"].as_str().unwrap(), ct, vec![3; 4])
        .await;
    assert_eq!(status, StatusCode::OK);
    // Once the first ends, the refused URL still works.
    tx.send(Ok(vec![1; 4])).await.unwrap();
    drop(tx);
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    let (status, body) = server
        .put(next["uploadUrl"].as_str().unwrap(), ct, vec![2; 4])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_health_checks_keep_answering() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const SLOW: usize = 300;
    let (server, _dir) = start("header_timeout_secs = 1").await;
    let addr = server.base.trim_start_matches("http://").to_string();
    // Each opens a connection and sends the start of its headers, then nothing.
    let mut slow = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(tcp);
    }
    let started = std::time::Instant::now();
    for _ in 0..20 {
        let resp = server.get(&server.url("/healthz")).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let health_latency = started.elapsed() / 20;
    let mut closed = 0;
    for mut tcp in slow {
        let mut buf = Vec::new();
        let ended = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
        if ended.is_ok() {
            closed += 1;
        }
    }
    println!(
        "slowloris: {SLOW} connections trickling headers, {closed} closed by the server within \
         5 s of a 1 s header deadline; health checks meanwhile answered in {health_latency:?} on \
         average"
    );
    assert_eq!(closed, SLOW);
}

#[tokio::test]
async fn a_stalled_upload_body_is_refused_and_frees_its_slot() {
    let (server, _dir) = start("uploads_per_tenant = 1\nbody_idle_timeout_secs = 1").await;
    if server.direct_uploads() {
        return;
    }
    let key = server.key("acme", "render");
    let ct = "application/octet-stream";
    let stalled = server.request_upload(&key, "", "stalled.bin", ct, 8).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let chunks = futures_util::stream::unfold(rx, |mut rx| async {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let started = std::time::Instant::now();
    let first = tokio::spawn(
        server
            .http
            .put(stalled["uploadUrl"].as_str().unwrap())
            .header("content-type", ct)
            .header("content-length", "8")
            .body(reqwest::Body::wrap_stream(chunks))
            .send(),
    );
    tx.send(Ok(vec![1; 4])).await.unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("a stalled body is cut off")
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["message"], "Upload sent no bytes for 1 seconds");
    drop(tx);
    // Nothing of it is kept, and the file may still be uploaded through the same URL.
    assert_eq!(server.staging_files().await, 0);
    let url = stalled["fileUrl"].as_str().unwrap();
    assert_eq!(server.get(url).await.status(), StatusCode::NOT_FOUND);
    let (status, body) = server
        .put(stalled["uploadUrl"].as_str().unwrap(), ct, vec![1; 8])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let served = server.get(url).await.bytes().await.unwrap();
    assert_eq!(served.as_ref(), [1; 8]);
}
