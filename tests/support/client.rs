//! A raw FTPS client: control commands, PASV/EPSV/PORT data connections, TLS on both channels
//! with session resumption (as curl and lftp do). Tests see every reply code.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::client::Resumption;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// All lines joined by '\n' (for multi-line replies).
    pub text: String,
}

enum Ctrl {
    Plain(BufReader<TcpStream>),
    Tls(Box<BufReader<tokio_rustls::client::TlsStream<TcpStream>>>),
    None,
}

pub struct FtpClient {
    ctrl: Ctrl,
    pub tls: Arc<ClientConfig>,
    pub addr: SocketAddr,
    pub data_tls: bool,
    /// The local address every connection of this client comes from (127.0.0.x: one of
    /// "many clients" on loopback); None = the system's choice.
    pub source: Option<std::net::IpAddr>,
    /// Speaking as a load balancer: every connection (control and data) starts with a PROXY
    /// v2 header naming this client address.
    pub proxy_as: Option<SocketAddr>,
}

/// A PROXY protocol v2 header (TCP over IPv4) for a connection from `client` to `server`.
pub fn proxy_v2_header(client: SocketAddr, server: SocketAddr) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend([0x21, 0x11, 0, 12]);
    for a in [client, server] {
        match a.ip() {
            std::net::IpAddr::V4(v4) => h.extend(v4.octets()),
            std::net::IpAddr::V6(_) => panic!("IPv4 only"),
        }
    }
    h.extend(client.port().to_be_bytes());
    h.extend(server.port().to_be_bytes());
    h
}

/// A TCP connection to `addr` from `source` (any port), or from the system's choice.
pub async fn tcp_from(
    source: Option<std::net::IpAddr>,
    addr: SocketAddr,
) -> std::io::Result<TcpStream> {
    let Some(ip) = source else {
        return TcpStream::connect(addr).await;
    };
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.bind(SocketAddr::new(ip, 0))?;
    sock.connect(addr).await
}

/// A client TLS config trusting the test certificate, with an in-memory session cache.
pub fn tls_config(cert: &Path) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.resumption = Resumption::in_memory_sessions(64);
    Arc::new(cfg)
}

pub fn server_name() -> ServerName<'static> {
    ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into())
}

impl FtpClient {
    pub async fn connect_plain(addr: SocketAddr, cert: &Path) -> FtpClient {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let mut c = FtpClient {
            ctrl: Ctrl::Plain(BufReader::new(tcp)),
            tls: tls_config(cert),
            addr,
            data_tls: false,
            source: None,
            proxy_as: None,
        };
        let banner = c.read_reply().await;
        assert_eq!(banner.code, 220, "banner: {banner:?}");
        c
    }

    /// Connects and reads the first reply, whatever it is (for limit tests).
    pub async fn connect_raw(addr: SocketAddr, cert: &Path) -> (FtpClient, Reply) {
        Self::connect_raw_from(None, addr, cert).await
    }

    /// `connect_raw` from the local address `source`.
    pub async fn connect_raw_from(
        source: Option<std::net::IpAddr>,
        addr: SocketAddr,
        cert: &Path,
    ) -> (FtpClient, Reply) {
        let tcp = tcp_from(source, addr).await.expect("connect");
        let mut c = FtpClient {
            ctrl: Ctrl::Plain(BufReader::new(tcp)),
            tls: tls_config(cert),
            addr,
            data_tls: false,
            source,
            proxy_as: None,
        };
        let first = c.read_reply().await;
        (c, first)
    }

    pub async fn connect_explicit(addr: SocketAddr, cert: &Path) -> FtpClient {
        Self::connect_explicit_with(addr, tls_config(cert)).await
    }

    pub async fn connect_explicit_with(addr: SocketAddr, tls: Arc<ClientConfig>) -> FtpClient {
        Self::connect_explicit_from(None, addr, tls).await
    }

    /// Explicit TLS from the local address `source` (data connections come from it too).
    pub async fn connect_explicit_from(
        source: Option<std::net::IpAddr>,
        addr: SocketAddr,
        tls: Arc<ClientConfig>,
    ) -> FtpClient {
        let tcp = tcp_from(source, addr).await.expect("connect");
        let mut c = FtpClient {
            ctrl: Ctrl::Plain(BufReader::new(tcp)),
            tls,
            addr,
            data_tls: false,
            source,
            proxy_as: None,
        };
        let greeting = c.read_reply().await;
        assert_eq!(greeting.code, 220, "{greeting:?}");
        c.cmd_ok("AUTH TLS", 234).await;
        c.start_tls().await;
        c
    }

