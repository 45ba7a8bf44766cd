//! API keys: made, listed and revoked by the operator (every tenant's) or by a tenant's managers
//! (their own tenant's, up to their own role), and checked on every request.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use mediadrive_core::{ApiKeyId, ApiKeyRecord, ClientId, NewApiKey, Role};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{
    error::{AppError, AppResult, ErrorKind},
    App,
};

pub const KEY_REQUIRED: &str = "API key is required";
pub const INVALID_KEY: &str = "Invalid API key";
pub const EXPIRED_KEY: &str = "API key has expired";
pub const REVOKED_KEY: &str = "API key has been revoked";

/// Longest name a key may be given, in characters.
const MAX_NAME: usize = 100;

/// How stale a key's `last_used_at` may get: recording every use would be a write per request.
const LAST_USED_PRECISION: Duration = Duration::minutes(1);

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

/// Where a key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

impl KeyStatus {
    /// Where `key` stands at `now`.
    pub fn of(key: &ApiKeyRecord, now: DateTime<Utc>) -> Self {
        if key.revoked_at.is_some() {
            Self::Revoked
        } else if key.expires_at.is_some_and(|at| at <= now) {
            Self::Expired
        } else {
            Self::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// What a new key is to be.
pub struct KeyRequest {
    pub name: String,
    pub role: Role,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Who asks for a key: the operator, or a tenant's key of `role`, which cannot mint a higher one.
#[derive(Clone, Copy)]
pub enum Granter {
    Operator,
    Key(Role),
}

/// Makes a key for `tenant`; returns it with the key itself, which is shown this once.
pub async fn create(
    state: &App,
    tenant: &ClientId,
    granter: Granter,
    request: KeyRequest,
) -> AppResult<(ApiKeyRecord, String)> {
    let name = request.name.trim().to_string();
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(AppError::bad_request(format!(
            "name must be at most {MAX_NAME} characters, without control characters"
        )));
    }
    if let Granter::Key(own) = granter {
        if request.role > own {
            return Err(AppError::forbidden("Insufficient permissions"));
        }
    }
    let now = Utc::now();
    if request.expires_at.is_some_and(|at| at <= now) {
        return Err(AppError::bad_request("expires_at must be in the future"));
    }
    let credits = state.config.generation.initial_credits;
    state.catalog.ensure_tenant(tenant, credits, now).await?;
    let key = generate_key();
    let record = state
        .catalog
        .insert_key(
            &NewApiKey {
                tenant: tenant.clone(),
                name,
                role: request.role,
                key_hash: hash_key(&key),
                expires_at: request.expires_at,
            },
            now,
        )
        .await?;
    Ok((record, key))
}

/// The keys of `tenant`, or of every tenant for the operator.
pub async fn list(state: &App, tenant: Option<&ClientId>) -> AppResult<Vec<ApiKeyRecord>> {
    Ok(state.catalog.api_keys(tenant).await?)
}

/// Revokes key `id` of `tenant` (of any tenant for the operator; a key of a role above its own
/// is out of a manager's reach). It stops working at once on every node: keys are looked up in
/// the catalog on each request.
pub async fn revoke(
    state: &App,
    tenant: Option<&ClientId>,
    granter: Granter,
    id: &str,
) -> AppResult<ApiKeyRecord> {
    let not_found = || AppError::not_found("API key not found");
    let id = ApiKeyId::parse(id).map_err(|_| not_found())?;
    if let Granter::Key(own) = granter {
        let keys = state.catalog.api_keys(tenant).await?;
        let key = keys.iter().find(|k| k.id == id).ok_or_else(not_found)?;
        if key.role > own {
            return Err(AppError::forbidden("Insufficient permissions"));
        }
    }
    state
        .catalog
        .revoke_key(tenant, &id, Utc::now())
        .await?
        .ok_or_else(not_found)
}

/// The key behind a request from `client` (its address, when known). Addresses that keep sending
/// keys that do not work are refused for a while without a lookup (429).
pub async fn authenticate(
    state: &App,
    key: Option<&str>,
    client: Option<IpAddr>,
) -> AppResult<ApiKeyRecord> {
    state.limits.check_client(client)?;
    let refuse = |message: &str| -> AppError {
        state
            .limits
            .failed_auth(client)
            .unwrap_or_else(|| AppError::new(ErrorKind::Unauthorized, message))
    };
    let key = key.map(str::trim).filter(|k| !k.is_empty());
    let Some(key) = key else {
        return Err(refuse(KEY_REQUIRED));
    };
    let key_hash = hash_key(key);
    let Some(record) = state.catalog.key_by_hash(&key_hash).await? else {
        return Err(refuse(INVALID_KEY));
    };
    let now = Utc::now();
    match KeyStatus::of(&record, now) {
        KeyStatus::Revoked => return Err(refuse(REVOKED_KEY)),
        KeyStatus::Expired => return Err(refuse(EXPIRED_KEY)),
        KeyStatus::Active => {}
    }
    // Counted once the key is known to be real, so random keys cannot fill the limiter.
    state.limits.check_request(&key_hash)?;
    if record
        .last_used_at
        .is_none_or(|at| at + LAST_USED_PRECISION <= now)
    {
        let (catalog, id) = (state.catalog.clone(), record.id.clone());
        tokio::spawn(async move {
            if let Err(e) = catalog.touch_key(&id, now).await {
                tracing::debug!(key = %id, error = %e, "could not record a key's use");
            }
        });
    }
    Ok(record)
}
