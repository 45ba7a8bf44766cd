//! Loopback stand-ins for the remote model servers, speaking their real wire formats: OpenAI image
//! generation and speech, ElevenLabs text-to-speech, a generic HTTP generator, and a plain file
//! server for `src` URLs. Each counts its calls, so a test can prove a generator was not run.

use std::{
    collections::HashMap,
    io::Cursor,
    net::SocketAddr,
    path::Path,
    process::Command,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    extract::{Path as UrlPath, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Json, Router,
};
use base64::Engine;
use serde_json::{json, Value};

#[derive(Default)]
pub struct Calls {
    counts: Mutex<HashMap<&'static str, usize>>,
    /// The last request body or detail each route saw.
    seen: Mutex<HashMap<&'static str, Value>>,
}

impl Calls {
    fn record(&self, route: &'static str, seen: Value) {
        *self.counts.lock().unwrap().entry(route).or_default() += 1;
        self.seen.lock().unwrap().insert(route, seen);
    }

    pub fn count(&self, route: &str) -> usize {
        self.counts.lock().unwrap().get(route).copied().unwrap_or(0)
    }

    pub fn seen(&self, route: &str) -> Value {
        self.seen
            .lock()
            .unwrap()
            .get(route)
            .cloned()
            .unwrap_or_default()
    }
}

pub struct MockModels {
    pub base: String,
    pub calls: Arc<Calls>,
}

struct Assets {
    calls: Arc<Calls>,
    mp3: Vec<u8>,
    mp4: Vec<u8>,
}

pub const OPENAI_KEY: &str = "sk-test-openai";
pub const ELEVEN_KEY: &str = "xi-test-eleven";
pub const ADAM_ID: &str = "pNInz6obpgDQGcFmaJgB";

/// A WebP image whose colour follows the prompt, so different prompts give different assets.
pub fn webp_for(prompt: &str, width: u32, height: u32) -> Vec<u8> {
    let seed = blake3::hash(prompt.as_bytes());
    let [r, g, b] = [seed.as_bytes()[0], seed.as_bytes()[1], seed.as_bytes()[2]];
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([r, g, b]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::WebP).unwrap();
    out.into_inner()
}

fn ffmpeg(args: &[&str], out: &Path) -> Vec<u8> {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("ffmpeg is needed by the preload tests");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

fn openai_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "invalid_request_error"}})),
    )
        .into_response()
}

async fn images(
    State(a): State<Arc<Assets>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    a.calls.record("images", body.clone());
    if bearer(&headers) != Some(OPENAI_KEY) {
        return openai_error(StatusCode::UNAUTHORIZED, "Incorrect API key provided");
    }
    let prompt = body["prompt"].as_str().unwrap_or_default();
    if prompt.contains("reject") {
        return openai_error(
            StatusCode::BAD_REQUEST,
            "Your request was rejected as a result of our safety system.",
        );
    }
    let (w, h) = body["size"]
        .as_str()
        .and_then(|s| s.split_once('x'))
        .map(|(w, h)| (w.parse().unwrap(), h.parse().unwrap()))
        .unwrap_or((1024, 1024));
    // "by url URL": answer with a link, as servers do for `response_format: url`.
    if let Some(link) = prompt.strip_prefix("by url ") {
        return Json(json!({"created": 1_700_000_000, "data": [{"url": link}]})).into_response();
    }
    let image = if prompt.contains("garbage") {
        b"this is not an image".to_vec()
    } else {
        webp_for(prompt, w, h)
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(image);
    Json(json!({"created": 1_700_000_000, "data": [{"b64_json": b64}]})).into_response()
}

async fn speech(
    State(a): State<Arc<Assets>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    a.calls.record("speech", body.clone());
    if bearer(&headers) != Some(OPENAI_KEY) {
        return openai_error(StatusCode::UNAUTHORIZED, "Incorrect API key provided");
    }
    ([("content-type", "audio/mpeg")], a.mp3.clone()).into_response()
}

async fn elevenlabs(
    State(a): State<Arc<Assets>>,
    UrlPath(voice_id): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    a.calls.record(
        "elevenlabs",
        json!({"voice_id": voice_id, "query": query, "body": body}),
    );
    if headers.get("xi-api-key").and_then(|v| v.to_str().ok()) != Some(ELEVEN_KEY) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})),
        )
            .into_response();
    }
    ([("content-type", "audio/mpeg")], a.mp3.clone()).into_response()
}

