//! What the surfaces share of HTTP: the layers each wraps its routes in, and the lenient JSON body.
//! It names no surface, so every surface may use it.

pub mod body;
pub mod client;
pub mod headers;
pub mod nul;
pub mod panics;
pub mod surface;

/// The header every surface takes its API key from.
pub const API_KEY_HEADER: &str = "x-api-key";
