//! Projects of the Video Jungle surface: assets, scripts, and generated assets taking their file.

use std::sync::Arc;

use chrono::{Duration, Utc};
use mediadrive_core::{
    AssetCursor, AssetQuery, AssetRemoval, AssetType, Catalog, CatalogError, ClientId, FileName,
    FileRecord, FolderPath, ItemOutcome, ItemRequest, ItemResult, ItemStatus, NewGeneratedAsset,
    NewProject, NewProjectAsset, NewProjectScript, ProjectId, Promotion, SweepRule,
};

use super::{announce, entry, granted, hash, item, preload, tenant, upload};

/// A well-formed id no project has.
fn missing_project() -> ProjectId {
    ProjectId::parse("00000000-0000-4000-8000-000000000000").unwrap()
}

every_backend_of_module!(
    project_assets_page_attach_once_and_leave_with_their_file,
    generated_assets_take_their_file_as_their_item_ends_and_share_it,
    concurrent_creations_never_pass_the_project_limit,
);

async fn concurrent_creations_never_pass_the_project_limit(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let other = ClientId::parse("globex").unwrap();
    c.ensure_tenant(&other, 0, now).await.unwrap();
    let new = move |tenant: ClientId, i: usize| NewProject {
        tenant,
        name: format!("p{i}"),
        description: None,
        data: None,
        folder: FolderPath::from_stored(&format!("projects/p-{i}")).unwrap(),
        now,
        max_projects: 5,
    };
    let attempt = |i| {
        let c = c.clone();
        async move { c.create_project(&new(tenant(), i)).await }
    };
    let limited = |e: &CatalogError| matches!(e, CatalogError::TooManyProjects);
    assert_eq!(granted(20, attempt, limited).await, 5);
    assert_eq!(c.projects(&tenant(), 100, 0).await.unwrap().len(), 5);
    // Each tenant has its own count; a deleted project makes room.
    c.create_project(&new(other, 0)).await.unwrap();
    let first = c.projects(&tenant(), 100, 0).await.unwrap().remove(0);
    assert!(c.delete_project(&tenant(), &first.id).await.unwrap());
    c.create_project(&new(tenant(), 99)).await.unwrap();
}

