//! The lifecycle sweep: lapsed uploads and old temporary files go, with their quota.

use std::sync::Arc;

use chrono::{Duration, Utc};
use mediadrive_core::{Catalog, SweepRule};

use super::{announce, hash, reclaim, stored, tenant, upload};

every_backend_of_module!(sweeps_remove_lapsed_uploads_and_old_temp_files,);

async fn sweeps_remove_lapsed_uploads_and_old_temp_files(c: Arc<dyn Catalog>) {
    let c = c.as_ref();
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    stored(c, "temp", "old.bin", 3, &hash(1)).await;
    stored(c, "", "kept.bin", 7, &hash(2)).await;
    c.reserve_upload(&upload("", "lapsed.bin", 11, None))
        .await
        .unwrap();
    let now = Utc::now() + Duration::minutes(5);
    let rule = |dry_run| SweepRule {
        now,
        uploads_lapsed_before: now,
        temp_cutoff: now,
        cache_cutoff: now,
        preloads_before: now,
        dry_run,
    };
    let dry = c
        .sweep_files(&rule(true), &|f| announce("file.deleted", f))
        .await
        .unwrap();
    assert_eq!(
        (dry.expired_uploads.len(), dry.expired_temp_files.len()),
        (1, 1)
    );
    assert_eq!(
        c.tenant(&tenant()).await.unwrap().unwrap().pending_bytes,
        11,
        "a dry run changes nothing"
    );
    let done = c
        .sweep_files(&rule(false), &|f| announce("file.deleted", f))
        .await
        .unwrap();
    assert_eq!(done.expired_uploads[0].name.as_str(), "lapsed.bin");
    assert_eq!(done.expired_temp_files[0].name.as_str(), "old.bin");
    let t = c.tenant(&tenant()).await.unwrap().unwrap();
    assert_eq!((t.used_bytes, t.pending_bytes), (7, 0));
    assert_eq!(reclaim(c, now, None).await, [hash(1)]);
}
