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

/// Ids are parsed at the edge: a malformed one answers exactly as a well-formed unknown one does.
#[tokio::test]
async fn malformed_ids_answer_as_unknown_ones_do() {
    let server = Server::start().await;
    let admin = server.key("acme", "admin");
    let unknown_uuid = "00000000-0000-4000-8000-000000000000";
    let unknown_hex = "00000000000000000000000000000000";
    let routes = [
        ("GET", "/v2/renders/{}", unknown_uuid, "Render not found"),
        ("GET", "/v2/preloads/{}", unknown_hex, "Preload not found"),
        (
            "GET",
            "/v2/webhooks/{}",
            unknown_uuid,
            "Webhook endpoint not found",
        ),
        (
            "DELETE",
            "/v2/webhooks/{}",
            unknown_uuid,
            "Webhook endpoint not found",
        ),
        (
            "GET",
            "/v2/webhooks/{}/deliveries",
            unknown_uuid,
            "Webhook endpoint not found",
        ),
        (
            "POST",
            "/v2/webhooks/deliveries/{}/redeliver",
            unknown_uuid,
            "Delivery not found",
        ),
    ];
    for (method, path, unknown, msg) in routes {
        let (status, unknown_body) = server
            .call(method, &path.replace("{}", unknown), &admin, None)
            .await;
        assert_eq!(
            (status.as_u16(), message(&unknown_body)),
            (404, msg),
            "{path}"
        );
        for bad in ["nope", "0000000000000000000000000000000G", "..%2Fx"] {
            let (status, body) = server
                .call(method, &path.replace("{}", bad), &admin, None)
                .await;
            assert_eq!(
                (status, &body),
                (StatusCode::NOT_FOUND, &unknown_body),
                "{path} {bad}"
            );
        }
    }
    // The other surfaces answer in their own shapes; a malformed id gets the unknown one's.
    let surfaces = [
        ("GET", "/serve/v1/assets/{}"),
        ("DELETE", "/serve/v1/assets/{}"),
        ("GET", "/serve/v1/assets/render/{}"),
        ("GET", "/videojungle/projects/{}"),
        ("DELETE", "/videojungle/projects/{}"),
        ("GET", "/videojungle/assets/{}"),
        ("DELETE", "/videojungle/assets/{}"),
        ("GET", "/videojungle/scripts/{}/{}"),
        ("DELETE", "/videojungle/scripts/{}/{}"),
    ];
    for (method, path) in surfaces {
        let (status, unknown_body) = server
            .call(method, &path.replace("{}", unknown_uuid), &admin, None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        let (status, body) = server
            .call(method, &path.replace("{}", "nope"), &admin, None)
            .await;
        assert_eq!(
            (status, &body),
            (StatusCode::NOT_FOUND, &unknown_body),
            "{path}"
        );
    }
}

/// A rotated endpoint secret: the new one is shown once, and for the overlap deliveries carry
/// signatures by both, so a receiver that still knows only the old one keeps verifying them,
/// and one that switched already does too; a secret that is neither verifies nothing.
#[tokio::test]
async fn a_rotated_endpoint_secret_signs_beside_the_old_one() {
    let (server, _config) = super::start().await;
    let manager = server.key("acme", "manager");
    let receiver = super::Receiver::start().await;
    let endpoint = super::register(&server, &manager, &receiver, json!([])).await;
    let old = receiver.secret.lock().unwrap().clone();
    let id = endpoint["id"].as_str().unwrap();
    server
        .upload(&manager, "", "a.txt", "text/plain", b"a")
        .await;
    assert!(receiver.wait_for(1).await[0].signature_ok);

    let (status, rotated) = server
        .call("POST", &format!("/v2/webhooks/{id}/secret"), &manager, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = rotated["endpoint"]["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_") && new != old);
    let (_, shown) = server
        .call("GET", &format!("/v2/webhooks/{id}"), &manager, None)
        .await;
    assert!(
        shown["endpoint"]["secret"].is_null(),
        "the secret is shown once"
    );

    // Still configured with the old secret: verifies.
    server
        .upload(&manager, "", "b.txt", "text/plain", b"b")
        .await;
    assert!(receiver.wait_for(2).await[1].signature_ok);
    // Switched to the new one: verifies.
    *receiver.secret.lock().unwrap() = new;
    server
        .upload(&manager, "", "c.txt", "text/plain", b"c")
        .await;
    assert!(receiver.wait_for(3).await[2].signature_ok);
    // Neither: does not.
    *receiver.secret.lock().unwrap() = "whsec_bm90IHRoZSBzZWNyZXQ=".into();
    server
        .upload(&manager, "", "d.txt", "text/plain", b"d")
        .await;
    assert!(!receiver.wait_for(4).await[3].signature_ok);

    // The callback secret rotates the same way.
    let (_, before) = server
        .call("GET", "/v2/webhooks/callback-secret", &manager, None)
        .await;
    let (status, after) = server
        .call("POST", "/v2/webhooks/callback-secret", &manager, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(before["secret"], after["secret"]);
    let (_, now) = server
        .call("GET", "/v2/webhooks/callback-secret", &manager, None)
        .await;
    assert_eq!(now["secret"], after["secret"]);
}
