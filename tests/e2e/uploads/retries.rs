//! Refused and broken uploads (seed 002): forged, expired and wrong-sized signed PUTs keep
//! nothing, and a client gone mid-body may send again at once.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{bytes, message, Server};

fn tamper(url: &str, param: &str, value: &str) -> String {
    let mut parsed = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            (
                k.to_string(),
                if k == param {
                    value.to_string()
                } else {
                    v.to_string()
                },
            )
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

/// The file id an upload URL names: its last path segment.
fn upload_id(url: &str) -> String {
    url.split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn tampered_upload_urls_are_refused() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let ct = "application/octet-stream";
    let ticket = server.request_upload(&key, "", "a.bin", ct, 4).await;
    let url = ticket["uploadUrl"].as_str().unwrap();
    let other = server.request_upload(&key, "", "b.bin", ct, 4).await;
    let (id, other_id) = (
        upload_id(url),
        upload_id(other["uploadUrl"].as_str().unwrap()),
    );
    // mediadrive signs its own URLs; object storage signs the direct ones (and words its refusals).
    let forged = if server.direct_uploads() {
        vec![
            (tamper(url, "X-Amz-Signature", &"0".repeat(64)), 4),
            (tamper(url, "X-Amz-Expires", "86400"), 4),
            (url.replace(&id, &other_id), 4),
        ]
    } else {
        vec![
            (tamper(url, "size", "5"), 5),
            (tamper(url, "contentType", "video/mp4"), 4),
            (tamper(url, "expires", "4102444800"), 4),
            (tamper(url, "signature", &"0".repeat(64)), 4),
            (url.replace(&id, &other_id), 4),
        ]
    };
    for (forged, len) in forged {
        let sent_type = if forged.contains("video%2Fmp4") {
            "video/mp4"
        } else {
            ct
        };
        let (status, body) = server.put(&forged, sent_type, vec![1; len]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{forged}: {body}");
        if !server.direct_uploads() {
            assert_eq!(message(&body), "Signature does not match");
        }
    }
    let (status, body) = server.put(url, "video/mp4", vec![1; 4]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    if !server.direct_uploads() {
        assert_eq!(
            message(&body),
            "Content-Type does not match the signed upload"
        );
    }
    // Nothing of the refused attempts is visible, and the genuine URL works once.
    let (_, file) = server
        .call("GET", "/v2/media/file?path=a.bin", &key, None)
        .await;
    assert_eq!(file["file"]["status"], "pending");
    assert_eq!(server.staging_files().await, 0);
    let (status, _) = server.put(url, ct, vec![1; 4]).await;
    assert_eq!(status, StatusCode::OK);
    let file_url = ticket["fileUrl"].as_str().unwrap();
    server.wait_uploaded(&key, file_url).await;
    let (status, body) = server.put(url, ct, vec![2; 4]).await;
    if server.direct_uploads() {
        // Object storage takes the bytes again; the server drops them, the file keeps its own.
        assert_eq!(status, StatusCode::OK);
        assert!(
            server.let_reconciler_run().await,
            "the bytes were not dropped"
        );
        assert_eq!(server.staging_files().await, 0);
    } else {
        assert_eq!(
            (status.as_u16(), message(&body)),
            (409, "Upload already completed")
        );
    }
    assert_eq!(
        server.get(file_url).await.bytes().await.unwrap().to_vec(),
        vec![1; 4]
    );
}

/// The last second an upload URL is valid in: its `expires`, or for object storage the time it
/// was signed plus `X-Amz-Expires`.
fn expiry(url: &str) -> chrono::DateTime<chrono::Utc> {
    let parsed = reqwest::Url::parse(url).unwrap();
    let param = |name: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string())
    };
    match param("expires") {
        Some(at) => chrono::DateTime::from_timestamp(at.parse().unwrap(), 0).unwrap(),
        None => {
            let signed = param("X-Amz-Date").expect("a signed upload URL");
            let signed = chrono::NaiveDateTime::parse_from_str(&signed, "%Y%m%dT%H%M%SZ")
                .unwrap()
                .and_utc();
            signed + chrono::Duration::seconds(param("X-Amz-Expires").unwrap().parse().unwrap())
        }
    }
}

#[tokio::test]
async fn expired_upload_urls_are_refused() {
    let server = Server::start_with(&["--upload-url-ttl-secs", "1"]).await;
    let key = server.key("acme", "render");
    let ticket = server
        .request_upload(&key, "", "late.bin", "application/octet-stream", 3)
        .await;
    assert_eq!(ticket["expiresIn"], 1);
    // Time passing is what is under test: the URL is sent once the second it names has passed.
    let lapsed = expiry(ticket["uploadUrl"].as_str().unwrap()) + chrono::Duration::seconds(1);
    tokio::time::sleep((lapsed - chrono::Utc::now()).to_std().unwrap_or_default()).await;
    let (status, body) = server
        .put(
            ticket["uploadUrl"].as_str().unwrap(),
            "application/octet-stream",
            vec![0; 3],
        )
        .await;
    if server.direct_uploads() {
        // Object storage words (and numbers) its own refusal: Garage answers 400, AWS 403.
        assert!(status.is_client_error(), "{status} {body}");
    } else {
        assert_eq!(
            (status.as_u16(), message(&body)),
            (403, "Upload URL has expired")
        );
    }
    // A lapsed pending upload no longer holds its name.
    server
        .request_upload(&key, "", "late.bin", "application/octet-stream", 3)
        .await;
}

#[tokio::test]
async fn wrong_sizes_keep_nothing_and_can_be_retried() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let ticket = server
        .request_upload(&key, "docs", "a.txt", "text/plain", 1000)
        .await;
    let url = ticket["uploadUrl"].as_str().unwrap();
    let file_url = ticket["fileUrl"].as_str().unwrap();
    for len in [999, 1001, 10_000] {
        let (status, body) = server.put(url, "text/plain", bytes(2, len)).await;
        if server.direct_uploads() {
            // Object storage takes any length; the server refuses it once it arrives.
            assert_eq!(status, StatusCode::OK, "{len}: {body}");
            assert!(
                server.let_reconciler_run().await,
                "{len} bytes were not dropped"
            );
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{len}: {body}");
            assert_eq!(
                message(&body),
                "Uploaded size does not match the declared size"
            );
        }
    }
    if !server.direct_uploads() {
        // A chunked body with no Content-Length is counted as it streams.
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            vec![Ok(bytes(2, 600)), Ok(bytes(2, 600))];
        let resp = server
            .http
            .put(url)
            .header("content-type", "text/plain")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    }
    assert_eq!(server.staging_files().await, 0);
    assert!(server.blob_files().await.is_empty());
    let (_, file) = server
        .call("GET", "/v2/media/file?path=docs/a.txt", &key, None)
        .await;
    assert_eq!(file["file"]["status"], "pending");
    assert_eq!(server.get(file_url).await.status(), StatusCode::NOT_FOUND);
    let (status, _) = server.put(url, "text/plain", bytes(2, 1000)).await;
    assert_eq!(status, StatusCode::OK);
    server.wait_uploaded(&key, file_url).await;
    assert_eq!(server.blob_files().await.len(), 1);
}

