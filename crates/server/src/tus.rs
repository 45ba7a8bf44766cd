//! Resumable uploads through the tus 1.0 protocol (core, creation, creation-with-upload,
//! expiration, checksum, termination) at `/tus/`: a second way into the drive.
//!
//! An upload is a pending file like any other, reserved against the quota when it is created, with
//! its name taken. Each request appends one piece, made durable by the blob store before the
//! catalog counts it, so the offset a client is told survives a crash, a restart or a move to
//! another node. The request that brings the last byte hashes the whole and makes the file
//! `uploaded`, through the same steps as a presigned PUT.

use std::{collections::HashMap, time::Duration};

use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use base64::Engine;
use chrono::{DateTime, Utc};
use mediadrive_core::{
    Action, BlobError, CatalogError, FileId, FileName, FileRecord, FileStatus, FolderPath,
    NewUpload, ResumableUpload, UploadClaim,
};
use sha2::Digest;

use crate::{
    auth::Principal,
    error::{ApiError, ErrorBody},
    held_claim::HeldClaim,
    state::AppState,
    upload::{self, BodyReader},
};

pub const TUS_VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,creation-with-upload,expiration,checksum,termination";
const CHECKSUM_ALGORITHMS: &str = "sha1,sha256,md5";
const OFFSET_STREAM: &str = "application/offset+octet-stream";
/// How long a request appending bytes holds its upload. It renews the hold while it streams, so
/// the upload of a node that died is free again this soon, not after `upload_claim_ttl`.
const HOLD: Duration = Duration::from_secs(30);
const RENEW_EVERY: Duration = Duration::from_secs(10);
/// The tus checksum extension's status for a piece whose checksum does not match.
const CHECKSUM_MISMATCH: u16 = 460;

pub const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
pub const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
pub const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
pub const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
pub const UPLOAD_CHECKSUM: HeaderName = HeaderName::from_static("upload-checksum");
pub const UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");
const TUS_VERSION_HEADER: HeaderName = HeaderName::from_static("tus-version");
const TUS_EXTENSION: HeaderName = HeaderName::from_static("tus-extension");
const TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
const TUS_CHECKSUM_ALGORITHM: HeaderName = HeaderName::from_static("tus-checksum-algorithm");
const UPLOAD_CONCAT: HeaderName = HeaderName::from_static("upload-concat");
const METHOD_OVERRIDE: HeaderName = HeaderName::from_static("x-http-method-override");

/// The headers a browser client must be allowed to send and to read, for CORS.
pub const REQUEST_HEADERS: [HeaderName; 5] = [
    TUS_RESUMABLE,
    UPLOAD_OFFSET,
    UPLOAD_LENGTH,
    UPLOAD_METADATA,
    UPLOAD_CHECKSUM,
];
pub const RESPONSE_HEADERS: [HeaderName; 10] = [
    header::LOCATION,
    TUS_RESUMABLE,
    UPLOAD_OFFSET,
    UPLOAD_LENGTH,
    UPLOAD_METADATA,
    UPLOAD_EXPIRES,
    TUS_VERSION_HEADER,
    TUS_EXTENSION,
    TUS_MAX_SIZE,
    TUS_CHECKSUM_ALGORITHM,
];

/// An error of the tus surface, in the drive's error shape.
pub struct TusError(ApiError);

impl From<ApiError> for TusError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<CatalogError> for TusError {
    fn from(e: CatalogError) -> Self {
        Self(e.into())
    }
}

impl From<BlobError> for TusError {
    fn from(e: BlobError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for TusError {
    fn into_response(self) -> Response {
        let version_refused = self.0.status == StatusCode::PRECONDITION_FAILED;
        let checksum_refused = self.0.status.as_u16() == CHECKSUM_MISMATCH;
        let mut response = self.0.into_response();
        if checksum_refused {
            // The status is tus's own; without a reason phrase hyper's status line has none.
            response
                .extensions_mut()
                .insert(hyper::ext::ReasonPhrase::from_static(b"Checksum Mismatch"));
        }
        if version_refused {
            response
                .headers_mut()
                .insert(TUS_VERSION_HEADER, HeaderValue::from_static(TUS_VERSION));
        }
        response
    }
}

type TusResult<T> = Result<T, TusError>;

fn upload_not_found() -> TusError {
    ApiError::not_found("Upload not found").into()
}

/// An answer without a body, carrying `headers`.
fn answer(status: StatusCode, headers: Vec<(HeaderName, String)>) -> Response {
    let mut response = status.into_response();
    let map = response.headers_mut();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::try_from(value) {
            map.insert(name, value);
        }
    }
    response
}

/// Whether the body is sent as `application/offset+octet-stream` (any case, parameters aside).
fn offset_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(OFFSET_STREAM))
}

