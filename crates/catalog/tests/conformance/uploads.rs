//! Uploads in flight (renewed claims, resumable offsets), previews of blobs, and the cache entries
//! found by id or by the files they became.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mediadrive_core::{
    AssetType, CacheEntryId, Catalog, CatalogError, FileId, FileName, FileStatus, Preview,
    Promotion, ResumableUpload, UploadClaim,
};

use super::{announce, entry, hash, stored, tenant, upload};

every_backend_of_module!(
    a_claim_is_renewed_only_by_its_holder_and_only_while_pending,
    resumable_offsets_move_only_from_where_they_are_under_the_claim,
    previews_belong_to_their_source_and_replace_by_name,
    cache_entries_are_found_by_id_and_by_the_files_they_became,
);

async fn at(c: &dyn Catalog, id: &FileId) -> ResumableUpload {
    c.resumable_upload(id).await.unwrap().unwrap()
}

fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap()
}

async fn a_claim_is_renewed_only_by_its_holder_and_only_while_pending(c: Arc<dyn Catalog>) {
    let now = millis(Utc::now());
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let file = c
        .reserve_upload(&upload("", "r.bin", 3, None))
        .await
        .unwrap();
    assert_eq!(c.file_by_id(&file.id).await.unwrap(), Some(file.clone()));
    let (first, second) = (now + Duration::seconds(30), now + Duration::seconds(90));
    assert!(matches!(
        c.claim_upload(&file.id, now, first).await.unwrap(),
        UploadClaim::Claimed(_)
    ));
    assert!(c.renew_upload_claim(&file.id, first, second).await.unwrap());
    // The old term is no longer anyone's.
    assert!(!c.renew_upload_claim(&file.id, first, second).await.unwrap());
    // Past the first term the renewed claim still holds the upload.
    let after_first = first + Duration::seconds(1);
    assert_eq!(
        c.claim_upload(&file.id, after_first, after_first + Duration::seconds(30))
            .await
            .unwrap(),
        UploadClaim::InProgress
    );
    // A renewal the holder did not get (its claim was taken over) leaves the new holder's alone.
    let taken_at = second + Duration::seconds(1);
    let third = taken_at + Duration::seconds(30);
    assert!(matches!(
        c.claim_upload(&file.id, taken_at, third).await.unwrap(),
        UploadClaim::Claimed(_)
    ));
    assert!(!c
        .renew_upload_claim(&file.id, second, third + Duration::hours(1))
        .await
        .unwrap());
    c.release_upload_claim(&file.id, third).await.unwrap();
    assert!(!c.renew_upload_claim(&file.id, third, third).await.unwrap());

    // A completed upload has no claim left to renew.
    let fourth = now + Duration::hours(2);
    assert!(matches!(
        c.claim_upload(&file.id, now, fourth).await.unwrap(),
        UploadClaim::Claimed(_)
    ));
    c.lease_blob(&hash(1), 3, now + Duration::minutes(10))
        .await
        .unwrap();
    let done = c
        .complete_upload(&file.id, &hash(1), now, &|f| announce("file.uploaded", f))
        .await
        .unwrap();
    assert!(!c
        .renew_upload_claim(&file.id, fourth, fourth + Duration::hours(1))
        .await
        .unwrap());
    assert_eq!(c.file_by_id(&file.id).await.unwrap(), Some(done));
    let unknown = FileId::parse(&"f".repeat(32)).unwrap();
    assert!(c.file_by_id(&unknown).await.unwrap().is_none());
    assert!(!c.renew_upload_claim(&unknown, now, now).await.unwrap());
}

