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
