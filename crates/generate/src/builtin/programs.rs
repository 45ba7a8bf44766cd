//! Built-ins that run a local program: `espeak-ng` (speech synthesis), headless Chromium (HTML to
//! an image) and ffmpeg (a generated test video). Each is available only where its program is
//! installed; a generation that overruns its time limit kills the program (`kill_on_drop`).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
};

use async_trait::async_trait;
use base64::Engine;
use serde_json::{Map, Value};
use tokio::{io::AsyncWriteExt, process::Command};

use crate::{
    inputs::{self, Default, Input, InputKind, MAX_TEXT},
    GenerateError, Generator, Output,
};

/// The first of `names` found on `PATH`.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn program(names: &[&str]) -> Result<PathBuf, GenerateError> {
    find_program(names).ok_or_else(|| {
        GenerateError::Unavailable(format!("{} is not installed on this server", names[0]))
    })
}

fn scratch() -> Result<tempfile::TempDir, GenerateError> {
    tempfile::Builder::new()
        .prefix("mediadrive-gen-")
        .tempdir()
        .map_err(|e| GenerateError::Failed(format!("could not create a scratch directory: {e}")))
}

/// A helper program's command. It reads client content (text, HTML), so it gets none of the
/// server's environment (database URL, S3 and model keys): only `PATH`, and the generation's
/// scratch directory as its home, temporary directory and working directory. With `memory`, its
/// address space is capped; its CPU time always is, at `cpu_secs`.
fn helper(program: PathBuf, scratch: &Path, memory: Option<u64>, cpu_secs: u64) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("HOME", scratch)
        .env("TMPDIR", scratch)
        .env("LANG", "C.UTF-8")
        .current_dir(scratch);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    // Safety: the closure runs in the child between fork and exec and calls only setrlimit,
    // which is async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            let limit = |resource, value: u64| {
                let rlim = libc::rlimit {
                    rlim_cur: value as libc::rlim_t,
                    rlim_max: value as libc::rlim_t,
                };
                if libc::setrlimit(resource, &rlim) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            if let Some(bytes) = memory {
                limit(libc::RLIMIT_AS, bytes)?;
            }
            limit(libc::RLIMIT_CPU, cpu_secs)
        });
    }
    command
}

/// Runs a prepared command to its end, feeding `stdin`; a failure carries the program's last words.
async fn run(mut command: Command, stdin: Option<&str>) -> Result<(), GenerateError> {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| GenerateError::Unavailable(format!("could not start the program: {e}")))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .await
            .map_err(|e| GenerateError::Failed(format!("could not feed the program: {e}")))?;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| GenerateError::Failed(format!("the program failed: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Err(GenerateError::Failed(format!(
        "the program failed ({}): {}",
        output.status,
        last.trim()
    )))
}

/// The address space espeak-ng and ffmpeg may take: far above what they need for what they are
/// asked to make here.
const HELPER_MEMORY: u64 = 2 << 30;

const ESPEAK: &[&str] = &["espeak-ng"];

const ESPEAK_INPUTS: &[Input] = &[
    Input::required(
        "text",
        InputKind::Text {
            max_chars: MAX_TEXT,
        },
    ),
    Input::with_default(
        "voice",
        InputKind::Text { max_chars: 40 },
        Default::Text("en"),
    ),
    Input::with_default(
        "speed",
        InputKind::Integer { min: 80, max: 450 },
        Default::Integer(175),
    ),
];

/// `espeak-ng`: formant speech synthesis, robotic but intelligible, as WAV.
pub struct EspeakNg;

#[async_trait]
impl Generator for EspeakNg {
    fn inputs(&self) -> &[Input] {
        ESPEAK_INPUTS
    }

    fn local(&self) -> bool {
        true
    }

    fn description(&self) -> String {
        "Built in, not an AI model: espeak-ng formant speech synthesis (WAV); voice is an espeak-ng voice such as en, en-us, de".into()
    }

    async fn available(&self) -> bool {
        find_program(ESPEAK).is_some()
    }

