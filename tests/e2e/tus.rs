//! Resumable uploads over tus 1.0: creation, appending with and without checksums, resuming
//! across a restart and after a broken connection, expiry, termination, and the refusals.

use base64::Engine;
use reqwest::{header::HeaderMap, StatusCode};
use sha1::Digest;

use crate::harness::{bytes, Server};

const MIB: usize = 1024 * 1024;

mod interrupted;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
        .to_str()
        .unwrap()
}

async fn head(server: &Server, key: &str, url: &str) -> reqwest::Response {
    server
        .http
        .head(url)
        .header("x-api-key", key)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap()
}

async fn offset(server: &Server, key: &str, url: &str) -> u64 {
    let resp = head(server, key, url).await;
    assert_eq!(resp.status(), StatusCode::OK);
    header(resp.headers(), "upload-offset").parse().unwrap()
}

fn patch(server: &Server, key: &str, url: &str, at: usize) -> reqwest::RequestBuilder {
    server
        .http
        .patch(url)
        .header("x-api-key", key)
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", at.to_string())
}

fn sha1_header(bytes: &[u8]) -> String {
    let digest = sha1::Sha1::digest(bytes);
    format!(
        "sha1 {}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[tokio::test]
async fn an_upload_resumes_across_a_restart_and_lands_in_the_drive() {
    let mut server = Server::start().await;
    let key = server.key("acme", "admin");
    let options = server
        .http
        .request(reqwest::Method::OPTIONS, server.url("/tus/"))
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    let h = options.headers();
    assert_eq!(header(h, "tus-version"), "1.0.0");
    assert_eq!(
        header(h, "tus-extension"),
        "creation,creation-with-upload,expiration,checksum,termination"
    );
    assert_eq!(header(h, "tus-max-size"), (5u64 << 30).to_string());
    assert!(header(h, "tus-checksum-algorithm").contains("sha1"));

    let content = bytes(7, 3 * MIB + 123);
    let created = server
        .tus_create(
            &key,
            &[
                ("filename", "take one.mp4"),
                ("filetype", "video/mp4"),
                ("folder", "renders/final"),
            ],
            content.len() as u64,
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(header(created.headers(), "tus-resumable"), "1.0.0");
    assert!(created.headers().contains_key("upload-expires"));
    let url = header(created.headers(), "location").to_string();
    assert!(url.starts_with(&server.url("/tus/")), "{url}");

    let resp = head(&server, &key, &url).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(resp.headers(), "upload-offset"), "0");
    assert_eq!(
        header(resp.headers(), "upload-length"),
        content.len().to_string()
    );
    assert_eq!(header(resp.headers(), "cache-control"), "no-store");
    assert!(header(resp.headers(), "upload-metadata").contains("filename "));
    // Reserved against the quota from the start, like any pending upload.
    assert_eq!(
        server.client_show("acme")["pending_bytes"],
        content.len() as u64
    );

    let first = &content[..MIB];
    let resp = patch(&server, &key, &url, 0)
        .header("upload-checksum", sha1_header(first))
        .body(first.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(resp.headers(), "upload-offset"), MIB.to_string());

    // A piece whose checksum does not match is not kept.
    let resp = patch(&server, &key, &url, MIB)
        .header("upload-checksum", sha1_header(b"something else"))
        .body(content[MIB..2 * MIB].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 460);
    assert_eq!(offset(&server, &key, &url).await, MIB as u64);
    // Nor one sent at the wrong offset.
    let resp = patch(&server, &key, &url, 5)
        .body(b"x".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);

    // A connection that breaks midway keeps what arrived.
    let sent = content[MIB..2 * MIB].to_vec();
    let broken = futures_util::stream::iter(vec![
        Ok::<_, std::io::Error>(sent[..MIB / 2].to_vec()),
        Err(std::io::Error::other("the network went away")),
    ]);
    let _ = patch(&server, &key, &url, MIB)
        .body(reqwest::Body::wrap_stream(broken))
        .send()
        .await;
    let mut kept = 0;
    for _ in 0..100 {
        kept = offset(&server, &key, &url).await;
        if kept > MIB as u64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        kept > MIB as u64 && kept <= (MIB + MIB / 2) as u64,
        "kept {kept}"
    );

    // The offset is durable: a node killed and restarted goes on from it.
    server.kill();
    let server = server.start_peer().await;
    // On its own port: the upload is the same.
    let url = server.url(&format!("/tus/{}", url.rsplit('/').next().unwrap()));
    assert_eq!(offset(&server, &key, &url).await, kept);
    let resp = patch(&server, &key, &url, kept as usize)
        .body(content[kept as usize..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        header(resp.headers(), "upload-offset"),
        content.len().to_string()
    );
    let etag = header(resp.headers(), "etag").to_string();
    assert_eq!(etag, format!("\"{}\"", blake3::hash(&content).to_hex()));

    let served = server
        .get(&server.url("/acme/files/renders/final/take_one.mp4"))
        .await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.unwrap().as_ref(), content.as_slice());
    let shown = server.client_show("acme");
    assert_eq!(shown["used_bytes"], content.len() as u64);
    assert_eq!(shown["pending_bytes"], 0);
    let resp = head(&server, &key, &url).await;
    assert_eq!(
        header(resp.headers(), "upload-offset"),
        content.len().to_string()
    );
    // A client whose last answer was lost asks again, and learns what was recorded.
    let resp = patch(&server, &key, &url, content.len())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(resp.headers(), "etag"), etag);
    // A finished upload is a drive file: termination leaves it be.
    let resp = server
        .http
        .delete(&url)
        .header("x-api-key", &key)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Upload already completed: delete the file through the drive"
    );
    let served = server
        .get(&server.url("/acme/files/renders/final/take_one.mp4"))
        .await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(server.partial_files().await, 0, "the pieces are gone");
}

