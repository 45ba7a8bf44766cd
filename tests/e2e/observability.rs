//! What operators watch (issue 10): Prometheus metrics at `/metrics`, a request id on every
//! response, and `/readyz` beside `/healthz`.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{bytes, Server};

const QUEUES: [&str; 4] = [
    "probes",
    "generations",
    "render_outputs",
    "webhook_deliveries",
];

/// Each job queue's depth as `/metrics` shows it.
fn depths(m: &BTreeMap<String, f64>) -> [f64; 4] {
    QUEUES.map(|queue| {
        let name = format!(r#"mediadrive_jobs_waiting{{queue="{queue}"}}"#);
        *m.get(&name).unwrap_or_else(|| panic!("no {name}"))
    })
}

#[tokio::test]
async fn metrics_count_requests_bytes_and_queues() {
    let server =
        Server::start_with(&["--sweep-interval-secs", "1", "--fetch-allow", "127.0.0.0/8"]).await;
    let key = server.key("acme", "render");
    // The depths are read every few seconds, not per scrape: the first read comes at start.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = server.metrics().await;
        if m.contains_key(r#"mediadrive_jobs_waiting{queue="probes"}"#) {
            assert_eq!(depths(&m), [0.0; 4]);
            break;
        }
        assert!(Instant::now() < deadline, "no queue depths after 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A webhook endpoint where nothing listens: the upload's delivery fails and waits for its
    // retry (5 s, then 5 min), so the queue holds it for the rest of the test.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let (status, body) = server
        .call(
            "POST",
            "/v2/webhooks",
            &server.key("acme", "manager"),
            Some(json!({"url": hook, "events": ["file.uploaded"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let data = bytes(7, 300_000);
    let url = server
        .upload(&key, "", "m.bin", "application/octet-stream", &data)
        .await;
    let served = server.get(&url).await.bytes().await.unwrap();
    assert_eq!(served.len(), data.len());
    let (status, _) = server.call("GET", "/v2/media", "not-a-key", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Settled once a sweep ran, the file was probed and its upload is no longer in flight.
    let deadline = Instant::now() + Duration::from_secs(15);
    let m = loop {
        let m = server.metrics().await;
        let swept = m.contains_key(r#"mediadrive_sweeps_total{outcome="ok"}"#);
        let idle = m
            .get("mediadrive_uploads_in_flight")
            .copied()
            .unwrap_or(0.0)
            == 0.0;
        if swept && idle && depths(&m) == [0.0, 0.0, 0.0, 1.0] {
            break m;
        }
        assert!(Instant::now() < deadline, "not settled after 15 s: {m:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let get = |name: &str| {
        *m.get(name)
            .unwrap_or_else(|| panic!("no {name} in {:#?}", m.keys().collect::<Vec<_>>()))
    };
    assert_eq!(
        get(r#"mediadrive_http_requests_total{method="POST",route="/v2/media/file",status="200"}"#),
        1.0
    );
    assert_eq!(
        get(r#"mediadrive_http_requests_total{method="GET",route="/v2/media",status="401"}"#),
        1.0
    );
    assert_eq!(
        get(
            r#"mediadrive_http_request_duration_seconds_count{method="POST",route="/v2/media/file"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            r#"mediadrive_http_request_duration_seconds_bucket{method="POST",route="/v2/media/file",le="+Inf"}"#
        ),
        1.0
    );
    // Routes are named by their template, never by a URL that may carry a signature.
    assert!(m
        .keys()
        .all(|k| !k.contains("signature") && !k.contains("m.bin")));
    // The upload's bytes went through this node only when they were not sent to object storage.
    let through_node = if server.direct_uploads() {
        0
    } else {
        data.len()
    };
    assert_eq!(
        m.get("mediadrive_bytes_received_total")
            .copied()
            .unwrap_or(0.0),
        through_node as f64
    );
    assert_eq!(get("mediadrive_bytes_sent_total"), data.len() as f64);
    assert!(get(r#"mediadrive_sweeps_total{outcome="ok"}"#) >= 1.0);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let server = Server::start().await;
    let resp = server.get(&server.url("/healthz")).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let again = server.get(&server.url("/healthz")).await;
    assert_ne!(again.headers()["x-request-id"], id.as_str());
    // Errors carry one too, and a caller's own id is kept so it can be traced end to end.
    let resp = server
        .http
        .get(server.url("/v2/media"))
        .header("x-request-id", "pipeline-run-42")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["x-request-id"], "pipeline-run-42");
}

#[tokio::test]
async fn readiness_checks_the_catalog_and_the_blob_store() {
    let server = Server::start().await;
    let resp = server.get(&server.url("/readyz")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "ready", "catalog": "ok", "blob_store": "ok"})
    );
    let doc = server.openapi().await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "{path} is documented"
        );
    }
}

/// Every label comes from a fixed set, so what clients send cannot grow `/metrics` or the
/// process: 10,000 requests with invented methods and paths leave `/metrics` small and the
/// node's memory where it was.
#[tokio::test]
async fn invented_methods_and_paths_do_not_grow_metrics() {
    use futures_util::StreamExt;

    let server = Server::start().await;
    let http = reqwest::Client::new();
    let send = |method: String, path: String| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let request = http.request(method, server.url(&path));
        async move { request.send().await.map(|r| r.status()) }
    };
    // A different token for every request: its hash, in letters HTTP takes in a method.
    let invented = |seed: String, len: usize| -> String {
        blake3::hash(seed.as_bytes())
            .to_hex()
            .chars()
            .take(len)
            .map(|c| (b'A' + (c.to_digit(16).unwrap() as u8)) as char)
            .collect()
    };
    // Warm: the routes, the allocator's pools and the recorder have seen requests of every kind.
    let warm_up: Vec<_> = (0..500)
        .map(|i| {
            let method = invented(format!("warm {i}"), 8);
            (method, format!("/warm/{i}"))
        })
        .collect();
    futures_util::stream::iter(warm_up)
        .map(|(m, p)| send(m, p))
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let before_kib = server.peak_rss_kib();
    let hostile: Vec<_> = (0..10_000)
        .map(|i| {
            let method = invented(format!("method {i}"), 12);
            let path = format!("/{}/{}", invented(format!("a {i}"), 10), i);
            (method, path)
        })
        .collect();
    let answered = futures_util::stream::iter(hostile)
        .map(|(m, p)| send(m, p))
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    assert!(
        answered.iter().all(|r| r.is_ok()),
        "a request got no answer"
    );
    let text = server
        .get(&server.url("/metrics"))
        .await
        .text()
        .await
        .unwrap();
    let grown_kib = server.peak_rss_kib().saturating_sub(before_kib);
    println!(
        "after 10,000 invented requests: /metrics {} bytes, peak RSS grew {grown_kib} KiB",
        text.len()
    );
    assert!(text.len() < 64 * 1024, "/metrics is {} bytes", text.len());
    assert!(grown_kib < 8 * 1024, "peak RSS grew {grown_kib} KiB");
    assert!(text.contains(r#"method="other""#), "{text}");
    assert!(text.contains(r#"route="unmatched""#), "{text}");
}

/// With `metrics_token` set, `/metrics` answers only its bearer.
#[tokio::test]
async fn a_metrics_token_keeps_metrics_to_its_bearer() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("metrics.toml");
    let token = "s3cret-metrics-token-0123";
    std::fs::write(&config, format!("metrics_token = \"{token}\"\n")).unwrap();
    let server = Server::start_with(&["--config", config.to_str().unwrap()]).await;
    let http = reqwest::Client::new();
    let scrape = |auth: Option<String>| {
        let mut request = http.get(server.url("/metrics"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        async move { request.send().await.unwrap() }
    };
    for refused in [None, Some("Bearer wrong".into()), Some(token.to_string())] {
        let resp = scrape(refused.clone()).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{refused:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body["message"], "Metrics need the bearer token of metrics_token",
            "{body}"
        );
    }
    let resp = scrape(Some(format!("Bearer {token}"))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("mediadrive_http_requests_total"));
    // The health checks stay public.
    assert_eq!(scrape_status(&server, "/healthz").await, StatusCode::OK);
}

/// With `metrics_listen` set, `/metrics` answers on that address alone: the public listener
/// answers 404 and serves everything else as before.
#[tokio::test]
async fn metrics_can_live_on_an_address_of_their_own() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics_addr = free.local_addr().unwrap();
    drop(free);
    let addr = metrics_addr.to_string();
    let server = Server::start_with(&["--metrics-listen", &addr]).await;
    assert_eq!(
        scrape_status(&server, "/metrics").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(scrape_status(&server, "/healthz").await, StatusCode::OK);
    let resp = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(text.contains("mediadrive_http_requests_total"), "{text}");
    // Nothing but metrics there.
    let other = reqwest::get(format!("http://{metrics_addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

async fn scrape_status(server: &Server, path: &str) -> StatusCode {
    server.get(&server.url(path)).await.status()
}
