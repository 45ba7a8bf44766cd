//! The tus protocol's headers as the parsers of `protocol.rs` read and write them.

use super::*;
use base64::engine::general_purpose::STANDARD;
use chrono::TimeZone;
use mediadrive_core::{ClientId, FileId, MediaType};
use sha2::Digest;

fn with(pairs: &[(&HeaderName, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert((*name).clone(), HeaderValue::from_str(value).unwrap());
    }
    headers
}

fn status_and_message(e: TusError) -> (u16, String) {
    (e.0.status.as_u16(), e.0.message)
}

#[test]
fn only_version_1_0_0_is_spoken() {
    assert!(check_version(&with(&[(&TUS_RESUMABLE, "1.0.0")])).is_ok());
    for other in ["0.2.2", "1.0", "1.0.0 ", ""] {
        let refused = check_version(&with(&[(&TUS_RESUMABLE, other)]))
            .err()
            .unwrap();
        assert_eq!(
            status_and_message(refused),
            (412, "Tus-Resumable must be 1.0.0".to_string()),
            "{other:?}"
        );
    }
    assert!(check_version(&HeaderMap::new()).is_err());
}

/// A refused version names the one spoken; a refused checksum has tus's own reason phrase.
#[test]
fn refusals_carry_what_the_protocol_asks_of_them() {
    let refused = check_version(&HeaderMap::new())
        .err()
        .unwrap()
        .into_response();
    assert_eq!(refused.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(refused.headers()[&TUS_VERSION_HEADER], TUS_VERSION);
    assert!(refused
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .is_none());

    let mismatch = checksum_mismatch().into_response();
    assert_eq!(mismatch.status().as_u16(), 460);
    let phrase = mismatch
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .unwrap();
    assert_eq!(phrase.as_bytes(), b"Checksum Mismatch");
    assert!(!mismatch.headers().contains_key(&TUS_VERSION_HEADER));

    let other = upload_not_found().into_response();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    assert!(!other.headers().contains_key(&TUS_VERSION_HEADER));
    assert!(other
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .is_none());
}

#[test]
fn each_refusal_has_its_status_and_words() {
    assert_eq!(
        status_and_message(upload_not_found()),
        (404, "Upload not found".into())
    );
    assert_eq!(
        status_and_message(gone()),
        (410, "Upload has expired".into())
    );
    assert_eq!(
        status_and_message(offset_mismatch(5, 7)),
        (
            409,
            "Upload-Offset 5 does not match the upload's offset 7".into()
        )
    );
    assert_eq!(
        status_and_message(checksum_mismatch()),
        (
            460,
            "Upload-Checksum does not match the bytes received".into()
        )
    );
    let busy = another_request();
    assert_eq!(busy.0.retry_after, Some(1));
    assert_eq!(busy.0.status, StatusCode::LOCKED);
}

#[test]
fn answers_carry_their_headers_and_drop_values_that_cannot_be_sent() {
    let response = answer(
        StatusCode::CREATED,
        vec![
            (UPLOAD_OFFSET, "42".into()),
            (UPLOAD_METADATA, "bad\nvalue".into()),
        ],
    );
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()[&UPLOAD_OFFSET], "42");
    assert!(!response.headers().contains_key(&UPLOAD_METADATA));
}

#[test]
fn pieces_must_be_sent_as_offset_octet_streams() {
    for ok in [
        "application/offset+octet-stream",
        "Application/Offset+Octet-Stream",
        "application/offset+octet-stream; charset=binary",
        " application/offset+octet-stream ;x=y",
    ] {
        assert!(offset_stream(&with(&[(&header::CONTENT_TYPE, ok)])), "{ok}");
    }
    for bad in [
        "application/octet-stream",
        "application/offset+octet-streams",
        "",
    ] {
        assert!(
            !offset_stream(&with(&[(&header::CONTENT_TYPE, bad)])),
            "{bad}"
        );
    }
    assert!(!offset_stream(&HeaderMap::new()));
}

#[test]
fn expiry_is_an_http_date() {
    let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    assert_eq!(http_date(at), "Tue, 14 Nov 2023 22:13:20 GMT");
}

#[test]
fn offsets_and_lengths_are_plain_decimal_numbers() {
    let read = |value: &str| number_header(&with(&[(&UPLOAD_OFFSET, value)]), &UPLOAD_OFFSET);
    assert_eq!(number_header(&HeaderMap::new(), &UPLOAD_OFFSET), Ok(None));
    assert_eq!(read("0"), Ok(Some(0)));
    assert_eq!(read("007"), Ok(Some(7)));
    assert_eq!(read("18446744073709551615"), Ok(Some(u64::MAX)));
    for bad in [
        "",
        "+1",
        "-1",
        "1 ",
        " 1",
        "1.0",
        "0x10",
        "18446744073709551616",
    ] {
        assert_eq!(read(bad), Err(()), "{bad:?}");
    }
}

#[test]
fn metadata_pairs_tolerate_blank_entries_and_extra_spaces() {
    let parsed = parse_metadata(" a  YQ== ,, b ,").unwrap();
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed["a"], b"a");
    assert_eq!(parsed["b"], b"");
    assert_eq!(parse_metadata("a YQ==,a").unwrap_err(), "a is given twice");
    assert_eq!(
        parse_metadata("a !!").unwrap_err(),
        "the value of a is not base64"
    );
    assert_eq!(
        parse_metadata("a YQ== Yg==").unwrap_err(),
        "a has more than one value"
    );
}

