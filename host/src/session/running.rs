//! A transfer in progress: its task, its progress, and what follows its success.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::task::JoinHandle;

use crate::data::DataError;
use crate::fs::VirtualPath;
use crate::protocol::{Code, Reply};

/// What to do once a transfer has completed successfully.
pub enum Post {
    Listing,
    Download,
    Upload {
        path: VirtualPath,
        real: PathBuf,
        /// What the upload gate let through (its id and limits).
        ticket: UploadTicket,
        /// STOR, APPE or STOU.
        command: &'static str,
        /// Where the upload starts in the file (REST, or APPE's current size).
        offset: u64,
        /// A failure leaves the bytes received (resumable mode).
        keeps_partial: bool,
        /// Held from the start when an `upload-complete` plugin may take the file away.
        held: Option<super::held::Held>,
    },
}

impl Post {
    /// The limits an upload gate set (none for other transfers).
    pub fn limits(&self) -> ftpsd_plugin_sdk::UploadLimits {
        match self {
            Post::Upload { ticket, .. } => ticket.limits,
            _ => Default::default(),
        }
    }
}

/// What the upload gate gave an upload: the id that matches the gate with the upload's end
/// (`upload-complete` or `upload-failed`), and the limits the plugins set.
#[derive(Debug, Clone, Copy, Default)]
pub struct UploadTicket {
    pub transfer: u64,
    pub limits: ftpsd_plugin_sdk::UploadLimits,
}

pub struct RunningTransfer {
    pub(crate) handle: JoinHandle<Result<u64, DataError>>,
    pub progress: Arc<AtomicU64>,
    pub started: Instant,
    pub what: String,
    /// The strictest bandwidth limit it moves under, bytes/s.
    pub limit: Option<u64>,
    /// An upload's commit-or-abort decision (None for other transfers).
    pub(crate) fate: Option<std::sync::Arc<crate::data::transfer::Fate>>,
    /// Text for the 226 reply (e.g. the STOU file name).
    pub(crate) done_text: String,
    pub(crate) post: Post,
}

/// A transfer's end: the final reply, and the bytes moved if it succeeded.
pub struct Finished {
    pub reply: Reply,
    pub bytes: Option<u64>,
}

impl RunningTransfer {
    pub fn is_upload(&self) -> bool {
        matches!(self.post, Post::Upload { .. })
    }

    /// Waits for the transfer and gives its final reply. Cancel-safe: the handle is polled by
    /// reference, so a `select!` that picks another branch loses nothing.
    pub async fn finish(&mut self) -> Finished {
        let result = (&mut self.handle).await;
        let secs = self.started.elapsed().as_secs_f64();
        match result {
            Ok(Ok(bytes)) => {
                tracing::debug!(what = %self.what, bytes, secs, "transfer complete");
                Finished {
                    reply: Reply::new(
                        Code::TRANSFER_COMPLETE,
                        format!("{} ({bytes} bytes).", self.done_text),
                    ),
                    bytes: Some(bytes),
                }
            }
            Ok(Err(e)) => {
                // Logged by the session with its user and peer (`transfer_log`).
                Finished {
                    reply: Reply::new(e.code(), e.to_string()),
                    bytes: None,
                }
            }
            Err(e) => Finished {
                reply: Reply::new(
                    Code::LOCAL_ERROR,
                    format!("Local error: transfer task failed ({e})."),
                ),
                bytes: None,
            },
        }
    }

    pub fn bytes(&self) -> u64 {
        self.progress.load(Ordering::Relaxed)
    }

    /// Stops the transfer now: the data connection and the file are dropped.
    pub async fn abort(self) {
        self.handle.abort();
        let _ = self.handle.await;
    }
}
