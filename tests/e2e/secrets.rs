//! Secrets never leak (issue 9): a server on the backends under test, logging at `trace`, is given
//! API keys (good and bad), presigned upload URLs, signed asset links, a webhook endpoint whose
//! deliveries it signs and the tenant's callback secret. Then its whole log (as JSON, the format
//! log collectors read), its catalog (the SQLite files, or a dump of the PostgreSQL database) and
//! its blob store (every key and every byte, on the filesystem or in the bucket) are searched for
//! them. Secrets the server must keep to work (signing secrets) may only be in the catalog.

use std::{
    path::Path,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{http::HeaderMap, routing::post, Router};
use reqwest::{multipart, Client, StatusCode, Url};
use serde_json::{json, Value};

use crate::harness::{backends_under_test, Store, BIN};

/// Uploaded bytes and a file name the blob store and the catalog must hold, so that a search
/// that finds no secret is known to have read where they would be.
const CONTROL_BYTES: &[u8] = b"control bytes of the secrets test, 4711";
const CONTROL_NAME: &str = "control-4711.bin";

struct Secret {
    what: &'static str,
    value: String,
    /// The server needs it to work (it signs with it), so the catalog keeps it.
    kept: bool,
}

fn secret(what: &'static str, value: &str) -> Secret {
    Secret {
        what,
        value: value.to_string(),
        kept: false,
    }
}

fn kept(what: &'static str, value: &str) -> Secret {
    Secret {
        kept: true,
        ..secret(what, value)
    }
}

/// The signatures a signed URL carries (`signature`, or S3's `X-Amz-Signature`).
fn signatures(url: &str) -> Vec<String> {
    let found: Vec<String> = Url::parse(url)
        .unwrap()
        .query_pairs()
        .filter(|(k, _)| k.to_ascii_lowercase().contains("signature"))
        .map(|(_, v)| v.into_owned())
        .collect();
    assert!(!found.is_empty(), "not a signed URL: {url}");
    found
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn post_json(http: &Client, url: &str, key: &str, body: Value) -> Value {
    let resp = http.post(url).header("x-api-key", key).json(&body).send();
    let resp = resp.await.unwrap();
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    resp.json().await.unwrap()
}

/// What the loopback receiver got: webhook deliveries' signatures, the model server's
/// `Authorization` headers.
#[derive(Default)]
struct Got {
    signatures: Vec<String>,
    authorizations: Vec<String>,
}

/// A webhook receiver (`/hook`) and a model server that refuses every generation (`/generate`)
/// on loopback; its base URL.
async fn receiver() -> (String, Arc<Mutex<Got>>) {
    let got = Arc::new(Mutex::new(Got::default()));
    let (hooks, models) = (got.clone(), got.clone());
    let header = |headers: &HeaderMap, name: &str| {
        headers.get(name).map(|v| v.to_str().unwrap().to_string())
    };
    let app = Router::new()
        .route(
            "/hook",
            post(move |headers: HeaderMap| async move {
                let signature = header(&headers, "webhook-signature");
                hooks.lock().unwrap().signatures.extend(signature);
                axum::http::StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/generate",
            post(move |headers: HeaderMap| async move {
                let authorization = header(&headers, "authorization");
                models.lock().unwrap().authorizations.extend(authorization);
                (axum::http::StatusCode::UNAUTHORIZED, "not today")
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// The `serve` process's base URL from its `listening on URL` line; the rest of its stdout is
/// drained so that it never writes into a full pipe.
async fn listening(stdout: std::process::ChildStdout) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        line.trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("no ready line: {line:?}"))
            .to_string()
    })
    .await
    .unwrap()
}

/// Every file under `dir`: its path and its bytes.
fn files_under(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
}

/// The catalog's bytes and the blob store's keys and bytes, wherever the backends put them.
async fn catalog_and_store(args: &[String], store: &Store, data: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut local = Vec::new();
    files_under(data, &mut local);
    let (mut catalog, mut blobs) = (Vec::new(), Vec::new());
    for (path, bytes) in local {
        let name = Path::new(&path).file_name().unwrap().to_string_lossy();
        let into = match name.starts_with("catalog.db") {
            true => &mut catalog,
            false => &mut blobs,
        };
        into.extend(path.as_bytes());
        into.extend(bytes);
    }
    if let Some(at) = args.iter().position(|a| a == "--database-url") {
        let dump = Command::new("pg_dump").arg(&args[at + 1]).output().unwrap();
        assert!(
            dump.status.success(),
            "{}",
            String::from_utf8_lossy(&dump.stderr)
        );
        catalog.extend(dump.stdout);
    }
    if let Store::S3(op) = store {
        use futures_util::TryStreamExt;
        let lister = op.lister_with("").recursive(true).await.unwrap();
        let entries: Vec<opendal::Entry> = lister.try_collect().await.unwrap();
        for entry in entries.iter().filter(|e| !e.path().ends_with('/')) {
            blobs.extend(entry.path().as_bytes());
            blobs.extend(op.read(entry.path()).await.unwrap().to_vec());
        }
    }
    (catalog, blobs)
}

async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} within 30 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn keys_and_signatures_never_reach_the_logs_the_catalog_or_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log_path = dir.path().join("server.log");
    let (args, store) = backends_under_test();
    let cli = |more: &[&str]| {
        let out = Command::new(BIN)
            .args(more)
            .arg("--data-dir")
            .arg(&data)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let key = cli(&["key", "create", "--client", "acme", "--role", "admin"]);
    let (loopback, got) = receiver().await;
    let model_key = format!("sk-{}", "70d3a1".repeat(8));
    let config = dir.path().join("mediadrive.toml");
    std::fs::write(
        &config,
        format!(
            "[[generation.models]]\ntype = \"image\"\nmodel = \"remote\"\nadapter = \"http\"\n\
             base_url = \"{loopback}/generate\"\napi_key = \"{model_key}\"\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(["--fetch-allow", "127.0.0.0/8", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .args(&args)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = listening(child.stdout.take().unwrap()).await;
    let http = Client::new();
    let (client, at) = (&http, &base);
    wait_until("the server answers /healthz", || async move {
        let resp = client.get(format!("{at}/healthz")).send().await;
        resp.is_ok_and(|r| r.status().is_success())
    })
    .await;
    let wrong_key = format!("md_{}", "5ec7e7".repeat(10));
    let mut secrets = vec![
        secret("API key", &key),
        secret("wrong API key", &wrong_key),
        secret("model API key", &model_key),
    ];
    if let Store::S3(_) = store {
        let s3 = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap();
        secrets.push(secret("S3 secret access key", &s3));
    }

    let resp = http
        .get(format!("{base}/v2/media"))
        .header("x-api-key", &wrong_key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let refused_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();

    // A webhook endpoint first, so that the upload below makes the server sign a delivery.
    let hooks = format!("{base}/v2/webhooks");
    let hook_url = format!("{loopback}/hook");
    let endpoint = post_json(&http, &hooks, &key, json!({ "url": hook_url })).await;
    let endpoint_secret = endpoint["endpoint"]["secret"].as_str().unwrap();
    secrets.push(kept("webhook endpoint secret", endpoint_secret));
    let callback: Value = http
        .get(format!("{hooks}/callback-secret"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    secrets.push(kept(
        "callback secret",
        callback["secret"].as_str().unwrap(),
    ));

    let ticket = post_json(
        &http,
        &format!("{base}/v2/media/file"),
        &key,
        json!({"name": CONTROL_NAME, "contentType": "application/octet-stream",
               "size": CONTROL_BYTES.len()}),
    )
    .await;
    let upload_url = ticket["uploadUrl"].as_str().unwrap();
    for s in signatures(upload_url) {
        secrets.push(secret("upload URL signature", &s));
    }
    let resp = http
        .put(upload_url)
        .header("content-type", "application/octet-stream")
        .body(CONTROL_BYTES)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let file = format!("{base}/v2/media/file?path={CONTROL_NAME}");
    let (file, key_ref) = (&file, &key);
    wait_until("the upload is confirmed", || async move {
        let resp = client.get(file).header("x-api-key", key_ref).send().await;
        let body: Value = resp.unwrap().json().await.unwrap();
        body["file"]["status"] == "uploaded"
    })
    .await;
    let received = &got;
    wait_until("the receiver gets a signed delivery", || async move {
        !received.lock().unwrap().signatures.is_empty()
    })
    .await;
    for s in got.lock().unwrap().signatures.iter() {
        secrets.push(secret("webhook delivery signature", s));
    }

    // A generation the model server refuses: the error is logged and stored, the key is not.
    let preloads = format!("{base}/v2/preloads");
    let item = json!({"type": "image", "model": "remote", "prompt": "a fox"});
    let queued = post_json(&http, &preloads, &key, json!({ "preload": [item] })).await;
    let preload = format!("{preloads}/{}", queued["id"].as_str().unwrap());
    let preload = &preload;
    wait_until("the generation fails", || async move {
        let resp = client
            .get(preload)
            .header("x-api-key", key_ref)
            .send()
            .await;
        let body: Value = resp.unwrap().json().await.unwrap();
        body["status"] == "done" && body["items"][0]["status"] == "failed"
    })
    .await;
    assert_eq!(
        got.lock().unwrap().authorizations,
        [format!("Bearer {model_key}")],
        "the model server was not sent the key"
    );

    let vj = format!("{base}/videojungle");
    let project = post_json(&http, &format!("{vj}/projects"), &key, json!({"name": "p"})).await;
    let asset_link = format!("{vj}/projects/{}/asset", project["id"].as_str().unwrap());
    let asset = post_json(&http, &asset_link, &key, json!({"keyname": "b.bin"})).await;
    let form =
        multipart::Form::new().part("file", multipart::Part::bytes(vec![4; 10]).file_name("b"));
    let uploaded: Value = http
        .post(format!(
            "{vj}{}",
            asset["upload_url"]["url"].as_str().unwrap()
        ))
        .header("x-api-key", &key)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for link in [&uploaded["url"], &uploaded["download_url"]] {
        let link = link.as_str().unwrap();
        let found = signatures(link);
        assert_eq!(
            http.get(link).send().await.unwrap().status(),
            StatusCode::OK
        );
        // A tampered copy, which the server must refuse without echoing it anywhere.
        let tampered = link.replace("signature=", "signature=00");
        assert_eq!(
            http.get(&tampered).send().await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
        secrets.push(secret("asset link signature", &found[0]));
        secrets.push(secret("tampered signature", &format!("00{}", found[0])));
    }
    secrets.push(kept("asset keyname", uploaded["keyname"].as_str().unwrap()));

    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let (catalog, blobs) = catalog_and_store(&args, &store, &data).await;
    let (mut leaks, mut leaking_lines) = (Vec::new(), Vec::new());
    for s in &secrets {
        let places = [
            ("log", contains(log.as_bytes(), &s.value)),
            ("catalog", !s.kept && contains(&catalog, &s.value)),
            ("blob store", contains(&blobs, &s.value)),
        ];
        for (place, found) in places {
            if found {
                leaks.push(format!("{} in the {place}", s.what));
            }
        }
        // The log lines that hold it, with the secret masked, say which code wrote it.
        for line in log.lines().filter(|l| l.contains(&s.value)) {
            leaking_lines.push(line.replace(&s.value, "<SECRET>"));
        }
    }
    let lines = log.lines().count();
    println!(
        "secrets: {} searched in {lines} log lines at trace, {} bytes of catalog and {} bytes \
         of blob store keys and contents; {} found",
        secrets.len(),
        catalog.len(),
        blobs.len(),
        leaks.len()
    );
    assert!(
        lines > 20,
        "the server logged too little for the search to mean anything"
    );
    assert!(
        contains(&catalog, CONTROL_NAME),
        "the catalog searched is not the server's"
    );
    assert!(
        contains(&blobs, std::str::from_utf8(CONTROL_BYTES).unwrap()),
        "the blob store searched is not the server's"
    );
    assert!(leaks.is_empty(), "leaked: {leaks:?} {leaking_lines:#?}");
    // Requests are still told apart, by their route's template.
    assert!(log.contains("\"/v2/media/file\""), "{log}");
    // Each line is one JSON object, and a request's lines carry the id its response gave.
    let entries: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(entries
        .iter()
        .any(|e| e["span"]["request_id"] == refused_id.as_str()));
}

/// What the server creates on disk is its user's alone: the data directory, the blob store's
/// folders and the catalog with its write-ahead log, whatever the process's umask.
#[test]
fn the_data_directory_and_the_catalog_are_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("fresh/data");
    // The write-ahead log exists while a node runs.
    let mut node = std::process::Command::new(crate::harness::BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let files = loop {
        let files: Vec<_> = std::fs::read_dir(&data)
            .map(|dir| {
                dir.map(|e| e.unwrap().path())
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        if files
            .iter()
            .any(|p: &std::path::PathBuf| p.to_string_lossy().ends_with("-wal"))
            || Instant::now() > deadline
        {
            break files;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    node.kill().unwrap();
    node.wait().unwrap();
    assert!(
        files.iter().any(|p| p.to_string_lossy().ends_with("-wal")),
        "no write-ahead log in {files:?}"
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // What the node left: a file it made and removed while it ran (a staged upload) is gone.
    for file in files.iter().filter(|p| p.exists()) {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    for dir in [
        parent.path().join("fresh"),
        data.clone(),
        data.join("blobs"),
        data.join("staging"),
        data.join("partial"),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
}
