//! Preloads and the cache: idempotency keys, one item per source at a time, credits, promotion into the drive.

use std::sync::Arc;

use chrono::{Duration, Utc};
use mediadrive_core::{
    AssetType, Catalog, CatalogError, Charge, ClientId, CreditMovement, CreditReason, FileName,
    ItemOutcome, ItemResult, ItemStatus, PreloadId, Promotion, SweepRule, TenantUpdate,
};

use super::{announce, entry, hash, item, preload, reclaim, tenant};

/// The preload whose items the credit tests charge for.
fn charged_preload() -> PreloadId {
    PreloadId::parse(&"0".repeat(32)).unwrap()
}

every_backend_of_module!(
    idempotency_keys_answer_within_their_window,
    items_of_one_source_are_made_one_at_a_time,
    credits_never_go_negative_and_an_item_is_charged_once,
    promotion_counts_the_quota_and_purges_keep_the_source,
);

async fn idempotency_keys_answer_within_their_window(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let (first, created) = c
        .create_preload(&preload(vec![item("a")], Some("k"), now))
        .await
        .unwrap();
    assert!(created);
    let (again, created) = c
        .create_preload(&preload(
            vec![item("b")],
            Some("k"),
            now + Duration::hours(23),
        ))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, first);
    // A day later the key is free again and names a new preload.
    let (later, created) = c
        .create_preload(&preload(
            vec![item("b")],
            Some("k"),
            now + Duration::hours(25),
        ))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(later.id, first.id);
    assert_eq!(later.items[0].request, item("b"));
    assert_eq!(
        c.preload(&tenant(), &first.id).await.unwrap().unwrap(),
        first
    );
    let stranger = ClientId::parse("other").unwrap();
    assert!(c.preload(&stranger, &first.id).await.unwrap().is_none());
}

