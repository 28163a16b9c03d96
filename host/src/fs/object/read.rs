//! Reading an object from an offset: one ranged GET streamed as it arrives (REST works, and
//! memory stays at what is in flight), for RETR on the async side and, through a small
//! channel, as a blocking `Read` for HASH.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;

use super::{ObjectMount, store_error};
use crate::fs::FsError;

/// An object opened for reading: its key and its size when it was looked at.
pub struct ObjectRead {
    pub mount: Arc<ObjectMount>,
    pub key: String,
    pub size: u64,
}

/// Chunks from the store, as a stream of bytes.
pub type ObjectStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = std::io::Result<Bytes>> + Send>>;

impl ObjectRead {
    /// The bytes from `offset` to the end (as the size was when opened).
    pub async fn stream(&self, offset: u64) -> Result<ObjectStream, FsError> {
        if offset >= self.size {
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let reader = self
            .mount
            .op
            .clone()
            .reader(&self.key)
            .await
            .map_err(store_error)?;
        let s = reader
            .into_bytes_stream(offset..self.size)
            .await
            .map_err(store_error)?;
        Ok(Box::pin(s))
    }

    /// A blocking reader from `offset` (for checksums): a task pumps the stream into a
    /// channel of two chunks.
    pub fn blocking(self, offset: u64) -> BlockingObjectRead {
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(2);
        let timeout = self.mount.timeout;
        let rt = self.mount.rt.clone();
        rt.spawn(async move {
            let mut s = match self.stream(offset).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            };
            loop {
                let chunk = match tokio::time::timeout(timeout, s.next()).await {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => return,
                    Err(_) => Err(std::io::Error::other("object store stalled")),
                };
                let failed = chunk.is_err();
                // Waits while the reader is behind; a reader gone ends the task.
                if tx.send(chunk).await.is_err() || failed {
                    return;
                }
            }
        });
        BlockingObjectRead {
            rx,
            current: Bytes::new(),
        }
    }
}

pub struct BlockingObjectRead {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl std::io::Read for BlockingObjectRead {
    /// Called on a blocking thread (HASH runs on the blocking pool), never on the runtime.
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}
