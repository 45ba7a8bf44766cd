//! `mediadrive probe`: what the command line says of local files.

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
