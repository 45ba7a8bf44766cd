//! Health checks tell the truth: `/healthz` and `/readyz` fail once the catalog cannot be read.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::harness::Server;

/// Makes the catalog unreadable under the running server: its PostgreSQL database is dropped, or
/// the embedded default's database file is overwritten with bytes that are not a database.
fn break_catalog(server: &Server) {
    match server.database_url() {
        Some(url) => {
            let (cluster, name) = url.rsplit_once('/').unwrap();
            let out = std::process::Command::new("psql")
                .args([
                    &format!("{cluster}/postgres"),
                    "-qc",
                    &format!("DROP DATABASE {name} WITH (FORCE)"),
                ])
                .output()
                .expect("running psql");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        None => {
            let db = server.data_dir().join("catalog.db");
            let len = std::fs::metadata(&db).unwrap().len() as usize;
            // Written in place, so the server's open handles see it; the WAL goes too, so no page
            // can be read from there instead.
            std::fs::write(&db, vec![0x5a; len.max(4096)]).unwrap();
            for side in ["catalog.db-wal", "catalog.db-shm"] {
                let path = server.data_dir().join(side);
                if path.exists() {
                    let len = std::fs::metadata(&path).unwrap().len() as usize;
                    std::fs::write(&path, vec![0x5a; len]).unwrap();
                }
            }
        }
    }
}

#[tokio::test]
async fn health_checks_fail_when_the_catalog_does() {
    let server = Server::start().await;
    let healthz = server.get(&server.url("/healthz")).await;
    assert_eq!(healthz.status(), StatusCode::OK);
    let readyz = server.get(&server.url("/readyz")).await;
    assert_eq!(readyz.status(), StatusCode::OK);

    break_catalog(&server);

    let deadline = Instant::now() + Duration::from_secs(10);
    let (health, ready) = loop {
        let health = server.get(&server.url("/healthz")).await.status();
        let ready = server.get(&server.url("/readyz")).await;
        let ready = (
            ready.status(),
            ready.json::<serde_json::Value>().await.unwrap(),
        );
        if health != StatusCode::OK && ready.0 != StatusCode::OK || Instant::now() > deadline {
            break (health, ready);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(health, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(ready.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.1["catalog"], "unavailable", "{}", ready.1);
    assert_eq!(ready.1["blob_store"], "ok", "{}", ready.1);
}