async fn component(State(a): State<Arc<Assets>>, Json(body): Json<Value>) -> Response {
    a.calls.record("component", body);
    ([("content-type", "video/mp4")], a.mp4.clone()).into_response()
}

/// `src` files: an image, a video, a large body, a slow one, and a redirect to wherever `to` says.
async fn file(
    State(a): State<Arc<Assets>>,
    UrlPath(name): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    a.calls.record("files", json!(name));
    match name.as_str() {
        "big.bin" => vec![7u8; 64 * 1024].into_response(),
        "slow.webp" => {
            // Slower than any fetch timeout a test sets: the stall is what such a test is about.
            tokio::time::sleep(Duration::from_secs(5)).await;
            webp_for("slow", 8, 8).into_response()
        }
        "redirect" => Redirect::temporary(&query["to"]).into_response(),
        "clip.mp4" => ([("content-type", "video/mp4")], a.mp4.clone()).into_response(),
        _ => ([("content-type", "image/webp")], webp_for(&name, 32, 24)).into_response(),
    }
}

impl MockModels {
    /// Starts the stand-ins on `ip` (any loopback address).
    pub async fn start_on(ip: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mp3 = ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=330:duration=1",
                "-c:a",
                "libmp3lame",
            ],
            &dir.path().join("voice.mp3"),
        );
        let mp4 = ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x240:rate=25:duration=1",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
            ],
            &dir.path().join("clip.mp4"),
        );
        let calls = Arc::new(Calls::default());
        let assets = Arc::new(Assets {
            calls: calls.clone(),
            mp3,
            mp4,
        });
        let app = Router::new()
            .route("/v1/images/generations", post(images))
            .route("/v1/audio/speech", post(speech))
            .route("/v1/text-to-speech/{voice_id}", post(elevenlabs))
            .route("/component", post(component))
            .route("/files/{name}", get(file))
            .with_state(assets);
        let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
            .await
            .unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base: format!("http://{addr}"),
            calls,
        }
    }

    pub async fn start() -> Self {
        Self::start_on("127.0.0.1").await
    }

    pub fn total_model_calls(&self) -> usize {
        ["images", "speech", "elevenlabs", "component"]
            .iter()
            .map(|r| self.calls.count(r))
            .sum()
    }
}

/// A `[generation]` section with a model per remote adapter pointed at `mock`, and their costs.
pub fn generation_config(mock: &MockModels, extra: &str) -> String {
    let base = &mock.base;
    format!(
        r#"
[generation]
{extra}

[[generation.models]]
type = "image"
model = "flux-schnell"
adapter = "openai-image"
base_url = "{base}"
api_key = "{OPENAI_KEY}"
credits = 5

[[generation.models]]
type = "voice"
model = "elevenlabs"
adapter = "elevenlabs"
base_url = "{base}"
api_key = "{ELEVEN_KEY}"
credits = 3
voices = {{ Adam = "{ADAM_ID}" }}

[[generation.models]]
type = "voice"
model = "tts-1"
adapter = "openai-speech"
base_url = "{base}"
api_key = "{OPENAI_KEY}"
credits = 2

[[generation.models]]
type = "component"
model = "lower-third"
adapter = "http"
base_url = "{base}/component"
credits = 4

[[generation.models]]
type = "image"
model = "offline-model"
adapter = "openai-image"
base_url = "http://127.0.0.1:9"
credits = 1
"#
    )
}
