//! Moving bytes: `upload` (files and directory trees, in parallel, skipping what the drive already
//! holds) and `get` (downloads that resume where an interrupted one stopped).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use mediadrive_core::paths::{FileName, FolderPath};
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::{
    pace::{paced, Pace, PIECE},
    remote::{refused, ClientError, ClientResult, Remote, RemoteFile},
    resumable,
};

/// One local file and where it goes in the drive, as the server will name it.
struct Planned {
    local: PathBuf,
    size: u64,
    folder: String,
    name: String,
}

impl Planned {
    fn remote_path(&self) -> String {
        if self.folder.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.folder, self.name)
        }
    }
}

fn local_error(path: &Path, e: impl std::fmt::Display) -> ClientError {
    ClientError::Local(format!("{}: {e}", path.display()))
}

/// Joins folder segments the way the server sanitises them, so a skip check asks for the path
/// the file really has.
fn folder_of(to: &str, relative: &[String]) -> ClientResult<String> {
    let joined = std::iter::once(to.to_string())
        .chain(relative.iter().cloned())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    if joined.is_empty() {
        return Ok(String::new());
    }
    FolderPath::sanitise(&joined)
        .map(|f| f.as_str().to_string())
        .map_err(|_| ClientError::Local(format!("{joined}: not a valid folder name")))
}

/// Every file to upload: a file goes into `to`; a directory's tree goes into `to/<its name>`.
fn plan(paths: &[PathBuf], to: &str) -> ClientResult<Vec<Planned>> {
    let mut planned = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| local_error(path, e))?;
        let base: Vec<String> = if meta.is_dir() {
            path.canonicalize()
                .map_err(|e| local_error(path, e))?
                .file_name()
                .map(|n| vec![n.to_string_lossy().into_owned()])
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
            let entry = entry.map_err(|e| local_error(path, e))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let relative = entry.path().strip_prefix(path).unwrap_or(entry.path());
            let mut segments = base.clone();
            if let Some(parent) = relative.parent() {
                segments.extend(
                    parent
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned()),
                );
            }
            let raw = entry.file_name().to_string_lossy();
            let name = FileName::sanitise(&raw)
                .map_err(|_| local_error(entry.path(), "not a valid file name"))?;
            let size = entry
                .metadata()
                .map_err(|e| local_error(entry.path(), e))?
                .len();
            planned.push(Planned {
                local: entry.path().to_path_buf(),
                size,
                folder: folder_of(to, &segments)?,
                name: name.as_str().to_string(),
            });
        }
    }
    Ok(planned)
}

fn blake3_of(path: &Path) -> ClientResult<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap(path).map_err(|e| local_error(path, e))?;
    Ok(hasher.finalize().to_hex().to_string())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg:40!} {bytes:>10}/{total_bytes:<10} {bar:30} {bytes_per_sec}")
        .expect("a valid template")
}

/// What happened to one file.
pub enum Outcome {
    Uploaded,
    Unchanged,
}

pub struct UploadOptions {
    pub to: String,
    pub parallel: usize,
    pub overwrite: bool,
    /// Files larger than this are sent resumably, in pieces of `chunk` bytes.
    pub resumable_above: u64,
    pub chunk: u64,
    pub pace: Option<Arc<Pace>>,
}

