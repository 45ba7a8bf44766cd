//! The tus routes: each checks the protocol version, then the caller, then what the request
//! says, and leaves the upload's bytes and records to the engine.

use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::Response,
};
use chrono::Utc;
use mediadrive_app::uploads::resumable::{self as engine, Creation};
use mediadrive_core::{FileStatus, ResumableUpload};

use super::protocol::*;
use crate::{
    auth::{can, Authorized},
    error::{ApiError, ErrorBody},
    upload, App,
};

/// A caller allowed to upload. Every route takes it as a `Result`, so that a request in another
/// protocol version is refused for that first, as tus requires, before its key is looked at.
type Uploader = Authorized<can::Upload, TusError>;

/// Server capabilities: version, extensions, largest upload, checksum algorithms.
#[utoipa::path(options, path = "/tus/", tag = "tus",
    responses((status = 204, description = "Tus-Version, Tus-Extension, Tus-Max-Size and Tus-Checksum-Algorithm")))]
pub async fn discover(State(state): State<App>) -> Response {
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
    State(state): State<App>,
    principal: Result<Uploader, TusError>,
    headers: HeaderMap,
    body: Body,
) -> TusResult<Response> {
    check_version(&headers)?;
    let principal = principal?;
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
    let checksum = checksum(&headers)?;
    let file = engine::create(
        &state,
        Creation {
            tenant: principal.tenant.clone(),
            folder,
            name,
            content_type,
            length,
            metadata: raw_metadata.clone(),
        },
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
        let outcome =
            engine::append_claimed(&state, &upload, 0, checksum, upload::byte_stream(body)).await;
        let (offset, expires) = match outcome {
            Ok(appended) => {
                if let Some(blob) = appended.blob {
                    extra.push((header::ETAG, format!("\"{blob}\"")));
                }
                (appended.offset, appended.expires)
            }
            Err(e) => {
                let TusError(e) = e.into();
                if e.status.is_server_error() {
                    tracing::warn!(upload = %upload.file.id, status = %e.status, error = %e.message,
                        "the bytes sent with a creation could not be stored");
                } else {
                    tracing::info!(upload = %upload.file.id, status = %e.status, error = %e.message,
                        "the bytes sent with a creation were not all taken");
                }
                engine::resumed_at(&state, &upload.file.id).await?
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
    State(state): State<App>,
    principal: Result<Uploader, TusError>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> TusResult<Response> {
    check_version(&headers)?;
    let principal = principal?;
    let upload = engine::upload_of(&state, &principal.tenant, &id).await?;
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
    State(state): State<App>,
    principal: Result<Uploader, TusError>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> TusResult<Response> {
    check_version(&headers)?;
    let principal = principal?;
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
    let checksum = checksum(&headers)?;
    let upload = engine::upload_of(&state, &principal.tenant, &id).await?;
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
    let appended =
        engine::append_claimed(&state, &upload, at, checksum, upload::byte_stream(body)).await?;
    let mut extra = vec![(UPLOAD_OFFSET, appended.offset.to_string())];
    if let Some(at) = appended.expires {
        extra.push((UPLOAD_EXPIRES, http_date(at)));
    }
    if let Some(blob) = appended.blob {
        extra.push((header::ETAG, format!("\"{blob}\"")));
    }
    Ok(answer(StatusCode::NO_CONTENT, extra))
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
    State(state): State<App>,
    principal: Result<Uploader, TusError>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> TusResult<Response> {
    check_version(&headers)?;
    let principal = principal?;
    let upload = engine::upload_of(&state, &principal.tenant, &id).await?;
    if engine::remove(&state, &upload.file.id).await? {
        return Ok(answer(StatusCode::NO_CONTENT, Vec::new()));
    }
    // No longer pending: completed (it is a drive file now), or removed by another request.
    engine::upload_of(&state, &principal.tenant, &id).await?;
    Err(ApiError::conflict("Upload already completed: delete the file through the drive").into())
}

/// A `PATCH`, `HEAD` or `DELETE` sent as a `POST` with `X-HTTP-Method-Override`, as clients
/// behind proxies that pass only GET and POST do; tus requires the server to honour it.
pub async fn method_override(
    state: State<App>,
    principal: Result<Uploader, TusError>,
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
