//! What one key, one tenant or one client address may ask of a node at once: a request rate per
//! API key (429 with `Retry-After` beyond it), a number of uploads streaming per tenant, and a
//! rate of failed authentications per address. All are per node: a fleet of N nodes allows N
//! times as much, which is what spreading load across nodes is for.

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::error::ErrorKind;
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};
use mediadrive_core::ClientId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{config::LimitsConfig, error::AppError};

pub const TOO_MANY_REQUESTS: &str = "Too many requests, slow down";
pub const TOO_MANY_UPLOADS: &str = "Too many uploads in progress, retry when one has finished";
pub const TOO_MANY_FAILURES: &str = "Too many failed authentications, retry later";

pub struct Limits {
    requests: Option<DefaultKeyedRateLimiter<String>>,
    uploads_per_tenant: usize,
    uploads: Mutex<HashMap<ClientId, Arc<Semaphore>>>,
    failed_auths: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Addresses refused until the given time for their failed authentications: they get 429
    /// without a catalog lookup.
    refused: Mutex<HashMap<IpAddr, Instant>>,
}

/// Held while an upload streams; dropping it frees the tenant's slot.
pub struct UploadSlot {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Limits {
    pub fn new(config: &LimitsConfig) -> Self {
        let requests = NonZeroU32::new(config.requests_per_second).map(|rate| {
            let burst = NonZeroU32::new(config.burst).unwrap_or(rate);
            RateLimiter::dashmap(Quota::per_second(rate).allow_burst(burst))
        });
        let failed_auths = NonZeroU32::new(config.failed_auths_per_minute)
            .map(|rate| RateLimiter::dashmap(Quota::per_minute(rate)));
        Self {
            requests,
            uploads_per_tenant: config.uploads_per_tenant as usize,
            uploads: Mutex::default(),
            failed_auths,
            refused: Mutex::default(),
        }
    }

    /// Counts one request of the key whose hash is `key_hash`.
    pub fn check_request(&self, key_hash: &str) -> Result<(), AppError> {
        let Some(limiter) = &self.requests else {
            return Ok(());
        };
        limiter
            .check_key(&key_hash.to_string())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(limiter.clock().now());
                too_many(TOO_MANY_REQUESTS, wait)
            })
    }

    /// Refuses a client address that sent too many keys that did not work, until its budget
    /// has room again.
    pub fn check_client(&self, client: Option<IpAddr>) -> Result<(), AppError> {
        let Some(client) = client.filter(|_| self.failed_auths.is_some()) else {
            return Ok(());
        };
        let mut refused = self.refused.lock().expect("refused addresses lock");
        match refused.get(&client) {
            Some(until) if *until > Instant::now() => {
                Err(too_many(TOO_MANY_FAILURES, *until - Instant::now()))
            }
            Some(_) => {
                refused.remove(&client);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts a failed authentication from `client`: the 429 that takes the place of its 401
    /// once the address has used up its budget.
    pub fn failed_auth(&self, client: Option<IpAddr>) -> Option<AppError> {
        let (limiter, client) = (self.failed_auths.as_ref()?, client?);
        let not_until = limiter.check_key(&client).err()?;
        let wait = not_until.wait_time_from(limiter.clock().now());
        self.refused
            .lock()
            .expect("refused addresses lock")
            .insert(client, Instant::now() + wait);
        Some(too_many(TOO_MANY_FAILURES, wait))
    }

    /// A slot for one more upload of `tenant`, or 429 while all of its slots stream.
    pub fn start_upload(&self, tenant: &ClientId) -> Result<UploadSlot, AppError> {
        if self.uploads_per_tenant == 0 {
            return Ok(UploadSlot { _permit: None });
        }
        let semaphore = self
            .uploads
            .lock()
            .expect("upload slots lock")
            .entry(tenant.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(self.uploads_per_tenant)))
            .clone();
        semaphore
            .try_acquire_owned()
            .map(|permit| UploadSlot {
                _permit: Some(permit),
            })
            .map_err(|_| too_many(TOO_MANY_UPLOADS, Duration::from_secs(1)))
    }

    /// Forgets keys and tenants that have been idle: the sweeper calls it, so memory follows the
    /// clients that are active rather than every client ever seen.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.requests {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.failed_auths {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        self.refused
            .lock()
            .expect("refused addresses lock")
            .retain(|_, until| *until > now);
        let free = self.uploads_per_tenant;
        self.uploads
            .lock()
            .expect("upload slots lock")
            .retain(|_, s| s.available_permits() < free);
    }
}

fn too_many(message: &str, wait: Duration) -> AppError {
    let mut e = AppError::new(ErrorKind::TooManyRequests, message);
    // Whole seconds, rounded up: a client waiting that long is let through.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    e.retry_after = Some(secs.max(1));
    e
}
