//! `vox sip`: the gateway's settings (`VOX_SIP_*`) and the command that runs it until SIGTERM.
//!
//! The gateway answers SIP on UDP and TCP at `VOX_SIP_LISTEN`, asks the Backend's telephony edge
//! (`VOXBRIDGE_URL`, the fleet secret) where each INVITE of the trunk account `VOX_SIP_ACCOUNT`
//! goes, and bridges its RTP to a worker. `/health` and `/metrics` are served on
//! `127.0.0.1:VOX_SIP_HEALTH_PORT`; the call control the dialler and the edge use (place, hang
//! up, transfer; `sip::api`, guarded by the trunk's control token) on `VOX_SIP_CONTROL_LISTEN`. It reads its trunk's settings from the Backend (retrying while
//! the Backend cannot answer) and registers with the trunk when they say so, else sends it an
//! OPTIONS every 30 s to see it is there. On SIGTERM it drains:
//! it unregisters, new INVITEs get 503 with Retry-After, live calls have `VOX_SIP_DRAIN_SECONDS`
//! to finish, and the ones left are hung up with a BYE.

use crate::config::{ConfigError, Requirement, Settings, parsed, problem};
use anyhow::Context;
use secrecy::ExposeSecret;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

pub const DEFAULT_SIP_LISTEN: &str = "127.0.0.1:5060";
pub const DEFAULT_SIP_RTP_PORTS: RangeInclusive<u16> = 10_000..=20_000;
pub const DEFAULT_SIP_RTP_TIMEOUT_SECONDS: u32 = 30;
pub const DEFAULT_SIP_HEALTH_PORT: u16 = 8092;
pub const DEFAULT_SIP_DRAIN_SECONDS: u32 = 300;
pub const DEFAULT_SIP_CONTROL_LISTEN: &str = "127.0.0.1:8093";

/// The settings of `vox sip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipSettings {
    /// SIP over UDP and TCP.
    pub listen: SocketAddr,
    /// The `sip` carrier account whose trunk this gateway serves.
    pub account: Option<i64>,
    /// RTP (even) and RTCP (odd) ports.
    pub rtp_ports: RangeInclusive<u16>,
    /// The address SDP and Contact name behind NAT.
    pub external_ip: Option<IpAddr>,
    pub rtp_timeout_seconds: u32,
    pub health_port: u16,
    /// The call control's HTTP address (the account's `api_url` names it).
    pub control_listen: SocketAddr,
    pub drain_seconds: u32,
    /// The networks SIP is taken from; `None`: from anywhere.
    pub allowed_networks: Option<egress::Allowed>,
}

impl SipSettings {
    /// Reads the `VOX_SIP_*` settings through `text`.
    pub(crate) fn from_source(text: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let listen: SocketAddr = parsed(
            "VOX_SIP_LISTEN",
            text("VOX_SIP_LISTEN"),
            DEFAULT_SIP_LISTEN.parse().expect("a valid default"),
        )?;
        let account = text("VOX_SIP_ACCOUNT")
            .map(|value| match value.trim().parse::<i64>() {
                Ok(id) if id > 0 => Ok(id),
                _ => Err(problem(
                    "VOX_SIP_ACCOUNT",
                    format!("{value:?} is not a carrier account id (a positive integer)"),
                )),
            })
            .transpose()?;
        let rtp_ports = match text("VOX_SIP_RTP_PORTS") {
            None => DEFAULT_SIP_RTP_PORTS,
            Some(value) => port_range(&value)?,
        };
        let external_ip: Option<IpAddr> = text("VOX_SIP_EXTERNAL_IP")
            .map(|value| parsed("VOX_SIP_EXTERNAL_IP", Some(value), IpAddr::from([0; 4])))
            .transpose()?;
        if external_ip.is_some_and(|ip| ip.is_unspecified()) {
            return Err(problem(
                "VOX_SIP_EXTERNAL_IP",
                "must be the address phones reach this host at, not an unspecified one",
            ));
        }
        if listen.ip().is_unspecified() && external_ip.is_none() {
            return Err(problem(
                "VOX_SIP_EXTERNAL_IP",
                format!(
                    "is required when VOX_SIP_LISTEN is {listen} (every address): SDP must name the one address phones send RTP to"
                ),
            ));
        }
        let rtp_timeout_seconds = parsed(
            "VOX_SIP_RTP_TIMEOUT",
            text("VOX_SIP_RTP_TIMEOUT"),
            DEFAULT_SIP_RTP_TIMEOUT_SECONDS,
        )?;
        if rtp_timeout_seconds == 0 {
            return Err(problem("VOX_SIP_RTP_TIMEOUT", "must be at least 1 second"));
        }
        Ok(Self {
            listen,
            account,
            rtp_ports,
            external_ip,
            rtp_timeout_seconds,
            health_port: parsed(
                "VOX_SIP_HEALTH_PORT",
                text("VOX_SIP_HEALTH_PORT"),
                DEFAULT_SIP_HEALTH_PORT,
            )?,
            control_listen: parsed(
                "VOX_SIP_CONTROL_LISTEN",
                text("VOX_SIP_CONTROL_LISTEN"),
                DEFAULT_SIP_CONTROL_LISTEN.parse().expect("a valid default"),
            )?,
            drain_seconds: parsed(
                "VOX_SIP_DRAIN_SECONDS",
                text("VOX_SIP_DRAIN_SECONDS"),
                DEFAULT_SIP_DRAIN_SECONDS,
            )?,
            allowed_networks: text("VOX_SIP_ALLOWED_NETWORKS")
                .map(|networks| {
                    crate::providers::allowed_networks(
                        "VOX_SIP_ALLOWED_NETWORKS",
                        Some(networks),
                        "",
                    )
                })
                .transpose()?,
        })
    }

