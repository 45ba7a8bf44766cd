//! Images: dimensions from the header, EXIF orientation; nothing is decoded.

use std::{
    fs::File,
    io::{BufReader, Read, Seek, SeekFrom},
};

use crate::{Kind, MediaInfo, ProbeError};

/// Whether the file ends the way its format says it must; a header alone says nothing of the rest.
/// TIFF places its directories anywhere, so only its header is checked.
fn check_complete(file: &mut File, head: &[u8], format: &str) -> Result<(), ProbeError> {
    let len = file.seek(SeekFrom::End(0))?;
    let mut tail = [0u8; 12];
    let tail_len = len.min(12) as usize;
    file.seek(SeekFrom::End(-(tail_len as i64)))?;
    file.read_exact(&mut tail[12 - tail_len..])?;
    let le32 = |at: usize| {
        head.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let complete = match format {
        "jpeg" => tail[10..] == [0xFF, 0xD9],
        "png" => tail == [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82],
        "gif" => tail[11] == 0x3B,
        "webp" => le32(4).is_some_and(|riff| u64::from(riff) + 8 <= len),
        "bmp" => head
            .get(2..6)
            .is_some_and(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])) <= len),
        _ => true,
    };
    file.seek(SeekFrom::Start(0))?;
    if complete {
        Ok(())
    } else {
        Err(ProbeError::Corrupt(format!(
            "truncated {format}: the file ends early"
        )))
    }
}

pub fn probe(mut file: File, head: &[u8], sniffed: infer::Type) -> Result<MediaInfo, ProbeError> {
    let size = imagesize::reader_size(BufReader::new(&mut file)).map_err(|e| {
        ProbeError::Corrupt(format!("unreadable {} header: {e}", sniffed.extension()))
    })?;
    file.seek(SeekFrom::Start(0))?;
    let mut info = MediaInfo::other(sniffed.mime_type());
    info.kind = Kind::Image;
    let format = container(sniffed);
    check_complete(&mut file, head, format)?;
    info.container = Some(format.to_string());
    info.width = u32::try_from(size.width).ok();
    info.height = u32::try_from(size.height).ok();
    info.orientation = orientation(file, format);
    Ok(info)
}

fn container(sniffed: infer::Type) -> &'static str {
    match sniffed.extension() {
        "jpg" => "jpeg",
        "tif" => "tiff",
        other => other,
    }
}

/// TIFF's EXIF reader loads the whole file; past this size, a TIFF's orientation is not read.
const MAX_TIFF_EXIF_SCAN: u64 = 64 * 1024 * 1024;

/// A missing or unreadable EXIF block is simply no orientation.
fn orientation(file: File, format: &str) -> Option<u32> {
    if format == "tiff" && file.metadata().ok()?.len() > MAX_TIFF_EXIF_SCAN {
        return None;
    }
    let exif = exif::Reader::new()
        .read_from_container(&mut BufReader::new(file))
        .ok()?;
    exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)?
        .value
        .get_uint(0)
        .filter(|o| (1..=8).contains(o))
}