async fn resumable_offsets_move_only_from_where_they_are_under_the_claim(c: Arc<dyn Catalog>) {
    let now = millis(Utc::now());
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let file = c
        .reserve_resumable_upload(&upload("", "tus.bin", 100, None), "filename dHVz")
        .await
        .unwrap();
    assert_eq!(at(c.as_ref(), &file.id).await.offset, 0);
    let held = now + Duration::minutes(1);
    assert!(matches!(
        c.claim_upload(&file.id, now, held).await.unwrap(),
        UploadClaim::Claimed(_)
    ));
    let keep = now + Duration::hours(24);
    assert!(c
        .advance_resumable_upload(&file.id, 0, 40, keep, held)
        .await
        .unwrap());
    let state = at(c.as_ref(), &file.id).await;
    assert_eq!(
        (state.offset, state.metadata.as_str()),
        (40, "filename dHVz")
    );
    assert_eq!(state.file.upload_expires_at, Some(keep));
    // From an offset it is no longer at, or under a claim that is not the caller's: nothing moves.
    assert!(!c
        .advance_resumable_upload(&file.id, 0, 50, keep, held)
        .await
        .unwrap());
    let other_term = held + Duration::seconds(1);
    assert!(!c
        .advance_resumable_upload(&file.id, 40, 60, keep + Duration::hours(1), other_term)
        .await
        .unwrap());
    let state = at(c.as_ref(), &file.id).await;
    assert_eq!(
        (state.offset, state.file.upload_expires_at),
        (40, Some(keep))
    );
    // Once another request took the lapsed claim over, the first one's pieces no longer count.
    let later = held + Duration::seconds(5);
    let taken = later + Duration::minutes(1);
    assert!(matches!(
        c.claim_upload(&file.id, later, taken).await.unwrap(),
        UploadClaim::Claimed(_)
    ));
    assert!(!c
        .advance_resumable_upload(&file.id, 40, 70, keep, held)
        .await
        .unwrap());
    assert!(c
        .advance_resumable_upload(&file.id, 40, 100, keep, taken)
        .await
        .unwrap());
    assert_eq!(at(c.as_ref(), &file.id).await.offset, 100);
    c.lease_blob(&hash(2), 100, now + Duration::minutes(10))
        .await
        .unwrap();
    c.complete_upload(&file.id, &hash(2), now, &|f| announce("file.uploaded", f))
        .await
        .unwrap();
    let done = at(c.as_ref(), &file.id).await;
    assert_eq!((done.offset, done.file.status), (100, FileStatus::Uploaded));
    assert!(!c
        .advance_resumable_upload(&file.id, 100, 100, keep, taken)
        .await
        .unwrap());
    // A plain upload is no resumable one.
    let plain = c
        .reserve_upload(&upload("", "plain.bin", 1, None))
        .await
        .unwrap();
    assert!(c.resumable_upload(&plain.id).await.unwrap().is_none());
}

fn preview(source: u8, name: &str, blob: u8, size: u64) -> Preview {
    Preview {
        source: hash(source),
        name: name.into(),
        blob: hash(blob),
        content_type: "image/webp".into(),
        size,
    }
}

async fn previews_belong_to_their_source_and_replace_by_name(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    stored(c.as_ref(), "", "video.mp4", 1000, &hash(1)).await;
    stored(c.as_ref(), "", "photo.jpg", 500, &hash(2)).await;
    let lease = |n: u8, size: u64| {
        let c = c.clone();
        async move {
            c.lease_blob(&hash(n), size, now + Duration::minutes(10))
                .await
                .unwrap()
        }
    };
    lease(10, 64).await;
    c.add_preview(&preview(1, "thumb-256", 10, 64))
        .await
        .unwrap();
    lease(11, 80).await;
    c.add_preview(&preview(1, "poster", 11, 80)).await.unwrap();
    assert_eq!(
        c.previews(&hash(1)).await.unwrap(),
        [
            preview(1, "poster", 11, 80),
            preview(1, "thumb-256", 10, 64)
        ]
    );
    assert!(c.previews(&hash(2)).await.unwrap().is_empty());
    assert!(c.is_preview(&hash(10)).await.unwrap());
    assert!(!c.is_preview(&hash(1)).await.unwrap());
    assert!(!c.is_preview(&hash(99)).await.unwrap());
    assert_eq!(
        c.with_preview(&[hash(1), hash(2), hash(99)], "thumb-256")
            .await
            .unwrap(),
        [hash(1)]
    );
    assert!(c
        .with_preview(&[hash(2)], "thumb-256")
        .await
        .unwrap()
        .is_empty());
    assert!(c.with_preview(&[], "thumb-256").await.unwrap().is_empty());

    // A new thumbnail replaces the old one, whose blob nothing holds any more.
    lease(12, 70).await;
    c.add_preview(&preview(1, "thumb-256", 12, 70))
        .await
        .unwrap();
    assert_eq!(
        c.previews(&hash(1)).await.unwrap(),
        [
            preview(1, "poster", 11, 80),
            preview(1, "thumb-256", 12, 70)
        ]
    );
    assert!(!c.is_preview(&hash(10)).await.unwrap());
    assert_eq!(
        super::reclaim(c.as_ref(), Utc::now(), None).await,
        [hash(10)]
    );
    // A source that is not stored gets no preview.
    lease(13, 10).await;
    assert!(matches!(
        c.add_preview(&preview(99, "thumb-256", 13, 10)).await,
        Err(CatalogError::NotFound)
    ));

    // When the source goes, its previews go with it and their blobs are freed.
    let root = mediadrive_core::FolderPath::root();
    c.delete_files(
        &tenant(),
        &[(root, FileName::sanitise("video.mp4").unwrap())],
        &|f| announce("file.deleted", f),
    )
    .await
    .unwrap();
    let marked = c
        .begin_blob_reclaim(Utc::now(), Some(&[hash(1)]), Utc::now())
        .await
        .unwrap();
    assert_eq!(marked.hashes, [hash(1)]);
    let mut released = c
        .finish_blob_reclaim(&hash(1), &marked.token)
        .await
        .unwrap();
    released.sort();
    assert_eq!(released, [hash(11), hash(12)]);
    assert!(c.previews(&hash(1)).await.unwrap().is_empty());
    assert!(!c.is_preview(&hash(11)).await.unwrap());
}

