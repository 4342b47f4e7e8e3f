//! The guarded HTTP client for URLs operators supply (webhook tools, CRM webhooks, …).
//!
//! A URL an operator types can point anywhere the platform's hosts can reach: a cloud metadata
//! endpoint, an admin port on loopback, a database on the private network. [`Egress`] is the one
//! client such URLs go through:
//! - only `http` and `https`;
//! - no redirect is followed (a 3xx is an error naming where it pointed);
//! - loopback, private, link-local, unique-local, carrier-grade NAT, multicast and unspecified
//!   addresses are refused unless an allowed network contains them. The check runs on the
//!   addresses the name resolves to, at connect time (a resolver of its own), so a name that
//!   resolves to a public address when saved and a private one when called (DNS rebinding)
//!   does not pass; IP literals are checked before any request;
//! - the reply is read up to a size limit, and the whole exchange up to a time limit.

use bytes::Bytes;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Networks a guarded request may reach although they are not public (`127.0.0.0/8,10.0.0.0/8`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed(Vec<IpNet>);

impl Allowed {
    /// Comma-separated CIDRs or single addresses.
    pub fn parse(text: &str) -> Result<Self, EgressError> {
        text.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<IpNet>()
                    .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| EgressError::BadNetwork(part.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether a request may go to `ip`: a public address, or one of the allowed networks.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        public(ip) || self.contains(ip)
    }

    /// Whether `ip` is in one of the networks, public or not.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// Whether a request to `url` may be made at all: its scheme, and its host when it is an address
/// (a literal address is never resolved, so no resolver sees it). A name is checked when it is
/// resolved.
pub fn check_url(url: &str, allowed: &Allowed) -> Result<reqwest::Url, EgressError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| EgressError::BadUrl(url.to_owned()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(EgressError::BadUrl(url.to_owned()));
    }
    let literal = match parsed.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(EgressError::BadUrl(url.to_owned())),
    };
    if let Some(address) = literal
        && !allowed.permits(address)
    {
        return Err(EgressError::Forbidden {
            host: address.to_string(),
            address,
        });
    }
    Ok(parsed)
}

/// Whether a URL an operator saves may be used at all: [`check_url`], and `localhost` (a name
/// that is always this host) only where loopback is allowed. A save-time check, needing no
/// client; other names are checked each time they are resolved.
pub fn check_saved_url(url: &str, allowed: &Allowed) -> Result<reqwest::Url, EgressError> {
    let parsed = check_url(url, allowed)?;
    let local = parsed.host_str().is_some_and(|h| {
        h.eq_ignore_ascii_case("localhost") || h.to_ascii_lowercase().ends_with(".localhost")
    });
    let loopback = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    if local && !allowed.permits(loopback) {
        return Err(EgressError::Forbidden {
            host: "localhost".to_owned(),
            address: loopback,
        });
    }
    Ok(parsed)
}

/// A client for long or streamed exchanges with an operator's URL (a bot's own provider
/// server): no redirects, every resolved address checked against `allowed`, a bounded connect;
/// each request sets its own time limit, and the caller checks a literal address first
/// ([`check_url`]).
pub fn streaming_client(allowed: &Allowed) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(GuardedResolver {
            allowed: allowed.clone(),
        })
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .unwrap_or_default()
}

/// Whether `url` (http or https) reaches only `networks`: its host an address in them, or a name
/// every address of which is. For hosts the platform sends its own secrets to (its fleets), where
/// a public address is as wrong as a private one.
pub async fn check_within(url: &str, networks: &Allowed) -> Result<(), EgressError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| EgressError::BadUrl(url.to_owned()))?;
    let port = parsed
        .port_or_known_default()
        .filter(|_| matches!(parsed.scheme(), "http" | "https"))
        .ok_or_else(|| EgressError::BadUrl(url.to_owned()))?;
    let host = match parsed.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4).to_string(),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6).to_string(),
        Some(url::Host::Domain(name)) => name.to_owned(),
        None => return Err(EgressError::BadUrl(url.to_owned())),
    };
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| EgressError::Unreachable(format!("{host} does not resolve: {e}")))?
        .collect();
    if found.is_empty() {
        return Err(EgressError::Unreachable(format!("{host} has no address")));
    }
    match found.iter().find(|a| !networks.contains(a.ip())) {
        Some(outside) => Err(EgressError::Outside {
            host,
            address: outside.ip(),
        }),
        None => Ok(()),
    }
}

