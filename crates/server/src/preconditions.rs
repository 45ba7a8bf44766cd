//! Conditional requests (RFC 9110 §13.2.2, the order of RFC 7232 §6) and single byte ranges.

use axum::http::{header, HeaderMap, Method};
use chrono::{DateTime, Utc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the preconditions decided before any body is produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Precondition {
    Proceed,
    NotModified,
    Failed,
}

fn etag_list_matches(list: &str, etag: &str, weak_ok: bool) -> bool {
    list.split(',').map(str::trim).any(|tag| {
        if tag == "*" {
            return true;
        }
        match tag.strip_prefix("W/") {
            Some(weak) => weak_ok && weak == etag,
            None => tag == etag,
        }
    })
}

fn http_date(headers: &HeaderMap, name: header::HeaderName) -> Option<SystemTime> {
    httpdate::parse_http_date(headers.get(name)?.to_str().ok()?).ok()
}

/// HTTP dates have whole seconds; compare at that resolution.
pub fn to_http_seconds(t: DateTime<Utc>) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t.timestamp().max(0) as u64)
}

/// `last_modified` is None for representations validated by their ETag alone: date conditions
/// then do not apply.
pub fn evaluate(
    method: &Method,
    headers: &HeaderMap,
    etag: &str,
    last_modified: Option<SystemTime>,
) -> Precondition {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    // Step 1: If-Match, strong comparison.
    if let Some(list) = text(header::IF_MATCH) {
        if !etag_list_matches(list, etag, false) {
            return Precondition::Failed;
        }
    } else if let (Some(since), Some(last_modified)) = (
        http_date(headers, header::IF_UNMODIFIED_SINCE),
        last_modified,
    ) {
        // Step 2: If-Unmodified-Since, only without If-Match.
        if last_modified > since {
            return Precondition::Failed;
        }
    }
    let read = method == Method::GET || method == Method::HEAD;
    // Step 3: If-None-Match, weak comparison.
    if let Some(list) = text(header::IF_NONE_MATCH) {
        if etag_list_matches(list, etag, true) {
            return if read {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if read {
        // Step 4: If-Modified-Since, only without If-None-Match.
        if let (Some(since), Some(last_modified)) =
            (http_date(headers, header::IF_MODIFIED_SINCE), last_modified)
        {
            if last_modified <= since {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Proceed
}

/// Step 5: a Range applies only if If-Range (when present) still names this representation.
pub fn if_range_allows(headers: &HeaderMap, etag: &str, last_modified: Option<SystemTime>) -> bool {
    let Some(value) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let value = value.trim();
    if value.starts_with('"') {
        return value == etag;
    }
    httpdate::parse_http_date(value).is_ok_and(|date| Some(date) == last_modified)
}

#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable single range: send the whole representation.
    Full,
    /// Bytes `start..=end`.
    Partial { start: u64, end: u64 },
    /// A well-formed range that selects nothing: 416.
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n`. Anything else, multi-range included, is ignored
/// (RFC 9110 §14.2 lets a server answer 200 with the full content).
pub fn parse_range(value: &str, len: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match num(suffix) {
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if len == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Partial {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            None => RangeRequest::Full,
        },
        (start, "") => match num(start) {
            Some(s) if s >= len => RangeRequest::Unsatisfiable,
            Some(s) => RangeRequest::Partial {
                start: s,
                end: len - 1,
            },
            None => RangeRequest::Full,
        },
        (start, end) => match (num(start), num(end)) {
            (Some(s), Some(e)) if s > e => RangeRequest::Full,
            (Some(s), Some(_)) if s >= len => RangeRequest::Unsatisfiable,
            (Some(s), Some(e)) => RangeRequest::Partial {
                start: s,
                end: e.min(len - 1),
            },
            _ => RangeRequest::Full,
        },
    }
}

#[cfg(test)]
#[path = "preconditions_tests.rs"]
mod edge_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    #[test]
    fn ranges() {
        use RangeRequest::*;
        assert_eq!(
            parse_range("bytes=0-99", 1000),
            Partial { start: 0, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=900-", 1000),
            Partial {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            parse_range("bytes=-100", 1000),
            Partial {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            parse_range("bytes=-5000", 1000),
            Partial { start: 0, end: 999 }
        );
        assert_eq!(
            parse_range("bytes=990-5000", 1000),
            Partial {
                start: 990,
                end: 999
            }
        );
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Full);
        assert_eq!(parse_range("items=0-1", 1000), Full);
        assert_eq!(parse_range("bytes=5-1", 1000), Full);
        assert_eq!(parse_range("bytes=a-b", 1000), Full);
    }

    /// RFC 9110 §14.1.2 for one byte range, written the plain way, for `parse_range` to match.
    fn model(first: Option<u64>, last: Option<u64>, len: u64) -> RangeRequest {
        use RangeRequest::*;
        match (first, last) {
            (None, Some(0)) => Unsatisfiable,
            (None, Some(_)) if len == 0 => Unsatisfiable,
            (None, Some(n)) => Partial {
                start: len - n.min(len),
                end: len - 1,
            },
            (Some(s), last) if last.is_none_or(|e| e >= s) && s >= len => Unsatisfiable,
            (Some(s), None) => Partial {
                start: s,
                end: len - 1,
            },
            (Some(s), Some(e)) if e >= s => Partial {
                start: s,
                end: e.min(len - 1),
            },
            _ => Full,
        }
    }

    proptest! {
        #[test]
        fn partial_ranges_lie_inside_the_file(value in "bytes=[0-9]{0,5}-[0-9]{0,5}", len in 1u64..100_000) {
            if let RangeRequest::Partial { start, end } = parse_range(&value, len) {
                prop_assert!(start <= end && end < len);
            }
        }

        /// Any header value at all, against any length (0 and u64::MAX included): no panic,
        /// and a partial answer never reaches outside the file.
        #[test]
        fn any_range_header_is_answered_inside_the_file(
            value in prop_oneof![
                "\\PC{0,40}",
                "bytes[= ]{1,2}[-0-9, ]{0,30}",
                "bytes=[0-9]{15,25}-[0-9]{0,25}",
            ],
            len in prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 0u64..10_000],
        ) {
            if let RangeRequest::Partial { start, end } = parse_range(&value, len) {
                prop_assert!(start <= end && end < len);
            }
        }

        #[test]
        fn single_ranges_follow_the_rfc(
            first in proptest::option::of(0u64..2_000),
            last in proptest::option::of(0u64..2_000),
            len in 0u64..1_500,
        ) {
            prop_assume!(first.is_some() || last.is_some());
            let show = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
            let value = format!("bytes={}-{}", show(first), show(last));
            prop_assert_eq!(parse_range(&value, len), model(first, last, len));
        }
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn precondition_order() {
        let etag = "\"abc\"";
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let lm = Some(at);
        let later = httpdate::fmt_http_date(at + Duration::from_secs(10));
        let earlier = httpdate::fmt_http_date(at - Duration::from_secs(10));
        let get = Method::GET;
        assert_eq!(
            evaluate(
                &get,
                &headers(&[(header::IF_NONE_MATCH, "W/\"abc\"")]),
                etag,
                lm
            ),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(
                &get,
                &headers(&[(header::IF_NONE_MATCH, "\"x\"")]),
                etag,
                lm
            ),
            Precondition::Proceed
        );
        assert_eq!(
            evaluate(&get, &headers(&[(header::IF_MATCH, "\"x\"")]), etag, lm),
            Precondition::Failed
        );
        assert_eq!(
            evaluate(&get, &headers(&[(header::IF_MATCH, "W/\"abc\"")]), etag, lm),
            Precondition::Failed
        );
        assert_eq!(
            evaluate(
                &get,
                &headers(&[(header::IF_MODIFIED_SINCE, &later)]),
                etag,
                lm
            ),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(
                &get,
                &headers(&[(header::IF_MODIFIED_SINCE, &earlier)]),
                etag,
                lm
            ),
            Precondition::Proceed
        );
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(
            evaluate(
                &get,
                &headers(&[
                    (header::IF_NONE_MATCH, "\"x\""),
                    (header::IF_MODIFIED_SINCE, &later)
                ]),
                etag,
                lm
            ),
            Precondition::Proceed
        );
        assert_eq!(
            evaluate(
                &get,
                &headers(&[(header::IF_UNMODIFIED_SINCE, &earlier)]),
                etag,
                lm
            ),
            Precondition::Failed
        );
        assert!(if_range_allows(
            &headers(&[(header::IF_RANGE, etag)]),
            etag,
            lm
        ));
        assert!(!if_range_allows(
            &headers(&[(header::IF_RANGE, "\"old\"")]),
            etag,
            lm
        ));
        assert!(if_range_allows(
            &headers(&[(header::IF_RANGE, &httpdate::fmt_http_date(at))]),
            etag,
            lm
        ));
    }

    #[test]
    fn representations_without_a_date_are_validated_by_etag_alone() {
        let old = "Mon, 01 Jan 2001 00:00:00 GMT";
        let get = Method::GET;
        let h = headers(&[(header::IF_MODIFIED_SINCE, "Mon, 01 Jan 2101 00:00:00 GMT")]);
        assert_eq!(evaluate(&get, &h, "\"a\"", None), Precondition::Proceed);
        let h = headers(&[(header::IF_UNMODIFIED_SINCE, old)]);
        assert_eq!(evaluate(&get, &h, "\"a\"", None), Precondition::Proceed);
        assert!(!if_range_allows(
            &headers(&[(header::IF_RANGE, old)]),
            "\"a\"",
            None
        ));
        assert!(if_range_allows(
            &headers(&[(header::IF_RANGE, "\"a\"")]),
            "\"a\"",
            None
        ));
    }
}
