//! Catalog backends of mediadrive: metadata in SQL, one module per engine with its own migrations.

mod sqlite;
mod time;

pub use sqlite::SqliteCatalog;
