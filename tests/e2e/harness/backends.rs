//! The backends a test server runs on, as `MEDIADRIVE_TEST_BACKEND` names them.

use std::process::Command;

use super::Store;

/// The backends under test: SQLite and the filesystem unless `MEDIADRIVE_TEST_BACKEND` says
/// `postgres` or `postgres+s3`; each server then gets a new database on the cluster and a prefix
/// of the bucket `scripts/test` starts.
pub(super) fn backends() -> (Vec<String>, Store) {
    let backend = std::env::var("MEDIADRIVE_TEST_BACKEND").unwrap_or_default();
    let mut args = Vec::new();
    let mut store = Store::Fs;
    for part in backend.split('+').filter(|p| !p.is_empty()) {
        match part {
            "sqlite" | "fs" => {}
            "postgres" => args.extend(["--database-url".into(), new_database()]),
            "s3" => {
                let url = std::env::var("MEDIADRIVE_TEST_S3_URL")
                    .expect("MEDIADRIVE_TEST_S3_URL is not set: run the tests with scripts/test");
                let root = format!("/md_{}/", uuid_like());
                store = Store::S3(s3_operator(&url, &root));
                args.extend(["--blob-url".into(), format!("{url}&root={root}")]);
            }
            other => panic!("unknown backend '{other}' in MEDIADRIVE_TEST_BACKEND"),
        }
    }
    (args, store)
}

fn new_database() -> String {
    let admin = std::env::var("MEDIADRIVE_TEST_POSTGRES_URL")
        .expect("MEDIADRIVE_TEST_POSTGRES_URL is not set: run the tests with scripts/test");
    let name = format!("md_{}", uuid_like());
    let out = Command::new("psql")
        .args([admin.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("running psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (server, _) = admin.rsplit_once('/').unwrap();
    format!("{server}/{name}")
}

/// The test's own view of the bucket, to check what the server left in it.
fn s3_operator(url: &str, root: &str) -> opendal::Operator {
    let query = url.split_once('?').unwrap().1;
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    let bucket = url
        .strip_prefix("s3://")
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let builder = opendal::services::S3::default()
        .bucket(bucket)
        .endpoint(&param("endpoint"))
        .region(&param("region"))
        .root(root)
        .access_key_id(&std::env::var("AWS_ACCESS_KEY_ID").unwrap())
        .secret_access_key(&std::env::var("AWS_SECRET_ACCESS_KEY").unwrap())
        .disable_config_load();
    opendal::Operator::new(builder).unwrap().finish()
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The backends under test, for a test that runs `mediadrive serve` itself: the flags naming
/// them (a new database, a new prefix of the bucket) and the test's view of the store.
pub fn backends_under_test() -> (Vec<String>, Store) {
    backends()
}