fn http_date(at: DateTime<Utc>) -> String {
    httpdate::fmt_http_date(at.into())
}

/// Every request but OPTIONS names the protocol version it speaks; only 1.0.0 is spoken here.
fn check_version(headers: &HeaderMap) -> TusResult<()> {
    match headers.get(&TUS_RESUMABLE).and_then(|v| v.to_str().ok()) {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(TusError(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "Tus-Resumable must be 1.0.0",
        ))),
    }
}

fn number_header(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, ()> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse().ok())
            .map(Some)
            .ok_or(()),
    }
}

/// `Upload-Metadata`: comma-separated pairs of a key and its base64 value (which may be absent).
fn parse_metadata(raw: &str) -> Result<HashMap<String, Vec<u8>>, String> {
    let mut pairs = HashMap::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut parts = pair.split(' ').filter(|p| !p.is_empty());
        let key = parts.next().unwrap_or_default();
        let value = match parts.next() {
            Some(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| format!("the value of {key} is not base64"))?,
            None => Vec::new(),
        };
        if parts.next().is_some() {
            return Err(format!("{key} has more than one value"));
        }
        if pairs.insert(key.to_string(), value).is_some() {
            return Err(format!("{key} is given twice"));
        }
    }
    Ok(pairs)
}

fn metadata_text<'a>(
    metadata: &'a HashMap<String, Vec<u8>>,
    keys: &[&str],
) -> TusResult<Option<&'a str>> {
    for key in keys {
        if let Some(value) = metadata.get(*key) {
            return std::str::from_utf8(value).map(Some).map_err(|_| {
                ApiError::bad_request(format!("Upload-Metadata: {key} is not UTF-8 text")).into()
            });
        }
    }
    Ok(None)
}

/// Where in the drive the upload goes and as what, from its metadata: `filename` (or `name`),
/// `filetype` (or `type`, `contentType`; guessed from the name otherwise) and `folder`.
fn destination(metadata: &HashMap<String, Vec<u8>>) -> TusResult<(FolderPath, FileName, String)> {
    let name = metadata_text(metadata, &["filename", "name"])?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("Upload-Metadata must give the filename"))?;
    let name = FileName::sanitise(name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let content_type = match metadata_text(metadata, &["filetype", "type", "contentType"])? {
        Some(ct) if !ct.trim().is_empty() => ct.trim().to_string(),
        _ => mime_guess::from_path(name.as_str())
            .first_or_octet_stream()
            .essence_str()
            .to_string(),
    };
    if !crate::api::valid_content_type(&content_type) {
        return Err(ApiError::bad_request("filetype must be a MIME type such as video/mp4").into());
    }
    let folder = FolderPath::sanitise_or_root(metadata_text(metadata, &["folder"])?)
        .map_err(|_| ApiError::bad_request("Invalid folder name"))?;
    Ok((folder, name, content_type))
}

/// A piece's `Upload-Checksum`, computed over its bytes as they arrive.
enum Checksum {
    Sha1(sha1::Sha1, Vec<u8>),
    Sha256(sha2::Sha256, Vec<u8>),
    Md5(md5::Md5, Vec<u8>),
}

