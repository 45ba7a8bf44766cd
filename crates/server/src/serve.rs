//! Stable URLs: `/{client_id}/files/{folder}/{name}`, served as a CDN would serve them.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::Response,
};
use chrono::Utc;
use futures_util::StreamExt;
use mediadrive_core::{
    blobs::ServedAs, paths::split_file_path, BlobError, CacheEntryId, ClientId, ContentHash,
    FileRecord, FileStatus, MediaType, ProbeStatus,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    preconditions::{
        evaluate, if_range_allows, parse_range, to_http_seconds, Precondition, RangeRequest,
    },
    telemetry, App,
};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServeParams {
    /// Any value but `0`/`false`: serve as an attachment (`Content-Disposition: attachment`).
    download: Option<String>,
    /// A preview instead of the file: `thumb-256`, `thumb-1024` (WebP; an image without one is
    /// its own thumbnail), `poster` (WebP, videos, needs ffmpeg), `waveform` (JSON peaks, audio).
    preview: Option<String>,
}

/// `?download` with any value but `0`/`false`.
fn attachment_requested(download: Option<&str>) -> bool {
    download.is_some_and(|v| v != "0" && v != "false")
}

/// Lifetime of the presigned GET a redirect points at.
const REDIRECT_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// Only exact stored paths resolve: a name that sanitisation would change was never stored.
async fn lookup(state: &App, client: &str, path: &str) -> ApiResult<Arc<FileRecord>> {
    let tenant = ClientId::parse(client).map_err(|_| ApiError::file_not_found())?;
    if let Some(file) = state.cache.file(&tenant, path) {
        return Ok(file);
    }
    let (folder, name) = split_file_path(path).map_err(|_| ApiError::file_not_found())?;
    let file = state
        .catalog
        .file(&tenant, &folder, &name)
        .await?
        .filter(|f| f.status == FileStatus::Uploaded && f.path() == path)
        .map(Arc::new)
        .ok_or_else(ApiError::file_not_found)?;
    state.cache.remember_file(file.clone());
    Ok(file)
}

/// The type the bytes really are once probed (issue 4: a file whose bytes contradict its declared
/// type is served as what it is), the declared type until then.
async fn served_type(state: &App, file: &FileRecord, hash: &ContentHash) -> String {
    if let Some(known) = state.cache.real_type(hash) {
        return known.unwrap_or_else(|| file.content_type.clone());
    }
    match state.catalog.blob_probes(std::slice::from_ref(hash)).await {
        Ok(mut probes) => match probes.pop() {
            Some(probe) if probe.status != ProbeStatus::Pending => {
                let real = mediadrive_app::probing::real_type(&probe);
                state.cache.remember_real_type(hash.clone(), real.clone());
                real.unwrap_or_else(|| file.content_type.clone())
            }
            _ => file.content_type.clone(),
        },
        Err(e) => {
            tracing::warn!(blob = %hash, error = %e, "could not read probe result");
            file.content_type.clone()
        }
    }
}

/// The record was read just before a delete on this or another node reclaimed its bytes.
fn missing_is_gone(e: BlobError) -> ApiError {
    match e {
        BlobError::NotFound => ApiError::file_not_found(),
        other => other.into(),
    }
}

/// The body of `count` bytes from `start`: from memory for small files, streamed otherwise.
async fn body(
    state: &App,
    size: u64,
    hash: &ContentHash,
    start: u64,
    count: u64,
) -> ApiResult<Body> {
    if !state.cache.holds(size) {
        let stream = state
            .blobs
            .read(hash, start, count)
            .await
            .map_err(missing_is_gone)?;
        return Ok(Body::from_stream(stream.inspect(|chunk| {
            if let Ok(chunk) = chunk {
                telemetry::sent(chunk.len());
            }
        })));
    }
    let whole = match state.cache.content(hash) {
        Some(whole) => whole,
        None => {
            let whole = state.blobs.read_all(hash).await.map_err(missing_is_gone)?;
            if whole.len() as u64 != size {
                return Err(ApiError::internal(format!(
                    "blob {hash} has the wrong length"
                )));
            }
            state.cache.remember_content(hash.clone(), whole.clone());
            whole
        }
    };
    // Counted as handed over: a body this small goes out in one write.
    telemetry::sent(count as usize);
    Ok(Body::from(
        whole.slice(start as usize..(start + count) as usize),
    ))
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// What one URL serves: some bytes, how to label them, how long caches may keep them.
struct Served {
    hash: ContentHash,
    len: u64,
    content_type: String,
    /// `Last-Modified`; none for bytes validated by their ETag alone.
    modified: Option<std::time::SystemTime>,
    /// The file name an attachment is saved as.
    name: String,
    max_age: u64,
}

/// Serves a file; GET and HEAD, single ranges, conditional requests.
#[utoipa::path(get, path = "/{client_id}/files/{path}", tag = "files",
    params(
        ("client_id" = String, Path, description = "The tenant"),
        ("path" = String, Path, description = "Folder and file name"),
        ServeParams,
    ),
    responses(
        (status = 200, description = "The file"),
        (status = 206, description = "One byte range of the file"),
        (status = 304, description = "Not modified"),
        (status = 404, description = "File not found", body = ErrorBody),
        (status = 412, description = "Precondition failed"),
        (status = 416, description = "Range not satisfiable"),
    ))]