#[tokio::test]
async fn creation_with_bytes_termination_and_refusals() {
    let server = Server::start().await;
    let key = server.key("acme", "admin");
    let viewer = server.key("acme", "viewer");
    let other = server.key("globex", "admin");

    // The whole file sent with its creation.
    let content = bytes(3, 200_000);
    let encoded = base64::engine::general_purpose::STANDARD.encode("whole.bin");
    let resp = server
        .http
        .post(server.url("/tus"))
        .header("x-api-key", &key)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", content.len().to_string())
        .header("upload-metadata", format!("filename {encoded}"))
        .header("content-type", "application/offset+octet-stream")
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(
        header(resp.headers(), "upload-offset"),
        content.len().to_string()
    );
    let served = server.get(&server.url("/acme/files/whole.bin")).await;
    assert_eq!(served.bytes().await.unwrap().as_ref(), content.as_slice());

    // Bytes sent with a creation are checked against their Upload-Checksum: the upload is made,
    // the spoilt bytes are not kept.
    let encoded = base64::engine::general_purpose::STANDARD.encode("checked.bin");
    let resp = server
        .http
        .post(server.url("/tus/"))
        .header("x-api-key", &key)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "1000")
        .header("upload-metadata", format!("filename {encoded}"))
        .header("content-type", "application/offset+octet-stream")
        .header("upload-checksum", sha1_header(b"other bytes"))
        .body(vec![5u8; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(header(resp.headers(), "upload-offset"), "0");

    // Behind a proxy that passes only GET and POST: the method travels in a header, and the
    // media type is matched as media types are, whatever its letter case and parameters.
    let url = header(resp.headers(), "location").to_string();
    let overridden = |method: &str| {
        server
            .http
            .post(&url)
            .header("x-api-key", &key)
            .header("tus-resumable", "1.0.0")
            .header("x-http-method-override", method)
    };
    let resp = overridden("PATCH")
        .header(
            "content-type",
            "Application/Offset+Octet-Stream; charset=binary",
        )
        .header("upload-offset", "0")
        .body(vec![5u8; 400])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(resp.headers(), "upload-offset"), "400");
    let resp = overridden("HEAD").send().await.unwrap();
    assert_eq!(header(resp.headers(), "upload-offset"), "400");
    assert_eq!(
        overridden("PUT").send().await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    // Answers the router gives itself carry Tus-Resumable too.
    let put = server.http.put(&url).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(put.headers(), "tus-resumable"), "1.0.0");
    assert_eq!(
        overridden("DELETE").send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        head(&server, &key, &url).await.status(),
        StatusCode::NOT_FOUND
    );

    // Termination gives the name, the reservation and the bytes back.
    let created = server
        .tus_create(&key, &[("filename", "dropped.bin")], 1_000_000)
        .await;
    let url = header(created.headers(), "location").to_string();
    let resp = patch(&server, &key, &url, 0)
        .body(vec![1u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.partial_files().await, 1);
    // Another tenant sees nothing of it, and cannot end it.
    assert_eq!(
        head(&server, &other, &url).await.status(),
        StatusCode::NOT_FOUND
    );
    let delete = |key: &str| {
        server
            .http
            .delete(&url)
            .header("x-api-key", key)
            .header("tus-resumable", "1.0.0")
            .send()
    };
    assert_eq!(
        delete(&other).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&viewer).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(delete(&key).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(
        head(&server, &key, &url).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(server.partial_files().await, 0);
    assert_eq!(server.client_show("acme")["pending_bytes"], 0);
    let again = server
        .tus_create(&key, &[("filename", "dropped.bin")], 10)
        .await;
    assert_eq!(
        again.status(),
        StatusCode::CREATED,
        "the name is free again"
    );

    // Refusals, each in the drive's error shape and with Tus-Resumable.
    let no_version = server
        .http
        .post(server.url("/tus/"))
        .header("x-api-key", &key)
        .header("upload-length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(header(no_version.headers(), "tus-version"), "1.0.0");
    let concat = server
        .http
        .post(server.url("/tus/"))
        .header("x-api-key", &key)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10")
        .header("upload-concat", "partial")
        .send()
        .await
        .unwrap();
    assert_eq!(concat.status(), StatusCode::BAD_REQUEST);
    let too_big = server
        .tus_create(&key, &[("filename", "huge.bin")], (5u64 << 30) + 1)
        .await;
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let nameless = server
        .tus_create(&key, &[("filetype", "video/mp4")], 10)
        .await;
    assert_eq!(nameless.status(), StatusCode::BAD_REQUEST);
    assert_eq!(header(nameless.headers(), "tus-resumable"), "1.0.0");
    let body: serde_json::Value = nameless.json().await.unwrap();
    assert_eq!(body["message"], "Upload-Metadata must give the filename");
    let taken = server
        .tus_create(&key, &[("filename", "whole.bin")], 10)
        .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let viewer_create = server
        .tus_create(&viewer, &[("filename", "v.bin")], 10)
        .await;
    assert_eq!(viewer_create.status(), StatusCode::FORBIDDEN);
    let url = header(again.headers(), "location").to_string();
    let wrong_type = server
        .http
        .patch(&url)
        .header("x-api-key", &key)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let past_end = patch(&server, &key, &url, 0)
        .body(vec![0u8; 11])
        .send()
        .await
        .unwrap();
    assert_eq!(past_end.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(offset(&server, &key, &url).await, 0);
    let bad_checksum = patch(&server, &key, &url, 0)
        .header("upload-checksum", "crc32 AAAA")
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_checksum.status(), StatusCode::BAD_REQUEST);
}
