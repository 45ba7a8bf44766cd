//! API keys: the `Authorized<P>` extractor, the single place where a role meets an action. A
//! route declares what it needs in its handler's signature, so none can forget to check it.

use std::{marker::PhantomData, ops::Deref};

use axum::{extract::FromRequestParts, http::request::Parts, response::IntoResponse};
use mediadrive_app::keys;
use mediadrive_core::{Action, ClientId, Role};

use crate::{error::ApiError, http::client::client_address, App};

use crate::http::API_KEY_HEADER;

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
        ManageWebhooks,
        ManageKeys
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

/// The tenant and role behind the request's `x-api-key`.
async fn authenticate(parts: &Parts, state: &App) -> Result<Principal, ApiError> {
    let key = parts
        .headers
        .get(API_KEY_HEADER)
        .and_then(|v| v.to_str().ok());
    let client = client_address(parts, &state.config.trusted_proxies);
    let record = keys::authenticate(state, key, client).await?;
    Ok(Principal {
        tenant: record.tenant,
        role: record.role,
    })
}
