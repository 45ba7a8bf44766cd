//! What one key or one tenant may ask of a node at once: a request rate per API key (429 with
//! `Retry-After` beyond it) and a number of uploads streaming per tenant. Both are per node: a
//! fleet of N nodes allows N times as much, which is what spreading load across nodes is for.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::error::ErrorKind;
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};
use mediadrive_core::ClientId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{config::LimitsConfig, error::AppError};

pub const TOO_MANY_REQUESTS: &str = "Too many requests, slow down";
pub const TOO_MANY_UPLOADS: &str = "Too many uploads in progress, retry when one has finished";

pub struct Limits {
    requests: Option<DefaultKeyedRateLimiter<String>>,
    uploads_per_tenant: usize,
    uploads: Mutex<HashMap<ClientId, Arc<Semaphore>>>,
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
        Self {
            requests,
            uploads_per_tenant: config.uploads_per_tenant as usize,
            uploads: Mutex::default(),
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
