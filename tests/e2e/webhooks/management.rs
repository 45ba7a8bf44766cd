//! Managing webhook endpoints: for managers only, and never aimed at private addresses.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{message, Server};

#[tokio::test]
async fn webhook_management_is_for_managers_and_refuses_private_targets() {
    let server = Server::start().await;
    let manager = server.key("acme", "manager");
    let editor = server.key("acme", "editor");
    server
        .expect_error(
            "GET",
            "/v2/webhooks",
            &editor,
            None,
            403,
            "Insufficient permissions",
        )
        .await;
    server
        .expect_error(
            "POST",
            "/v2/webhooks",
            &manager,
            Some(json!({})),
            400,
            "url is required",
        )
        .await;
    server
        .expect_error(
            "POST",
            "/v2/webhooks",
            &manager,
            Some(json!({"url": "ftp://example.com/x"})),
            400,
            "url must be an http or https URL",
        )
        .await;
    server
        .expect_error(
            "POST",
            "/v2/webhooks",
            &manager,
            Some(json!({"url": "https://example.com/x", "events": ["file.exploded"]})),
            400,
            "events may hold only file.uploaded, file.deleted, preload.item.ready, preload.item.failed, \
             preload.completed, asset.hosted, asset.failed",
        )
        .await;
    for target in [
        "http://127.0.0.1:9/x",
        "http://10.1.2.3/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest",
    ] {
        let (status, body) = server
            .call(
                "POST",
                "/v2/webhooks",
                &manager,
                Some(json!({"url": target})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{target}");
        assert!(
            message(&body).contains("private, loopback or link-local"),
            "{body}"
        );
    }
    let (status, body) = server
        .call(
            "POST",
            "/v2/webhooks",
            &manager,
            Some(json!({"url": "https://hooks.example.com/in"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["endpoint"]["id"].as_str().unwrap().to_string();
    let (_, listed) = server.call("GET", "/v2/webhooks", &manager, None).await;
    assert_eq!(listed["endpoints"][0]["id"], id.as_str());
    assert!(
        listed["endpoints"][0].get("secret").is_none(),
        "the secret is shown once"
    );
    let stranger = server.key("other", "admin");
    server
        .expect_error(
            "GET",
            &format!("/v2/webhooks/{id}"),
            &stranger,
            None,
            404,
            "Webhook endpoint not found",
        )
        .await;
    let (status, _) = server
        .call("DELETE", &format!("/v2/webhooks/{id}"), &manager, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    server
        .expect_error(
            "DELETE",
            &format!("/v2/webhooks/{id}"),
            &manager,
            None,
            404,
            "Webhook endpoint not found",
        )
        .await;
}
