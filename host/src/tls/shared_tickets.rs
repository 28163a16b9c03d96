//! TLS session tickets that every node of a cluster can open: the ticket keys come from a file
//! the operator deploys to all nodes (`[tls] ticket_key_file`), so a client that reconnects
//! through the balancer to another node still resumes its session instead of a full handshake.
//!
//! The file holds one or more keys, 64 hex digits (32 bytes) per line, `#` comments allowed
//! (`openssl rand -hex 32`). The first key seals new tickets; every key opens them, so keys are
//! rotated by putting a new one first and dropping the last one after a ticket lifetime.
//! A ticket is `key id (4) ‖ nonce (12) ‖ AES-256-GCM(state) ‖ tag`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

/// How long a ticket may be used (seconds): what rustls's own ticketer grants.
const LIFETIME: u32 = 6 * 60 * 60;

#[derive(Debug, thiserror::Error)]
pub enum TicketKeyError {
    #[error("ticket key file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("ticket key file {path}, line {line}: {reason}")]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

pub struct SharedTicketer {
    keys: Vec<([u8; 4], LessSafeKey)>,
}

impl std::fmt::Debug for SharedTicketer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedTicketer({} keys)", self.keys.len())
    }
}

fn key_id(raw: &[u8]) -> [u8; 4] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, raw);
    d.as_ref()[..4].try_into().unwrap_or([0; 4])
}

/// Parses the key file's text (pure: for tests and `load`).
pub fn parse(path: &Path, text: &str) -> Result<SharedTicketer, TicketKeyError> {
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        let bad = |reason: &str| TicketKeyError::Line {
            path: path.into(),
            line: i + 1,
            reason: reason.into(),
        };
        if l.len() != 64 || !l.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(
                "expected 64 hex digits (make one with: openssl rand -hex 32)",
            ));
        }
        let raw: Vec<u8> = (0..32)
            .map(|k| u8::from_str_radix(&l[2 * k..2 * k + 2], 16).unwrap_or(0))
            .collect();
        let key = UnboundKey::new(&AES_256_GCM, &raw).map_err(|_| bad("not a usable key"))?;
        keys.push((key_id(&raw), LessSafeKey::new(key)));
    }
    if keys.is_empty() {
        return Err(TicketKeyError::File {
            path: path.into(),
            reason: "no key (one line of 64 hex digits: openssl rand -hex 32)".into(),
        });
    }
    Ok(SharedTicketer { keys })
}

/// Reads the key file; it must be readable by its owner only (it opens every session).
pub fn load(path: &Path) -> Result<Arc<dyn rustls::server::ProducesTickets>, TicketKeyError> {
    use std::os::unix::fs::PermissionsExt;
    let file = |reason: String| TicketKeyError::File {
        path: path.into(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| file(e.to_string()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(file(format!(
            "readable by others (mode {:o}); chmod 600 it",
            meta.permissions().mode() & 0o777
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
    Ok(Arc::new(parse(path, &text)?))
}

impl rustls::server::ProducesTickets for SharedTicketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        LIFETIME
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let (id, key) = &self.keys[0];
        let nonce_bytes: [u8; 12] = rand::random();
        let mut sealed = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(id),
            &mut sealed,
        )
        .ok()?;
        let mut out = Vec::with_capacity(16 + sealed.len());
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        Some(out)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        if cipher.len() < 16 + 16 {
            return None;
        }
        let (id, rest) = cipher.split_at(4);
        let (nonce, sealed) = rest.split_at(12);
        let (kid, key) = self.keys.iter().find(|(k, _)| k[..] == *id)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = sealed.to_vec();
        let plain = key.open_in_place(nonce, Aad::from(kid), &mut buf).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::server::ProducesTickets;

    const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const K2: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn another_node_with_the_file_opens_the_ticket_and_rotation_keeps_old_ones() {
        let p = Path::new("t.key");
        let a = parse(p, K1).unwrap();
        let b = parse(p, &format!("# node b\n{K1}\n")).unwrap();
        let t = a.encrypt(b"session state").unwrap();
        assert_eq!(b.decrypt(&t).unwrap(), b"session state");
        let rotated = parse(p, &format!("{K2}\n{K1}\n")).unwrap();
        assert_eq!(
            rotated.decrypt(&t).unwrap(),
            b"session state",
            "old key still opens"
        );
        let new = rotated.encrypt(b"x").unwrap();
        assert!(a.decrypt(&new).is_none(), "an unknown key opens nothing");
        let mut tampered = t.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(b.decrypt(&tampered).is_none());
        assert!(b.decrypt(&t[..20]).is_none());
    }

    #[test]
    fn bad_files_say_where_and_how_to_fix() {
        let p = Path::new("t.key");
        let e = parse(p, "# only a comment\n").err().unwrap().to_string();
        assert!(
            e.contains("no key") && e.contains("openssl rand -hex 32"),
            "{e}"
        );
        let e = parse(p, &format!("{K1}\nnothex\n"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("line 2") && e.contains("64 hex digits"), "{e}");
    }
}
