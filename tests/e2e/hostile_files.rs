//! Hostile files (issue 9): decompression bombs, containers whose sizes lie, loops in metadata,
//! and truncated or mutated media. `mediadrive probe` reads them all, and a server that stores
//! some of them probes them and renders their previews, each without a crash, a hang or
//! unbounded memory. Peak RSS is reported for both.

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use flate2::{write::ZlibEncoder, Compression};
use reqwest::StatusCode;

use crate::harness::{ffmpeg, Server, BIN};

/// What one process may use at most while it reads all of them. Decoding for previews is bounded
/// at 512 MiB (`MAX_DECODE_BYTES`) and images above 64 Mpx are never decoded.
const PROBE_RSS_LIMIT_KIB: u64 = 256 * 1024;
const SERVER_RSS_LIMIT_KIB: u64 = 768 * 1024;

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend((data.len() as u32).to_be_bytes());
    out.extend(kind);
    out.extend(data);
    out.extend(crc.finalize().to_be_bytes());
}

/// An 8-bit grayscale PNG declaring `w`×`h` pixels whose data inflates to `rows` rows of zeros.
fn png(w: u32, h: u32, rows: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
    let row = vec![0u8; w as usize + 1];
    for _ in 0..rows {
        z.write_all(&row).unwrap();
    }
    png_chunk(&mut out, b"IDAT", &z.finish().unwrap());
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A baseline JPEG frame header declaring `w`×`h`, and nothing to decode.
fn jpeg_frame(w: u16, h: u16) -> Vec<u8> {
    let mut out = vec![0xFF, 0xC0, 0x00, 0x11, 0x08];
    out.extend(h.to_be_bytes());
    out.extend(w.to_be_bytes());
    out.extend([0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
    out.extend([0xFF, 0xD9]);
    out
}

/// A JPEG whose EXIF directory points back at itself, as its next directory and as its EXIF one.
fn jpeg_with_looping_exif() -> Vec<u8> {
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend([0x00, 0x03]);
    tiff.extend([0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0x00, 0x06, 0, 0]);
    tiff.extend([0x87, 0x69, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 0x08]);
    // A value of four billion longs, far outside the segment.
    tiff.extend([
        0x01, 0x10, 0x00, 0x04, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0x10,
    ]);
    tiff.extend([0, 0, 0, 0x08]);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend(((tiff.len() + 8) as u16).to_be_bytes());
    out.extend(b"Exif\0\0");
    out.extend(tiff);
    out.extend(jpeg_frame(16, 16));
    out
}

fn gif_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend(w.to_le_bytes());
    out.extend(h.to_le_bytes());
    out.extend([0, 0, 0, 0x2C, 0, 0, 0, 0]);
    out.extend(w.to_le_bytes());
    out.extend(h.to_le_bytes());
    out.extend([0, 8, 2, 0x4C, 0x01, 0, 0x3B]);
    out
}

/// A WAV whose `fmt ` and `data` chunks claim what the file cannot hold.
fn wav_lying(channels: u16, rate: u32) -> Vec<u8> {
    let mut out = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00".to_vec();
    out.extend(channels.to_le_bytes());
    out.extend(rate.to_le_bytes());
    out.extend(rate.wrapping_mul(2 * u32::from(channels)).to_le_bytes());
    out.extend(channels.wrapping_mul(2).to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data\xf0\xff\xff\xff");
    out.extend([0x55; 256]);
    out
}

fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(body);
    out
}

fn ftyp() -> Vec<u8> {
    mp4_box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")
}

/// A movie header with a zero timescale and the longest duration.
fn mp4_lying_header() -> Vec<u8> {
    let mut mvhd = vec![1, 0, 0, 0];
    mvhd.extend([0; 16]);
    mvhd.extend([0; 4]);
    mvhd.extend(u64::MAX.to_be_bytes());
    mvhd.extend([0; 80]);
    let mut out = ftyp();
    out.extend(mp4_box(b"moov", &mp4_box(b"mvhd", &mvhd)));
    out
}

/// A `moov` box that claims four gigabytes, and one with a 64-bit size of 2^62.
fn mp4_oversized_boxes() -> (Vec<u8>, Vec<u8>) {
    let mut claims_4g = ftyp();
    claims_4g.extend(b"\xff\xff\xff\xffmoov");
    claims_4g.extend(mp4_box(b"trak", &[0; 64]));
    let mut claims_2e62 = ftyp();
    claims_2e62.extend(b"\x00\x00\x00\x01moov");
    claims_2e62.extend((1u64 << 62).to_be_bytes());
    claims_2e62.extend(mp4_box(b"trak", &[0; 64]));
    (claims_4g, claims_2e62)
}

/// A Matroska file of 20,000 clusters nested in each other, each of unknown size, after a track
/// list that claims a petabyte.
fn mkv_nested() -> Vec<u8> {
    let doc_type = [0x42, 0x82, 0x88].iter().chain(b"matroska");
    let header: Vec<u8> = doc_type.copied().collect();
    let mut out = vec![0x1A, 0x45, 0xDF, 0xA3, 0x80 | header.len() as u8];
    out.extend(header);
    out.extend([
        0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    ]);
    out.extend([0x16, 0x54, 0xAE, 0x6B, 0x01, 0x04, 0, 0, 0, 0, 0, 0]);
    for _ in 0..20_000 {
        out.extend([0x1F, 0x43, 0xB6, 0x75, 0xFF]);
    }
    out
}

fn flac_lying() -> Vec<u8> {
    let mut out = b"fLaC\x80\x00\x00\x22".to_vec();
    out.extend([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    // 655,350 Hz, 8 channels, 32 bits, 2^36 - 1 samples.
    out.extend([0x9F, 0xFF, 0x6F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    out.extend([0; 16]);
    out.extend([0xAA; 512]);
    out
}

/// An ID3 tag claiming 256 MB in front of a few bytes.
fn mp3_lying_tag() -> Vec<u8> {
    let mut out = b"ID3\x03\x00\x00\x7f\x7f\x7f\x7f".to_vec();
    out.extend([0xFF, 0xFB, 0x90, 0x00]);
    out.extend([0x11; 400]);
    out
}

/// Files made by the test's own hand, each lying in its own way.
fn crafted() -> Vec<(String, Vec<u8>)> {
    let (claims_4g, claims_2e62) = mp4_oversized_boxes();
    let files: Vec<(&str, Vec<u8>)> = vec![
        // 64 Mpx, the most a preview decodes: 64 MB of pixels from 64 KB.
        ("bomb-8000x8000.png", png(8000, 8000, 8000)),
        ("claims-30000x30000.png", png(30000, 30000, 8)),
        ("claims-65535x65535.jpg", {
            let mut j = vec![0xFF, 0xD8];
            j.extend(jpeg_frame(65535, 65535));
            j
        }),
        ("looping-exif.jpg", jpeg_with_looping_exif()),
        ("claims-65535x65535.gif", gif_claiming(65535, 65535)),
        ("claims-65535-channels.wav", wav_lying(65535, 48000)),
        ("claims-zero-rate.wav", wav_lying(2, 0)),
        ("zero-timescale.mp4", mp4_lying_header()),
        ("claims-4g-moov.mp4", claims_4g),
        ("claims-2e62-moov.mp4", claims_2e62),
        ("nested-20000.mkv", mkv_nested()),
        ("claims-2e36-samples.flac", flac_lying()),
        ("claims-256mb-tag.mp3", mp3_lying_tag()),
    ];
    files.into_iter().map(|(n, b)| (n.to_string(), b)).collect()
}

/// Real media from ffmpeg, to be cut short and mutated.
fn genuine(dir: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let video = [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=25:duration=1",
    ];
    let audio = ["-f", "lavfi", "-i", "sine=sample_rate=16000:duration=1"];
    let frame = [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240",
        "-frames:v",
        "1",
    ];
    let make = |name: &'static str, input: &[&str], codec: &[&str]| {
        let args: Vec<&str> = input.iter().chain(codec).copied().collect();
        (name, ffmpeg(&args, &dir.join(name)))
    };
    vec![
        make("v.mp4", &video, &["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        make("v.webm", &video, &["-c:v", "libvpx"]),
        make("a.wav", &audio, &[]),
        make("a.mp3", &audio, &["-c:a", "libmp3lame"]),
        make("a.flac", &audio, &[]),
        make("a.ogg", &audio, &["-c:a", "libopus"]),
        make("i.png", &frame, &[]),
        make("i.jpg", &frame, &[]),
        make("i.gif", &frame, &[]),
        make("i.webp", &frame, &["-c:v", "libwebp"]),
    ]
}

/// Every genuine file cut at three points, and with bytes overwritten in eight seeded ways.
fn damaged(genuine: &[(&'static str, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::new();
    for (name, bytes) in genuine {
        for cut in [16, bytes.len() / 10, bytes.len() / 2] {
            out.push((format!("cut{cut}-{name}"), bytes[..cut].to_vec()));
        }
        for m in 0..8 {
            let mut mutated = bytes.clone();
            for _ in 0..1 + next() % 32 {
                let at = (next() as usize) % mutated.len();
                mutated[at] = if m % 2 == 0 { 0xFF } else { next() as u8 };
            }
            out.push((format!("mut{m}-{name}"), mutated));
        }
    }
    out
}

/// Runs `mediadrive probe` on `files`; its JSON report, how long it took and its peak RSS (KiB).
#[expect(
    clippy::zombie_processes,
    reason = "reaped by wait4, which also reports its peak RSS"
)]
fn probe_all(files: &[PathBuf]) -> (serde_json::Value, Duration, u64) {
    let started = Instant::now();
    let child = std::process::Command::new(BIN)
        .arg("probe")
        .args(files)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        // A parser that panics on a file is caught and the file refused; a backtrace for it would
        // load this debug build's symbols, some 300 MB, and measure that instead of the probe.
        .env("RUST_BACKTRACE", "0")
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let reader = {
        let mut stdout = child.stdout.unwrap();
        std::thread::spawn(move || {
            let mut out = String::new();
            std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
            out
        })
    };
    // wait4 rather than Child::wait: it reports this child's own peak RSS.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut status = 0;
    loop {
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(reaped >= 0, "wait4 failed");
        if reaped == pid {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("mediadrive probe hung on hostile files");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        libc::WIFEXITED(status),
        "mediadrive probe crashed: {status}"
    );
    let report = serde_json::from_str(&reader.join().unwrap()).expect("a JSON report");
    (report, started.elapsed(), usage.ru_maxrss as u64)
}

#[test]
fn the_probe_command_survives_hostile_files() {
    let dir = tempfile::tempdir().unwrap();
    let genuine = genuine(dir.path());
    let mut files = crafted();
    files.extend(damaged(&genuine));
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(name, bytes)| {
            let path = dir.path().join(format!("hostile-{name}"));
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    let (report, took, peak_kib) = probe_all(&paths);
    let reports = report.as_array().unwrap();
    assert_eq!(reports.len(), paths.len());
    let failed = reports
        .iter()
        .filter(|r| r["probe_status"] == "failed")
        .count();
    for r in reports {
        assert!(
            r["probe_status"] == "done" || r["reason"].as_str().is_some_and(|s| !s.is_empty()),
            "{r}"
        );
    }
    println!(
        "hostile files: {} probed by one `mediadrive probe` in {took:?}, {failed} refused as \
         broken, peak RSS {} MiB",
        paths.len(),
        peak_kib / 1024
    );
    assert!(peak_kib < PROBE_RSS_LIMIT_KIB, "peak RSS {peak_kib} KiB");
}

/// Waits until every hostile file's previews are made or given up. A node's prober takes blobs in
/// batches and finishes a batch, previews included, before it claims the next, so once every
/// hostile file is probed, previews of genuine files uploaded afterwards come last: when an
/// audio file's waveform and a video's poster thumbnail exist, the hostile files' turn is over.
async fn wait_for_previews(server: &Server, key: &str, genuine: &[(&'static str, Vec<u8>)]) {
    let control = |name: &str| genuine.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    let mut waiting = Vec::new();
    for (name, made) in [("a.wav", "waveformUrl"), ("v.mp4", "thumbnailUrl")] {
        let control_name = format!("control-{name}");
        server
            .upload(
                key,
                "controls",
                &control_name,
                "application/octet-stream",
                &control(name),
            )
            .await;
        waiting.push((format!("/v2/media/file?path=controls/{control_name}"), made));
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    for (path, made) in waiting {
        loop {
            let (status, body) = server.call("GET", &path, key, None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if body["file"][made].is_string() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{path} never got its {made}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn a_server_stores_probes_and_previews_hostile_files() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let dir = tempfile::tempdir().unwrap();
    let genuine = genuine(dir.path());
    let mut files = crafted();
    // Two mutations and a half of each genuine file, so previews meet broken media too.
    files.extend(
        damaged(&genuine)
            .into_iter()
            .filter(|(n, _)| n.starts_with("mut0-") || n.starts_with("mut1-")),
    );
    files.extend(
        genuine
            .iter()
            .map(|(n, b)| (format!("cut-half-{n}"), b[..b.len() / 2].to_vec())),
    );
    let started = Instant::now();
    let mut urls = Vec::new();
    for (name, bytes) in &files {
        let url = server
            .upload(&key, "hostile", name, "application/octet-stream", bytes)
            .await;
        urls.push((name.clone(), url));
    }
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for (name, _) in &urls {
        let status = loop {
            let (status, body) = server
                .call(
                    "GET",
                    &format!("/v2/media/file/metadata?path=hostile/{name}"),
                    &key,
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if body["probe_status"] != "pending" {
                break body["probe_status"].as_str().unwrap().to_string();
            }
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "{name} was never probed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        *statuses.entry(status).or_default() += 1;
    }
    let probed_in = started.elapsed();
    wait_for_previews(&server, &key, &genuine).await;
    // Asking for previews, made or not, must never fail the server.
    let mut previews = 0;
    let mut made = Vec::new();
    for (name, url) in &urls {
        for preview in ["thumb-256", "poster", "waveform"] {
            let resp = server.get(&format!("{url}?preview={preview}")).await;
            assert!(
                resp.status() == StatusCode::OK || resp.status() == StatusCode::NOT_FOUND,
                "{url} {preview}: {}",
                resp.status()
            );
            if resp.status() == StatusCode::OK {
                previews += 1;
                made.push((
                    name.as_str(),
                    preview,
                    resp.headers()["content-type"].clone(),
                ));
            }
        }
        let original = server.get(url).await;
        assert_eq!(original.status(), StatusCode::OK, "{url}");
    }
    assert_eq!(
        server.get(&server.url("/healthz")).await.status(),
        StatusCode::OK
    );
    let peak_kib = server.peak_rss_kib();
    println!(
        "hostile files on a server: {} stored and probed in {probed_in:?} ({statuses:?}), \
         {previews} previews served, peak RSS {} MiB",
        files.len(),
        peak_kib / 1024
    );
    assert!(peak_kib < SERVER_RSS_LIMIT_KIB, "peak RSS {peak_kib} KiB");
    // The 64 Mpx bomb is the most a preview decodes: its thumbnail was made, so the peak above
    // includes that decode.
    assert!(
        made.contains(&(
            "bomb-8000x8000.png",
            "thumb-256",
            "image/webp".parse().unwrap()
        )),
        "{made:?}"
    );
}
