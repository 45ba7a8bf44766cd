//! Identifiers of tenants, files and every other entity, validated once at construction.

use std::fmt;

use serde::{Deserialize, Serialize};

mod entities;

pub use entities::{
    ApiKeyId, AssetId, CacheEntryId, DeliveryId, EndpointId, EventId, OutputId, PreloadId,
    ProjectId, RenderId, ScriptId,
};

/// Top-level route names a client id may not take, because its files live at `/{client_id}/files/...`.
const RESERVED_CLIENT_IDS: &[&str] = &[
    "v2",
    "videojungle",
    "serve",
    "upload",
    "tus",
    "tmp",
    "healthz",
    "readyz",
    "docs",
    "openapi.json",
    "dashboard",
    "metrics",
    "api",
    "assets",
    "static",
    "admin",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("client id must be 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'")]
    InvalidClientId,
    #[error("client id '{0}' is reserved by a top-level route")]
    ReservedClientId(String),
    #[error("invalid file id")]
    InvalidFileId,
    #[error("invalid {0} id")]
    Invalid(&'static str),
}

/// A tenant's identifier: it appears in every stable URL, so it must be URL-safe and not shadow a route.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let valid_chars = raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if raw.is_empty() || raw.len() > 64 || !valid_chars {
            return Err(IdError::InvalidClientId);
        }
        if RESERVED_CLIENT_IDS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(raw))
        {
            return Err(IdError::ReservedClientId(raw.to_string()));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ClientId> for String {
    fn from(value: ClientId) -> Self {
        value.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True when `s` is exactly `len` lowercase hex digits.
pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// True when `s` is a lowercase hyphenated UUID (8-4-4-4-12 hex digits), as `Uuid::to_string` writes it.
pub(crate) fn is_lower_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| is_lower_hex(g, len))
}

/// Declares an id newtype holding text that `$valid` accepts, refused with `$error`: the
/// parsing, accessors, conversions and serde every kind of id shares.
macro_rules! entity_id {
    ($(#[$doc:meta])* $name:ident, $valid:expr, $error:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                if $valid(raw) {
                    Ok(Self(raw.to_string()))
                } else {
                    Err($error)
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(crate) use entity_id;

entity_id!(
    /// A file record's identifier: 32 lowercase hex digits (a UUID without dashes).
    FileId,
    |s: &str| is_lower_hex(s, 32),
    IdError::InvalidFileId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_that_shadow_routes_are_refused() {
        assert!(matches!(
            ClientId::parse("V2"),
            Err(IdError::ReservedClientId(_))
        ));
        assert!(matches!(
            ClientId::parse("healthz"),
            Err(IdError::ReservedClientId(_))
        ));
        assert!(ClientId::parse("acme-01").is_ok());
    }

    #[test]
    fn client_ids_must_be_url_safe() {
        for bad in ["", "a/b", "a b", "é", &"x".repeat(65)] {
            assert_eq!(ClientId::parse(bad), Err(IdError::InvalidClientId), "{bad}");
        }
    }

    #[test]
    fn file_ids_are_32_lowercase_hex() {
        assert!(FileId::parse("0123456789abcdef0123456789abcdef").is_ok());
        assert!(FileId::parse("0123456789ABCDEF0123456789abcdef").is_err());
        assert!(FileId::parse("../etc").is_err());
    }

    #[test]
    fn client_ids_up_to_64_characters_round_trip() {
        let longest = "a".repeat(64);
        let id = ClientId::parse(&longest).unwrap();
        assert_eq!(id.as_str(), longest);
        assert_eq!(id.to_string(), longest);
        assert_eq!(String::from(id.clone()), longest);
        assert_eq!(ClientId::try_from(longest.clone()), Ok(id));
        assert_eq!(
            ClientId::try_from("a/b".to_string()),
            Err(IdError::InvalidClientId)
        );
        for ok in ["A_b-9", "x", "v3", "tmpx"] {
            assert_eq!(ClientId::parse(ok).unwrap().as_str(), ok);
        }
        // "openapi.json" is refused by its dot already.
        for reserved in RESERVED_CLIENT_IDS.iter().filter(|r| !r.contains('.')) {
            assert_eq!(
                ClientId::parse(reserved),
                Err(IdError::ReservedClientId(reserved.to_string()))
            );
        }
    }

    #[test]
    fn file_ids_have_exactly_32_digits() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(FileId::parse(id).unwrap().as_str(), id);
        assert_eq!(FileId::parse(id).unwrap().to_string(), id);
        assert_eq!(FileId::parse(&id[1..]), Err(IdError::InvalidFileId));
        assert_eq!(
            FileId::parse(&format!("{id}0")),
            Err(IdError::InvalidFileId)
        );
        assert_eq!(
            FileId::parse(&id.replace('a', "g")),
            Err(IdError::InvalidFileId)
        );
        assert!(is_lower_hex("09af", 4));
        assert!(!is_lower_hex("09ag", 4));
        assert!(!is_lower_hex("09/f", 4));
        assert!(!is_lower_hex("09a:", 4));
    }
}
