//! The PostgreSQL catalog: for many stateless nodes sharing one database.

use std::{str::FromStr, time::Duration};

use mediadrive_core::{catalog::CatalogResult, ClientId};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::{backend, placeholders, rows};

type Db = sqlx::Postgres;
type Pool = sqlx::PgPool;
type Conn = sqlx::PgConnection;
type Backend = PostgresCatalog;

pub struct PostgresCatalog {
    pool: Pool,
    /// One connection of its own for health checks and metrics, so that they answer whether the
    /// catalog works rather than how long the queue for the main pool is.
    health: Pool,
}

impl PostgresCatalog {
    /// Connects to `url` and brings the schema up to date (migrations take an advisory lock, so
    /// nodes starting together apply them once).
    pub async fn open(url: &str) -> CatalogResult<Self> {
        let options = PgConnectOptions::from_str(url).map_err(backend)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        crate::migrate(sqlx::migrate!("./migrations/postgres"), &pool).await?;
        let health = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(backend)?;
        Ok(Self { pool, health })
    }
}

async fn write_tx(pool: &Pool) -> CatalogResult<sqlx::Transaction<'static, Db>> {
    pool.begin().await.map_err(backend)
}

/// Serialises changes to one tenant's drive across connections and nodes, in one lock order:
/// the tenant row first, then whatever else the transaction touches.
async fn lock_tenant(conn: &mut Conn, tenant: &ClientId) -> CatalogResult<()> {
    sqlx::query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE")
        .bind(tenant.as_str())
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

queries!();