    pub async fn connect_implicit(addr: SocketAddr, cert: &Path) -> FtpClient {
        let tls = tls_config(cert);
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(server_name(), tcp)
            .await
            .expect("implicit TLS handshake");
        let mut c = FtpClient {
            ctrl: Ctrl::Tls(Box::new(BufReader::new(stream))),
            tls,
            addr,
            data_tls: true,
            source: None,
            proxy_as: None,
        };
        assert_eq!(c.read_reply().await.code, 220);
        c
    }

    /// `AUTH <mech>` on a plaintext connection, then the TLS handshake.
    /// How the control connection's TLS handshake went (None before TLS).
    pub fn control_handshake_kind(&self) -> Option<rustls::HandshakeKind> {
        match &self.ctrl {
            Ctrl::Tls(s) => s.get_ref().get_ref().1.handshake_kind(),
            _ => None,
        }
    }

    pub async fn auth(&mut self, mech: &str) {
        self.cmd_ok(&format!("AUTH {mech}"), 234).await;
        self.start_tls().await;
    }

    pub async fn start_tls(&mut self) {
        let Ctrl::Plain(reader) = std::mem::replace(&mut self.ctrl, Ctrl::None) else {
            panic!("already TLS")
        };
        assert!(reader.buffer().is_empty(), "server sent data after 234");
        let tcp = reader.into_inner();
        let stream = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(server_name(), tcp)
            .await
            .expect("TLS handshake");
        self.ctrl = Ctrl::Tls(Box::new(BufReader::new(stream)));
    }

    /// CCC: after the 200, close TLS (send close_notify, read the server's) and go on in plaintext.
    pub async fn ccc(&mut self) -> Reply {
        let r = self.cmd("CCC").await;
        if r.code != 200 {
            return r;
        }
        let Ctrl::Tls(reader) = std::mem::replace(&mut self.ctrl, Ctrl::None) else {
            panic!("not TLS")
        };
        let mut stream = reader.into_inner();
        // Read until the server's close_notify (EOF on the TLS layer).
        let mut sink = [0u8; 64];
        let n = stream.read(&mut sink).await.unwrap_or(0);
        assert_eq!(n, 0, "no application data expected after CCC");
        stream.get_mut().1.send_close_notify();
        stream.flush().await.unwrap();
        let (tcp, _) = stream.into_inner();
        self.ctrl = Ctrl::Plain(BufReader::new(tcp));
        r
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        match &mut self.ctrl {
            Ctrl::Plain(s) => s.get_mut().write_all(bytes).await.unwrap(),
            Ctrl::Tls(s) => {
                s.get_mut().write_all(bytes).await.unwrap();
                s.get_mut().flush().await.unwrap();
            }
            Ctrl::None => unreachable!(),
        }
    }