    /// The gateway's configuration: RTP on the SIP address.
    pub fn gateway(&self) -> sip::gateway::GatewayConfig {
        sip::gateway::GatewayConfig {
            rtp_ports: self.rtp_ports.clone(),
            external_ip: self.external_ip,
            rtp_timeout: Duration::from_secs(self.rtp_timeout_seconds.into()),
            allowed_sources: self.allowed_networks.clone(),
            ..sip::gateway::GatewayConfig::new(self.listen)
        }
    }
}

/// `LOW-HIGH`: at least one RTP/RTCP pair, above the well-known ports.
fn port_range(value: &str) -> Result<RangeInclusive<u16>, ConfigError> {
    let malformed = || {
        problem(
            "VOX_SIP_RTP_PORTS",
            format!("{value:?} is not a port range such as 10000-20000"),
        )
    };
    let (low, high) = value.trim().split_once('-').ok_or_else(malformed)?;
    let low: u16 = low.trim().parse().map_err(|_| malformed())?;
    let high: u16 = high.trim().parse().map_err(|_| malformed())?;
    if low < 1024 || high <= low {
        return Err(problem(
            "VOX_SIP_RTP_PORTS",
            format!(
                "{value:?} must run upwards from 1024 or above and hold an RTP and RTCP pair at least"
            ),
        ));
    }
    Ok(low..=high)
}

impl Settings {
    pub(crate) fn require_sip(&self) -> Result<(), ConfigError> {
        if self.sip.account.is_none() {
            return Err(problem(
                "VOX_SIP_ACCOUNT",
                "is required by vox sip: the id of the `sip` carrier account (the trunk) it serves",
            ));
        }
        if self.voxcore_secret.is_none() {
            return Err(problem(
                "VOXCORE_SECRET",
                "is required by vox sip (it presents it to the Backend's telephony edge)",
            ));
        }
        if self.voxbridge_url.is_none() {
            return Err(problem(
                "VOXBRIDGE_URL",
                "is required by vox sip (the Backend's telephony edge routes each INVITE)",
            ));
        }
        Ok(())
    }
}

/// Starts the gateway for `account` on `config`, with the Backend at `backend` as its router.
pub(crate) async fn start(
    config: sip::gateway::GatewayConfig,
    backend: &str,
    account: i64,
    secret: &str,
) -> anyhow::Result<sip::gateway::Gateway> {
    let listen = config.listen;
    let router = sip::edge::EdgeRouter::new(backend, account, secret);
    sip::gateway::Gateway::start(config, std::sync::Arc::new(router))
        .await
        .with_context(|| format!("start the SIP gateway on {listen} (VOX_SIP_LISTEN)"))
}

