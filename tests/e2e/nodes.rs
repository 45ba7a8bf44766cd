//! Two nodes on one catalog and one blob store: work spread over both runs once and loses nothing.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{bytes, Server};

#[tokio::test]
async fn two_nodes_share_the_work_safely() {
    let a = Server::start().await;
    let b = a.start_peer().await;
    let key = a.key("acme", "editor");
    // Migrating a catalog both nodes already run on is a no-op (the rolling-upgrade step).
    assert!(a.cli_ok(&["migrate"]).contains("up to date"));
    let nodes = [&a, &b];

    // Uploads granted by either node, bytes sent to the URL the other node's ticket names, all at once.
    let uploads = (0..16).map(|i| {
        let (grant, other) = (nodes[i % 2], nodes[(i + 1) % 2]);
        let key = key.clone();
        async move {
            let folder = if i % 4 == 0 { "temp" } else { "shared" };
            let data = bytes((i % 6) as u8, 3000 + i);
            let ticket = grant
                .request_upload(
                    &key,
                    folder,
                    &format!("f{i}.bin"),
                    "application/octet-stream",
                    data.len(),
                )
                .await;
            let (status, body) = other
                .put(
                    ticket["uploadUrl"].as_str().unwrap(),
                    "application/octet-stream",
                    data,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let url = ticket["fileUrl"].as_str().unwrap().to_string();
            grant.wait_uploaded(&key, &url).await;
            url
        }
    });
    let urls = futures_util::future::join_all(uploads).await;
    // Every file is whole on both nodes, bytes are stored once per content.
    for (i, url) in urls.iter().enumerate() {
        let path = &url[url.find("/acme/files/").unwrap()..];
        for node in nodes {
            let served = node.get(&node.url(path)).await;
            assert_eq!(served.status(), StatusCode::OK, "{path}");
            assert_eq!(
                served.bytes().await.unwrap().to_vec(),
                bytes((i % 6) as u8, 3000 + i)
            );
        }
    }
    assert_eq!(a.blob_files().await.len(), 16);
    assert_eq!(a.staging_files().await, 0);
    let counted: usize = (0..16).filter(|i| i % 4 != 0).map(|i| 3000 + i).sum();
    assert_eq!(a.client_show("acme")["used_bytes"], counted as u64);

    // A delete on one node is seen by the other once its path cache lapses.
    let (status, _) = b
        .call(
            "DELETE",
            "/v2/media/file",
            &key,
            Some(json!({"name": "f1.bin", "folder": "shared"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        a.get(&a.url("/acme/files/shared/f1.bin")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(a.blob_files().await.len(), 15);

    // Two sweeps at once, one from each node's side: every expired file is removed exactly once.
    let at = (Utc::now() + Duration::hours(25)).to_rfc3339();
    let sweeps =
        nodes.map(|node| tokio::task::spawn_blocking(node.cli_command(&["sweep", "--at", &at])));
    let mut removed = Vec::new();
    for sweep in sweeps {
        let report: Value = serde_json::from_str(&sweep.await.unwrap()).unwrap();
        removed.extend(
            report["expired_temp_files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_string()),
        );
    }
    let expected: HashSet<String> = (0..16)
        .filter(|i| i % 4 == 0)
        .map(|i| format!("acme/temp/f{i}.bin"))
        .collect();
    assert_eq!(
        removed.len(),
        expected.len(),
        "no file swept twice: {removed:?}"
    );
    assert_eq!(removed.into_iter().collect::<HashSet<_>>(), expected);
    assert_eq!(a.blob_files().await.len(), 11);
    assert_eq!(a.client_show("acme")["used_bytes"], (counted - 3001) as u64);
}
