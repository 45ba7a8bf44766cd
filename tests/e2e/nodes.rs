//! Two nodes on one catalog and one blob store: work spread over both runs once and loses nothing.

use std::{
    collections::{BTreeSet, HashSet},
    time::Instant,
};

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{bytes, Server};

/// The files a node lists in `folder`: (name, size, status).
async fn listed(node: &Server, key: &str, folder: &str) -> BTreeSet<(String, u64, String)> {
    let (status, page) = node
        .call(
            "GET",
            &format!("/v2/media/folder?folder={folder}&limit=100"),
            key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["size"].as_u64().unwrap(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn two_nodes_share_the_work_safely() {
    let a = Server::start().await;
    let b = a.start_peer().await;
    let key = a.key("acme", "editor");
    // Migrating a catalog both nodes already run on is a no-op (the rolling-upgrade step).
    assert!(a.cli_ok(&["migrate"]).contains("up to date"));
    let nodes = [&a, &b];

    // Uploads granted by either node, all at once. Each URL is signed by one node and used at
    // the other: the signing key is shared through the catalog. On object storage the URL names
    // the store; the other node then confirms what arrived.
    let uploads = (0..16).map(|i| {
        let (grant, other) = (nodes[i % 2], nodes[(i + 1) % 2]);
        let key = key.clone();
        async move {
            let folder = if i % 4 == 0 { "temp" } else { "shared" };
            let data = bytes(i as u64, 3000 + i);
            let ticket = grant
                .request_upload(
                    &key,
                    folder,
                    &format!("f{i}.bin"),
                    "application/octet-stream",
                    data.len(),
                )
                .await;
            let signed = ticket["uploadUrl"].as_str().unwrap();
            let target = if grant.direct_uploads() {
                signed.to_string()
            } else {
                assert!(
                    signed.starts_with(&format!("{}/upload/", grant.base)),
                    "{signed}"
                );
                signed.replacen(&grant.base, &other.base, 1)
            };
            if !grant.direct_uploads() {
                // A signature altered by one character is refused there: the node checks it.
                let forged = target.replace("signature=", "signature=0");
                let (status, _) = other
                    .put(&forged, "application/octet-stream", data.clone())
                    .await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{forged}");
            }
            let (status, body) = other.put(&target, "application/octet-stream", data).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let url = ticket["fileUrl"].as_str().unwrap().to_string();
            other.wait_uploaded(&key, &url).await;
            url
        }
    });
    let urls = futures_util::future::join_all(uploads).await;
    // Every file is whole on both nodes, and both list the same files.
    for (i, url) in urls.iter().enumerate() {
        let path = &url[url.find("/acme/files/").unwrap()..];
        for node in nodes {
            let served = node.get(&node.url(path)).await;
            assert_eq!(served.status(), StatusCode::OK, "{path}");
            assert_eq!(
                served.bytes().await.unwrap().to_vec(),
                bytes(i as u64, 3000 + i)
            );
        }
    }
    for folder in ["shared", "temp"] {
        let expected: BTreeSet<(String, u64, String)> = (0..16)
            .filter(|i| (i % 4 == 0) == (folder == "temp"))
            .map(|i| (format!("f{i}.bin"), 3000 + i as u64, "uploaded".to_string()))
            .collect();
        for node in nodes {
            assert_eq!(
                listed(node, &key, folder).await,
                expected,
                "{folder} on {}",
                node.base
            );
        }
    }
    assert_eq!(a.blob_files().await.len(), 16);
    assert_eq!(a.staging_files().await, 0);
    let counted: usize = (0..16).filter(|i| i % 4 != 0).map(|i| 3000 + i).sum();
    assert_eq!(a.client_show("acme")["used_bytes"], counted as u64);

    // A delete on one node is seen by the other once its path cache (1 s) lapses.
    let (status, _) = b
        .call(
            "DELETE",
            "/v2/media/file",
            &key,
            Some(json!({"name": "f1.bin", "folder": "shared"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        b.get(&b.url("/acme/files/shared/f1.bin")).await.status(),
        StatusCode::NOT_FOUND
    );
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let status = a.get(&a.url("/acme/files/shared/f1.bin")).await.status();
        if status == StatusCode::NOT_FOUND {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            Instant::now() < deadline,
            "node A still serves a deleted file after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!listed(&a, &key, "shared")
        .await
        .iter()
        .any(|(name, ..)| name == "f1.bin"));
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
