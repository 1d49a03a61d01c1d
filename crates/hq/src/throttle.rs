//! Throttling of guessable secrets: enrollment codes now, dashboard logins later. An
//! attempt is counted against the client's address *and* against the thing guessed (the
//! code's hash, the account), each in its own keyed GCRA limiter from `governor`; past a
//! burst either answers 429 with `Retry-After`. Only routes that take a guessable secret
//! use it: a kiosk's sync (push, config and regulars pulls with its token) never does.
//!
//! The client address is the TCP peer, or, when the peer is a trusted reverse proxy
//! (`--trusted-proxy CIDR`), the first untrusted hop of `X-Forwarded-For` counted from
//! the right, so a client cannot pick its own address by sending the header itself.
//!
//! The state is in memory, per HQ process: with N processes behind a load balancer a
//! guesser gets up to N bursts, which still bounds guessing to a handful per minute.

use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use crate::error::ApiError;
use crate::routes::AppState;

/// A burst of attempts, then one more every `refill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub burst: NonZeroU32,
    pub refill: Duration,
}

impl Rule {
    /// `burst` attempts at once, then one every `refill` (a zero refill counts as 1 ms).
    pub fn new(burst: u32, refill: Duration) -> Rule {
        Rule {
            burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
            refill: refill.max(Duration::from_millis(1)),
        }
    }

    fn quota(self) -> Quota {
        Quota::with_period(self.refill)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(self.burst)
    }
}

/// Keys kept before idle ones are dropped (each costs a few dozen bytes).
const MAX_KEYS: usize = 100_000;

/// One keyed limiter.
pub struct Limiter<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn new(rule: Rule) -> Self {
        Limiter {
            limiter: RateLimiter::keyed(rule.quota()),
            clock: DefaultClock::default(),
        }
    }

    /// Count one attempt for `key`; `Err(wait)` when over the limit.
    pub fn attempt(&self, key: &K) -> Result<(), Duration> {
        if self.limiter.len() > MAX_KEYS {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// Attempts at guessing a secret, limited per client address and per subject (the
/// code or the account guessed).
pub struct AttemptThrottle {
    by_address: Limiter<IpAddr>,
    by_subject: Limiter<String>,
}

/// How hard to throttle one kind of attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptRules {
    pub per_address: Rule,
    pub per_subject: Rule,
}

impl AttemptRules {
    /// Enrollment: 10 attempts from one address, then one every 6 s (10 a minute); 5 on
    /// one code, then one a minute. A shop enrolls a kiosk or two at a time.
    pub fn enrollment() -> AttemptRules {
        AttemptRules {
            per_address: Rule::new(10, Duration::from_secs(6)),
            per_subject: Rule::new(5, Duration::from_secs(60)),
        }
    }
}

impl AttemptThrottle {
    pub fn new(rules: AttemptRules) -> Self {
        AttemptThrottle {
            by_address: Limiter::new(rules.per_address),
            by_subject: Limiter::new(rules.per_subject),
        }
    }

    /// Count one attempt from `addr` at `subject` (pass a hash, never the secret); 429
    /// when either is over its limit.
    pub fn attempt(&self, addr: IpAddr, subject: &str) -> Result<(), ApiError> {
        self.by_address
            .attempt(&addr)
            .and_then(|()| self.by_subject.attempt(&subject.to_owned()))
            .map_err(|retry_after| ApiError::Throttled { retry_after })
    }
}

/// Reverse proxies whose `X-Forwarded-For` HQ believes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer, or behind trusted proxies the rightmost
    /// `X-Forwarded-For` hop that is not itself a trusted proxy.
    pub fn client_addr(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut hops: Vec<IpAddr> = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else {
                return peer;
            };
            for hop in text.split(',') {
                match parse_hop(hop.trim()) {
                    Some(ip) => hops.push(ip),
                    None => return peer,
                }
            }
        }
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, maybe with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// Parse `--trusted-proxy`: a CIDR (`10.0.0.0/8`) or a single address.
pub fn parse_trusted_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!("{s:?} is not a CIDR or an address; use for example 10.0.0.0/8 or 127.0.0.1")
        })
}

/// The address of the client making the request (see [`TrustedProxies::client_addr`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| {
                ApiError::Internal("the server was started without peer addresses".into())
            })?;
        Ok(ClientAddr(
            state.trusted_proxies.client_addr(peer, &parts.headers),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().expect("header"));
        h
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let proxies = TrustedProxies(vec![parse_trusted_proxy("10.0.0.0/8").expect("cidr")]);
        assert_eq!(
            proxies.client_addr(ip("203.0.113.9"), &xff("198.51.100.1")),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let proxies = TrustedProxies(vec![
            parse_trusted_proxy("10.0.0.0/8").expect("cidr"),
            parse_trusted_proxy("192.0.2.7").expect("address"),
        ]);
        // The client forged the first entry; the proxies appended the real one.
        let headers = xff("1.1.1.1, 198.51.100.1, 192.0.2.7");
        assert_eq!(
            proxies.client_addr(ip("10.1.2.3"), &headers),
            ip("198.51.100.1")
        );
        assert_eq!(
            proxies.client_addr(ip("10.1.2.3"), &HeaderMap::new()),
            ip("10.1.2.3")
        );
        assert_eq!(
            proxies.client_addr(ip("10.1.2.3"), &xff("not an address")),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait() {
        let limiter = Limiter::new(Rule::new(3, Duration::from_secs(60)));
        for _ in 0..3 {
            assert!(limiter.attempt(&"a").is_ok());
        }
        let wait = limiter.attempt(&"a").expect_err("over the burst");
        assert!(wait > Duration::from_secs(50), "{wait:?}");
        assert!(
            limiter.attempt(&"b").is_ok(),
            "another key has its own burst"
        );
    }

    #[test]
    fn bad_trusted_proxy_values_are_refused_with_an_example() {
        let err = parse_trusted_proxy("10.0.0.0/99").expect_err("bad prefix");
        assert!(err.contains("10.0.0.0/8"), "{err}");
    }
}
