//! ElevenLabs text-to-speech: `POST /v1/text-to-speech/{voice_id}` with an `xi-api-key` header.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::Endpoint;
use mediadrive_generate::{
    inputs::{self, Input, InputKind},
    GenerateError, Generator, Output,
};

const INPUTS: &[Input] = &[
    Input::required("text", InputKind::Text { max_chars: 5000 }),
    Input::required("voice", InputKind::Text { max_chars: 64 }),
];

/// The audio format asked for: MP3 at 44.1 kHz, 128 kb/s.
const OUTPUT_FORMAT: &str = "mp3_44100_128";

pub struct ElevenLabs {
    pub endpoint: Endpoint,
    /// The `model_id` sent, e.g. `eleven_multilingual_v2`.
    pub model: String,
    /// Voice names (as items give them, e.g. `Adam`) to voice ids; other values are sent as ids.
    pub voices: BTreeMap<String, String>,
}

#[async_trait]
impl Generator for ElevenLabs {
    fn inputs(&self) -> &[Input] {
        INPUTS
    }

    fn local(&self) -> bool {
        false
    }

    fn description(&self) -> String {
        format!(
            "ElevenLabs text-to-speech, model {} at {} (MP3)",
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
        let voice = inputs::text(inputs, "voice").unwrap_or_default();
        let voice_id = self.voices.get(voice).map_or(voice, String::as_str);
        let mut url = self.endpoint.url("/v1/text-to-speech/");
        url.path_segments_mut()
            .map_err(|_| {
                GenerateError::Failed("the ElevenLabs base URL cannot take a path".into())
            })?
            .pop_if_empty()
            .push(voice_id);
        url.query_pairs_mut()
            .append_pair("output_format", OUTPUT_FORMAT);
        let request = self
            .endpoint
            .post(url)
            .header("accept", "audio/mpeg")
            .json(&json!({
                "text": inputs::text(inputs, "text"),
                "model_id": self.model,
            }));
        self.endpoint.send_into(request, out).await
    }
}
