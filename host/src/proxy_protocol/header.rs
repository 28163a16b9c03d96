//! Reading one PROXY header (v1 or v2) off a connection, no byte further: what follows is the
//! client's (a TLS ClientHello on the implicit listener and on data connections). Parsing is
//! the `ppp` crate's; this file only frames the bytes and bounds them.

use std::net::SocketAddr;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The v2 signature.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 line the specification allows, CRLF included.
const V1_MAX: usize = 107;
/// Address block and TLVs a v2 header may carry here (HAProxy sends well under 1 KiB).
const V2_MAX_PAYLOAD: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("no header within {0} s")]
    Timeout(u64),
    #[error("connection closed before the header: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a PROXY protocol header")]
    Missing,
    #[error("v1 header longer than {V1_MAX} bytes")]
    V1TooLong,
    #[error("v2 header payload of {0} bytes (at most {V2_MAX_PAYLOAD})")]
    V2TooLong(usize),
    #[error("malformed header: {0}")]
    Malformed(String),
}

/// Reads the header; the client's address, or None for LOCAL / UNKNOWN / non-IP headers
/// (the connection then stands for itself).
pub async fn read(tcp: &mut TcpStream) -> Result<Option<SocketAddr>, HeaderError> {
    // 8 bytes: shorter than any header (v1's shortest is 15), enough to tell the versions.
    let mut buf = vec![0u8; 8];
    tcp.read_exact(&mut buf).await?;
    if buf.starts_with(b"PROXY ") {
        while !buf.ends_with(b"\r\n") {
            if buf.len() >= V1_MAX {
                return Err(HeaderError::V1TooLong);
            }
            let mut b = [0u8; 1];
            tcp.read_exact(&mut b).await?;
            buf.push(b[0]);
        }
        return parse(&buf);
    }
    if buf[..] != V2_SIGNATURE[..8] {
        return Err(HeaderError::Missing);
    }
    buf.resize(16, 0);
    tcp.read_exact(&mut buf[8..]).await?;
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if len > V2_MAX_PAYLOAD {
        return Err(HeaderError::V2TooLong(len));
    }
    buf.resize(16 + len, 0);
    tcp.read_exact(&mut buf[16..]).await?;
    parse(&buf)
}

/// Parses one complete header (no trailing bytes).
pub fn parse(bytes: &[u8]) -> Result<Option<SocketAddr>, HeaderError> {
    if bytes.starts_with(b"PROXY ") {
        let h =
            ppp::v1::Header::try_from(bytes).map_err(|e| HeaderError::Malformed(e.to_string()))?;
        return plausible(match h.addresses {
            ppp::v1::Addresses::Tcp4(a) => Some((a.source_address, a.source_port).into()),
            ppp::v1::Addresses::Tcp6(a) => Some((a.source_address, a.source_port).into()),
            ppp::v1::Addresses::Unknown => None,
        });
    }
    if !bytes.starts_with(&V2_SIGNATURE) {
        return Err(HeaderError::Missing);
    }
    let h = ppp::v2::Header::try_from(bytes).map_err(|e| HeaderError::Malformed(e.to_string()))?;
    if h.command == ppp::v2::Command::Local {
        return Ok(None);
    }
    if h.protocol == ppp::v2::Protocol::Datagram {
        return Err(HeaderError::Malformed(
            "a UDP header for a TCP connection".into(),
        ));
    }
    let source: Option<SocketAddr> = match h.addresses {
        ppp::v2::Addresses::IPv4(a) => Some((a.source_address, a.source_port).into()),
        ppp::v2::Addresses::IPv6(a) => Some((a.source_address, a.source_port).into()),
        ppp::v2::Addresses::Unspecified | ppp::v2::Addresses::Unix(_) => None,
    };
    plausible(source)
}

/// No client connects from 0.0.0.0, ::, or a broadcast or multicast address.
fn plausible(source: Option<SocketAddr>) -> Result<Option<SocketAddr>, HeaderError> {
    let Some(a) = source else { return Ok(None) };
    let ip = crate::config::network::canonical(a.ip());
    let bogus = ip.is_unspecified()
        || ip.is_multicast()
        || matches!(ip, std::net::IpAddr::V4(v4) if v4.is_broadcast());
    if bogus {
        return Err(HeaderError::Malformed(format!("{ip} cannot be a client")));
    }
    Ok(Some(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(command: u8, family: u8, payload: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.extend([command, family]);
        h.extend((payload.len() as u16).to_be_bytes());
        h.extend(payload);
        h
    }

    #[test]
    fn v1_tcp4_tcp6_and_unknown() {
        assert_eq!(
            parse(b"PROXY TCP4 203.0.113.7 10.0.0.1 40123 21\r\n").unwrap(),
            Some("203.0.113.7:40123".parse().unwrap())
        );
        assert_eq!(
            parse(b"PROXY TCP6 2001:db8::1 2001:db8::2 5 21\r\n").unwrap(),
            Some("[2001:db8::1]:5".parse().unwrap())
        );
        assert_eq!(parse(b"PROXY UNKNOWN\r\n").unwrap(), None);
    }

    #[test]
    fn v2_proxy_local_and_tlvs() {
        let mut p = vec![203, 0, 113, 9, 10, 0, 0, 1];
        p.extend(1234u16.to_be_bytes());
        p.extend(21u16.to_be_bytes());
        assert_eq!(
            parse(&v2(0x21, 0x11, &p)).unwrap(),
            Some("203.0.113.9:1234".parse().unwrap())
        );
        p.extend([4, 0, 1, 42]); // a NOOP TLV
        assert_eq!(
            parse(&v2(0x21, 0x11, &p)).unwrap(),
            Some("203.0.113.9:1234".parse().unwrap())
        );
        assert_eq!(parse(&v2(0x20, 0x00, &[])).unwrap(), None, "LOCAL");
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        for bad in [
            &b"PROXY TCP4 1.2.3.4\r\n"[..],
            b"PROXY TCP4 999.0.0.1 1.1.1.1 1 2\r\n",
            b"USER alice\r\n",
            b"",
            &V2_SIGNATURE[..],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse(&v2(0x21, 0x11, &[1, 2, 3])).is_err(),
            "short address block"
        );
        assert!(parse(&v2(0x2f, 0x11, &[0; 12])).is_err(), "unknown command");
        assert!(parse(b"PROXY TCP4 0.0.0.0 1.1.1.1 1 2\r\n").is_err());
        assert!(parse(b"PROXY TCP4 255.255.255.255 1.1.1.1 1 2\r\n").is_err());
        let mut udp = vec![203, 0, 113, 9, 10, 0, 0, 1, 0, 1, 0, 2];
        assert!(parse(&v2(0x21, 0x12, &udp)).is_err(), "UDP");
        udp.clear();
    }
}
