//! One behavioural suite for every catalog backend: each case takes a fresh, empty catalog, and
//! runs on SQLite and on PostgreSQL.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mediadrive_catalog::{PostgresCatalog, SqliteCatalog};
use mediadrive_core::{
    catalog::CatalogResult, AssetType, Catalog, CatalogError, ClientId, ContentHash, EventId,
    FileName, FileRecord, FolderPath, ItemRequest, NewCacheEntry, NewEvent, NewPreload, NewUpload,
    UploadClaim,
};

/// Runs the cases of the module it is used in on both engines.
macro_rules! every_backend_of_module {
    ($($case:ident),* $(,)?) => {
        every_backend_of_module!(@engine sqlite: $($case),*);
        every_backend_of_module!(@engine postgres: $($case),*);
    };
    (@engine $backend:ident: $($case:ident),*) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $case() {
                    let fresh = crate::$backend().await;
                    super::$case(fresh.catalog.clone()).await;
                }
            )*
        }
    };
}

mod access;
mod blobs;
mod drive;
mod moves;
mod preloads;
mod project_pages;
mod projects;
mod renders;
mod reservations;
mod sweeps;
mod temp_budget;
mod uploads;
mod webhooks;

struct Fresh {
    catalog: Arc<dyn Catalog>,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
    Fresh {
        catalog: Arc::new(SqliteCatalog::open(&url).await.unwrap()),
        _dir: Some(dir),
    }
}

/// A new database on the cluster `scripts/test` starts.
async fn postgres() -> Fresh {
    use sqlx::{Connection, Executor};
    let admin = std::env::var("MEDIADRIVE_TEST_POSTGRES_URL")
        .expect("MEDIADRIVE_TEST_POSTGRES_URL is not set: run the tests with scripts/test");
    let name = format!("md_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let (server, _) = admin.rsplit_once('/').unwrap();
    let catalog = PostgresCatalog::open(&format!("{server}/{name}"))
        .await
        .unwrap();
    Fresh {
        catalog: Arc::new(catalog),
        _dir: None,
    }
}

fn tenant() -> ClientId {
    ClientId::parse("acme").unwrap()
}

/// Makes `n` attempts at once; how many succeeded. Every other one must fail with `refused`.
async fn granted<T, Fut>(
    n: usize,
    attempt: impl Fn(usize) -> Fut,
    refused: fn(&CatalogError) -> bool,
) -> usize
where
    T: Send + 'static,
    Fut: std::future::Future<Output = CatalogResult<T>> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(attempt(i))).collect();
    let mut granted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => granted += 1,
            Err(e) if refused(&e) => {}
            Err(e) => panic!("{e}"),
        }
    }
    granted
}

fn hash(n: u8) -> ContentHash {
    ContentHash::from_bytes([n; 32])
}

fn upload(folder: &str, name: &str, size: u64, quota: Option<u64>) -> NewUpload {
    let now = Utc::now();
    NewUpload {
        tenant: tenant(),
        folder: FolderPath::sanitise_or_root(Some(folder)).unwrap(),
        name: FileName::sanitise(name).unwrap(),
        content_type: "application/octet-stream".into(),
        size,
        now,
        upload_expires_at: now + Duration::seconds(120),
        default_quota: quota,
    }
}

/// Uploads a file through the catalog's whole protocol: reserve, claim, lease, complete.
async fn stored(c: &dyn Catalog, folder: &str, name: &str, size: u64, blob: &ContentHash) {
    let file = c
        .reserve_upload(&upload(folder, name, size, None))
        .await
        .unwrap();
    let now = Utc::now();
    assert!(matches!(
        c.claim_upload(&file.id, now, now + Duration::hours(1))
            .await
            .unwrap(),
        UploadClaim::Claimed(_)
    ));
    c.lease_blob(blob, size, now + Duration::minutes(10))
        .await
        .unwrap();
    c.complete_upload(&file.id, blob, now, &|f| announce("file.uploaded", f))
        .await
        .unwrap();
}

/// The event a server would write with a change to `file`.
fn announce(kind: &str, file: &FileRecord) -> NewEvent {
    NewEvent {
        id: EventId::parse(&format!("msg_{}", uuid::Uuid::new_v4().simple())).unwrap(),
        tenant: file.tenant.clone(),
        event_type: kind.into(),
        payload: format!("{{\"path\":\"{}\"}}", file.path()),
        callback: None,
        now: Utc::now(),
    }
}

/// Marks set more than ten minutes before `now` are a dead reclaimer's.
fn stale(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::minutes(10)
}

async fn reclaim(
    c: &dyn Catalog,
    now: DateTime<Utc>,
    only: Option<&[ContentHash]>,
) -> Vec<ContentHash> {
    let marked = c.begin_blob_reclaim(now, only, stale(now)).await.unwrap();
    for h in &marked.hashes {
        c.finish_blob_reclaim(h, &marked.token).await.unwrap();
    }
    marked.hashes
}

fn item(fingerprint: &str) -> ItemRequest {
    ItemRequest {
        item_id: Some("hero".into()),
        asset_type: AssetType::Image,
        model: "local-image".into(),
        source: format!("{{\"fp\":\"{fingerprint}\"}}"),
        fingerprint: fingerprint.into(),
        save_to_media: false,
    }
}

fn preload(items: Vec<ItemRequest>, key: Option<&str>, now: DateTime<Utc>) -> NewPreload {
    NewPreload {
        tenant: tenant(),
        items,
        callback: None,
        idempotency_key: key.map(str::to_string),
        idempotency_since: now - Duration::hours(24),
        now,
    }
}

fn entry(fingerprint: &str, blob: &ContentHash, size: u64, now: DateTime<Utc>) -> NewCacheEntry {
    NewCacheEntry {
        tenant: tenant(),
        fingerprint: fingerprint.into(),
        asset_type: AssetType::Image,
        model: "local-image".into(),
        source: "{}".into(),
        blob: blob.clone(),
        content_type: "image/webp".into(),
        extension: "webp".into(),
        size,
        width: Some(8),
        height: Some(8),
        duration_ms: None,
        generated_at: now,
        expires_at: now + Duration::days(3),
        default_quota: None,
    }
}