fn metadata(pairs: &[(&str, &[u8])]) -> HashMap<String, Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect()
}

#[test]
fn metadata_text_takes_the_first_key_given_and_must_be_utf8() {
    let m = metadata(&[("type", b"video/mp4"), ("filetype", b"image/png")]);
    assert_eq!(
        metadata_text(&m, &["filetype", "type"]).ok().flatten(),
        Some("image/png")
    );
    assert_eq!(
        metadata_text(&m, &["contentType", "type"]).ok().flatten(),
        Some("video/mp4")
    );
    assert_eq!(metadata_text(&m, &["folder"]).ok().flatten(), None);
    let bad = metadata(&[("folder", b"\xff\xfe")]);
    let refused = metadata_text(&bad, &["folder"]).err().unwrap();
    assert_eq!(
        status_and_message(refused),
        (400, "Upload-Metadata: folder is not UTF-8 text".into())
    );
}

fn place(pairs: &[(&str, &[u8])]) -> Result<(String, String, String), (u16, String)> {
    destination(&metadata(pairs))
        .map(|(folder, name, ct)| (folder.to_string(), name.to_string(), ct))
        .map_err(status_and_message)
}

fn placed(folder: &str, name: &str, ct: &str) -> Result<(String, String, String), (u16, String)> {
    Ok((folder.into(), name.into(), ct.into()))
}

#[test]
fn the_destination_comes_from_the_metadata() {
    assert_eq!(
        place(&[
            ("filename", b"my clip.mp4"),
            ("filetype", b" video/webm "),
            ("folder", b"renders/ raw"),
        ]),
        placed("renders/raw", "my_clip.mp4", "video/webm")
    );
    assert_eq!(
        place(&[("name", b"a.png"), ("contentType", b"image/webp")]),
        placed("", "a.png", "image/webp")
    );
    assert_eq!(
        place(&[
            ("filename", b"a.png"),
            ("name", b"b.png"),
            ("type", b"image/gif")
        ]),
        placed("", "a.png", "image/gif")
    );
    // Without a type, or a blank one, the name decides.
    assert_eq!(
        place(&[("filename", b"a.mp3")]),
        placed("", "a.mp3", "audio/mpeg")
    );
    assert_eq!(
        place(&[("filename", b"a.mp3"), ("filetype", b"  ")]),
        placed("", "a.mp3", "audio/mpeg")
    );
    assert_eq!(
        place(&[("filename", b"notes"), ("folder", b"")]),
        placed("", "notes", "application/octet-stream")
    );
}

