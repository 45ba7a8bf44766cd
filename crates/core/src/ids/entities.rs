//! Ids of the entities besides tenants and files, each in the format the catalog mints it in:
//! `Uuid::new_v4().simple()` (32 lowercase hex digits), `Uuid::new_v4()` (hyphenated), or for
//! events `msg_` and 32 lowercase hex digits.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{entity_id, is_lower_hex, is_lower_uuid, IdError};

fn is_event_id(s: &str) -> bool {
    s.strip_prefix("msg_")
        .is_some_and(|hex| is_lower_hex(hex, 32))
}

entity_id!(
    /// A temporary cache entry: 32 lowercase hex digits; names its cache URL.
    CacheEntryId,
    |s: &str| is_lower_hex(s, 32),
    IdError::Invalid("cache entry")
);
entity_id!(
    /// A preload (a batch of generated items): 32 lowercase hex digits.
    PreloadId,
    |s: &str| is_lower_hex(s, 32),
    IdError::Invalid("preload")
);
entity_id!(
    /// An API key's record (never the key itself): 32 lowercase hex digits.
    ApiKeyId,
    |s: &str| is_lower_hex(s, 32),
    IdError::Invalid("API key")
);
entity_id!(
    /// A Video Jungle project: a hyphenated UUID.
    ProjectId,
    is_lower_uuid,
    IdError::Invalid("project")
);
entity_id!(
    /// An asset of a project: a hyphenated UUID.
    AssetId,
    is_lower_uuid,
    IdError::Invalid("asset")
);
entity_id!(
    /// A script of a project: a hyphenated UUID.
    ScriptId,
    is_lower_uuid,
    IdError::Invalid("script")
);
entity_id!(
    /// A render: a hyphenated UUID, as Shotstack's SDK expects.
    RenderId,
    is_lower_uuid,
    IdError::Invalid("render")
);
entity_id!(
    /// One output of a render (or a transfer): a hyphenated UUID, as Shotstack's SDK expects.
    OutputId,
    is_lower_uuid,
    IdError::Invalid("render output")
);
entity_id!(
    /// A webhook endpoint: a hyphenated UUID.
    EndpointId,
    is_lower_uuid,
    IdError::Invalid("webhook endpoint")
);
entity_id!(
    /// One delivery of an event to one target: a hyphenated UUID.
    DeliveryId,
    is_lower_uuid,
    IdError::Invalid("webhook delivery")
);
entity_id!(
    /// An event in the outbox: `msg_` and 32 lowercase hex digits; receivers see it as
    /// `webhook-id`.
    EventId,
    is_event_id,
    IdError::Invalid("event")
);

impl EventId {
    /// The id of a new event, from 16 random bytes.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("msg_{hex}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef";
    const UUID: &str = "01234567-89ab-4def-8123-456789abcdef";

    #[test]
    fn hex_ids_take_32_lowercase_hex_digits() {
        assert_eq!(CacheEntryId::parse(HEX).unwrap().as_str(), HEX);
        assert_eq!(PreloadId::parse(HEX).unwrap().to_string(), HEX);
        assert_eq!(String::from(ApiKeyId::parse(HEX).unwrap()), HEX);
        for bad in [
            "",
            &HEX[1..],
            &HEX.to_uppercase(),
            UUID,
            "../etc",
            &format!("{HEX}0"),
        ] {
            assert_eq!(
                CacheEntryId::parse(bad),
                Err(IdError::Invalid("cache entry"))
            );
            assert_eq!(PreloadId::parse(bad), Err(IdError::Invalid("preload")));
            assert_eq!(ApiKeyId::parse(bad), Err(IdError::Invalid("API key")));
        }
    }

    #[test]
    fn uuid_ids_take_a_lowercase_hyphenated_uuid() {
        assert_eq!(ProjectId::parse(UUID).unwrap().as_str(), UUID);
        assert_eq!(AssetId::parse(UUID).unwrap().to_string(), UUID);
        assert_eq!(String::from(ScriptId::parse(UUID).unwrap()), UUID);
        assert!(RenderId::parse(UUID).is_ok());
        assert!(OutputId::parse(UUID).is_ok());
        assert!(EndpointId::parse(UUID).is_ok());
        assert!(DeliveryId::parse(UUID).is_ok());
        let bad = [
            "",
            HEX,
            &UUID.to_uppercase(),
            &UUID[1..],
            &format!("{UUID}0"),
            "01234567-89ab-4def-8123456789abcdef-",
            "0123456-789ab-4def-8123-456789abcdef",
            "0123456g-89ab-4def-8123-456789abcdef",
            "01234567-89ab-4def-8123-456789abcdef/x",
        ];
        for raw in bad {
            assert_eq!(
                ProjectId::parse(raw),
                Err(IdError::Invalid("project")),
                "{raw}"
            );
            assert_eq!(AssetId::parse(raw), Err(IdError::Invalid("asset")));
            assert_eq!(ScriptId::parse(raw), Err(IdError::Invalid("script")));
            assert_eq!(RenderId::parse(raw), Err(IdError::Invalid("render")));
            assert_eq!(OutputId::parse(raw), Err(IdError::Invalid("render output")));
            assert_eq!(
                EndpointId::parse(raw),
                Err(IdError::Invalid("webhook endpoint"))
            );
            assert_eq!(
                DeliveryId::parse(raw),
                Err(IdError::Invalid("webhook delivery"))
            );
        }
    }

    #[test]
    fn event_ids_are_msg_and_32_hex_digits() {
        let id = format!("msg_{HEX}");
        assert_eq!(EventId::parse(&id).unwrap().as_str(), id);
        let minted = EventId::from_random([0xa5; 16]);
        assert_eq!(EventId::parse(minted.as_str()), Ok(minted));
        for bad in [HEX, "msg_", &format!("MSG_{HEX}"), &format!("msg_{UUID}")] {
            assert_eq!(EventId::parse(bad), Err(IdError::Invalid("event")));
        }
    }

    #[test]
    fn ids_travel_through_serde_as_plain_strings_and_are_checked_on_the_way_in() {
        let id = RenderId::parse(UUID).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{UUID}\""));
        assert_eq!(serde_json::from_str::<RenderId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<RenderId>("\"nope\"").is_err());
        assert_eq!(RenderId::try_from(UUID.to_string()), Ok(id));
        assert_eq!(IdError::Invalid("render").to_string(), "invalid render id");
    }
}