async fn project_assets_page_attach_once_and_leave_with_their_file(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let other = ClientId::parse("globex").unwrap();
    c.ensure_tenant(&other, 0, now).await.unwrap();
    let project = c
        .create_project(&NewProject {
            tenant: tenant(),
            name: "p".into(),
            description: None,
            data: Some("{\"seed\":42}".into()),
            folder: FolderPath::from_stored("projects/p-1").unwrap(),
            now,
            max_projects: 0,
        })
        .await
        .unwrap();
    assert!(c.project(&other, &project.id).await.unwrap().is_none());
    let new_asset = |i: i64, project_id: &ProjectId, waits: Duration| NewProjectAsset {
        tenant: tenant(),
        project_id: project_id.clone(),
        keyname: format!("key-{project_id}-{i}"),
        name: format!("a{i}"),
        asset_type: "user".into(),
        description: None,
        create_parameters: None,
        now: now + Duration::milliseconds(i),
        upload_expires_at: now + waits,
    };
    // Not into another tenant's project, nor a missing one.
    assert!(matches!(
        c.create_project_asset(&new_asset(0, &missing_project(), Duration::hours(1)))
            .await,
        Err(CatalogError::NotFound)
    ));
    let mut ids = Vec::new();
    for i in 0..5 {
        let asset = c
            .create_project_asset(&new_asset(i, &project.id, Duration::hours(1)))
            .await
            .unwrap();
        ids.push(asset.id);
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut after: Option<AssetCursor> = None;
    loop {
        let page = c
            .project_assets(&AssetQuery {
                tenant: tenant(),
                project_id: project.id.clone(),
                limit: 2,
                after: after.clone(),
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(AssetCursor {
            created_ms: last.created_at.timestamp_millis(),
            id: last.id.to_string(),
        });
        seen.extend(page.iter().map(|a| a.id.clone()));
    }
    assert_eq!(seen, ids, "newest first, each once");
    // A file attaches once; deleting it takes the asset along.
    let file = c
        .reserve_upload(&upload("projects/p-1", "a.bin", 10, None))
        .await
        .unwrap();
    assert!(c
        .attach_asset_file(&tenant(), &ids[0], &file.id)
        .await
        .unwrap());
    assert!(!c
        .attach_asset_file(&tenant(), &ids[0], &file.id)
        .await
        .unwrap());
    assert!(!c
        .attach_asset_file(&other, &ids[1], &file.id)
        .await
        .unwrap());
    let attached = c.project_asset(&tenant(), &ids[0]).await.unwrap().unwrap();
    assert_eq!(attached.file.map(|f| f.id), Some(file.id.clone()));
    let by_key = c
        .project_asset_by_key(&attached.keyname)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_key.id, ids[0]);
    let target = [(file.folder.clone(), file.name.clone())];
    c.delete_files(&tenant(), &target, &|f| announce("file.deleted", f))
        .await
        .unwrap();
    assert!(c.project_asset(&tenant(), &ids[0]).await.unwrap().is_none());
    assert_eq!(
        c.project(&tenant(), &project.id)
            .await
            .unwrap()
            .unwrap()
            .asset_count,
        4
    );
    // Assets whose upload never came are swept; the project then goes with the rest.
    c.create_project_asset(&new_asset(9, &project.id, Duration::seconds(-1)))
        .await
        .unwrap();
    let rule = SweepRule {
        now,
        uploads_lapsed_before: now - Duration::hours(1),
        temp_cutoff: now - Duration::hours(1),
        cache_cutoff: now - Duration::hours(1),
        preloads_before: now - Duration::hours(1),
        dry_run: false,
    };
    assert_eq!(
        c.sweep_files(&rule, &|f| announce("file.deleted", f))
            .await
            .unwrap()
            .expired_project_assets,
        1
    );
    assert!(!c.delete_project(&other, &project.id).await.unwrap());
    assert!(c.delete_project(&tenant(), &project.id).await.unwrap());
    assert!(c.project_asset(&tenant(), &ids[1]).await.unwrap().is_none());
    assert!(c.projects(&tenant(), 100, 0).await.unwrap().is_empty());
}

async fn generated_assets_take_their_file_as_their_item_ends_and_share_it(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let other = ClientId::parse("globex").unwrap();
    c.ensure_tenant(&other, 0, now).await.unwrap();
    let project = c
        .create_project(&NewProject {
            tenant: tenant(),
            name: "p".into(),
            description: None,
            data: None,
            folder: FolderPath::from_stored("projects/p-1").unwrap(),
            now,
            max_projects: 0,
        })
        .await
        .unwrap();
    let new_script = |tenant: ClientId| NewProjectScript {
        tenant,
        project_id: project.id.clone(),
        name: "card".into(),
        template: r#"{"type":"image","prompt":"{{subject}}"}"#.into(),
        inputs: r#"[{"name":"subject","type":"string"}]"#.into(),
        now,
    };
    assert!(matches!(
        c.create_project_script(&new_script(other.clone())).await,
        Err(CatalogError::NotFound)
    ));
    let script = c
        .create_project_script(&new_script(tenant()))
        .await
        .unwrap();
    assert_eq!(
        c.project_scripts(&tenant(), &project.id).await.unwrap(),
        std::slice::from_ref(&script)
    );
    assert!(c
        .project_script(&other, &project.id, &script.id)
        .await
        .unwrap()
        .is_none());

    // Two runs of one request: two assets, one preload item each, one cache entry between them.
    let generated = |i: i64| NewGeneratedAsset {
        asset: NewProjectAsset {
            tenant: tenant(),
            project_id: project.id.clone(),
            keyname: format!("generated-{i}"),
            name: "card".into(),
            asset_type: "image".into(),
            description: None,
            create_parameters: Some(r#"{"subject":"fox"}"#.into()),
            now: now + Duration::milliseconds(i),
            upload_expires_at: now - Duration::hours(1),
        },
        script_id: script.id.clone(),
        preload: preload(
            vec![ItemRequest {
                save_to_media: true,
                ..item("fox")
            }],
            None,
            now + Duration::milliseconds(i),
        ),
    };
    let (first_preload, first) = c.create_generated_asset(&generated(0)).await.unwrap();
    let (second_preload, second) = c.create_generated_asset(&generated(1)).await.unwrap();
    let waiting = first.generation.clone().unwrap();
    assert_eq!(waiting.script_id, script.id);
    assert_eq!(waiting.item_status, Some(ItemStatus::Queued));
    assert_eq!(
        first.create_parameters.as_deref(),
        Some(r#"{"subject":"fox"}"#)
    );
    assert!(matches!(
        c.create_generated_asset(&NewGeneratedAsset {
            asset: NewProjectAsset {
                project_id: missing_project(),
                ..generated(2).asset
            },
            ..generated(2)
        })
        .await,
        Err(CatalogError::NotFound)
    ));
    // An upload never lands in a generated asset, and the sweeper leaves one being made alone.
    let stray = c
        .reserve_upload(&upload("projects/p-1", "stray.bin", 10, None))
        .await
        .unwrap();
    assert!(!c
        .attach_asset_file(&tenant(), &first.id, &stray.id)
        .await
        .unwrap());
    let rule = SweepRule {
        now,
        uploads_lapsed_before: now - Duration::hours(1),
        temp_cutoff: now - Duration::hours(1),
        cache_cutoff: now - Duration::hours(1),
        preloads_before: now - Duration::hours(1),
        dry_run: false,
    };
    let announce_deleted = |f: &FileRecord| announce("file.deleted", f);
    c.sweep_files(&rule, &announce_deleted).await.unwrap();
    assert!(c
        .project_asset(&tenant(), &first.id)
        .await
        .unwrap()
        .is_some());

    // The first item is made and persisted; ending it hands the file to its asset.
    let until = now + Duration::minutes(5);
    let claimed = c.claim_preload_items(now, until, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "equal sources are made once at a time");
    assert_eq!(
        c.project_asset(&tenant(), &first.id)
            .await
            .unwrap()
            .unwrap()
            .generation
            .unwrap()
            .item_status,
        Some(ItemStatus::Processing)
    );
    c.lease_blob(&hash(3), 100, now + Duration::minutes(10))
        .await
        .unwrap();
    let (cached, _) = c
        .store_cache_entry(&entry("fox", &hash(3), 100, now))
        .await
        .unwrap();
    let file = c
        .promote_cache_entry(&Promotion {
            entry_id: cached.id.clone(),
            tenant: tenant(),
            folder: AssetType::Image.folder(),
            names: vec![FileName::sanitise("card.webp").unwrap()],
            now,
            default_quota: None,
            share: true,
        })
        .await
        .unwrap();
    let ready = ItemOutcome::Ready(ItemResult {
        url_path: format!("/acme/files/{}", file.path()),
        persistent: true,
        ..ItemResult::default()
    });
    c.finish_preload_item(&first_preload.id, 0, until, &ready, &|_, _, _| Vec::new())
        .await
        .unwrap();
    let made = c
        .project_asset(&tenant(), &first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(made.file.as_ref().map(|f| &f.id), Some(&file.id));
    assert_eq!(made.generation.unwrap().error, None);
    // The second finds it cached and persisted: the same file.
    let claimed = c.claim_preload_items(now, until, 10).await.unwrap();
    assert_eq!(claimed[0].preload_id, second_preload.id);
    c.finish_preload_item(&second_preload.id, 0, until, &ready, &|_, _, _| Vec::new())
        .await
        .unwrap();
    let shared = c
        .project_asset(&tenant(), &second.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shared.file.map(|f| f.id), Some(file.id.clone()));

    // Forgetting the preloads loses nothing the assets hold.
    let later = SweepRule {
        preloads_before: now + Duration::days(1),
        ..rule
    };
    c.sweep_files(&later, &announce_deleted).await.unwrap();
    assert!(c
        .preload(&tenant(), &first_preload.id)
        .await
        .unwrap()
        .is_none());
    let kept = c
        .project_asset(&tenant(), &first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.file.map(|f| f.id), Some(file.id.clone()));
    assert_eq!(kept.generation.unwrap().item_status, None);

    // The shared file is the last holder's to take along.
    assert_eq!(
        c.delete_project_asset(&other, &first.id).await.unwrap(),
        AssetRemoval::Missing
    );
    assert_eq!(
        c.delete_project_asset(&tenant(), &first.id).await.unwrap(),
        AssetRemoval::Removed { last_holder: false }
    );
    assert_eq!(
        c.delete_project_asset(&tenant(), &second.id).await.unwrap(),
        AssetRemoval::Removed { last_holder: true }
    );

    // A failed item leaves its asset failed, with the reason.
    let (failing_preload, failing) = c
        .create_generated_asset(&NewGeneratedAsset {
            preload: preload(vec![item("owl")], None, now),
            ..generated(3)
        })
        .await
        .unwrap();
    c.claim_preload_items(now, until, 10).await.unwrap();
    let failed = ItemOutcome::Failed("Not enough credits".into());
    c.finish_preload_item(&failing_preload.id, 0, until, &failed, &|_, _, _| {
        Vec::new()
    })
    .await
    .unwrap();
    let failed_asset = c
        .project_asset(&tenant(), &failing.id)
        .await
        .unwrap()
        .unwrap();
    assert!(failed_asset.file.is_none());
    assert_eq!(
        failed_asset.generation.unwrap().error.as_deref(),
        Some("Not enough credits")
    );

    assert!(!c
        .delete_project_script(&other, &project.id, &script.id)
        .await
        .unwrap());
    assert!(c
        .delete_project_script(&tenant(), &project.id, &script.id)
        .await
        .unwrap());
    assert!(c
        .project_scripts(&tenant(), &project.id)
        .await
        .unwrap()
        .is_empty());
    assert!(c.delete_project(&tenant(), &project.id).await.unwrap());
}
