//! Uploads through every path a test drives: signed PUTs, tus, and bodies streamed piece by piece.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use super::{json_of, Server, Store};

impl Server {
    /// Asks for an upload URL; panics unless it is granted.
    pub async fn request_upload(
        &self,
        key: &str,
        folder: &str,
        name: &str,
        ct: &str,
        size: usize,
    ) -> Value {
        let (status, body) = self
            .call(
                "POST",
                "/v2/media/file",
                key,
                Some(json!({"name": name, "contentType": ct, "size": size, "folder": folder})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn put(&self, upload_url: &str, ct: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let resp = self
            .http
            .put(upload_url)
            .header("content-type", ct)
            .body(bytes)
            .send()
            .await
            .unwrap();
        json_of(resp).await
    }

    /// Uploads a file end to end and returns its stable URL.
    pub async fn upload(
        &self,
        key: &str,
        folder: &str,
        name: &str,
        ct: &str,
        bytes: &[u8],
    ) -> String {
        let ticket = self
            .request_upload(key, folder, name, ct, bytes.len())
            .await;
        let (status, body) = self
            .put(ticket["uploadUrl"].as_str().unwrap(), ct, bytes.to_vec())
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let url = ticket["fileUrl"].as_str().unwrap().to_string();
        self.wait_uploaded(key, &url).await;
        url
    }

    /// Whether clients upload straight to object storage (confirmed later by the server).
    pub fn direct_uploads(&self) -> bool {
        matches!(self.store, Store::S3(_))
    }

    /// The file's status once it is no longer pending, or "pending" if it still is at the deadline
    /// (a direct upload waits for a reconciler round, which a loaded machine delays).
    pub async fn settled_status(&self, key: &str, file_url: &str) -> String {
        let path = file_url.split("/files/").nth(1).unwrap();
        let deadline = std::time::Instant::now() + SETTLING;
        loop {
            let (status, body) = self
                .call("GET", &format!("/v2/media/file?path={path}"), key, None)
                .await;
            let state = if status == StatusCode::OK {
                body["file"]["status"].as_str().unwrap().to_string()
            } else {
                "missing".to_string()
            };
            if state != "pending" || std::time::Instant::now() >= deadline {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until a direct upload is confirmed (at once for uploads through mediadrive).
    pub async fn wait_uploaded(&self, key: &str, file_url: &str) {
        assert_eq!(
            self.settled_status(key, file_url).await,
            "uploaded",
            "{file_url}"
        );
    }

    /// Waits until the reconciler has dealt with every direct upload that arrived in object
    /// storage (adopted or dropped it, so `uploads/` is empty); whether it did by the deadline.
    /// Uploads through mediadrive leave nothing there, so on the filesystem this returns at once.
    pub async fn let_reconciler_run(&self) -> bool {
        let deadline = std::time::Instant::now() + SETTLING;
        loop {
            if self.keys_under("uploads/").await.is_empty() {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends a request whose headers promise more body than `body`, then drops the connection,
    /// as a client that crashed mid-upload does. `head` is the request line and headers.
    pub async fn cut_off(&self, head: &str, body: &[u8]) {
        use tokio::io::AsyncWriteExt;
        let received = self.bytes_received().await;
        let host = self.base.trim_start_matches("http://");
        let mut conn = tokio::net::TcpStream::connect(host).await.unwrap();
        let head = format!("{}\r\nHost: {host}\r\n\r\n", head.trim_end());
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(body).await.unwrap();
        // The connection goes once the handler has read all that was sent: mid-body.
        self.wait_received(received + body.len() as f64).await;
    }

    /// Creates a tus upload of `length` bytes with `metadata` (plain values, encoded here);
    /// returns the answer.
    pub async fn tus_create(&self, key: &str, metadata: &[(&str, &str)], length: u64) -> Response {
        use base64::Engine;
        let metadata: Vec<String> = metadata
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k} {}",
                    base64::engine::general_purpose::STANDARD.encode(v)
                )
            })
            .collect();
        self.http
            .post(self.url("/tus/"))
            .header("x-api-key", key)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", length.to_string())
            .header("upload-metadata", metadata.join(","))
            .send()
            .await
            .unwrap()
    }
}

/// How long a test waits for the node to settle (a confirmation, a reconciler round, a body it is
/// reading) before it gives up; generous, since two cores run several suites at once.
const SETTLING: Duration = Duration::from_secs(30);

/// The chunks of a request body, handed over by the test as it goes.
pub type Chunks = tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>;
/// The answer to a request sent in the background.
pub type Answer = tokio::task::JoinHandle<reqwest::Result<Response>>;

/// A request whose body streams through the node into a drive file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Through {
    /// The signed PUT of `POST /v2/media/file`: through the node on the filesystem store; with
    /// object storage the client sends it to the store instead.
    SignedPut,
    /// A tus PATCH: through the node on every store.
    Tus,
}

impl Through {
    /// The answer to a request that sent the file's last byte.
    pub fn completed(self) -> StatusCode {
        match self {
            Through::SignedPut => StatusCode::OK,
            Through::Tus => StatusCode::NO_CONTENT,
        }
    }
}

/// An upload opened on one of the paths: where its bytes go, and the file they become.
pub struct Opened {
    pub through: Through,
    pub send_to: String,
    pub file_url: String,
}

impl Server {
    /// The paths whose bodies stream through this node on its store.
    pub fn streaming_paths(&self) -> Vec<Through> {
        if self.direct_uploads() {
            vec![Through::Tus]
        } else {
            vec![Through::SignedPut, Through::Tus]
        }
    }

    /// Opens an upload of `size` bytes named `name`, in the drive's root.
    pub async fn open_upload(
        &self,
        key: &str,
        through: Through,
        name: &str,
        size: usize,
    ) -> Opened {
        let ct = "application/octet-stream";
        let (send_to, file_url) = match through {
            Through::SignedPut => {
                let ticket = self.request_upload(key, "", name, ct, size).await;
                (ticket["uploadUrl"].clone(), ticket["fileUrl"].clone())
            }
            Through::Tus => {
                let meta = [("filename", name), ("filetype", ct)];
                let created = self.tus_create(key, &meta, size as u64).await;
                assert_eq!(created.status(), StatusCode::CREATED);
                let location = created.headers()["location"].to_str().unwrap().into();
                let path = format!("/v2/media/file?path={name}");
                let (status, body) = self.call("GET", &path, key, None).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                (location, body["file"]["url"].clone())
            }
        };
        Opened {
            through,
            send_to: send_to.as_str().unwrap().to_string(),
            file_url: file_url.as_str().unwrap().to_string(),
        }
    }

    /// A request sending bytes of `opened` from offset `at` (0 for a signed PUT: it sends all).
    fn send_request(&self, key: &str, opened: &Opened, at: usize) -> reqwest::RequestBuilder {
        match opened.through {
            Through::SignedPut => {
                assert_eq!(at, 0, "a signed PUT sends the whole file");
                self.http
                    .put(&opened.send_to)
                    .header("content-type", "application/octet-stream")
            }
            Through::Tus => self
                .http
                .patch(&opened.send_to)
                .header("x-api-key", key)
                .header("tus-resumable", "1.0.0")
                .header("content-type", "application/offset+octet-stream")
                .header("upload-offset", at.to_string()),
        }
    }

    /// Sends `body` to `opened` from offset `at` in one request.
    pub async fn send_whole(
        &self,
        key: &str,
        opened: &Opened,
        at: usize,
        body: Vec<u8>,
    ) -> Response {
        let request = self.send_request(key, opened, at).body(body);
        request.send().await.unwrap()
    }

    /// Starts sending `len` bytes to `opened` from offset `at`, in the chunks the test hands to
    /// the returned sender.
    pub fn send_streamed(
        &self,
        key: &str,
        opened: &Opened,
        at: usize,
        len: usize,
    ) -> (Chunks, Answer) {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let chunks =
            futures_util::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|c| (c, rx)) });
        let request = self
            .send_request(key, opened, at)
            .header("content-length", len.to_string())
            .body(reqwest::Body::wrap_stream(chunks))
            .send();
        (tx, tokio::spawn(request))
    }

    /// The offset a tus upload has counted.
    pub async fn tus_offset(&self, key: &str, url: &str) -> u64 {
        let resp = self
            .http
            .head(url)
            .header("x-api-key", key)
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Upload bytes the node's handlers have read so far (`mediadrive_bytes_received_total`).
    pub async fn bytes_received(&self) -> f64 {
        let metrics = self.metrics().await;
        metrics
            .get("mediadrive_bytes_received_total")
            .copied()
            .unwrap_or(0.0)
    }

    /// Waits until the node's handlers have read `total` upload bytes in all.
    pub async fn wait_received(&self, total: f64) {
        let deadline = std::time::Instant::now() + SETTLING;
        loop {
            let read = self.bytes_received().await;
            if read >= total {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the node read {read} upload bytes, not {total}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
