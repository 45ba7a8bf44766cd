//! API keys, role boundaries and tenant isolation.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{message, Server};

#[tokio::test]
async fn missing_unknown_and_expired_keys_get_401() {
    let server = Server::start().await;
    let resp = server.get(&server.url("/v2/media")).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = server.call("GET", "/v2/media", "md_not_a_key", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["success"], false);
    let past = server.cli(&[
        "key",
        "create",
        "--client",
        "acme",
        "--role",
        "admin",
        "--expires",
        "2020-01-01T00:00:00Z",
    ]);
    assert!(!past.status.success() && past.stdout.is_empty());
    let soon = chrono::Utc::now() + chrono::Duration::seconds(1);
    let expired = server.cli_ok(&[
        "key",
        "create",
        "--client",
        "acme",
        "--role",
        "admin",
        "--expires",
        &soon.to_rfc3339(),
    ]);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    server
        .expect_error(
            "GET",
            "/v2/media",
            expired.trim(),
            None,
            401,
            "API key has expired",
        )
        .await;
    let future = server.cli_ok(&[
        "key",
        "create",
        "--client",
        "acme",
        "--role",
        "viewer",
        "--expires",
        "2999-01-01T00:00:00Z",
    ]);
    let (status, _) = server.call("GET", "/v2/media", future.trim(), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn key_create_validates_its_input() {
    let server = Server::start().await;
    for args in [
        &["key", "create", "--client", "v2", "--role", "admin"][..],
        &["key", "create", "--client", "a/b", "--role", "admin"][..],
        &["key", "create", "--client", "acme", "--role", "root"][..],
    ] {
        let out = server.cli(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty());
    }
}

/// Each action against the lowest role that may do it and the role just below.
#[tokio::test]
async fn role_boundaries() {
    let server = Server::start().await;
    let keys: Vec<(&str, String)> = ["viewer", "render", "editor", "manager", "admin"]
        .into_iter()
        .map(|r| (r, server.key("acme", r)))
        .collect();
    let admin = &keys[4].1;
    let allowed = |role: &str, needed: &str| {
        let order = ["viewer", "render", "editor", "manager", "admin"];
        order.iter().position(|r| *r == role) >= order.iter().position(|r| *r == needed)
    };
    for (i, (role, key)) in keys.iter().enumerate() {
        server
            .upload(admin, "", &format!("f{i}.txt"), "text/plain", b"hello")
            .await;
        let actions = [
            ("viewer", "GET", "/v2/media".to_string(), None),
            (
                "viewer",
                "GET",
                "/v2/media/folder?folder=".to_string(),
                None,
            ),
            (
                "viewer",
                "GET",
                format!("/v2/media/file?path=f{i}.txt"),
                None,
            ),
            (
                "render",
                "POST",
                "/v2/media/file".to_string(),
                Some(json!({"name": format!("n{i}.txt"), "contentType": "text/plain", "size": 1})),
            ),
            (
                "render",
                "POST",
                "/v2/media/folder".to_string(),
                Some(json!({"folder": format!("d{i}")})),
            ),
            (
                "editor",
                "PUT",
                "/v2/media/file".to_string(),
                Some(json!({"name": format!("f{i}.txt"), "newName": format!("g{i}.txt")})),
            ),
            (
                "editor",
                "PUT",
                "/v2/media/folder".to_string(),
                Some(json!({"folder": format!("d{i}"), "newName": format!("e{i}")})),
            ),
            (
                "editor",
                "DELETE",
                "/v2/media/file".to_string(),
                Some(json!({"name": format!("g{i}.txt")})),
            ),
            (
                "editor",
                "DELETE",
                "/v2/media/folder".to_string(),
                Some(json!({"folder": format!("e{i}")})),
            ),
        ];
        for (needed, method, path, body) in actions {
            let (status, answer) = server.call(method, &path, key, body).await;
            if allowed(role, needed) {
                assert_eq!(status, StatusCode::OK, "{role} {method} {path}: {answer}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role} {method} {path}");
                assert_eq!(message(&answer), "Insufficient permissions");
            }
        }
    }
}

#[tokio::test]
async fn tenants_never_touch_each_others_files() {
    let server = Server::start().await;
    let a = server.key("tenant-a", "admin");
    let b = server.key("tenant-b", "admin");
    server
        .upload(&a, "private", "secret.txt", "text/plain", b"a's bytes")
        .await;
    let (status, _) = server
        .call("GET", "/v2/media/file?path=private/secret.txt", &b, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .call("GET", "/v2/media/folder?folder=private", &b, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, tree) = server
        .call("GET", "/v2/media/folder?tree=true", &b, None)
        .await;
    assert_eq!(tree["folders"].as_array().unwrap().len(), 1, "{tree}");
    let (status, _) = server
        .call(
            "PUT",
            "/v2/media/file",
            &b,
            Some(json!({"name": "secret.txt", "folder": "private", "destination": "mine"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .call(
            "DELETE",
            "/v2/media/file",
            &b,
            Some(json!({"name": "secret.txt", "folder": "private"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .call(
            "DELETE",
            "/v2/media/folder",
            &b,
            Some(json!({"folder": "private", "recursive": true})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The same name in B's own drive is B's file, not an overwrite of A's.
    server
        .upload(&b, "private", "secret.txt", "text/plain", b"b's bytes")
        .await;
    let a_url = server.url("/tenant-a/files/private/secret.txt");
    assert_eq!(server.get(&a_url).await.text().await.unwrap(), "a's bytes");
    let (_, b_view) = server.call("GET", "/v2/media", &b, None).await;
    assert_eq!(b_view["storage"]["used_bytes"], 9);
    let (_, a_view) = server.call("GET", "/v2/media", &a, None).await;
    assert_eq!(a_view["storage"]["used_bytes"], 9);
}
