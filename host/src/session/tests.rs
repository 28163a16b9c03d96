//! Session rules over an in-memory control connection: a real `ServerContext` (built from a
//! bootstrapped data directory, as `serve` does) and the real main loop, without sockets.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};

use super::{ControlStream, Session};
use crate::context::{ContextParts, ListenerKind, ServerContext};
use crate::{Config, tls, users};

struct Client {
    io: BufReader<DuplexStream>,
    _dir: tempfile::TempDir,
}

impl Client {
    /// A session of a fresh server whose listener does not require TLS, with its banner read,
    /// and the admin account's name and password.
    async fn start() -> (Client, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::embedded_default();
        config.base_dir = dir.path().to_path_buf();
        config.server.data_dir = dir.path().join("data");
        config.server.login_failure_delay_ms = 1;
        config.explicit.as_mut().unwrap().require_tls = false;
        let (name, pass, _) = crate::bootstrap::prepare(&config)
            .unwrap()
            .created_admin
            .unwrap();
        let (cert, key, _) = config.tls_paths();
        let tls = tls::TlsConfigs::from_files(&cert, &key, config.tls.min_version).unwrap();
        let users = users::UsersFile::load(&config.users_file()).unwrap();
        let auth =
            users::Authenticator::new(users, std::time::Duration::from_millis(1), &config.login);
        let kv: crate::state::SharedStore = Arc::new(crate::state::MemoryStore::default());
        let plugins = Arc::new(crate::plugins::PluginHost::empty(kv));
        let ctx = Arc::new(ServerContext::build(ContextParts {
            config,
            tls,
            auth,
            plugins,
            managed_access: Default::default(),
        }));
        let (client, server) = tokio::io::duplex(64 * 1024);
        let session = Session::new(
            ctx,
            ListenerKind::Explicit,
            ControlStream::Memory(server),
            "127.0.0.1:40000".parse().unwrap(),
            "127.0.0.1:2121".parse().unwrap(),
            crate::session::state::SessionKeys {
                id: 1,
                token: [7; 16],
                scope: crate::tls::scope::ResumptionScope::new(),
            },
        );
        let fut = Box::new(session).run();
        // Every connection's task holds this future for its whole life, mostly idle: what
        // commands and transfers need is boxed while they run, and the session itself is
        // boxed once (an async fn's by-value argument is stored twice: 3,464 bytes before).
        assert!(
            std::mem::size_of_val(&fut) <= 1024,
            "a session's future grew to {} bytes",
            std::mem::size_of_val(&fut)
        );
        tokio::spawn(fut);
        let mut c = Client {
            io: BufReader::new(client),
            _dir: dir,
        };
        assert_eq!(c.reply().await.0, 220);
        (c, name, pass)
    }

    async fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                self.io.read_line(&mut line),
            )
            .await
            .expect("a reply within 10 s")
            .unwrap();
            assert!(n > 0, "the session closed");
            text.push_str(&line);
            let b = line.as_bytes();
            if b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' ' {
                return (line[..3].parse().unwrap(), text);
            }
        }
    }

    async fn cmd(&mut self, line: &str) -> (u16, String) {
        self.io
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        self.reply().await
    }

    async fn expect(&mut self, line: &str, code: u16) {
        let (got, text) = self.cmd(line).await;
        assert_eq!(got, code, "{line} -> {text}");
    }

    async fn login(&mut self, name: &str, pass: &str) {
        self.expect(&format!("USER {name}"), 331).await;
        self.expect(&format!("PASS {pass}"), 230).await;
    }
}

#[tokio::test]
async fn only_the_pre_login_verbs_work_before_login() {
    let (mut c, name, pass) = Client::start().await;
    for line in [
        "LIST",
        "RETR x",
        "CWD /",
        "PASV",
        "MKD x",
        "SITE CHMOD 644 x",
    ] {
        c.expect(line, 530).await;
    }
    c.expect("NOOP", 200).await;
    c.expect("SYST", 215).await;
    c.expect("PASS x", 503).await;
    c.login(&name, &pass).await;
    c.expect("PWD", 257).await;
}

#[tokio::test]
async fn rnto_must_follow_rnfr_directly() {
    let (mut c, name, pass) = Client::start().await;
    c.login(&name, &pass).await;
    c.expect("MKD d", 257).await;
    c.expect("RNTO e", 503).await;
    c.expect("RNFR d", 350).await;
    c.expect("NOOP", 200).await;
    c.expect("RNTO e", 503).await;
    c.expect("RNFR d", 350).await;
    // A line that does not parse is a command in between too.
    c.expect("XYZZY", 500).await;
    c.expect("RNTO e", 503).await;
    c.expect("RNFR d", 350).await;
    c.expect("RNTO", 501).await;
    c.expect("RNTO e", 503).await;
    c.expect("RNFR d", 350).await;
    c.expect("RNTO e", 250).await;
    c.expect("CWD e", 250).await;
    // The root and what does not exist cannot be renamed.
    c.expect("RNFR /", 553).await;
    c.expect("RNFR nothing", 550).await;
}

#[tokio::test]
async fn epsv_all_refuses_every_other_data_setup() {
    let (mut c, name, pass) = Client::start().await;
    c.login(&name, &pass).await;
    c.expect("EPSV ALL", 200).await;
    c.expect("PASV", 501).await;
    c.expect("PORT 127,0,0,1,4,1", 501).await;
    c.expect("EPRT |1|127.0.0.1|1025|", 501).await;
}

#[tokio::test]
async fn protection_commands_need_tls_and_in_order() {
    let (mut c, name, pass) = Client::start().await;
    // On a plain control connection PROT has nothing to protect with.
    c.expect("PROT P", 503).await;
    c.expect("CCC", 533).await;
    c.login(&name, &pass).await;
    c.expect("AUTH TLS", 503).await;
}

#[tokio::test]
async fn transfer_verbs_without_a_data_plan_or_with_a_bad_argument() {
    let (mut c, name, pass) = Client::start().await;
    c.login(&name, &pass).await;
    c.expect("RETR f", 425).await;
    c.expect("STOR f", 425).await;
    c.expect("LIST", 425).await;
    // A transfer verb that does not parse ends a pending plan like any refusal.
    let (code, _) = c.cmd("PASV").await;
    assert_eq!(code, 227);
    c.expect("RETR", 501).await;
    c.expect("RETR f", 425).await;
}
