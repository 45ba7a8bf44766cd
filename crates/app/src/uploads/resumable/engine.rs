//! The work behind a resumable upload: holding it while one request appends to it, counting the
//! bytes that arrived, finishing it into a drive file, giving it up. It takes byte streams, not
//! requests.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mediadrive_core::{
    BlobError, ClientId, ContentHash, FileId, FileName, FileRecord, FileStatus, FolderPath,
    NewUpload, ResumableUpload, UploadClaim,
};

use super::{
    checksum::Checksum,
    error::{ResumableError, ResumableResult},
};
use crate::{
    blob_lease::BlobLease,
    error::AppError,
    held_claim::HeldClaim,
    ingest::{self, BodyReader, ByteStream},
    App,
};

/// How long a request appending bytes holds its upload. It renews the hold while it streams, so
/// the upload of a node that died is free again this soon, not after `upload_claim_ttl`.
const HOLD: Duration = Duration::from_secs(30);
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// What a client asks to upload resumably.
pub struct Creation {
    pub tenant: ClientId,
    pub folder: FolderPath,
    pub name: FileName,
    pub content_type: String,
    pub length: u64,
    /// The client's metadata as it sent it, given back on every offset request.
    pub metadata: String,
}

/// Reserves the upload's name and quota (and temp budget in `temp/`) for its whole length, so no
/// byte is taken that could not be kept.
pub async fn create(state: &App, creation: Creation) -> ResumableResult<FileRecord> {
    let now = Utc::now();
    let upload = NewUpload {
        tenant: creation.tenant,
        folder: creation.folder,
        name: creation.name,
        content_type: creation.content_type,
        size: creation.length,
        now,
        upload_expires_at: now + state.config.tus.expiry(),
        default_quota: state.config.default_quota,
    };
    Ok(state
        .catalog
        .reserve_resumable_upload(&upload, &creation.metadata)
        .await?)
}

/// Where a client goes on from after a creation whose bytes were not all taken.
pub async fn resumed_at(state: &App, id: &FileId) -> ResumableResult<(u64, Option<DateTime<Utc>>)> {
    let current = state.catalog.resumable_upload(id).await?;
    let offset = current.as_ref().map_or(0, |u| u.offset);
    Ok((offset, current.and_then(|u| u.file.upload_expires_at)))
}

/// The caller's own upload `id`.
pub async fn upload_of(
    state: &App,
    tenant: &ClientId,
    id: &str,
) -> ResumableResult<ResumableUpload> {
    let id = FileId::parse(id).map_err(|_| ResumableError::NotFound)?;
    match state.catalog.resumable_upload(&id).await? {
        Some(upload) if upload.file.tenant == *tenant => Ok(upload),
        _ => Err(ResumableError::NotFound),
    }
}

/// Where an upload stands after a request appended to it.
pub struct Appended {
    pub offset: u64,
    pub expires: Option<DateTime<Utc>>,
    /// The content hash, once the upload is complete.
    pub blob: Option<ContentHash>,
}

/// Holds an upload while one request appends to it, renewing the hold until it ends.
async fn take_hold(state: &App, file: &FileRecord) -> ResumableResult<HeldClaim> {
    let now = Utc::now();
    let until = now + HOLD;
    match state.catalog.claim_upload(&file.id, now, until).await? {
        UploadClaim::Claimed(_) => {
            Ok(HeldClaim::new(state, &file.id, until).renewed(RENEW_EVERY, HOLD))
        }
        UploadClaim::InProgress => Err(ResumableError::AnotherRequest),
        UploadClaim::AlreadyUploaded => Err(ResumableError::AlreadyCompleted),
        UploadClaim::Missing => Err(ResumableError::NotFound),
    }
}

