//! Every example in the API guides (`docs/api/*.md`) run against a fresh server, its answer
//! checked against the one the guide shows (issue 10).
//!
//! A guide's `sh` blocks run in order in one bash shell, so later blocks see earlier variables,
//! with `MEDIADRIVE` (the server), `KEY` (an admin key of `acme`) and a working directory holding
//! `clip.mp4` and `poster.png`. A `json` block right after an `sh` block is the answer as a
//! pattern: the keys it shows, arrays of its length, and `<...>` standing for whatever varies. A
//! `text` block holds lines the answer must have (leading and trailing blanks aside), such as a
//! status line and headers.

use std::path::Path;

use serde_json::Value;

use crate::harness::Server;

struct Example {
    /// Line of the guide where the block starts, for the failure message.
    line: usize,
    script: String,
    answer: Option<Answer>,
}

enum Answer {
    Json(Value),
    Lines(Vec<String>),
}

/// The fenced blocks of a markdown text: (line, info string, body).
fn blocks(markdown: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => open = Some((i + 1, info.trim().to_string(), String::new())),
            (Some(_), Some("")) => out.push(open.take().unwrap()),
            (Some((_, _, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a fenced block is never closed");
    out
}

fn examples(markdown: &str) -> Vec<Example> {
    let blocks = blocks(markdown);
    let mut out = Vec::new();
    for (i, (line, info, body)) in blocks.iter().enumerate() {
        if info != "sh" {
            continue;
        }
        let answer = match blocks.get(i + 1) {
            Some((at, next, answer)) if next == "json" => Some(Answer::Json(
                serde_json::from_str(answer)
                    .unwrap_or_else(|e| panic!("line {at}: the answer is not JSON: {e}")),
            )),
            Some((_, next, answer)) if next == "text" => Some(Answer::Lines(
                answer
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect(),
            )),
            _ => None,
        };
        out.push(Example {
            line: *line,
            script: body.clone(),
            answer,
        });
    }
    out
}

/// Whether `text` matches `pattern`, in which each `<...>` stands for any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    let mut literals = Vec::new();
    let mut rest = pattern;
    while let Some(start) = rest.find('<') {
        match rest[start..].find('>') {
            Some(len) => {
                literals.push(&rest[..start]);
                rest = &rest[start + len + 1..];
            }
            None => break,
        }
    }
    literals.push(rest);
    let (first, last) = (literals[0], literals[literals.len() - 1]);
    if literals.len() == 1 {
        return text == first;
    }
    if !text.starts_with(first) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut at = first.len();
    for middle in &literals[1..literals.len() - 1] {
        match text[at..].find(middle) {
            Some(found) => at += found + middle.len(),
            None => return false,
        }
    }
    text.len() - last.len() >= at && text.ends_with(last)
}

fn placeholder(s: &str) -> bool {
    s.starts_with('<') && s.ends_with('>') && s[1..].find('>') == Some(s.len() - 2)
}

/// Where `actual` departs from `expected`, as a JSON path.
fn mismatch(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::String(s), _) if placeholder(s) => None,
        (Value::String(p), Value::String(a)) if wildcard(p, a) => None,
        (Value::Object(e), Value::Object(a)) => e.iter().find_map(|(k, v)| match a.get(k) {
            Some(got) => mismatch(v, got, &format!("{path}.{k}")),
            None => Some(format!("{path}.{k} is missing")),
        }),
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (e, a))| mismatch(e, a, &format!("{path}[{i}]"))),
        _ if expected == actual => None,
        _ => Some(format!("{path}: expected {expected}, got {actual}")),
    }
}

/// Lines as the responses they belong to: a status line (`HTTP/…`) starts a new one.
fn responses<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    for line in lines.map(|l| l.trim().to_lowercase()) {
        match groups.last_mut() {
            Some(group) if !line.starts_with("http/") => group.push(line),
            _ => groups.push(vec![line]),
        }
    }
    groups
}

fn check(example: &Example, output: &str) -> Result<(), String> {
    match &example.answer {
        None => Ok(()),
        Some(Answer::Json(expected)) => {
            let actual: Value = serde_json::from_str(output)
                .map_err(|e| format!("the answer is not JSON ({e}): {output}"))?;
            match mismatch(expected, &actual, "$") {
                None => Ok(()),
                Some(why) => Err(format!("{why}\nthe answer: {actual:#}")),
            }
        }
        Some(Answer::Lines(lines)) => {
            // Responses come in the order shown; within one, its lines (headers) in any order.
            let got = responses(output.lines());
            let mut rest = got.iter();
            for want in responses(lines.iter().map(String::as_str)) {
                let found = rest
                    .any(|response| want.iter().all(|w| response.iter().any(|l| wildcard(w, l))));
                if !found {
                    return Err(format!(
                        "no response with the lines {want:?} after the ones before it in:\n{output}"
                    ));
                }
            }
            Ok(())
        }
    }
}

