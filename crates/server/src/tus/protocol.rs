//! The tus 1.0 protocol as this server speaks it: its headers, the parsing of `Upload-Metadata`
//! and `Upload-Checksum`, and its refusals, in the drive's error shape with what tus adds to it.

use std::collections::HashMap;

use axum::{
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use base64::Engine;
use chrono::{DateTime, Utc};
use mediadrive_app::{
    uploads::resumable::{Checksum, ResumableError},
    AppError,
};
use mediadrive_core::{BlobError, CatalogError, FileName, FileRecord, FileStatus, FolderPath};

use crate::error::ApiError;

pub const TUS_VERSION: &str = "1.0.0";
pub(super) const EXTENSIONS: &str = "creation,creation-with-upload,expiration,checksum,termination";
pub(super) use mediadrive_app::uploads::resumable::ALGORITHMS as CHECKSUM_ALGORITHMS;
pub(super) const OFFSET_STREAM: &str = "application/offset+octet-stream";
/// The tus checksum extension's status for a piece whose checksum does not match.
pub(super) const CHECKSUM_MISMATCH: u16 = 460;

pub const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
pub const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
pub const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
pub const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
pub const UPLOAD_CHECKSUM: HeaderName = HeaderName::from_static("upload-checksum");
pub const UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");
pub(super) const TUS_VERSION_HEADER: HeaderName = HeaderName::from_static("tus-version");
pub(super) const TUS_EXTENSION: HeaderName = HeaderName::from_static("tus-extension");
pub(super) const TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
pub(super) const TUS_CHECKSUM_ALGORITHM: HeaderName =
    HeaderName::from_static("tus-checksum-algorithm");
pub(super) const UPLOAD_CONCAT: HeaderName = HeaderName::from_static("upload-concat");
pub(super) const METHOD_OVERRIDE: HeaderName = HeaderName::from_static("x-http-method-override");

/// The headers a browser client must be allowed to send and to read, for CORS.
pub(super) const REQUEST_HEADERS: [HeaderName; 5] = [
    TUS_RESUMABLE,
    UPLOAD_OFFSET,
    UPLOAD_LENGTH,
    UPLOAD_METADATA,
    UPLOAD_CHECKSUM,
];
pub(super) const RESPONSE_HEADERS: [HeaderName; 10] = [
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
pub struct TusError(pub(super) ApiError);

impl From<ApiError> for TusError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<AppError> for TusError {
    fn from(e: AppError) -> Self {
        Self(e.into())
    }
}

/// Each way appending fails, as tus answers it.
impl From<ResumableError> for TusError {
    fn from(e: ResumableError) -> Self {
        match e {
            ResumableError::NotFound => upload_not_found(),
            ResumableError::AnotherRequest => another_request(),
            ResumableError::OffsetMismatch { sent, actual } => offset_mismatch(sent, actual),
            ResumableError::PastLength => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The bytes go past Upload-Length",
            )
            .into(),
            ResumableError::ChecksumMismatch => checksum_mismatch(),
            ResumableError::AlreadyCompleted => {
                ApiError::conflict("Upload already completed").into()
            }
            ResumableError::Lost => ApiError::new(
                StatusCode::GONE,
                "Upload lost bytes it had acknowledged; create it again",
            )
            .into(),
            ResumableError::App(e) => e.into(),
        }
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

pub(super) type TusResult<T> = Result<T, TusError>;

pub(super) fn upload_not_found() -> TusError {
    ApiError::not_found("Upload not found").into()
}

/// An answer without a body, carrying `headers`.
pub(super) fn answer(status: StatusCode, headers: Vec<(HeaderName, String)>) -> Response {
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
pub(super) fn offset_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(OFFSET_STREAM))
}

pub(super) fn http_date(at: DateTime<Utc>) -> String {
    httpdate::fmt_http_date(at.into())
}

/// Every request but OPTIONS names the protocol version it speaks; only 1.0.0 is spoken here.
pub(super) fn check_version(headers: &HeaderMap) -> TusResult<()> {
    match headers.get(&TUS_RESUMABLE).and_then(|v| v.to_str().ok()) {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(TusError(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "Tus-Resumable must be 1.0.0",
        ))),
    }
}

pub(super) fn number_header(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, ()> {
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
pub(super) fn parse_metadata(raw: &str) -> Result<HashMap<String, Vec<u8>>, String> {
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

pub(super) fn metadata_text<'a>(
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
pub(super) fn destination(
    metadata: &HashMap<String, Vec<u8>>,
) -> TusResult<(FolderPath, FileName, String)> {
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
    if !mediadrive_app::ingest::valid_content_type(&content_type) {
        return Err(ApiError::bad_request("filetype must be a MIME type such as video/mp4").into());
    }
    let folder = FolderPath::sanitise_or_root(metadata_text(metadata, &["folder"])?)
        .map_err(|_| ApiError::bad_request("Invalid folder name"))?;
    Ok((folder, name, content_type))
}

/// A piece's `Upload-Checksum`: the algorithm and the digest its bytes must have.
pub(super) fn checksum(headers: &HeaderMap) -> TusResult<Option<Checksum>> {
    let Some(value) = headers.get(&UPLOAD_CHECKSUM) else {
        return Ok(None);
    };
    let bad = || ApiError::bad_request("Upload-Checksum must be an algorithm and a base64 digest");
    let (algorithm, digest) = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .ok_or_else(bad)?;
    let digest = base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .map_err(|_| bad())?;
    Checksum::new(algorithm, digest).map(Some).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Unsupported checksum algorithm {algorithm}; use one of {CHECKSUM_ALGORITHMS}"
        ))
        .into()
    })
}

pub(super) fn checksum_mismatch() -> TusError {
    ApiError::new(
        StatusCode::from_u16(CHECKSUM_MISMATCH).expect("460 is a valid status"),
        "Upload-Checksum does not match the bytes received",
    )
    .into()
}

pub(super) fn expired(file: &FileRecord, now: DateTime<Utc>) -> bool {
    file.status == FileStatus::Pending && file.upload_expires_at.is_some_and(|at| at < now)
}

pub(super) fn gone() -> TusError {
    ApiError::new(StatusCode::GONE, "Upload has expired").into()
}

pub(super) fn offset_mismatch(sent: u64, actual: u64) -> TusError {
    ApiError::conflict(format!(
        "Upload-Offset {sent} does not match the upload's offset {actual}"
    ))
    .into()
}

pub(super) fn another_request() -> TusError {
    let mut e = ApiError::new(
        StatusCode::LOCKED,
        "Another request is appending to this upload; retry when it has ended",
    );
    e.retry_after = Some(1);
    e.into()
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
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
}
