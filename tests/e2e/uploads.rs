//! `POST /v2/media/file`, `POST /v2/media/folder` and the presigned PUT (seed 002).

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{bytes, message, Server};

mod retries;

#[tokio::test]
async fn the_seed_curl_example_works_unchanged() {
    let server = Server::start().await;
    let key = server.key("abc123", "render");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("clip.mp4"), bytes(1, 3145728)).unwrap();
    // Seed 002's two-step example, with only the host swapped for ours.
    let script = r#"
RESP=$(curl -s --location --request POST "$BASE/v2/media/file" \
--header "x-api-key: $KEY" \
--header 'Content-Type: application/json' \
--data-raw '{
"name": "clip.mp4",
"contentType": "video/mp4",
"size": 3145728,
"folder": "videos"
}')
UPLOAD_URL=$(echo "$RESP" | jq -r .uploadUrl)
curl --fail -s --location --request PUT "$UPLOAD_URL" \
--header 'Content-Type: video/mp4' \
--upload-file ./clip.mp4
"#;
    let out = std::process::Command::new("bash")
        .arg("-ec")
        .arg(script)
        .current_dir(work.path())
        .env("BASE", &server.base)
        .env("KEY", &key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server
        .wait_uploaded(&key, &server.url("/abc123/files/videos/clip.mp4"))
        .await;
    let served = server
        .get(&server.url("/abc123/files/videos/clip.mp4"))
        .await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.unwrap().to_vec(), bytes(1, 3145728));
    let (_, file) = server
        .call("GET", "/v2/media/file?path=videos/clip.mp4", &key, None)
        .await;
    assert_eq!(file["file"]["status"], "uploaded");
    assert_eq!(file["file"]["type"], "video");
}

