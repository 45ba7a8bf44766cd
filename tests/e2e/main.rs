//! End-to-end tests: the real server over HTTP, one fresh data directory per test.

mod harness;

mod access;
mod api_docs;
mod auth;
mod backup;
mod cli_client;
mod crashes;
mod doc_examples;
mod floods;
mod health;
mod hostile;
mod hostile_cases;
mod hostile_files;
mod ingest_matrix;
mod lifecycle;
mod listing;
mod load;
mod mock_models;
mod moves_and_deletes;
mod nodes;
mod observability;
mod preloads;
mod probe;
mod quota;
mod renders;
mod secrets;
mod serving;
mod shutdown;
mod sizes;
mod sizes_limits;
mod tus;
mod uploads;
mod videojungle;
mod videojungle_scripts;
mod webhooks;
