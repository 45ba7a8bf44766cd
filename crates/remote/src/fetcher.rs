//! The guarded HTTP client behind every fetch of a URL a client named (`src` downloads, files a
//! model server answers with by URL) and every webhook: the address policy is applied to each
//! resolved address and to every redirect, so neither a name pointing inwards nor a redirect gets
//! through.

use std::{
    error::Error as StdError,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use futures_util::StreamExt;
use mediadrive_generate::{
    fetch::{Fetch, Refused},
    FetchPolicy, GenerateError, Output,
};
use reqwest::{
    dns::{Addrs, Name, Resolve, Resolving},
    redirect,
};

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// Resolves names and refuses the answer if any address it holds may not be fetched: a name that
/// resolves both inwards and outwards is refused rather than filtered.
struct GuardedResolver(Arc<FetchPolicy>);

/// A name that resolves inwards. The refusal names the name, never the address: a tenant must not
/// map the server's internal DNS through it.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves to a private, loopback or link-local address, which may not be fetched")]
struct NameRefused(String);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addrs.iter().any(|addr| policy.check(addr.ip()).is_err()) {
                return Err(NameRefused(name.as_str().to_string()).into());
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Downloads URLs (following checked redirects) and posts to them (following none) under a
/// [`FetchPolicy`].
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    poster: reqwest::Client,
    policy: Arc<FetchPolicy>,
}

fn client(policy: &Arc<FetchPolicy>, redirects: redirect::Policy) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(policy.timeout)
        .read_timeout(policy.idle_timeout)
        .connect_timeout(Duration::from_secs(10).min(policy.timeout))
        .dns_resolver(Arc::new(GuardedResolver(policy.clone())))
        .redirect(redirects)
        .user_agent(concat!("mediadrive/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with these settings builds")
}

impl Fetcher {
    pub fn new(policy: FetchPolicy) -> Self {
        let policy = Arc::new(policy);
        let on_redirect = policy.clone();
        let follow = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match on_redirect.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e.to_string()),
            }
        });
        Self {
            client: client(&policy, follow),
            poster: client(&policy, redirect::Policy::none()),
            policy,
        }
    }
}

#[async_trait]
impl Fetch for Fetcher {
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<u16, GenerateError> {
        self.check_url(url)?;
        let mut request = self.poster.post(url).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.map_err(|e| explain(url, &e))?;
        Ok(response.status().as_u16())
    }

    fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    async fn fetch(&self, url: &str, out: &mut Output<'_>) -> Result<(), GenerateError> {
        self.check_url(url)?;
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| explain(url, &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(GenerateError::Failed(format!(
                "fetching {url} failed: the server answered {status}"
            )));
        }
        if response
            .content_length()
            .is_some_and(|len| len > out.max_bytes())
        {
            return Err(GenerateError::TooLarge(out.max_bytes()));
        }
        let started = Instant::now();
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| match e.is_timeout() {
                true if started.elapsed() < self.policy.timeout => GenerateError::Failed(format!(
                    "fetching {url} stalled: it sent no bytes for {} seconds",
                    self.policy.idle_timeout.as_secs()
                )),
                _ => explain(url, &e),
            })?;
            out.write(chunk).await?;
        }
        Ok(())
    }
}

/// The refusal or the cause behind a failed request, said plainly.
fn explain(url: &str, e: &reqwest::Error) -> GenerateError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<NameRefused>() {
            return GenerateError::Refused(refused.to_string());
        }
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return GenerateError::Refused(refused.to_string());
        }
        source = err.source();
    }
    if e.is_redirect() {
        // The policy's own message is the innermost cause.
        let mut cause = e.to_string();
        let mut inner = e.source();
        while let Some(err) = inner {
            cause = err.to_string();
            inner = err.source();
        }
        return GenerateError::Refused(format!("fetching {url} was refused: {cause}"));
    }
    if e.is_timeout() {
        return GenerateError::Failed(format!("fetching {url} timed out"));
    }
    GenerateError::Failed(format!("fetching {url} failed: {e}"))
}