    async fn generate(
        &self,
        inputs: &Map<String, Value>,
        out: &mut Output<'_>,
    ) -> Result<(), GenerateError> {
        let dir = scratch()?;
        let wav = dir.path().join("speech.wav");
        let voice = inputs::text(inputs, "voice").unwrap_or("en");
        if !voice
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_+".contains(c))
        {
            return Err(GenerateError::Failed(format!(
                "voice '{voice}' is not an espeak-ng voice name"
            )));
        }
        let mut command = helper(program(ESPEAK)?, dir.path(), Some(HELPER_MEMORY), 60);
        command
            .arg("-v")
            .arg(voice)
            .arg("-s")
            .arg(inputs::integer(inputs, "speed").unwrap_or(175).to_string())
            .arg("-w")
            .arg(&wav)
            .arg("--stdin");
        run(command, inputs::text(inputs, "text")).await?;
        out.write_file(&wav).await
    }
}

const CHROMIUM: &[&str] = &["chromium", "chromium-browser", "google-chrome"];

/// The page travels as a `data:` URL in one argument, which Linux caps at 128 KiB; base64 of this
/// many bytes stays under it.
const MAX_HTML_BYTES: usize = 90_000;

const HTML_INPUTS: &[Input] = &[
    Input::required(
        "html",
        InputKind::Text {
            max_chars: MAX_HTML_BYTES,
        },
    ),
    Input::with_default(
        "width",
        InputKind::Integer { min: 16, max: 3840 },
        Default::Integer(1024),
    ),
    Input::with_default(
        "height",
        InputKind::Integer { min: 16, max: 3840 },
        Default::Integer(768),
    ),
];

/// Put before the client's page, so the parser places it in the head whatever the page holds: the
/// page may use inline styles and `data:` resources only, and scripts only where the operator
/// turned them on. A policy in the page can only narrow this one, never widen it. Requests are
/// refused here before they reach the proxy that goes nowhere.
fn content_policy(javascript: bool) -> String {
    let scripts = match javascript {
        true => "script-src 'unsafe-inline' data:; ",
        false => "",
    };
    format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; {scripts}\
         img-src data:; style-src 'unsafe-inline' data:; font-src data:; media-src data:\">"
    )
}

/// Headless Chromium: the item's HTML rendered to a PNG screenshot. The page is client content: it
/// is loaded from a `data:` URL, whose opaque origin may not load `file:` URLs (a page loaded from a
/// file could show the server's files), and every network request goes nowhere.
pub struct Chromium {
    /// Whether the page's scripts run: off unless the operator turns them on for the model.
    pub javascript: bool,
}

#[async_trait]
impl Generator for Chromium {
    fn inputs(&self) -> &[Input] {
        HTML_INPUTS
    }

    fn local(&self) -> bool {
        true
    }

    fn description(&self) -> String {
        "Built in: the html rendered by headless Chromium to a PNG, offline (no network requests)"
            .into()
    }

    async fn available(&self) -> bool {
        find_program(CHROMIUM).is_some()
    }

    async fn generate(
        &self,
        inputs: &Map<String, Value>,
        out: &mut Output<'_>,
    ) -> Result<(), GenerateError> {
        let html = inputs::text(inputs, "html").unwrap_or_default();
        if html.len() > MAX_HTML_BYTES {
            return Err(GenerateError::Failed(format!(
                "html must be at most {MAX_HTML_BYTES} bytes"
            )));
        }
        let dir = scratch()?;
        let png = dir.path().join("shot.png");
        let width = inputs::integer(inputs, "width").unwrap_or(1024);
        let height = inputs::integer(inputs, "height").unwrap_or(768);
        let page = format!(
            "data:text/html;charset=utf-8;base64,{}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}{html}", content_policy(self.javascript)))
        );
        // Chromium reserves far more address space than it uses (V8's cage), so only its CPU
        // time is capped; the generation's deadline bounds the rest.
        let mut command = helper(program(CHROMIUM)?, dir.path(), None, 120);
        command
            .args([
                "--headless",
                // Chromium refuses to start as root with its sandbox; deployment.md says to run
                // mediadrive as an unprivileged user.
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                // Every request goes to a proxy that is not there, loopback included; names resolve
                // nowhere; WebRTC may not send UDP around the proxy.
                "--proxy-server=http://127.0.0.1:9",
                "--proxy-bypass-list=<-loopback>",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
                "--virtual-time-budget=3000",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--screenshot={}", png.display()))
            .arg(page);
        run(command, None).await?;
        out.write_file(&png).await
    }
}

