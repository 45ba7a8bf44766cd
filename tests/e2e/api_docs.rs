//! The API reference (issue 10): the OpenAPI document is browsable at `/docs`, from files built
//! into the binary, so a machine without network access can read it.

use reqwest::StatusCode;

use crate::harness::Server;

#[tokio::test]
async fn the_api_reference_is_browsable_offline() {
    let server = Server::start().await;
    let page = server.get(&server.url("/docs/")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Every script and style comes from the server itself.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-initializer.js",
    ] {
        let resp = server.get(&server.url(&format!("/docs/{asset}"))).await;
        assert_eq!(resp.status(), StatusCode::OK, "{asset}");
        let body = resp.text().await.unwrap();
        assert!(!body.is_empty(), "{asset}");
        if asset == "swagger-initializer.js" {
            assert!(body.contains("\"url\": \"/openapi.json\""), "{body}");
        }
    }
    let doc = server.openapi().await;
    assert_eq!(doc["info"]["title"], "mediadrive");
    assert!(doc["paths"]["/v2/media/file"]["post"].is_object());
}

/// Swagger UI runs under a Content-Security-Policy that lets it load its own files and ask this
/// server only; rendered by a real Chromium under that policy, it still lists the operations.
#[tokio::test]
async fn the_api_reference_renders_under_its_content_security_policy() {
    let server = Server::start().await;
    let page = server.get(&server.url("/docs/")).await;
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe-eval"), "{policy}");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let profile = tempfile::tempdir().unwrap();
    let dom = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--virtual-time-budget=8000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(server.url("/docs/"))
        .output()
        .expect("the tests need chromium");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("opblock") && dom.contains("/v2/media/file"),
        "Swagger UI did not render its operations under the policy: {}",
        &dom[..dom.len().min(2000)]
    );
}
