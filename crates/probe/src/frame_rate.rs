//! Frame rates, which symphonia's demuxers do not report: from the sample table of an MP4/MOV
//! video track, or the default frame duration of a Matroska/WebM one.

use std::{
    fs::File,
    io::{BufReader, Seek, SeekFrom},
};

fn rounded(fps: f64) -> Option<f64> {
    (fps.is_finite() && fps > 0.0).then(|| (fps * 1000.0).round() / 1000.0)
}

pub fn of(file: &mut File, container: &str) -> Option<f64> {
    file.seek(SeekFrom::Start(0)).ok()?;
    match container {
        "mp4" | "mov" | "m4v" => isomp4(file),
        "webm" | "mkv" => matroska(file),
        _ => None,
    }
}

fn isomp4(file: &mut File) -> Option<f64> {
    let context = mp4parse::read_mp4(&mut BufReader::new(file)).ok()?;
    let track = context
        .tracks
        .iter()
        .find(|t| t.track_type == mp4parse::TrackType::Video)?;
    let timescale = track.timescale.as_ref()?.0;
    // Saturating: the counts come from the file and may be crafted to overflow.
    let (frames, ticks) = track
        .stts
        .as_ref()?
        .samples
        .iter()
        .fold((0u64, 0u64), |(f, t), s| {
            let count = u64::from(s.sample_count);
            (
                f.saturating_add(count),
                t.saturating_add(count.saturating_mul(u64::from(s.sample_delta))),
            )
        });
    if ticks == 0 {
        return None;
    }
    rounded(frames as f64 * timescale as f64 / ticks as f64)
}

fn matroska(file: &mut File) -> Option<f64> {
    let mkv = matroska_demuxer::MatroskaFile::open(BufReader::new(file)).ok()?;
    let track = mkv
        .tracks()
        .iter()
        .find(|t| t.track_type() == matroska_demuxer::TrackType::Video)?;
    let nanos_per_frame = track.default_duration()?.get();
    rounded(1e9 / nanos_per_frame as f64)
}
