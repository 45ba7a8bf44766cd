//! Audio and video containers through symphonia's demuxers: streams, codecs, durations.

use std::fs::File;

use symphonia::core::{
    codecs::CodecParameters,
    formats::{probe::Hint, FormatOptions, FormatReader},
    io::{MediaSourceStream, MediaSourceStreamOptions},
    meta::MetadataOptions,
    units::{Duration, TimeBase, Timestamp},
};

use crate::{codecs, frame_rate, Kind, MediaInfo, ProbeError};

fn seconds(time_base: Option<TimeBase>, duration: Option<Duration>) -> Option<f64> {
    let ts = Timestamp::try_from(duration?.get()).ok()?;
    Some(time_base?.calc_time(ts)?.as_secs_f64())
}

pub fn probe(mut file: File, sniffed: infer::Type) -> Result<MediaInfo, ProbeError> {
    let mut hint = Hint::new();
    hint.with_extension(sniffed.extension());
    let source = file.try_clone()?;
    let stream = MediaSourceStream::new(Box::new(source), MediaSourceStreamOptions::default());
    let mut reader = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| ProbeError::Corrupt(format!("unreadable {}: {e}", sniffed.extension())))?;
    let mut info = describe(reader.as_ref(), sniffed);
    check_complete(reader.as_mut(), &info)?;
    drop(reader);
    if info.kind == Kind::Video {
        let container = info.container.clone().unwrap_or_default();
        info.frame_rate = frame_rate::of(&mut file, &container);
    }
    Ok(info)
}

/// How much shorter than its header says a stream may turn out before the file counts as cut off.
const TRUNCATION_TOLERANCE_S: f64 = 0.25;

/// Reads every packet (demuxing only, nothing is decoded): a file cut off or damaged after its
/// header still announces its full length, and only its packets tell.
fn check_complete(reader: &mut dyn FormatReader, info: &MediaInfo) -> Result<(), ProbeError> {
    let tracks: Vec<(u32, Option<TimeBase>)> = reader
        .tracks()
        .iter()
        .map(|t| (t.id, t.time_base))
        .collect();
    let mut reached: Vec<f64> = vec![0.0; tracks.len()];
    loop {
        match reader.next_packet() {
            Ok(Some(packet)) => {
                let Some(i) = tracks.iter().position(|(id, _)| *id == packet.track_id) else {
                    continue;
                };
                let end = Timestamp::try_from(
                    (packet.pts.get().max(0) as u64).saturating_add(packet.dur.get()),
                )
                .ok()
                .and_then(|ts| tracks[i].1?.calc_time(ts))
                .map(|t| t.as_secs_f64());
                if let Some(end) = end {
                    reached[i] = reached[i].max(end);
                }
            }
            Ok(None) => break,
            Err(symphonia::core::errors::Error::IoError(e))
                if e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                break
            }
            Err(e) => return Err(ProbeError::Corrupt(format!("damaged stream: {e}"))),
        }
    }
    let declared = info.duration_ms.unwrap_or(0) as f64 / 1000.0;
    let longest = reached.iter().cloned().fold(0.0, f64::max);
    if declared > 0.0 && longest + TRUNCATION_TOLERANCE_S < declared {
        return Err(ProbeError::Corrupt(format!(
            "truncated: streams end at {longest:.3} s of a declared {declared:.3} s"
        )));
    }
    Ok(())
}

