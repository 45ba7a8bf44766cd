//! Starts the real `mediadrive` binary on a free loopback port with a fresh data directory.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::Arc,
    time::Duration,
};

use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_mediadrive");

/// Below the server's default `header_timeout_secs` (10).
const IDLE_CONNECTIONS: Duration = Duration::from_secs(5);

pub struct Server {
    child: Child,
    pub base: String,
    data: PathBuf,
    /// Shared by the nodes of one test; removed when the last one stops.
    dir: Arc<TempDir>,
    pub http: Client,
    /// Flags naming the backends, for the server and for every CLI command run against it.
    backend_args: Vec<String>,
    pub store: Store,
}

/// Where a test server keeps its bytes.
#[derive(Clone)]
pub enum Store {
    /// The filesystem under the data directory: uploads stream through mediadrive.
    Fs,
    /// A prefix of the bucket `scripts/test` creates: clients upload to it directly.
    S3(opendal::Operator),
}

/// The backends under test: SQLite and the filesystem unless `MEDIADRIVE_TEST_BACKEND` says
/// `postgres` or `postgres+s3`; each server then gets a new database on the cluster and a prefix
/// of the bucket `scripts/test` starts.
fn backends() -> (Vec<String>, Store) {
    let backend = std::env::var("MEDIADRIVE_TEST_BACKEND").unwrap_or_default();
    let mut args = Vec::new();
    let mut store = Store::Fs;
    for part in backend.split('+').filter(|p| !p.is_empty()) {
        match part {
            "sqlite" | "fs" => {}
            "postgres" => args.extend(["--database-url".into(), new_database()]),
            "s3" => {
                let url = std::env::var("MEDIADRIVE_TEST_S3_URL")
                    .expect("MEDIADRIVE_TEST_S3_URL is not set: run the tests with scripts/test");
                let root = format!("/md_{}/", uuid_like());
                store = Store::S3(s3_operator(&url, &root));
                args.extend(["--blob-url".into(), format!("{url}&root={root}")]);
            }
            other => panic!("unknown backend '{other}' in MEDIADRIVE_TEST_BACKEND"),
        }
    }
    (args, store)
}

fn new_database() -> String {
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
    format!("{server}/{name}")
}

/// The test's own view of the bucket, to check what the server left in it.
fn s3_operator(url: &str, root: &str) -> opendal::Operator {
    let query = url.split_once('?').unwrap().1;
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    let bucket = url
        .strip_prefix("s3://")
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let builder = opendal::services::S3::default()
        .bucket(bucket)
        .endpoint(&param("endpoint"))
        .region(&param("region"))
        .root(root)
        .access_key_id(&std::env::var("AWS_ACCESS_KEY_ID").unwrap())
        .secret_access_key(&std::env::var("AWS_SECRET_ACCESS_KEY").unwrap())
        .disable_config_load();
    opendal::Operator::new(builder).unwrap().finish()
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

/// The base URL from `serve`'s `listening on URL` line; the rest of its stdout is drained so
/// that the server never writes into a full pipe.
async fn ready_line(stdout: std::process::ChildStdout) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).expect("reading the server's stdout");
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        line.trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("mediadrive did not say where it listens: {line:?}"))
            .to_string()
    })
    .await
    .unwrap()
}

impl Server {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a server; `extra` are further `serve` flags.
    pub async fn start_with(extra: &[&str]) -> Self {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let (backend_args, store) = backends();
        Self::launch(dir.path().join("data"), dir, backend_args, store, extra).await
    }

    /// Stops the process at once (SIGKILL): whatever it had not finished is left as a crash leaves it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks the process to stop (SIGTERM), as a service manager does, and waits up to `within`
    /// for it to exit; whether it did.
    pub async fn terminate(&mut self, within: Duration) -> bool {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success());
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Another node on the same catalog and blob store.
    pub async fn start_peer(&self) -> Server {
        self.start_peer_with(&[]).await
    }

    /// Another node on the same catalog and blob store, with further `serve` flags.
    /// A server of the embedded default on an existing data directory, such as a backup.
    pub async fn start_on(data: PathBuf) -> Server {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        Self::launch(data, dir, Vec::new(), Store::Fs, &[]).await
    }

    pub async fn start_peer_with(&self, extra: &[&str]) -> Server {
        Self::launch(
            self.data.clone(),
            self.dir.clone(),
            self.backend_args.clone(),
            self.store.clone(),
            extra,
        )
        .await
    }

    async fn launch(
        data: PathBuf,
        dir: Arc<TempDir>,
        backend_args: Vec<String>,
        store: Store,
        extra: &[&str],
    ) -> Self {
        // Port 0: the server takes a free port itself and names it on stdout, so no other test's
        // server can be listening where this one was expected.
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .args(&backend_args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting mediadrive");
        let base = ready_line(child.stdout.take().unwrap()).await;
        let mut server = Server {
            child,
            base,
            data,
            dir,
            // Idle connections are dropped before the server's header deadline closes them,
            // as docs/configuration.md advises every pooling client.
            http: Client::builder()
                .pool_idle_timeout(IDLE_CONNECTIONS)
                .build()
                .unwrap(),
            backend_args,
            store,
        };
        assert!(server.wait_ready().await, "mediadrive did not become ready");
        server
    }

    async fn wait_ready(&mut self) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
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
        self.data.clone()
    }

