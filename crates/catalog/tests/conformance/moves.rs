//! Folder moves: exactly the subtree moves, with its files.

use std::sync::Arc;

use chrono::Utc;
use mediadrive_core::{Catalog, CatalogError, FileName, FolderMove, FolderPath};

use super::{hash, stored, tenant};

every_backend_of_module!(folder_moves_touch_exactly_the_subtree,);

async fn folder_moves_touch_exactly_the_subtree(c: Arc<dyn Catalog>) {
    let c = c.as_ref();
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    stored(c, "a_b", "1.bin", 1, &hash(1)).await;
    stored(c, "a_b/c", "2.bin", 2, &hash(2)).await;
    // `_` is a LIKE wildcard: "aXb" must not be taken for "a_b".
    stored(c, "aXb", "3.bin", 4, &hash(3)).await;
    stored(c, "a_b-2", "4.bin", 8, &hash(4)).await;
    let to = FolderPath::sanitise("temp/old").unwrap();
    c.move_folder(&FolderMove {
        tenant: tenant(),
        from: FolderPath::sanitise("a_b").unwrap(),
        to: to.clone(),
        now: Utc::now(),
        default_quota: None,
    })
    .await
    .unwrap();
    let paths: Vec<String> = c
        .folder_tree(&tenant())
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path.to_string())
        .collect();
    assert_eq!(
        paths,
        ["", "aXb", "a_b-2", "temp", "temp/old", "temp/old/c"]
    );
    let moved = c
        .file(
            &tenant(),
            &FolderPath::sanitise("temp/old/c").unwrap(),
            &FileName::sanitise("2.bin").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(moved.temporary && moved.temporary_since.is_some());
    assert_eq!(c.tenant(&tenant()).await.unwrap().unwrap().used_bytes, 12);
    assert!(matches!(
        c.move_folder(&FolderMove {
            tenant: tenant(),
            from: to.clone(),
            to: FolderPath::sanitise("temp/old/c/d").unwrap(),
            now: Utc::now(),
            default_quota: None,
        })
        .await,
        Err(CatalogError::MoveIntoSelf)
    ));
}
