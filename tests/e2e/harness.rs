//! Starts the real `mediadrive` binary on a loopback port of its own choosing, with a fresh data
//! directory.

mod backends;
mod store;
mod uploads;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::Arc,
    time::Duration,
};

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

use backends::backends;
pub use backends::backends_under_test;
pub use uploads::{Answer, Chunks, Opened, Through};

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
        reader
            .read_line(&mut line)
            .expect("reading the server's stdout");
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
