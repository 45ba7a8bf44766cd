//! Generators that need no network and no GPU, so preloads work on a fresh machine. Each is
//! plainly what it says: none of them is an AI model.

mod image;
mod programs;
mod tone;
mod url_source;

pub use image::LocalImage;
pub use programs::{Chromium, EspeakNg, LocalVideo};
pub use tone::LocalTone;
pub use url_source::UrlSource;

use crate::GenerateError;

/// Runs CPU work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, GenerateError> + Send + 'static,
) -> Result<T, GenerateError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| GenerateError::Failed(format!("the generator crashed: {e}")))?
}

/// A deterministic 64-bit seed from text.
fn seed(text: &str) -> u64 {
    let hash = blake3::hash(text.as_bytes());
    u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"))
}
