//! Reserving uploads against the quota, the single-use claim, and cancelling a pending upload.

use std::sync::Arc;

use chrono::{Duration, Utc};
use mediadrive_core::{Catalog, CatalogError, FileName, FolderPath, TenantUpdate, UploadClaim};

use super::{granted, hash, stored, tenant, upload};

every_backend_of_module!(
    concurrent_reservations_never_exceed_the_quota,
    claims_are_released_only_by_their_holder,
    cancelling_takes_only_a_pending_upload_and_its_reservation,
    a_reservation_grows_only_within_the_quota,
);

async fn a_reservation_grows_only_within_the_quota(c: Arc<dyn Catalog>) {
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    let quota = Some(1000);
    let file = c
        .reserve_upload(&upload("", "g.bin", 100, quota))
        .await
        .unwrap();
    let pending = |c: Arc<dyn Catalog>| async move {
        c.tenant(&tenant()).await.unwrap().unwrap().pending_bytes
    };
    assert!(c.grow_pending_upload(&file.id, 600, quota).await.unwrap());
    assert_eq!(pending(c.clone()).await, 600);
    // Smaller than held changes nothing; past the quota is refused and keeps what was held.
    assert!(c.grow_pending_upload(&file.id, 300, quota).await.unwrap());
    assert!(matches!(
        c.grow_pending_upload(&file.id, 1001, quota).await,
        Err(CatalogError::StorageBlocked)
    ));
    assert_eq!(pending(c.clone()).await, 600);
    // The cancel gives back the grown size; a cancelled upload grows no more.
    c.cancel_pending_upload(&file.id).await.unwrap();
    assert_eq!(pending(c.clone()).await, 0);
    assert!(!c.grow_pending_upload(&file.id, 700, quota).await.unwrap());
    assert_eq!(pending(c.clone()).await, 0);
}

async fn concurrent_reservations_never_exceed_the_quota(c: Arc<dyn Catalog>) {
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    let attempt = |i| {
        let c = c.clone();
        async move {
            c.reserve_upload(&upload("", &format!("f{i}"), 100, Some(1000)))
                .await
        }
    };
    let blocked = |e: &CatalogError| matches!(e, CatalogError::StorageBlocked);
    assert_eq!(granted(30, attempt, blocked).await, 10);
    let t = c.tenant(&tenant()).await.unwrap().unwrap();
    assert_eq!((t.used_bytes, t.pending_bytes), (0, 1000));
    // Temporary files take no quota (their budget is set apart here) but a blocked tenant takes
    // nothing at all.
    let apart = TenantUpdate {
        temp_quota: Some(10_000),
        ..Default::default()
    };
    c.update_tenant(&tenant(), &apart, Utc::now())
        .await
        .unwrap();
    c.reserve_upload(&upload("temp", "t", 5000, Some(1000)))
        .await
        .unwrap();
    c.update_tenant(
        &tenant(),
        &TenantUpdate {
            storage_blocked: Some(true),
            ..Default::default()
        },
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(matches!(
        c.reserve_upload(&upload("temp", "u", 1, Some(1000))).await,
        Err(CatalogError::StorageBlocked)
    ));
    let t = c.tenant(&tenant()).await.unwrap().unwrap();
    assert!(t.storage_blocked && t.blocked_at.is_some());
}

async fn claims_are_released_only_by_their_holder(c: Arc<dyn Catalog>) {
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    let file = c
        .reserve_upload(&upload("", "c.bin", 1, None))
        .await
        .unwrap();
    let now = Utc::now();
    let (first, second) = (now + Duration::minutes(1), now + Duration::minutes(20));
    assert!(matches!(
        c.claim_upload(&file.id, now, first).await.unwrap(),
        UploadClaim::Claimed(_)
    ));
    assert_eq!(
        c.claim_upload(&file.id, now, first).await.unwrap(),
        UploadClaim::InProgress
    );
    // The first holder's claim lapsed and another took over: the first may no longer free it.
    let later = now + Duration::minutes(2);
    assert!(matches!(
        c.claim_upload(&file.id, later, second).await.unwrap(),
        UploadClaim::Claimed(_)
    ));
    c.release_upload_claim(&file.id, first).await.unwrap();
    assert_eq!(
        c.claim_upload(&file.id, later, second).await.unwrap(),
        UploadClaim::InProgress
    );
    c.release_upload_claim(&file.id, second).await.unwrap();
    assert!(matches!(
        c.claim_upload(&file.id, later, second).await.unwrap(),
        UploadClaim::Claimed(_)
    ));
}

async fn cancelling_takes_only_a_pending_upload_and_its_reservation(c: Arc<dyn Catalog>) {
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    let pending = c
        .reserve_resumable_upload(&upload("", "big.bin", 40, None), "")
        .await
        .unwrap();
    stored(c.as_ref(), "", "done.bin", 2, &hash(3)).await;
    let t = c.tenant(&tenant()).await.unwrap().unwrap();
    assert_eq!((t.used_bytes, t.pending_bytes), (2, 40));

    let cancelled = c.cancel_pending_upload(&pending.id).await.unwrap().unwrap();
    assert_eq!(cancelled.id, pending.id);
    assert!(c.resumable_upload(&pending.id).await.unwrap().is_none());
    assert!(c
        .cancel_pending_upload(&pending.id)
        .await
        .unwrap()
        .is_none());
    // A completed upload is the drive's to delete, whatever id it is asked by.
    let root = FolderPath::sanitise_or_root(None).unwrap();
    let done_name = FileName::sanitise("done.bin").unwrap();
    let done = c.file(&tenant(), &root, &done_name).await.unwrap().unwrap();
    assert!(c.cancel_pending_upload(&done.id).await.unwrap().is_none());
    assert!(c
        .file(&tenant(), &root, &done_name)
        .await
        .unwrap()
        .is_some());
    let t = c.tenant(&tenant()).await.unwrap().unwrap();
    assert_eq!((t.used_bytes, t.pending_bytes), (2, 0));
}
