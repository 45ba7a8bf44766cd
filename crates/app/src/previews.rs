//! Previews derived from a probed blob, stored as blobs of their own: WebP thumbnails of images
//! (and of video posters), waveform peaks of audio, and video posters where an `ffmpeg` binary is
//! available. Everything here runs on a blocking thread inside the prober's time limit.

use std::{
    io::{Cursor, Read},
    path::Path,
    process::{Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use image::{DynamicImage, ImageReader, Limits};
use mediadrive_probe::{Kind, MediaInfo};

/// Thumbnail widths, the longest side in pixels.
const THUMB_SIZES: [u32; 2] = [256, 1024];
/// Images with more pixels than this are not decoded at all (decompression bombs).
const MAX_PIXELS: u64 = 64_000_000;
/// Most memory one decode may allocate.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;
/// Peaks per waveform.
const WAVEFORM_BUCKETS: usize = 1000;
/// An ffmpeg run that takes longer than this is killed, and its preview left out.
const FFMPEG_TIME_LIMIT: Duration = Duration::from_secs(30);

/// One derived preview, not yet stored.
pub struct Rendered {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Whether an `ffmpeg` binary answers on this machine (checked once).
pub fn ffmpeg_available() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        Command::new("ffmpeg")
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Everything that can be derived from `path`; a preview that cannot be made is left out, never an
/// error: the file itself is fine.
pub fn render(path: &Path, info: &MediaInfo) -> Vec<Rendered> {
    match info.kind {
        Kind::Image => decode_image(path, info)
            .map(|img| thumbnails(&img))
            .unwrap_or_default(),
        Kind::Audio => waveform(path, info).into_iter().collect(),
        Kind::Video => video(path, info),
        Kind::Other => Vec::new(),
    }
}

fn decode_image(path: &Path, info: &MediaInfo) -> Option<DynamicImage> {
    let pixels = u64::from(info.width?) * u64::from(info.height?);
    if pixels > MAX_PIXELS {
        tracing::info!(pixels, "image too large to decode for a thumbnail");
        return None;
    }
    let mut reader = ImageReader::open(path).ok()?.with_guessed_format().ok()?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    // Some formats decode only partly here (YCbCr TIFF): no thumbnail then, not an error.
    let mut img = reader.decode().ok()?;
    if let Some(o) = info
        .orientation
        .and_then(|o| image::metadata::Orientation::from_exif(o as u8))
    {
        img.apply_orientation(o);
    }
    Some(img)
}

fn webp(img: &DynamicImage) -> Option<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    let rgba = DynamicImage::ImageRgba8(img.to_rgba8());
    rgba.write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))
        .ok()?;
    Some(out.into_inner())
}

fn thumbnails(img: &DynamicImage) -> Vec<Rendered> {
    let longest = img.width().max(img.height());
    THUMB_SIZES
        .iter()
        .filter_map(|&size| {
            let scaled = if longest > size {
                img.thumbnail(size, size)
            } else {
                img.clone()
            };
            Some(Rendered {
                name: format!("thumb-{size}"),
                content_type: "image/webp",
                bytes: webp(&scaled)?,
            })
        })
        .collect()
}

/// Peak levels per bucket, kept as the samples stream past: memory stays the same whatever the
/// length of the audio.
struct Peaks {
    per_bucket: u64,
    in_bucket: u64,
    current: f32,
    peaks: Vec<f32>,
}

impl Peaks {
    fn new(expected_frames: u64) -> Self {
        Self {
            per_bucket: expected_frames.div_ceil(WAVEFORM_BUCKETS as u64).max(1),
            in_bucket: 0,
            current: 0.0,
            peaks: Vec::with_capacity(WAVEFORM_BUCKETS + 1),
        }
    }

    /// False once the audio runs on well past its declared length: a file that decodes to far more
    /// than it said is not worth decoding to the end.
    fn push(&mut self, sample: f32) -> bool {
        self.current = self.current.max(sample.abs().min(1.0));
        self.in_bucket += 1;
        if self.in_bucket == self.per_bucket {
            self.peaks.push((self.current * 1000.0).round() / 1000.0);
            self.in_bucket = 0;
            self.current = 0.0;
        }
        self.peaks.len() <= WAVEFORM_BUCKETS * 2
    }

    fn finish(mut self) -> Option<Vec<f32>> {
        if self.in_bucket > 0 {
            self.peaks.push((self.current * 1000.0).round() / 1000.0);
        }
        (!self.peaks.is_empty()).then_some(self.peaks)
    }
}

/// Peaks of the decoded audio in a fixed number of buckets, as JSON. Decoders symphonia lacks
/// (Opus) fall back to ffmpeg when it is there.
fn waveform(path: &Path, info: &MediaInfo) -> Option<Rendered> {
    let duration_ms = info.duration_ms.filter(|ms| *ms > 0)?;
    let peaks =
        decode_peaks(path, info, duration_ms).or_else(|| ffmpeg_peaks(path, duration_ms))?;
    let json = serde_json::json!({"buckets": peaks.len(), "peaks": peaks});
    Some(Rendered {
        name: "waveform".into(),
        content_type: "application/json",
        bytes: serde_json::to_vec(&json).ok()?,
    })
}