/// Uploads `paths`; prints one line per file and returns the first error, after trying them all.
pub async fn upload(
    remote: &Remote,
    paths: &[PathBuf],
    options: &UploadOptions,
) -> ClientResult<()> {
    let planned = plan(paths, &options.to)?;
    let folders: BTreeSet<&str> = planned
        .iter()
        .map(|p| p.folder.as_str())
        .filter(|f| !f.is_empty())
        .collect();
    for folder in folders {
        remote.mkdir(folder).await?;
    }
    let bars = MultiProgress::new();
    let total_bytes: u64 = planned.iter().map(|p| p.size).sum();
    let total = bars.add(ProgressBar::new(total_bytes).with_style(bar_style()));
    total.set_message(format!("total ({} files)", planned.len()));
    let results: Vec<(String, ClientResult<Outcome>)> = futures_util::stream::iter(&planned)
        .map(|p| {
            let (bars, total) = (&bars, &total);
            async move {
                let result = upload_one(remote, p, options, bars, total).await;
                (p.remote_path(), result)
            }
        })
        .buffer_unordered(options.parallel.max(1))
        .collect()
        .await;
    total.finish_and_clear();
    let mut first_error = None;
    let (mut uploaded, mut unchanged) = (0, 0);
    for (path, result) in results {
        match result {
            Ok(Outcome::Uploaded) => {
                uploaded += 1;
                println!("uploaded  {path}");
            }
            Ok(Outcome::Unchanged) => {
                unchanged += 1;
                println!("unchanged {path}");
            }
            Err(e) => {
                eprintln!("failed    {path}: {e}");
                first_error.get_or_insert(e);
            }
        }
    }
    eprintln!(
        "{uploaded} uploaded, {unchanged} unchanged, {} failed",
        planned.len() - uploaded - unchanged
    );
    first_error.map_or(Ok(()), Err)
}

async fn upload_one(
    remote: &Remote,
    p: &Planned,
    options: &UploadOptions,
    bars: &MultiProgress,
    total: &ProgressBar,
) -> ClientResult<Outcome> {
    let local = p.local.clone();
    let hash = tokio::task::spawn_blocking(move || blake3_of(&local))
        .await
        .map_err(|e| ClientError::Local(e.to_string()))??;
    let size = p.size;
    let content_type = mime_guess::from_path(&p.local)
        .first_or_octet_stream()
        .essence_str()
        .to_string();
    let target = resumable::Target {
        local: &p.local,
        remote_path: p.remote_path(),
        size,
        folder: &p.folder,
        name: &p.name,
        content_type: &content_type,
        hash: &hash,
    };
    let sending = resumable::Sending {
        chunk: options.chunk,
        pace: options.pace.clone(),
    };
    let saved = (size > options.resumable_above)
        .then(|| resumable::Saved::new(remote, &target.remote_path, &hash));
    // An earlier run of this upload that was cut off left its file pending under this name.
    let resumed = match &saved {
        Some(saved) => resumable::saved_upload(remote, saved).await?,
        None => None,
    };
    if resumed.is_none() {
        if let Some(existing) = remote.file(&target.remote_path).await? {
            let same = existing.status == "uploaded"
                && remote.etag(&existing.url).await?.as_deref() == Some(hash.as_str());
            if same {
                total.inc(size);
                return Ok(Outcome::Unchanged);
            }
            // A pending file is another upload in progress, or one that lapsed and that the
            // server lets a new upload replace: creating the upload asks the server which.
            if options.overwrite {
                delete_file(remote, &p.folder, &p.name).await?;
            } else if existing.status != "pending" {
                return Err(ClientError::Refused {
                    status: StatusCode::CONFLICT,
                    message:
                        "A file with this name and other content exists (--overwrite replaces it)"
                            .into(),
                });
            }
        }
    }
    let bar = bars.insert_before(total, ProgressBar::new(size).with_style(bar_style()));
    bar.set_message(target.remote_path.clone());
    let bars = [bar.clone(), total.clone()];
    let sent = async {
        let Some(saved) = &saved else {
            return put(remote, &target, &sending, bars).await;
        };
        let (url, at) = match resumed {
            Some((url, at)) => {
                eprintln!("resuming {} at byte {at}", target.remote_path);
                (url, at)
            }
            None => (resumable::create(remote, &target, saved).await?, 0),
        };
        resumable::send(remote, &url, at, &target, &sending, saved, bars).await
    }
    .await;
    bar.finish_and_clear();
    sent.map(|()| Outcome::Uploaded)
}

