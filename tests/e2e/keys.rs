//! The keys' lifecycle: named, listed, expired and revoked from the CLI and by a tenant's
//! managers over `/v2/keys`, and addresses that keep sending keys that do not work throttled.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{message, Server};

/// A request on each surface with `key` from `client` (sent as `X-Forwarded-For`): its status and
/// the message of its error in that surface's shape.
async fn on_each_surface(server: &Server, key: &str, client: &str) -> Vec<(StatusCode, String)> {
    let http = reqwest::Client::new();
    let mut answers = Vec::new();
    for (method, path, field) in [
        (Method::GET, "/v2/media", "message"),
        (Method::GET, "/videojungle/projects", "detail"),
        (Method::POST, "/tus/", "message"),
        (Method::GET, "/serve/v1/assets/render/x", "message"),
    ] {
        let resp = http
            .request(method, server.url(path))
            .header("x-api-key", key)
            .header("x-forwarded-for", client)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", "1")
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        answers.push((status, body[field].as_str().unwrap_or_default().to_string()));
    }
    answers
}

fn listed(server: &Server, args: &[&str]) -> Vec<Value> {
    let out = server.cli_ok(&[&["key", "list"], args].concat());
    assert!(!out.contains("md_"), "a key itself is listed: {out}");
    serde_json::from_str(&out).unwrap()
}

#[tokio::test]
async fn keys_are_named_listed_revoked_and_expire_on_every_surface() {
    let server = Server::start().await;
    let manager = server
        .cli_ok(&[
            "key", "create", "--client", "acme", "--role", "manager", "--name", "ops",
        ])
        .trim()
        .to_string();
    let admin = server.key("acme", "admin");
    let other = server.key("globex", "admin");
    let short = server
        .cli_ok(&[
            "key",
            "create",
            "--client",
            "acme",
            "--role",
            "viewer",
            "--expires",
            &(chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339(),
        ])
        .trim()
        .to_string();
    let acme = listed(&server, &["--client", "acme"]);
    assert_eq!(acme.len(), 3, "{acme:?}");
    assert_eq!(
        (acme[0]["name"].as_str(), acme[0]["role"].as_str()),
        (Some("ops"), Some("manager"))
    );
    assert!(acme
        .iter()
        .all(|k| k["client_id"] == "acme" && k["status"] == "active"));
    assert_eq!(listed(&server, &[]).len(), 4);

    // A manager sees its own tenant's keys only, and mints no role above its own.
    let (status, body) = server.call("GET", "/v2/keys", &manager, None).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(!body.to_string().contains("md_"));
    let new = |role: &str| json!({"role": role, "name": "ci"});
    server
        .expect_error(
            "POST",
            "/v2/keys",
            &manager,
            Some(new("admin")),
            403,
            "Insufficient permissions",
        )
        .await;
    server
        .expect_error(
            "POST",
            "/v2/keys",
            &manager,
            Some(json!({"role": "root"})),
            400,
            "role must be one of viewer, render, editor, manager, admin",
        )
        .await;
    server
        .expect_error(
            "POST",
            "/v2/keys",
            &manager,
            Some(json!({"role": "viewer", "expires_at": "2020-01-01T00:00:00Z"})),
            400,
            "expires_at must be in the future",
        )
        .await;
    server
        .expect_error(
            "GET",
            "/v2/keys",
            &short,
            None,
            403,
            "Insufficient permissions",
        )
        .await;
    let (status, created) = server
        .call("POST", "/v2/keys", &manager, Some(new("editor")))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let editor = created["key"]["key"].as_str().unwrap().to_string();
    let editor_id = created["key"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["key"]["last_used_at"], Value::Null);
    for (status, _) in on_each_surface(&server, &editor, "192.0.2.1").await {
        // Let in: whatever the request's own fault is, it is not the key's.
        assert!(
            ![StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].contains(&status),
            "{status}"
        );
    }
    let (_, body) = server.call("GET", "/v2/keys", &manager, None).await;
    let seen = body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == editor_id.as_str())
        .unwrap()
        .clone();
    assert!(seen["last_used_at"].is_string(), "{seen}");

    // Another tenant's key is not there to revoke; an admin key is out of a manager's reach.
    let (_, theirs) = server.call("GET", "/v2/keys", &other, None).await;
    let their_id = theirs["keys"][0]["id"].as_str().unwrap().to_string();
    server
        .expect_error(
            "DELETE",
            &format!("/v2/keys/{their_id}"),
            &manager,
            None,
            404,
            "API key not found",
        )
        .await;
    let admin_id = acme.iter().find(|k| k["role"] == "admin").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    server
        .expect_error(
            "DELETE",
            &format!("/v2/keys/{admin_id}"),
            &manager,
            None,
            403,
            "Insufficient permissions",
        )
        .await;

    // Revoked over the API: refused at once on every surface, in each one's shape.
    let (status, revoked) = server
        .call("DELETE", &format!("/v2/keys/{editor_id}"), &manager, None)
        .await;
    assert_eq!(
        (status, revoked["key"]["status"].as_str()),
        (StatusCode::OK, Some("revoked"))
    );
    for answer in on_each_surface(&server, &editor, "192.0.2.2").await {
        assert_eq!(
            answer,
            (StatusCode::UNAUTHORIZED, "API key has been revoked".into())
        );
    }
    // Revoked from the CLI, any tenant's.
    let out = server.cli_ok(&["key", "revoke", &their_id]);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["status"],
        "revoked"
    );
    for answer in on_each_surface(&server, &other, "192.0.2.3").await {
        assert_eq!(
            answer,
            (StatusCode::UNAUTHORIZED, "API key has been revoked".into())
        );
    }
    let unknown = server.cli(&["key", "revoke", "0123456789abcdef0123456789abcdef"]);
    assert!(!unknown.status.success());

    // Expired on its own.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for answer in on_each_surface(&server, &short, "192.0.2.4").await {
        assert_eq!(
            answer,
            (StatusCode::UNAUTHORIZED, "API key has expired".into())
        );
    }
    let statuses: Vec<String> = listed(&server, &["--client", "acme"])
        .iter()
        .map(|k| k["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["active", "active", "expired", "revoked"]);
    let (status, _) = server.call("GET", "/v2/media", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
}

/// 200 requests with random keys from one address: the first `failed_auths_per_minute` get 401,
/// the rest 429 in each surface's shape; a working key from that address waits too, while other
/// addresses are untouched. The address is the one a trusted proxy names.
#[tokio::test]
async fn addresses_sending_keys_that_do_not_work_are_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("auth.toml");
    std::fs::write(
        &config,
        "trusted_proxies = [\"127.0.0.1/32\"]\n[limits]\nfailed_auths_per_minute = 30\n",
    )
    .unwrap();
    let server = Server::start_with(&["--config", config.to_str().unwrap()]).await;
    let good = server.key("acme", "viewer");
    let mut answers = Vec::new();
    for i in 0..50 {
        answers.extend(on_each_surface(&server, &format!("md_{i:064x}"), "198.51.100.7").await);
    }
    let unauthorized = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(unauthorized, 30, "{answers:?}");
    for (status, text) in &answers[30..] {
        assert_eq!(
            (*status, text.as_str()),
            (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed authentications, retry later"
            )
        );
    }
    let throttled = reqwest::Client::new()
        .get(server.url("/v2/media"))
        .header("x-api-key", &good)
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "Retry-After: {wait}");
    // Another address: a working key works and a wrong one gets its 401.
    let (status, body) = server.call("GET", "/v2/media", &good, None).await;
    assert_eq!(status, StatusCode::OK, "{}", message(&body));
    let elsewhere = on_each_surface(&server, "md_wrong", "198.51.100.8").await;
    assert!(
        elsewhere
            .iter()
            .all(|(s, t)| *s == StatusCode::UNAUTHORIZED && t == "Invalid API key"),
        "{elsewhere:?}"
    );
    // Once its budget has room again, the address is let through.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let (status, _) = on_each_surface(&server, &good, "198.51.100.7").await[0].clone();
    assert_eq!(status, StatusCode::OK);
}