impl Checksum {
    fn parse(headers: &HeaderMap) -> TusResult<Option<Self>> {
        let Some(value) = headers.get(&UPLOAD_CHECKSUM) else {
            return Ok(None);
        };
        let bad =
            || ApiError::bad_request("Upload-Checksum must be an algorithm and a base64 digest");
        let (algorithm, digest) = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().split_once(' '))
            .ok_or_else(bad)?;
        let digest = base64::engine::general_purpose::STANDARD
            .decode(digest.trim())
            .map_err(|_| bad())?;
        Ok(Some(match algorithm {
            "sha1" => Self::Sha1(sha1::Sha1::new(), digest),
            "sha256" => Self::Sha256(sha2::Sha256::new(), digest),
            "md5" => Self::Md5(md5::Md5::new(), digest),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Unsupported checksum algorithm {algorithm}; use one of {CHECKSUM_ALGORITHMS}"
                ))
                .into())
            }
        }))
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha1(h, _) => h.update(bytes),
            Self::Sha256(h, _) => h.update(bytes),
            Self::Md5(h, _) => h.update(bytes),
        }
    }

    fn matches(self) -> bool {
        match self {
            Self::Sha1(h, want) => h.finalize().as_slice() == want,
            Self::Sha256(h, want) => h.finalize().as_slice() == want,
            Self::Md5(h, want) => h.finalize().as_slice() == want,
        }
    }
}

fn checksum_mismatch() -> TusError {
    ApiError::new(
        StatusCode::from_u16(CHECKSUM_MISMATCH).expect("460 is a valid status"),
        "Upload-Checksum does not match the bytes received",
    )
    .into()
}

/// Server capabilities: version, extensions, largest upload, checksum algorithms.
#[utoipa::path(options, path = "/tus/", tag = "tus",
    responses((status = 204, description = "Tus-Version, Tus-Extension, Tus-Max-Size and Tus-Checksum-Algorithm")))]
pub async fn discover(State(state): State<AppState>) -> Response {
    answer(
        StatusCode::NO_CONTENT,
        vec![
            (TUS_VERSION_HEADER, TUS_VERSION.to_string()),
            (TUS_EXTENSION, EXTENSIONS.to_string()),
            (TUS_MAX_SIZE, state.config.tus.max_size_bytes.to_string()),
            (TUS_CHECKSUM_ALGORITHM, CHECKSUM_ALGORITHMS.to_string()),
        ],
    )
}

/// What every answer under `/tus/` shares, whoever gives it (a handler, or a layer such as CORS
/// or the router's `405`): the `Tus-Resumable` header. tus clients discover the server with a
/// plain OPTIONS, which the CORS layer would take for a preflight, so it is answered here first;
/// a real preflight names the method it asks about.
pub async fn envelope(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    if path != "/tus" && !path.starts_with("/tus/") {
        return next.run(request).await;
    }
    let discovery = request.method() == axum::http::Method::OPTIONS
        && !request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if discovery {
        discover(State(state)).await
    } else {
        next.run(request).await
    };
    response
        .headers_mut()
        .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    response
}

