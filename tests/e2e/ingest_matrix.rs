//! Issue 20's ingest failure matrix: every way bytes enter the store × every way an ingest fails.
//! Each cell checks the answer in its surface's shape (v2 and tus `{"success":false,"message"}`,
//! Video Jungle `{"detail"}`, a preload item's or render output's `error`), its status, that the
//! tenant's `used_bytes` did not move, that nothing is left staged, and that no partial file shows
//! (the file URL is 404, the file stays `pending`, the asset or output still waits).
//!
//! | path \ failure            | (a) larger than allowed       | (b) drive quota exhausted          | (c) stalls past idle timeout | (d) shut down mid-body | (e) temp budget exhausted |
//! |---------------------------|-------------------------------|------------------------------------|------------------------------|------------------------|---------------------------|
//! | `PUT /upload/{id}` (node) | 100 MB + 1 streamed past the declared 100 MB; a Content-Length that differs is refused unread | the grant is refused (quota is reserved at `POST /v2/media/file`; the PUT cannot overrun it) | 408 | 503 | a grant into `temp` is refused (reserved against the budget), and so is a move into `temp` |
//! | direct S3 PUT (S3 only)   | the object store takes the longer body; the reconciler drops it, the file stays `pending` | the same grant as the PUT (one cell serves both) | n/a: the body goes to the object store, the node sees no byte of it | n/a, as (c) | the same grant as the PUT |
//! | tus PATCH                 | 413 past `Upload-Length`      | creation refused (quota reserved for `Upload-Length`) | 408; what arrived is kept, as tus promises, but not counted | 503 | creation into `temp` refused |
//! | Video Jungle form         | no declared file size: a Content-Length over the 500 MB cap is refused unread | a Content-Length beyond the room: refused unread; a 100 MB form sent chunked (no length): reserved as it arrives, refused once past the room | 408 | 503 | n/a: its assets live in the drive |
//! | render output PUT         | no declared size: a Content-Length over the 500 MB cap is refused unread | the upload lands in the 24-hour tier (the temp budget set apart); its hosting copy is refused | 408 | 503 | a 100 MB Content-Length refused unread; a video sent chunked refused once stored |
//! | `src` preload             | no declared size: a 100 MB chunked download past `max_asset_bytes` (50 MB) | save-to-media degrades: served from the cache, `warning: quota_blocked` | the remote stalls: the same idle timeout fails it, long before `fetch_timeout_secs` (60) | the node stops mid-download | the item fails with the budget's message |
//! | render output by URL      | as `src` preload              | hosting refused, the temporary copy still served | as `src` preload | as `src` preload | the output fails with the budget's message |
//!
//! The temp budget defaults to the drive quota: column (b) sets it apart so that it tests the
//! drive quota alone, column (e) the other way round.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{
    harness::Server,
    sizes::{poll, usage},
};

mod cells;
mod downloads;
mod streams;
mod temp_budget;

/// Every way bytes enter the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// The presigned PUT through the node (the filesystem store).
    SignedPut,
    /// The presigned PUT to object storage, confirmed by the reconciler (PostgreSQL + S3 only).
    DirectS3,
    Tus,
    VideoJungle,
    RenderUpload,
    SrcPreload,
    RenderSrc,
}

pub const PATHS: [Path; 7] = [
    Path::SignedPut,
    Path::DirectS3,
    Path::Tus,
    Path::VideoJungle,
    Path::RenderUpload,
    Path::SrcPreload,
    Path::RenderSrc,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    TooLarge,
    Quota,
    Stall,
    Shutdown,
    TempBudget,
}

impl Path {
    /// The tenant each path's cell runs as, so that its counters are its own.
    pub fn tenant(self) -> &'static str {
        match self {
            Path::SignedPut => "cput",
            Path::DirectS3 => "cdirect",
            Path::Tus => "ctus",
            Path::VideoJungle => "cvj",
            Path::RenderUpload => "cout",
            Path::SrcPreload => "csrc",
            Path::RenderSrc => "crsrc",
        }
    }

    /// Whether the cell `self` × `failure` exists on this server's store (see the table above).
    pub fn applies(self, failure: Failure, server: &Server) -> bool {
        let direct = server.direct_uploads();
        match (self, failure) {
            // The grant is the same request for both; its cell runs once, as SignedPut.
            (Path::DirectS3, Failure::Quota | Failure::TempBudget) => false,
            (Path::VideoJungle, Failure::TempBudget) => false,
            (Path::DirectS3, _) => direct && failure == Failure::TooLarge,
            (Path::SignedPut, Failure::Stall | Failure::Shutdown | Failure::TooLarge) => !direct,
            _ => true,
        }
    }
}

