//! External URLs in image and video items (`src`): downloaded once through the guarded fetcher.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::{
    inputs::{self, Input, InputKind},
    Fetch, GenerateError, Generator, Output,
};

const INPUTS: &[Input] = &[Input::required("src", InputKind::Url)];

pub struct UrlSource(pub Arc<dyn Fetch>);

#[async_trait]
impl Generator for UrlSource {
    fn inputs(&self) -> &[Input] {
        INPUTS
    }

    fn local(&self) -> bool {
        false
    }

    fn description(&self) -> String {
        "The file at the item's src URL, downloaded once (private addresses refused unless allow-listed)".into()
    }

    async fn available(&self) -> bool {
        true
    }

    async fn generate(
        &self,
        inputs: &Map<String, Value>,
        out: &mut Output<'_>,
    ) -> Result<(), GenerateError> {
        let src = inputs::text(inputs, "src").unwrap_or_default();
        self.0.fetch(src, out).await
    }
}
