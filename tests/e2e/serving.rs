//! Stable URLs: Range, conditional requests, headers, downloads.

use reqwest::{header, StatusCode};

use crate::harness::{bytes, Server};

async fn one_file() -> (Server, String, Vec<u8>) {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let data = bytes(9, 10_000);
    let url = server
        .upload(&key, "media/img", "logo.png", "image/png", &data)
        .await;
    (server, url, data)
}

#[tokio::test]
async fn get_and_head_carry_cdn_headers() {
    let (server, url, data) = one_file().await;
    let resp = server.get(&url).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "image/png");
    assert_eq!(h[header::CONTENT_LENGTH], "10000");
    assert_eq!(h[header::ACCEPT_RANGES], "bytes");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h[header::CONTENT_SECURITY_POLICY], "sandbox");
    assert!(h[header::ETAG].to_str().unwrap().starts_with('"'));
    assert!(h.contains_key(header::LAST_MODIFIED));
    assert!(!h.contains_key(header::CONTENT_DISPOSITION));
    assert_eq!(resp.bytes().await.unwrap().to_vec(), data);
    let head = server.http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[header::CONTENT_LENGTH], "10000");
    assert_eq!(head.headers()[header::ETAG], h[header::ETAG]);
    let download = server.get(&format!("{url}?download=1")).await;
    assert_eq!(
        download.headers()[header::CONTENT_DISPOSITION],
        "attachment; filename=\"logo.png\""
    );
    // Only the exact stored path resolves.
    for wrong in [
        "/acme/files/media/img/logo%20.png",
        "/acme/files/media/img/LOGO.png",
        "/acme/files/logo.png",
        "/other/files/media/img/logo.png",
        "/v2/files/x",
    ] {
        assert_eq!(
            server.get(&server.url(wrong)).await.status(),
            StatusCode::NOT_FOUND,
            "{wrong}"
        );
    }
}

#[tokio::test]
async fn single_ranges() {
    let (server, url, data) = one_file().await;
    let range = |r: &'static str| server.http.get(&url).header(header::RANGE, r).send();
    let resp = range("bytes=100-199").await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()[header::CONTENT_RANGE], "bytes 100-199/10000");
    assert_eq!(resp.headers()[header::CONTENT_LENGTH], "100");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), data[100..200]);
    let resp = range("bytes=-10").await.unwrap();
    assert_eq!(
        resp.headers()[header::CONTENT_RANGE],
        "bytes 9990-9999/10000"
    );
    assert_eq!(resp.bytes().await.unwrap().to_vec(), data[9990..]);
    let resp = range("bytes=9000-").await.unwrap();
    assert_eq!(resp.bytes().await.unwrap().len(), 1000);
    let resp = range("bytes=10000-").await.unwrap();
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(resp.headers()[header::CONTENT_RANGE], "bytes */10000");
    let resp = range("bytes=0-1,5-6").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().len(), 10_000);
    // If-Range with a stale validator gets the whole file.
    let resp = server
        .http
        .get(&url)
        .header(header::RANGE, "bytes=0-9")
        .header(header::IF_RANGE, "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn conditional_requests() {
    let (server, url, _) = one_file().await;
    let first = server.get(&url).await;
    let etag = first.headers()[header::ETAG].to_str().unwrap().to_string();
    let modified = first.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_string();
    let with = |name: header::HeaderName, value: &str| {
        server.http.get(&url).header(name, value.to_string()).send()
    };
    let resp = with(header::IF_NONE_MATCH, &etag).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(resp.headers()[header::ETAG].to_str().unwrap(), etag);
    assert!(resp.bytes().await.unwrap().is_empty());
    assert_eq!(
        with(header::IF_NONE_MATCH, "\"other\"")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        with(header::IF_MODIFIED_SINCE, &modified)
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        with(header::IF_MODIFIED_SINCE, "Mon, 01 Jan 2001 00:00:00 GMT")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        with(header::IF_MATCH, "\"other\"").await.unwrap().status(),
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        with(header::IF_MATCH, &etag).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        with(header::IF_UNMODIFIED_SINCE, "Mon, 01 Jan 2001 00:00:00 GMT")
            .await
            .unwrap()
            .status(),
        StatusCode::PRECONDITION_FAILED
    );
}