fn describe(reader: &dyn FormatReader, sniffed: infer::Type) -> MediaInfo {
    let mut info = MediaInfo::other(sniffed.mime_type());
    // The sniffer tells MP4 from MOV and WebM from Matroska; the demuxer names only the family.
    info.container = Some(match sniffed.extension() {
        "mp4" | "mov" | "m4v" | "m4a" | "webm" | "mkv" | "mp3" | "flac" | "wav" | "ogg" | "aac" => {
            sniffed.extension().to_string()
        }
        _ => reader.format_info().short_name.to_string(),
    });
    let mut video_codecs = Vec::new();
    let mut audio_codecs = Vec::new();
    let mut longest_track: Option<f64> = None;
    for track in reader.tracks() {
        let track_secs = seconds(track.time_base, track.duration);
        if let Some(s) = track_secs {
            longest_track = Some(longest_track.map_or(s, |l: f64| l.max(s)));
        }
        match &track.codec_params {
            Some(CodecParameters::Video(v)) => {
                video_codecs.push(codecs::video_name(v.codec));
                info.width = info.width.or(v.width.map(u32::from));
                info.height = info.height.or(v.height.map(u32::from));
            }
            Some(CodecParameters::Audio(a)) => {
                audio_codecs.push(codecs::audio_name(a.codec));
                info.sample_rate = info.sample_rate.or(a.sample_rate);
                info.channels = info
                    .channels
                    .or(a.channels.as_ref().map(|c| c.count() as u32));
            }
            _ => {}
        }
    }
    // The file-level duration honours edit lists; a track's may not (measured with AAC in MP4).
    let media = reader.media_info();
    let secs = seconds(media.time_base, media.duration).or(longest_track);
    info.duration_ms = secs.map(|s| (s * 1000.0).round() as u64);
    info.kind = if !video_codecs.is_empty() {
        Kind::Video
    } else if !audio_codecs.is_empty() {
        Kind::Audio
    } else {
        Kind::Other
    };
    info.codecs = video_codecs.into_iter().chain(audio_codecs).collect();
    info
}

#[cfg(test)]
mod tests {
    use crate::{probe, samples, Kind, ProbeError};

    /// One second of 8 kHz 16-bit mono, cut short by `bytes`.
    fn cut_wav(bytes: usize) -> Result<crate::MediaInfo, ProbeError> {
        let whole = samples::wav(8000, 8000);
        probe(samples::file(&whole[..whole.len() - bytes]))
    }

    /// A stream that ends inside its last packet has reached its end: what counts is how much of
    /// the declared length its packets cover, up to a quarter of a second short.
    #[test]
    fn a_stream_cut_within_the_tolerance_is_whole_and_beyond_it_is_truncated() {
        for bytes in [1, 2, 100, 3000] {
            let info = cut_wav(bytes).unwrap_or_else(|e| panic!("cut by {bytes}: {e}"));
            assert_eq!((info.kind, info.duration_ms), (Kind::Audio, Some(1000)));
        }
        match cut_wav(8000) {
            Err(ProbeError::Corrupt(reason)) => assert!(
                reason.starts_with("truncated: streams end at ")
                    && reason.ends_with(" s of a declared 1.000 s"),
                "{reason}"
            ),
            other => panic!("half a second missing: {other:?}"),
        }
    }

    /// ADTS AAC frames of 16 kHz mono, each 1,024 samples with `payload` bytes of (undecoded)
    /// data; the frame at `damaged` names a sample rate that does not exist.
    fn adts(frames: usize, damaged: Option<usize>) -> Vec<u8> {
        let payload = 16;
        let len = 7 + payload;
        let mut out = Vec::new();
        for i in 0..frames {
            let rate: u8 = if Some(i) == damaged { 13 } else { 8 };
            out.extend_from_slice(&[
                0xFF,
                0xF1,
                (1 << 6) | (rate << 2),
                (1 << 6) | (len >> 11) as u8,
                (len >> 3) as u8,
                ((len & 7) << 5) as u8 | 0x1F,
                0xFC,
            ]);
            out.resize(out.len() + payload, 0);
        }
        out
    }

    /// Damage is refused as damage wherever it lies, even where cutting the stream off there
    /// would leave it within the tolerance.
    #[test]
    fn a_damaged_frame_is_refused_with_its_reason() {
        let info = probe(samples::file(&adts(100, None))).unwrap();
        assert_eq!((info.kind, info.mime.as_str()), (Kind::Audio, "audio/aac"));
        assert_eq!(info.codecs, ["aac"]);
        assert_eq!(info.duration_ms, Some(6400));
        assert_eq!((info.sample_rate, info.channels), (Some(16000), Some(1)));
        for damaged in [50, 98] {
            match probe(samples::file(&adts(100, Some(damaged)))) {
                Err(ProbeError::Corrupt(reason)) => {
                    assert!(reason.starts_with("damaged stream: "), "{reason}")
                }
                other => panic!("frame {damaged} damaged: {other:?}"),
            }
        }
    }
}
