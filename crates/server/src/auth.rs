//! API keys: the `Authorized<P>` extractor, the single place where a role meets an action. A
//! route declares what it needs in its handler's signature, so none can forget to check it.

use std::{marker::PhantomData, ops::Deref};

use axum::{extract::FromRequestParts, http::request::Parts, response::IntoResponse};
use chrono::Utc;
use mediadrive_core::{Action, ClientId, Role};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{error::ApiError, App};

pub const API_KEY_HEADER: &str = "x-api-key";

/// The tenant and role behind the request's key.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: ClientId,
    pub role: Role,
}

/// An action a route needs the caller's role to allow, named by a marker type of [`can`].
pub trait Permission {
    const ACTION: Action;
}

/// One marker per [`Action`], to be read as `Authorized<can::Delete>`.
pub mod can {
    macro_rules! permissions {
        ($($action:ident),*) => {$(
            pub struct $action;
            impl super::Permission for $action {
                const ACTION: super::Action = super::Action::$action;
            }
        )*};
    }
    permissions!(
        List,
        Upload,
        CreateFolder,
        Move,
        Delete,
        Generate,
        ManageWebhooks
    );
}

/// A caller with a valid key whose role allows `P`'s action. Refused as `E`, the error shape of
/// the route's surface: `401` without a valid key, `403` "Insufficient permissions" below the role.
pub struct Authorized<P, E = ApiError> {
    principal: Principal,
    // `fn() -> _` keeps the extractor `Send` and `Sync` whatever the markers are.
    _needs: PhantomData<fn() -> (P, E)>,
}

impl<P, E> Deref for Authorized<P, E> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl<P, E> FromRequestParts<App> for Authorized<P, E>
where
    P: Permission,
    E: From<ApiError> + IntoResponse,
{
    type Rejection = E;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<Self, E> {
        let principal = authenticate(parts, state).await?;
        if !principal.role.allows(P::ACTION) {
            return Err(ApiError::insufficient_permissions().into());
        }
        Ok(Self {
            principal,
            _needs: PhantomData,
        })
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

/// The tenant and role behind the request's `x-api-key`.
async fn authenticate(parts: &Parts, state: &App) -> Result<Principal, ApiError> {
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