/// A body that streams through the node, sent to `path` (the request target) with `headers`;
/// once it is stored, its bytes are served at `served`, or at the URL its answer names.
struct Target {
    path: String,
    headers: String,
    served: Option<String>,
}

/// On each path whose body streams through the node (the signed PUT where the node stores the
/// bytes itself, a render output's PUT on every store), a client gone mid-body leaves no claim
/// behind: its retry is not told the upload is in progress for the claim's hour.
#[tokio::test]
async fn a_client_gone_mid_upload_can_retry_at_once() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let work = tempfile::tempdir().unwrap();
    let video = crate::harness::ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ],
        &work.path().join("out.mp4"),
    );
    let mut targets = Vec::new();
    if !server.direct_uploads() {
        let ticket = server
            .request_upload(&key, "docs", "a.bin", "video/mp4", video.len())
            .await;
        let url = ticket["uploadUrl"].as_str().unwrap();
        targets.push(Target {
            path: url.strip_prefix(&server.base).unwrap().to_string(),
            headers: "Content-Type: video/mp4".into(),
            served: Some(ticket["fileUrl"].as_str().unwrap().to_string()),
        });
    }
    let (status, render) = server
        .call(
            "POST",
            "/v2/renders",
            &key,
            Some(json!({"outputs": [{"type": "video"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{render}");
    let url = render["outputs"][0]["upload_url"].as_str().unwrap();
    targets.push(Target {
        path: url.strip_prefix(&server.base).unwrap().to_string(),
        headers: format!("X-Api-Key: {key}"),
        served: None,
    });
    for target in targets {
        let path = &target.path;
        server
            .cut_off(
                &format!(
                    "PUT {path} HTTP/1.1\r\n{}\r\nContent-Length: {}",
                    target.headers,
                    video.len()
                ),
                &video[..video.len() / 2],
            )
            .await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let answer = loop {
            let resp = server
                .http
                .put(server.url(path))
                .header("content-type", "video/mp4")
                .header("x-api-key", &key)
                .body(video.clone())
                .send()
                .await
                .unwrap();
            let (status, body) = crate::harness::json_of(resp).await;
            if status == StatusCode::OK {
                break body;
            }
            assert_eq!(status, StatusCode::CONFLICT, "{path}: {body}");
            assert!(std::time::Instant::now() < deadline, "{path}: {body}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(server.staging_files().await, 0, "{path}");
        let served = target
            .served
            .unwrap_or_else(|| answer["url"].as_str().unwrap().to_string());
        let served = server.get(&served).await;
        assert_eq!(served.status(), StatusCode::OK, "{path}");
        assert_eq!(served.bytes().await.unwrap().as_ref(), video.as_slice());
    }
}