/// Appends the body at `at` while holding the upload.
pub async fn append_claimed(
    state: &App,
    upload: &ResumableUpload,
    at: u64,
    checksum: Option<Checksum>,
    body: ByteStream,
) -> ResumableResult<Appended> {
    let hold = take_hold(state, &upload.file).await?;
    // Read again under the hold: a request that ended meanwhile may have moved the offset.
    let outcome = match state.catalog.resumable_upload(&upload.file.id).await {
        Ok(Some(now)) if now.offset != at => Err(ResumableError::OffsetMismatch {
            sent: at,
            actual: now.offset,
        }),
        Ok(Some(_)) => match state.limits.start_upload(&upload.file.tenant) {
            Ok(_slot) => append_held(state, &upload.file, at, checksum, body, &hold).await,
            Err(e) => Err(e.into()),
        },
        Ok(None) => Err(ResumableError::NotFound),
        Err(e) => Err(e.into()),
    };
    hold.release().await;
    outcome
}

async fn append_held(
    state: &App,
    file: &FileRecord,
    at: u64,
    mut checksum: Option<Checksum>,
    body: ByteStream,
    hold: &HeldClaim,
) -> ResumableResult<Appended> {
    let room = file.size - at;
    let mut piece = match state.blobs.append_partial(&file.id, at).await {
        Ok(piece) => piece,
        Err(e) => return Err(lost_or(state, file, e).await),
    };
    let mut body = BodyReader::new(state, body);
    let streamed: ResumableResult<()> = loop {
        match body.next().await {
            Ok(Some(chunk)) => {
                if body.received() > room {
                    // Nothing of a body that does not fit is counted; the piece is closed before
                    // the hold is released, so no write of it lands under the next request's.
                    let _ = piece.close().await;
                    return Err(ResumableError::PastLength);
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
        return Err(ResumableError::ChecksumMismatch);
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
        return Err(ResumableError::AnotherRequest);
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
    state: &App,
    file: &FileRecord,
    from: u64,
    to: u64,
    hold: &HeldClaim,
) -> ResumableResult<DateTime<Utc>> {
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
            ResumableError::AnotherRequest
        }
        Some(now) if now.file.status == FileStatus::Pending => ResumableError::OffsetMismatch {
            sent: from,
            actual: now.offset,
        },
        _ => ResumableError::NotFound,
    })
}

/// Hashes the whole upload and makes the file `uploaded`, as a presigned PUT's last byte does.
/// Until that is recorded the offset stays where it was, so a client whose last request failed
/// sends its last piece again.
async fn finish(state: &App, file: &FileRecord) -> ResumableResult<FileRecord> {
    let assembled = match state.blobs.assemble_partial(&file.id, file.size).await {
        Ok(mut staged) => staged.finish().await.map(|done| (staged, done)),
        Err(e) => Err(e),
    };
    let (staged, (hash, len)) = match assembled {
        Ok(assembled) => assembled,
        Err(e) => return Err(lost_or(state, file, e).await),
    };
    if len != file.size {
        return Err(AppError::internal(format!(
            "upload {} assembled {len} of {} bytes",
            file.id, file.size
        ))
        .into());
    }
    let lease = BlobLease::take(state, &hash, len).await?;
    let done = ingest::commit(state, file, staged, lease).await?;
    discard(state, &file.id).await;
    Ok(done)
}

/// The answer to a blob store error. Bytes the catalog counted but the store no longer holds (a
/// restore without `partial/`, a disk replaced) cannot come back: the upload is removed, so its
/// name and reservation are free, and the client is told to start again.
async fn lost_or(state: &App, file: &FileRecord, e: BlobError) -> ResumableError {
    if !matches!(e, BlobError::PartialLost(_)) {
        return e.into();
    }
    tracing::error!(upload = %file.id, error = %e, "a resumable upload lost bytes it had counted; it is removed");
    if let Err(removing) = remove(state, &file.id).await {
        return removing;
    }
    ResumableError::Lost
}

/// Removes upload `id` and its bytes while it is pending; false when it was not.
pub async fn remove(state: &App, id: &FileId) -> ResumableResult<bool> {
    let Some(cancelled) = state.catalog.cancel_pending_upload(id).await? else {
        return Ok(false);
    };
    state.cache.forget_tenant(&cancelled.tenant);
    discard(state, id).await;
    Ok(true)
}

/// Drops an upload's bytes; the sweep retries what fails here.
async fn discard(state: &App, id: &FileId) {
    if let Err(e) = state.blobs.discard_partial(id).await {
        tracing::warn!(upload = %id, error = %e, "could not remove a resumable upload's bytes; the sweep retries");
    }
}
