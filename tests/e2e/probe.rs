//! Knowing every file: `mediadrive probe` on local files, and the probing of stored ones.

use crate::harness::{ffmpeg, Server};

#[test]
fn the_probe_command_reports_each_file() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=sample_rate=22050:duration=1",
        ])
        .arg(&wav)
        .output()
        .expect("the tests need ffmpeg");
    assert!(out.status.success());
    let broken = dir.path().join("broken.png");
    std::fs::write(
        &broken,
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0",
    )
    .unwrap();
    let out = std::process::Command::new(crate::harness::BIN)
        .arg("probe")
        .args([&wav, &broken])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a file that cannot be probed makes the command fail"
    );
    let reports: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports[0]["probe_status"], "done");
    assert_eq!(reports[0]["kind"], "audio");
    assert_eq!(reports[0]["codecs"], serde_json::json!(["pcm_s16le"]));
    assert_eq!(reports[0]["sample_rate"], 22050);
    assert_eq!(reports[0]["duration_ms"], 1000);
    assert_eq!(reports[1]["probe_status"], "failed");
    assert!(reports[1]["reason"].as_str().unwrap().contains("truncated"));
}

/// Polls a file's metadata until probing has finished.
async fn probed(server: &Server, key: &str, path: &str) -> serde_json::Value {
    for _ in 0..200 {
        let (status, body) = server
            .call(
                "GET",
                &format!("/v2/media/file/metadata?path={path}"),
                key,
                None,
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
        if body["probe_status"] != "pending" {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{path} was never probed");
}

#[tokio::test]
async fn stored_files_are_probed_and_served_as_what_they_are() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let dir = tempfile::tempdir().unwrap();
    let png = ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x200:duration=0.04",
            "-frames:v",
            "1",
        ],
        &dir.path().join("p.png"),
    );
    let mp4 = ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=25:duration=1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
        ],
        &dir.path().join("v.mp4"),
    );
    // A PNG that claims to be a video, a real video, and a video cut off after its header.
    let disguised = server.upload(&key, "", "clip.mp4", "video/mp4", &png).await;
    server.upload(&key, "", "real.mp4", "video/mp4", &mp4).await;
    server
        .upload(&key, "", "cut.mp4", "video/mp4", &mp4[..mp4.len() / 2])
        .await;

    let meta = probed(&server, &key, "clip.mp4").await;
    assert_eq!(meta["probe_status"], "done");
    assert_eq!(meta["declaredType"], "video/mp4");
    assert_eq!(meta["realType"], "image/png");
    assert_eq!(meta["typeMismatch"], true);
    assert_eq!(
        (
            meta["metadata"]["width"].as_u64(),
            meta["metadata"]["height"].as_u64()
        ),
        (Some(320), Some(200))
    );
    let served = server.get(&disguised).await;
    assert_eq!(served.headers()["content-type"], "image/png");

    let meta = probed(&server, &key, "real.mp4").await;
    assert_eq!(meta["typeMismatch"], false);
    let m = &meta["metadata"];
    assert_eq!(
        (m["kind"].as_str(), m["container"].as_str()),
        (Some("video"), Some("mp4"))
    );
    assert_eq!(m["codecs"], serde_json::json!(["h264"]));
    assert_eq!(
        (m["width"].as_u64(), m["height"].as_u64()),
        (Some(160), Some(120))
    );
    assert_eq!(m["frame_rate"].as_f64(), Some(25.0));
    assert_eq!(m["duration_ms"].as_u64(), Some(1000));

    let meta = probed(&server, &key, "cut.mp4").await;
    assert_eq!(meta["probe_status"], "failed");
    assert!(!meta["probe_error"].as_str().unwrap().is_empty());
    assert_eq!(meta["metadata"], serde_json::Value::Null);

    // Listings carry the metadata too.
    let (_, listing) = server
        .call("GET", "/v2/media/folder?sort=name", &key, None)
        .await;
    let files = listing["files"].as_array().unwrap();
    let clip = files.iter().find(|f| f["name"] == "clip.mp4").unwrap();
    assert_eq!(clip["probe_status"], "done");
    assert_eq!(clip["metadata"]["kind"], "image");
    let cut = files.iter().find(|f| f["name"] == "cut.mp4").unwrap();
    assert_eq!(cut["probe_status"], "failed");
}

#[tokio::test]
async fn previews_are_made_served_and_deleted_with_their_files() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let dir = tempfile::tempdir().unwrap();
    let jpg = ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=1600x900:duration=0.04",
            "-frames:v",
            "1",
        ],
        &dir.path().join("big.jpg"),
    );
    let mp4 = ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x360:rate=25:duration=3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ],
        &dir.path().join("v.mp4"),
    );
    let wav = ffmpeg(
        &["-f", "lavfi", "-i", "sine=sample_rate=8000:duration=2"],
        &dir.path().join("a.wav"),
    );
    let image = server.upload(&key, "", "big.jpg", "image/jpeg", &jpg).await;
    let video = server.upload(&key, "", "v.mp4", "video/mp4", &mp4).await;
    let audio = server.upload(&key, "", "a.wav", "audio/wav", &wav).await;
    for path in ["big.jpg", "v.mp4", "a.wav"] {
        assert_eq!(
            probed(&server, &key, path).await["probe_status"],
            "done",
            "{path}"
        );
    }
    let webp =
        |bytes: &[u8]| bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP";
    for (url, name) in [
        (&image, "thumb-256"),
        (&image, "thumb-1024"),
        (&video, "poster"),
        (&video, "thumb-256"),
    ] {
        assert!(
            webp(&preview(&server, url, name, "image/webp").await),
            "{url} {name}"
        );
    }
    let (_, file) = server
        .call("GET", "/v2/media/file?path=big.jpg", &key, None)
        .await;
    assert_eq!(
        file["file"]["thumbnailUrl"],
        format!("{image}?preview=thumb-256")
    );
    let waveform: serde_json::Value =
        serde_json::from_slice(&preview(&server, &audio, "waveform", "application/json").await)
            .unwrap();
    let peaks = waveform["peaks"].as_array().unwrap();
    assert_eq!(waveform["buckets"].as_u64(), Some(peaks.len() as u64));
    assert!(peaks
        .iter()
        .all(|p| (0.0..=1.0).contains(&p.as_f64().unwrap())));
    // ffmpeg's sine source plays at an eighth of full scale.
    assert!(peaks.iter().filter(|p| p.as_f64().unwrap() > 0.1).count() > peaks.len() / 2);
    let missing = server.get(&format!("{audio}?preview=poster")).await;
    assert_eq!(missing.status(), reqwest::StatusCode::NOT_FOUND);

    // Previews are blobs of their own, and go when the last file holding their source goes.
    assert!(server.blob_files().await.len() > 3);
    for name in ["big.jpg", "v.mp4", "a.wav"] {
        let (status, _) = server
            .call(
                "DELETE",
                "/v2/media/file",
                &key,
                Some(serde_json::json!({"name": name})),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::OK);
    }
    assert!(
        server.blob_files().await.is_empty(),
        "{:?}",
        server.blob_files().await
    );
}

/// A preview's bytes once it has been made (previews are rendered after the metadata is recorded,
/// and an image stands in for its own thumbnail until then).
async fn preview(server: &Server, url: &str, name: &str, content_type: &str) -> Vec<u8> {
    for _ in 0..200 {
        let resp = server.get(&format!("{url}?preview={name}")).await;
        if resp.status() == reqwest::StatusCode::OK
            && resp.headers()["content-type"] == content_type
        {
            return resp.bytes().await.unwrap().to_vec();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no {name} preview of {url}");
}
