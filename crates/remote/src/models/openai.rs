//! OpenAI-compatible servers: `POST /v1/images/generations` and `POST /v1/audio/speech`.

use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::Endpoint;
use mediadrive_generate::{
    inputs::{self, Default, Input, InputKind, MAX_TEXT},
    Fetch, GenerateError, Generator, Output,
};

const IMAGE_INPUTS: &[Input] = &[
    Input::required(
        "prompt",
        InputKind::Text {
            max_chars: MAX_TEXT,
        },
    ),
    Input::with_default(
        "size",
        InputKind::Text { max_chars: 20 },
        Default::Text("1024x1024"),
    ),
];

pub struct OpenAiImage {
    pub endpoint: Endpoint,
    /// The model name the server knows.
    pub model: String,
    /// Fetches an image the server answers with by URL instead of inline.
    pub fetcher: std::sync::Arc<dyn Fetch>,
}

#[async_trait]
impl Generator for OpenAiImage {
    fn inputs(&self) -> &[Input] {
        IMAGE_INPUTS
    }

    fn local(&self) -> bool {
        false
    }

    fn description(&self) -> String {
        format!(
            "Model {} on the OpenAI-compatible server {}",
            self.model,
            self.endpoint.base.host_str().unwrap_or("?")
        )
    }

    async fn available(&self) -> bool {
        self.endpoint.reachable().await
    }

    async fn generate(
        &self,
        inputs: &Map<String, Value>,
        out: &mut Output<'_>,
    ) -> Result<(), GenerateError> {
        let mut body = json!({
            "model": self.model,
            "prompt": inputs::text(inputs, "prompt"),
            "n": 1,
            "size": inputs::text(inputs, "size"),
        });
        // GPT image models always answer inline and refuse the parameter.
        if !self.model.starts_with("gpt-image") {
            body["response_format"] = json!("b64_json");
        }
        let request = self
            .endpoint
            .post(self.endpoint.url("/v1/images/generations"))
            .json(&body);
        let answer: Value = self
            .endpoint
            .send(request)
            .await?
            .json()
            .await
            .map_err(|e| {
                GenerateError::Failed(format!("the model server's answer is not JSON: {e}"))
            })?;
        let image = &answer["data"][0];
        if let Some(b64) = image["b64_json"].as_str() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| {
                    GenerateError::Failed(format!("the image is not valid base64: {e}"))
                })?;
            return out.write(Bytes::from(bytes)).await;
        }
        if let Some(url) = image["url"].as_str() {
            return self.fetcher.fetch(url, out).await;
        }
        Err(GenerateError::Failed(
            "the model server's answer holds no image".into(),
        ))
    }
}

const SPEECH_INPUTS: &[Input] = &[
    Input::required("text", InputKind::Text { max_chars: 4096 }),
    Input::with_default(
        "voice",
        InputKind::Text { max_chars: 64 },
        Default::Text("alloy"),
    ),
    Input::optional(
        "speed",
        InputKind::Number {
            min: 0.25,
            max: 4.0,
        },
    ),
];

pub struct OpenAiSpeech {
    pub endpoint: Endpoint,
    pub model: String,
}

#[async_trait]
impl Generator for OpenAiSpeech {
    fn inputs(&self) -> &[Input] {
        SPEECH_INPUTS
    }

    fn local(&self) -> bool {
        false
    }

    fn description(&self) -> String {
        format!(
            "Model {} on the OpenAI-compatible server {} (MP3)",
            self.model,
            self.endpoint.base.host_str().unwrap_or("?")
        )
    }

    async fn available(&self) -> bool {
        self.endpoint.reachable().await
    }

    async fn generate(
        &self,
        inputs: &Map<String, Value>,
        out: &mut Output<'_>,
    ) -> Result<(), GenerateError> {
        let mut body = json!({
            "model": self.model,
            "input": inputs::text(inputs, "text"),
            "voice": inputs::text(inputs, "voice"),
            "response_format": "mp3",
        });
        if let Some(speed) = inputs::number(inputs, "speed") {
            body["speed"] = json!(speed);
        }
        let request = self
            .endpoint
            .post(self.endpoint.url("/v1/audio/speech"))
            .json(&body);
        self.endpoint.send_into(request, out).await
    }
}