async fn cache_entries_are_found_by_id_and_by_the_files_they_became(c: Arc<dyn Catalog>) {
    let now = millis(Utc::now());
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let mut made = Vec::new();
    for (n, fingerprint) in ["fox", "owl"].iter().enumerate() {
        let blob = hash(n as u8 + 1);
        c.lease_blob(&blob, 100, now + Duration::minutes(10))
            .await
            .unwrap();
        made.push(
            c.store_cache_entry(&entry(fingerprint, &blob, 100, now))
                .await
                .unwrap()
                .0,
        );
    }
    assert_ne!(made[0].id, made[1].id);
    for entry in &made {
        assert_eq!(
            c.cache_entry_by_id(&entry.id).await.unwrap().as_ref(),
            Some(entry)
        );
    }
    assert!(c
        .cache_entry_by_id(&CacheEntryId::parse(&"0".repeat(32)).unwrap())
        .await
        .unwrap()
        .is_none());

    let promote = |entry: &CacheEntryId, file: &str| Promotion {
        entry_id: entry.clone(),
        tenant: tenant(),
        folder: AssetType::Image.folder(),
        names: vec![FileName::sanitise(file).unwrap()],
        now,
        default_quota: None,
        share: true,
    };
    let fox = c
        .promote_cache_entry(&promote(&made[0].id, "fox.webp"))
        .await
        .unwrap();
    let plain = c
        .reserve_upload(&upload("", "plain.bin", 1, None))
        .await
        .unwrap();
    let found = c
        .cache_entries_of_files(&[plain.id.clone(), fox.id.clone()])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, fox.id);
    assert_eq!(found[0].1.id, made[0].id);
    assert_eq!(
        (found[0].1.fingerprint.as_str(), &found[0].1.blob),
        ("fox", &Some(hash(1)))
    );
    assert!(c.cache_entries_of_files(&[]).await.unwrap().is_empty());
    // By id, the entry now names the file it became.
    let by_id = c.cache_entry_by_id(&made[0].id).await.unwrap().unwrap();
    assert_eq!(by_id.persisted, Some(fox.clone()));
    // Once the file is deleted it is no entry's.
    c.delete_files(&tenant(), &[(fox.folder.clone(), fox.name.clone())], &|f| {
        announce("file.deleted", f)
    })
    .await
    .unwrap();
    assert!(c
        .cache_entries_of_files(std::slice::from_ref(&fox.id))
        .await
        .unwrap()
        .is_empty());
    assert!(c
        .cache_entry_by_id(&made[0].id)
        .await
        .unwrap()
        .unwrap()
        .persisted
        .is_none());
}
