//! A handler that panics answers 500 in its surface's error shape, and the cause goes to the log.
//! Without this, hyper drops the connection, which a client cannot tell from a refusal.

use std::{any::Any, panic::AssertUnwindSafe};

use axum::{
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures_util::FutureExt;

use crate::error::ApiError;

/// The 500 is rendered as `E`, the error shape of the surface whose router this layer wraps.
pub async fn answer_panics<E>(request: Request, next: Next) -> Response
where
    E: From<ApiError> + IntoResponse,
{
    let panic = match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => return response,
        Err(panic) => panic,
    };
    let error = ApiError::internal(format!("a request handler panicked: {}", cause(&*panic)));
    E::from(error).into_response()
}

/// The message a panic was raised with, when it has one.
fn cause(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::StatusCode, routing::get, Router};
    use tower::ServiceExt;

    use super::*;
    use crate::videojungle::error::VjError;

    async fn answer(path: &str) -> (StatusCode, serde_json::Value) {
        async fn boom() -> &'static str {
            panic!("boom")
        }
        let v2 = Router::new()
            .route("/v2/media", get(boom))
            .route("/fine", get(|| async { "fine" }))
            .layer(axum::middleware::from_fn(answer_panics::<ApiError>));
        let videojungle = Router::new()
            .route("/videojungle/projects", get(boom))
            .layer(axum::middleware::from_fn(answer_panics::<VjError>));
        let app = v2.merge(videojungle);
        let response = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn a_panic_is_a_500_in_the_surface_shape() {
        let (status, body) = answer("/v2/media").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body,
            serde_json::json!({"success": false, "message": "Internal server error"})
        );
        let (status, body) = answer("/videojungle/projects").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, serde_json::json!({"detail": "Internal server error"}));
        let (status, _) = answer("/fine").await;
        assert_eq!(status, StatusCode::OK);
    }

    #[test]
    fn the_cause_is_the_panic_message() {
        assert_eq!(cause(&"static"), "static");
        assert_eq!(cause(&String::from("owned")), "owned");
        assert_eq!(cause(&42u8), "(no message)");
    }
}
