//! The drive's folders and files: listing pages, folder markers, moves and folder deletes.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mediadrive_core::{
    Catalog, CatalogError, ClientId, FileMove, FileName, FileRecord, FolderPath, ListQuery,
    MediaType, NewUpload, SortField, SortOrder, UploadClaim,
};

use super::{announce, hash, tenant};

every_backend_of_module!(
    listing_pages_without_gaps_or_repeats_in_either_order,
    folders_are_made_with_their_ancestors_and_listed_by_parent,
    file_moves_rename_count_the_quota_and_refuse_collisions,
    folder_deletes_take_the_subtree_only_when_asked,
);

fn folder(path: &str) -> FolderPath {
    FolderPath::sanitise_or_root(Some(path)).unwrap()
}

fn name(n: &str) -> FileName {
    FileName::sanitise(n).unwrap()
}

/// An uploaded file of `tenant` created at `at`, holding blob `blob`.
async fn file_at(
    c: &dyn Catalog,
    tenant: &ClientId,
    path: (&str, &str),
    content_type: &str,
    size: u64,
    blob: u8,
    at: DateTime<Utc>,
) -> FileRecord {
    let file = c
        .reserve_upload(&NewUpload {
            tenant: tenant.clone(),
            folder: folder(path.0),
            name: name(path.1),
            content_type: content_type.into(),
            size,
            now: at,
            upload_expires_at: Utc::now() + Duration::minutes(2),
            default_quota: None,
        })
        .await
        .unwrap();
    let now = Utc::now();
    assert!(matches!(
        c.claim_upload(&file.id, now, now + Duration::hours(1))
            .await
            .unwrap(),
        UploadClaim::Claimed(_)
    ));
    c.lease_blob(&hash(blob), size, now + Duration::minutes(10))
        .await
        .unwrap();
    c.complete_upload(&file.id, &hash(blob), now, &|f| {
        announce("file.uploaded", f)
    })
    .await
    .unwrap()
}

fn query(sort: SortField, order: SortOrder, media_type: Option<MediaType>) -> ListQuery {
    ListQuery {
        tenant: tenant(),
        folder: folder("clips"),
        media_type,
        sort,
        order,
        limit: 3,
        after: None,
    }
}

/// Every page of `q`, followed by its cursors; the names in the order they came.
async fn all_pages(c: &dyn Catalog, mut q: ListQuery) -> Vec<String> {
    let mut names = Vec::new();
    for _ in 0..10 {
        let page = c.list_files(&q).await.unwrap();
        assert!(page.files.len() <= q.limit as usize);
        names.extend(page.files.iter().map(|f| f.name.as_str().to_string()));
        match page.next {
            Some(next) => q.after = Some(next),
            None => return names,
        }
    }
    panic!("the listing never ended: {names:?}");
}

async fn listing_pages_without_gaps_or_repeats_in_either_order(c: Arc<dyn Catalog>) {
    let c = c.as_ref();
    let base = Utc::now() - Duration::hours(1);
    c.ensure_tenant(&tenant(), 0, base).await.unwrap();
    // Created in an order unlike their names'; two share a creation time.
    let made = [
        ("e.webp", "image/webp", 0),
        ("a.mp4", "video/mp4", 1),
        ("g.webp", "image/webp", 2),
        ("c.mp4", "video/mp4", 3),
        ("b.webp", "image/webp", 3),
        ("f.mp3", "audio/mpeg", 4),
        ("d.webp", "image/webp", 5),
    ];
    for (i, (n, t, secs)) in made.iter().enumerate() {
        let at = base + Duration::seconds(*secs);
        file_at(c, &tenant(), ("clips", n), t, 10, i as u8 + 1, at).await;
    }
    // Neither another folder's files nor another tenant's are listed.
    file_at(
        c,
        &tenant(),
        ("clips/sub", "z.webp"),
        "image/webp",
        1,
        20,
        base,
    )
    .await;
    let other = ClientId::parse("globex").unwrap();
    c.ensure_tenant(&other, 0, base).await.unwrap();
    file_at(c, &other, ("clips", "y.webp"), "image/webp", 1, 21, base).await;

    let by_name = all_pages(c, query(SortField::Name, SortOrder::Asc, None)).await;
    assert_eq!(
        by_name,
        ["a.mp4", "b.webp", "c.mp4", "d.webp", "e.webp", "f.mp3", "g.webp"]
    );
    let by_name_desc = all_pages(c, query(SortField::Name, SortOrder::Desc, None)).await;
    assert_eq!(
        by_name_desc,
        by_name.iter().rev().cloned().collect::<Vec<_>>()
    );
    // Ties in creation time are broken by name, in the same direction.
    let by_date = all_pages(c, query(SortField::Date, SortOrder::Asc, None)).await;
    assert_eq!(
        by_date,
        ["e.webp", "a.mp4", "g.webp", "b.webp", "c.mp4", "f.mp3", "d.webp"]
    );
    let by_date_desc = all_pages(c, query(SortField::Date, SortOrder::Desc, None)).await;
    assert_eq!(
        by_date_desc,
        by_date.iter().rev().cloned().collect::<Vec<_>>()
    );
    let images = all_pages(
        c,
        query(SortField::Name, SortOrder::Asc, Some(MediaType::Image)),
    )
    .await;
    assert_eq!(images, ["b.webp", "d.webp", "e.webp", "g.webp"]);
    // A page that ends exactly at the last file says no more follow.
    let page = c
        .list_files(&ListQuery {
            limit: 7,
            ..query(SortField::Name, SortOrder::Asc, None)
        })
        .await
        .unwrap();
    assert_eq!((page.files.len(), page.next), (7, None));
    let empty = c
        .list_files(&ListQuery {
            folder: folder("nowhere"),
            ..query(SortField::Name, SortOrder::Asc, None)
        })
        .await
        .unwrap();
    assert!(empty.files.is_empty() && empty.next.is_none());
}

