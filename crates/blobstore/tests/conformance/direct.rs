//! Direct uploads: a store clients write to themselves presigns a PUT, and the server adopts what
//! arrived; a store that cannot says so and holds nothing of the kind.

use std::time::Duration;

use mediadrive_core::{blobs::ServedAs, BlobError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{blake3_of, bytes, Backend, Raw, MULTIPART};

every_backend!(
    direct_uploads_are_adopted_as_they_were_hashed,
    reads_are_presigned_only_by_a_store_that_serves_them,
);

const FILE: &str = "0123456789abcdef0123456789abcdef";

/// One HTTP/1.1 request to a presigned URL of the local bucket; returns the status and body.
async fn http(method: &str, url: &str, content_type: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
    let (status, _, body) = http_with_head(method, url, content_type, body).await;
    (status, body)
}

/// The status, the header block (lowercase) and the body of one HTTP/1.1 exchange.
async fn http_with_head(
    method: &str,
    url: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let rest = url
        .strip_prefix("http://")
        .expect("the test bucket speaks http");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(content_type) = content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let status = std::str::from_utf8(&answer[9..12])
        .unwrap()
        .parse()
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    (status, head, answer[split + 4..].to_vec())
}

async fn put(url: &str, body: &[u8]) {
    let (status, answer) = http("PUT", url, Some("video/mp4"), body).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
}

async fn direct_uploads_are_adopted_as_they_were_hashed(b: Backend) {
    let ttl = Duration::from_secs(60);
    let signed = b
        .store
        .presign_upload(FILE, "video/mp4", ttl)
        .await
        .unwrap();
    if let Raw::Fs(_) = b.raw {
        assert!(!b.store.accepts_direct_uploads());
        assert_eq!(signed, None);
        assert!(b.store.arrived_uploads().await.unwrap().is_empty());
        assert_eq!(b.store.arrived_upload(FILE).await.unwrap(), None);
        assert!(matches!(
            b.store.adopt_upload(FILE).await,
            Err(BlobError::NotFound)
        ));
        b.store.discard_upload(FILE).await.unwrap();
        return;
    }
    assert!(b.store.accepts_direct_uploads());
    let url = signed.expect("S3 presigns uploads");
    assert_eq!(b.store.arrived_upload(FILE).await.unwrap(), None);
    assert!(matches!(
        b.store.adopt_upload(FILE).await,
        Err(BlobError::NotFound)
    ));
    let data = bytes(600, MULTIPART + 333);
    put(&url, &data).await;
    let len = data.len() as u64;
    assert_eq!(b.store.arrived_upload(FILE).await.unwrap(), Some(len));
    assert_eq!(
        b.store.arrived_uploads().await.unwrap(),
        [(FILE.to_string(), len)]
    );
    let mut adopted = b.store.adopt_upload(FILE).await.unwrap();
    // The client PUTs again while the server hashes: what is placed is what was hashed.
    let replaced = bytes(601, 1000);
    put(&url, &replaced).await;
    let (hash, got) = adopted.finish().await.unwrap();
    assert_eq!((&hash, got), (&blake3_of(&data), len));
    adopted.commit(&hash).await.unwrap();
    assert!(b.store.read_all(&hash).await.unwrap() == data);
    // The upload stays until the server drops it, so a failed confirmation loses nothing.
    assert_eq!(b.store.arrived_upload(FILE).await.unwrap(), Some(1000));
    b.store.discard_upload(FILE).await.unwrap();
    b.store.discard_upload(FILE).await.unwrap();
    assert!(b.store.arrived_uploads().await.unwrap().is_empty());
    b.raw.wait_empty("staging/").await;
    b.raw.wait_empty("uploads/").await;
}

async fn reads_are_presigned_only_by_a_store_that_serves_them(b: Backend) {
    let data = bytes(700, 100_000);
    let hash = crate::stored(b.store.as_ref(), &data).await;
    let served = ServedAs {
        content_type: "video/mp4".into(),
        content_disposition: "inline; filename=\"clip.mp4\"".into(),
        cache_control: "public, max-age=60".into(),
    };
    let signed = b
        .store
        .presign_read(&hash, Duration::from_secs(60), &served)
        .await
        .unwrap();
    match b.raw {
        Raw::Fs(_) => assert_eq!(signed, None),
        Raw::S3(_) => {
            let signed = signed.unwrap();
            let (status, head, body) = http_with_head("GET", &signed, None, &[]).await;
            assert_eq!(status, 200);
            // The store answers with the headers the signature binds, as the proxy would.
            for line in [
                "content-type: video/mp4",
                "content-disposition: inline; filename=\"clip.mp4\"",
                "cache-control: public, max-age=60",
            ] {
                assert!(head.contains(line), "{line} is not in {head}");
            }
            assert!(body == data);
            // They cannot be changed without breaking the signature.
            let altered = signed.replace("content-type=video/mp4", "content-type=text/html");
            assert_ne!(altered, signed);
            assert_eq!(http("GET", &altered, None, &[]).await.0, 403);
            b.store.delete(&hash).await.unwrap();
            let url = b
                .store
                .presign_read(&hash, Duration::from_secs(60), &served)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(http("GET", &url, None, &[]).await.0, 404);
        }
    }
}
