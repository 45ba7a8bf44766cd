//! The SQLite catalog: the embedded default, one file under the data directory.

use std::{path::Path, str::FromStr, time::Duration};

use mediadrive_core::{catalog::CatalogResult, CatalogError, ClientId, ContentHash};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{backend, placeholders, rows};

type Db = sqlx::Sqlite;
type Pool = sqlx::SqlitePool;
type Conn = sqlx::SqliteConnection;
type Backend = SqliteCatalog;

pub struct SqliteCatalog {
    pool: Pool,
    /// One connection of its own for health checks and metrics, so that they answer whether the
    /// catalog works rather than how long the queue for the main pool is.
    health: Pool,
}

/// Creates the database file readable by its owner alone, before SQLite would create it with the
/// process's umask: it holds every tenant's metadata and the server's signing secrets. SQLite gives
/// its `-wal` and `-shm` files the database file's permissions.
fn create_private(path: &Path) -> CatalogResult<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if path == Path::new(":memory:") || path.exists() {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(CatalogError::Backend(format!(
            "creating {}: {e}",
            path.display()
        ))),
    }
}

impl SqliteCatalog {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> CatalogResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        create_private(options.get_filename())?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        crate::migrate(sqlx::migrate!("./migrations/sqlite"), &pool).await?;
        let health = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(backend)?;
        Ok(Self { pool, health })
    }

    /// Writes a consistent copy of the whole catalog to `path`, which must not exist, and returns
    /// the content its files and cache entries hold (blobs with references), as of that copy.
    pub async fn snapshot_into(&self, path: &Path) -> CatalogResult<Vec<ContentHash>> {
        let target = path
            .to_str()
            .ok_or_else(|| CatalogError::Backend(format!("{}: not UTF-8", path.display())))?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        let copy = SqliteConnectOptions::new().filename(path).read_only(true);
        let mut conn = sqlx::ConnectOptions::connect(&copy)
            .await
            .map_err(backend)?;
        let hashes: Vec<String> = sqlx::query_scalar("SELECT hash FROM blobs WHERE refcount > 0")
            .fetch_all(&mut conn)
            .await
            .map_err(backend)?;
        hashes
            .iter()
            .map(|h| {
                ContentHash::parse(h)
                    .ok_or_else(|| CatalogError::Backend(format!("a blob row names {h}")))
            })
            .collect()
    }
}

/// Takes the write lock at BEGIN: a deferred transaction that reads before writing can fail
/// with SQLITE_BUSY when another connection (or the CLI in another process) wrote meanwhile.
/// One writer at a time also serialises each tenant's changes, so `lock_tenant` has nothing to do.
async fn write_tx(pool: &Pool) -> CatalogResult<sqlx::Transaction<'static, Db>> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)
}

async fn lock_tenant(_conn: &mut Conn, _tenant: &ClientId) -> CatalogResult<()> {
    Ok(())
}

queries!();
