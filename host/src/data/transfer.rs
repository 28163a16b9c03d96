//! Streaming a transfer between a file (or a prepared listing) and the data connection through
//! one large buffer reused for the whole transfer. Progress is published for STAT and ABOR.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{DataError, DataStream, ascii};

pub const BUFFER: usize = 256 * 1024;

/// What flows over the data connection.
pub enum Job {
    /// RETR: file → client.
    Download { file: std::fs::File, ascii: bool },
    /// STOR/APPE/STOU: client → file; the file is fsynced before success is reported.
    Upload { file: std::fs::File, ascii: bool },
    /// LIST/NLST/MLSD: prepared bytes → client.
    Listing(Vec<u8>),
}

impl Job {
    pub fn is_upload(&self) -> bool {
        matches!(self, Job::Upload { .. })
    }
}

fn lost(e: std::io::Error) -> DataError {
    DataError::Lost(e.to_string())
}

fn local(e: std::io::Error) -> DataError {
    DataError::Local(e.to_string())
}

/// Runs the job; returns the bytes moved over the wire. `stall` bounds each network wait.
pub async fn run(
    job: Job,
    mut data: DataStream,
    progress: Arc<AtomicU64>,
    stall: Duration,
) -> Result<u64, DataError> {
    let result = match job {
        Job::Download { file, ascii } => {
            download(
                tokio::fs::File::from_std(file),
                ascii,
                &mut data,
                &progress,
                stall,
            )
            .await
        }
        Job::Upload { file, ascii } => {
            upload(
                tokio::fs::File::from_std(file),
                ascii,
                &mut data,
                &progress,
                stall,
            )
            .await
        }
        Job::Listing(bytes) => {
            with_stall(stall, data.write_all(&bytes))
                .await
                .map_err(lost)?;
            progress.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            Ok(bytes.len() as u64)
        }
    };
    if result.is_ok() {
        // close_notify + FIN: the client knows the download is complete, not truncated.
        with_stall(stall, data.shutdown()).await.map_err(lost)?;
    }
    result
}

async fn with_stall<T>(
    stall: Duration,
    fut: impl Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    tokio::time::timeout(stall, fut)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "data connection stalled"))?
}

async fn download(
    mut file: tokio::fs::File,
    ascii: bool,
    data: &mut DataStream,
    progress: &AtomicU64,
    stall: Duration,
) -> Result<u64, DataError> {
    file.set_max_buf_size(BUFFER);
    let mut buf = vec![0u8; BUFFER];
    let mut converted = Vec::with_capacity(if ascii { BUFFER * 2 } else { 0 });
    let mut prev_cr = false;
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).await.map_err(local)?;
        if n == 0 {
            return Ok(total);
        }
        let out: &[u8] = if ascii {
            ascii::to_wire(&buf[..n], &mut converted, &mut prev_cr);
            &converted
        } else {
            &buf[..n]
        };
        with_stall(stall, data.write_all(out)).await.map_err(lost)?;
        total += out.len() as u64;
        progress.store(total, Ordering::Relaxed);
    }
}

async fn upload(
    mut file: tokio::fs::File,
    ascii: bool,
    data: &mut DataStream,
    progress: &AtomicU64,
    stall: Duration,
) -> Result<u64, DataError> {
    file.set_max_buf_size(BUFFER);
    let mut buf = vec![0u8; BUFFER];
    let mut converted = Vec::with_capacity(if ascii { BUFFER } else { 0 });
    let mut pending_cr = false;
    let mut total = 0u64;
    loop {
        let n = match with_stall(stall, data.read(&mut buf)).await {
            Ok(n) => n,
            // A peer that closes TCP without TLS close_notify has still finished sending.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(lost(e)),
        };
        if n == 0 {
            break;
        }
        total += n as u64;
        if ascii {
            ascii::from_wire(&buf[..n], &mut converted, &mut pending_cr);
            file.write_all(&converted).await.map_err(local)?;
        } else {
            file.write_all(&buf[..n]).await.map_err(local)?;
        }
        progress.store(total, Ordering::Relaxed);
    }
    if ascii {
        ascii::finish_from_wire(&mut converted, &mut pending_cr);
        file.write_all(&converted).await.map_err(local)?;
    }
    file.flush().await.map_err(local)?;
    file.sync_all().await.map_err(local)?;
    Ok(total)
}
