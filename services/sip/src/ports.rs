//! The RTP port range: each call's RTP socket on an even port inside it, the next one up for RTCP.
//!
//! Firewalls and NAT rules open a range (the platform we replace uses 10000–20000 by default);
//! RTP goes on the even port of a pair and RTCP on the odd one above it (RFC 3550 §11). Ports are
//! handed out round-robin from a cursor, so a port just freed is not reused at once (a late packet
//! of the old call lands nowhere); a port some other process holds is skipped. A range with no
//! free pair left is an error the INVITE's answer turns into 503.

use parking_lot::Mutex;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use tokio::net::UdpSocket;

/// Why no RTP socket could be opened.
#[derive(Debug, thiserror::Error)]
#[error("no free RTP port pair in {start}–{end} on {ip}")]
pub struct NoPort {
    pub ip: IpAddr,
    pub start: u16,
    pub end: u16,
}

/// The RTP (and RTCP) sockets of one call.
#[derive(Debug)]
pub struct Pair {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
}

/// Hands out port pairs from a range.
#[derive(Debug)]
pub struct Ports {
    ip: IpAddr,
    first: u16,
    last: u16,
    cursor: Mutex<u16>,
}

impl Ports {
    /// Pairs on `ip` within `range` (its first even port to its last odd one).
    pub fn new(ip: IpAddr, range: RangeInclusive<u16>) -> Self {
        let first = range.start().saturating_add(range.start() % 2);
        let last = *range.end();
        Self {
            ip,
            first,
            last,
            cursor: Mutex::new(first),
        }
    }

    /// How many pairs the range holds.
    pub fn capacity(&self) -> usize {
        if self.last <= self.first {
            return 0;
        }
        usize::from(self.last - self.first).div_ceil(2)
    }

    /// The next free pair.
    pub async fn open(&self) -> Result<Pair, NoPort> {
        for _ in 0..self.capacity() {
            let port = {
                let mut cursor = self.cursor.lock();
                let port = *cursor;
                *cursor = if port.saturating_add(3) > self.last {
                    self.first
                } else {
                    port + 2
                };
                port
            };
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(self.ip, port)).await else {
                continue;
            };
            let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(self.ip, port + 1)).await else {
                continue;
            };
            return Ok(Pair { rtp, rtcp });
        }
        Err(NoPort {
            ip: self.ip,
            start: self.first,
            end: self.last,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    /// A free even port with the three pairs above it free too (the test's own range).
    async fn free_range() -> u16 {
        for _ in 0..50 {
            let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let base = probe.local_addr().unwrap().port() & !1;
            drop(probe);
            if base < 60_000
                && (base..base + 8).all(|p| std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok())
            {
                return base;
            }
        }
        panic!("no free range on loopback");
    }

    #[tokio::test]
    async fn pairs_are_even_and_odd_handed_out_in_turn_and_a_taken_port_is_skipped() {
        let base = free_range().await;
        let ports = Ports::new(loopback(), base..=base + 7);
        assert_eq!(ports.capacity(), 4);
        let first = ports.open().await.unwrap();
        let rtp = first.rtp.local_addr().unwrap().port();
        assert_eq!(
            (rtp, first.rtcp.local_addr().unwrap().port()),
            (base, base + 1)
        );
        // Someone else holds the next pair's RTCP port: that pair is skipped.
        let squatter = std::net::UdpSocket::bind(("127.0.0.1", base + 3)).unwrap();
        let second = ports.open().await.unwrap();
        assert_eq!(second.rtp.local_addr().unwrap().port(), base + 4);
        let third = ports.open().await.unwrap();
        assert_eq!(third.rtp.local_addr().unwrap().port(), base + 6);
        // Everything is taken now; freeing the first pair makes room again (round-robin).
        let full = ports.open().await.unwrap_err();
        assert!(full.to_string().contains("no free RTP port pair"), "{full}");
        drop(first);
        let again = ports.open().await.unwrap();
        assert_eq!(again.rtp.local_addr().unwrap().port(), base);
        drop(squatter);
    }

    #[test]
    fn an_odd_start_begins_at_the_next_even_port_and_a_tiny_range_holds_nothing() {
        let ports = Ports::new(loopback(), 10_001..=10_010);
        assert_eq!(ports.capacity(), 4);
        assert_eq!(Ports::new(loopback(), 10_000..=10_000).capacity(), 0);
    }
}