    async fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        let n = match &mut self.ctrl {
            Ctrl::Plain(s) => s.read_line(&mut line).await,
            Ctrl::Tls(s) => s.read_line(&mut line).await,
            Ctrl::None => unreachable!(),
        };
        match n {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
        }
    }

    /// Reads one (possibly multi-line) reply. A closed connection reads as code 0.
    pub async fn read_reply(&mut self) -> Reply {
        let Some(first) = self.read_line().await else {
            return Reply {
                code: 0,
                text: "connection closed".into(),
            };
        };
        let code: u16 = first
            .get(..3)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("bad reply line {first:?}"));
        let mut text = first.get(4..).unwrap_or("").to_string();
        if first.as_bytes().get(3) == Some(&b'-') {
            let end = format!("{code} ");
            loop {
                let Some(line) = self.read_line().await else {
                    break;
                };
                text.push('\n');
                if let Some(rest) = line.strip_prefix(&end) {
                    text.push_str(rest);
                    break;
                }
                text.push_str(&line);
            }
        }
        Reply { code, text }
    }

    pub async fn cmd(&mut self, line: &str) -> Reply {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
        crate::bounded(line, self.read_reply()).await
    }

    pub async fn cmd_ok(&mut self, line: &str, code: u16) -> Reply {
        let r = self.cmd(line).await;
        assert_eq!(r.code, code, "{line} -> {r:?}");
        r
    }

    pub async fn login(&mut self, user: &str, pass: &str) {
        self.cmd_ok(&format!("USER {user}"), 331).await;
        self.cmd_ok(&format!("PASS {pass}"), 230).await;
    }

    /// PROT C: data connections in clear from now on.
    pub async fn unprotect(&mut self) {
        self.cmd_ok("PROT C", 200).await;
        self.data_tls = false;
    }

    pub async fn protect(&mut self) {
        self.cmd_ok("PBSZ 0", 200).await;
        self.cmd_ok("PROT P", 200).await;
        self.data_tls = true;
    }

    pub async fn pasv(&mut self) -> SocketAddr {
        let r = self.cmd_ok("PASV", 227).await;
        let inner = r
            .text
            .split('(')
            .nth(1)
            .and_then(|s| s.split(')').next())
            .expect("227 (h,h,h,h,p,p)");
        let n: Vec<u16> = inner.split(',').map(|x| x.parse().unwrap()).collect();
        SocketAddr::from((
            [n[0] as u8, n[1] as u8, n[2] as u8, n[3] as u8],
            n[4] << 8 | n[5],
        ))
    }

    pub async fn epsv(&mut self) -> SocketAddr {
        let r = self.cmd_ok("EPSV", 229).await;
        let port: u16 = r
            .text
            .split("|||")
            .nth(1)
            .and_then(|s| s.split('|').next())
            .unwrap()
            .parse()
            .unwrap();
        SocketAddr::new(self.addr.ip(), port)
    }

    /// Sends a transfer command over a fresh PASV connection. Returns the 1xx reply and the
    /// (TLS if PROT P) data stream, or the refusal.
    /// PASV over IPv4, EPSV over IPv6 (PASV cannot carry an IPv6 address), as curl does.
    pub async fn open_transfer(&mut self, line: &str) -> Result<(Reply, DataConn), Reply> {
        let addr = if self.addr.is_ipv6() {
            self.epsv().await
        } else {
            self.pasv().await
        };
        let mut tcp = tcp_from(self.source, addr).await.expect("data connect");
        if let Some(client) = self.proxy_as {
            tcp.write_all(&proxy_v2_header(client, addr))
                .await
                .expect("proxy header");
        }
        self.transfer_on(line, tcp).await
    }

    /// Explicit TLS as a load balancer would carry it: from this host, each connection
    /// announcing `client` in a PROXY v2 header.
    pub async fn connect_explicit_proxied(
        client: SocketAddr,
        addr: SocketAddr,
        tls: Arc<ClientConfig>,
    ) -> Result<FtpClient, Reply> {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        tcp.write_all(&proxy_v2_header(client, addr))
            .await
            .expect("proxy header");
        let mut c = FtpClient {
            ctrl: Ctrl::Plain(BufReader::new(tcp)),
            tls,
            addr,
            data_tls: false,
            source: None,
            proxy_as: Some(client),
        };
        let first = c.read_reply().await;
        if first.code != 220 {
            return Err(first);
        }
        c.cmd_ok("AUTH TLS", 234).await;
        c.start_tls().await;
        Ok(c)
    }

    /// Like `open_transfer`, on an already connected data socket.
    pub async fn transfer_on(
        &mut self,
        line: &str,
        tcp: TcpStream,
    ) -> Result<(Reply, DataConn), Reply> {
        let prelim = self.cmd(line).await;
        if prelim.code != 150 && prelim.code != 125 {
            return Err(prelim);
        }
        let conn = if self.data_tls {
            match tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(server_name(), tcp)
                .await
            {
                Ok(s) => DataConn::Tls(Box::new(s)),
                Err(_) => return Err(self.read_reply().await),
            }
        } else {
            DataConn::Plain(tcp)
        };
        Ok((prelim, conn))
    }

    /// Connects to a passive `addr` and completes the TLS handshake at once, before any
    /// transfer command, as curl does; `tls` chooses the session cache (and so the resumption).
    pub async fn early_data_tls(
        addr: SocketAddr,
        tls: Arc<ClientConfig>,
    ) -> std::io::Result<DataConn> {
        let tcp = TcpStream::connect(addr).await?;
        let s = tokio_rustls::TlsConnector::from(tls)
            .connect(server_name(), tcp)
            .await?;
        Ok(DataConn::Tls(Box::new(s)))
    }

    /// RETR/LIST/NLST/MLSD: the bytes received and the final reply.
    pub async fn download(&mut self, line: &str) -> Result<(Vec<u8>, Reply), Reply> {
        let (_, mut conn) = self.open_transfer(line).await?;
        let mut buf = Vec::new();
        let _ = crate::bounded("data read", conn.read_to_end(&mut buf)).await;
        let done = crate::bounded("final reply", self.read_reply()).await;
        Ok((buf, done))
    }

    pub async fn retr(&mut self, path: &str) -> Vec<u8> {
        let (data, done) = self
            .download(&format!("RETR {path}"))
            .await
            .unwrap_or_else(|r| panic!("RETR {path} refused: {r:?}"));
        assert_eq!(done.code, 226, "RETR {path} final: {done:?}");
        data
    }

    /// STOR/APPE/STOU: the final reply (or the refusal).
    pub async fn upload(&mut self, line: &str, data: &[u8]) -> Reply {
        match self.open_transfer(line).await {
            Ok((_, mut conn)) => {
                conn.write_all(data).await.expect("data write");
                conn.shutdown().await.ok();
                crate::bounded("final reply", self.read_reply()).await
            }
            Err(r) => r,
        }
    }

    pub async fn stor(&mut self, path: &str, data: &[u8]) {
        let r = self.upload(&format!("STOR {path}"), data).await;
        assert_eq!(r.code, 226, "STOR {path}: {r:?}");
    }

    pub async fn list(&mut self, line: &str) -> String {
        let (data, done) = self
            .download(line)
            .await
            .unwrap_or_else(|r| panic!("{line} refused: {r:?}"));
        assert_eq!(done.code, 226, "{line}: {done:?}");
        String::from_utf8(data).unwrap()
    }

    /// Active mode: listens on 127.0.0.1 and sends EPRT for it.
    /// A download over an active connection: sends `line` (RETR, LIST...), accepts the
    /// server's connection on `l` (protected under PROT P), reads it to the end and expects
    /// 226. Returns the bytes and the address the server connected from.
    pub async fn active_download(&mut self, l: &TcpListener, line: &str) -> (Vec<u8>, SocketAddr) {
        self.cmd_ok(line, 150).await;
        let (mut tcp, from) = crate::bounded("the server's active connection", l.accept())
            .await
            .expect("active connection");
        let mut got = Vec::new();
        if self.data_tls {
            let mut tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(server_name(), tcp)
                .await
                .expect("data TLS handshake");
            tls.read_to_end(&mut got).await.expect("data read");
        } else {
            tcp.read_to_end(&mut got).await.expect("data read");
        }
        let done = self.read_reply().await;
        assert_eq!(done.code, 226, "{line}: {done:?}");
        (got, from)
    }

    /// A listener on the control connection's own address, announced with EPRT.
    pub async fn eprt_listener(&mut self) -> TcpListener {
        let ip = self.addr.ip();
        let l = TcpListener::bind((ip, 0)).await.unwrap();
        let port = l.local_addr().unwrap().port();
        let family = if ip.is_ipv6() { 2 } else { 1 };
        self.cmd_ok(&format!("EPRT |{family}|{ip}|{port}|"), 200)
            .await;
        l
    }

    pub async fn is_closed(&mut self) -> bool {
        self.read_line().await.is_none()
    }
}

