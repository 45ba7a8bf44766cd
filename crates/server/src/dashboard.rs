//! The dashboard (seed 001's media panel): three static files compiled into the binary, so it is
//! served on a fresh machine with nothing else installed. The page talks to the v2 API only.

use std::sync::{Arc, LazyLock};

use axum::{
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::get,
    Router,
};

use crate::{config::Config, state::AppState};

struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: String,
}

impl Asset {
    fn new(body: &'static str, content_type: &'static str) -> Self {
        let etag = format!("\"{}\"", &blake3::hash(body.as_bytes()).to_hex()[..16]);
        Self {
            body,
            content_type,
            etag,
        }
    }

    /// Revalidated on every load (`no-cache`), answered with 304 while unchanged.
    fn respond(&self, headers: &HeaderMap, csp: &str) -> Response {
        let fresh = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| tags.split(',').any(|t| t.trim() == self.etag));
        let common = [
            (header::ETAG, self.etag.clone()),
            (header::CACHE_CONTROL, "no-cache".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CONTENT_SECURITY_POLICY, csp.to_string()),
            (header::REFERRER_POLICY, "no-referrer".to_string()),
        ];
        if fresh {
            return (StatusCode::NOT_MODIFIED, common).into_response();
        }
        (
            common,
            [(header::CONTENT_TYPE, self.content_type)],
            self.body,
        )
            .into_response()
    }
}

/// Scripts and styles only from the binary; data only to this origin, the public URL (files,
/// presigned uploads through mediadrive) and the object store clients upload to directly.
fn content_security_policy(config: &Config) -> String {
    let mut sources = vec!["'self'".to_string()];
    let mut add = |url: &str| {
        if let Ok(parsed) = url::Url::parse(url) {
            let origin = parsed.origin().ascii_serialization();
            if origin != "null" && !sources.contains(&origin) {
                sources.push(origin);
            }
        }
    };
    add(&config.public_url);
    if let Some(endpoint) = url::Url::parse(&config.blob_url)
        .ok()
        .filter(|u| u.scheme() == "s3")
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "endpoint")
                .map(|(_, v)| v.into_owned())
        })
    {
        add(&endpoint);
    }
    let allowed = sources.join(" ");
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src {allowed} data: blob:; \
         media-src {allowed}; connect-src {allowed}; frame-ancestors 'none'; base-uri 'none'; \
         form-action 'self'"
    )
}

static INDEX: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../dashboard/index.html"),
        "text/html; charset=utf-8",
    )
});
static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../dashboard/app.js"),
        "text/javascript; charset=utf-8",
    )
});
static STYLE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../dashboard/app.css"),
        "text/css; charset=utf-8",
    )
});

pub fn routes(config: &Config) -> Router<AppState> {
    let csp: Arc<str> = content_security_policy(config).into();
    let serve = |asset: &'static LazyLock<Asset>| {
        let csp = csp.clone();
        get(move |h: HeaderMap| async move { asset.respond(&h, &csp) })
    };
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard/") }))
        .route("/dashboard", get(|| async { Redirect::to("/dashboard/") }))
        .route("/dashboard/", serve(&INDEX))
        .route("/dashboard/app.js", serve(&SCRIPT))
        .route("/dashboard/app.css", serve(&STYLE))
}
