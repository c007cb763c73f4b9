//! Which push endpoints Fimy connects to. A subscription's endpoint is a URL a browser
//! hands over — that is, anyone with an account — and the outbox then POSTs to it: left
//! open, that is a way to make the server call its own network (`127.0.0.1`, the cloud
//! metadata service at `169.254.169.254`, the office LAN).
//!
//! So an endpoint must name a host of the allow-list (`push_allow_hosts`; by default the
//! browsers' push services: Google's FCM, Mozilla's autopush, Apple's and Microsoft's),
//! and every address Fimy connects to must be public — checked when the subscription is
//! saved *and* on every connection, by the push client's own resolver
//! ([`PublicResolver`]), so a name that resolved to a public address then and to a
//! private one now (DNS rebinding) is still refused. The one exception is an address
//! listed *literally* in the allow-list (`127.0.0.1`, `::1`): local development and the
//! tests' push receiver, and never the default.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::Host;

/// The browsers' push services: FCM (Chrome, Edge on Android, …), Mozilla autopush
/// (Firefox), Apple (Safari) and Windows Push Notification Services (older Edge).
pub const DEFAULT_ALLOW_HOSTS: [&str; 5] = [
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "*.push.services.mozilla.com",
    "*.push.apple.com",
    "*.notify.windows.com",
];

/// How long saving a subscription waits for the endpoint's name to resolve.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// One entry of the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `*`: any host name (its addresses must still be public).
    Any,
    /// `*.example.com`: any subdomain of `example.com` (stored as `.example.com`).
    Subdomains(String),
    /// `push.example.com`: that host.
    Host(String),
    /// `127.0.0.1`, `::1`: that address, even though it is not public.
    Address(IpAddr),
}

/// The push hosts Fimy may connect to (`push_allow_hosts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushHosts {
    patterns: Vec<Pattern>,
}

impl Default for PushHosts {
    fn default() -> Self {
        Self {
            patterns: DEFAULT_ALLOW_HOSTS
                .iter()
                .filter_map(|p| parse_pattern(p).ok())
                .collect(),
        }
    }
}

fn parse_pattern(raw: &str) -> Result<Pattern, String> {
    let p = raw.trim().to_ascii_lowercase();
    if p == "*" {
        return Ok(Pattern::Any);
    }
    // A fully qualified name's final dot.
    let p = p.strip_suffix('.').unwrap_or(&p).to_owned();
    let bare = p.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(Pattern::Address(canonical(ip)));
    }
    let (wildcard, name) = match p.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, p.as_str()),
    };
    let valid_name = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !valid_name {
        return Err(format!(
            "{raw:?} is not a host name, `*.` and a domain, an IP address or `*`"
        ));
    }
    Ok(if wildcard {
        Pattern::Subdomains(format!(".{name}"))
    } else {
        Pattern::Host(name.to_owned())
    })
}

impl PushHosts {
    /// A comma-separated list: host names (`fcm.googleapis.com`), subdomain wildcards
    /// (`*.push.apple.com`), IP addresses allowed although not public (`127.0.0.1`), or
    /// `*` for any host name with public addresses.
    pub fn parse(list: &str) -> Result<Self, String> {
        let patterns = list
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(parse_pattern)
            .collect::<Result<Vec<_>, _>>()?;
        if patterns.is_empty() {
            return Err("must list at least one push host".to_owned());
        }
        Ok(Self { patterns })
    }