async fn folders_are_made_with_their_ancestors_and_listed_by_parent(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    assert!(c
        .folder_exists(&tenant(), &FolderPath::root())
        .await
        .unwrap());
    assert!(!c.folder_exists(&tenant(), &folder("a")).await.unwrap());
    assert!(c
        .create_folder(&tenant(), &folder("a/b/c"), now)
        .await
        .unwrap());
    assert!(!c
        .create_folder(&tenant(), &folder("a/b/c"), now)
        .await
        .unwrap());
    assert!(!c
        .create_folder(&tenant(), &folder("a/b"), now)
        .await
        .unwrap());
    for path in ["a", "a/b", "a/b/c"] {
        assert!(
            c.folder_exists(&tenant(), &folder(path)).await.unwrap(),
            "{path}"
        );
    }
    assert!(!c.folder_exists(&tenant(), &folder("a/x")).await.unwrap());
    assert!(!c.folder_exists(&tenant(), &folder("b")).await.unwrap());
    assert!(c
        .create_folder(&tenant(), &folder("a/d"), now)
        .await
        .unwrap());
    assert!(c.create_folder(&tenant(), &folder("z"), now).await.unwrap());
    let paths = |entries: Vec<mediadrive_core::FolderEntry>| {
        entries
            .into_iter()
            .map(|e| e.path.as_str().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        paths(c.subfolders(&tenant(), &FolderPath::root()).await.unwrap()),
        ["a", "z"]
    );
    assert_eq!(
        paths(c.subfolders(&tenant(), &folder("a")).await.unwrap()),
        ["a/b", "a/d"]
    );
    assert_eq!(
        paths(c.subfolders(&tenant(), &folder("a/b")).await.unwrap()),
        ["a/b/c"]
    );
    assert!(c
        .subfolders(&tenant(), &folder("a/b/c"))
        .await
        .unwrap()
        .is_empty());
    let entry = &c.subfolders(&tenant(), &folder("a/b")).await.unwrap()[0];
    assert!((entry.created_at - now).num_milliseconds().abs() <= 1);
    // Another tenant's drive has none of them.
    let other = ClientId::parse("globex").unwrap();
    c.ensure_tenant(&other, 0, now).await.unwrap();
    assert!(!c.folder_exists(&other, &folder("a")).await.unwrap());
    assert!(c
        .subfolders(&other, &FolderPath::root())
        .await
        .unwrap()
        .is_empty());
    assert!(c.create_folder(&other, &folder("a"), now).await.unwrap());
}

fn move_of(from: (&str, &str), to: (&str, &str), quota: Option<u64>) -> FileMove {
    FileMove {
        tenant: tenant(),
        from_folder: folder(from.0),
        name: name(from.1),
        to_folder: folder(to.0),
        to_name: name(to.1),
        now: Utc::now(),
        default_quota: quota,
    }
}

async fn file_moves_rename_count_the_quota_and_refuse_collisions(c: Arc<dyn Catalog>) {
    let c = c.as_ref();
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let clip = file_at(c, &tenant(), ("", "clip.mp4"), "video/mp4", 100, 1, now).await;
    file_at(c, &tenant(), ("", "other.mp4"), "video/mp4", 50, 2, now).await;

    let moved = c
        .move_file(&move_of(
            ("", "clip.mp4"),
            ("videos/raw", "take1.mp4"),
            None,
        ))
        .await
        .unwrap();
    assert_eq!(
        (moved.id.clone(), moved.blob.clone()),
        (clip.id.clone(), clip.blob.clone())
    );
    assert_eq!(moved.path(), "videos/raw/take1.mp4");
    assert_eq!(c.file_by_id(&clip.id).await.unwrap(), Some(moved.clone()));
    assert!(c
        .folder_exists(&tenant(), &folder("videos/raw"))
        .await
        .unwrap());
    assert!(c
        .file(&tenant(), &FolderPath::root(), &name("clip.mp4"))
        .await
        .unwrap()
        .is_none());
    // Moving a file onto itself changes nothing.
    let same = c
        .move_file(&move_of(
            ("videos/raw", "take1.mp4"),
            ("videos/raw", "take1.mp4"),
            None,
        ))
        .await
        .unwrap();
    assert_eq!(same, moved);
    assert!(matches!(
        c.move_file(&move_of(
            ("", "other.mp4"),
            ("videos/raw", "take1.mp4"),
            None
        ))
        .await,
        Err(CatalogError::FileExists)
    ));
    assert!(matches!(
        c.move_file(&move_of(("", "gone.mp4"), ("", "x.mp4"), None))
            .await,
        Err(CatalogError::NotFound)
    ));
    assert_eq!(c.tenant(&tenant()).await.unwrap().unwrap().used_bytes, 150);

    // Into temp it stops counting and its age starts; out again it must fit the quota.
    let temp = c
        .move_file(&move_of(
            ("videos/raw", "take1.mp4"),
            ("temp", "take1.mp4"),
            None,
        ))
        .await
        .unwrap();
    assert!(temp.temporary && temp.temporary_since.is_some());
    assert_eq!(c.tenant(&tenant()).await.unwrap().unwrap().used_bytes, 50);
    assert!(matches!(
        c.move_file(&move_of(("temp", "take1.mp4"), ("", "back.mp4"), Some(149)))
            .await,
        Err(CatalogError::StorageBlocked)
    ));
    assert_eq!(
        c.file_by_id(&clip.id).await.unwrap().unwrap().path(),
        "temp/take1.mp4"
    );
    let back = c
        .move_file(&move_of(("temp", "take1.mp4"), ("", "back.mp4"), Some(150)))
        .await
        .unwrap();
    assert!(!back.temporary && back.temporary_since.is_none());
    assert_eq!(c.tenant(&tenant()).await.unwrap().unwrap().used_bytes, 150);
    assert!(c
        .file_by_id(&mediadrive_core::FileId::parse(&"0".repeat(32)).unwrap())
        .await
        .unwrap()
        .is_none());
}

async fn folder_deletes_take_the_subtree_only_when_asked(c: Arc<dyn Catalog>) {
    let c = c.as_ref();
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let deep = file_at(
        c,
        &tenant(),
        ("a/b", "x.bin"),
        "application/octet-stream",
        1,
        1,
        now,
    )
    .await;
    let top = file_at(
        c,
        &tenant(),
        ("a", "y.bin"),
        "application/octet-stream",
        2,
        2,
        now,
    )
    .await;
    // A sibling whose name starts like the folder's is not inside it.
    file_at(
        c,
        &tenant(),
        ("ab", "z.bin"),
        "application/octet-stream",
        4,
        3,
        now,
    )
    .await;
    c.create_folder(&tenant(), &folder("a/empty"), now)
        .await
        .unwrap();
    c.create_folder(&tenant(), &folder("e"), now).await.unwrap();
    let announce_deleted = |f: &FileRecord| announce("file.deleted", f);

    for path in ["a", "a/b"] {
        assert!(
            matches!(
                c.delete_folder(&tenant(), &folder(path), false, &announce_deleted)
                    .await,
                Err(CatalogError::FolderNotEmpty)
            ),
            "{path}"
        );
    }
    assert!(c
        .delete_folder(&tenant(), &folder("e"), false, &announce_deleted)
        .await
        .unwrap()
        .is_empty());
    assert!(!c.folder_exists(&tenant(), &folder("e")).await.unwrap());
    assert!(matches!(
        c.delete_folder(&tenant(), &folder("e"), false, &announce_deleted)
            .await,
        Err(CatalogError::NotFound)
    ));

    let mut deleted: Vec<_> = c
        .delete_folder(&tenant(), &folder("a"), true, &announce_deleted)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    deleted.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    let mut want = vec![deep.id, top.id];
    want.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    assert_eq!(deleted, want);
    for path in ["a", "a/b", "a/empty"] {
        assert!(
            !c.folder_exists(&tenant(), &folder(path)).await.unwrap(),
            "{path}"
        );
    }
    assert!(c
        .file(&tenant(), &folder("ab"), &name("z.bin"))
        .await
        .unwrap()
        .is_some());
    assert_eq!(c.tenant(&tenant()).await.unwrap().unwrap().used_bytes, 4);
    // Their blobs are free to go; the sibling's is not.
    let freed = super::reclaim(c, Utc::now(), None).await;
    assert_eq!(freed.len(), 2);
    assert!(freed.contains(&hash(1)) && freed.contains(&hash(2)));
}
