//! Floods (issue 9): a key beyond its request rate gets 429 with `Retry-After` in its surface's
//! error shape, and a tenant streams a bounded number of uploads at once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::harness::{bytes, Server, Through};

pub async fn start(limits: &str) -> (Server, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("limits.toml");
    std::fs::write(&config, format!("[limits]\n{limits}\n")).unwrap();
    let server = Server::start_with(&["--config", config.to_str().unwrap()]).await;
    (server, dir)
}

/// Asks `/healthz` `checks` times; each must answer `200` within a Kubernetes probe's default
/// timeout (1 s). Returns the slowest.
/// The test's own side of many sockets needs the descriptors too.
pub fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

pub async fn slowest_health_check(server: &Server, checks: usize) -> Duration {
    let mut slowest = Duration::ZERO;
    for _ in 0..checks {
        let started = std::time::Instant::now();
        let resp = server.get(&server.url("/healthz")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(1),
        "a health check took {slowest:?}"
    );
    slowest
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
    // Waiting as told lets the key through again: the wait is the behaviour under test (a client
    // that honours Retry-After is served), so it is not a poll.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(get(&server, "/v2/media", &key).await.0, StatusCode::OK);
}

/// Each path whose bodies stream through the node holds one of the tenant's slots while it
/// reads: the signed PUT where the node stores the bytes itself, tus on every store.
#[tokio::test]
async fn a_tenant_streams_a_bounded_number_of_uploads() {
    let (server, _dir) = start("uploads_per_tenant = 1").await;
    let key = server.key("acme", "render");
    let globex = server.key("globex", "render");
    for (i, through) in server.streaming_paths().into_iter().enumerate() {
        let seed = 10 * i as u64;
        let (slow_bytes, next_bytes, other_bytes) =
            (bytes(seed, 8), bytes(seed + 1, 4), bytes(seed + 2, 4));
        let slow = server
            .open_upload(&key, through, &format!("slow{i}.bin"), 8)
            .await;
        let next = server
            .open_upload(&key, through, &format!("next{i}.bin"), 4)
            .await;
        let elsewhere = server
            .open_upload(&globex, through, &format!("g{i}.bin"), 4)
            .await;

        // The first upload sends half its bytes and holds the rest back.
        let received = server.bytes_received().await;
        let (tx, first) = server.send_streamed(&key, &slow, 0, 8);
        tx.send(Ok(slow_bytes[..4].to_vec())).await.unwrap();
        // Its handler took the tenant's one slot before it read a byte.
        server.wait_received(received + 4.0).await;
        let refused = server.send_whole(&key, &next, 0, next_bytes.clone()).await;
        assert_eq!(
            refused.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{through:?}"
        );
        assert_eq!(refused.headers()["retry-after"], "1");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(
            body["message"], "Too many uploads in progress, retry when one has finished",
            "{through:?}"
        );
        // Other tenants have slots of their own.
        let resp = server.send_whole(&globex, &elsewhere, 0, other_bytes).await;
        assert_eq!(resp.status(), through.completed(), "{through:?}");
        // Once the first ends, the refused upload still goes through.
        tx.send(Ok(slow_bytes[4..].to_vec())).await.unwrap();
        drop(tx);
        assert_eq!(first.await.unwrap().unwrap().status(), through.completed());
        let resp = server.send_whole(&key, &next, 0, next_bytes.clone()).await;
        assert_eq!(resp.status(), through.completed(), "{through:?}");
        for (opened, content) in [(&slow, &slow_bytes), (&next, &next_bytes)] {
            let served = server.get(&opened.file_url).await;
            assert_eq!(served.status(), StatusCode::OK, "{through:?}");
            assert_eq!(
                &served.bytes().await.unwrap()[..],
                &content[..],
                "{through:?}"
            );
        }
    }
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
    // Each check must come back within a Kubernetes probe's default timeout (1 s), or a load
    // balancer would take the node out while it is only being held by slow clients.
    let slowest = slowest_health_check(&server, 20).await;
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
         5 s of a 1 s header deadline; the slowest of 20 health checks meanwhile took {slowest:?}"
    );
    assert_eq!(closed, SLOW);
}

