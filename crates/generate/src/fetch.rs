//! Outbound fetches of URLs clients name (`src` of image and video items): downloaded once,
//! size-capped and time-limited, and refused for private, loopback and link-local addresses unless
//! the operator allow-lists them. Addresses are checked after DNS resolution (the resolver itself
//! refuses) and on every redirect, so neither a name pointing inwards nor a redirect gets through.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use async_trait::async_trait;
use ipnet::IpNet;
use url::Url;

use crate::{GenerateError, Output};

#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Networks fetches may reach even though they are private (`--fetch-allow`).
    pub allow: Vec<IpNet>,
    /// The longest a whole request may take.
    pub timeout: Duration,
    /// The longest the remote may send nothing, so a stalled download fails long before `timeout`.
    pub idle_timeout: Duration,
}

impl FetchPolicy {
    /// Refuses an address that is not public, unless allow-listed.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        if self.allow.iter().any(|net| net.contains(&ip)) || is_public(ip) {
            Ok(())
        } else {
            Err(Refused(ip))
        }
    }

    /// Refuses a URL whose scheme or literal address may not be fetched.
    pub fn check_url(&self, url: &Url) -> Result<(), GenerateError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(GenerateError::Refused(format!(
                "only http and https URLs can be fetched, not {}",
                url.scheme()
            )));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(GenerateError::Refused("the URL has no host".into())),
        };
        self.check(ip)
            .map_err(|refused| GenerateError::Refused(refused.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0} is a private, loopback or link-local address, which may not be fetched")]
pub struct Refused(pub IpAddr);

/// Whether an address is reachable on the public internet. IPv6 forms that embed an IPv4 address
/// (mapped, NAT64, 6to4) are judged by that address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // SIIT (::ffff:0:a.b.c.d) and well-known NAT64 (64:ff9b::/96) carry an IPv4 address.
            if (s[..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0)
                || (s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0])
            {
                return is_public_v4(Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                ));
            }
            if s[0] == 0x2002 {
                return is_public_v4(Ipv4Addr::new(
                    (s[1] >> 8) as u8,
                    s[1] as u8,
                    (s[2] >> 8) as u8,
                    s[2] as u8,
                ));
            }
            !(v6.is_loopback()
                || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001) // local-use NAT64
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0) // IPv4-compatible
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space (CGNAT)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
        || o[0] >= 240) // reserved
}

/// Downloads URLs clients name and posts webhooks to them, under a [`FetchPolicy`]; made over
/// HTTP by mediadrive-remote.
#[async_trait]
pub trait Fetch: Send + Sync {
    fn policy(&self) -> &FetchPolicy;

    /// Refuses a URL whose scheme or literal address may not be fetched, before any request.
    fn check_url(&self, url: &str) -> Result<(), GenerateError> {
        let url =
            Url::parse(url).map_err(|e| GenerateError::Refused(format!("not a valid URL: {e}")))?;
        self.policy().check_url(&url)
    }

    /// Streams the body of `url` into `out`, following checked redirects.
    async fn fetch(&self, url: &str, out: &mut Output<'_>) -> Result<(), GenerateError>;

    /// POSTs `body` with `headers`; returns the answer's status. A redirect is not followed: for
    /// a webhook it is an answer like any other.
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<u16, GenerateError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn inward_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::ffff:0:7f00:1",
            "64:ff9b:1::a00:1",
        ] {
            assert!(!public(ip), "{ip} must not be public");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111"] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[test]
    fn the_allow_list_opens_only_its_networks() {
        let policy = FetchPolicy {
            allow: vec!["127.0.0.2/32".parse().unwrap()],
            timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
        };
        assert!(policy.check("127.0.0.2".parse().unwrap()).is_ok());
        assert!(policy.check("127.0.0.1".parse().unwrap()).is_err());
    }
}
