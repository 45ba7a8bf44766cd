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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::file;

    fn complete(bytes: &[u8], format: &str) -> bool {
        let mut f = file(bytes);
        let result = check_complete(&mut f, bytes, format);
        // Whatever it decides, the next reader starts at the beginning.
        assert_eq!(f.stream_position().unwrap(), 0);
        result.is_ok()
    }

    fn le_u16(v: u16) -> [u8; 2] {
        v.to_le_bytes()
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(b"\0\0\0\0IEND\xae\x42\x60\x82");
        out
    }

    fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08];
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        out.extend_from_slice(&[0xFF, 0xD9]);
        out
    }

    fn gif(width: u16, height: u16) -> Vec<u8> {
        let mut out = b"GIF89a".to_vec();
        out.extend_from_slice(&le_u16(width));
        out.extend_from_slice(&le_u16(height));
        out.extend_from_slice(&[0, 0, 0, 0x3B]);
        out
    }

    fn bmp(width: u32, height: u32) -> Vec<u8> {
        let mut out = b"BM".to_vec();
        out.extend_from_slice(&54u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&54u32.to_le_bytes());
        out.extend_from_slice(&40u32.to_le_bytes());
        out.extend_from_slice(&width.to_le_bytes());
        out.extend_from_slice(&height.to_le_bytes());
        out.resize(54, 0);
        out
    }

    /// An extended WebP holding only its canvas size.
    fn webp(width: u32, height: u32) -> Vec<u8> {
        let mut out = b"RIFF\x16\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
        out.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
        out.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
        out
    }

    /// A little-endian TIFF whose first directory gives its size and EXIF orientation, padded
    /// with zeros to `len` bytes.
    fn tiff(width: u16, height: u16, orientation: u16, len: u64) -> File {
        let mut out = b"II*\0\x08\0\0\0".to_vec();
        out.extend_from_slice(&le_u16(3));
        for (tag, value) in [(0x0100, width), (0x0101, height), (0x0112, orientation)] {
            out.extend_from_slice(&le_u16(tag));
            out.extend_from_slice(&le_u16(3)); // SHORT
            out.extend_from_slice(&1u32.to_le_bytes());
            out.extend_from_slice(&le_u16(value));
            out.extend_from_slice(&[0, 0]);
        }
        out.extend_from_slice(&0u32.to_le_bytes());
        let f = file(&out);
        // Sparse: the size is what is tested, not the bytes.
        f.set_len(len).unwrap();
        f
    }

    fn probed(bytes: &[u8]) -> MediaInfo {
        crate::probe(file(bytes)).unwrap()
    }

    #[test]
    fn each_format_is_complete_only_with_its_ending() {
        for (bytes, format) in [
            (png(3, 2), "png"),
            (jpeg(3, 2), "jpeg"),
            (gif(3, 2), "gif"),
            (bmp(3, 2), "bmp"),
            (webp(3, 2), "webp"),
        ] {
            assert!(complete(&bytes, format), "{format}");
            let cut = &bytes[..bytes.len() - 1];
            assert!(!complete(cut, format), "{format} cut by a byte");
        }
        // Bytes after what the RIFF size counts do not make it incomplete.
        let mut longer = webp(3, 2);
        longer.push(0);
        assert!(complete(&longer, "webp"));
        // A file shorter than the tail that is looked at.
        assert!(complete(&[0x3B], "gif"));
        assert!(!complete(&[0x3A], "gif"));
        // The RIFF size alone decides, however short the file.
        assert!(complete(b"RIFF\x04\0\0\0WEBP", "webp"));
        assert!(!complete(b"RIFF\x05\0\0\0WEBP", "webp"));
        // Formats whose structure is not checked.
        assert!(complete(b"II*\0", "tiff"));
    }

    #[test]
    fn images_report_their_format_and_size() {
        for (bytes, container, mime) in [
            (png(3, 2), "png", "image/png"),
            (jpeg(3, 2), "jpeg", "image/jpeg"),
            (gif(3, 2), "gif", "image/gif"),
            (bmp(3, 2), "bmp", "image/bmp"),
            (webp(3, 2), "webp", "image/webp"),
        ] {
            let info = probed(&bytes);
            assert_eq!(info.kind, Kind::Image, "{container}");
            assert_eq!(info.mime, mime);
            assert_eq!(info.container.as_deref(), Some(container));
            assert_eq!((info.width, info.height), (Some(3), Some(2)), "{container}");
            assert_eq!(info.orientation, None, "{container}");
        }
        let cut = jpeg(3, 2);
        assert!(matches!(
            crate::probe(file(&cut[..cut.len() - 1])),
            Err(ProbeError::Corrupt(_))
        ));
    }

    /// A TIFF's orientation is read up to 64 MiB of file and not past it.
    #[test]
    fn tiff_orientation_is_read_up_to_the_scan_limit() {
        let info = crate::probe(tiff(5, 4, 6, 1024)).unwrap();
        assert_eq!(info.container.as_deref(), Some("tiff"));
        assert_eq!((info.width, info.height), (Some(5), Some(4)));
        assert_eq!(info.orientation, Some(6));
        let mib = 1024 * 1024;
        let at_limit = crate::probe(tiff(5, 4, 8, 64 * mib)).unwrap();
        assert_eq!(at_limit.orientation, Some(8));
        let past = crate::probe(tiff(5, 4, 8, 64 * mib + 1)).unwrap();
        assert_eq!(past.orientation, None);
        // Outside 1..=8 is no orientation at all.
        let bogus = crate::probe(tiff(5, 4, 9, 1024)).unwrap();
        assert_eq!(bogus.orientation, None);
    }
}