/// `mediadrive secret rotate`: URLs signed before keep working on every node for the overlap,
/// a node that has not reloaded yet takes URLs signed with the new key, and once the overlap ends
/// the old key's URLs are refused.
#[tokio::test]
async fn a_rotated_signing_key_keeps_old_urls_working_for_the_overlap_only() {
    let server = Server::start().await;
    if server.direct_uploads() {
        // The object store signs these, not mediadrive.
        return;
    }
    let key = server.key("acme", "render");
    let body = b"signed before the rotation".to_vec();
    let mut urls = Vec::new();
    for name in ["early.txt", "late.txt"] {
        let ticket = server
            .request_upload(&key, "", name, "text/plain", body.len())
            .await;
        urls.push(ticket["uploadUrl"].as_str().unwrap().to_string());
    }
    let (early, late) = (&urls[0], &urls[1]);
    let out = server.cli_ok(&["secret", "rotate", "--overlap-secs", "4"]);
    assert!(out.contains("rotated"), "{out}");
    let started = std::time::Instant::now();

    // A node started after the rotation signs with the new key and still takes the old one's.
    let peer = server.start_peer().await;
    let on_peer = |url: &str| url.replacen(&server.base, &peer.base, 1);
    let (status, answer) = peer.put(&on_peer(early), "text/plain", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // The first node has not reloaded its keys yet, and still takes the new key's URLs.
    let fresh = peer
        .request_upload(&key, "", "fresh.txt", "text/plain", body.len())
        .await;
    let fresh_url = fresh["uploadUrl"]
        .as_str()
        .unwrap()
        .replacen(&peer.base, &server.base, 1);
    let (status, answer) = server.put(&fresh_url, "text/plain", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // Past the overlap, a URL signed with the old key is refused.
    tokio::time::sleep(
        Duration::from_secs(4).saturating_sub(started.elapsed()) + Duration::from_millis(500),
    )
    .await;
    let (status, answer) = peer.put(&on_peer(late), "text/plain", body.clone()).await;
    assert_eq!(
        (status, message(&answer)),
        (StatusCode::FORBIDDEN, "Signature does not match")
    );
}
