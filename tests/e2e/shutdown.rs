//! Graceful shutdown (issue 9): on SIGTERM a node stops taking connections, lets the uploads in
//! flight finish within `limits.shutdown_grace_secs`, and an upload cut off after that is answered
//! 503, leaves nothing half-written behind, and may be sent again.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::sync::mpsc;

use crate::harness::Server;

const CT: &str = "application/octet-stream";

async fn start(grace_secs: u64) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("grace.toml");
    std::fs::write(
        &config,
        format!("[limits]\nshutdown_grace_secs = {grace_secs}\n"),
    )
    .unwrap();
    let server = Server::start_with(&["--config", config.to_str().unwrap()]).await;
    (server, dir)
}

type Chunks = mpsc::Sender<Result<Vec<u8>, std::io::Error>>;
type Answer = tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>;

/// Starts a PUT of `size` bytes whose chunks are sent through the returned sender.
fn slow_put(server: &Server, url: &str, size: usize) -> (Chunks, Answer) {
    let (tx, rx) = mpsc::channel(1);
    let chunks =
        futures_util::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|c| (c, rx)) });
    let request = server
        .http
        .put(url)
        .header("content-type", CT)
        .header("content-length", size.to_string())
        .body(reqwest::Body::wrap_stream(chunks))
        .send();
    (tx, tokio::spawn(request))
}

#[tokio::test]
async fn an_upload_in_flight_finishes_after_sigterm() {
    let (mut server, _dir) = start(20).await;
    if server.direct_uploads() {
        // Presigned PUTs then go to object storage, not through the node being stopped.
        return;
    }
    let key = server.key("acme", "render");
    let ticket = server.request_upload(&key, "", "late.bin", CT, 8).await;
    let (tx, upload) = slow_put(&server, ticket["uploadUrl"].as_str().unwrap(), 8);
    tx.send(Ok(vec![5; 4])).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !server.terminate(Duration::from_millis(500)).await,
        "it left the upload behind"
    );
    // No new connection is taken meanwhile.
    let refused = reqwest::Client::new()
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(refused.is_err(), "a stopping node answered a new request");
    tx.send(Ok(vec![5; 4])).await.unwrap();
    drop(tx);
    let resp = upload.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        server.terminate(Duration::from_secs(10)).await,
        "the node did not exit"
    );

    let after = server.start_peer().await;
    let moved = |url: &serde_json::Value| url.as_str().unwrap().replace(&server.base, &after.base);
    let resp = after.get(&moved(&ticket["fileUrl"])).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), [5; 8]);
}

#[tokio::test]
async fn an_upload_cut_off_by_shutdown_leaves_nothing_half_written() {
    let (mut server, _dir) = start(1).await;
    if server.direct_uploads() {
        return;
    }
    let key = server.key("acme", "render");
    let ticket = server.request_upload(&key, "", "cut.bin", CT, 8).await;
    let (tx, upload) = slow_put(&server, ticket["uploadUrl"].as_str().unwrap(), 8);
    tx.send(Ok(vec![6; 4])).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server.terminate(Duration::from_secs(10)).await,
        "the node did not exit"
    );
    let resp = upload
        .await
        .unwrap()
        .expect("the cut-off upload got no answer");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["retry-after"], "1");
    drop(tx);

    let after = server.start_peer().await;
    let moved = |url: &serde_json::Value| url.as_str().unwrap().replace(&server.base, &after.base);
    let resp = after.get(&moved(&ticket["fileUrl"])).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        after.staging_files().await,
        0,
        "staged bytes were left behind"
    );
    let usage = after.client_show("acme");
    assert_eq!(usage["used_bytes"], 0, "{usage}");
    // The upload URL still works while it is valid.
    let (status, body) = after
        .put(&moved(&ticket["uploadUrl"]), CT, vec![6; 8])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
