//! Large files go through the server's tus 1.0 endpoint (`/tus/`) in pieces. Each piece carries
//! its SHA-256, so a piece cut off is refused whole, and the upload's URL is kept on disk until
//! the file is recorded: a dropped connection, or a killed command run again, goes on from the
//! server's offset instead of sending the file again.

use std::{
    io::SeekFrom,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use bytes::Bytes;
use indicatif::ProgressBar;
use reqwest::{header, Method, Response, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{
    pace::{paced, Pace, PIECE},
    remote::{refused, ClientError, ClientResult, Remote},
};

const TUS_RESUMABLE: &str = "tus-resumable";
const UPLOAD_OFFSET: &str = "upload-offset";
/// Network failures in a row, each followed by a longer wait, before the command gives up (and
/// may be run again to go on).
const ATTEMPTS: u32 = 6;
/// A piece of a killed run may hold the upload a little longer (the server's hold is 30 s).
const LOCKED_WAITS: u32 = 40;
/// tus's status for a piece whose bytes do not match its Upload-Checksum.
const CHECKSUM_MISMATCH: u16 = 460;

/// Where a file goes and what it is.
pub struct Target<'a> {
    pub local: &'a Path,
    /// `folder/name`.
    pub remote_path: String,
    pub size: u64,
    pub folder: &'a str,
    pub name: &'a str,
    pub content_type: &'a str,
    /// Its BLAKE3 hash, which the server's ETag must equal once the file is recorded.
    pub hash: &'a str,
}

/// How pieces go out.
pub struct Sending {
    pub chunk: u64,
    pub pace: Option<Arc<Pace>>,
}

/// The saved URL of one file's upload, under the user's cache directory, keyed by server, drive
/// path and content: other content at the same path starts a new upload.
pub struct Saved(Option<PathBuf>);

impl Saved {
    pub fn new(remote: &Remote, remote_path: &str, hash: &str) -> Self {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
        let key = blake3::hash(format!("{}\n{remote_path}\n{hash}", remote.base()).as_bytes());
        Self(cache.map(|c| c.join("mediadrive/uploads").join(key.to_hex().as_str())))
    }

    fn url(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.0.as_ref()?).ok()?;
        Some(text.trim().to_string()).filter(|u| !u.is_empty())
    }

    /// Keeps `url`; without a cache directory the upload still resumes within this run.
    fn keep(&self, url: &str) -> ClientResult<()> {
        let Some(path) = &self.0 else { return Ok(()) };
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().expect("a cache subdirectory"))?;
            let staged = path.with_extension("new");
            std::fs::write(&staged, url)?;
            std::fs::rename(&staged, path)
        };
        write().map_err(|e| ClientError::Local(format!("{}: {e}", path.display())))
    }

    fn forget(&self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn unreachable(e: reqwest::Error) -> ClientError {
    ClientError::Unreachable(e.to_string())
}

async fn refusal(resp: Response) -> ClientError {
    let status = resp.status();
    refused(status, &resp.json::<Value>().await.unwrap_or(Value::Null))
}

fn offset_of(resp: &Response) -> ClientResult<u64> {
    resp.headers()
        .get(UPLOAD_OFFSET)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ClientError::Local("the server's answer has no Upload-Offset".into()))
}

fn retry_after(resp: &Response) -> Duration {
    let secs = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    Duration::from_secs(secs)
}

/// How far the server has the upload at `url`, or None once it no longer has it (404, 410).
async fn offset(remote: &Remote, url: &str) -> ClientResult<Option<u64>> {
    let resp = remote
        .request(Method::HEAD, url)
        .header(TUS_RESUMABLE, "1.0.0")
        .send()
        .await
        .map_err(unreachable)?;
    match resp.status() {
        StatusCode::OK => offset_of(&resp).map(Some),
        StatusCode::NOT_FOUND | StatusCode::GONE => Ok(None),
        _ => Err(refusal(resp).await),
    }
}

/// The saved upload of this content at this path, and how far it got, if the server still has it.
pub async fn saved_upload(remote: &Remote, saved: &Saved) -> ClientResult<Option<(String, u64)>> {
    let Some(url) = saved.url() else {
        return Ok(None);
    };
    match offset(remote, &url).await? {
        Some(at) => Ok(Some((url, at))),
        None => {
            saved.forget();
            Ok(None)
        }
    }
}

/// Creates the upload and keeps its URL before any byte is sent.
pub async fn create(remote: &Remote, target: &Target<'_>, saved: &Saved) -> ClientResult<String> {
    let metadata = [
        ("filename", target.name),
        ("folder", target.folder),
        ("filetype", target.content_type),
    ]
    .iter()
    .map(|(k, v)| format!("{k} {}", BASE64.encode(v)))
    .collect::<Vec<_>>()
    .join(",");
    let resp = remote
        .request(Method::POST, &remote.url("/tus/"))
        .header(TUS_RESUMABLE, "1.0.0")
        .header("upload-length", target.size)
        .header("upload-metadata", metadata)
        .send()
        .await
        .map_err(unreachable)?;
    if resp.status() != StatusCode::CREATED {
        return Err(refusal(resp).await);
    }
    let url = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ClientError::Local("the server created no upload URL".into()))?
        .to_string();
    saved.keep(&url)?;
    Ok(url)
}

