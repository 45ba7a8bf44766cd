//! The temp budget: what a tenant keeps outside the drive quota (files in `temp`, cache entries
//! not persisted into the drive) stays within `temp_quota`, or the drive quota when unset.

use std::sync::Arc;

use chrono::{Duration, Utc};
use mediadrive_core::{
    AssetType, Catalog, CatalogError, ClientId, FileMove, FileName, FolderPath, Promotion,
    TempUsage, TenantUpdate,
};

use super::{entry, granted, hash, stored, tenant, upload};

every_backend_of_module!(
    temp_files_and_cache_entries_share_one_budget,
    concurrent_temp_reservations_never_exceed_the_budget,
    the_budget_follows_the_drive_quota_unless_set,
);

fn budget(quota: Option<u64>, temp_quota: Option<u64>) -> TenantUpdate {
    TenantUpdate {
        quota,
        temp_quota,
        ..Default::default()
    }
}

async fn usage(c: &dyn Catalog) -> (u64, Option<u64>) {
    let TempUsage { used_bytes, quota } = c.temp_usage(&tenant(), None).await.unwrap();
    (used_bytes, quota)
}

async fn temp_files_and_cache_entries_share_one_budget(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    c.update_tenant(&tenant(), &budget(None, Some(1000)), now)
        .await
        .unwrap();
    // Pending temp files count from their reservation; the drive is not charged.
    c.reserve_upload(&upload("temp", "a.bin", 600, None))
        .await
        .unwrap();
    assert!(matches!(
        c.reserve_upload(&upload("temp", "b.bin", 401, None)).await,
        Err(CatalogError::TempStorageFull)
    ));
    c.reserve_upload(&upload("", "drive.bin", 5000, None))
        .await
        .unwrap();
    assert_eq!(usage(c.as_ref()).await, (600, Some(1000)));

    // A cache entry counts; one that does not fit is rolled back whole.
    let lease = now + Duration::minutes(10);
    c.lease_blob(&hash(1), 300, lease).await.unwrap();
    let (kept, _) = c
        .store_cache_entry(&entry("kept", &hash(1), 300, now))
        .await
        .unwrap();
    c.lease_blob(&hash(2), 200, lease).await.unwrap();
    assert!(matches!(
        c.store_cache_entry(&entry("over", &hash(2), 200, now))
            .await,
        Err(CatalogError::TempStorageFull)
    ));
    assert!(c.cache_entry(&tenant(), "over").await.unwrap().is_none());
    assert_eq!(usage(c.as_ref()).await, (900, Some(1000)));
    // Replacing an entry's bytes counts the new size only.
    c.lease_blob(&hash(3), 400, lease).await.unwrap();
    c.store_cache_entry(&entry("kept", &hash(3), 400, now))
        .await
        .unwrap();
    assert_eq!(usage(c.as_ref()).await, (1000, Some(1000)));

    // Persisted into the drive, the entry counts there and no longer here.
    let promotion = Promotion {
        entry_id: kept.id.clone(),
        tenant: tenant(),
        folder: AssetType::Image.folder(),
        names: vec![FileName::sanitise("kept.webp").unwrap()],
        now,
        default_quota: None,
        share: true,
    };
    c.promote_cache_entry(&promotion).await.unwrap();
    assert_eq!(usage(c.as_ref()).await, (600, Some(1000)));

    // Moving a drive file into `temp` must fit; it stays where it was when it does not.
    stored(c.as_ref(), "", "big.bin", 500, &hash(4)).await;
    let into_temp = FileMove {
        tenant: tenant(),
        from_folder: FolderPath::root(),
        name: FileName::sanitise("big.bin").unwrap(),
        to_folder: FolderPath::sanitise_or_root(Some("temp")).unwrap(),
        to_name: FileName::sanitise("big.bin").unwrap(),
        now,
        default_quota: None,
    };
    assert!(matches!(
        c.move_file(&into_temp).await,
        Err(CatalogError::TempStorageFull)
    ));
    c.update_tenant(&tenant(), &budget(None, Some(1100)), now)
        .await
        .unwrap();
    assert!(c.move_file(&into_temp).await.unwrap().temporary);
    assert_eq!(usage(c.as_ref()).await, (1100, Some(1100)));
}

async fn concurrent_temp_reservations_never_exceed_the_budget(c: Arc<dyn Catalog>) {
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    c.update_tenant(&tenant(), &budget(None, Some(1000)), Utc::now())
        .await
        .unwrap();
    let attempt = |i| {
        let c = c.clone();
        async move {
            c.reserve_upload(&upload("temp", &format!("f{i}"), 100, None))
                .await
        }
    };
    let full = |e: &CatalogError| matches!(e, CatalogError::TempStorageFull);
    assert_eq!(granted(30, attempt, full).await, 10);
    assert_eq!(usage(c.as_ref()).await, (1000, Some(1000)));
    let t = c.tenant(&tenant()).await.unwrap().unwrap();
    assert_eq!((t.used_bytes, t.pending_bytes), (0, 0));
}

async fn the_budget_follows_the_drive_quota_unless_set(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let of = |default| {
        let c = c.clone();
        async move { c.temp_usage(&tenant(), default).await.unwrap().quota }
    };
    assert_eq!(of(None).await, None);
    assert_eq!(of(Some(3000)).await, Some(3000));
    c.update_tenant(&tenant(), &budget(Some(2000), None), now)
        .await
        .unwrap();
    assert_eq!(of(Some(3000)).await, Some(2000));
    let t = c
        .update_tenant(&tenant(), &budget(None, Some(500)), now)
        .await
        .unwrap();
    assert_eq!((t.quota, t.temp_quota), (Some(2000), Some(500)));
    assert_eq!(of(Some(3000)).await, Some(500));
    // A tenant nobody made has no usage to show.
    let nobody = ClientId::parse("nobody").unwrap();
    assert!(matches!(
        c.temp_usage(&nobody, None).await,
        Err(CatalogError::NotFound)
    ));
}