pub async fn serve_file(
    State(state): State<App>,
    Path((client, path)): Path<(String, String)>,
    Query(params): Query<ServeParams>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let file = lookup(&state, &client, &path).await?;
    let source = file
        .blob
        .as_ref()
        .ok_or_else(|| ApiError::internal("uploaded file without a blob"))?;
    let (hash, len, preview_type) = match params.preview.as_deref() {
        None => (source.clone(), file.size, None),
        Some(name) => {
            let previews = state.catalog.previews(source).await?;
            match previews.into_iter().find(|p| p.name == name) {
                Some(p) => (p.blob, p.size, Some(p.content_type)),
                // Until (or unless) a thumbnail exists, an image is its own thumbnail.
                None if name.starts_with("thumb-") && file.media_type == MediaType::Image => {
                    (source.clone(), file.size, None)
                }
                None => return Err(ApiError::not_found("Preview not found")),
            }
        }
    };
    let content_type = match preview_type {
        Some(t) => t,
        None => served_type(&state, &file, &hash).await,
    };
    // updated_at moves with uploads, moves and renames: a path that now names other bytes is newer.
    // A preview's bytes change independently of the file's dates (a thumbnail replaces the
    // image standing in for it): previews are validated by their ETag alone.
    let modified = params
        .preview
        .is_none()
        .then(|| to_http_seconds(file.updated_at));
    let served = Served {
        hash,
        len,
        content_type,
        modified,
        name: file.name.to_string(),
        max_age: state.config.cache_max_age.as_secs(),
    };
    let attachment = attachment_requested(params.download.as_deref());
    respond(&state, served, &method, &headers, attachment).await
}

/// Serves an uploaded file's own bytes for a URL that is not its stable one (a signed link), which
/// caches may keep for `max_age` seconds at most.
pub(crate) async fn serve_record(
    state: &App,
    file: &FileRecord,
    method: &Method,
    headers: &HeaderMap,
    attachment: bool,
    max_age: u64,
) -> ApiResult<Response> {
    let hash = file
        .blob
        .clone()
        .filter(|_| file.status == FileStatus::Uploaded)
        .ok_or_else(ApiError::file_not_found)?;
    let served = Served {
        content_type: served_type(state, file, &hash).await,
        hash,
        len: file.size,
        modified: Some(to_http_seconds(file.updated_at)),
        name: file.name.to_string(),
        max_age: max_age.min(state.config.cache_max_age.as_secs()),
    };
    respond(state, served, method, headers, attachment).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CacheParams {
    /// Any value but `0`/`false`: serve as an attachment (`Content-Disposition: attachment`).
    download: Option<String>,
}

/// Serves a generated asset from the temporary cache; `410 Gone` once it expired.
#[utoipa::path(get, path = "/tmp/assets/{client_id}/{name}", tag = "files",
    params(
        ("client_id" = String, Path, description = "The tenant"),
        ("name" = String, Path, description = "Cache entry id and extension"),
        CacheParams,
    ),
    responses(
        (status = 200, description = "The asset"),
        (status = 206, description = "One byte range of the asset"),
        (status = 304, description = "Not modified"),
        (status = 404, description = "Asset not found", body = ErrorBody),
        (status = 410, description = "This asset has expired", body = ErrorBody),
    ))]
pub async fn serve_cached(
    State(state): State<App>,
    Path((client, name)): Path<(String, String)>,
    Query(params): Query<CacheParams>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let not_found = || ApiError::not_found("Asset not found");
    let (id, ext) = name.split_once('.').ok_or_else(not_found)?;
    // A malformed id names no entry: the same 404 as an unknown one.
    let Ok(id) = CacheEntryId::parse(id) else {
        return Err(not_found());
    };
    let entry = match state.catalog.cache_entry_by_id(&id).await? {
        Some(e) if e.tenant.as_str() == client && e.extension == ext => e,
        _ => return Err(not_found()),
    };
    let now = Utc::now();
    let hash = match &entry.blob {
        Some(hash) if entry.expires_at > now => hash.clone(),
        _ => return Err(ApiError::new(StatusCode::GONE, "This asset has expired")),
    };
    // A cache may keep it no longer than it lives.
    let remaining = (entry.expires_at - now).num_seconds().max(0) as u64;
    let served = Served {
        hash,
        len: entry.size,
        content_type: entry.content_type.clone(),
        modified: Some(to_http_seconds(entry.generated_at)),
        name,
        max_age: remaining.min(state.config.cache_max_age.as_secs()),
    };
    let attachment = attachment_requested(params.download.as_deref());
    respond(&state, served, &method, &headers, attachment).await
}

