//! API keys: the `x-api-key` extractor and the single place where a role meets an action.

use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::Utc;
use mediadrive_core::{Action, ClientId, Role};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{error::ApiError, state::AppState};

pub const API_KEY_HEADER: &str = "x-api-key";

/// The tenant and role behind the request's key.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: ClientId,
    pub role: Role,
}

impl Principal {
    pub fn authorize(&self, action: Action) -> Result<(), ApiError> {
        if self.role.allows(action) {
            Ok(())
        } else {
            Err(ApiError::insufficient_permissions())
        }
    }
}

/// Keys carry 256 random bits, so a plain SHA-256 is enough to store them safely.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new key, as shown once to whoever created it.
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("md_{}", hex::encode(bytes))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = parts
            .headers
            .get(API_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::unauthorized("API key is required"))?;
        let key_hash = hash_key(key);
        let record = state
            .catalog
            .key_by_hash(&key_hash)
            .await?
            .ok_or_else(|| ApiError::unauthorized("Invalid API key"))?;
        if record.expires_at.is_some_and(|at| at <= Utc::now()) {
            return Err(ApiError::unauthorized("API key has expired"));
        }
        // Counted once the key is known to be real, so random keys cannot fill the limiter.
        state.limits.check_request(&key_hash)?;
        Ok(Principal {
            tenant: record.tenant,
            role: record.role,
        })
    }
}