/// A body that stops arriving is answered 408 on every path that streams through the node, and
/// its slot is free again at once: the retry below needs the tenant's only slot.
#[tokio::test]
async fn a_stalled_upload_body_is_refused_and_frees_its_slot() {
    let (server, _dir) = start("uploads_per_tenant = 1\nbody_idle_timeout_secs = 1").await;
    let key = server.key("acme", "render");
    for (i, through) in server.streaming_paths().into_iter().enumerate() {
        let content = bytes(20 + i as u64, 8);
        let stalled = server
            .open_upload(&key, through, &format!("stalled{i}.bin"), 8)
            .await;
        let started = std::time::Instant::now();
        let (tx, first) = server.send_streamed(&key, &stalled, 0, 8);
        tx.send(Ok(content[..4].to_vec())).await.unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(10), first)
            .await
            .expect("a stalled body is cut off")
            .unwrap()
            .unwrap();
        assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT, "{through:?}");
        assert!(started.elapsed() >= Duration::from_secs(1));
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["message"], "Upload sent no bytes for 1 seconds");
        drop(tx);
        assert_eq!(
            server.get(&stalled.file_url).await.status(),
            StatusCode::NOT_FOUND,
            "{through:?}"
        );
        let resumed_at = match through {
            // Nothing of it is kept: the whole file is sent again to the same URL.
            Through::SignedPut => {
                assert_eq!(server.staging_files().await, 0);
                0
            }
            // tus keeps what arrived, and the client goes on from there.
            Through::Tus => {
                let at = server.tus_offset(&key, &stalled.send_to).await;
                assert_eq!(at, 4);
                4
            }
        };
        let resp = server
            .send_whole(&key, &stalled, resumed_at, content[resumed_at..].to_vec())
            .await;
        assert_eq!(resp.status(), through.completed(), "{through:?}");
        let served = server.get(&stalled.file_url).await.bytes().await.unwrap();
        assert_eq!(&served[..], &content[..], "{through:?}");
    }
}

/// A header block past nginx's default sizes (8 KiB a field, 32 KiB in all) is refused with `431`
/// in the shape of the surface asked; one within them is served.
#[tokio::test]
async fn oversized_header_blocks_get_431_in_each_surfaces_shape() {
    const TOO_LARGE: &str =
        "Request header fields are too large: at most 8 KiB per field and 32 KiB in all";
    let server = Server::start().await;
    let key = server.key("acme", "viewer");
    let http = reqwest::Client::new();
    let request = |method: reqwest::Method, path: &str, fields: &[(String, String)]| {
        let mut request = http
            .request(method, server.url(path))
            .header("x-api-key", &key);
        for (name, value) in fields {
            request = request.header(name, value);
        }
        request.send()
    };
    let one = |len: usize| vec![("x-padding".to_string(), "a".repeat(len))];
    let many: Vec<_> = (0..8)
        .map(|i| (format!("x-padding-{i}"), "b".repeat(5000)))
        .collect();

    let within = request(reqwest::Method::GET, "/v2/media", &one(7 * 1024))
        .await
        .unwrap();
    assert_eq!(within.status(), StatusCode::OK);
    let big = request(reqwest::Method::GET, "/v2/media", &one(100_000))
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(big.json::<Value>().await.unwrap()["message"], TOO_LARGE);

    let vj = request(reqwest::Method::GET, "/videojungle/projects", &many)
        .await
        .unwrap();
    assert_eq!(vj.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(vj.json::<Value>().await.unwrap()["detail"], TOO_LARGE);

    let tus = request(reqwest::Method::POST, "/tus/", &one(9 * 1024))
        .await
        .unwrap();
    assert_eq!(tus.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(tus.headers()["tus-resumable"], "1.0.0");
    assert_eq!(tus.json::<Value>().await.unwrap()["message"], TOO_LARGE);
}

/// Connections that never send a byte are closed once the header deadline passes, and health
/// checks answer meanwhile: the node raised its open-file limit, so a thousand idle sockets do not
/// starve it.
#[tokio::test]
async fn silent_connections_are_closed_and_health_checks_keep_answering() {
    use tokio::io::AsyncReadExt;
    const SILENT: usize = 1000;
    raise_open_file_limit();
    let (server, _dir) = start("header_timeout_secs = 2").await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut silent = Vec::with_capacity(SILENT);
    for _ in 0..SILENT {
        silent.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let opened = std::time::Instant::now();
    let slowest = slowest_health_check(&server, 10).await;
    let reads = silent.into_iter().map(|mut tcp| async move {
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await;
        matches!(read, Ok(Ok(0)) | Ok(Err(_)))
    });
    let closed = futures_util::future::join_all(reads)
        .await
        .into_iter()
        .filter(|&closed| closed)
        .count();
    println!(
        "{SILENT} silent connections: {closed} closed by the server {:?} after they opened \
         (header deadline 2 s); the slowest of 10 health checks meanwhile took {slowest:?}",
        opened.elapsed()
    );
    assert_eq!(closed, SILENT);
}
