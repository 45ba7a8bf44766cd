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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_rounded_to_thousandths_and_must_be_positive_and_finite() {
        assert_eq!(rounded(30_000.0 / 1001.0), Some(29.97));
        assert_eq!(rounded(23.9764), Some(23.976));
        assert_eq!(rounded(25.0), Some(25.0));
        assert_eq!(rounded(0.0004), Some(0.0));
        for bad in [0.0, -25.0, f64::INFINITY, f64::NAN] {
            assert_eq!(rounded(bad), None, "{bad}");
        }
    }

    /// Only MP4, MOV and Matroska carry a rate this reads; anything else has none.
    #[test]
    fn other_containers_have_no_frame_rate() {
        let mut file = crate::samples::file(&crate::samples::wav(8000, 10));
        assert_eq!(of(&mut file, "wav"), None);
        assert_eq!(of(&mut file, "mp4"), None);
        assert_eq!(of(&mut file, "webm"), None);
    }
}
