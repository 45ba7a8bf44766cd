//! Video Jungle's signed asset links and upload links: both expire, and an asset whose upload
//! never comes is forgotten.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::{detail, project, upload, VJ};
use crate::harness::{bytes, json_of, Server};

#[tokio::test]
async fn signed_links_expire_and_bind_their_disposition() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vj.toml");
    std::fs::write(&config, "[videojungle]\nlink_ttl_secs = 1\n").unwrap();
    let server = Server::start_with(&["--config", config.to_str().unwrap()]).await;
    let key = server.key("acme", "editor");
    let p = project(&server, &key, "links").await;
    let (_, asset) = upload(
        &server,
        &key,
        p["id"].as_str().unwrap(),
        "clip.bin",
        bytes(6, 800),
    )
    .await;
    let url = asset["url"].as_str().unwrap();
    let download = asset["download_url"].as_str().unwrap();
    let resp = server.get(url).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("content-disposition").is_none());
    assert_eq!(resp.bytes().await.unwrap().to_vec(), bytes(6, 800));
    let resp = server.get(download).await;
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"clip.bin\""
    );
    // Dropping the download flag from a download link breaks its signature.
    let (status, body) = json_of(server.get(&download.replace("download=1&", "")).await).await;
    assert_eq!(
        (status, detail(&body)),
        (StatusCode::FORBIDDEN, "Signature does not match")
    );
    let (status, _) = json_of(server.get(&url.replace("signature=", "signature=0")).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The link works until its second runs out, then is refused as expired.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = json_of(server.get(url).await).await;
        if (status, detail(&body)) == (StatusCode::FORBIDDEN, "Request has expired") {
            break;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            Instant::now() < deadline,
            "a link valid for 1 s still works after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A fresh read of the asset signs fresh links.
    let (_, again) = server
        .call(
            "GET",
            &format!("{VJ}/assets/{}", asset["id"].as_str().unwrap()),
            &key,
            None,
        )
        .await;
    assert_eq!(
        server.get(again["url"].as_str().unwrap()).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_asset_whose_upload_never_comes_is_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vj.toml");
    std::fs::write(&config, "[videojungle]\nupload_ttl_secs = 1\n").unwrap();
    let server = Server::start_with(&[
        "--config",
        config.to_str().unwrap(),
        "--sweep-interval-secs",
        "1",
    ])
    .await;
    let key = server.key("acme", "editor");
    let p = project(&server, &key, "late").await;
    let id = p["id"].as_str().unwrap();
    let (_, link) = server
        .call(
            "POST",
            &format!("{VJ}/projects/{id}/asset"),
            &key,
            Some(json!({"keyname": "a"})),
        )
        .await;
    let check = format!("{VJ}/assets/check/{}", link["id"].as_str().unwrap());
    assert_eq!(
        server.call("GET", &check, &key, None).await.0,
        StatusCode::OK
    );
    // Forgotten by a sweep (every second) once its upload's second has run out.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = server.call("GET", &check, &key, None).await;
        if status == StatusCode::NOT_FOUND {
            break;
        }
        assert_eq!(
            (status, &body),
            (StatusCode::OK, &json!({"uploaded": false}))
        );
        assert!(
            Instant::now() < deadline,
            "the asset is still there after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, p) = server
        .call("GET", &format!("{VJ}/projects/{id}"), &key, None)
        .await;
    assert_eq!(p["asset_count"], 0);
}