    /// The CLI, pointed at this server's store.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(&self.backend_args);
        command
    }

    /// Runs a CLI command against the server's store while it runs.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// A CLI run that must succeed, to be called later (from another thread); returns its stdout.
    pub fn cli_command(&self, args: &[&str]) -> impl FnOnce() -> String + Send + 'static {
        let mut command = self.command(args);
        move || {
            let out = command.output().unwrap();
            assert!(
                out.status.success(),
                "{command:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        }
    }

    pub fn cli_ok(&self, args: &[&str]) -> String {
        self.cli_command(args)()
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

    /// The server's own OpenAPI document.
    pub async fn openapi(&self) -> Value {
        self.get(&self.url("/openapi.json"))
            .await
            .json()
            .await
            .unwrap()
    }

    pub async fn get(&self, url: &str) -> Response {
        self.http.get(url).send().await.unwrap()
    }

    /// Every stored blob, by its key in the store.
    pub async fn blob_files(&self) -> Vec<String> {
        self.keys_under("blobs/").await
    }

    /// Bytes in flight: staged by mediadrive, or uploaded directly and not yet adopted.
    pub async fn staging_files(&self) -> usize {
        self.keys_under("staging/").await.len() + self.keys_under("uploads/").await.len()
    }

    /// The samples of `/metrics`, by metric name and label set.
    pub async fn metrics(&self) -> BTreeMap<String, f64> {
        let resp = self.get(&self.url("/metrics")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        resp.text()
            .await
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (name, value) = l.rsplit_once(' ').unwrap();
                (name.to_string(), value.parse().unwrap())
            })
            .collect()
    }

    /// Pieces of resumable uploads held by the blob store.
    pub async fn partial_files(&self) -> usize {
        self.keys_under("partial/").await.len()
    }

    /// Loses every piece of resumable uploads, as a restore without `partial/` would.
    pub async fn lose_partial_files(&self) {
        match &self.store {
            Store::Fs => {
                let dir = self.data.join("partial");
                for entry in std::fs::read_dir(&dir).unwrap() {
                    std::fs::remove_file(entry.unwrap().path()).unwrap();
                }
            }
            Store::S3(op) => op.delete_with("partial/").recursive(true).await.unwrap(),
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

    async fn keys_under(&self, prefix: &str) -> Vec<String> {
        match &self.store {
            Store::Fs => {
                fn walk(dir: &Path, out: &mut Vec<String>) {
                    let Ok(entries) = std::fs::read_dir(dir) else {
                        return;
                    };
                    for e in entries.flatten() {
                        if e.path().is_dir() {
                            walk(&e.path(), out);
                        } else {
                            out.push(e.path().display().to_string());
                        }
                    }
                }
                let mut out = Vec::new();
                walk(
                    &self.data_dir().join(prefix.trim_end_matches('/')),
                    &mut out,
                );
                out.sort();
                out
            }
            Store::S3(op) => {
                use futures_util::TryStreamExt;
                let lister = op.lister_with(prefix).recursive(true).await.unwrap();
                let entries: Vec<opendal::Entry> = lister.try_collect().await.unwrap();
                let mut out: Vec<String> = entries
                    .into_iter()
                    .filter(|e| !e.path().ends_with('/'))
                    .map(|e| e.path().to_string())
                    .collect();
                out.sort();
                out
            }
        }
    }

    /// The node's peak resident memory so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status")
    }

    /// The PostgreSQL database this server's catalog lives in; `None` on the embedded default.
    pub fn database_url(&self) -> Option<String> {
        self.backend_args
            .windows(2)
            .find(|w| w[0] == "--database-url")
            .map(|w| w[1].clone())
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

/// Seeded pseudo-random bytes (SplitMix64). Nothing repeats within them, so a piece reordered,
/// duplicated or dropped at any offset changes the content; other seeds give unrelated bytes.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut state = seed.wrapping_mul(GAMMA) ^ 0xD1B5_4A32_D192_ED03;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(GAMMA);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Runs ffmpeg quietly to make a test file at `out`, and returns its bytes.
pub fn ffmpeg(args: &[&str], out: &Path) -> Vec<u8> {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("the tests need ffmpeg");
    assert!(status.success(), "ffmpeg {args:?}");
    std::fs::read(out).unwrap()
}

pub fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
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

/// The backends under test, for a test that runs `mediadrive serve` itself: the flags naming
/// them (a new database, a new prefix of the bucket) and the test's view of the store.
pub fn backends_under_test() -> (Vec<String>, Store) {
    backends()
}
