//! Where Doorway may send a request that an app's registration chose (back-channel logout).
//! An app a developer registered may only make Doorway call a public https host by its DNS
//! name: never an IP literal, localhost, an internal name, or (after DNS) a private, loopback,
//! link-local, unique-local, CGNAT, multicast or unspecified address. Apps an operator
//! registered (CLI, admin API, an operator's own console apps) may call anything.
//!
//! Never follows a redirect and never goes through a proxy: either would let the target choose
//! another address after the checks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

use doorway_core::model::Client;
use doorway_store::{Store, StoreError};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Which addresses an app's registered URIs may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    /// Registered by an operator: loopback and private networks are theirs to use.
    Any,
    /// Registered by a developer: the public internet only.
    PublicOnly,
}

impl Targets {
    /// For whoever registers or edits an app now.
    pub fn for_submitter(is_admin: bool) -> Self {
        if is_admin { Self::Any } else { Self::PublicOnly }
    }

    /// For an app already stored: apps without an owner come from the CLI or the admin API;
    /// an app owned by someone who is (now) not an operator is a developer's. An owner that
    /// cannot be found counts as a developer (fail closed).
    pub async fn of_app(store: &Store, client: &Client) -> Result<Self, StoreError> {
        let Some(owner) = client.owner_id.as_deref() else { return Ok(Self::Any) };
        let is_admin = store.find_user(owner).await?.is_some_and(|u| u.is_admin);
        Ok(Self::for_submitter(is_admin))
    }
}

/// Host names that name this machine or a private network, whatever DNS says (RFC 6761,
/// RFC 8375, ICANN's `.internal`, and the suffixes routers hand out).
const PRIVATE_SUFFIXES: [&str; 8] =
    ["localhost", "local", "internal", "intranet", "lan", "localdomain", "home.arpa", "corp"];

/// Why `raw` is not a public https URL by DNS name, in words that follow a field's label
/// ("The back-channel logout URI …"); `Ok` when it is one.
pub fn check_public_url(raw: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(raw.trim()).map_err(|_| "must be an absolute https:// URL")?;
    if url.scheme() != "https" {
        return Err("must use https");
    }
    match url.host() {
        Some(url::Host::Domain(name)) => check_public_name(name),
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => Err("must name its host by a DNS name, not an IP address"),
        None => Err("must be an absolute https:// URL"),
    }
}

fn check_public_name(name: &str) -> Result<(), &'static str> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let private = PRIVATE_SUFFIXES.iter().any(|s| name == *s || name.ends_with(&format!(".{s}")));
    if private || !name.contains('.') {
        return Err("must name a public host (not localhost or an internal host name)");
    }
    Ok(())
}

/// Whether a request to `ip` would leave for the public internet.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                    // "this network", 0.0.0.0
        || a == 10                              // private
        || a == 127                             // loopback
        || (a == 100 && (64..128).contains(&b)) // CGNAT, 100.64.0.0/10
        || (a == 169 && b == 254)               // link-local (cloud metadata)
        || (a == 172 && (16..32).contains(&b))  // private
        || (a == 192 && b == 168)               // private
        || (a == 192 && b == 0 && c == 0)       // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)       // documentation
        || (a == 198 && (b == 18 || b == 19))   // benchmarking
        || (a == 198 && b == 51 && c == 100)    // documentation
        || (a == 203 && b == 0 && c == 113)     // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // An IPv4 address inside IPv6 (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d, 6to4
    // 2002:ab:cd::) reaches that IPv4 address: judge it as one.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return is_public_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    if segments[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::from((u32::from(segments[1]) << 16) | u32::from(segments[2])));
    }
    // Only global unicast (2000::/3) leaves the site; within it, documentation (2001:db8::/32)
    // and the IETF protocol block with Teredo (2001::/23) do not count as public.
    let global_unicast = (segments[0] & 0xe000) == 0x2000;
    global_unicast && !(segments[0] == 0x2001 && (segments[1] == 0x0db8 || segments[1] < 0x0200))
}

/// A DNS resolver that only ever answers public addresses: checking the name when the app is
/// registered is not enough, since DNS can answer differently at delivery (rebinding).
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public_ip(a.ip())).collect();
            if public.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves only to non-public addresses").into();
                return Err(refused);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The client for requests to targets a developer chose: public addresses only, no redirects,
/// no proxy, 10 s. Built once; `None` if it cannot be built.
pub fn public_client() -> Option<&'static reqwest::Client> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .dns_resolver(PublicResolver)
                .build()
                .map_err(|err| tracing::error!(error = %err, "building the outbound HTTP client failed"))
                .ok()
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn private_loopback_link_local_cgnat_multicast_and_unspecified_addresses_are_not_public() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "192.0.2.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:db8::1",
            "2001::1",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip} must not count as public");
        }
        for ip in ["93.184.215.14", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[test]
    fn only_https_urls_on_public_dns_names_pass() {
        for bad in [
            "http://app.example/logout",
            "https://127.0.0.1/logout",
            "https://2130706433/logout",
            "https://0x7f.1/logout",
            "https://10.0.0.5/logout",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/logout",
            "https://[::ffff:127.0.0.1]/logout",
            "https://localhost/logout",
            "https://api.localhost/logout",
            "https://metadata/logout",
            "https://printer.local/logout",
            "https://db.internal/logout",
            "https://router.home.arpa/logout",
        ] {
            assert!(check_public_url(bad).is_err(), "{bad} must be refused");
        }
        assert_eq!(check_public_url("https://app.example/logout"), Ok(()));
        assert_eq!(check_public_url("https://app.example.:8443/logout"), Ok(()));
    }

    #[tokio::test]
    async fn the_resolver_drops_loopback_answers_so_rebinding_reaches_nothing() {
        let resolved = PublicResolver.resolve("localhost".parse().unwrap()).await;
        assert!(resolved.is_err(), "localhost resolves to loopback only");
        // And the client built on it never reaches a listener on loopback by name.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = public_client().unwrap().post(format!("http://localhost:{port}/logout")).send().await;
        assert!(sent.is_err());
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "nothing connected to the loopback listener");
    }
}
