//! The storage quota holds under concurrent uploads.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{bytes, message, Server};

const CT: &str = "application/octet-stream";
/// Seed 002's answer to an upload the quota has no room for.
const BLOCKED: &str = "Storage is blocked. Add credits to continue uploading.";

/// The tenant's (used_bytes, pending_bytes).
fn counters(server: &Server, client: &str) -> (u64, u64) {
    let shown = server.client_show(client);
    (
        shown["used_bytes"].as_u64().unwrap(),
        shown["pending_bytes"].as_u64().unwrap(),
    )
}

async fn expect_blocked(server: &Server, key: &str, name: &str, size: usize) {
    server
        .expect_error(
            "POST",
            "/v2/media/file",
            key,
            Some(json!({"name": name, "contentType": CT, "size": size})),
            403,
            BLOCKED,
        )
        .await;
}

#[tokio::test]
async fn concurrent_uploads_cannot_overshoot_the_quota() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    server.cli_ok(&["client", "set", "--client", "acme", "--quota", "10000"]);
    let attempts = (0..40).map(|i| {
        let body = json!({"name": format!("f{i}.bin"), "contentType": CT, "size": 1000});
        let server = &server;
        let key = &key;
        async move {
            (
                i,
                server.call("POST", "/v2/media/file", key, Some(body)).await,
            )
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let mut granted: Vec<(u64, Value)> = Vec::new();
    let mut refused = 0;
    for (i, (status, body)) in results {
        if status == StatusCode::OK {
            granted.push((i, body));
        } else {
            assert_eq!((status, message(&body)), (StatusCode::FORBIDDEN, BLOCKED));
            assert_eq!(body["success"], false, "{body}");
            refused += 1;
        }
    }
    assert_eq!((granted.len(), refused), (10, 30));
    assert_eq!(counters(&server, "acme"), (0, 10_000));

    // Temporary uploads do not count against the quota, granted or completed.
    let scratch = bytes(1_000, 5000);
    server
        .upload(&key, "temp", "scratch.bin", CT, &scratch)
        .await;
    assert_eq!(counters(&server, "acme"), (0, 10_000));

    // Completing the granted uploads moves their bytes from pending to used, and the quota is full.
    let puts = granted.iter().map(|(i, ticket)| {
        let server = &server;
        async move {
            let (status, body) = server
                .put(ticket["uploadUrl"].as_str().unwrap(), CT, bytes(*i, 1000))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    });
    futures_util::future::join_all(puts).await;
    for (_, ticket) in &granted {
        server
            .wait_uploaded(&key, ticket["fileUrl"].as_str().unwrap())
            .await;
    }
    assert_eq!(counters(&server, "acme"), (10_000, 0));
    let shown = server.client_show("acme");
    assert_eq!(shown["quota"], 10_000);
    expect_blocked(&server, &key, "one-more.bin", 1).await;

    // The drive holds exactly the granted files, each with its own bytes.
    let (status, listing) = server
        .call("GET", "/v2/media/folder?limit=100", &key, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{listing}");
    let listed: BTreeSet<(String, u64)> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().into(),
                f["size"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, u64)> = granted
        .iter()
        .map(|(i, _)| (format!("f{i}.bin"), 1000))
        .collect();
    assert_eq!(listed, expected);
    for (i, ticket) in &granted {
        let served = server.get(ticket["fileUrl"].as_str().unwrap()).await;
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(served.bytes().await.unwrap().to_vec(), bytes(*i, 1000));
    }
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
        .upload(&key, "", "a.bin", CT, &bytes(2_000, 2000))
        .await;
    assert_eq!(counters(&server, "acme"), (2000, 0));
    assert_eq!(server.client_show("acme")["credits"], 7);
    // One byte over what is left is refused, exactly what is left is granted.
    expect_blocked(&server, &key, "b.bin", 1001).await;
    assert_eq!(counters(&server, "acme"), (2000, 0));
    server
        .upload(&key, "", "b.bin", CT, &bytes(2_001, 1000))
        .await;
    assert_eq!(counters(&server, "acme"), (3000, 0));
    expect_blocked(&server, &key, "c.bin", 1).await;
}
