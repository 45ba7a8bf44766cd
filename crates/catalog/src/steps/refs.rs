// Blob reference counts as other aggregates change them: a lease given up, references dropped.

use mediadrive_core::{catalog::CatalogResult, ContentHash};

use super::{backend, Conn, Pool};

pub async fn release_lease(pool: &Pool, hash: &ContentHash) -> CatalogResult<()> {
    sqlx::query(
        "UPDATE blobs SET leases = CASE WHEN leases > 0 THEN leases - 1 ELSE 0 END WHERE hash = $1",
    )
    .bind(hash.as_str())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Drops `n` references to a blob.
pub async fn unreference(conn: &mut Conn, hash: &ContentHash, n: i64) -> CatalogResult<()> {
    sqlx::query(
        "UPDATE blobs SET refcount = CASE WHEN refcount > $2 THEN refcount - $2 ELSE 0 END
         WHERE hash = $1",
    )
    .bind(hash.as_str())
    .bind(n)
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(())
}