async fn piece(local: &Path, offset: u64, len: u64) -> std::io::Result<Bytes> {
    let mut file = tokio::fs::File::open(local).await?;
    file.seek(SeekFrom::Start(offset)).await?;
    let mut bytes = vec![0; len as usize];
    file.read_exact(&mut bytes).await?;
    Ok(bytes.into())
}

/// Sends the file from `offset` to its end, one checksummed piece per request, resuming at the
/// server's offset after a failure, and forgets the saved URL once the file is recorded.
pub async fn send(
    remote: &Remote,
    url: &str,
    mut at: u64,
    target: &Target<'_>,
    sending: &Sending,
    saved: &Saved,
    bars: [ProgressBar; 2],
) -> ClientResult<()> {
    let [bar, total] = &bars;
    bar.set_position(at);
    total.inc(at);
    let (mut failures, mut locked) = (0, 0);
    loop {
        let len = sending.chunk.min(target.size - at);
        let bytes = piece(target.local, at, len)
            .await
            .map_err(|e| ClientError::Local(format!("{}: {e}", target.local.display())))?;
        let digest = BASE64.encode(Sha256::digest(&bytes));
        let pieces =
            futures_util::stream::iter((0..bytes.len()).step_by(PIECE).map(move |i| {
                Ok::<_, std::io::Error>(bytes.slice(i..(i + PIECE).min(bytes.len())))
            }));
        let sent = remote
            .request(Method::PATCH, url)
            .header(TUS_RESUMABLE, "1.0.0")
            .header(header::CONTENT_TYPE, "application/offset+octet-stream")
            .header(header::CONTENT_LENGTH, len)
            .header(UPLOAD_OFFSET, at)
            .header("upload-checksum", format!("sha256 {digest}"))
            .body(reqwest::Body::wrap_stream(paced(
                pieces,
                sending.pace.clone(),
                bars.clone(),
            )))
            .send()
            .await;
        let before = at;
        match sent {
            Ok(resp) if resp.status() == StatusCode::NO_CONTENT => {
                at = offset_of(&resp)?;
                failures = 0;
                if at == target.size {
                    settle(&bars, at);
                    saved.forget();
                    return recorded(&resp, target);
                }
            }
            // Another request holds the upload, likely the last piece of a run that was killed;
            // its hold ends as soon as the server sees that connection gone.
            Ok(resp) if resp.status() == StatusCode::LOCKED && locked < LOCKED_WAITS => {
                locked += 1;
                tokio::time::sleep(retry_after(&resp)).await;
                at = server_offset(remote, url, saved).await?;
            }
            // The piece was cut or spoilt on the way (460), or the offset moved on meanwhile.
            Ok(resp)
                if (resp.status().as_u16() == CHECKSUM_MISMATCH
                    || resp.status() == StatusCode::CONFLICT)
                    && failures + 1 < ATTEMPTS =>
            {
                failures += 1;
                at = server_offset(remote, url, saved).await?;
            }
            Ok(resp) => {
                if matches!(resp.status(), StatusCode::NOT_FOUND | StatusCode::GONE) {
                    saved.forget();
                }
                settle(&bars, before);
                return Err(refusal(resp).await);
            }
            Err(e) => {
                failures += 1;
                if failures >= ATTEMPTS {
                    settle(&bars, before);
                    return Err(unreachable(e));
                }
                tokio::time::sleep(Duration::from_secs(1 << (failures - 1))).await;
                at = match server_offset(remote, url, saved).await {
                    Err(ClientError::Unreachable(_)) => before,
                    other => other?,
                };
            }
        }
        settle(&bars, at);
    }
}

/// Counts the bars back to what the server took: a refused piece was counted as it went out.
fn settle([bar, total]: &[ProgressBar; 2], accepted: u64) {
    let counted = bar.position();
    if counted > accepted {
        total.dec(counted - accepted);
    } else {
        total.inc(accepted - counted);
    }
    bar.set_position(accepted);
}

/// Where to go on after a piece that did not land; the server having dropped the upload ends it.
async fn server_offset(remote: &Remote, url: &str, saved: &Saved) -> ClientResult<u64> {
    match offset(remote, url).await? {
        Some(at) => Ok(at),
        None => {
            saved.forget();
            Err(ClientError::Local(
                "the server no longer has this upload; run upload again to start it afresh".into(),
            ))
        }
    }
}

/// The last piece's answer names the recorded file's content; it must be what was read here.
fn recorded(resp: &Response, target: &Target<'_>) -> ClientResult<()> {
    let etag = resp
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_matches('"'));
    match etag {
        Some(etag) if etag == target.hash => Ok(()),
        _ => Err(ClientError::Local(format!(
            "{}: the server recorded other content than was read; the file may have changed \
             while it was sent",
            target.local.display()
        ))),
    }
}
