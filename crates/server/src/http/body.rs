//! Request bodies read leniently, the way the vendor API reads them: a field of the wrong type
//! counts as missing, so the client gets the seed's "X is required" rather than a parser error.

use axum::{body::Bytes, extract::FromRequest, extract::Request, http::StatusCode};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// axum's default limit on a buffered body, which every JSON body is.
pub const BODY_TOO_LARGE: &str = "Request body is too large: JSON bodies hold at most 2 MiB";

pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, BODY_TOO_LARGE)
            } else {
                ApiError::bad_request("Invalid JSON body")
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        match serde_json::from_slice(&bytes) {
            Ok(value) if super::nul::holds_nul(&value) => {
                Err(ApiError::bad_request(super::nul::NUL_IN_BODY))
            }
            Ok(Value::Object(map)) => Ok(Self(map)),
            _ => Err(ApiError::bad_request("Invalid JSON body")),
        }
    }
}

impl JsonObject {
    /// A non-blank string field.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.0
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    /// A non-blank string field, or the seed's "`field` is required".
    pub fn required(&self, field: &str) -> Result<&str, ApiError> {
        self.text(field)
            .ok_or_else(|| ApiError::bad_request(format!("{field} is required")))
    }

    /// A string field that is present, even if blank.
    pub fn raw_text(&self, field: &str) -> Option<&str> {
        self.0.get(field).and_then(Value::as_str)
    }

    pub fn flag(&self, field: &str) -> bool {
        matches!(self.0.get(field), Some(Value::Bool(true)))
    }

    /// A positive whole number, given as a JSON number (integral floats such as `3e6` included).
    pub fn positive_integer(&self, field: &str) -> Option<u64> {
        match self.0.get(field)? {
            Value::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f < u64::MAX as f64)
                    .map(|f| f as u64)
            }),
            _ => None,
        }
        .filter(|n| *n > 0)
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read(bytes: Vec<u8>) -> Result<JsonObject, ApiError> {
        let request = Request::new(axum::body::Body::from(bytes));
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(JsonObject::from_request(request, &()))
    }

    /// Any JSON value, nested, with strings that may hold NUL and control characters and numbers
    /// of every kind.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,12}|[\\x00-\\x1f]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z]{1,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The one reader of every endpoint's JSON body: any bytes at all are either an object
        /// or a 400, never a panic.
        #[test]
        fn any_bytes_are_an_object_or_a_400(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Err(e) = read(bytes) {
                prop_assert_eq!(e.status, StatusCode::BAD_REQUEST);
            }
        }

        /// Any JSON value is accepted only as an object free of NUL characters, and what the
        /// handlers ask of it keeps to its promises.
        #[test]
        fn any_json_is_read_as_the_handlers_expect(value in any_json(), field in "[a-z]{1,6}") {
            let bytes = serde_json::to_vec(&value).unwrap();
            match read(bytes) {
                Ok(body) => {
                    prop_assert!(value.is_object() && !super::super::nul::holds_nul(&value));
                    if let Some(text) = body.text(&field) {
                        prop_assert!(!text.trim().is_empty());
                    }
                    prop_assert_eq!(body.required(&field).is_ok(), body.text(&field).is_some());
                    if let Some(n) = body.positive_integer(&field) {
                        prop_assert!(n > 0);
                    }
                }
                Err(e) => {
                    prop_assert_eq!(e.status, StatusCode::BAD_REQUEST);
                    prop_assert!(!value.is_object() || super::super::nul::holds_nul(&value));
                }
            }
        }
    }
}