const FFMPEG: &[&str] = &["ffmpeg"];

const VIDEO_INPUTS: &[Input] = &[
    Input::with_default(
        "prompt",
        InputKind::Text {
            max_chars: MAX_TEXT,
        },
        Default::Text(""),
    ),
    Input::with_default(
        "duration",
        InputKind::Number {
            min: 0.5,
            max: 60.0,
        },
        Default::Number(5.0),
    ),
    Input::with_default(
        "width",
        InputKind::Integer { min: 64, max: 1920 },
        Default::Integer(640),
    ),
    Input::with_default(
        "height",
        InputKind::Integer { min: 64, max: 1080 },
        Default::Integer(360),
    ),
];

/// ffmpeg: moving gradients seeded by the prompt with a tone, as H.264/AAC MP4.
pub struct LocalVideo;

#[async_trait]
impl Generator for LocalVideo {
    fn inputs(&self) -> &[Input] {
        VIDEO_INPUTS
    }

    fn local(&self) -> bool {
        true
    }

    fn description(&self) -> String {
        "Built in, not an AI model: moving gradients seeded by the prompt, with a tone, rendered by ffmpeg (H.264/AAC MP4)".into()
    }

    async fn available(&self) -> bool {
        find_program(FFMPEG).is_some()
    }

    async fn generate(
        &self,
        inputs: &Map<String, Value>,
        out: &mut Output<'_>,
    ) -> Result<(), GenerateError> {
        let dir = scratch()?;
        let mp4 = dir.path().join("video.mp4");
        let seed = super::seed(inputs::text(inputs, "prompt").unwrap_or_default()) % 1_000_000;
        let duration = inputs::number(inputs, "duration").unwrap_or(5.0);
        // H.264 in 4:2:0 needs even dimensions.
        let width = inputs::integer(inputs, "width").unwrap_or(640) & !1;
        let height = inputs::integer(inputs, "height").unwrap_or(360) & !1;
        let tone = 220 + seed % 440;
        let mut command = helper(program(FFMPEG)?, dir.path(), Some(HELPER_MEMORY), 300);
        command
            .args([
                "-v", "error", "-nostdin", "-y", "-threads", "2", "-f", "lavfi", "-i",
            ])
            .arg(format!(
                "gradients=s={width}x{height}:r=25:d={duration}:seed={seed}:speed=0.02"
            ))
            .args(["-f", "lavfi", "-i"])
            .arg(format!("sine=frequency={tone}:duration={duration}"))
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-shortest",
                "-movflags",
                "+faststart",
            ])
            .arg(&mp4);
        run(command, None).await?;
        out.write_file(&mp4).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A helper sees none of the server's environment and runs under its limits.
    #[tokio::test]
    async fn helpers_get_none_of_the_servers_secrets_and_run_under_limits() {
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "leaked-s3-secret");
        std::env::set_var("MEDIADRIVE_DATABASE_URL", "postgres://leaked");
        let dir = scratch().unwrap();
        let out = helper(
            program(&["sh"]).unwrap(),
            dir.path(),
            Some(HELPER_MEMORY),
            60,
        )
        .args(["-c", "env; echo limits $(ulimit -v) $(ulimit -t); pwd"])
        .output()
        .await
        .unwrap();
        let seen = String::from_utf8(out.stdout).unwrap();
        assert!(!seen.contains("leaked"), "{seen}");
        let home = dir.path().display();
        assert!(seen.contains(&format!("HOME={home}\n")), "{seen}");
        assert!(seen.contains(&format!("TMPDIR={home}\n")), "{seen}");
        assert!(
            seen.contains(&format!("limits {} 60\n", HELPER_MEMORY / 1024)),
            "{seen}"
        );
        assert!(seen.ends_with(&format!("{home}\n")), "{seen}");
    }
}