    /// Whether an endpoint may name this host (its addresses are checked apart).
    pub fn allows_host(&self, host: &Host<&str>) -> bool {
        match host {
            Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                self.patterns.iter().any(|p| match p {
                    Pattern::Any => true,
                    Pattern::Subdomains(suffix) => {
                        name.len() > suffix.len() && name.ends_with(suffix.as_str())
                    }
                    Pattern::Host(h) => *h == name,
                    Pattern::Address(_) => false,
                })
            }
            Host::Ipv4(ip) => self.allows_ip_literal(IpAddr::V4(*ip)),
            Host::Ipv6(ip) => self.allows_ip_literal(IpAddr::V6(*ip)),
        }
    }

    /// An address in the URL itself: listed, or public when any host is allowed.
    fn allows_ip_literal(&self, ip: IpAddr) -> bool {
        self.is_listed(ip) || (self.patterns.contains(&Pattern::Any) && is_public(ip))
    }

    fn is_listed(&self, ip: IpAddr) -> bool {
        self.patterns.contains(&Pattern::Address(canonical(ip)))
    }

    /// Whether Fimy may connect to this address: a public one, or one listed literally.
    pub fn allows_address(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.is_listed(ip)
    }

    /// Whether plain `http://` is allowed to this host: only to this machine, listed
    /// explicitly (`127.0.0.1`, `::1` or `localhost`), for development.
    pub fn allows_plain_http(&self, host: &Host<&str>) -> bool {
        match host {
            Host::Domain(name) => {
                name.eq_ignore_ascii_case("localhost")
                    && self
                        .patterns
                        .contains(&Pattern::Host("localhost".to_owned()))
            }
            Host::Ipv4(ip) => ip.is_loopback() && self.is_listed(IpAddr::V4(*ip)),
            Host::Ipv6(ip) => ip.is_loopback() && self.is_listed(IpAddr::V6(*ip)),
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local,
/// shared (CGNAT), documentation, benchmarking, multicast, reserved or unspecified, and
/// no IPv6 form of one of those (mapped, NAT64, 6to4).
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        // 100.64.0.0/10: shared address space (carrier-grade NAT).
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24: IETF protocol assignments.
        || (a == 192 && b == 0 && c == 0)
        // 198.18.0.0/15: benchmarking.
        || (a == 198 && (b == 18 || b == 19))
        // 240.0.0.0/4: reserved.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        return false;
    }
    match s[0] {
        // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local.
        x if x & 0xfe00 == 0xfc00 || x & 0xffc0 == 0xfe80 || x & 0xffc0 == 0xfec0 => false,
        // 2001:db8::/32 documentation; 2001::/23 IETF protocol assignments (Teredo…).
        0x2001 if s[1] == 0x0db8 || s[1] < 0x0200 => false,
        // 2002::/16 6to4: the IPv4 address it embeds decides.
        0x2002 => is_public_v4(embedded_v4(s[1], s[2])),
        // 64:ff9b::/96 NAT64: likewise.
        0x0064 if s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] => {
            is_public_v4(embedded_v4(s[6], s[7]))
        }
        // ::/96 IPv4-compatible (deprecated) and the rest of ::/8.
        0 => false,
        _ => true,
    }
}

/// Why the push client refused to connect to a host.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to no public address ({addresses}); not connecting")]
pub struct NonPublicAddress {
    pub host: String,
    pub addresses: String,
}

impl NonPublicAddress {
    /// The refusal somewhere in an error's chain of causes (a reqwest connect error).
    pub fn in_chain<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a NonPublicAddress> {
        let mut next = Some(e);
        while let Some(e) = next {
            if let Some(found) = e.downcast_ref::<NonPublicAddress>() {
                return Some(found);
            }
            next = e.source();
        }
        None
    }
}

