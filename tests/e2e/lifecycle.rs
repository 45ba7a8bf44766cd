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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.get(&temp).await.status() != StatusCode::NOT_FOUND {
        assert!(
            std::time::Instant::now() < deadline,
            "the swept file is still served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
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
        assert!(
            server.let_reconciler_run().await,
            "the bytes were not dropped"
        );
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

/// On each path whose body streams through the node (the signed PUT where the node stores the
/// bytes itself, tus on every store), an upload still arriving is no lapsed upload.
#[tokio::test]
async fn a_sweep_at_a_future_time_leaves_uploads_in_flight_alone() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    for (i, through) in server.streaming_paths().into_iter().enumerate() {
        let content = bytes(30 + i as u64, 2000);
        let opened = server
            .open_upload(&key, through, &format!("slow{i}.bin"), 2000)
            .await;
        let received = server.bytes_received().await;
        let (tx, answer) = server.send_streamed(&key, &opened, 0, 2000);
        tx.send(Ok(content[..1000].to_vec())).await.unwrap();
        // The server holds the upload while it reads the first half.
        server.wait_received(received + 1000.0).await;
        let swept: Value =
            serde_json::from_str(&server.cli_ok(&["sweep", "--at", &at(Duration::days(2))]))
                .unwrap();
        assert!(
            swept["expired_uploads"].as_array().unwrap().is_empty(),
            "{through:?}: {swept}"
        );
        tx.send(Ok(content[1000..].to_vec())).await.unwrap();
        drop(tx);
        let resp = answer.await.unwrap().unwrap();
        assert_eq!(resp.status(), through.completed(), "{through:?}");
        let served = server.get(&opened.file_url).await;
        assert_eq!(served.bytes().await.unwrap().as_ref(), content.as_slice());
    }
}
