//! Catalog backends of mediadrive: metadata in SQL. The queries are written once (`shared/`, in
//! SQL both engines accept, with `?N` placeholders) and compiled into one module per engine, each
//! with its own connection setup, transaction discipline and migrations.

mod postgres;
mod rows;
mod sqlite;
mod time;

use mediadrive_core::CatalogError;

pub use postgres::PostgresCatalog;
pub use sqlite::SqliteCatalog;

pub(crate) fn backend(e: sqlx::Error) -> CatalogError {
    CatalogError::Backend(e.to_string())
}
