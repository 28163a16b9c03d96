//! The challenge answers an order is waiting to have checked: what the HTTP-01 responder
//! serves per token and the TLS-ALPN-01 certificate per domain. Filled by the issuing task
//! for the length of one order (at most one entry per domain of the certificate) and
//! emptied when the order ends, however it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::sign::CertifiedKey;

#[derive(Default)]
pub struct Pending {
    http: Mutex<HashMap<String, String>>,
    alpn: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl Pending {
    /// The key authorization served at `/.well-known/acme-challenge/<token>`.
    pub fn http_answer(&self, token: &str) -> Option<String> {
        self.http
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    /// The certificate shown to an `acme-tls/1` handshake for `domain`.
    pub fn alpn_cert(&self, domain: &str) -> Option<Arc<CertifiedKey>> {
        self.alpn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&domain.to_ascii_lowercase())
            .cloned()
    }

    pub fn publish_http(&self, token: String, key_authorization: String) {
        self.http
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token, key_authorization);
    }

    pub fn publish_alpn(&self, domain: &str, cert: Arc<CertifiedKey>) {
        self.alpn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(domain.to_ascii_lowercase(), cert);
    }

    /// Withdraws every answer (the order is over).
    pub fn clear(&self) {
        self.http.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.alpn.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

/// Empties `Pending` when dropped, so an order that fails or is cancelled halfway leaves
/// nothing being served.
pub struct ClearOnDrop<'a>(pub &'a Pending);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.clear();
    }
}
