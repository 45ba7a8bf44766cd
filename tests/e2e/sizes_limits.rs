//! The documented limits at their edges: 500 MB per upload (a presigned PUT's grant, a render
//! output, a Video Jungle form) and 2 MiB per JSON body, each exactly at the limit accepted and one
//! byte over refused with the seed's message in the surface's shape, leaving nothing counted.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    harness::{message, Server},
    sizes::{assert_nothing_staged, poll, usage, vj_asset},
};

/// Seed 002: "Files larger than 500 MB are rejected"; 500 MiB, as the server counts it.
const MAX_UPLOAD: u64 = 500 * 1024 * 1024;
const TOO_LARGE: &str = "File exceeds maximum size of 500 MB";
/// Room a Video Jungle form may take besides its file.
const FORM_ALLOWANCE: u64 = 64 * 1024;
/// axum's limit on a buffered body, which every JSON body is.
const JSON_LIMIT: usize = 2 * 1024 * 1024;
const JSON_TOO_LARGE: &str = "Request body is too large: JSON bodies hold at most 2 MiB";
/// Seconds an upload body may send nothing in these tests.
const IDLE_SECS: u64 = 4;

/// A request on a connection of its own: its head (the request line and headers, `Host` and
/// `Content-Length` added here), then `body`, which may be less than `length` promises.
struct Raw {
    conn: TcpStream,
}

impl Raw {
    async fn send(server: &Server, head: &str, length: u64, body: &[u8]) -> Self {
        let host = server.base.trim_start_matches("http://");
        let mut conn = TcpStream::connect(host).await.unwrap();
        let head = format!(
            "{}\r\nHost: {host}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n",
            head.trim_end()
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(body).await.unwrap();
        Self { conn }
    }

    /// The answer's status and JSON body.
    async fn answer(mut self) -> (u16, Value) {
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(30), async {
            let mut buf = [0u8; 8192];
            loop {
                let n = self.conn.read(&mut buf).await.unwrap_or(0);
                got.extend_from_slice(&buf[..n]);
                if n == 0 || complete(&got) {
                    break;
                }
            }
        });
        read.await.expect("no answer within 30 s");
        let text = String::from_utf8_lossy(&got);
        let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, serde_json::from_str(body).unwrap_or(json!(body)))
    }
}

/// Whether `got` holds an answer's head and all of the body its `Content-Length` names.
fn complete(got: &[u8]) -> bool {
    let text = String::from_utf8_lossy(got);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .is_some_and(|len| body.len() >= len)
}

async fn server_with_idle_timeout() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("limits.toml");
    std::fs::write(
        &config,
        format!("[limits]\nbody_idle_timeout_secs = {IDLE_SECS}\n"),
    )
    .unwrap();
    let server = Server::start_with(&["--config", config.to_str().unwrap()]).await;
    (server, dir)
}

#[tokio::test]
async fn a_presigned_put_is_granted_for_exactly_500_mb_and_not_a_byte_more() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let ask = |size: u64| json!({"name": format!("edge-{size}.bin"), "contentType": "application/octet-stream", "size": size, "folder": "edge"});
    let (status, grant) = server
        .call("POST", "/v2/media/file", &key, Some(ask(MAX_UPLOAD)))
        .await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    // The file waits for its 500 MB, reserved against the quota.
    let path = "/v2/media/file?path=edge/edge-524288000.bin";
    let (_, pending) = server.call("GET", path, &key, None).await;
    assert_eq!(
        (&pending["file"]["status"], &pending["file"]["size"]),
        (&json!("pending"), &json!(MAX_UPLOAD)),
        "{pending}"
    );
    assert_eq!(usage(&server, "acme"), (0, MAX_UPLOAD));
    let (status, refused) = server
        .call("POST", "/v2/media/file", &key, Some(ask(MAX_UPLOAD + 1)))
        .await;
    assert_eq!((status.as_u16(), message(&refused)), (413, TOO_LARGE));
    assert_eq!(refused["success"], false);
    assert_eq!(usage(&server, "acme"), (0, MAX_UPLOAD));
}

