//! The presigned PUT for a store clients cannot write to themselves: the request's grant, headers
//! and body go to the upload use case.

use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
    Json,
};
use futures_util::TryStreamExt;
use mediadrive_app::{
    ingest::ByteStream,
    signing::UploadGrant,
    uploads::presigned::{self, SignedPut},
    App,
};
use mediadrive_core::FileId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedParams {
    expires: i64,
    size: u64,
    #[serde(rename = "contentType")]
    content_type: String,
    signature: String,
}

#[derive(Serialize, ToSchema)]
pub struct UploadDone {
    pub success: bool,
    pub status: String,
    #[serde(rename = "fileUrl")]
    pub file_url: String,
    pub size: u64,
}

/// Receives the bytes of a pending file through the URL `POST /v2/media/file` returned.
#[utoipa::path(put, path = "/upload/{id}", tag = "upload",
    params(("id" = String, Path, description = "File id from the presigned URL"), SignedParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 200, body = UploadDone),
        (status = 400, description = "Uploaded size does not match the declared size", body = ErrorBody),
        (status = 403, description = "Signature does not match | Upload URL has expired | Content-Type does not match the signed upload", body = ErrorBody),
        (status = 404, description = "Upload not found", body = ErrorBody),
        (status = 409, description = "Upload already completed | Upload already in progress", body = ErrorBody),
    ))]
pub async fn receive(
    State(state): State<App>,
    Path(id): Path<String>,
    params: Result<Query<SignedParams>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let Query(params) = params.map_err(|_| ApiError::forbidden("Signature does not match"))?;
    let file = FileId::parse(&id).map_err(|_| ApiError::forbidden("Signature does not match"))?;
    let put = SignedPut {
        grant: UploadGrant {
            file,
            size: params.size,
            content_type: params.content_type,
            expires: params.expires,
        },
        signature: params.signature,
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string()),
        content_length: headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok()),
    };
    let file = presigned::receive(&state, put, byte_stream(body)).await?;
    let etag = format!("\"{}\"", file.blob.as_ref().map_or("", |h| h.as_str()));
    let done = UploadDone {
        success: true,
        status: file.status.as_str().to_string(),
        file_url: state.record_url(&file),
        size: file.size,
    };
    Ok(([(header::ETAG, etag)], Json(done)).into_response())
}

/// A request body as the application layer reads it.
pub(crate) fn byte_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}
