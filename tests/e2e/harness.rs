//! Starts the real `mediadrive` binary on a free loopback port with a fresh data directory.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_mediadrive");

pub struct Server {
    child: Child,
    pub base: String,
    pub dir: TempDir,
    pub http: Client,
    /// Flags naming the backends, for the server and for every CLI command run against it.
    backend_args: Vec<String>,
}

/// The backends under test: SQLite and the filesystem unless `MEDIADRIVE_TEST_BACKEND` says
/// `postgres`, in which case each server gets a new database on the cluster `scripts/test` starts.
fn backend_args() -> Vec<String> {
    match std::env::var("MEDIADRIVE_TEST_BACKEND").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => Vec::new(),
        Ok("postgres") => {
            let admin = std::env::var("MEDIADRIVE_TEST_POSTGRES_URL")
                .expect("MEDIADRIVE_TEST_POSTGRES_URL is not set: run the tests with scripts/test");
            let name = format!("md_{}", uuid_like());
            let out = Command::new("psql")
                .args([admin.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
                .output()
                .expect("running psql");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let (server, _) = admin.rsplit_once('/').unwrap();
            vec!["--database-url".into(), format!("{server}/{name}")]
        }
        Ok(other) => panic!("unknown MEDIADRIVE_TEST_BACKEND '{other}'"),
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a server; `extra` are further `serve` flags.
    pub async fn start_with(extra: &[&str]) -> Self {
        let mut dir = tempfile::tempdir().unwrap();
        let backend_args = backend_args();
        for _ in 0..5 {
            let port = free_port();
            let base = format!("http://127.0.0.1:{port}");
            let child = Command::new(BIN)
                .arg("serve")
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(extra)
                .args(&backend_args)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("starting mediadrive");
            let mut server = Server {
                child,
                base,
                dir,
                http: Client::new(),
                backend_args: backend_args.clone(),
            };
            if server.wait_ready().await {
                return server;
            }
            let _ = server.child.kill();
            let _ = server.child.wait();
            dir = std::mem::replace(&mut server.dir, tempfile::tempdir().unwrap());
        }
        panic!("mediadrive did not start");
    }

    async fn wait_ready(&mut self) -> bool {
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(r) = self.http.get(self.url("/healthz")).send().await {
                if r.status() == StatusCode::OK {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs a CLI command against the server's data directory while it runs.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(&self.backend_args)
            .output()
            .unwrap()
    }

    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn key(&self, client: &str, role: &str) -> String {
        let out = self.cli_ok(&["key", "create", "--client", client, "--role", role]);
        let key = out.trim().to_string();
        assert!(!key.is_empty() && !key.contains('\n'));
        key
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, self.url(path))
            .header("x-api-key", key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        json_of(resp).await
    }

    /// Calls the API and checks that it answers with this error status and the seed's message.
    pub async fn expect_error(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
        status: u16,
        msg: &str,
    ) {
        let (got, answer) = self.call(method, path, key, body.clone()).await;
        assert_eq!(
            (got.as_u16(), message(&answer)),
            (status, msg),
            "{method} {path} {body:?}"
        );
        assert_eq!(answer["success"], false);
    }

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
        ticket["fileUrl"].as_str().unwrap().to_string()
    }

    pub async fn get(&self, url: &str) -> Response {
        self.http.get(url).send().await.unwrap()
    }

    /// Every blob file on disk.
    pub fn blob_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                if e.path().is_dir() {
                    walk(&e.path(), out);
                } else {
                    out.push(e.path());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.data_dir().join("blobs"), &mut out);
        out
    }

    pub fn staging_files(&self) -> usize {
        std::fs::read_dir(self.data_dir().join("staging"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    pub fn client_show(&self, client: &str) -> Value {
        serde_json::from_str(&self.cli_ok(&["client", "show", "--client", client])).unwrap()
    }
}

pub async fn json_of(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Deterministic bytes that differ per seed.
pub fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

pub fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}