/// The push client's resolver: the system's lookup, keeping only the addresses the
/// allow-list permits — on every connection, so the check cannot be outrun by DNS.
#[derive(Debug, Clone)]
pub struct PublicResolver {
    pub hosts: PushHosts,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let hosts = self.hosts.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = found
                .into_iter()
                .partition(|a| hosts.allows_address(a.ip()));
            if allowed.is_empty() {
                let addresses = refused
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                let err: Box<dyn std::error::Error + Send + Sync> =
                    Box::new(NonPublicAddress { host, addresses });
                return Err(err);
            }
            if !refused.is_empty() {
                tracing::warn!(%host, refused = refused.len(),
                    "push host resolves to some non-public addresses; using only the others");
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

impl PublicResolver {
    pub fn shared(hosts: PushHosts) -> Arc<Self> {
        Arc::new(Self { hosts })
    }
}

/// The addresses of `host` that the allow-list refuses, looked up when a subscription is
/// saved. A lookup that fails or times out refuses nothing: the check on connection
/// still applies, and a push service's DNS being slow must not lose a subscription.
pub async fn refused_addresses(hosts: &PushHosts, host: &str, port: u16) -> Vec<IpAddr> {
    let lookup = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port)));
    match lookup.await {
        Ok(Ok(addrs)) => addrs
            .map(|a| a.ip())
            .filter(|ip| !hosts.allows_address(*ip))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(h: &str) -> Host<String> {
        url::Url::parse(&format!("https://{h}/"))
            .unwrap()
            .host()
            .unwrap()
            .to_owned()
    }

    fn allows(hosts: &PushHosts, h: &str) -> bool {
        let host = host(h);
        let borrowed = match &host {
            Host::Domain(d) => Host::Domain(d.as_str()),
            Host::Ipv4(ip) => Host::Ipv4(*ip),
            Host::Ipv6(ip) => Host::Ipv6(*ip),
        };
        hosts.allows_host(&borrowed)
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} is not public");
        }
        for ip in [
            "8.8.8.8",
            "142.250.74.234",
            "172.32.0.1",
            "100.128.0.1",
            "2a00:1450:4007::200a",
            "2002:0808:0808::",
            "64:ff9b::808:808",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[test]
    fn the_default_allows_the_browsers_push_services_only() {
        let hosts = PushHosts::default();
        assert_eq!(hosts.patterns.len(), DEFAULT_ALLOW_HOSTS.len());
        for ok in [
            "fcm.googleapis.com",
            "FCM.googleapis.com.",
            "updates.push.services.mozilla.com",
            "push.services.mozilla.com.updates.push.services.mozilla.com",
            "web.push.apple.com",
            "api.push.apple.com",
            "db5p.notify.windows.com",
        ] {
            assert!(allows(&hosts, ok), "{ok}");
        }
        for refused in [
            "push.apple.com",
            "evilpush.apple.com",
            "push.apple.com.evil.example",
            "googleapis.com",
            "example.com",
            "localhost",
            "127.0.0.1",
            "169.254.169.254",
            "[::1]",
            "2130706433",
        ] {
            assert!(!allows(&hosts, refused), "{refused}");
        }
        assert!(!hosts.allows_address("127.0.0.1".parse().unwrap()));
        assert!(!hosts.allows_plain_http(&Host::Ipv4(Ipv4Addr::LOCALHOST)));
    }

    #[test]
    fn an_address_is_allowed_only_when_listed_literally() {
        let hosts = PushHosts::parse("127.0.0.1, [::1], push.example.com").unwrap();
        assert!(allows(&hosts, "127.0.0.1"));
        assert!(allows(&hosts, "[::1]"));
        assert!(!allows(&hosts, "127.0.0.2"));
        assert!(!allows(&hosts, "localhost"), "a name is not its address");
        assert!(hosts.allows_address("127.0.0.1".parse().unwrap()));
        assert!(hosts.allows_address("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!hosts.allows_address("10.0.0.1".parse().unwrap()));
        assert!(hosts.allows_plain_http(&Host::Ipv4(Ipv4Addr::LOCALHOST)));
        assert!(!hosts.allows_plain_http(&Host::Domain("push.example.com")));

        let any = PushHosts::parse("*").unwrap();
        assert!(allows(&any, "push.example.org"));
        assert!(allows(&any, "8.8.8.8"));
        assert!(!allows(&any, "127.0.0.1"));
        assert!(!allows(&any, "169.254.169.254"));
        assert!(!any.allows_address("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bad_lists_are_refused() {
        for bad in [
            "", " , ", "http://x", "*.", "a..b", "-a.com", "a b", "*.*.com", "x/y",
        ] {
            assert!(PushHosts::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_on_connection() {
        use reqwest::dns::Resolve;
        let resolver = PublicResolver {
            hosts: PushHosts::parse("*").unwrap(),
        };
        let err = match resolver.resolve("localhost".parse().unwrap()).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        let found = NonPublicAddress::in_chain(err.as_ref()).unwrap();
        assert_eq!(found.host, "localhost");
        assert!(
            !refused_addresses(&resolver.hosts, "localhost", 443)
                .await
                .is_empty()
        );
        let listed = PushHosts::parse("*, 127.0.0.1, ::1").unwrap();
        assert!(
            refused_addresses(&listed, "localhost", 443)
                .await
                .is_empty()
        );
    }
}