/// Creates an upload: a pending file of `Upload-Length` bytes, placed by `Upload-Metadata`
/// (`filename`, `filetype`, `folder`). With a body of type `application/offset+octet-stream`,
/// its bytes are the upload's first.
#[utoipa::path(post, path = "/tus/", tag = "tus",
    security(("api_key" = [])),
    params(
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Length" = u64, Header, description = "The upload's size in bytes"),
        ("Upload-Metadata" = Option<String>, Header, description = "filename, filetype, folder: each a key and its base64 value, comma-separated"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream", description = "Optional: the upload's first bytes"),
    responses(
        (status = 201, description = "Created; Location is the upload's URL, Upload-Expires when it lapses unless bytes arrive"),
        (status = 400, description = "Upload-Length must be a positive number | Upload-Metadata must give the filename | Invalid folder name", body = ErrorBody),
        (status = 403, description = "Storage is blocked. Add credits to continue uploading. | Insufficient permissions", body = ErrorBody),
        (status = 409, description = "A file with this name already exists. Delete it first.", body = ErrorBody),
        (status = 412, description = "Tus-Resumable must be 1.0.0", body = ErrorBody),
        (status = 413, description = "Upload-Length exceeds Tus-Max-Size", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> TusResult<Response> {
    check_version(&headers)?;
    let principal = principal?;
    principal.authorize(Action::Upload)?;
    if headers.contains_key(&UPLOAD_DEFER_LENGTH) {
        return Err(ApiError::bad_request(
            "Upload-Defer-Length is not supported; send Upload-Length",
        )
        .into());
    }
    if headers.contains_key(&UPLOAD_CONCAT) {
        return Err(ApiError::bad_request(
            "Upload-Concat is not supported: the concatenation extension is not offered",
        )
        .into());
    }
    let length = number_header(&headers, &UPLOAD_LENGTH)
        .ok()
        .flatten()
        .filter(|l| *l > 0)
        .ok_or_else(|| ApiError::bad_request("Upload-Length must be a positive number"))?;
    let max = state.config.tus.max_size_bytes;
    if length > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Upload-Length exceeds Tus-Max-Size ({max} bytes)"),
        )
        .into());
    }
    let raw_metadata = match headers.get(&UPLOAD_METADATA) {
        Some(v) => v
            .to_str()
            .map_err(|_| ApiError::bad_request("Upload-Metadata must be ASCII"))?
            .to_string(),
        None => String::new(),
    };
    let metadata = parse_metadata(&raw_metadata)
        .map_err(|why| ApiError::bad_request(format!("Upload-Metadata is malformed: {why}")))?;
    let (folder, name, content_type) = destination(&metadata)?;
    let checksum = Checksum::parse(&headers)?;
    let now = Utc::now();
    let file = state
        .catalog
        .reserve_resumable_upload(
            &NewUpload {
                tenant: principal.tenant.clone(),
                folder,
                name,
                content_type,
                size: length,
                now,
                upload_expires_at: now + state.config.tus.expiry(),
                default_quota: state.config.default_quota,
            },
            &raw_metadata,
        )
        .await?;
    let location = state.url(&format!("/tus/{}", file.id));
    let mut extra = vec![(header::LOCATION, location)];
    if offset_stream(&headers) {
        // The upload exists now whatever becomes of its first bytes: the client is told where it
        // is and how much of it arrived, and may go on from there.
        let upload = ResumableUpload {
            file,
            offset: 0,
            metadata: raw_metadata,
        };
        let outcome = append_claimed(&state, &upload, 0, checksum, body).await;
        let (offset, expires) = match outcome {
            Ok(appended) => {
                if let Some(blob) = appended.blob {
                    extra.push((header::ETAG, format!("\"{blob}\"")));
                }
                (appended.offset, appended.expires)
            }
            Err(TusError(e)) => {
                if e.status.is_server_error() {
                    tracing::warn!(upload = %upload.file.id, status = %e.status, error = %e.message,
                        "the bytes sent with a creation could not be stored");
                } else {
                    tracing::info!(upload = %upload.file.id, status = %e.status, error = %e.message,
                        "the bytes sent with a creation were not all taken");
                }
                resumed_at(&state, &upload.file.id).await?
            }
        };
        extra.push((UPLOAD_OFFSET, offset.to_string()));
        if let Some(at) = expires {
            extra.push((UPLOAD_EXPIRES, http_date(at)));
        }
    } else if let Some(at) = file.upload_expires_at {
        extra.push((UPLOAD_EXPIRES, http_date(at)));
    }
    Ok(answer(StatusCode::CREATED, extra))
}

/// Where a client goes on from after a creation whose bytes were not all taken.
async fn resumed_at(state: &AppState, id: &FileId) -> TusResult<(u64, Option<DateTime<Utc>>)> {
    let current = state.catalog.resumable_upload(id).await?;
    let offset = current.as_ref().map_or(0, |u| u.offset);
    Ok((offset, current.and_then(|u| u.file.upload_expires_at)))
}

/// The caller's own upload `id`.
async fn upload_of(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> TusResult<ResumableUpload> {
    let id = FileId::parse(id).map_err(|_| upload_not_found())?;
    match state.catalog.resumable_upload(&id).await? {
        Some(upload) if upload.file.tenant == principal.tenant => Ok(upload),
        _ => Err(upload_not_found()),
    }
}

fn expired(file: &FileRecord, now: DateTime<Utc>) -> bool {
    file.status == FileStatus::Pending && file.upload_expires_at.is_some_and(|at| at < now)
}

fn gone() -> TusError {
    ApiError::new(StatusCode::GONE, "Upload has expired").into()
}

/// How far an upload got: `Upload-Offset` of `Upload-Length`, its metadata, when it expires.
#[utoipa::path(head, path = "/tus/{id}", tag = "tus",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Upload id, the last part of the Location"),
        ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses(
        (status = 200, description = "Upload-Offset, Upload-Length, Upload-Metadata, Upload-Expires"),
        (status = 404, description = "Upload not found"),
        (status = 410, description = "Upload has expired"),
    ))]
