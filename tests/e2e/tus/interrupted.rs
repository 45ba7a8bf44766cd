//! tus uploads that lose their pieces or their client midway.

use super::*;

#[tokio::test]
async fn an_upload_whose_pieces_were_lost_is_removed_not_left_failing() {
    let server = Server::start().await;
    let key = server.key("acme", "admin");
    let created = server
        .tus_create(&key, &[("filename", "lost.bin")], 100)
        .await;
    let url = header(created.headers(), "location").to_string();
    let resp = patch(&server, &key, &url, 0)
        .body(vec![9u8; 40])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    server.lose_partial_files().await;
    let resp = patch(&server, &key, &url, 40)
        .body(vec![9u8; 60])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::GONE);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Upload lost bytes it had acknowledged; create it again"
    );
    assert_eq!(
        head(&server, &key, &url).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(server.client_show("acme")["pending_bytes"], 0);
    let again = server
        .tus_create(&key, &[("filename", "lost.bin")], 100)
        .await;
    assert_eq!(
        again.status(),
        StatusCode::CREATED,
        "the name is free again"
    );
}

#[tokio::test]
async fn a_client_gone_mid_piece_leaves_its_upload_free_to_resume() {
    let server = Server::start().await;
    let key = server.key("acme", "admin");
    let content = bytes(6, MIB);
    let created = server
        .tus_create(&key, &[("filename", "vanished.bin")], MIB as u64)
        .await;
    let url = header(created.headers(), "location").to_string();
    let path = url.split_once("/tus/").unwrap().1;
    server
        .cut_off(
            &format!(
                "PATCH /tus/{path} HTTP/1.1\r\nX-Api-Key: {key}\r\nTus-Resumable: 1.0.0\r\n\
                 Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
                 Content-Length: {MIB}"
            ),
            &content[..300_000],
        )
        .await;
    // Its hold goes with the request, not 30 s later: the client resumes at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let at = offset(&server, &key, &url).await as usize;
        let resp = patch(&server, &key, &url, at)
            .body(content[at..].to_vec())
            .send()
            .await
            .unwrap();
        if resp.status() == StatusCode::NO_CONTENT {
            assert_eq!(header(resp.headers(), "upload-offset"), MIB.to_string());
            break;
        }
        // Held still, or the vanished request's bytes were counted after the offset was read.
        assert!(
            [StatusCode::LOCKED, StatusCode::CONFLICT].contains(&resp.status()),
            "{}",
            resp.status()
        );
        assert!(std::time::Instant::now() < deadline, "still held");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, file) = server
        .call("GET", "/v2/media/file?path=vanished.bin", &key, None)
        .await;
    let served = server.get(file["file"]["url"].as_str().unwrap()).await;
    assert_eq!(served.bytes().await.unwrap().as_ref(), content.as_slice());
    assert_eq!(server.partial_files().await, 0);
}
