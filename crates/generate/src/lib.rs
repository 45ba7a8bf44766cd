//! Generators: what makes the bytes of a preload item. Each speaks to one thing (a model server's
//! wire format, a local program, pure Rust, or an external URL) behind one small trait; the
//! registry picks one by type and model. What reaches the network (the guarded fetcher, the model
//! servers' adapters) is made by mediadrive-remote behind [`Network`], so this crate and the use
//! cases built on it hold no HTTP client.

mod builtin;
pub mod config;
pub mod fetch;
pub mod inputs;
mod output;
mod registry;

use async_trait::async_trait;
use serde_json::{Map, Value};

pub use config::{Adapter, GenerationConfig, ModelConfig};
pub use fetch::{Fetch, FetchPolicy};
pub use inputs::{Input, InputKind};
pub use output::Output;
pub use registry::{LookupError, Model, Network, Registry};

/// Why a generation failed; the message is shown to the client as the item's `error`.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The generator's program or server cannot be used now.
    #[error("{0}")]
    Unavailable(String),
    /// The generator ran and failed (an error answer, a program's error output).
    #[error("{0}")]
    Failed(String),
    #[error("the asset exceeds the maximum size of {0} bytes")]
    TooLarge(u64),
    /// An outbound fetch was refused by the address policy.
    #[error("{0}")]
    Refused(String),
    #[error("could not store the asset: {0}")]
    Store(#[from] mediadrive_core::BlobError),
}

#[async_trait]
pub trait Generator: Send + Sync {
    /// What the generator reads from an item, besides `type` and `model`.
    fn inputs(&self) -> &[Input];
    /// Whether it needs no network.
    fn local(&self) -> bool;
    /// One line on what it really is, for `GET /v2/models`.
    fn description(&self) -> String;
    /// Whether its program or server can be used now.
    async fn available(&self) -> bool;
    /// Writes the asset to `out`. `inputs` were validated against [`Generator::inputs`].
    async fn generate(
        &self,
        inputs: &Map<String, Value>,
        out: &mut Output<'_>,
    ) -> Result<(), GenerateError>;
}