#[tokio::test]
async fn a_render_output_of_500_mb_is_read_and_one_byte_more_is_refused_unread() {
    let (server, _config) = server_with_idle_timeout().await;
    let key = server.key("acme", "editor");
    let (status, render) = server
        .call(
            "POST",
            "/v2/renders",
            &key,
            Some(json!({"outputs": [{"type": "video"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{render}");
    let upload = render["outputs"][0]["upload_url"].as_str().unwrap();
    let path = upload.strip_prefix(&server.base).unwrap();
    let head = format!("PUT {path} HTTP/1.1\r\nx-api-key: {key}");
    // One byte over: refused before a byte of it is read.
    let (status, body) = Raw::send(&server, &head, MAX_UPLOAD + 1, &[])
        .await
        .answer()
        .await;
    assert_eq!((status, message(&body)), (413, TOO_LARGE), "{body}");
    // Exactly the limit: the body is read, here until the client falls silent.
    let raw = Raw::send(&server, &head, MAX_UPLOAD, &[7; 1 << 20]).await;
    let (status, body) = raw.answer().await;
    assert_eq!(
        (status, message(&body)),
        (
            408,
            format!("Upload sent no bytes for {IDLE_SECS} seconds").as_str()
        ),
        "{body}"
    );
    // The output still waits for its bytes, and nothing was kept.
    let id = render["id"].as_str().unwrap();
    let (_, render) = server
        .call("GET", &format!("/v2/renders/{id}"), &key, None)
        .await;
    assert_eq!(render["outputs"][0]["status"], "waiting", "{render}");
    assert_nothing_staged(&server).await;
    assert_eq!(usage(&server, "acme"), (0, 0));
}

#[tokio::test]
async fn a_video_jungle_form_for_500_mb_is_reserved_and_read_and_one_byte_more_is_refused() {
    let (server, _config) = server_with_idle_timeout().await;
    let key = server.key("acme", "editor");
    let path = vj_asset(&server, &key, "edge").await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nx-api-key: {key}\r\nContent-Type: multipart/form-data; boundary=EDGE"
    );
    let largest = MAX_UPLOAD + FORM_ALLOWANCE;
    // One byte over what a file of the limit takes in its form: refused unread, in FastAPI's shape.
    let (status, body) = Raw::send(&server, &head, largest + 1, &[])
        .await
        .answer()
        .await;
    assert_eq!((status, body), (413, json!({"detail": TOO_LARGE})));
    assert_eq!(usage(&server, "acme"), (0, 0));
    // Exactly that much: the least the file can be (500 MB) is reserved, and the form is read.
    let mut start =
        b"--EDGE\r\nContent-Disposition: form-data; name=\"file\"; filename=\"edge\"\r\n\
        Content-Type: application/octet-stream\r\n\r\n"
            .to_vec();
    start.extend_from_slice(&[7; 1 << 20]);
    let raw = Raw::send(&server, &head, largest, &start).await;
    poll(
        Duration::from_secs(IDLE_SECS - 1),
        "the reservation",
        || async { (usage(&server, "acme") == (0, MAX_UPLOAD)).then_some(()) },
    )
    .await;
    let (status, body) = raw.answer().await;
    assert_eq!(
        (status, body),
        (
            408,
            json!({"detail": format!("Upload sent no bytes for {IDLE_SECS} seconds")})
        )
    );
    // Nothing stays counted, nor staged, and the asset still waits for its bytes.
    assert_eq!(usage(&server, "acme"), (0, 0));
    assert_nothing_staged(&server).await;
    let asset = path.split('/').nth(3).unwrap();
    let (_, check) = server
        .call(
            "GET",
            &format!("/videojungle/assets/check/{asset}"),
            &key,
            None,
        )
        .await;
    assert_eq!(check, json!({"uploaded": false}));
}

#[tokio::test]
async fn a_video_jungle_client_without_room_is_refused_before_sending_and_one_gone_frees_its_room()
{
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    server.cli_ok(&["client", "set", "--client", "acme", "--quota", "50000000"]);
    let path = vj_asset(&server, &key, "too big").await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nx-api-key: {key}\r\nContent-Type: multipart/form-data; boundary=Q"
    );
    let (status, body) = Raw::send(&server, &head, 100_000_000, &[])
        .await
        .answer()
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"detail": "Storage is blocked. Add credits to continue uploading."})
        )
    );
    assert_eq!(usage(&server, "acme"), (0, 0));
    // A form that fits holds its room while it streams, and frees it as soon as its client goes:
    // well before the sweeper would (its hold lasts 30 s).
    let mut start =
        b"--Q\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n".to_vec();
    start.extend_from_slice(&[7; 1 << 20]);
    let raw = Raw::send(&server, &head, 40_000_000, &start).await;
    poll(Duration::from_secs(10), "the reservation", || async {
        (usage(&server, "acme") == (0, 40_000_000 - FORM_ALLOWANCE)).then_some(())
    })
    .await;
    drop(raw);
    poll(Duration::from_secs(10), "the reservation freed", || async {
        (usage(&server, "acme") == (0, 0)).then_some(())
    })
    .await;
    assert_nothing_staged(&server).await;
}

/// A JSON object of exactly `len` bytes: `fields` and a padding field.
fn json_of_len(fields: &str, len: usize) -> String {
    let frame = format!("{{{fields},\"pad\":\"\"}}");
    let body = format!("{{{fields},\"pad\":\"{}\"}}", "x".repeat(len - frame.len()));
    assert_eq!(body.len(), len);
    body
}

async fn post_json(server: &Server, path: &str, key: &str, body: String) -> (StatusCode, Value) {
    let resp = server
        .http
        .post(server.url(path))
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    crate::harness::json_of(resp).await
}

#[tokio::test]
async fn a_json_body_of_exactly_2_mib_is_read_and_one_byte_more_is_refused() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    // The v2 surface: the folder of a body at the limit is made.
    let folder = |name: &str, len| json_of_len(&format!("\"folder\":\"{name}\""), len);
    let (status, body) = post_json(
        &server,
        "/v2/media/folder",
        &key,
        folder("at-limit", JSON_LIMIT),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post_json(
        &server,
        "/v2/media/folder",
        &key,
        folder("over-limit", JSON_LIMIT + 1),
    )
    .await;
    assert_eq!((status.as_u16(), message(&body)), (413, JSON_TOO_LARGE));
    assert_eq!(body["success"], false);
    let (_, listing) = server.call("GET", "/v2/media", &key, None).await;
    let folders: Vec<_> = listing["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(folders.contains(&"at-limit".to_string()), "{listing}");
    assert!(!folders.contains(&"over-limit".to_string()), "{listing}");
    // The Video Jungle surface, in its own shape.
    let project = |len| json_of_len("\"name\":\"edge\",\"description\":\"d\"", len);
    let (status, body) =
        post_json(&server, "/videojungle/projects", &key, project(JSON_LIMIT)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "edge");
    let (status, body) = post_json(
        &server,
        "/videojungle/projects",
        &key,
        project(JSON_LIMIT + 1),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body),
        (413, json!({"detail": JSON_TOO_LARGE}))
    );
}
