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
    assert_eq!(depths(&server.metrics().await), [0.0; 4]);
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
