//! `mediadrive backup` (issue 10, operations): a copy of the embedded default taken while files
//! are uploaded and deleted is a data directory a server starts on, with every file it lists
//! served with its bytes and the quota equal to what it stores.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{bytes, Server};

fn content(i: usize) -> Vec<u8> {
    bytes(i as u8, 20_000 + i * 997)
}

#[tokio::test]
async fn a_backup_taken_while_files_come_and_go_restores_whole() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("copy");
    if server.direct_uploads() {
        let out = server.cli(&["backup", to.to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        return;
    }
    let key = server.key("acme", "editor");
    for i in 0..40 {
        server
            .upload(
                &key,
                "kept",
                &format!("f{i:02}.bin"),
                "application/octet-stream",
                &content(i),
            )
            .await;
    }
    // Deletes and new uploads run while the copy is taken.
    let backup = tokio::task::spawn_blocking(server.cli_command(&["backup", to.to_str().unwrap()]));
    for i in 0..40 {
        if i % 2 == 0 {
            let (status, body) = server
                .call(
                    "DELETE",
                    "/v2/media/file",
                    &key,
                    Some(json!({"folder": "kept", "name": format!("f{i:02}.bin")})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        } else {
            let j = 40 + i;
            server
                .upload(
                    &key,
                    "kept",
                    &format!("f{j:02}.bin"),
                    "application/octet-stream",
                    &content(j),
                )
                .await;
        }
    }
    let report: serde_json::Value = serde_json::from_str(&backup.await.unwrap()).unwrap();
    assert_eq!(report["hard_linked"], true, "{report}");

    let restored = Server::start_on(to).await;
    let (status, listing) = restored
        .call("GET", "/v2/media/folder?folder=kept&limit=1000", &key, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{listing}");
    let files = listing["files"].as_array().unwrap();
    assert!(files.len() >= 20, "{} files", files.len());
    let mut stored = BTreeMap::new();
    for f in files {
        let name = f["name"].as_str().unwrap();
        let served = restored.get(f["url"].as_str().unwrap()).await;
        if f["status"] == "pending" {
            // An upload in flight when the catalog was copied comes back pending, serving nothing.
            assert_eq!(served.status(), StatusCode::NOT_FOUND, "{name}");
            continue;
        }
        assert_eq!(f["status"], "uploaded", "{f}");
        let i: usize = name[1..name.len() - 4].parse().unwrap();
        assert_eq!(served.status(), StatusCode::OK, "{name}");
        assert_eq!(
            served.bytes().await.unwrap().as_ref(),
            content(i).as_slice(),
            "{name}"
        );
        stored.insert(
            blake3::hash(&content(i)).to_hex().to_string(),
            content(i).len() as u64,
        );
    }
    assert_eq!(
        restored.client_show("acme")["used_bytes"].as_u64().unwrap(),
        stored.values().sum::<u64>()
    );
    assert_eq!(
        restored.blob_files().await.len(),
        stored.len(),
        "the copy holds the blobs of its files and no others"
    );
    assert_eq!(report["blobs"], stored.len());
}
