//! The certificate files loaded again and put in force for new handshakes.

use crate::context::ServerContext;

/// Reloads the certificate and key the live config names; a broken pair keeps the old one.
pub fn reload(ctx: &ServerContext) -> String {
    let live = ctx.live.load();
    let (cert, key, _) = live.tls_paths();
    match ctx.tls.load().reloaded(&cert, &key, live.tls.min_version) {
        Ok(new) => {
            let not_after = new.not_after;
            ctx.tls.store(std::sync::Arc::new(new));
            tracing::info!(cert = %cert.display(), "certificate reloaded");
            crate::tls::expiry::log(&cert, not_after, false);
            format!("certificate: {} reloaded", cert.display())
        }
        Err(e) => {
            let e = live.tls_files_error(&e);
            tracing::error!(error = %e, "certificate reload failed; the old one stays");
            format!("error: certificate kept: {e}")
        }
    }
}
