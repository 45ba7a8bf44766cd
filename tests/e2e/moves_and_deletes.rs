//! Moves and renames (metadata only), single, bulk and folder deletes, blob reclamation.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{bytes, message, Server};

#[tokio::test]
async fn moving_and_renaming_files_copies_no_bytes() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let old_url = server
        .upload(&key, "videos", "clip.mp4", "video/mp4", &bytes(1, 4096))
        .await;
    let etag = server.get(&old_url).await.headers()["etag"].clone();
    let blobs_before = server.blob_files().await;
    let (status, body) = server
        .call(
            "PUT",
            "/v2/media/file",
            &key,
            Some(json!({"name": "clip.mp4", "folder": "videos", "destination": "archive/2026"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["file"]["url"],
        server.url("/acme/files/archive/2026/clip.mp4")
    );
    assert_eq!(server.get(&old_url).await.status(), StatusCode::NOT_FOUND);
    let moved = server
        .get(&server.url("/acme/files/archive/2026/clip.mp4"))
        .await;
    assert_eq!(moved.headers()["etag"], etag);
    assert_eq!(server.blob_files().await, blobs_before);
    let (status, body) = server
        .call(
            "PUT",
            "/v2/media/file",
            &key,
            Some(json!({"name": "clip.mp4", "folder": "archive/2026", "newName": "final cut.mp4"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["file"]["name"], "final_cut.mp4");
    assert_eq!(body["file"]["folder"], "archive/2026");
    let (status, _) = server
        .call(
            "PUT",
            "/v2/media/file",
            &key,
            Some(json!({"name": "final_cut.mp4", "folder": "archive/2026", "destination": "/"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        server
            .get(&server.url("/acme/files/final_cut.mp4"))
            .await
            .status(),
        StatusCode::OK
    );

    server
        .upload(&key, "other", "final_cut.mp4", "video/mp4", b"x")
        .await;
    for (body, status, msg) in [
        (
            json!({"folder": "videos", "destination": "x"}),
            400,
            "name is required",
        ),
        (
            json!({"name": "final_cut.mp4"}),
            400,
            "destination is required",
        ),
        (
            json!({"name": "nope.mp4", "destination": "x"}),
            404,
            "File not found",
        ),
        (
            json!({"name": "final_cut.mp4", "destination": "other"}),
            409,
            "A file with this name already exists in the destination folder",
        ),
    ] {
        server
            .expect_error("PUT", "/v2/media/file", &key, Some(body), status, msg)
            .await;
    }
}

#[tokio::test]
async fn moving_into_and_out_of_temp_changes_what_counts() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    server
        .upload(
            &key,
            "",
            "big.bin",
            "application/octet-stream",
            &bytes(1, 1000),
        )
        .await;
    assert_eq!(server.client_show("acme")["used_bytes"], 1000);
    let (_, body) = server
        .call(
            "PUT",
            "/v2/media/file",
            &key,
            Some(json!({"name": "big.bin", "destination": "temp"})),
        )
        .await;
    assert_eq!(body["file"]["temporary"], true);
    assert_eq!(server.client_show("acme")["used_bytes"], 0);
    server.cli_ok(&["client", "set", "--client", "acme", "--quota", "500"]);
    let (status, answer) = server
        .call(
            "PUT",
            "/v2/media/file",
            &key,
            Some(json!({"name": "big.bin", "folder": "temp", "destination": "keep"})),
        )
        .await;
    assert_eq!(
        (status.as_u16(), message(&answer)),
        (
            403,
            "Storage is blocked. Add credits to continue uploading."
        )
    );
    server.cli_ok(&["client", "set", "--client", "acme", "--quota", "5000"]);
    let (_, body) = server
        .call(
            "PUT",
            "/v2/media/file",
            &key,
            Some(json!({"name": "big.bin", "folder": "temp", "destination": "keep"})),
        )
        .await;
    assert_eq!(body["file"]["temporary"], false);
    assert_eq!(server.client_show("acme")["used_bytes"], 1000);
}

#[tokio::test]
async fn moving_nested_folders() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    server
        .upload(&key, "projects/alpha", "a.txt", "text/plain", b"a")
        .await;
    server
        .upload(
            &key,
            "projects/alpha/renders/final",
            "b.txt",
            "text/plain",
            b"b",
        )
        .await;
    server
        .upload(&key, "projects/alpha_beta", "c.txt", "text/plain", b"c")
        .await;
    let (status, body) = server
        .call(
            "PUT",
            "/v2/media/folder",
            &key,
            Some(json!({"folder": "projects/alpha", "destination": "archive"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (path, expect) in [
        ("/acme/files/archive/alpha/a.txt", StatusCode::OK),
        (
            "/acme/files/archive/alpha/renders/final/b.txt",
            StatusCode::OK,
        ),
        ("/acme/files/projects/alpha/a.txt", StatusCode::NOT_FOUND),
        // A sibling whose name merely starts the same stays where it was.
        ("/acme/files/projects/alpha_beta/c.txt", StatusCode::OK),
    ] {
        assert_eq!(
            server.get(&server.url(path)).await.status(),
            expect,
            "{path}"
        );
    }
    let (_, tree) = server
        .call("GET", "/v2/media/folder?tree=true", &key, None)
        .await;
    let paths: Vec<&str> = tree["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "",
            "archive",
            "archive/alpha",
            "archive/alpha/renders",
            "archive/alpha/renders/final",
            "projects",
            "projects/alpha_beta"
        ]
    );
    let (status, _) = server
        .call(
            "PUT",
            "/v2/media/folder",
            &key,
            Some(json!({"folder": "archive/alpha", "newName": "omega"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        server
            .get(&server.url("/acme/files/archive/omega/renders/final/b.txt"))
            .await
            .status(),
        StatusCode::OK
    );
    server
        .upload(&key, "x/omega", "d.txt", "text/plain", b"d")
        .await;
    for (body, status, msg) in [
        (
            json!({"folder": "archive/omega", "destination": "archive/omega/renders"}),
            400,
            "A folder cannot be moved into itself",
        ),
        (
            json!({"folder": "archive/omega", "destination": "x"}),
            409,
            "A folder with this name already exists in the destination folder",
        ),
        (
            json!({"folder": "missing", "destination": "x"}),
            404,
            "Folder not found",
        ),
        (
            json!({"folder": "/", "destination": "x"}),
            400,
            "Cannot move root folder",
        ),
        (
            json!({"folder": "temp", "destination": "x"}),
            400,
            "Cannot move the temp folder",
        ),
        (json!({"destination": "x"}), 400, "folder is required"),
        (json!({"folder": "x"}), 400, "destination is required"),
    ] {
        server
            .expect_error("PUT", "/v2/media/folder", &key, Some(body), status, msg)
            .await;
    }
    // Moving a folder onto itself changes nothing.
    let (status, _) = server
        .call(
            "PUT",
            "/v2/media/folder",
            &key,
            Some(json!({"folder": "x/omega", "newName": "omega"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Moving a folder into temp makes its files temporary, and they stop counting.
    assert_eq!(server.client_show("acme")["used_bytes"], 4);
    let (status, _) = server
        .call(
            "PUT",
            "/v2/media/folder",
            &key,
            Some(json!({"folder": "x", "destination": "temp"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, d) = server
        .call("GET", "/v2/media/file?path=temp/x/omega/d.txt", &key, None)
        .await;
    assert_eq!(d["file"]["temporary"], true);
    assert_eq!(server.client_show("acme")["used_bytes"], 3);
}

#[tokio::test]
async fn deleting_files_reclaims_unshared_bytes() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let shared = bytes(5, 2048);
    let a = server
        .upload(&key, "", "a.bin", "application/octet-stream", &shared)
        .await;
    let b = server
        .upload(&key, "dup", "b.bin", "application/octet-stream", &shared)
        .await;
    server
        .upload(
            &key,
            "",
            "c.bin",
            "application/octet-stream",
            &bytes(6, 100),
        )
        .await;
    assert_eq!(server.blob_files().await.len(), 2);
    assert_eq!(server.get(&a).await.status(), StatusCode::OK);
    let (status, body) = server
        .call(
            "DELETE",
            "/v2/media/file",
            &key,
            Some(json!({"name": "a.bin"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["success"], true);
    assert!(body["timestamp"].is_string());
    assert_eq!(server.get(&a).await.status(), StatusCode::NOT_FOUND);
    // b still references the same content, so its bytes stay.
    assert_eq!(server.blob_files().await.len(), 2);
    assert_eq!(server.get(&b).await.bytes().await.unwrap().to_vec(), shared);
    server
        .expect_error(
            "DELETE",
            "/v2/media/file",
            &key,
            Some(json!({"name": "a.bin"})),
            404,
            "File not found",
        )
        .await;
    let (status, body) = server
        .call(
            "DELETE",
            "/v2/media/file",
            &key,
            Some(json!({"files": [{"name": "b.bin", "folder": "dup"}, "c.bin", "ghost.bin"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["deleted"], 2);
    assert_eq!(body["not_found"], json!(["ghost.bin"]));
    assert!(server.blob_files().await.is_empty());
    assert_eq!(server.client_show("acme")["used_bytes"], 0);
    server
        .expect_error(
            "DELETE",
            "/v2/media/file",
            &key,
            Some(json!({})),
            400,
            "name is required",
        )
        .await;
    // Deleting a pending upload releases its reservation.
    server
        .request_upload(&key, "", "p.bin", "application/octet-stream", 777)
        .await;
    assert_eq!(server.client_show("acme")["pending_bytes"], 777);
    server
        .call(
            "DELETE",
            "/v2/media/file",
            &key,
            Some(json!({"name": "p.bin"})),
        )
        .await;
    assert_eq!(server.client_show("acme")["pending_bytes"], 0);
}

#[tokio::test]
async fn deleting_folders() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    server
        .upload(
            &key,
            "album/2026/june",
            "a.jpg",
            "image/jpeg",
            &bytes(1, 300),
        )
        .await;
    server
        .upload(&key, "album", "cover.jpg", "image/jpeg", &bytes(2, 300))
        .await;
    server
        .call(
            "POST",
            "/v2/media/folder",
            &key,
            Some(json!({"folder": "empty"})),
        )
        .await;
    for (body, status, msg) in [
        (json!({}), 400, "folder is required"),
        (json!({"folder": "/"}), 400, "Cannot delete root folder"),
        (
            json!({"folder": "temp"}),
            400,
            "Cannot delete the temp folder",
        ),
        (json!({"folder": "nope"}), 404, "Folder not found"),
        (
            json!({"folder": "album"}),
            409,
            "Folder is not empty. Delete all files first.",
        ),
        (
            json!({"folder": "album/2026"}),
            409,
            "Folder is not empty. Delete all files first.",
        ),
    ] {
        server
            .expect_error("DELETE", "/v2/media/folder", &key, Some(body), status, msg)
            .await;
    }
    let (status, _) = server
        .call(
            "DELETE",
            "/v2/media/folder",
            &key,
            Some(json!({"folder": "empty"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server
        .call(
            "DELETE",
            "/v2/media/folder",
            &key,
            Some(json!({"folder": "album", "recursive": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        server
            .get(&server.url("/acme/files/album/cover.jpg"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert!(server.blob_files().await.is_empty());
    let (_, tree) = server
        .call("GET", "/v2/media/folder?tree=true", &key, None)
        .await;
    assert_eq!(tree["folders"].as_array().unwrap().len(), 1);
    assert_eq!(server.client_show("acme")["used_bytes"], 0);
}