async fn items_of_one_source_are_made_one_at_a_time(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let (p, _) = c
        .create_preload(&preload(vec![item("a"), item("a"), item("b")], None, now))
        .await
        .unwrap();
    let until = now + Duration::minutes(5);
    let claimed = c.claim_preload_items(now, until, 10).await.unwrap();
    let positions: Vec<u32> = claimed.iter().map(|i| i.position).collect();
    assert_eq!(positions, [0, 2], "the second item of source a must wait");
    assert!(c
        .claim_preload_items(now, until, 10)
        .await
        .unwrap()
        .is_empty());
    let done = ItemOutcome::Ready(ItemResult {
        url_path: "/acme/files/x.webp".into(),
        persistent: true,
        ..ItemResult::default()
    });
    // Only the claim's holder may finish it.
    assert_eq!(
        c.finish_preload_item(&p.id, 0, now, &done, &|_, _, _| Vec::new())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        c.finish_preload_item(&p.id, 0, until, &done, &|_, _, _| Vec::new())
            .await
            .unwrap(),
        Some(false),
        "two items are still open"
    );
    let next = c.claim_preload_items(now, until, 10).await.unwrap();
    assert_eq!(next.iter().map(|i| i.position).collect::<Vec<_>>(), [1]);
    // A node that died loses its claim once it lapses.
    let lapsed = until + Duration::seconds(1);
    let retaken = c
        .claim_preload_items(lapsed, lapsed + Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(
        retaken.iter().map(|i| i.position).collect::<Vec<_>>(),
        [1, 2]
    );
    let stored = c.preload(&tenant(), &p.id).await.unwrap().unwrap();
    assert_eq!(stored.items[0].status, ItemStatus::Ready);
    assert_eq!(
        stored.items[0].result.as_ref().unwrap().url_path,
        "/acme/files/x.webp"
    );

    // Old preloads are forgotten once every item ended, not before.
    let rule = |dry_run| SweepRule {
        now,
        uploads_lapsed_before: now,
        temp_cutoff: now - Duration::days(1),
        cache_cutoff: now,
        preloads_before: now + Duration::days(31),
        dry_run,
    };
    assert_eq!(
        c.sweep_files(&rule(false), &|f| announce("file.deleted", f))
            .await
            .unwrap()
            .expired_preloads,
        0
    );
    let failed = ItemOutcome::Failed("no".into());
    for position in [1, 2] {
        let claim = lapsed + Duration::minutes(5);
        // The last item to end says so.
        assert_eq!(
            c.finish_preload_item(&p.id, position, claim, &failed, &|_, _, _| Vec::new())
                .await
                .unwrap(),
            Some(position == 2)
        );
    }
    assert_eq!(
        c.sweep_files(&rule(true), &|f| announce("file.deleted", f))
            .await
            .unwrap()
            .expired_preloads,
        1
    );
    assert_eq!(
        c.sweep_files(&rule(false), &|f| announce("file.deleted", f))
            .await
            .unwrap()
            .expired_preloads,
        1
    );
    assert!(c.preload(&tenant(), &p.id).await.unwrap().is_none());
}

async fn credits_never_go_negative_and_an_item_is_charged_once(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 10, now).await.unwrap();
    let charge = |amount: i64, item: Option<(PreloadId, u32)>| CreditMovement {
        tenant: tenant(),
        amount,
        reason: CreditReason::Generation,
        model: Some("flux".into()),
        item,
        now,
    };
    let attempts = (0..8).map(|i| {
        let c = c.clone();
        let m = charge(-3, Some((charged_preload(), i)));
        async move { c.move_credits(&m).await.unwrap() }
    });
    let results = futures_util::future::join_all(attempts).await;
    let done = results
        .iter()
        .filter(|r| matches!(r, Charge::Done(_)))
        .count();
    assert_eq!(done, 3);
    assert!(results.contains(&Charge::Insufficient { balance: 1 }));
    // join_all keeps the order: the position of one charge that went through.
    let charged = results
        .iter()
        .position(|r| matches!(r, Charge::Done(_)))
        .unwrap() as u32;
    assert_eq!(
        c.move_credits(&charge(-3, Some((charged_preload(), charged))))
            .await
            .unwrap(),
        Charge::AlreadyRecorded
    );
    let tenant_now = c.tenant(&tenant()).await.unwrap().unwrap();
    assert_eq!(tenant_now.credits, 1);
    c.update_tenant(
        &tenant(),
        &TenantUpdate {
            credits: Some(5),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    let ledger = c.credit_ledger(&tenant(), 10).await.unwrap();
    let amounts: Vec<(CreditReason, i64, i64)> = ledger
        .iter()
        .map(|e| (e.reason, e.amount, e.balance))
        .collect();
    assert_eq!(
        amounts,
        [
            (CreditReason::Adjustment, 4, 5),
            (CreditReason::Generation, -3, 1),
            (CreditReason::Generation, -3, 4),
            (CreditReason::Generation, -3, 7),
            (CreditReason::Initial, 10, 10),
        ]
    );
}

async fn promotion_counts_the_quota_and_purges_keep_the_source(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    c.lease_blob(&hash(1), 100, now + Duration::minutes(10))
        .await
        .unwrap();
    let (cached, replaced) = c
        .store_cache_entry(&entry("f", &hash(1), 100, now))
        .await
        .unwrap();
    assert!(replaced.is_none());
    let promotion = |quota: u64| Promotion {
        entry_id: cached.id.clone(),
        tenant: tenant(),
        folder: AssetType::Image.folder(),
        names: vec![FileName::sanitise("hero.webp").unwrap()],
        now,
        default_quota: Some(quota),
        share: true,
    };
    assert!(matches!(
        c.promote_cache_entry(&promotion(99)).await,
        Err(CatalogError::StorageBlocked)
    ));
    let file = c.promote_cache_entry(&promotion(100)).await.unwrap();
    assert_eq!(file.path(), "generated/image/hero.webp");
    assert_eq!(file.blob, Some(hash(1)));
    assert_eq!(c.tenant(&tenant()).await.unwrap().unwrap().used_bytes, 100);
    // Promoting again answers with the same file and counts nothing twice.
    assert_eq!(c.promote_cache_entry(&promotion(100)).await.unwrap(), file);
    assert_eq!(c.tenant(&tenant()).await.unwrap().unwrap().used_bytes, 100);

    // The purge drops the entry's reference; the drive's keeps the blob.
    let rule = |dry_run| SweepRule {
        now,
        uploads_lapsed_before: now,
        temp_cutoff: now - Duration::days(1),
        cache_cutoff: now + Duration::days(4),
        preloads_before: now,
        dry_run,
    };
    assert_eq!(
        c.sweep_files(&rule(true), &|f| announce("file.deleted", f))
            .await
            .unwrap()
            .purged_cache_entries
            .len(),
        1
    );
    let purged = c
        .sweep_files(&rule(false), &|f| announce("file.deleted", f))
        .await
        .unwrap()
        .purged_cache_entries;
    assert_eq!(purged[0].blob, Some(hash(1)));
    let after = c.cache_entry(&tenant(), "f").await.unwrap().unwrap();
    assert_eq!((after.blob, after.source.as_str()), (None, "{}"));
    assert_eq!(
        after.persisted.as_ref().map(|f| f.id.clone()),
        Some(file.id.clone())
    );
    assert!(reclaim(c.as_ref(), now, Some(&[hash(1)])).await.is_empty());

    // Deleting the file clears the backreference, and the blob may go.
    c.delete_files(
        &tenant(),
        &[(file.folder.clone(), file.name.clone())],
        &|f| announce("file.deleted", f),
    )
    .await
    .unwrap();
    assert!(c
        .cache_entry(&tenant(), "f")
        .await
        .unwrap()
        .unwrap()
        .persisted
        .is_none());
    assert_eq!(reclaim(c.as_ref(), now, Some(&[hash(1)])).await, [hash(1)]);

    // A regeneration stores new bytes under the same entry.
    c.lease_blob(&hash(2), 50, now + Duration::minutes(10))
        .await
        .unwrap();
    let (regenerated, replaced) = c
        .store_cache_entry(&entry("f", &hash(2), 50, now))
        .await
        .unwrap();
    assert_eq!(
        (regenerated.id, regenerated.blob, replaced),
        (cached.id, Some(hash(2)), None)
    );
}
