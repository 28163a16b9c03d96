//! The HTTP-01 responder (RFC 8555 §8.3): answers `GET /.well-known/acme-challenge/<token>`
//! with the key authorization while an order waits for it, 404 otherwise. It listens on a
//! public port (80), so everything is bounded: connections at once (in all and per address),
//! bytes of a request, time.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::pending::Pending;
use crate::conn_slots::Slots;

/// A request head larger than this is refused.
const MAX_HEAD: usize = 4096;
/// Time for one connection, request and answer.
const DEADLINE: Duration = Duration::from_secs(5);

const PREFIX: &str = "/.well-known/acme-challenge/";

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Asked<'a> {
    Token(&'a str),
    /// Another path: 404.
    Other,
    /// Not an HTTP GET request line: 400.
    Bad,
}

/// Reads the request line of `head` (bytes up to the blank line).
pub fn asked(head: &[u8]) -> Asked<'_> {
    let Some(line) = head.split(|b| *b == b'\n').next() else {
        return Asked::Bad;
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return Asked::Bad;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Asked::Bad;
    };
    if !version.starts_with("HTTP/1.") || !(method == "GET" || method == "HEAD") {
        return Asked::Bad;
    }
    match target.strip_prefix(PREFIX) {
        Some(t)
            if !t.is_empty()
                && t.len() <= 256
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Asked::Token(t)
        }
        _ => Asked::Other,
    }
}

pub async fn serve(listener: TcpListener, pending: Arc<Pending>) {
    let slots = Slots::new(super::RESPONDER_SLOTS, super::RESPONDER_SLOTS_PER_ADDRESS);
    crate::conn_slots::serve(listener, slots, "ACME HTTP-01 responder", |sock| {
        let pending = pending.clone();
        async move {
            let _ = tokio::time::timeout(DEADLINE, answer(sock, &pending)).await;
        }
    })
    .await
}

async fn answer(mut sock: TcpStream, pending: &Pending) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = sock.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return reply(&mut sock, "431 Request Header Fields Too Large", "", true).await;
        }
    }
    let with_body = !head.starts_with(b"HEAD ");
    match asked(&head) {
        Asked::Token(t) => match pending.http_answer(t) {
            Some(key_authorization) => {
                tracing::info!(token = t, "ACME HTTP-01 challenge answered");
                reply(&mut sock, "200 OK", &key_authorization, with_body).await
            }
            None => reply(&mut sock, "404 Not Found", "", with_body).await,
        },
        Asked::Other => reply(&mut sock, "404 Not Found", "", with_body).await,
        Asked::Bad => reply(&mut sock, "400 Bad Request", "", with_body).await,
    }
}

async fn reply(
    sock: &mut TcpStream,
    status: &str,
    body: &str,
    with_body: bool,
) -> std::io::Result<()> {
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if with_body { body } else { "" }
    );
    sock.write_all(text.as_bytes()).await?;
    sock.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_challenge_paths_with_token_characters() {
        assert_eq!(
            asked(b"GET /.well-known/acme-challenge/AbC-_9 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Asked::Token("AbC-_9")
        );
        assert_eq!(asked(b"GET / HTTP/1.1\r\n\r\n"), Asked::Other);
        assert_eq!(
            asked(b"GET /.well-known/acme-challenge/../x HTTP/1.1\r\n\r\n"),
            Asked::Other
        );
        assert_eq!(
            asked(b"GET /.well-known/acme-challenge/ HTTP/1.1\r\n\r\n"),
            Asked::Other
        );
        assert_eq!(
            asked(b"POST /.well-known/acme-challenge/a HTTP/1.1\r\n\r\n"),
            Asked::Bad
        );
        assert_eq!(asked(b"GET /x\r\n\r\n"), Asked::Bad);
        assert_eq!(asked(b"\xff\xfe"), Asked::Bad);
        assert_eq!(asked(b""), Asked::Bad);
    }
}
