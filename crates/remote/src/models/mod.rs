//! Adapters for model servers we cannot run here, each speaking that server's real wire format.
//! Their base URLs come from the operator's configuration, so they are trusted (not subject to
//! the fetch policy that guards client-named URLs).

mod elevenlabs;
mod http;
mod openai;

use std::{fmt, time::Duration};

use futures_util::StreamExt;
use reqwest::{RequestBuilder, Url};

pub use elevenlabs::ElevenLabs;
pub use http::HttpGenerator;
pub use openai::{OpenAiImage, OpenAiSpeech};

use mediadrive_generate::{GenerateError, Output};

/// An API key: sent, never printed.
#[derive(Clone)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What every adapter shares: where the server is, how to reach it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub base: Url,
    pub key: Option<Secret>,
    /// The header the key travels in; `Authorization: Bearer` when none is named.
    key_header: Option<&'static str>,
    client: reqwest::Client,
}

impl Endpoint {
    pub fn new(base: Url, key: Option<Secret>, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            // A redirect could carry a key header (`xi-api-key`) to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mediadrive/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a client with these settings builds");
        Self {
            base,
            key,
            key_header: None,
            client,
        }
    }

    /// Sends the key in the header `name` instead of `Authorization: Bearer`.
    pub fn with_key_header(mut self, name: &'static str) -> Self {
        self.key_header = Some(name);
        self
    }

    /// `path` below the base URL (which may itself carry a path prefix).
    pub fn url(&self, path: &str) -> Url {
        let base = self.base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path}")).expect("a path below a valid URL is valid")
    }

    /// A POST to `url` carrying the key, if there is one.
    pub fn post(&self, url: Url) -> RequestBuilder {
        let request = self.client.post(url);
        match (&self.key, self.key_header) {
            (Some(key), Some(header)) => request.header(header, &key.0),
            (Some(key), None) => request.bearer_auth(&key.0),
            (None, _) => request,
        }
    }

    /// Whether the server accepts TCP connections now.
    pub async fn reachable(&self) -> bool {
        let Some(host) = self.base.host_str() else {
            return false;
        };
        let port = self.base.port_or_known_default().unwrap_or(80);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        matches!(
            tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect((host, port))
            )
            .await,
            Ok(Ok(_))
        )
    }

    /// Sends a request and streams a successful answer's body into `out`; an error answer becomes
    /// a failure carrying the server's own message.
    pub async fn send_into(
        &self,
        request: RequestBuilder,
        out: &mut Output<'_>,
    ) -> Result<(), GenerateError> {
        let response = self.send(request).await?;
        if response
            .content_length()
            .is_some_and(|len| len > out.max_bytes())
        {
            return Err(GenerateError::TooLarge(out.max_bytes()));
        }
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.unreachable(e))?;
            out.write(chunk).await?;
        }
        Ok(())
    }

    pub async fn send(&self, request: RequestBuilder) -> Result<reqwest::Response, GenerateError> {
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        Err(GenerateError::Failed(format!(
            "the model server answered {status}: {}",
            server_message(&body)
        )))
    }

    fn unreachable(&self, e: reqwest::Error) -> GenerateError {
        let host = self.base.host_str().unwrap_or("?");
        if e.is_timeout() {
            GenerateError::Failed(format!("the model server at {host} timed out"))
        } else {
            GenerateError::Unavailable(format!("the model server at {host} cannot be reached"))
        }
    }
}

/// The message inside an error answer: OpenAI's `{"error": {"message"}}`, ElevenLabs'
/// `{"detail": {"message"}}` or `{"detail": "..."}`, else the start of the body.
fn server_message(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let found = [
        &json["error"]["message"],
        &json["detail"]["message"],
        &json["detail"],
        &json["error"],
        &json["message"],
    ]
    .into_iter()
    .find_map(|v| v.as_str().map(str::to_string));
    found.unwrap_or_else(|| body.chars().take(200).collect())
}
