//! `GET /v2/media`, folder listings, sorting, type filters, the tree, keyset pagination.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{message, Server};

async fn page_through(server: &Server, key: &str, query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v2/media/folder?{query}&cursor={c}"),
            None => format!("/v2/media/folder?{query}"),
        };
        let (status, page) = server.call("GET", &path, key, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        names.extend(
            page["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return names,
        }
    }
}

#[tokio::test]
async fn pagination_over_thousands_of_files() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    const N: usize = 2500;
    for i in 0..N {
        let ct = if i % 5 == 0 {
            "audio/mpeg"
        } else {
            "image/png"
        };
        server
            .request_upload(&key, "bulk", &format!("f{i:05}.bin"), ct, 10)
            .await;
    }
    let by_name = page_through(&server, &key, "folder=bulk&sort=name&order=asc&limit=300").await;
    let expected: Vec<String> = (0..N).map(|i| format!("f{i:05}.bin")).collect();
    assert_eq!(by_name, expected);
    let desc = page_through(&server, &key, "folder=bulk&sort=name&order=desc&limit=1000").await;
    assert_eq!(desc, expected.iter().rev().cloned().collect::<Vec<_>>());
    let by_date = page_through(&server, &key, "folder=bulk&sort=date&order=asc&limit=257").await;
    assert_eq!(by_date.len(), N);
    assert_eq!(
        by_date.iter().collect::<HashSet<_>>().len(),
        N,
        "no file twice"
    );
    assert_eq!(by_date.first().unwrap(), "f00000.bin");
    let newest = page_through(&server, &key, "path=bulk&limit=1000").await;
    assert_eq!(newest.first().unwrap(), &format!("f{:05}.bin", N - 1));
    let audio = page_through(&server, &key, "folder=bulk&type=audio&sort=name&limit=100").await;
    assert_eq!(audio.len(), N / 5);
    assert!(audio
        .iter()
        .all(|n| n[1..6].parse::<usize>().unwrap() % 5 == 0));
    // A cursor belongs to the sort that produced it.
    let (_, first) = server
        .call(
            "GET",
            "/v2/media/folder?folder=bulk&sort=name&limit=10",
            &key,
            None,
        )
        .await;
    let cursor = first["next_cursor"].as_str().unwrap();
    server
        .expect_error(
            "GET",
            &format!("/v2/media/folder?folder=bulk&sort=date&cursor={cursor}"),
            &key,
            None,
            400,
            "Invalid cursor",
        )
        .await;
}

#[tokio::test]
async fn overview_tree_and_bad_parameters() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    server
        .upload(&key, "", "root.txt", "text/plain", b"12345")
        .await;
    server
        .upload(&key, "a/b", "deep.png", "image/png", b"123")
        .await;
    server
        .upload(&key, "temp", "scratch.txt", "text/plain", b"1234567")
        .await;
    let (status, overview) = server.call("GET", "/v2/media", &key, None).await;
    assert_eq!(status, StatusCode::OK);
    let storage = &overview["storage"];
    assert_eq!(
        storage["used_bytes"], 8,
        "temp files do not count: {overview}"
    );
    assert_eq!(storage["free_allowance"], 10u64 * 1024 * 1024 * 1024);
    assert_eq!(storage["blocked"], false);
    assert_eq!(storage["blocked_at"], Value::Null);
    assert!(storage.get("credits_per_week").is_some());
    assert_eq!(overview["files"][0]["name"], "root.txt");
    let folders: Vec<&str> = overview["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(folders, ["a", "temp"]);
    let (_, tree) = server
        .call("GET", "/v2/media/folder?tree=true", &key, None)
        .await;
    let rows: Vec<(String, u64, u64)> = tree["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["files"].as_u64().unwrap(),
                f["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("".into(), 1, 5),
            ("a".into(), 0, 0),
            ("a/b".into(), 1, 3),
            ("temp".into(), 1, 7)
        ]
    );
    let (_, deep) = server
        .call("GET", "/v2/media/file?path=a/b/deep.png", &key, None)
        .await;
    // Three bytes are no image whatever their declared type: only the declared type shows here;
    // what probing makes of real media is tested in the probe module.
    assert_eq!(deep["file"]["type"], "image");
    let (_, temp) = server
        .call("GET", "/v2/media/file?path=temp/scratch.txt", &key, None)
        .await;
    assert_eq!(temp["file"]["temporary"], true);
    assert_eq!(temp["file"]["thumbnailUrl"], Value::Null);
    server.cli_ok(&[
        "client",
        "set",
        "--client",
        "acme",
        "--storage-blocked",
        "true",
    ]);
    let (_, overview) = server.call("GET", "/v2/media", &key, None).await;
    assert_eq!(overview["storage"]["blocked"], true);
    assert!(overview["storage"]["blocked_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    for (query, status, msg) in [
        ("folder=nope", 404, "Folder not found"),
        ("sort=size", 400, "sort must be date or name"),
        ("order=up", 400, "order must be asc or desc"),
        ("type=pdf", 400, "type must be image, video, audio or other"),
        ("limit=0", 400, "limit must be between 1 and 1000"),
        ("limit=1001", 400, "limit must be between 1 and 1000"),
        ("cursor=garbage", 400, "Invalid cursor"),
    ] {
        let (got, body) = server
            .call("GET", &format!("/v2/media/folder?{query}"), &key, None)
            .await;
        assert_eq!((got.as_u16(), message(&body)), (status, msg), "{query}");
    }
    server
        .expect_error("GET", "/v2/media/file", &key, None, 400, "path is required")
        .await;
    server
        .expect_error(
            "GET",
            "/v2/media/file?path=a/missing.png",
            &key,
            None,
            404,
            "File not found",
        )
        .await;
}