pub async fn offset(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> TusResult<Response> {
    check_version(&headers)?;
    let principal = principal?;
    principal.authorize(Action::Upload)?;
    let upload = upload_of(&state, &principal, &id).await?;
    if expired(&upload.file, Utc::now()) {
        return Err(gone());
    }
    let mut extra = vec![
        (UPLOAD_OFFSET, upload.offset.to_string()),
        (UPLOAD_LENGTH, upload.file.size.to_string()),
        (header::CACHE_CONTROL, "no-store".to_string()),
    ];
    if !upload.metadata.is_empty() {
        extra.push((UPLOAD_METADATA, upload.metadata.clone()));
    }
    if let Some(at) = upload.file.upload_expires_at {
        extra.push((UPLOAD_EXPIRES, http_date(at)));
    }
    if let Some(blob) = &upload.file.blob {
        extra.push((header::ETAG, format!("\"{blob}\"")));
    }
    Ok(answer(StatusCode::OK, extra))
}

/// Appends bytes at `Upload-Offset`, which must be the upload's offset. The request that brings
/// the last byte makes the file `uploaded` (its `ETag` is the content hash).
#[utoipa::path(patch, path = "/tus/{id}", tag = "tus",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Upload id, the last part of the Location"),
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Offset" = u64, Header, description = "Where these bytes go: the upload's offset"),
        ("Upload-Checksum" = Option<String>, Header, description = "sha1, sha256 or md5, a space and the base64 digest of this request's bytes")),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "Upload-Offset: the new offset"),
        (status = 400, description = "Upload-Offset must be a number | Upload-Checksum must be an algorithm and a base64 digest", body = ErrorBody),
        (status = 404, description = "Upload not found", body = ErrorBody),
        (status = 409, description = "Upload-Offset does not match the upload's offset", body = ErrorBody),
        (status = 410, description = "Upload has expired", body = ErrorBody),
        (status = 413, description = "The bytes go past Upload-Length", body = ErrorBody),
        (status = 415, description = "Content-Type must be application/offset+octet-stream", body = ErrorBody),
        (status = 423, description = "Another request is appending to this upload", body = ErrorBody),
        (status = 460, description = "Upload-Checksum does not match the bytes received", body = ErrorBody),
    ))]
pub async fn append(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> TusResult<Response> {
    check_version(&headers)?;
    let principal = principal?;
    principal.authorize(Action::Upload)?;
    if !offset_stream(&headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/offset+octet-stream",
        )
        .into());
    }
    let at = number_header(&headers, &UPLOAD_OFFSET)
        .ok()
        .flatten()
        .ok_or_else(|| ApiError::bad_request("Upload-Offset must be a number"))?;
    let checksum = Checksum::parse(&headers)?;
    let upload = upload_of(&state, &principal, &id).await?;
    if expired(&upload.file, Utc::now()) {
        return Err(gone());
    }
    if at != upload.offset {
        return Err(offset_mismatch(at, upload.offset));
    }
    if upload.file.status == FileStatus::Uploaded {
        // A client whose last answer was lost asks again: it is told what the upload became.
        let mut extra = vec![(UPLOAD_OFFSET, upload.offset.to_string())];
        if let Some(blob) = &upload.file.blob {
            extra.push((header::ETAG, format!("\"{blob}\"")));
        }
        return Ok(answer(StatusCode::NO_CONTENT, extra));
    }
    let appended = append_claimed(&state, &upload, at, checksum, body).await?;
    let mut extra = vec![(UPLOAD_OFFSET, appended.offset.to_string())];
    if let Some(at) = appended.expires {
        extra.push((UPLOAD_EXPIRES, http_date(at)));
    }
    if let Some(blob) = appended.blob {
        extra.push((header::ETAG, format!("\"{blob}\"")));
    }
    Ok(answer(StatusCode::NO_CONTENT, extra))
}

