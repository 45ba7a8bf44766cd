//! The dashboard (seed 001's media panel): a page, its style and its script modules compiled into
//! the binary, so it is served on a fresh machine with nothing else installed. The page talks to
//! the v2 API only.

use std::sync::{Arc, LazyLock};

use axum::{
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::get,
    Router,
};

use crate::App;
use mediadrive_app::config::Config;

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

const HTML: &str = "text/html; charset=utf-8";
const SCRIPT: &str = "text/javascript; charset=utf-8";
const STYLE: &str = "text/css; charset=utf-8";

/// A file of `crates/server/dashboard/`, served under its own name.
macro_rules! page_file {
    ($name:literal, $content_type:expr) => {
        (
            $name,
            include_str!(concat!("../dashboard/", $name)),
            $content_type,
        )
    };
}

/// Every file of the page, by its path under `/dashboard/`; the script modules import one another
/// by these names, so a module added to the page is added here.
const FILES: [(&str, &str, &str); 11] = [
    ("", include_str!("../dashboard/index.html"), HTML),
    page_file!("app.css", STYLE),
    page_file!("app.js", SCRIPT),
    page_file!("api.js", SCRIPT),
    page_file!("dialogs.js", SCRIPT),
    page_file!("dom.js", SCRIPT),
    page_file!("listing.js", SCRIPT),
    page_file!("preview.js", SCRIPT),
    page_file!("session.js", SCRIPT),
    page_file!("state.js", SCRIPT),
    page_file!("uploads.js", SCRIPT),
];

static ASSETS: LazyLock<Vec<(String, Asset)>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(name, body, content_type)| {
            (format!("/dashboard/{name}"), Asset::new(body, content_type))
        })
        .collect()
});

pub fn routes(config: &Config) -> Router<App> {
    let csp: Arc<str> = content_security_policy(config).into();
    let router = Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard/") }))
        .route("/dashboard", get(|| async { Redirect::to("/dashboard/") }));
    ASSETS.iter().fold(router, |router, (path, asset)| {
        let csp = csp.clone();
        router.route(
            path,
            get(move |h: HeaderMap| async move { asset.respond(&h, &csp) }),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::FILES;

    #[test]
    fn every_file_of_the_page_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboard");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let served = if name == "index.html" { "" } else { &name };
            assert!(
                FILES.iter().any(|(path, _, _)| *path == served),
                "{name} is not served"
            );
        }
    }
}
