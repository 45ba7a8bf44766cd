//! Catalog backends of mediadrive: metadata in SQL. The queries are written once (`queries/`, one
//! module per aggregate implementing its store trait, in SQL both engines accept, with `$N`
//! placeholders) and compiled into one module per engine, each with its own connection setup,
//! transaction discipline and migrations.

/// Compiles the queries into the engine module that invokes it; each sees that engine's
/// `Backend`, `Pool`, `Conn`, `write_tx` and `lock_tenant` as `super::…`. Defined before the
/// engine modules because a `macro_rules!` is in scope only after its definition.
macro_rules! queries {
    () => {
        mod blobs {
            include!("queries/blobs.rs");
        }
        mod cache {
            include!("queries/cache.rs");
        }
        mod credits {
            include!("queries/credits.rs");
        }
        mod deliveries {
            include!("queries/deliveries.rs");
        }
        mod drive {
            include!("queries/drive.rs");
        }
        mod generated {
            include!("queries/generated.rs");
        }
        mod health {
            include!("queries/health.rs");
        }
        mod keys {
            include!("queries/keys.rs");
        }
        mod preloads {
            include!("queries/preloads.rs");
        }
        mod previews {
            include!("queries/previews.rs");
        }
        mod probes {
            include!("queries/probes.rs");
        }
        mod projects {
            include!("queries/projects.rs");
        }
        mod renders {
            include!("queries/renders.rs");
        }
        mod scripts {
            include!("queries/scripts.rs");
        }
        mod sweep {
            include!("queries/sweep.rs");
        }
        mod tenants {
            include!("queries/tenants.rs");
        }
        mod uploads {
            include!("queries/uploads.rs");
        }
        mod webhooks {
            include!("queries/webhooks.rs");
        }
        /// The steps that several aggregates take inside their own transactions (quota counters,
        /// folder rows, blob references, the outbox, the ledger). They never call `queries`.
        mod steps {
            use super::{backend, rows, Conn, Pool};
            pub mod files {
                include!("steps/files.rs");
            }
            pub mod folders {
                include!("steps/folders.rs");
            }
            pub mod ledger {
                include!("steps/ledger.rs");
            }
            pub mod outbox {
                include!("steps/outbox.rs");
            }
            pub mod refs {
                include!("steps/refs.rs");
            }
            pub mod usage {
                include!("steps/usage.rs");
            }
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

/// `$from, $from+1, …` for `n` values bound in that order: an `IN (…)` list both engines take.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
