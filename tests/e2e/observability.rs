//! What operators watch (issue 10): Prometheus metrics at `/metrics`, a request id on every
//! response, and `/readyz` beside `/healthz`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{bytes, Server};

#[tokio::test]
async fn metrics_count_requests_bytes_and_queues() {
    let server = Server::start_with(&["--sweep-interval-secs", "1"]).await;
    let key = server.key("acme", "render");
    let data = bytes(7, 300_000);
    let url = server
        .upload(&key, "", "m.bin", "application/octet-stream", &data)
        .await;
    server.wait_uploaded(&key, &url).await;
    let served = server.get(&url).await.bytes().await.unwrap();
    assert_eq!(served.len(), data.len());
    let (status, _) = server.call("GET", "/v2/media", "not-a-key", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // One sweep has run by now.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let m = server.metrics().await;
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
    assert!(
        get(
            r#"mediadrive_http_request_duration_seconds_bucket{method="POST",route="/v2/media/file",le="+Inf"}"#
        ) >= 1.0
    );
    // Routes are named by their template, never by a URL that may carry a signature.
    assert!(m
        .keys()
        .all(|k| !k.contains("signature") && !k.contains("m.bin")));
    if !server.direct_uploads() {
        assert!(get("mediadrive_bytes_received_total") >= data.len() as f64);
        assert_eq!(get("mediadrive_uploads_in_flight"), 0.0);
    }
    assert!(get("mediadrive_bytes_sent_total") >= data.len() as f64);
    assert!(get(r#"mediadrive_sweeps_total{outcome="ok"}"#) >= 1.0);
    for queue in [
        "probes",
        "generations",
        "render_outputs",
        "webhook_deliveries",
    ] {
        let waiting = get(&format!(r#"mediadrive_jobs_waiting{{queue="{queue}"}}"#));
        assert!(waiting >= 0.0);
    }
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