#[test]
fn a_destination_without_a_usable_name_type_or_folder_is_refused() {
    let no_name = Err((400, "Upload-Metadata must give the filename".to_string()));
    assert_eq!(place(&[]), no_name);
    assert_eq!(place(&[("filename", b" ")]), no_name);
    assert_eq!(place(&[("filetype", b"video/mp4")]), no_name);
    assert_eq!(
        place(&[("filename", b"..")]),
        Err((400, "Invalid file name".into()))
    );
    assert_eq!(
        place(&[("filename", b"a.mp4"), ("filetype", b"mp4")]),
        Err((400, "filetype must be a MIME type such as video/mp4".into()))
    );
    assert_eq!(
        place(&[("filename", b"a.mp4"), ("folder", b"!!!")]),
        Err((400, "Invalid folder name".into()))
    );
}

/// Base64 of the digest of "hello" for each algorithm.
const HELLO: [(&str, &str); 3] = [
    ("sha1", "qvTGHdzF6KLavt4PO0gs2a6pQ00="),
    ("sha256", "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="),
    ("md5", "XUFAKrxLKna5cZ2REBfFkg=="),
];

fn parsed(value: &str) -> TusResult<Option<Checksum>> {
    checksum(&with(&[(&UPLOAD_CHECKSUM, value)]))
}

#[test]
fn each_algorithm_checks_the_bytes_of_its_piece() {
    for (algorithm, digest) in HELLO {
        let value = format!(" {algorithm} {digest} ");
        let mut whole = parsed(&value).ok().flatten().unwrap();
        whole.update(b"he");
        whole.update(b"llo");
        assert!(whole.matches(), "{algorithm}");
        let mut other = parsed(&value).ok().flatten().unwrap();
        other.update(b"hello!");
        assert!(!other.matches(), "{algorithm}");
        let empty = parsed(&value).ok().flatten().unwrap();
        assert!(!empty.matches(), "{algorithm}");
    }
    let md5_of_nothing = format!("md5 {}", STANDARD.encode(md5::Md5::digest(b"")));
    assert!(parsed(&md5_of_nothing).ok().flatten().unwrap().matches());
}

#[test]
fn checksum_headers_name_a_known_algorithm_and_a_base64_digest() {
    assert!(matches!(checksum(&HeaderMap::new()), Ok(None)));
    let refused = |value: &str| status_and_message(parsed(value).err().unwrap());
    let malformed = (
        400,
        "Upload-Checksum must be an algorithm and a base64 digest".to_string(),
    );
    assert_eq!(refused("sha1"), malformed);
    assert_eq!(refused("sha1 !!!"), malformed);
    assert_eq!(
        refused("SHA1 qvTGHdzF6KLavt4PO0gs2a6pQ00="),
        (
            400,
            "Unsupported checksum algorithm SHA1; use one of sha1,sha256,md5".into()
        )
    );
}

fn pending(expires: Option<i64>) -> FileRecord {
    let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    FileRecord {
        id: FileId::parse("0123456789abcdef0123456789abcdef").unwrap(),
        tenant: ClientId::parse("acme").unwrap(),
        folder: FolderPath::root(),
        name: FileName::sanitise("a.bin").unwrap(),
        content_type: "application/octet-stream".into(),
        media_type: MediaType::Other,
        size: 10,
        status: FileStatus::Pending,
        temporary: false,
        blob: None,
        created_at: at,
        updated_at: at,
        uploaded_at: None,
        temporary_since: None,
        upload_expires_at: expires.map(|s| Utc.timestamp_opt(s, 0).unwrap()),
    }
}

/// An upload expires after its last moment, and only while it is still waiting for bytes.
#[test]
fn only_pending_uploads_past_their_expiry_have_expired() {
    let now = Utc.timestamp_opt(1_000, 0).unwrap();
    assert!(expired(&pending(Some(999)), now));
    assert!(!expired(&pending(Some(1_000)), now));
    assert!(!expired(&pending(Some(1_001)), now));
    assert!(!expired(&pending(None), now));
    let done = FileRecord {
        status: FileStatus::Uploaded,
        ..pending(Some(999))
    };
    assert!(!expired(&done, now));
}