/// Sends a file in one request to a presigned upload URL and waits until the drive has it.
async fn put(
    remote: &Remote,
    target: &resumable::Target<'_>,
    sending: &resumable::Sending,
    bars: [ProgressBar; 2],
) -> ClientResult<()> {
    let path = target.remote_path.as_str();
    let ticket = remote
        .call(
            Method::POST,
            "/v2/media/file",
            Some(json!({"name": target.name, "folder": target.folder,
                "contentType": target.content_type, "size": target.size})),
            path,
        )
        .await?;
    let upload_url = ticket["uploadUrl"]
        .as_str()
        .ok_or_else(|| ClientError::Local(format!("no upload URL in {ticket}")))?;
    let file = tokio::fs::File::open(target.local)
        .await
        .map_err(|e| local_error(target.local, e))?;
    let body = paced(
        ReaderStream::with_capacity(file, PIECE),
        sending.pace.clone(),
        bars,
    );
    let resp = remote
        .http
        .put(upload_url)
        .header(header::CONTENT_TYPE, target.content_type)
        .header(header::CONTENT_LENGTH, target.size)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .map_err(|e| ClientError::Unreachable(e.to_string()))?;
    let status = resp.status();
    if !status.is_success() {
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        return Err(refused(status, &answer));
    }
    // Object storage takes the bytes; the server confirms them soon after.
    for _ in 0..600 {
        match remote.file(path).await? {
            Some(f) if f.status == "uploaded" => return Ok(()),
            Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            None => return Err(ClientError::NotFound(path.to_string())),
        }
    }
    Err(ClientError::Local(format!(
        "{path}: the server did not confirm the upload within a minute"
    )))
}

pub async fn delete_file(remote: &Remote, folder: &str, name: &str) -> ClientResult<()> {
    remote
        .call(
            Method::DELETE,
            "/v2/media/file",
            Some(json!({"name": name, "folder": folder})),
            &format!("{folder}/{name}"),
        )
        .await
        .map(drop)
}

/// Downloads `file` to `dest`. The bytes go to a `.part` file named after the content's hash, so
/// an interrupted download resumes with a Range request only for the same content, and `dest`
/// appears only once every byte arrived and the hash matched.
pub async fn get(remote: &Remote, file: &RemoteFile, dest: &Path) -> ClientResult<u64> {
    let etag = remote
        .etag(&file.url)
        .await?
        .ok_or_else(|| ClientError::Local(format!("{}: served without an ETag", file.url)))?;
    let part = dest.with_file_name(format!(
        ".{}.{}.part",
        dest.file_name().unwrap_or_default().to_string_lossy(),
        &etag[..16.min(etag.len())]
    ));
    let have = tokio::fs::metadata(&part)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let mut request = remote.http.get(&file.url);
    if have > 0 && have < file.size {
        request = request
            .header(header::RANGE, format!("bytes={have}-"))
            .header(header::IF_RANGE, format!("\"{etag}\""));
    }
    let resp = request
        .send()
        .await
        .map_err(|e| ClientError::Unreachable(e.to_string()))?;
    let resumed = resp.status() == StatusCode::PARTIAL_CONTENT;
    if !resp.status().is_success() {
        let status = resp.status();
        return Err(refused(status, &resp.json().await.unwrap_or(Value::Null)));
    }
    let mut out = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(&part)
        .await
        .map_err(|e| local_error(&part, e))?;
    let bar = ProgressBar::new(file.size).with_style(bar_style());
    bar.set_message(file.name.clone());
    bar.set_position(if resumed { have } else { 0 });
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ClientError::Unreachable(e.to_string()))?;
        out.write_all(&chunk)
            .await
            .map_err(|e| local_error(&part, e))?;
        bar.inc(chunk.len() as u64);
    }
    out.flush().await.map_err(|e| local_error(&part, e))?;
    bar.finish_and_clear();
    let check = part.clone();
    let hash = tokio::task::spawn_blocking(move || blake3_of(&check))
        .await
        .map_err(|e| ClientError::Local(e.to_string()))??;
    if hash != etag {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(ClientError::Local(format!(
            "{}: the downloaded bytes do not match the file's hash; run get again",
            file.name
        )));
    }
    tokio::fs::rename(&part, dest)
        .await
        .map_err(|e| local_error(dest, e))?;
    Ok(if resumed { have } else { 0 })
}