fn offset_mismatch(sent: u64, actual: u64) -> TusError {
    ApiError::conflict(format!(
        "Upload-Offset {sent} does not match the upload's offset {actual}"
    ))
    .into()
}

/// Where an upload stands after a request appended to it.
struct Appended {
    offset: u64,
    expires: Option<DateTime<Utc>>,
    /// The content hash, once the upload is complete.
    blob: Option<mediadrive_core::ContentHash>,
}

/// Holds an upload while one request appends to it, renewing the hold until it ends.
async fn take_hold(state: &AppState, file: &FileRecord) -> TusResult<HeldClaim> {
    let now = Utc::now();
    let until = now + HOLD;
    match state.catalog.claim_upload(&file.id, now, until).await? {
        UploadClaim::Claimed(_) => {
            Ok(HeldClaim::new(state, &file.id, until).renewed(RENEW_EVERY, HOLD))
        }
        UploadClaim::InProgress => Err(another_request()),
        UploadClaim::AlreadyUploaded => Err(ApiError::conflict("Upload already completed").into()),
        UploadClaim::Missing => Err(upload_not_found()),
    }
}

/// Appends the body at `at` while holding the upload.
async fn append_claimed(
    state: &AppState,
    upload: &ResumableUpload,
    at: u64,
    checksum: Option<Checksum>,
    body: Body,
) -> TusResult<Appended> {
    let hold = take_hold(state, &upload.file).await?;
    // Read again under the hold: a request that ended meanwhile may have moved the offset.
    let outcome = match state.catalog.resumable_upload(&upload.file.id).await {
        Ok(Some(now)) if now.offset != at => Err(offset_mismatch(at, now.offset)),
        Ok(Some(_)) => match state.limits.start_upload(&upload.file.tenant) {
            Ok(_slot) => append_held(state, &upload.file, at, checksum, body, &hold).await,
            Err(e) => Err(e.into()),
        },
        Ok(None) => Err(upload_not_found()),
        Err(e) => Err(e.into()),
    };
    hold.release().await;
    outcome
}

async fn append_held(
    state: &AppState,
    file: &FileRecord,
    at: u64,
    mut checksum: Option<Checksum>,
    body: Body,
    hold: &HeldClaim,
) -> TusResult<Appended> {
    let room = file.size - at;
    let mut piece = match state.blobs.append_partial(&file.id, at).await {
        Ok(piece) => piece,
        Err(e) => return Err(lost_or(state, file, e).await),
    };
    let mut body = BodyReader::new(state, body);
    let streamed: TusResult<()> = loop {
        match body.next().await {
            Ok(Some(chunk)) => {
                if body.received() > room {
                    // Nothing of a body that does not fit is counted; the piece is closed before
                    // the hold is released, so no write of it lands under the next request's.
                    let _ = piece.close().await;
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "The bytes go past Upload-Length",
                    )
                    .into());
                }
                if let Some(c) = &mut checksum {
                    c.update(&chunk);
                }
                if let Err(e) = piece.write(chunk).await {
                    break Err(e.into());
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e.into()),
        }
    };
    if let Err(e) = streamed {
        // What arrived before the connection broke is kept, so the client need not send it
        // again; a piece its checksum was to vouch for is not. Either way the piece is closed
        // before the hold is released.
        match piece.close().await {
            Ok(kept) if checksum.is_none() && kept > 0 && at + kept < file.size => {
                advance(state, file, at, at + kept, hold).await?;
            }
            Ok(_) => {}
            Err(close) => {
                tracing::warn!(upload = %file.id, error = %close, "could not keep the bytes of a broken request");
            }
        }
        return Err(e);
    }
    let written = piece.close().await?;
    if checksum.is_some_and(|c| !c.matches()) {
        return Err(checksum_mismatch());
    }
    let offset = at + written;
    if offset < file.size {
        let expires = advance(state, file, at, offset, hold).await?;
        return Ok(Appended {
            offset,
            expires: Some(expires),
            blob: None,
        });
    }
    // Another request may hold the upload now if this one could not renew its hold for long.
    if !hold.confirm(HOLD).await? {
        return Err(another_request());
    }
    let done = finish(state, file).await?;
    Ok(Appended {
        offset,
        expires: None,
        blob: done.blob,
    })
}