pub enum DataConn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl DataConn {
    pub async fn read_to_end(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        match self {
            DataConn::Plain(s) => s.read_to_end(buf).await,
            DataConn::Tls(s) => s.read_to_end(buf).await,
        }
    }
    pub async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            DataConn::Plain(s) => s.read(buf).await,
            DataConn::Tls(s) => s.read(buf).await,
        }
    }
    pub async fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            DataConn::Plain(s) => s.write_all(data).await,
            DataConn::Tls(s) => s.write_all(data).await,
        }
    }
    pub async fn shutdown(&mut self) -> std::io::Result<()> {
        match self {
            DataConn::Plain(s) => s.shutdown().await,
            DataConn::Tls(s) => s.shutdown().await,
        }
    }
    /// Closes the connection without TLS close_notify (as clients that just close the socket).
    pub fn close_without_notify(self) {
        match self {
            DataConn::Plain(s) => drop(s),
            DataConn::Tls(s) => drop(s.into_inner().0),
        }
    }
    pub async fn flush(&mut self) -> std::io::Result<()> {
        match self {
            DataConn::Plain(s) => s.flush().await,
            DataConn::Tls(s) => s.flush().await,
        }
    }
}

/// One login attempt as an attacker (or any client that must not panic) makes it: explicit
/// TLS from `source`, USER, PASS. Returns the last reply code (the first one that is not the
/// expected step), or None when the server closed the connection or TLS failed.
pub async fn try_login(
    addr: SocketAddr,
    tls: Arc<ClientConfig>,
    source: Option<std::net::IpAddr>,
    user: &str,
    pass: &str,
) -> Option<u16> {
    async fn code<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Option<u16> {
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.get(..3)?.parse().ok();
            }
        }
    }
    let tcp = tcp_from(source, addr).await.ok()?;
    let mut plain = BufReader::new(tcp);
    match code(&mut plain).await? {
        220 => {}
        other => return Some(other),
    }
    plain.get_mut().write_all(b"AUTH TLS\r\n").await.ok()?;
    match code(&mut plain).await? {
        234 => {}
        other => return Some(other),
    }
    let tls = tokio_rustls::TlsConnector::from(tls)
        .connect(server_name(), plain.into_inner())
        .await
        .ok()?;
    let mut c = BufReader::new(tls);
    c.get_mut()
        .write_all(format!("USER {user}\r\n").as_bytes())
        .await
        .ok()?;
    c.get_mut().flush().await.ok()?;
    match code(&mut c).await? {
        331 => {}
        other => return Some(other),
    }
    c.get_mut()
        .write_all(format!("PASS {pass}\r\n").as_bytes())
        .await
        .ok()?;
    c.get_mut().flush().await.ok()?;
    code(&mut c).await
}
