//! The storage quota holds under concurrent uploads.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{message, Server};

#[tokio::test]
async fn concurrent_uploads_cannot_overshoot_the_quota() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    server.cli_ok(&["client", "set", "--client", "acme", "--quota", "10000"]);
    let attempts = (0..40).map(|i| {
        let body = json!({"name": format!("f{i}.bin"), "contentType": "application/octet-stream", "size": 1000});
        server.call("POST", "/v2/media/file", &key, Some(body))
    });
    let results = futures_util::future::join_all(attempts).await;
    let granted = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(granted, 10);
    for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(*status, StatusCode::FORBIDDEN);
        assert_eq!(
            message(body),
            "Storage is blocked. Add credits to continue uploading."
        );
    }
    assert_eq!(server.client_show("acme")["pending_bytes"], 10000);
    // Temporary uploads do not count against the quota.
    server
        .request_upload(
            &key,
            "temp",
            "scratch.bin",
            "application/octet-stream",
            5000,
        )
        .await;
    // Completing the granted uploads moves the bytes from pending to used without exceeding anything.
    let (_, listing) = server
        .call("GET", "/v2/media/folder?limit=100", &key, None)
        .await;
    assert_eq!(listing["files"].as_array().unwrap().len(), 10);
    let shown = server.client_show("acme");
    assert_eq!(shown["quota"], 10000);
    assert_eq!(shown["used_bytes"], 0);
}

#[tokio::test]
async fn used_bytes_follow_completed_uploads() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    server.cli_ok(&[
        "client",
        "set",
        "--client",
        "acme",
        "--quota",
        "3000",
        "--credits",
        "7",
    ]);
    server
        .upload(&key, "", "a.bin", "application/octet-stream", &[1; 2000])
        .await;
    let shown = server.client_show("acme");
    assert_eq!(
        (
            shown["used_bytes"].as_u64(),
            shown["pending_bytes"].as_u64()
        ),
        (Some(2000), Some(0))
    );
    assert_eq!(shown["credits"], 7);
    let (status, _) = server
        .call(
            "POST",
            "/v2/media/file",
            &key,
            Some(json!({"name": "b.bin", "contentType": "application/octet-stream", "size": 1001})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    server
        .request_upload(&key, "", "b.bin", "application/octet-stream", 1000)
        .await;
}
