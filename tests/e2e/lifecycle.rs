//! The sweeper: temporary files and lapsed uploads go, and so do their bytes.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{bytes, Server};

fn at(offset: Duration) -> String {
    (Utc::now() + offset).to_rfc3339()
}

#[tokio::test]
async fn temp_files_expire_after_the_configured_age() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let temp = server
        .upload(
            &key,
            "temp/renders",
            "draft.mp4",
            "video/mp4",
            &bytes(1, 500),
        )
        .await;
    let kept = server
        .upload(&key, "keep", "final.mp4", "video/mp4", &bytes(2, 500))
        .await;
    let early: Value =
        serde_json::from_str(&server.cli_ok(&["sweep", "--at", &at(Duration::hours(23))])).unwrap();
    assert!(early["expired_temp_files"].as_array().unwrap().is_empty());
    let dry: Value = serde_json::from_str(&server.cli_ok(&[
        "sweep",
        "--dry-run",
        "--at",
        &at(Duration::hours(25)),
    ]))
    .unwrap();
    assert_eq!(
        dry["expired_temp_files"],
        serde_json::json!(["acme/temp/renders/draft.mp4"])
    );
    assert_eq!(
        server.get(&temp).await.status(),
        StatusCode::OK,
        "a dry run removes nothing"
    );
    let swept: Value =
        serde_json::from_str(&server.cli_ok(&["sweep", "--at", &at(Duration::hours(25))])).unwrap();
    assert_eq!(
        swept["expired_temp_files"],
        serde_json::json!(["acme/temp/renders/draft.mp4"])
    );
    assert_eq!(swept["reclaimed_blobs"].as_array().unwrap().len(), 1);
    // The sweep ran in another process: the server sees it once its path cache (1 s) lapses.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(server.get(&temp).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(server.get(&kept).await.status(), StatusCode::OK);
    assert_eq!(server.blob_files().await.len(), 1);
}

#[tokio::test]
async fn the_age_is_configurable_and_the_server_sweeps_by_itself() {
    let server =
        Server::start_with(&["--sweep-interval-secs", "1", "--temp-max-age-secs", "1"]).await;
    let key = server.key("acme", "render");
    let temp = server
        .upload(
            &key,
            "temp",
            "t.bin",
            "application/octet-stream",
            &bytes(1, 64),
        )
        .await;
    // The file stops being served when its row goes; its bytes are reclaimed after that, in the
    // same sweep or a later one.
    let (mut gone, mut bytes_gone) = (false, false);
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        gone = gone || server.get(&temp).await.status() == StatusCode::NOT_FOUND;
        bytes_gone = gone && server.blob_files().await.is_empty();
        if bytes_gone {
            break;
        }
    }
    assert!(gone, "the background sweeper removed the temporary file");
    assert!(bytes_gone, "and its bytes");
}

#[tokio::test]
async fn lapsed_pending_uploads_expire_and_release_their_reservation() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let ticket = server
        .request_upload(&key, "", "never.bin", "application/octet-stream", 4000)
        .await;
    assert_eq!(server.client_show("acme")["pending_bytes"], 4000);
    let swept: Value =
        serde_json::from_str(&server.cli_ok(&["sweep", "--at", &at(Duration::hours(2))])).unwrap();
    assert_eq!(
        swept["expired_uploads"],
        serde_json::json!(["acme/never.bin"])
    );
    assert_eq!(server.client_show("acme")["pending_bytes"], 0);
    let (status, _) = server
        .call("GET", "/v2/media/file?path=never.bin", &key, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .put(
            ticket["uploadUrl"].as_str().unwrap(),
            "application/octet-stream",
            vec![0; 4000],
        )
        .await;
    if server.direct_uploads() {
        // Object storage still honours its URL; the server finds no pending file and drops the bytes.
        assert_eq!(status, StatusCode::OK);
        server.let_reconciler_run().await;
        assert_eq!(server.staging_files().await, 0);
    } else {
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = server
        .call("GET", "/v2/media/file?path=never.bin", &key, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(server.blob_files().await.is_empty());
}

#[tokio::test]
async fn a_sweep_at_a_future_time_leaves_uploads_in_flight_alone() {
    let server = Server::start().await;
    if server.direct_uploads() {
        // Bytes bound for object storage never stream through mediadrive: nothing to cut off.
        return;
    }
    let key = server.key("acme", "render");
    let ticket = server
        .request_upload(&key, "", "slow.bin", "application/octet-stream", 2000)
        .await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    let put = server
        .http
        .put(ticket["uploadUrl"].as_str().unwrap())
        .header("content-type", "application/octet-stream")
        .body(body)
        .send();
    let put = tokio::spawn(put);
    tx.send(Ok(bytes(1, 1000))).await.unwrap();
    // Wait until the server holds the claim and the first half is staged.
    for _ in 0..100 {
        if server.staging_files().await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(server.staging_files().await, 1);
    let swept: Value =
        serde_json::from_str(&server.cli_ok(&["sweep", "--at", &at(Duration::days(2))])).unwrap();
    assert!(
        swept["expired_uploads"].as_array().unwrap().is_empty(),
        "{swept}"
    );
    tx.send(Ok(bytes(1, 1000))).await.unwrap();
    drop(tx);
    let resp = put.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let served = server.get(ticket["fileUrl"].as_str().unwrap()).await;
    assert_eq!(served.bytes().await.unwrap().len(), 2000);
}
