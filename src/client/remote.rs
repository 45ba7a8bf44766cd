//! The drive's HTTP API (seed 002's `/v2/media`) as the client commands call it, with its answers
//! turned into errors a script can tell apart by exit code.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Why a client command failed; each kind has its own exit code.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error; its message is the seed's.
    #[error("{message} ({status})")]
    Refused { status: StatusCode, message: String },
    #[error("{0}: not found")]
    NotFound(String),
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Local(String),
}

impl ClientError {
    /// 1: the server refused; 2: usage, local or network trouble; 3: not found.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Refused { .. } => 1,
            ClientError::Unreachable(_) | ClientError::Local(_) => 2,
            ClientError::NotFound(_) => 3,
        }
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

fn unreachable(e: reqwest::Error) -> ClientError {
    ClientError::Unreachable(e.to_string())
}

/// One server and key.
#[derive(Clone)]
pub struct Remote {
    pub http: reqwest::Client,
    base: String,
    key: String,
}

/// A file as the listing shows it.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct RemoteFile {
    pub name: String,
    pub folder: String,
    pub size: u64,
    pub status: String,
    #[serde(rename = "contentType")]
    pub content_type: String,
    pub url: String,
    #[serde(rename = "downloadUrl")]
    pub download_url: String,
    pub updated_at: String,
}

/// One folder's subfolders and files, every page of them.
#[derive(Debug, Default, serde::Serialize)]
pub struct Listing {
    pub folders: Vec<String>,
    pub files: Vec<RemoteFile>,
}

impl Remote {
    pub fn new(server: &str, key: &str) -> ClientResult<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Below the server's default header deadline, which also closes idle connections.
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .map_err(unreachable)?;
        Ok(Self {
            http,
            base: server.trim_end_matches('/').to_string(),
            key: key.to_string(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `url` with the key.
    pub fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .header("x-api-key", &self.key)
    }

    /// Calls the API and returns its JSON answer; 404 is `NotFound(what)`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        what: &str,
    ) -> ClientResult<Value> {
        let mut request = self.request(method, &self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let resp = request.send().await.map_err(unreachable)?;
        let status = resp.status();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(answer);
        }
        if status == StatusCode::NOT_FOUND {
            return Err(ClientError::NotFound(what.to_string()));
        }
        Err(refused(status, &answer))
    }

    /// The file at `path` (`folder/name`), or None.
    pub async fn file(&self, path: &str) -> ClientResult<Option<RemoteFile>> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("path", path)
            .finish();
        match self
            .call(Method::GET, &format!("/v2/media/file?{query}"), None, path)
            .await
        {
            Ok(answer) => serde_json::from_value(answer["file"].clone())
                .map(Some)
                .map_err(|e| ClientError::Local(format!("unexpected answer for {path}: {e}"))),
            Err(ClientError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every subfolder and file of `folder`, following the cursor to the last page.
    pub async fn list(&self, folder: &str) -> ClientResult<Listing> {
        let mut listing = Listing::default();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query
                .append_pair("folder", folder)
                .append_pair("limit", "1000");
            if let Some(c) = &cursor {
                query.append_pair("cursor", c);
            }
            let page = self
                .call(
                    Method::GET,
                    &format!("/v2/media/folder?{}", query.finish()),
                    None,
                    folder,
                )
                .await?;
            for f in page["folders"].as_array().into_iter().flatten() {
                listing
                    .folders
                    .push(f["path"].as_str().unwrap_or_default().to_string());
            }
            for f in page["files"].as_array().into_iter().flatten() {
                listing.files.push(
                    serde_json::from_value(f.clone())
                        .map_err(|e| ClientError::Local(format!("unexpected listing: {e}")))?,
                );
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return Ok(listing),
            }
        }
    }

    pub async fn mkdir(&self, folder: &str) -> ClientResult<()> {
        self.call(
            Method::POST,
            "/v2/media/folder",
            Some(json!({ "folder": folder })),
            folder,
        )
        .await
        .map(drop)
    }

    /// The entity tag the server serves a file with: its content hash, quoted.
    pub async fn etag(&self, url: &str) -> ClientResult<Option<String>> {
        let resp = self.http.head(url).send().await.map_err(unreachable)?;
        Ok(resp
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_matches('"').to_string()))
    }
}

pub fn refused(status: StatusCode, answer: &Value) -> ClientError {
    // The v2 surface says `message`; Video Jungle's says `detail`.
    let message = answer["message"]
        .as_str()
        .or_else(|| answer["detail"].as_str())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error"))
        .to_string();
    ClientError::Refused { status, message }
}

/// Splits `folder/sub/name` into its folder and name; a bare name is in the root.
pub fn split(path: &str) -> (&str, &str) {
    let path = path.trim_matches('/');
    path.rsplit_once('/').unwrap_or(("", path))
}