#[tokio::test]
async fn upload_ticket_shape_and_pending_record() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let ticket = server
        .request_upload(&key, "videos", "my clip (1).mp4", "video/mp4", 10)
        .await;
    assert_eq!(ticket["success"], true);
    assert_eq!(ticket["expiresIn"], 120);
    assert_eq!(
        ticket["fileUrl"],
        server.url("/acme/files/videos/my_clip__1_.mp4")
    );
    let spaced = server
        .request_upload(&key, "", " clip.mp4", "video/mp4", 10)
        .await;
    assert_eq!(spaced["fileUrl"], server.url("/acme/files/_clip.mp4"));
    if !server.direct_uploads() {
        assert!(ticket["uploadUrl"]
            .as_str()
            .unwrap()
            .starts_with(&server.url("/upload/")));
    }
    let (status, body) = server
        .call(
            "GET",
            "/v2/media/file?path=videos/my_clip__1_.mp4",
            &key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let file = &body["file"];
    assert_eq!(file["status"], "pending");
    assert_eq!(file["name"], "my_clip__1_.mp4");
    assert_eq!(file["folder"], "videos");
    assert_eq!(file["contentType"], "video/mp4");
    assert_eq!(file["size"], 10);
    assert_eq!(file["temporary"], false);
    assert!(file["created_at"].as_str().unwrap().ends_with('Z'));
    // A pending file has no bytes to serve yet.
    let served = server.get(ticket["fileUrl"].as_str().unwrap()).await;
    assert_eq!(served.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_seed_error_row() {
    let server = Server::start().await;
    let render = server.key("acme", "render");
    let viewer = server.key("acme", "viewer");
    let ok = json!({"name": "a.png", "contentType": "image/png", "size": 5});
    let with = |field: &str, value: serde_json::Value| {
        let mut b = ok.clone();
        if value.is_null() {
            b.as_object_mut().unwrap().remove(field);
        } else {
            b[field] = value;
        }
        b
    };
    let cases = [
        (with("name", json!(null)), 400, "name is required"),
        (with("name", json!("")), 400, "name is required"),
        (
            with("contentType", json!(null)),
            400,
            "contentType is required",
        ),
        (
            with("size", json!(null)),
            400,
            "size is required and must be a positive number",
        ),
        (
            with("size", json!(0)),
            400,
            "size is required and must be a positive number",
        ),
        (
            with("size", json!(-5)),
            400,
            "size is required and must be a positive number",
        ),
        (
            with("size", json!("12")),
            400,
            "size is required and must be a positive number",
        ),
        (
            with("size", json!(1.5)),
            400,
            "size is required and must be a positive number",
        ),
        (with("folder", json!("!!!")), 400, "Invalid folder name"),
        (
            with("size", json!(500 * 1024 * 1024 + 1)),
            413,
            "File exceeds maximum size of 500 MB",
        ),
    ];
    for (body, status, msg) in cases {
        let (got, answer) = server
            .call("POST", "/v2/media/file", &render, Some(body.clone()))
            .await;
        assert_eq!(got.as_u16(), status, "{body} -> {answer}");
        assert_eq!(message(&answer), msg, "{body}");
        assert_eq!(answer["success"], false);
    }
    server
        .expect_error(
            "POST",
            "/v2/media/file",
            &viewer,
            Some(ok.clone()),
            403,
            "Insufficient permissions",
        )
        .await;

    let (status, _) = server
        .call(
            "POST",
            "/v2/media/file",
            &render,
            Some(json!({"name": "big.png", "contentType": "image/png", "size": 500 * 1024 * 1024})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "exactly 500 MB is allowed");
    server
        .request_upload(&render, "", "a.png", "image/png", 5)
        .await;
    let (status, answer) = server
        .call("POST", "/v2/media/file", &render, Some(ok.clone()))
        .await;
    assert_eq!(
        (status.as_u16(), message(&answer)),
        (
            409,
            "A file with this name already exists. Delete it first."
        )
    );

    server.cli_ok(&[
        "client",
        "set",
        "--client",
        "acme",
        "--storage-blocked",
        "true",
    ]);
    let (status, answer) = server
        .call(
            "POST",
            "/v2/media/file",
            &render,
            Some(with("name", json!("b.png"))),
        )
        .await;
    assert_eq!(
        (status.as_u16(), message(&answer)),
        (
            403,
            "Storage is blocked. Add credits to continue uploading."
        )
    );
    server
        .expect_error(
            "POST",
            "/v2/media/file",
            &render,
            Some(json!({"name": "x"})),
            400,
            "contentType is required",
        )
        .await;
    server
        .expect_error(
            "POST",
            "/v2/media/file",
            &render,
            None,
            400,
            "name is required",
        )
        .await;
    let resp = server
        .http
        .post(server.url("/v2/media/file"))
        .header("x-api-key", &render)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn folders_are_created_sanitised_and_nested() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let viewer = server.key("acme", "viewer");
    let (status, body) = server
        .call(
            "POST",
            "/v2/media/folder",
            &key,
            Some(json!({"folder": "videos/raw"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["success"], true);
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(body.get("message").is_none());
    let (status, body) = server
        .call(
            "POST",
            "/v2/media/folder",
            &key,
            Some(json!({"folder": "videos/raw"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Folder already exists");
    let (_, body) = server
        .call(
            "POST",
            "/v2/media/folder",
            &key,
            Some(json!({"folder": "black friday!/2026"})),
        )
        .await;
    assert_eq!(body["success"], true);
    let (_, root) = server.call("GET", "/v2/media/folder", &key, None).await;
    let names: Vec<&str> = root["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["blackfriday", "videos"]);
    let (_, nested) = server
        .call("GET", "/v2/media/folder?folder=videos", &key, None)
        .await;
    assert_eq!(nested["folders"][0]["path"], "videos/raw");
    for (body, msg) in [
        (json!({}), "folder is required"),
        (json!({"folder": ""}), "folder is required"),
        (json!({"folder": "..."}), "Invalid folder name"),
    ] {
        let (status, answer) = server
            .call("POST", "/v2/media/folder", &key, Some(body))
            .await;
        assert_eq!((status.as_u16(), message(&answer)), (400, msg));
    }
    server
        .expect_error(
            "POST",
            "/v2/media/folder",
            &viewer,
            Some(json!({"folder": "x"})),
            403,
            "Insufficient permissions",
        )
        .await;
}

#[tokio::test]
async fn identical_content_is_stored_once() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let a = server
        .upload(
            &key,
            "",
            "a.bin",
            "application/octet-stream",
            &bytes(3, 5000),
        )
        .await;
    let b = server
        .upload(
            &key,
            "copies",
            "b.bin",
            "application/octet-stream",
            &bytes(3, 5000),
        )
        .await;
    assert_eq!(server.blob_files().await.len(), 1);
    let etag_a = server.get(&a).await.headers()["etag"].clone();
    let etag_b = server.get(&b).await.headers()["etag"].clone();
    assert_eq!(etag_a, etag_b);
    assert_eq!(
        etag_a.to_str().unwrap(),
        format!("\"{}\"", blake3::hash(&bytes(3, 5000)).to_hex())
    );
}

#[tokio::test]
async fn uploads_are_confirmed_without_anyone_asking() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let data = bytes(8, 4321);
    let ticket = server
        .request_upload(
            &key,
            "bg",
            "quiet.bin",
            "application/octet-stream",
            data.len(),
        )
        .await;
    let (status, _) = server
        .put(
            ticket["uploadUrl"].as_str().unwrap(),
            "application/octet-stream",
            data.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Only the stable URL is watched: for direct uploads the background reconciler must confirm.
    let url = ticket["fileUrl"].as_str().unwrap();
    let mut served = None;
    for _ in 0..100 {
        let resp = server.get(url).await;
        if resp.status() == StatusCode::OK {
            served = Some(resp.bytes().await.unwrap().to_vec());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(served, Some(data));
    assert_eq!(server.staging_files().await, 0);
}