/// An IPv4 address mapped into IPv6 is judged as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Not loopback, private, link-local, unique-local, shared (CGNAT), multicast, broadcast or
/// unspecified.
fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Why a guarded request did not get a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error("{0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error("{0:?} is not a network (CIDR such as 10.0.0.0/8, or an address)")]
    BadNetwork(String),
    #[error(
        "{host} is a private address ({address}); an admin can allow its network \
         (OUTBOUND_ALLOWED_NETWORKS)"
    )]
    Forbidden { host: String, address: IpAddr },
    #[error("{host} ({address}) is outside the networks allowed for it")]
    Outside { host: String, address: IpAddr },
    #[error("the reply redirects (HTTP {status}) to {location:?}; redirects are not followed")]
    Redirect { status: u16, location: String },
    #[error("the reply is over {limit} bytes")]
    TooLarge { limit: usize },
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("unreachable: {0}")]
    Unreachable(String),
}

/// A name resolved, with every address the policy refuses left out.
#[derive(Debug)]
struct GuardedResolver {
    allowed: Allowed,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = self.allowed.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allowed.permits(a.ip()))
                .collect();
            match (permitted.is_empty(), found.first()) {
                (true, Some(refused)) => Err(Box::new(EgressError::Forbidden {
                    host,
                    address: refused.ip(),
                })
                    as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

/// The policy of a guarded client.
#[derive(Debug, Clone)]
pub struct Policy {
    pub allowed: Allowed,
    /// The most a reply may hold.
    pub max_reply_bytes: usize,
    /// The whole exchange, connect to last byte.
    pub timeout: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            allowed: Allowed::default(),
            max_reply_bytes: 1 << 20,
            timeout: Duration::from_secs(10),
        }
    }
}

/// A reply that came back whole, within the limits.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

/// The guarded client; cheap to clone.
#[derive(Debug, Clone)]
pub struct Egress {
    client: reqwest::Client,
    policy: Arc<Policy>,
}

impl Egress {
    pub fn new(policy: Policy) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(GuardedResolver {
                allowed: policy.allowed.clone(),
            })
            .timeout(policy.timeout)
            .build()
            .unwrap_or_default();
        Self {
            client,
            policy: Arc::new(policy),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// [`check_url`] under this client's policy.
    pub fn check_url(&self, url: &str) -> Result<reqwest::Url, EgressError> {
        check_url(url, &self.policy.allowed)
    }

    /// POSTs `body` as JSON, with `headers`, and reads the reply within the policy.
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &serde_json::Value,
    ) -> Result<Reply, EgressError> {
        let bytes =
            serde_json::to_vec(body).map_err(|e| EgressError::Unreachable(e.to_string()))?;
        let mut with_type = vec![("content-type", "application/json".to_owned())];
        with_type.extend(headers.iter().cloned());
        self.post(url, &with_type, bytes).await
    }

    /// POSTs `body` as it is (a signed payload), with `headers`, and reads the reply within the
    /// policy.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Reply, EgressError> {
        let url = self.check_url(url)?;
        let mut request = self.client.post(url).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let timeout = self.policy.timeout;
        let response = request.send().await.map_err(|e| failed(&e, timeout))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            return Err(EgressError::Redirect {
                status: status.as_u16(),
                location,
            });
        }
        let limit = self.policy.max_reply_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(EgressError::TooLarge { limit });
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed(&e, timeout))? {
            if body.len() + chunk.len() > limit {
                return Err(EgressError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status: status.as_u16(),
            body: body.into(),
        })
    }
}

/// What a transport failure says: the policy's refusal when the resolver refused, else the
/// failure without the internals of the error chain.
fn failed(error: &reqwest::Error, timeout: Duration) -> EgressError {
    if error.is_timeout() {
        return EgressError::Timeout(timeout);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<EgressError>() {
            return refused.clone();
        }
        source = cause.source();
    }
    if error.is_connect() {
        return EgressError::Unreachable("the connection failed".to_owned());
    }
    EgressError::Unreachable("the exchange failed".to_owned())
}