fn decode_peaks(path: &Path, info: &MediaInfo, duration_ms: u64) -> Option<Vec<f32>> {
    use symphonia::core::{
        codecs::audio::AudioDecoderOptions,
        formats::{probe::Hint, FormatOptions, TrackType},
        io::{MediaSourceStream, MediaSourceStreamOptions},
        meta::MetadataOptions,
    };
    let rate = u64::from(info.sample_rate?);
    let mut peaks = Peaks::new(duration_ms.saturating_mul(rate) / 1000);
    let file = std::fs::File::open(path).ok()?;
    let stream = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .ok()?;
    let track = format.default_track(TrackType::Audio)?;
    let id = track.id;
    let params = track.codec_params.as_ref()?.audio()?.clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .ok()?;
    let mut interleaved: Vec<f32> = Vec::new();
    'packets: while let Ok(Some(packet)) = format.next_packet() {
        if packet.track_id != id {
            continue;
        }
        let Ok(decoded) = decoder.decode(&packet) else {
            continue;
        };
        interleaved.resize(decoded.samples_interleaved(), 0.0);
        decoded.copy_to_slice_interleaved(&mut interleaved);
        let channels = decoded.spec().channels().count().max(1);
        for frame in interleaved.chunks(channels) {
            if !peaks.push(frame.iter().sum::<f32>() / channels as f32) {
                break 'packets;
            }
        }
    }
    peaks.finish()
}

/// ffmpeg decodes to 8 kHz mono floats on a pipe, read as it comes, within the preview deadline.
fn ffmpeg_peaks(path: &Path, duration_ms: u64) -> Option<Vec<f32>> {
    if !ffmpeg_available() {
        return None;
    }
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-ac", "1", "-ar", "8000", "-f", "f32le", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + FFMPEG_TIME_LIMIT;
    let mut peaks = Peaks::new(duration_ms.saturating_mul(8));
    let mut stdout = child.stdout.take()?;
    // Reads happen on their own thread, so a silent ffmpeg cannot outlast the deadline.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut carry: Vec<u8> = Vec::with_capacity(64 * 1024 + 4);
    // Some(true): all of the audio was read; Some(false): enough of it; None: out of time.
    let ended = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => {
                carry.extend_from_slice(&chunk);
                let whole = carry.len() / 4 * 4;
                let more = carry[..whole]
                    .chunks_exact(4)
                    .all(|b| peaks.push(f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
                carry.drain(..whole);
                if !more {
                    break Some(false);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break Some(true),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break None,
        }
    };
    if ended != Some(true) {
        let _ = child.kill();
    }
    let status = child.wait().ok();
    drop(rx);
    let _ = reader.join();
    match ended {
        Some(true) if status.is_some_and(|s| s.success()) => peaks.finish(),
        Some(false) => peaks.finish(),
        _ => None,
    }
}

/// Runs ffmpeg for a small output (a poster frame), killed if it overruns its deadline.
fn ffmpeg_output(args: &[&str], input: &Path, more: &[&str]) -> Option<Vec<u8>> {
    let mut child = Command::new("ffmpeg")
        .args(args)
        .arg(input)
        .args(more)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        // A poster is a single frame; more than this is not one.
        (&mut stdout)
            .take(MAX_DECODE_BYTES)
            .read_to_end(&mut out)
            .map(|_| out)
    });
    let deadline = Instant::now() + FFMPEG_TIME_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let out = reader.join().ok()?.ok()?;
    status.filter(|s| s.success()).map(|_| out)
}

/// A poster frame (a second in, or the middle of a shorter video) and thumbnails of it.
fn video(path: &Path, info: &MediaInfo) -> Vec<Rendered> {
    if !ffmpeg_available() {
        return Vec::new();
    }
    let at = info
        .duration_ms
        .map_or(0.0, |ms| (ms as f64 / 2000.0).min(1.0));
    let seek = format!("{at:.3}");
    let Some(frame) = ffmpeg_output(
        &["-v", "error", "-ss", &seek, "-i"],
        path,
        &["-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "-"],
    )
    .filter(|png| {
        imagesize::blob_size(png)
            .is_ok_and(|size| (size.width as u64).saturating_mul(size.height as u64) <= MAX_PIXELS)
    })
    .and_then(|png| image::load_from_memory(&png).ok()) else {
        return Vec::new();
    };
    let mut rendered: Vec<Rendered> = webp(&frame)
        .map(|bytes| Rendered {
            name: "poster".into(),
            content_type: "image/webp",
            bytes,
        })
        .into_iter()
        .collect();
    rendered.extend(thumbnails(&frame));
    rendered
}
