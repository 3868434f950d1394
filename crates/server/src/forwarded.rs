//! The client's address behind trusted reverse proxies (`--trusted-proxy`).
//!
//! Only a hop Doorway trusts may speak for the client: X-Forwarded-For is read right to left
//! (each proxy appends the address it received the request from) and the first address that
//! is not a trusted proxy is the client. Anything to its left was written by the client itself
//! and is never believed, so a forged header cannot move a person into another throttle bucket.
//! Without trusted proxies, or when the TCP peer is not one of them, the header is ignored.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The address to account a request to: the TCP `peer`, or, when the peer is a trusted proxy,
/// the right-most untrusted address of X-Forwarded-For.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    if trusted.is_empty() || !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    // Several X-Forwarded-For headers are one comma-separated list, in order (RFC 9110 §5.3).
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    for hop in hops.iter().rev() {
        // An unreadable entry ends the walk: nothing to its left can be trusted.
        let Some(ip) = parse_hop(hop) else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// One X-Forwarded-For entry: `192.0.2.1`, `2001:db8::1` or `[2001:db8::1]` (a port, which a
/// few proxies add, is dropped).
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = raw.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse::<IpAddr>().ok()).map(|ip| ip.to_canonical());
    }
    raw.parse::<std::net::SocketAddr>().ok().map(|addr| addr.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", v.parse().unwrap());
        }
        map
    }

    fn nets(raw: &[&str]) -> Vec<IpNet> {
        raw.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(client_ip(ip("10.0.0.5"), &headers(&["203.0.113.9"]), &[]), ip("10.0.0.5"));
    }

    #[test]
    fn an_untrusted_peer_cannot_name_another_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("198.51.100.7"), &headers(&["203.0.113.9"]), &trusted), ip("198.51.100.7"));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client_and_a_forged_left_part_is_ignored() {
        let trusted = nets(&["10.0.0.0/8"]);
        let forged = headers(&["1.2.3.4, 203.0.113.9, 10.1.1.1"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &forged, &trusted), ip("203.0.113.9"));
        let split = headers(&["1.2.3.4", "203.0.113.9"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &split, &trusted), ip("203.0.113.9"));
    }

    #[test]
    fn an_unreadable_hop_stops_the_walk_at_the_last_trusted_address() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &headers(&["203.0.113.9, garbage"]), &trusted), ip("10.0.0.2"));
        assert_eq!(client_ip(ip("10.0.0.2"), &headers(&["[2001:db8::1]:443"]), &trusted), ip("2001:db8::1"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_ranges() {
        let trusted = nets(&["127.0.0.1/32"]);
        assert_eq!(client_ip(ip("::ffff:127.0.0.1"), &headers(&["203.0.113.9"]), &trusted), ip("203.0.113.9"));
    }
}
