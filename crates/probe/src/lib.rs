//! Knows what a media file really is: the type sniffed from its bytes (never its name), and the
//! metadata a preview needs, read by pure-Rust parsers.

mod av;
mod codecs;
mod frame_rate;
mod image;

use std::{
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    path::Path,
};

use serde::Serialize;

/// How many bytes the sniffer looks at.
const SNIFF_LEN: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Image,
    Video,
    Audio,
    Other,
}

/// What probing found. Absent fields are unknown for this file, not zero.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaInfo {
    pub kind: Kind,
    /// The real content type, from the bytes.
    pub mime: String,
    /// Container or image format, e.g. `mp4`, `webm`, `png`.
    pub container: Option<String>,
    /// Codecs of the streams, video first, in ffprobe's names (`h264`, `aac`, …).
    pub codecs: Vec<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    pub frame_rate: Option<f64>,
    /// Average bits per second over the whole file.
    pub bit_rate: Option<u64>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u32>,
    /// EXIF orientation (1–8) of an image, when it carries one.
    pub orientation: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot read the file: {0}")]
    Io(#[from] io::Error),
    #[error("the file is empty")]
    Empty,
    #[error("{0}")]
    Corrupt(String),
}

impl MediaInfo {
    fn other(mime: &str) -> Self {
        Self {
            kind: Kind::Other,
            mime: mime.to_string(),
            container: None,
            codecs: Vec::new(),
            width: None,
            height: None,
            duration_ms: None,
            frame_rate: None,
            bit_rate: None,
            sample_rate: None,
            channels: None,
            orientation: None,
        }
    }
}

pub fn probe_path(path: &Path) -> Result<MediaInfo, ProbeError> {
    probe(File::open(path)?)
}

/// Probes a whole file. Formats the sniffer recognises but whose structure is broken are errors;
/// bytes of no known media type are `other`, which is not an error.
pub fn probe(file: File) -> Result<MediaInfo, ProbeError> {
    // The parsers are third-party code fed hostile bytes; one that panics (an arithmetic
    // overflow on a lying header, say) has refused the file, not ended the caller.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| probe_file(file)))
        .unwrap_or_else(|_| Err(ProbeError::Corrupt("the file crashed the prober".into())))
}

fn probe_file(mut file: File) -> Result<MediaInfo, ProbeError> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Err(ProbeError::Empty);
    }
    file.seek(SeekFrom::Start(0))?;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut file).take(SNIFF_LEN as u64).read_to_end(&mut head)?;
    file.seek(SeekFrom::Start(0))?;
    let Some(sniffed) = infer::get(&head) else {
        return Ok(MediaInfo::other("application/octet-stream"));
    };
    let mut info = match sniffed.matcher_type() {
        infer::MatcherType::Image => image::probe(file, &head, sniffed)?,
        infer::MatcherType::Video | infer::MatcherType::Audio => av::probe(file, sniffed)?,
        _ => return Ok(MediaInfo::other(sniffed.mime_type())),
    };
    if let Some(ms) = info.duration_ms.filter(|ms| *ms > 0) {
        info.bit_rate = Some(len * 8 * 1000 / ms);
    }
    info.mime = served_type(&info.mime, info.kind).to_string();
    Ok(info)
}

/// The registered name of a type, as a browser expects it in `Content-Type` (the sniffer reports
/// some legacy `x-` names), and the audio name of an audio-only video container.
fn served_type(mime: &str, kind: Kind) -> &str {
    match (mime, kind) {
        ("audio/x-flac", _) => "audio/flac",
        ("audio/x-wav", _) => "audio/wav",
        ("audio/m4a" | "video/mp4", Kind::Audio) => "audio/mp4",
        ("video/webm", Kind::Audio) => "audio/webm",
        ("audio/m4a", _) => "audio/mp4",
        _ => mime,
    }
}

/// Hand-made media files, for tests that need exact bytes rather than ffmpeg's.
#[cfg(test)]
pub(crate) mod samples {
    /// A PCM WAV file of `samples` mono 16-bit samples at `rate` Hz, all silent.
    pub fn wav(rate: u32, samples: u32) -> Vec<u8> {
        let data = samples * 2;
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes()); // PCM
        out.extend_from_slice(&1u16.to_le_bytes()); // mono
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * 2).to_le_bytes()); // bytes per second
        out.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
        out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data.to_le_bytes());
        out.resize(out.len() + data as usize, 0);
        out
    }

    pub fn file(bytes: &[u8]) -> std::fs::File {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_video_names_are_served_by_their_registered_audio_names() {
        let cases = [
            ("audio/x-flac", Kind::Audio, "audio/flac"),
            ("audio/x-wav", Kind::Audio, "audio/wav"),
            ("audio/m4a", Kind::Audio, "audio/mp4"),
            ("video/mp4", Kind::Audio, "audio/mp4"),
            ("video/webm", Kind::Audio, "audio/webm"),
            ("audio/m4a", Kind::Video, "audio/mp4"),
            ("video/mp4", Kind::Video, "video/mp4"),
            ("video/webm", Kind::Video, "video/webm"),
            ("audio/mpeg", Kind::Audio, "audio/mpeg"),
            ("image/png", Kind::Image, "image/png"),
        ];
        for (mime, kind, served) in cases {
            assert_eq!(served_type(mime, kind), served, "{mime} {kind:?}");
        }
    }

    /// The bit rate is the whole file's, header included: 16,044 bytes over one second.
    #[test]
    fn a_wav_file_is_audio_with_its_duration_and_average_bit_rate() {
        let info = probe(samples::file(&samples::wav(8000, 8000))).unwrap();
        assert_eq!(info.kind, Kind::Audio);
        assert_eq!(info.mime, "audio/wav");
        assert_eq!(info.container.as_deref(), Some("wav"));
        assert_eq!(info.codecs, ["pcm_s16le"]);
        assert_eq!(info.duration_ms, Some(1000));
        assert_eq!(info.bit_rate, Some(16_044 * 8));
        assert_eq!((info.sample_rate, info.channels), (Some(8000), Some(1)));
        assert_eq!(
            (info.width, info.height, info.frame_rate),
            (None, None, None)
        );
    }

    /// A file of no length to divide by has no bit rate, and is not refused for it.
    #[test]
    fn a_wav_file_without_samples_has_no_bit_rate() {
        let info = probe(samples::file(&samples::wav(8000, 0))).unwrap();
        assert_eq!(info.kind, Kind::Audio);
        assert_eq!(info.bit_rate, None);
    }

    #[test]
    fn empty_and_unknown_bytes() {
        assert!(matches!(probe(samples::file(b"")), Err(ProbeError::Empty)));
        let info = probe(samples::file(b"plain words, not media")).unwrap();
        assert_eq!(info, MediaInfo::other("application/octet-stream"));
        // Known to the sniffer, but not as media.
        let info = probe(samples::file(b"%PDF-1.4\n%\xe2\xe3\n")).unwrap();
        assert_eq!(
            (info.kind, info.mime.as_str()),
            (Kind::Other, "application/pdf")
        );
    }

    #[test]
    fn other_means_nothing_is_known() {
        let info = MediaInfo::other("text/plain");
        assert_eq!((info.kind, info.mime.as_str()), (Kind::Other, "text/plain"));
        assert!(info.container.is_none() && info.codecs.is_empty());
        assert!(info.duration_ms.is_none() && info.bit_rate.is_none());
    }
}
