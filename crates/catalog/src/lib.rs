//! Catalog backends of mediadrive: metadata in SQL. The queries are written once (`shared/`, in
//! SQL both engines accept, with `?N` placeholders) and compiled into one module per engine, each
//! with its own connection setup, transaction discipline and migrations.

/// Compiles the shared queries into the engine module that invokes it; each sees that engine's
/// `Pool`, `Conn`, `prep`, `write_tx` and `lock_tenant` as `super::…`. Defined before the engine
/// modules because a `macro_rules!` is in scope only after its definition.
macro_rules! shared_queries {
    () => {
        mod blobs {
            include!("shared/blobs.rs");
        }
        mod cache {
            include!("shared/cache.rs");
        }
        mod catalog {
            include!("shared/catalog.rs");
        }
        mod credits {
            include!("shared/credits.rs");
        }
        mod drive {
            include!("shared/drive.rs");
        }
        mod folders {
            include!("shared/folders.rs");
        }
        mod preloads {
            include!("shared/preloads.rs");
        }
        mod previews {
            include!("shared/previews.rs");
        }
        mod probes {
            include!("shared/probes.rs");
        }
        mod projects {
            include!("shared/projects.rs");
        }
        mod renders {
            include!("shared/renders.rs");
        }
        mod scripts {
            include!("shared/scripts.rs");
        }
        mod sweep {
            include!("shared/sweep.rs");
        }
        mod tenants {
            include!("shared/tenants.rs");
        }
        mod uploads {
            include!("shared/uploads.rs");
        }
        mod usage {
            include!("shared/usage.rs");
        }
        mod webhooks {
            include!("shared/webhooks.rs");
        }
    };
}

mod postgres;
mod rows;
mod sqlite;
mod time;

use mediadrive_core::CatalogError;

pub use postgres::PostgresCatalog;
pub use sqlite::SqliteCatalog;

/// Brings a schema up to date. During a rolling upgrade, nodes still on the old version must keep
/// starting against a schema the new version already migrated (migrations are additive).
async fn migrate<DB>(
    mut migrations: sqlx::migrate::Migrator,
    pool: &sqlx::Pool<DB>,
) -> mediadrive_core::catalog::CatalogResult<()>
where
    DB: sqlx::Database,
    DB::Connection: sqlx::migrate::Migrate,
{
    migrations.set_ignore_missing(true);
    migrations
        .run(pool)
        .await
        .map_err(|e| CatalogError::Backend(e.to_string()))
}

pub(crate) fn backend(e: sqlx::Error) -> CatalogError {
    CatalogError::Backend(e.to_string())
}