/// Counts bytes up to `to`; returns the upload's new expiry.
async fn advance(
    state: &AppState,
    file: &FileRecord,
    from: u64,
    to: u64,
    hold: &HeldClaim,
) -> TusResult<DateTime<Utc>> {
    let expires = Utc::now() + state.config.tus.expiry();
    let term = hold.term().await;
    let counted = state
        .catalog
        .advance_resumable_upload(&file.id, from, to, expires, *term)
        .await?;
    drop(term);
    if counted {
        return Ok(expires);
    }
    Err(match state.catalog.resumable_upload(&file.id).await? {
        // The offset is as this request left it, so its hold lapsed and another request has it.
        Some(now) if now.file.status == FileStatus::Pending && now.offset == from => {
            another_request()
        }
        Some(now) if now.file.status == FileStatus::Pending => offset_mismatch(from, now.offset),
        _ => upload_not_found(),
    })
}

fn another_request() -> TusError {
    let mut e = ApiError::new(
        StatusCode::LOCKED,
        "Another request is appending to this upload; retry when it has ended",
    );
    e.retry_after = Some(1);
    e.into()
}

/// Hashes the whole upload and makes the file `uploaded`, as a presigned PUT's last byte does.
/// Until that is recorded the offset stays where it was, so a client whose last request failed
/// sends its last piece again.
async fn finish(state: &AppState, file: &FileRecord) -> TusResult<FileRecord> {
    let assembled = match state.blobs.assemble_partial(&file.id, file.size).await {
        Ok(mut staged) => staged.finish().await.map(|done| (staged, done)),
        Err(e) => Err(e),
    };
    let (staged, (hash, len)) = match assembled {
        Ok(assembled) => assembled,
        Err(e) => return Err(lost_or(state, file, e).await),
    };
    if len != file.size {
        return Err(ApiError::internal(format!(
            "upload {} assembled {len} of {} bytes",
            file.id, file.size
        ))
        .into());
    }
    upload::lease_blob(state, &hash, len).await?;
    let done = upload::commit(state, file, staged, &hash).await?;
    discard(state, &file.id).await;
    Ok(done)
}

/// The answer to a blob store error. Bytes the catalog counted but the store no longer holds (a
/// restore without `partial/`, a disk replaced) cannot come back: the upload is removed, so its
/// name and reservation are free, and the client is told to start again.
async fn lost_or(state: &AppState, file: &FileRecord, e: BlobError) -> TusError {
    if !matches!(e, BlobError::PartialLost(_)) {
        return e.into();
    }
    tracing::error!(upload = %file.id, error = %e, "a resumable upload lost bytes it had counted; it is removed");
    if let Err(removing) = remove(state, &file.id).await {
        return removing;
    }
    ApiError::new(
        StatusCode::GONE,
        "Upload lost bytes it had acknowledged; create it again",
    )
    .into()
}

/// Removes upload `id` and its bytes while it is pending; false when it was not.
async fn remove(state: &AppState, id: &FileId) -> TusResult<bool> {
    let Some(cancelled) = state.catalog.cancel_pending_upload(id).await? else {
        return Ok(false);
    };
    state.cache.forget_tenant(&cancelled.tenant);
    discard(state, id).await;
    Ok(true)
}

/// Drops an upload's bytes; the sweep retries what fails here.
pub async fn discard(state: &AppState, id: &FileId) {
    if let Err(e) = state.blobs.discard_partial(id).await {
        tracing::warn!(upload = %id, error = %e, "could not remove a resumable upload's bytes; the sweep retries");
    }
}

/// Gives up an unfinished upload: its name, reservation and bytes are released.
#[utoipa::path(delete, path = "/tus/{id}", tag = "tus",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Upload id, the last part of the Location"),
        ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses(
        (status = 204, description = "Terminated"),
        (status = 404, description = "Upload not found", body = ErrorBody),
        (status = 409, description = "Upload already completed: delete the file through the drive", body = ErrorBody),
    ))]