/// A cell's name in assertion messages.
pub fn cell(path: Path, failure: Failure) -> String {
    format!("{path:?} × {failure:?}")
}

/// The v2 surface's error body (tus answers in it too).
pub fn v2_error(message: &str) -> Value {
    json!({"success": false, "message": message})
}

/// The Video Jungle surface's error body, FastAPI's.
pub fn vj_error(message: &str) -> Value {
    json!({"detail": message})
}

pub const TOO_LARGE: &str = "File exceeds maximum size of 500 MB";
pub const BLOCKED: &str = "Storage is blocked. Add credits to continue uploading.";
pub const TEMP_FULL: &str =
    "Temporary storage is full. Delete temporary files or wait for them to expire.";
pub const SHUTTING_DOWN: &str = "The server is shutting down; retry the upload";
/// Seconds an upload body may send nothing in the stall cells.
pub const IDLE_SECS: u64 = 2;
/// `max_asset_bytes` in the size cells: half the 100 MB the remote sends.
pub const ASSET_CAP: u64 = 50_000_000;

/// One tenant's key, made with the role every path accepts.
pub fn key_of(server: &Server, path: Path) -> String {
    server.key(path.tenant(), "editor")
}

/// Waits until the tenant's `(used_bytes, pending_bytes)` are these: a reservation is given back
/// in the background on some paths.
pub async fn assert_counted(
    server: &Server,
    path: Path,
    failure: Failure,
    used: u64,
    pending: u64,
) {
    let what = format!(
        "{}: counters reach {:?}",
        cell(path, failure),
        (used, pending)
    );
    poll(Duration::from_secs(15), &what, || async {
        (usage(server, path.tenant()) == (used, pending)).then_some(())
    })
    .await;
}

/// A drive path of the tenant is not served and not listed as uploaded.
pub async fn assert_no_file(server: &Server, key: &str, path: Path, failure: Failure, file: &str) {
    let name = cell(path, failure);
    let url = server.url(&format!("/{}/files/{file}", path.tenant()));
    assert_eq!(
        server.get(&url).await.status(),
        StatusCode::NOT_FOUND,
        "{name}: {url} is served"
    );
    let (status, body) = server
        .call("GET", &format!("/v2/media/file?path={file}"), key, None)
        .await;
    assert!(
        status == StatusCode::NOT_FOUND || body["file"]["status"] == "pending",
        "{name}: {file} is listed as {body}"
    );
}

async fn run(failure: Failure, toml: &str) {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("matrix.toml");
    std::fs::write(&config, toml).unwrap();
    // Allowed to fetch from the loopback file server.
    let flags = [
        "--config",
        config.to_str().unwrap(),
        "--fetch-allow",
        "127.0.0.1/32",
    ];
    let server = Server::start_with(&flags).await;
    let files = downloads::Files::start().await;
    let paths: Vec<Path> = PATHS
        .into_iter()
        .filter(|p| p.applies(failure, &server))
        .collect();
    if failure == Failure::Shutdown {
        cells::shutdown(server, &files, &flags, &paths).await;
    } else {
        for path in paths {
            let at = Instant::now();
            cells::one(&server, &files, path, failure).await;
            eprintln!("{}: {:?}", cell(path, failure), at.elapsed());
        }
    }
    eprintln!("ingest matrix, {failure:?}: {:?}", started.elapsed());
}

#[tokio::test]
async fn ingest_matrix_body_larger_than_allowed() {
    let toml = format!(
        "[generation]\nmax_asset_bytes = {ASSET_CAP}\nfetch_timeout_secs = 60\n\
         [renders]\nconcurrency = 2\n"
    );
    run(Failure::TooLarge, &toml).await;
}

#[tokio::test]
async fn ingest_matrix_drive_quota_exhausted() {
    run(Failure::Quota, "").await;
}

#[tokio::test]
async fn ingest_matrix_client_stalls_past_the_idle_timeout() {
    let toml = format!(
        "[limits]\nbody_idle_timeout_secs = {IDLE_SECS}\n\
         [generation]\nfetch_timeout_secs = 60\n"
    );
    run(Failure::Stall, &toml).await;
}

#[tokio::test]
async fn ingest_matrix_server_shut_down_mid_body() {
    run(
        Failure::Shutdown,
        "[limits]\nshutdown_grace_secs = 1\n[generation]\nfetch_timeout_secs = 60\n",
    )
    .await;
}

#[tokio::test]
async fn ingest_matrix_temp_budget_exhausted() {
    run(Failure::TempBudget, "").await;
}
