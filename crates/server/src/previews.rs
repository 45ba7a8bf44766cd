//! Previews derived from a probed blob, stored as blobs of their own: WebP thumbnails of images
//! (and of video posters), waveform peaks of audio, and video posters where an `ffmpeg` binary is
//! available. Everything here runs on a blocking thread inside the prober's time limit.

use std::{
    io::Cursor,
    path::Path,
    process::{Command, Stdio},
    sync::OnceLock,
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
        Kind::Audio => waveform(path).into_iter().collect(),
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

/// Peaks of the decoded audio in a fixed number of buckets, as JSON. Decoders symphonia lacks
/// (Opus) fall back to ffmpeg when it is there.
fn waveform(path: &Path) -> Option<Rendered> {
    let samples = decode_mono(path).or_else(|| ffmpeg_mono(path))?;
    if samples.is_empty() {
        return None;
    }
    let per_bucket = samples.len().div_ceil(WAVEFORM_BUCKETS);
    let peaks: Vec<f32> = samples
        .chunks(per_bucket)
        .map(|c| (c.iter().fold(0f32, |m, s| m.max(s.abs())) * 1000.0).round() / 1000.0)
        .collect();
    let json = serde_json::json!({"buckets": peaks.len(), "peaks": peaks});
    Some(Rendered {
        name: "waveform".into(),
        content_type: "application/json",
        bytes: serde_json::to_vec(&json).ok()?,
    })
}

fn decode_mono(path: &Path) -> Option<Vec<f32>> {
    use symphonia::core::{
        codecs::audio::AudioDecoderOptions,
        formats::{probe::Hint, FormatOptions, TrackType},
        io::{MediaSourceStream, MediaSourceStreamOptions},
        meta::MetadataOptions,
    };
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
    let mut mono = Vec::new();
    while let Ok(Some(packet)) = format.next_packet() {
        if packet.track_id != id {
            continue;
        }
        let Ok(decoded) = decoder.decode(&packet) else {
            continue;
        };
        let mut interleaved: Vec<f32> = vec![0.0; decoded.samples_interleaved()];
        decoded.copy_to_slice_interleaved(&mut interleaved);
        let channels = decoded.spec().channels().count().max(1);
        mono.extend(
            interleaved
                .chunks(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
    }
    Some(mono)
}

fn ffmpeg_mono(path: &Path) -> Option<Vec<f32>> {
    if !ffmpeg_available() {
        return None;
    }
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-ac", "1", "-ar", "8000", "-f", "f32le", "-"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then(|| {
        out.stdout
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    })
}

/// A poster frame (a second in, or the middle of a shorter video) and thumbnails of it.
fn video(path: &Path, info: &MediaInfo) -> Vec<Rendered> {
    if !ffmpeg_available() {
        return Vec::new();
    }
    let at = info
        .duration_ms
        .map_or(0.0, |ms| (ms as f64 / 2000.0).min(1.0));
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &format!("{at:.3}"), "-i"])
        .arg(path)
        .args(["-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "-"])
        .stderr(Stdio::null())
        .output();
    let Some(frame) = out
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty())
        .and_then(|o| image::load_from_memory(&o.stdout).ok())
    else {
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
