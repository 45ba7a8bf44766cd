//! Seed 002's upload flow: a presigned URL granted for a pending file, then one PUT of its bytes,
//! to object storage where the store takes them itself, through mediadrive otherwise.

use std::time::Duration;

use chrono::Utc;
use mediadrive_core::{ClientId, FileName, FileRecord, FolderPath, NewUpload, UploadClaim};

use crate::{
    config::MAX_UPLOAD_BYTES,
    error::{AppError, AppResult},
    held_claim::HeldClaim,
    ingest::{self, ByteStream},
    signing::UploadGrant,
    signing_keys, App,
};

/// What a client asks to upload.
pub struct UploadRequest {
    pub tenant: ClientId,
    pub folder: FolderPath,
    pub name: FileName,
    pub content_type: String,
    pub size: u64,
}

/// A pending file and where its bytes go.
pub struct Ticket {
    pub file: FileRecord,
    pub upload_url: String,
    pub valid_for: Duration,
}

/// Reserves the file's name and quota for `size` bytes and grants a URL to PUT them to.
pub async fn grant(state: &App, request: UploadRequest) -> AppResult<Ticket> {
    if !ingest::valid_content_type(&request.content_type) {
        return Err(AppError::bad_request(
            "contentType must be a MIME type such as video/mp4",
        ));
    }
    if request.size > MAX_UPLOAD_BYTES {
        return Err(ingest::too_large());
    }
    let now = Utc::now();
    let valid_for = state.config.upload_url_ttl;
    let expires_at = now + valid_for;
    let file = state
        .catalog
        .reserve_upload(&NewUpload {
            tenant: request.tenant,
            folder: request.folder,
            name: request.name,
            content_type: request.content_type.clone(),
            size: request.size,
            now,
            upload_expires_at: expires_at,
            default_quota: state.config.default_quota,
        })
        .await?;
    let direct = state
        .blobs
        .presign_upload(file.id.as_str(), &request.content_type, valid_for)
        .await?;
    let upload_url = match direct {
        Some(url) => url,
        None => signed_url(
            state,
            &UploadGrant {
                file: file.id.clone(),
                size: request.size,
                content_type: request.content_type,
                expires: expires_at.timestamp(),
            },
        ),
    };
    Ok(Ticket {
        file,
        upload_url,
        valid_for,
    })
}

/// mediadrive's own upload URL for a store clients cannot write to: the grant and its signature.
fn signed_url(state: &App, grant: &UploadGrant) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("expires", &grant.expires.to_string())
        .append_pair("size", &grant.size.to_string())
        .append_pair("contentType", &grant.content_type)
        .append_pair("signature", &state.signer.sign(grant))
        .finish();
    format!("{}/upload/{}?{query}", state.config.public_url, grant.file)
}

/// A PUT to a URL [`grant`] signed, as it arrived.
pub struct SignedPut {
    pub grant: UploadGrant,
    pub signature: String,
    /// The request's `Content-Type`, which the grant binds.
    pub content_type: Option<String>,
    /// The request's `Content-Length`, checked before any byte is read.
    pub content_length: Option<u64>,
}

/// Checks the signature and what it binds, claims the pending file once, and streams the body
/// into it; the file is `uploaded` only if every declared byte arrived.
pub async fn receive(state: &App, put: SignedPut, body: ByteStream) -> AppResult<FileRecord> {
    let grant = &put.grant;
    if !signing_keys::verify(state, grant, &put.signature).await {
        return Err(AppError::forbidden("Signature does not match"));
    }
    let now = Utc::now();
    if now.timestamp() > grant.expires {
        return Err(AppError::forbidden("Upload URL has expired"));
    }
    if put.content_type.as_deref() != Some(grant.content_type.as_str()) {
        return Err(AppError::forbidden(
            "Content-Type does not match the signed upload",
        ));
    }
    if put.content_length.is_some_and(|len| len != grant.size) {
        return Err(ingest::size_mismatch());
    }
    let claim_until = now + state.config.upload_claim_ttl;
    let record = match state
        .catalog
        .claim_upload(&grant.file, now, claim_until)
        .await?
    {
        UploadClaim::Claimed(record) => record,
        UploadClaim::AlreadyUploaded => return Err(AppError::conflict("Upload already completed")),
        UploadClaim::InProgress => return Err(AppError::conflict("Upload already in progress")),
        UploadClaim::Missing => return Err(AppError::not_found("Upload not found")),
    };
    let claim = HeldClaim::new(state, &record.id, claim_until);
    let ingested = match state.limits.start_upload(&record.tenant) {
        Ok(_slot) => ingest::fill_pending(state, &record, body).await,
        Err(e) => Err(e),
    };
    match ingested {
        Ok(file) => {
            claim.recorded();
            Ok(file)
        }
        Err(e) => {
            // The client may retry while the URL is still valid.
            claim.release().await;
            Err(e)
        }
    }
}