/// Whether bytes of this type may be served from the object store's origin, which cannot send
/// `nosniff` and `Content-Security-Policy: sandbox`: media a browser displays and never runs.
/// Anything else (HTML, SVG, scripts, documents, unknown types) is proxied with those headers.
fn redirectable(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/').unwrap_or_default();
    match kind {
        "video" | "audio" => true,
        "image" => !subtype.contains("svg") && !subtype.contains("xml"),
        _ => false,
    }
}

/// The response for some bytes: validators, preconditions, redirect or body, single ranges.
async fn respond(
    state: &App,
    served: Served,
    method: &Method,
    headers: &HeaderMap,
    attachment: bool,
) -> ApiResult<Response> {
    let hash = &served.hash;
    let len = served.len;
    let modified = served.modified;
    let etag = format!("\"{hash}\"");

    let mut builder = Response::builder().header(header::ETAG, &etag);
    if let Some(modified) = modified {
        builder = builder.header(header::LAST_MODIFIED, httpdate::fmt_http_date(modified));
    }
    builder = builder
        .header(header::ACCEPT_RANGES, "bytes")
        .header(
            header::CACHE_CONTROL,
            format!("public, max-age={}", served.max_age),
        )
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        // Files are user content on the API's origin: a type a browser would run (HTML, SVG) must
        // not run with that origin's rights.
        .header(header::CONTENT_SECURITY_POLICY, "sandbox");

    match evaluate(method, headers, &etag, modified) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            return Ok(builder
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .expect("valid response"));
        }
        Precondition::Failed => {
            return Ok(builder
                .status(StatusCode::PRECONDITION_FAILED)
                .body(Body::empty())
                .expect("valid response"));
        }
    }

    if state.config.serve_redirect
        && method == Method::GET
        && !attachment
        && redirectable(&served.content_type)
    {
        let served_as = ServedAs {
            content_type: served.content_type.clone(),
            content_disposition: format!("inline; filename=\"{}\"", served.name),
            cache_control: format!("public, max-age={}", served.max_age),
        };
        if let Some(url) = state
            .blobs
            .presign_read(hash, REDIRECT_TTL, &served_as)
            .await?
        {
            return Ok(builder
                .status(StatusCode::FOUND)
                .header(header::LOCATION, url)
                .header(header::CACHE_CONTROL, "no-store")
                .body(Body::empty())
                .expect("valid response"));
        }
    }
    builder = builder.header(header::CONTENT_TYPE, header_value(&served.content_type));
    if attachment {
        builder = builder.header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", served.name),
        );
    }

    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) if method == Method::GET && if_range_allows(headers, &etag, modified) => {
            parse_range(r, len)
        }
        _ => RangeRequest::Full,
    };
    let (status, start, count) = match range {
        RangeRequest::Full => (StatusCode::OK, 0, len),
        RangeRequest::Partial { start, end } => {
            builder = builder.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeRequest::Unsatisfiable => {
            return Ok(builder
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .body(Body::empty())
                .expect("valid response"));
        }
    };
    builder = builder.status(status).header(header::CONTENT_LENGTH, count);
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        body(state, len, hash, start, count).await?
    };
    Ok(builder.body(body).expect("valid response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_means_attachment_unless_it_says_no() {
        assert!(!attachment_requested(None));
        assert!(!attachment_requested(Some("0")));
        assert!(!attachment_requested(Some("false")));
        for yes in ["", "1", "true", "yes", "FALSE", "00"] {
            assert!(attachment_requested(Some(yes)), "{yes:?}");
        }
    }

    /// Bytes reclaimed between reading the record and reading them: the file is gone, not broken.
    #[test]
    fn missing_bytes_are_a_missing_file_and_other_faults_are_not() {
        let gone = missing_is_gone(BlobError::NotFound);
        assert_eq!(
            (gone.status, gone.message.as_str()),
            (StatusCode::NOT_FOUND, "File not found")
        );
        let broken = missing_is_gone(BlobError::Io(std::io::Error::other("disk")));
        assert_eq!(broken.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// A stored content type that is no header value is served as plain bytes.
    #[test]
    fn content_types_that_are_not_header_values_fall_back_to_bytes() {
        assert_eq!(header_value("video/mp4"), "video/mp4");
        assert_eq!(
            header_value("text/html; charset=utf-8"),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            header_value("text/html\r\nX-A: b"),
            "application/octet-stream"
        );
    }
}
