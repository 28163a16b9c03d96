//! The admin Unix socket: one JSON request line in, one JSON response line out. The socket is
//! created mode 0600 in the data directory; a stale file from an earlier run is replaced (the
//! state store's lock already proved no other server uses this data directory).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::AdminError;
use super::ops::{self, Request, Response};
use crate::context::ServerContext;

const MAX_REQUEST: u64 = 64 * 1024;

/// Binds the socket; the caller spawns [`serve`].
pub fn bind(path: &Path) -> Result<UnixListener, AdminError> {
    let err = |source| AdminError::Socket {
        path: path.to_path_buf(),
        source,
    };
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(listener)
}

pub async fn serve(ctx: Arc<ServerContext>, listener: UnixListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(30), answer(ctx, stream)).await;
        });
    }
}

async fn answer(ctx: Arc<ServerContext>, stream: UnixStream) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    BufReader::new(r)
        .take(MAX_REQUEST)
        .read_line(&mut line)
        .await?;
    let resp = match serde_json::from_str::<Request>(&line) {
        Ok(req) => ops::handle_live(&ctx, req).await,
        Err(e) => Response::Error(format!("bad request: {e}")),
    };
    let mut out = serde_json::to_vec(&resp).unwrap_or_default();
    out.push(b'\n');
    w.write_all(&out).await
}

/// Sends one request to a running server. `Ok(None)`: no server listens on `path`.
pub async fn request(path: &Path, req: &Request) -> Result<Option<Response>, AdminError> {
    let err = |source| AdminError::Socket {
        path: path.to_path_buf(),
        source,
    };
    let stream = match UnixStream::connect(path).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(err(e)),
    };
    let (r, mut w) = stream.into_split();
    let mut out = serde_json::to_vec(req).map_err(|e| AdminError::Protocol(e.to_string()))?;
    out.push(b'\n');
    w.write_all(&out).await.map_err(err)?;
    let mut line = String::new();
    BufReader::new(r)
        .take(64 << 20)
        .read_line(&mut line)
        .await
        .map_err(err)?;
    serde_json::from_str(&line)
        .map(Some)
        .map_err(|e| AdminError::Protocol(format!("unexpected reply: {e}")))
}