pub async fn terminate(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> TusResult<Response> {
    check_version(&headers)?;
    let principal = principal?;
    principal.authorize(Action::Upload)?;
    let upload = upload_of(&state, &principal, &id).await?;
    if remove(&state, &upload.file.id).await? {
        return Ok(answer(StatusCode::NO_CONTENT, Vec::new()));
    }
    // No longer pending: completed (it is a drive file now), or removed by another request.
    upload_of(&state, &principal, &id).await?;
    Err(ApiError::conflict("Upload already completed: delete the file through the drive").into())
}

/// A `PATCH`, `HEAD` or `DELETE` sent as a `POST` with `X-HTTP-Method-Override`, as clients
/// behind proxies that pass only GET and POST do; tus requires the server to honour it.
pub async fn method_override(
    state: State<AppState>,
    principal: Result<Principal, ApiError>,
    id: Path<String>,
    headers: HeaderMap,
    body: Body,
) -> TusResult<Response> {
    let method = headers
        .get(&METHOD_OVERRIDE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_uppercase();
    match method.as_str() {
        "PATCH" => append(state, principal, id, headers, body).await,
        "HEAD" => offset(state, principal, id, headers).await,
        "DELETE" => terminate(state, principal, id, headers).await,
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST to an upload needs X-HTTP-Method-Override: PATCH, HEAD or DELETE",
        )
        .into()),
    }
}

/// Drops the bytes of resumable uploads the catalog no longer holds pending: expired, terminated,
/// completed, or deleted through the drive. One that cannot be dropped now is left for the next
/// sweep, without holding up the others.
pub async fn sweep_partials(state: &AppState) -> Result<(), BlobError> {
    let mut removed = 0;
    for upload in state.blobs.partial_uploads().await? {
        let pending = match state.catalog.file_by_id(&upload).await {
            Ok(file) => file.is_some_and(|f| f.status == FileStatus::Pending),
            Err(CatalogError::NotFound) => false,
            Err(e) => {
                tracing::warn!(upload = %upload, error = %e, "could not check a resumable upload");
                continue;
            }
        };
        if pending {
            continue;
        }
        match state.blobs.discard_partial(&upload).await {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::warn!(upload = %upload, error = %e, "could not remove a resumable upload's bytes")
            }
        }
    }
    if removed > 0 {
        tracing::info!(
            removed,
            "dropped the bytes of finished or abandoned resumable uploads"
        );
    }
    Ok(())
}

#[cfg(test)]
#[path = "tus_tests.rs"]
mod parser_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_pairs_decode_and_duplicates_are_refused() {
        let parsed = parse_metadata(
            "filename d29ybGRfZG9taW5hdGlvbi5tcDQ=,is_confidential, folder cmVuZGVycw==",
        )
        .unwrap();
        assert_eq!(parsed["filename"], b"world_domination.mp4");
        assert_eq!(parsed["is_confidential"], b"");
        assert_eq!(parsed["folder"], b"renders");
        assert!(parse_metadata("a YQ==,a Yg==").is_err());
        assert!(parse_metadata("a not-base64!").is_err());
        assert!(parse_metadata("a YQ== Yg==").is_err());
        assert!(parse_metadata("").unwrap().is_empty());
    }

    #[test]
    fn checksums_match_only_their_digest() {
        let mut headers = HeaderMap::new();
        // sha1("hello")
        headers.insert(
            UPLOAD_CHECKSUM,
            HeaderValue::from_static("sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00="),
        );
        let mut c = Checksum::parse(&headers).ok().flatten().unwrap();
        c.update(b"hel");
        c.update(b"lo");
        assert!(c.matches());
        let mut c = Checksum::parse(&headers).ok().flatten().unwrap();
        c.update(b"hellO");
        assert!(!c.matches());
        headers.insert(UPLOAD_CHECKSUM, HeaderValue::from_static("crc32 AAAA"));
        assert!(Checksum::parse(&headers).is_err());
        headers.insert(UPLOAD_CHECKSUM, HeaderValue::from_static("sha1"));
        assert!(Checksum::parse(&headers).is_err());
    }
}
