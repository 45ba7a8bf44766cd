//! Load (issue 9): a few hundred clients, each on its own connection, upload, read back and list
//! at once under the default limits, while a prober keeps asking `/healthz`. The server keeps
//! answering it, refuses only with `429` and `Retry-After` (which the clients honour), and loses
//! nothing it acknowledged.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Barrier;

use crate::harness::Server;

const CLIENTS: usize = 300;
const TENANTS: usize = 10;
const UPLOADS_EACH: usize = 3;
const CT: &str = "application/octet-stream";

fn content(client: usize, n: usize) -> Vec<u8> {
    let size = 16 * 1024 + (client * 7919 + n * 104_729) % (112 * 1024);
    let mut out = vec![0; size];
    blake3::Hasher::new()
        .update(format!("{client}/{n}").as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

#[derive(Default)]
struct Outcome {
    acknowledged: Vec<(String, Vec<u8>)>,
    too_many: usize,
    other_errors: Vec<String>,
}

/// Sends `request` until it is not refused with 429, waiting as `Retry-After` says.
async fn patiently(
    outcome: &mut Outcome,
    request: impl Fn() -> reqwest::RequestBuilder,
) -> Option<reqwest::Response> {
    for _ in 0..60 {
        let resp = match request().send().await {
            Ok(resp) => resp,
            Err(e) => {
                outcome.other_errors.push(e.to_string());
                return None;
            }
        };
        if resp.status() != StatusCode::TOO_MANY_REQUESTS {
            return Some(resp);
        }
        outcome.too_many += 1;
        let wait: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
    outcome
        .other_errors
        .push("still refused after 60 tries".into());
    None
}

async fn client_run(base: Arc<str>, client: usize, key: String, start: Arc<Barrier>) -> Outcome {
    let url = |path: &str| format!("{base}{path}");
    let http = Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut outcome = Outcome::default();
    start.wait().await;
    for n in 0..UPLOADS_EACH {
        let name = format!("c{client:03}-{n}.bin");
        let bytes = content(client, n);
        let body = json!({"name": name, "contentType": CT, "size": bytes.len(), "folder": "load"});
        let Some(resp) = patiently(&mut outcome, || {
            http.post(url("/v2/media/file"))
                .header("x-api-key", &key)
                .json(&body)
        })
        .await
        else {
            continue;
        };
        let ticket: Value = resp.json().await.unwrap();
        let Some(upload_url) = ticket["uploadUrl"].as_str() else {
            outcome.other_errors.push(format!("{name}: {ticket}"));
            continue;
        };
        let Some(put) = patiently(&mut outcome, || {
            http.put(upload_url)
                .header("content-type", CT)
                .body(bytes.clone())
        })
        .await
        else {
            continue;
        };
        if !put.status().is_success() {
            let status = put.status();
            outcome.other_errors.push(format!(
                "PUT {name}: {status} {}",
                put.text().await.unwrap()
            ));
            continue;
        }
        let file_url = ticket["fileUrl"].as_str().unwrap().to_string();
        // Acknowledged once the API says `uploaded` (at once, or after the store's confirmation).
        let record = url(&format!("/v2/media/file?path=load/{name}"));
        let mut uploaded = false;
        for _ in 0..200 {
            let Some(resp) =
                patiently(&mut outcome, || http.get(&record).header("x-api-key", &key)).await
            else {
                break;
            };
            let file: Value = resp.json().await.unwrap();
            if file["file"]["status"] == "uploaded" {
                uploaded = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if uploaded {
            outcome.acknowledged.push((file_url, bytes));
        } else {
            outcome.other_errors.push(format!("{name} never uploaded"));
        }
        let listing = patiently(&mut outcome, || {
            http.get(url("/v2/media/folder?folder=load&limit=5"))
                .header("x-api-key", &key)
        })
        .await;
        if listing.is_some_and(|r| !r.status().is_success()) {
            outcome.other_errors.push("listing failed".into());
        }
    }
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_clients_at_once_lose_nothing_and_health_keeps_answering() {
    let server = Server::start().await;
    let keys: Vec<String> = (0..TENANTS)
        .map(|t| server.key(&format!("tenant{t}"), "render"))
        .collect();
    for key in &keys {
        let (status, body) = server
            .call(
                "POST",
                "/v2/media/folder",
                key,
                Some(json!({"folder": "load"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let base: Arc<str> = server.base.as_str().into();
    let start = Arc::new(Barrier::new(CLIENTS + 1));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(client_run(
                base.clone(),
                c,
                keys[c % TENANTS].clone(),
                start.clone(),
            ))
        })
        .collect();

    // The prober: its own connection, one health check every 20 ms while the clients run.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prober = {
        let (health, done) = (format!("{base}/healthz"), done.clone());
        tokio::spawn(async move {
            let http = Client::new();
            let mut latencies = Vec::new();
            let mut failures = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let asked = Instant::now();
                match http.get(&health).send().await {
                    Ok(r) if r.status() == StatusCode::OK => latencies.push(asked.elapsed()),
                    _ => failures += 1,
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (latencies, failures)
        })
    };
    let started = Instant::now();
    start.wait().await;
    let mut outcomes = Vec::new();
    for c in clients {
        outcomes.push(c.await.unwrap());
    }
    let took = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut latencies, health_failures) = prober.await.unwrap();

    let acknowledged: Vec<_> = outcomes.iter().flat_map(|o| &o.acknowledged).collect();
    let too_many: usize = outcomes.iter().map(|o| o.too_many).sum();
    let errors: Vec<&String> = outcomes.iter().flat_map(|o| &o.other_errors).collect();
    let mut lost = 0;
    for (url, bytes) in &acknowledged {
        let served = server.get(url).await.bytes().await.unwrap();
        if served.as_ref() != bytes.as_slice() {
            lost += 1;
        }
    }
    // Per tenant, so that a count too high for one and too low for another cannot cancel out.
    let mut quota_off = Vec::new();
    for t in 0..TENANTS {
        let stored: usize = outcomes
            .iter()
            .enumerate()
            .filter(|(c, _)| c % TENANTS == t)
            .flat_map(|(_, o)| &o.acknowledged)
            .map(|(_, b)| b.len())
            .sum();
        let used = server.client_show(&format!("tenant{t}"))["used_bytes"]
            .as_u64()
            .unwrap();
        if used != stored as u64 {
            quota_off.push(format!("tenant{t}: {used} counted, {stored} stored"));
        }
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    let max = *latencies.last().unwrap();
    println!(
        "load: {CLIENTS} clients on their own connections, {} uploads acknowledged of {} in \
         {took:?}; {too_many} answers of 429 (retried as told), {} other errors, {lost} lost, \
         quota off for {quota_off:?}; /healthz answered {} times meanwhile, {health_failures} \
         failures, p99 {p99:?}, max {max:?}",
        acknowledged.len(),
        CLIENTS * UPLOADS_EACH,
        errors.len(),
        latencies.len(),
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(acknowledged.len(), CLIENTS * UPLOADS_EACH);
    assert_eq!(
        (lost, quota_off, health_failures),
        (0, Vec::<String>::new(), 0)
    );
    // Within the one second a Kubernetes probe waits by default.
    assert!(max < Duration::from_secs(1), "a health check took {max:?}");
}
