//! The paths whose bodies stream through the node: an upload opened on each, its body sent as the
//! test hands it over, and what must (not) be visible of it afterwards.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::{assert_no_file, cell, Failure, Path};
use crate::{
    harness::{json_of, Answer, Chunks, Server},
    sizes::vj_asset,
};

/// The multipart boundary of the forms sent by hand.
const BOUNDARY: &str = "MATRIX";

/// An upload opened on a streaming path, waiting for its body.
pub struct Opened {
    pub path: Path,
    pub key: String,
    /// Where the body goes, relative to the server's base.
    pub target: String,
    /// Bytes the body starts and ends with around the file (a form's framing).
    pub prefix: Vec<u8>,
    pub suffix: Vec<u8>,
    /// What must not become visible.
    pub leftover: Leftover,
}

pub enum Leftover {
    /// A drive file (relative path in the drive), pending or absent.
    File(String),
    /// A Video Jungle asset that must still wait for its bytes.
    Asset(String),
    /// A render's output that must still wait for its bytes.
    Output { render: String },
}

/// Opens an upload of a `size`-byte file on `path` for the path's tenant.
pub async fn open(server: &Server, key: &str, path: Path, name: &str, size: usize) -> Opened {
    let ct = "application/octet-stream";
    let (target, prefix, suffix, leftover) = match path {
        Path::SignedPut | Path::DirectS3 => {
            let ticket = server.request_upload(key, "", name, ct, size).await;
            let url = ticket["uploadUrl"].as_str().unwrap();
            (
                url.strip_prefix(&server.base).unwrap_or(url).to_string(),
                vec![],
                vec![],
                Leftover::File(name.into()),
            )
        }
        Path::Tus => {
            let created = server
                .tus_create(key, &[("filename", name), ("filetype", ct)], size as u64)
                .await;
            assert_eq!(created.status(), StatusCode::CREATED, "{path:?}");
            let location = created.headers()["location"].to_str().unwrap();
            (
                location.strip_prefix(&server.base).unwrap().to_string(),
                vec![],
                vec![],
                Leftover::File(name.into()),
            )
        }
        Path::VideoJungle => {
            let target = vj_asset(server, key, name).await;
            let asset = target.split('/').nth(3).unwrap().to_string();
            let prefix = format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            );
            let suffix = format!("\r\n--{BOUNDARY}--\r\n");
            (
                target,
                prefix.into_bytes(),
                suffix.into_bytes(),
                Leftover::Asset(asset),
            )
        }
        Path::RenderUpload => {
            let (status, render) = server
                .call(
                    "POST",
                    "/v2/renders",
                    key,
                    Some(json!({"outputs": [{"type": "video"}]})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{render}");
            let url = render["outputs"][0]["upload_url"].as_str().unwrap();
            (
                url.strip_prefix(&server.base).unwrap().to_string(),
                vec![],
                vec![],
                Leftover::Output {
                    render: render["id"].as_str().unwrap().into(),
                },
            )
        }
        Path::SrcPreload | Path::RenderSrc => unreachable!("{path:?} has no body"),
    };
    Opened {
        path,
        key: key.to_string(),
        target,
        prefix,
        suffix,
        leftover,
    }
}

impl Opened {
    /// The request that sends this upload's body to `base`.
    pub fn request(&self, server: &Server, base: &str) -> RequestBuilder {
        let url = format!("{base}{}", self.target);
        match self.path {
            Path::SignedPut | Path::DirectS3 => server
                .http
                .put(url)
                .header("content-type", "application/octet-stream"),
            Path::Tus => server
                .http
                .patch(url)
                .header("x-api-key", &self.key)
                .header("tus-resumable", "1.0.0")
                .header("content-type", "application/offset+octet-stream")
                .header("upload-offset", "0"),
            Path::VideoJungle => server.http.post(url).header("x-api-key", &self.key).header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            ),
            Path::RenderUpload => server.http.put(url).header("x-api-key", &self.key),
            Path::SrcPreload | Path::RenderSrc => unreachable!(),
        }
    }

    /// Length of the whole body for a file of `size` bytes.
    pub fn body_len(&self, size: usize) -> usize {
        self.prefix.len() + size + self.suffix.len()
    }

    /// Starts sending a body of `len` bytes (framing included) in the chunks the test hands over.
    pub fn stream(&self, server: &Server, len: usize) -> (Chunks, Answer) {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let chunks =
            futures_util::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|c| (c, rx)) });
        let request = self
            .request(server, &server.base)
            .header("content-length", len.to_string())
            .body(reqwest::Body::wrap_stream(chunks))
            .send();
        (tx, tokio::spawn(request))
    }

    /// Checks that nothing of the upload shows on `server`: no drive file with bytes, the asset
    /// or output still waiting.
    pub async fn assert_nothing_visible(&self, server: &Server, failure: Failure) {
        let name = cell(self.path, failure);
        match &self.leftover {
            Leftover::File(file) => {
                assert_no_file(server, &self.key, self.path, failure, file).await
            }
            Leftover::Asset(asset) => {
                let (status, check) = server
                    .call(
                        "GET",
                        &format!("/videojungle/assets/check/{asset}"),
                        &self.key,
                        None,
                    )
                    .await;
                assert_eq!(
                    (status, check),
                    (StatusCode::OK, json!({"uploaded": false})),
                    "{name}"
                );
            }
            Leftover::Output { render } => {
                let (status, body) = server
                    .call("GET", &format!("/v2/renders/{render}"), &self.key, None)
                    .await;
                assert_eq!(status, StatusCode::OK, "{name}: {body}");
                let output = &body["outputs"][0];
                assert_eq!(output["status"], "waiting", "{name}: {output}");
                assert!(output["url"].is_null(), "{name}: {output}");
            }
        }
    }
}

/// The status and JSON body of an answer that must come within `within`.
pub async fn answered(
    answer: Answer,
    within: Duration,
    name: &str,
) -> (StatusCode, Value, Option<String>) {
    let resp = tokio::time::timeout(within, answer)
        .await
        .unwrap_or_else(|_| panic!("{name}: no answer within {within:?}"))
        .unwrap()
        .unwrap_or_else(|e| panic!("{name}: the connection closed unanswered: {e}"));
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let (status, body) = json_of(resp).await;
    (status, body, retry)
}

/// Sends a request head promising `length` body bytes and none of them, on a connection of its
/// own; the answer's status and JSON body. For limits the node must apply before reading.
pub async fn refused_unread(server: &Server, head: &str, length: u64) -> (u16, Value) {
    let host = server.base.trim_start_matches("http://");
    let mut conn = TcpStream::connect(host).await.unwrap();
    let head = format!(
        "{}\r\nHost: {host}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n",
        head.trim_end()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = [0u8; 8192];
        loop {
            let n = conn.read(&mut buf).await.unwrap_or(0);
            got.extend_from_slice(&buf[..n]);
            if n == 0 || complete(&got) {
                break;
            }
        }
    });
    read.await
        .expect("no answer within 30 s: the body is being waited for");
    let text = String::from_utf8_lossy(&got);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(json!(body)))
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
