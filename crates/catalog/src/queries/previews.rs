// Previews: blobs derived from a blob, each holding one reference, linked by source and name.

use async_trait::async_trait;
use mediadrive_core::{
    catalog::{CatalogResult, PreviewStore},
    CatalogError, ContentHash, Preview,
};

use sqlx::QueryBuilder;

use super::{backend, steps::refs, Backend, Db};

#[async_trait]
impl PreviewStore for Backend {
    async fn add_preview(&self, preview: &Preview) -> CatalogResult<()> {
        let pool = &self.pool;
        let mut tx = pool.begin().await.map_err(backend)?;
        // The source first (the order finish_reclaim takes too): it must still be alive, and it stays
        // so until this commits, or its previews would outlive it.
        let source_alive = sqlx::query(
            "UPDATE blobs SET refcount = refcount
             WHERE hash = $1 AND refcount > 0 AND reclaim_token IS NULL",
        )
        .bind(preview.source.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if source_alive.rows_affected() != 1 {
            return Err(CatalogError::NotFound);
        }
        // The lease the preview's ingest took becomes the preview's reference.
        let referenced = sqlx::query(
            "UPDATE blobs SET refcount = refcount + 1,
                              leases = CASE WHEN leases > 0 THEN leases - 1 ELSE 0 END
             WHERE hash = $1 AND reclaim_token IS NULL",
        )
        .bind(preview.blob.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if referenced.rows_affected() != 1 {
            return Err(CatalogError::BlobBusy);
        }
        let replaced: Option<String> = sqlx::query_scalar(
            "DELETE FROM previews WHERE source_hash = $1 AND name = $2 RETURNING preview_hash",
        )
        .bind(preview.source.as_str())
        .bind(&preview.name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if let Some(old) = replaced.and_then(|h| ContentHash::parse(&h)) {
            refs::unreference(&mut tx, &old, 1).await?;
        }
        sqlx::query(
            "INSERT INTO previews (source_hash, name, preview_hash, content_type) VALUES ($1, $2, $3, $4)",
        )
        .bind(preview.source.as_str())
        .bind(&preview.name)
        .bind(preview.blob.as_str())
        .bind(&preview.content_type)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn previews(&self, source: &ContentHash) -> CatalogResult<Vec<Preview>> {
        let pool = &self.pool;
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT p.name, p.preview_hash, p.content_type, b.size
             FROM previews p JOIN blobs b ON b.hash = p.preview_hash
             WHERE p.source_hash = $1 ORDER BY p.name",
        )
        .bind(source.as_str())
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(name, blob, content_type, size)| {
                Ok(Preview {
                    source: source.clone(),
                    name,
                    blob: ContentHash::parse(&blob)
                        .ok_or_else(|| CatalogError::Backend("corrupt preview hash".into()))?,
                    content_type,
                    size: size as u64,
                })
            })
            .collect()
    }

    /// Which of `sources` have a preview called `name`.
    async fn with_preview(
        &self,
        sources: &[ContentHash],
        name: &str,
    ) -> CatalogResult<Vec<ContentHash>> {
        let pool = &self.pool;
        let mut found = Vec::new();
        for chunk in sources.chunks(500) {
            let mut qb: QueryBuilder<Db> =
                QueryBuilder::new("SELECT source_hash FROM previews WHERE name = ");
            qb.push_bind(name).push(" AND source_hash IN (");
            let mut list = qb.separated(", ");
            for h in chunk {
                list.push_bind(h.as_str());
            }
            list.push_unseparated(")");
            let rows: Vec<String> = qb
                .build_query_scalar()
                .fetch_all(pool)
                .await
                .map_err(backend)?;
            found.extend(rows.iter().filter_map(|h| ContentHash::parse(h)));
        }
        Ok(found)
    }

    async fn is_preview(&self, hash: &ContentHash) -> CatalogResult<bool> {
        let pool = &self.pool;
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM previews WHERE preview_hash = $1)")
            .bind(hash.as_str())
            .fetch_one(pool)
            .await
            .map_err(backend)
    }
}