fn ffmpeg(work: &Path, args: &[&str]) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .current_dir(work)
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs one guide's examples on a fresh server; the failures, each with its line.
async fn run_guide(guide: &Path) -> Vec<String> {
    let markdown = std::fs::read_to_string(guide).unwrap();
    let examples = examples(&markdown);
    assert!(!examples.is_empty(), "{}: no sh examples", guide.display());
    let server = Server::start_with(&["--fetch-allow", "127.0.0.0/8"]).await;
    let key = server.key("acme", "admin");
    let work = tempfile::tempdir().unwrap();
    ffmpeg(
        work.path(),
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=2:size=320x240:rate=25",
            "-pix_fmt",
            "yuv420p",
            "clip.mp4",
        ],
    );
    ffmpeg(
        work.path(),
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=64x64",
            "-frames:v",
            "1",
            "poster.png",
        ],
    );
    let outputs = work.path().join(".answers");
    std::fs::create_dir(&outputs).unwrap();
    let mut script = String::from("set -euo pipefail\n");
    for (i, example) in examples.iter().enumerate() {
        script.push_str(&format!(
            "echo {} > .answers/started\n{{\n{}\n}} > .answers/{i}\n",
            example.line, example.script
        ));
    }
    let run = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(work.path())
        .env("MEDIADRIVE", &server.base)
        .env("KEY", &key)
        .output()
        .unwrap();
    let name = guide.file_name().unwrap().to_string_lossy();
    if !run.status.success() {
        let line = std::fs::read_to_string(outputs.join("started")).unwrap_or_default();
        return vec![format!(
            "{name}:{}: the example failed: {}",
            line.trim(),
            String::from_utf8_lossy(&run.stderr)
        )];
    }
    examples
        .iter()
        .enumerate()
        .filter_map(|(i, example)| {
            let output = std::fs::read_to_string(outputs.join(i.to_string())).unwrap();
            check(example, &output)
                .err()
                .map(|why| format!("{name}:{}: {why}", example.line))
        })
        .collect()
}

#[tokio::test]
async fn every_example_in_the_api_guides_answers_as_shown() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/api");
    let mut guides: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    guides.sort();
    assert!(guides.len() >= 4, "a guide per surface: {guides:?}");
    let mut failures = Vec::new();
    for guide in &guides {
        failures.extend(run_guide(guide).await);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn answers_match_as_patterns() {
    let expected: Value = serde_json::from_str(
        r#"{"id": "<id>", "url": "http://<host>/acme/files/<path>", "n": [1, 2]}"#,
    )
    .unwrap();
    let good: Value = serde_json::from_str(
        r#"{"id": 7, "url": "http://h:1/acme/files/a/b.mp4", "n": [1, 2], "extra": true}"#,
    )
    .unwrap();
    assert_eq!(mismatch(&expected, &good, "$"), None);
    for bad in [
        r#"{"url": "http://h/acme/files/a", "n": [1, 2]}"#,
        r#"{"id": 1, "url": "http://h/other/files/a", "n": [1, 2]}"#,
        r#"{"id": 1, "url": "http://h/acme/files/a", "n": [1]}"#,
        r#"{"id": 1, "url": "http://h/acme/files/a", "n": [1, 3]}"#,
    ] {
        let bad: Value = serde_json::from_str(bad).unwrap();
        assert!(mismatch(&expected, &bad, "$").is_some(), "{bad}");
    }
    assert!(wildcard("HTTP/1.1 200 <reason>", "HTTP/1.1 200 OK"));
    assert!(!wildcard("HTTP/1.1 200 <reason>", "HTTP/1.1 404 Not Found"));
    assert!(wildcard("etag: \"<hash>\"", "etag: \"abc\""));
    assert!(!wildcard("a<x>b<y>c", "acb"));
    assert!(wildcard("a<x>b<y>c", "a1b2c"));
    assert!(!wildcard("exact", "exactly"));
    let statuses = Example {
        line: 1,
        script: String::new(),
        answer: Some(Answer::Lines(vec![
            "HTTP/1.1 204 <reason>".into(),
            "b: 2".into(),
            "a: 1".into(),
            "HTTP/1.1 404 <reason>".into(),
        ])),
    };
    let output = "HTTP/1.1 204 No Content\na: 1\nb: 2\nHTTP/1.1 404 Not Found\n";
    assert_eq!(check(&statuses, output), Ok(()));
    let swapped = "HTTP/1.1 404 Not Found\nHTTP/1.1 204 No Content\na: 1\nb: 2\n";
    assert!(check(&statuses, swapped).is_err());
    let elsewhere = "HTTP/1.1 204 No Content\na: 1\nHTTP/1.1 404 Not Found\nb: 2\n";
    assert!(check(&statuses, elsewhere).is_err());
}
