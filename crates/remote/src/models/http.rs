//! A generic HTTP generator: the item (type, model and the fields below) is POSTed as JSON, the
//! answer's body is the asset.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::Endpoint;
use mediadrive_generate::{
    inputs::{Input, InputKind, MAX_TEXT},
    GenerateError, Generator, Output,
};

const INPUTS: &[Input] = &[
    Input::optional(
        "prompt",
        InputKind::Text {
            max_chars: MAX_TEXT,
        },
    ),
    Input::optional(
        "text",
        InputKind::Text {
            max_chars: MAX_TEXT,
        },
    ),
    Input::optional("voice", InputKind::Text { max_chars: 64 }),
    Input::optional(
        "html",
        InputKind::Text {
            max_chars: 1_000_000,
        },
    ),
    Input::optional("template", InputKind::Text { max_chars: 200 }),
    Input::optional(
        "duration",
        InputKind::Number {
            min: 0.0,
            max: 3600.0,
        },
    ),
    Input::optional("width", InputKind::Integer { min: 1, max: 8192 }),
    Input::optional("height", InputKind::Integer { min: 1, max: 8192 }),
];

pub struct HttpGenerator {
    pub endpoint: Endpoint,
    pub asset_type: String,
    pub model: String,
}

#[async_trait]
impl Generator for HttpGenerator {
    fn inputs(&self) -> &[Input] {
        INPUTS
    }

    fn local(&self) -> bool {
        false
    }

    fn description(&self) -> String {
        format!(
            "HTTP generator at {}",
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
        let mut body = inputs.clone();
        body.insert("type".into(), Value::String(self.asset_type.clone()));
        body.insert("model".into(), Value::String(self.model.clone()));
        let request = self.endpoint.post(self.endpoint.base.clone()).json(&body);
        self.endpoint.send_into(request, out).await
    }
}