#[tokio::test]
async fn large_files_stream_with_ranges() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let data = bytes(4, 3 * 1024 * 1024 + 17);
    let url = server
        .upload(&key, "", "big.bin", "application/octet-stream", &data)
        .await;
    let whole = server.get(&url).await;
    assert_eq!(
        whole.headers()[header::CONTENT_LENGTH],
        data.len().to_string()
    );
    assert_eq!(whole.bytes().await.unwrap().to_vec(), data);
    let resp = server
        .http
        .get(&url)
        .header(header::RANGE, "bytes=1048570-2097160")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        resp.bytes().await.unwrap().to_vec(),
        data[1048570..=2097160]
    );
}

#[tokio::test]
async fn openapi_document_describes_every_endpoint() {
    let server = Server::start().await;
    let doc = server.openapi().await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/v2/media", &["get"][..]),
        ("/v2/media/file", &["get", "post", "put", "delete"][..]),
        ("/v2/media/folder", &["get", "post", "put", "delete"][..]),
        ("/upload/{id}", &["put"][..]),
        ("/{client_id}/files/{path}", &["get"][..]),
        ("/healthz", &["get"][..]),
    ] {
        for method in methods {
            assert!(paths[path].get(*method).is_some(), "{method} {path}");
        }
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    let health: serde_json::Value = server
        .get(&server.url("/healthz"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}

/// Media is served from the object store by redirect, with the headers mediadrive would send
/// bound into the signature; what a browser could run (HTML) stays proxied, with `nosniff` and
/// the sandbox, which an object store cannot send.
#[tokio::test]
async fn object_storage_can_serve_by_redirect() {
    let server = Server::start_with(&["--blob-serving", "redirect"]).await;
    let key = server.key("acme", "render");
    let data = bytes(5, 2048);
    let url = server.upload(&key, "", "r.mp4", "video/mp4", &data).await;
    let page = b"<html><script>alert(document.domain)</script></html>";
    let html = server.upload(&key, "", "p.html", "text/html", page).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirects.get(&url).send().await.unwrap();
    if server.direct_uploads() {
        assert_eq!(resp.status(), StatusCode::FOUND);
        let location = resp.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_string();
        assert!(location.contains("X-Amz-Signature"), "{location}");
        assert!(
            location.contains("response-content-type=video/mp4"),
            "{location}"
        );
        let fetched = no_redirects.get(&location).send().await.unwrap();
        assert_eq!(fetched.headers()[header::CONTENT_TYPE], "video/mp4");
        assert_eq!(
            fetched.headers()[header::CONTENT_DISPOSITION],
            "inline; filename=\"r.mp4\""
        );
        assert_eq!(fetched.bytes().await.unwrap().to_vec(), data);
        // Downloads stay with mediadrive, which names the attachment.
        let download = no_redirects
            .get(format!("{url}?download=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(download.status(), StatusCode::OK);
        assert_eq!(download.bytes().await.unwrap().to_vec(), data);
    } else {
        // The filesystem has nothing to redirect to: mediadrive serves the bytes itself.
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.bytes().await.unwrap().to_vec(), data);
    }
    let page_resp = no_redirects.get(&html).send().await.unwrap();
    assert_eq!(
        page_resp.status(),
        StatusCode::OK,
        "HTML is never redirected"
    );
    assert_eq!(
        page_resp.headers()[header::CONTENT_SECURITY_POLICY],
        "sandbox"
    );
    assert_eq!(
        page_resp.headers()[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff"
    );
    assert_eq!(page_resp.bytes().await.unwrap().to_vec(), page);
}
