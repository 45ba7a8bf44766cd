//! What a test server keeps: its blobs, staged and partial bytes, and its metrics.

use std::{collections::BTreeMap, path::Path};

use reqwest::StatusCode;

use super::{Server, Store};

impl Server {
    /// Every stored blob, by its key in the store.
    pub async fn blob_files(&self) -> Vec<String> {
        self.keys_under("blobs/").await
    }

    /// Bytes in flight: staged by mediadrive, or uploaded directly and not yet adopted.
    pub async fn staging_files(&self) -> usize {
        self.keys_under("staging/").await.len() + self.keys_under("uploads/").await.len()
    }

    /// The samples of `/metrics`, by metric name and label set.
    pub async fn metrics(&self) -> BTreeMap<String, f64> {
        let resp = self.get(&self.url("/metrics")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        resp.text()
            .await
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (name, value) = l.rsplit_once(' ').unwrap();
                (name.to_string(), value.parse().unwrap())
            })
            .collect()
    }

    /// Pieces of resumable uploads held by the blob store.
    pub async fn partial_files(&self) -> usize {
        self.keys_under("partial/").await.len()
    }

    /// Loses every piece of resumable uploads, as a restore without `partial/` would.
    pub async fn lose_partial_files(&self) {
        match &self.store {
            Store::Fs => {
                let dir = self.data.join("partial");
                for entry in std::fs::read_dir(&dir).unwrap() {
                    std::fs::remove_file(entry.unwrap().path()).unwrap();
                }
            }
            Store::S3(op) => op.delete_with("partial/").recursive(true).await.unwrap(),
        }
    }

    pub(super) async fn keys_under(&self, prefix: &str) -> Vec<String> {
        match &self.store {
            Store::Fs => {
                fn walk(dir: &Path, out: &mut Vec<String>) {
                    let Ok(entries) = std::fs::read_dir(dir) else {
                        return;
                    };
                    for e in entries.flatten() {
                        if e.path().is_dir() {
                            walk(&e.path(), out);
                        } else {
                            out.push(e.path().display().to_string());
                        }
                    }
                }
                let mut out = Vec::new();
                walk(
                    &self.data_dir().join(prefix.trim_end_matches('/')),
                    &mut out,
                );
                out.sort();
                out
            }
            Store::S3(op) => {
                use futures_util::TryStreamExt;
                let lister = op.lister_with(prefix).recursive(true).await.unwrap();
                let entries: Vec<opendal::Entry> = lister.try_collect().await.unwrap();
                let mut out: Vec<String> = entries
                    .into_iter()
                    .filter(|e| !e.path().ends_with('/'))
                    .map(|e| e.path().to_string())
                    .collect();
                out.sort();
                out
            }
        }
    }
}
