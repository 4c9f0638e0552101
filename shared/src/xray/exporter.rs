//! Where finished subsegments go: the X-Ray daemon over UDP when Lambda runs one
//! (`AWS_XRAY_DAEMON_ADDRESS`), else a debug log line, so local runs can see them.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::{Arc, OnceLock};

use super::segment::Subsegment;

/// Cheap to clone: every traced client of a container shares one.
#[derive(Debug, Clone, Default)]
pub struct Exporter(Arc<Sink>);

#[derive(Debug, Default)]
enum Sink {
    /// Debug-level log lines (target `xray`).
    #[default]
    Log,
    /// UDP datagrams to the daemon; the socket is opened on the first sampled call, so an
    /// unsampled container never opens one.
    Daemon { address: SocketAddr, socket: OnceLock<Option<UdpSocket>> },
}

/// `AWS_XRAY_DAEMON_ADDRESS` in neither form the X-Ray SDKs accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("AWS_XRAY_DAEMON_ADDRESS {0:?} is neither host:port nor udp:host:port tcp:host:port")]
pub(crate) struct DaemonAddressError(String);

impl Exporter {
    /// To the daemon Lambda names in `AWS_XRAY_DAEMON_ADDRESS`; to the log without it. A value
    /// it cannot read is logged and the log used: tracing must never keep a function from starting.
    pub fn from_env() -> Self {
        let Ok(value) = std::env::var("AWS_XRAY_DAEMON_ADDRESS") else { return Self::to_log() };
        match daemon_address(&value) {
            Ok(address) => Self::to_daemon(address),
            Err(error) => {
                tracing::warn!(%error, "X-Ray subsegments go to the debug log instead");
                Self::to_log()
            }
        }
    }

    pub fn to_daemon(address: SocketAddr) -> Self {
        Self(Arc::new(Sink::Daemon { address, socket: OnceLock::new() }))
    }

    pub fn to_log() -> Self {
        Self(Arc::new(Sink::Log))
    }

    /// Best effort, as the X-Ray SDKs do: a datagram that cannot be sent is dropped.
    pub(super) fn export(&self, segment: &Subsegment<'_>) {
        match &*self.0 {
            Sink::Log => {
                if tracing::enabled!(target: "xray", tracing::Level::DEBUG) {
                    if let Ok(document) = serde_json::to_string(segment) {
                        tracing::debug!(target: "xray", subsegment = %document, "xray subsegment");
                    }
                }
            }
            Sink::Daemon { address, socket } => {
                let (Some(socket), Ok(packet)) = (socket.get_or_init(|| bind(address)), segment.packet()) else {
                    return;
                };
                if let Err(error) = socket.send_to(&packet, address) {
                    tracing::debug!(%error, "xray subsegment not sent");
                }
            }
        }
    }
}

/// A non-blocking socket of the daemon's address family: a send never waits.
fn bind(daemon: &SocketAddr) -> Option<UdpSocket> {
    let local: SocketAddr =
        if daemon.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = UdpSocket::bind(local).inspect_err(|error| tracing::warn!(%error, "no UDP socket for X-Ray")).ok()?;
    socket.set_nonblocking(true).ok()?;
    Some(socket)
}

/// `host:port` (Lambda's form), or the SDKs' `udp:host:port tcp:host:port` in either order.
pub(crate) fn daemon_address(value: &str) -> Result<SocketAddr, DaemonAddressError> {
    let invalid = || DaemonAddressError(value.to_owned());
    let candidate = value
        .split_whitespace()
        .find_map(|part| match part.strip_prefix("udp:") {
            Some(udp) => Some(udp),
            None if part.starts_with("tcp:") => None,
            None => Some(part),
        })
        .ok_or_else(invalid)?;
    candidate.to_socket_addrs().ok().and_then(|mut found| found.next()).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_forms_of_the_daemon_address() {
        let daemon: SocketAddr = "169.254.79.129:2000".parse().expect("address");
        assert_eq!(daemon_address("169.254.79.129:2000"), Ok(daemon));
        assert_eq!(daemon_address("tcp:169.254.79.129:2000 udp:169.254.79.129:2000"), Ok(daemon));
        assert_eq!(daemon_address("udp:169.254.79.129:2000 tcp:127.0.0.1:2000"), Ok(daemon));
        for bad in ["", "tcp:127.0.0.1:2000", "169.254.79.129", "udp:not an address"] {
            assert!(daemon_address(bad).is_err(), "{bad:?}");
        }
    }
}
