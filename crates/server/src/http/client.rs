//! The address a request comes from: the connection's peer, or, when that peer is a trusted proxy,
//! the nearest address in `X-Forwarded-For` that is not one. Walking from the right matters: a
//! client may put anything at the left of the header, but each proxy appends what it saw.

use std::net::{IpAddr, SocketAddr};

use axum::{extract::ConnectInfo, http::request::Parts};
use ipnet::IpNet;

pub fn client_address(parts: &Parts, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    from_peer(peer, forwarded(parts), trusted)
}

fn forwarded(parts: &Parts) -> impl DoubleEndedIterator<Item = &str> {
    parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

fn from_peer<'a>(
    peer: IpAddr,
    forwarded: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    // An IPv4 client on a dual-stack socket arrives as `::ffff:a.b.c.d`.
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    for hop in forwarded.rev() {
        // A malformed hop ends what can be believed: the last address known stands.
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(&client) {
            break;
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_trusted_proxies_are_believed_and_the_header_is_read_from_the_right() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let hops = |s: &'static str| s.split(',').map(str::trim);
        // An untrusted peer is the client, whatever it claims.
        assert_eq!(
            from_peer(ip("203.0.113.9"), hops("1.2.3.4"), &trusted),
            Some(ip("203.0.113.9"))
        );
        // A trusted proxy: the rightmost address it did not add itself.
        assert_eq!(
            from_peer(
                ip("10.0.0.2"),
                hops("6.6.6.6, 198.51.100.7, 10.0.0.9"),
                &trusted
            ),
            Some(ip("198.51.100.7"))
        );
        // Without the header, the proxy itself.
        assert_eq!(
            from_peer(ip("10.0.0.2"), hops(""), &trusted),
            Some(ip("10.0.0.2"))
        );
        // A forged, malformed hop stops the walk at the last one believed.
        assert_eq!(
            from_peer(ip("10.0.0.2"), hops("junk, 10.0.0.5"), &trusted),
            Some(ip("10.0.0.5"))
        );
        assert_eq!(
            from_peer(ip("::ffff:203.0.113.9"), hops(""), &[]),
            Some(ip("203.0.113.9"))
        );
    }
}
