//! The edges of each precondition step and of single byte ranges, written out case by case.

use super::*;
use axum::http::HeaderValue;

fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
    }
    h
}

/// Every edge of a single range, in the three forms, written out.
#[test]
fn range_edges() {
    use RangeRequest::*;
    let cases: &[(&str, u64, RangeRequest)] = &[
        ("bytes=5-5", 10, Partial { start: 5, end: 5 }),
        ("bytes=9-9", 10, Partial { start: 9, end: 9 }),
        ("bytes=10-10", 10, Unsatisfiable),
        ("bytes=10-20", 10, Unsatisfiable),
        ("bytes=6-5", 10, Full),
        ("bytes=0-", 10, Partial { start: 0, end: 9 }),
        ("bytes=9-", 10, Partial { start: 9, end: 9 }),
        ("bytes=-1", 10, Partial { start: 9, end: 9 }),
        ("bytes=-10", 10, Partial { start: 0, end: 9 }),
        ("bytes=-11", 10, Partial { start: 0, end: 9 }),
        ("bytes=0-0", 0, Unsatisfiable),
        ("bytes=0-", 0, Unsatisfiable),
        ("bytes=-1", 0, Unsatisfiable),
        ("bytes=-0", 0, Unsatisfiable),
        (" bytes= 2 - 4 ", 10, Partial { start: 2, end: 4 }),
        // Only digits are numbers: no signs, no spaces inside, nothing empty.
        ("bytes=+2-4", 10, Full),
        ("bytes=2-+4", 10, Full),
        ("bytes=-+4", 10, Full),
        ("bytes=+2-", 10, Full),
        ("bytes=2 3-4", 10, Full),
        ("bytes=-", 10, Full),
        ("bytes=", 10, Full),
        ("bytes=5", 10, Full),
        ("bytes=99999999999999999999-", 10, Full),
        ("Bytes=0-1", 10, Full),
    ];
    for (value, len, expected) in cases {
        assert_eq!(&parse_range(value, *len), expected, "{value} of {len}");
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn date(secs: u64) -> String {
    httpdate::fmt_http_date(at(secs))
}

#[test]
fn dates_are_whole_seconds_and_never_before_the_epoch() {
    use chrono::TimeZone;
    let t = Utc.timestamp_opt(1_700_000_000, 999_000_000).unwrap();
    assert_eq!(to_http_seconds(t), at(1_700_000_000));
    let before = Utc.timestamp_opt(-5, 0).unwrap();
    assert_eq!(to_http_seconds(before), UNIX_EPOCH);
}

#[test]
fn entity_tag_lists() {
    let e = "\"abc\"";
    assert!(etag_list_matches("*", e, false));
    assert!(etag_list_matches("\"x\", *", e, false));
    assert!(etag_list_matches("\"x\" ,  \"abc\"", e, false));
    assert!(!etag_list_matches("\"x\", \"abcd\"", e, false));
    assert!(!etag_list_matches("W/\"abc\"", e, false));
    assert!(etag_list_matches("W/\"abc\"", e, true));
    assert!(!etag_list_matches("W/\"x\"", e, true));
    assert!(etag_list_matches("\"abc\"", e, true));
    assert!(!etag_list_matches("", e, true));
}

/// RFC 9110 §13.2.2: each step, its boundary, and which steps a method reaches.
#[test]
fn precondition_steps_and_their_boundaries() {
    use Precondition::*;
    let etag = "\"abc\"";
    let lm = Some(at(1_000_000));
    let same = date(1_000_000);
    let earlier = date(999_999);
    let later = date(1_000_001);
    let check = |method: Method, pairs: &[(header::HeaderName, &str)]| {
        evaluate(&method, &headers(pairs), etag, lm)
    };
    assert_eq!(check(Method::GET, &[]), Proceed);
    assert_eq!(check(Method::PUT, &[]), Proceed);
    // Step 1 passes on to the later steps.
    assert_eq!(check(Method::GET, &[(header::IF_MATCH, "*")]), Proceed);
    assert_eq!(
        check(
            Method::GET,
            &[(header::IF_MATCH, etag), (header::IF_NONE_MATCH, etag)]
        ),
        NotModified
    );
    // Step 2 is skipped when If-Match is present, and fails only for a later change.
    assert_eq!(
        check(
            Method::GET,
            &[
                (header::IF_MATCH, etag),
                (header::IF_UNMODIFIED_SINCE, &earlier)
            ]
        ),
        Proceed
    );
    assert_eq!(
        check(Method::PUT, &[(header::IF_UNMODIFIED_SINCE, &same)]),
        Proceed
    );
    assert_eq!(
        check(Method::PUT, &[(header::IF_UNMODIFIED_SINCE, &later)]),
        Proceed
    );
    assert_eq!(
        check(Method::PUT, &[(header::IF_UNMODIFIED_SINCE, &earlier)]),
        Failed
    );
    assert_eq!(
        check(Method::PUT, &[(header::IF_UNMODIFIED_SINCE, "yesterday")]),
        Proceed
    );
    // Step 3: a match is 304 for reads (HEAD too) and 412 for anything else.
    assert_eq!(
        check(Method::HEAD, &[(header::IF_NONE_MATCH, "*")]),
        NotModified
    );
    for method in [Method::PUT, Method::POST, Method::DELETE] {
        assert_eq!(
            check(method.clone(), &[(header::IF_NONE_MATCH, etag)]),
            Failed
        );
        assert_eq!(check(method, &[(header::IF_NONE_MATCH, "\"x\"")]), Proceed);
    }
    // Step 4: reads only; unchanged since the date (the same second included) is 304.
    assert_eq!(
        check(Method::GET, &[(header::IF_MODIFIED_SINCE, &same)]),
        NotModified
    );
    assert_eq!(
        check(Method::HEAD, &[(header::IF_MODIFIED_SINCE, &same)]),
        NotModified
    );
    assert_eq!(
        check(Method::GET, &[(header::IF_MODIFIED_SINCE, &earlier)]),
        Proceed
    );
    assert_eq!(
        check(Method::PUT, &[(header::IF_MODIFIED_SINCE, &later)]),
        Proceed
    );
    assert_eq!(
        check(Method::POST, &[(header::IF_MODIFIED_SINCE, &later)]),
        Proceed
    );
    assert_eq!(
        check(Method::GET, &[(header::IF_MODIFIED_SINCE, "soon")]),
        Proceed
    );
}

#[test]
fn if_range_names_this_representation_exactly() {
    let etag = "\"abc\"";
    let lm = Some(at(1_000_000));
    let allows = |value: &str| if_range_allows(&headers(&[(header::IF_RANGE, value)]), etag, lm);
    assert!(if_range_allows(&HeaderMap::new(), etag, lm));
    assert!(allows(" \"abc\" "));
    assert!(allows(&date(1_000_000)));
    assert!(!allows(&date(1_000_001)));
    assert!(!allows(&date(999_999)));
    // A weak tag can never validate a range.
    assert!(!allows("W/\"abc\""));
    assert!(!allows("\"abc"));
    assert!(!allows("not a date"));
}