/// The trunk's settings from the Backend, asked again (1 s, doubling to 30 s) until it answers.
pub(crate) async fn trunk_settings(
    edge: &sip::edge::EdgeRouter,
    backend: &str,
    account: i64,
) -> sip::edge::Trunk {
    let mut wait = Duration::from_secs(1);
    loop {
        match edge.trunk().await {
            Ok(trunk) => return trunk,
            Err(error) => {
                tracing::warn!(%error, %backend, account, retry_in = ?wait, "cannot read the trunk's settings from the Backend");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// What to register with, when the trunk registers: its address, credentials and proxy (resolved).
async fn registration(
    trunk: &sip::edge::Trunk,
) -> anyhow::Result<Option<sip::register::RegisterConfig>> {
    if !trunk.register {
        return Ok(None);
    }
    let username = trunk
        .username
        .clone()
        .context("the trunk registers but has no username")?;
    let outbound_proxy = match &trunk.outbound_proxy {
        None => None,
        Some(proxy) => Some(resolve_proxy(proxy).await?),
    };
    Ok(Some(sip::register::RegisterConfig {
        registrar: trunk.address.clone(),
        tcp: trunk.tcp,
        username,
        password: trunk.password.clone(),
        outbound_proxy,
        expires: REGISTER_EXPIRES_SECONDS,
    }))
}

/// An outbound proxy's `host[:port]` resolved (SIP's port 5060 when it names none).
async fn resolve_proxy(proxy: &str) -> anyhow::Result<SocketAddr> {
    let has_port = match proxy.strip_prefix('[') {
        Some(rest) => rest.contains("]:"),
        None => proxy.contains(':'),
    };
    let target = if has_port {
        proxy.to_owned()
    } else {
        format!("{proxy}:5060")
    };
    let mut resolved = tokio::net::lookup_host(target.as_str())
        .await
        .with_context(|| format!("resolve the outbound proxy {proxy}"))?;
    resolved
        .next()
        .with_context(|| format!("the outbound proxy {proxy} has no address"))
}

/// Has the gateway challenge the trunk's INVITEs when its settings say so.
pub(crate) fn challenge(gateway: &sip::gateway::Gateway, trunk: &sip::edge::Trunk) {
    if let (true, Some(username)) = (trunk.authenticate_callers, &trunk.username) {
        println!("vox sip: callers authenticate as {username}");
        gateway.challenge_callers(username.clone(), trunk.password.clone());
    }
}

/// How often a trunk vox does not register with is sent an OPTIONS.
const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(30);

/// The expiry a registration asks for (an hour, as phones do; the registrar may grant less).
const REGISTER_EXPIRES_SECONDS: u32 = 3600;

/// Serves `gateway`'s `/health` and `/metrics` on 127.0.0.1:`port` (0: a free one); the address.
pub(crate) async fn serve_health(
    gateway: &sip::gateway::Gateway,
    port: u16,
) -> anyhow::Result<std::net::SocketAddr> {
    let health = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| {
            format!("listen on 127.0.0.1:{port} (VOX_SIP_HEALTH_PORT): is the port taken?")
        })?;
    let address = health.local_addr().context("the health address")?;
    tokio::spawn(serve::serve(
        health,
        sip::metrics::router(gateway.metrics()),
        serve::Limits::default(),
        std::future::pending(),
    ));
    Ok(address)
}

/// Serves `gateway`'s call control on `listen` (port 0: a free one), reporting to `edge`; the
/// API (its trunk set once known) and its address.
pub(crate) async fn serve_control(
    gateway: &sip::gateway::Gateway,
    edge: &sip::edge::EdgeRouter,
    listen: SocketAddr,
) -> anyhow::Result<(sip::api::Api, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen on {listen} (VOX_SIP_CONTROL_LISTEN): is it taken?"))?;
    let address = listener.local_addr().context("the control address")?;
    let api = sip::api::Api::new(gateway.control(), std::sync::Arc::new(edge.clone()));
    tokio::spawn(serve::serve(
        listener,
        api.router(),
        serve::Limits::default(),
        std::future::pending(),
    ));
    Ok((api, address))
}

/// What the call control dials through: the trunk's address and credentials, its proxy, the
/// token the Backend derived.
pub(crate) async fn api_trunk(trunk: &sip::edge::Trunk) -> anyhow::Result<sip::api::ApiTrunk> {
    let outbound_proxy = match &trunk.outbound_proxy {
        None => None,
        Some(proxy) => Some(resolve_proxy(proxy).await?),
    };
    trunk.api_trunk(outbound_proxy).map_err(anyhow::Error::msg)
}

/// `vox sip`: the gateway until SIGTERM, then a drain.
pub async fn sip(settings: &Settings) -> anyhow::Result<()> {
    settings.require(Requirement::Sip)?;
    let sip = &settings.sip;
    let (account, backend, secret) = match (
        sip.account,
        &settings.voxbridge_url,
        &settings.voxcore_secret,
    ) {
        (Some(account), Some(backend), Some(secret)) => (account, backend, secret),
        _ => anyhow::bail!("checked by require"),
    };
    let gateway = start(sip.gateway(), backend, account, secret.expose_secret()).await?;
    let health_addr = serve_health(&gateway, sip.health_port).await?;
    let edge = sip::edge::EdgeRouter::new(backend, account, secret.expose_secret());
    let (api, control_addr) = serve_control(&gateway, &edge, sip.control_listen).await?;
    tracing::info!(sip = %gateway.sip_addr, account, backend = %backend, "vox sip started");
    if sip.allowed_networks.is_none() && !sip.listen.ip().is_loopback() {
        tracing::warn!(
            "VOX_SIP_ALLOWED_NETWORKS is unset: SIP from any address is answered; set it to the trunk's signalling networks"
        );
    }
    println!(
        "vox sip {}: SIP on {} (UDP and TCP) for carrier account {account} · RTP ports {}-{}{} · health and metrics on http://{health_addr} · call control on http://{control_addr}",
        crate::VERSION,
        gateway.sip_addr,
        sip.rtp_ports.start(),
        sip.rtp_ports.end(),
        sip.external_ip
            .map(|ip| format!(" · external address {ip}"))
            .unwrap_or_default(),
    );
    tokio::select! {
        trunk = trunk_settings(&edge, backend, account) => {
            match api_trunk(&trunk).await {
                Ok(dialled) => api.set_trunk(dialled),
                Err(error) => tracing::error!(error = %format!("{error:#}"), "vox sip cannot place calls"),
            }
            challenge(&gateway, &trunk);
            match registration(&trunk).await {
                // A trunk vox does not register with is asked whether it is there.
                Ok(None) => gateway.keep_alive(&trunk.address, trunk.tcp, KEEP_ALIVE_EVERY)?,
                Ok(Some(config)) => {
                    println!(
                        "vox sip: registering with {} as {}",
                        config.registrar, config.username
                    );
                    gateway.register(config)?;
                }
                // The settings were saved through the API's checks; a proxy that does not
                // resolve is named and the gateway goes on taking the trunk's calls.
                Err(error) => tracing::error!(error = %format!("{error:#}"), "vox sip cannot register"),
            }
            crate::commands::shutdown_signal().await;
        }
        () = crate::commands::shutdown_signal() => {}
    }
    let live = gateway.metrics().calls_up();
    println!(
        "vox sip: draining: new calls get 503; {live} live call(s) have {} s to finish",
        sip.drain_seconds
    );
    gateway
        .shutdown(Duration::from_secs(sip.drain_seconds.into()))
        .await;
    println!("vox sip: stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(register: bool, username: Option<&str>, proxy: Option<&str>) -> sip::edge::Trunk {
        sip::edge::Trunk {
            address: "sip.example.com".into(),
            username: username.map(str::to_owned),
            password: "secret".into(),
            register,
            outbound_proxy: proxy.map(str::to_owned),
            tcp: true,
            control_token: Some("token".into()),
            authenticate_callers: false,
        }
    }

    #[tokio::test]
    async fn a_trunk_that_registers_gets_its_credentials_and_its_proxy_resolved_with_sips_port() {
        assert_eq!(
            registration(&trunk(false, Some("vox"), None))
                .await
                .unwrap(),
            None
        );
        let config = registration(&trunk(true, Some("vox"), Some("127.0.0.1")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            config.outbound_proxy,
            Some("127.0.0.1:5060".parse().unwrap())
        );
        assert_eq!((config.username.as_str(), config.tcp), ("vox", true));
        assert_eq!(config.expires, REGISTER_EXPIRES_SECONDS);
        let config = registration(&trunk(true, Some("vox"), Some("[::1]:5080")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(config.outbound_proxy, Some("[::1]:5080".parse().unwrap()));
        assert!(registration(&trunk(true, None, None)).await.is_err());
    }
}
