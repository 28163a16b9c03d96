//! Streaming a transfer between a file (or a prepared listing) and the data connection.
//!
//! Plain binary downloads hand mapped page-cache pages to `send` (see `mapped_send`). Other
//! downloads read the file inline from the page cache (see `file_read`), falling back to the
//! blocking pool for what is not cached, and send each chunk while it is hot in the cache.
//! Uploads overlap disk and network: a blocking thread writes the file while the async side
//! receives, passing a few large buffers back and forth. Buffers are reused, so there is no
//! allocation per chunk. (`sendfile` was measured too: on loopback it was slower and used more
//! CPU than this path, so it is not used.)
//! Progress is published for STAT and ABOR.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::bandwidth::Throttle;
use super::stall::with_stall;
use super::{DataError, DataStream, ascii, mapped_send};

pub const BUFFER: usize = 1024 * 1024;
/// Buffers in flight per transfer: one being filled, one being drained, one queued.
const BUFFERS: usize = 3;

/// What flows over the data connection.
pub enum Job {
    /// RETR: file → client.
    Download { file: std::fs::File, ascii: bool },
    /// RETR from object storage: a ranged GET from `offset`, streamed → client.
    DownloadObject {
        object: crate::fs::object::read::ObjectRead,
        offset: u64,
        ascii: bool,
    },
    /// STOR/APPE/STOU: client → file; fsynced and committed (atomic rename) before success.
    /// With `require_close_notify`, a TLS upload must end with close_notify to count.
    Upload {
        plan: crate::fs::upload::UploadPlan,
        ascii: bool,
        require_close_notify: bool,
        /// fsync before the commit (`[server] sync_uploads`).
        sync: bool,
        /// Most bytes the upload may bring (an upload gate's limit): past it the upload ends
        /// with 552 and nothing of it is kept.
        max_bytes: Option<u64>,
        /// Decides, once, between a commit and an abort that race (see [`Fate`]).
        fate: Arc<Fate>,
    },
    /// The message file, or part of it: prepared bytes → client.
    Bytes(std::sync::Arc<[u8]>),
    /// LIST/NLST/MLSD: lines made on the blocking pool as the directory is read, sent in
    /// chunks (a listing of any size holds its names and one chunk).
    Listing(Listing),
}

/// A listing to send: its entries, and how each becomes a line.
pub struct Listing {
    pub entries: crate::fs::entry_stream::EntryStream,
    pub line: Box<dyn FnMut(&crate::fs::listing::EntryInfo, &mut String) + Send>,
}

/// Output of a listing sent at a time.
const LISTING_CHUNK: usize = 64 * 1024;

/// Makes the listing's lines on the blocking pool a chunk at a time and sends each chunk. No
/// thread waits on the client: a reader that stalls holds the listing's names, not one of the
/// blocking pool's threads (which every session's file operations share).
async fn listing(
    job: Listing,
    data: &mut DataStream,
    progress: &AtomicU64,
    stall: Duration,
) -> Result<u64, DataError> {
    let mut job = Some(job);
    let mut total = 0u64;
    while let Some(mut this) = job.take() {
        let (rest, chunk) = tokio::task::spawn_blocking(move || {
            let mut chunk = String::with_capacity(LISTING_CHUNK + 1024);
            while chunk.len() < LISTING_CHUNK {
                match this.entries.next() {
                    Some(e) => (this.line)(&e, &mut chunk),
                    None => return (None, chunk),
                }
            }
            (Some(this), chunk)
        })
        .await
        .map_err(|e| local(std::io::Error::other(e.to_string())))?;
        if !chunk.is_empty() {
            with_stall(data.raw_fd(), stall, data.write_all(chunk.as_bytes()))
                .await
                .map_err(lost)?;
            total += chunk.len() as u64;
            progress.store(total, Ordering::Relaxed);
        }
        job = rest;
    }
    Ok(total)
}

impl Job {
    pub fn is_upload(&self) -> bool {
        matches!(self, Job::Upload { .. })
    }

    /// An upload's fate, for whoever may abort it.
    pub fn fate(&self) -> Option<Arc<Fate>> {
        match self {
            Job::Upload { fate, .. } => Some(fate.clone()),
            _ => None,
        }
    }
}

/// Whether an upload commits or is aborted, decided once. The file writer runs on its own
/// thread and outlives an aborted task, so an ABOR (or a vanished client) that arrives while
/// the last bytes are written must not answer 426 for a file the writer then commits: the
/// writer claims the commit, the session claims the abort, and whoever comes second yields.
#[derive(Debug, Default)]
pub struct Fate(std::sync::atomic::AtomicU8);

const OPEN: u8 = 0;
const COMMITTING: u8 = 1;
const ABORTED: u8 = 2;

impl Fate {
    /// The writer is about to commit; false if the upload was aborted first.
    pub fn commit(&self) -> bool {
        self.0
            .compare_exchange(OPEN, COMMITTING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            || self.0.load(Ordering::Acquire) == COMMITTING
    }

    /// The session aborts the upload; false if the writer is already committing it.
    pub fn abort(&self) -> bool {
        self.0
            .compare_exchange(OPEN, ABORTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            || self.0.load(Ordering::Acquire) == ABORTED
    }
}

fn lost(e: std::io::Error) -> DataError {
    DataError::Lost(e.to_string())
}

fn local(e: std::io::Error) -> DataError {
    DataError::Local(e.to_string())
}

/// Runs the job; returns the bytes moved over the wire. `stall` bounds each network wait;
/// `throttle` the rate (a limited plain download takes the copying path, which can pace).
pub async fn run(
    job: Job,
    mut data: DataStream,
    progress: Arc<AtomicU64>,
    stall: Duration,
    throttle: Throttle,
) -> Result<u64, DataError> {
    let is_upload = job.is_upload();
    let result = match (job, &mut data) {
        (Job::Download { file, ascii: false }, DataStream::Plain(tcp))
            if !throttle.is_limited() =>
        {
            mapped_send::send_file(file, tcp, &progress, stall)
                .await
                .map_err(|e| match e {
                    mapped_send::SendError::Socket(e) => lost(e),
                    mapped_send::SendError::File(e) => local(e),
                })
        }
        (Job::Download { file, ascii }, data) => {
            download(file, ascii, data, &progress, stall, &throttle).await
        }
        (
            Job::DownloadObject {
                object,
                offset,
                ascii,
            },
            data,
        ) => download_object(object, offset, ascii, data, &progress, stall, &throttle).await,
        (
            Job::Upload {
                plan,
                ascii,
                require_close_notify,
                sync,
                max_bytes,
                fate,
            },
            data,
        ) => {
            let ends = Ends {
                require_close_notify,
                sync,
                stall,
                max_bytes,
            };
            upload(plan, ascii, ends, fate, data, &progress, &throttle).await
        }
        (Job::Listing(job), data) => listing(job, data, &progress, stall).await,
        (Job::Bytes(bytes), data) => {
            with_stall(data.raw_fd(), stall, data.write_all(&bytes))
                .await
                .map_err(lost)?;
            progress.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            Ok(bytes.len() as u64)
        }
    };
    if result.is_ok() {
        // An upload's held tickets go out now, before our close_notify (see `hold`).
        data.release_held();
        // close_notify + FIN: the client knows the download is complete, not truncated.
        let closed = with_stall(data.raw_fd(), stall, data.shutdown()).await;
        // An upload is complete and committed once the client's close_notify arrived; a client
        // that has already closed (and reset the connection over unread session tickets) does
        // not need ours.
        if !is_upload {
            closed.map_err(lost)?;
        }
    }
    result
}

/// An upload's first buffer: most uploads of a session-heavy workload are small, and a
/// zeroed MiB per buffer would cost them more than the transfer.
const FIRST_BUFFER: usize = 64 * 1024;

/// Read size of a download: small enough that a chunk is still in the core's cache when it
/// is sealed and copied to the socket (1 MiB chunks measured slower over TLS).
const DOWNLOAD_CHUNK: usize = 256 * 1024;

async fn download(
    file: std::fs::File,
    ascii: bool,
    data: &mut DataStream,
    progress: &AtomicU64,
    stall: Duration,
    throttle: &Throttle,
) -> Result<u64, DataError> {
    let mut reader = super::file_read::ChunkReader::new(file);
    // A small file gets a buffer its size (a 64 KiB file is not read through 256 KiB of zeros).
    let chunk = reader.remaining().map_or(DOWNLOAD_CHUNK as u64, |r| {
        r.clamp(4096, DOWNLOAD_CHUNK as u64)
    });
    let mut buf = vec![0u8; chunk as usize];
    let mut converted = Vec::with_capacity(if ascii { DOWNLOAD_CHUNK * 2 } else { 0 });
    let mut prev_cr = false;
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).await.map_err(local)?;
        if n == 0 {
            return Ok(total);
        }
        let out: &[u8] = if ascii {
            ascii::to_wire(&buf[..n], &mut converted, &mut prev_cr);
            &converted
        } else {
            &buf[..n]
        };
        send(out, data, progress, stall, throttle, &mut total).await?;
    }
}

/// Sends one chunk of a download, paced by the throttle, each write bounded by `stall`.
async fn send(
    out: &[u8],
    data: &mut DataStream,
    progress: &AtomicU64,
    stall: Duration,
    throttle: &Throttle,
    total: &mut u64,
) -> Result<(), DataError> {
    for part in out.chunks(throttle.slice().unwrap_or(out.len()).max(1)) {
        throttle.take(part.len()).await;
        with_stall(data.raw_fd(), stall, data.write_all(part))
            .await
            .map_err(lost)?;
        *total += part.len() as u64;
        progress.store(*total, Ordering::Relaxed);
    }
    Ok(())
}

/// RETR of an object: chunks as the store sends them (bounded by the HTTP client's buffers),
/// each wait for the store bounded by `stall` as a network wait is.
async fn download_object(
    object: crate::fs::object::read::ObjectRead,
    offset: u64,
    ascii: bool,
    data: &mut DataStream,
    progress: &AtomicU64,
    stall: Duration,
    throttle: &Throttle,
) -> Result<u64, DataError> {
    use futures_util::StreamExt;
    let mut chunks = object
        .stream(offset)
        .await
        .map_err(|e| DataError::Local(e.to_string()))?;
    let mut converted = Vec::new();
    let mut prev_cr = false;
    let mut total = 0u64;
    loop {
        let chunk = match tokio::time::timeout(stall, chunks.next()).await {
            Err(_) => return Err(DataError::Local("the object store stopped sending".into())),
            Ok(None) => return Ok(total),
            Ok(Some(c)) => c.map_err(local)?,
        };
        let out: &[u8] = if ascii {
            ascii::to_wire(&chunk, &mut converted, &mut prev_cr);
            &converted
        } else {
            &chunk
        };
        send(out, data, progress, stall, throttle, &mut total).await?;
    }
}

/// From the receiving side to the file writer.
enum Chunk {
    Data(Vec<u8>, usize),
    /// Everything arrived: fsync and commit. Without it, the writer abandons the upload.
    Commit,
    /// The upload passed its limit: remove everything it wrote, whatever the upload mode.
    Refuse(String),
}

/// How an upload's receiving side waits and ends.
struct Ends {
    require_close_notify: bool,
    sync: bool,
    stall: Duration,
    max_bytes: Option<u64>,
}

async fn upload(
    plan: crate::fs::upload::UploadPlan,
    ascii: bool,
    ends: Ends,
    fate: Arc<Fate>,
    data: &mut DataStream,
    progress: &AtomicU64,
    throttle: &Throttle,
) -> Result<u64, DataError> {
    let Ends {
        require_close_notify,
        sync,
        stall,
        max_bytes,
    } = ends;
    let kept = if plan.keeps_partial() {
        "what arrived is kept for a REST resume"
    } else {
        "the upload was not kept"
    };
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Chunk>(BUFFERS + 1);
    // Buffers come back from the writer here; they are made only as the upload needs them.
    let (free_async_tx, mut free_async_rx) = mpsc::channel::<Vec<u8>>(BUFFERS);
    let mut made = 0usize;
    // The writer owns the plan: it commits only on an explicit Commit, and abandons the upload
    // (temp removed, quota released) when the receiving side fails or is aborted.
    let writer = tokio::task::spawn_blocking(move || -> Result<(), DataError> {
        let mut plan = plan;
        if !sync {
            plan.without_sync();
        }
        let mut converted = Vec::with_capacity(if ascii { BUFFER } else { 0 });
        let mut pending_cr = false;
        let outcome = (|| -> Result<bool, DataError> {
            loop {
                match full_rx.recv() {
                    Ok(Chunk::Data(buf, n)) => {
                        if ascii {
                            ascii::from_wire(&buf[..n], &mut converted, &mut pending_cr);
                            plan.write(&converted).map_err(upload_error)?;
                        } else {
                            plan.write(&buf[..n]).map_err(upload_error)?;
                        }
                        let _ = free_async_tx.blocking_send(buf);
                    }
                    Ok(Chunk::Commit) => {
                        if ascii {
                            ascii::finish_from_wire(&mut converted, &mut pending_cr);
                            plan.write(&converted).map_err(upload_error)?;
                        }
                        if sync {
                            plan.sync().map_err(upload_error)?;
                        }
                        return Ok(true);
                    }
                    Ok(Chunk::Refuse(why)) => return Err(DataError::Quota(why)),
                    Err(_) => return Ok(false),
                }
            }
        })();
        match outcome {
            Ok(true) if !fate.commit() => {
                plan.abandon(false);
                Err(DataError::Lost("aborted before it was committed".into()))
            }
            Ok(true) => plan.commit().map_err(|e| match e {
                crate::fs::FsError::Exists => DataError::Refused(
                    "the file was created by someone else meanwhile; nothing replaced (no overwrite right)".into(),
                ),
                e => upload_error(e),
            }),
            Ok(false) => {
                plan.abandon(false);
                Err(DataError::Lost("upload ended before completion".into()))
            }
            Err(e) => {
                plan.abandon(matches!(e, DataError::Quota(_)));
                Err(e)
            }
        }
    });
    let mut total = 0u64;
    let received: Result<(), DataError> = async {
        loop {
            let mut buf = match free_async_rx.try_recv() {
                // The small first buffer is replaced once the upload shows it is not small.
                Ok(b) if b.len() < BUFFER && total >= FIRST_BUFFER as u64 => vec![0u8; BUFFER],
                Ok(b) => b,
                Err(_) if made < BUFFERS => {
                    made += 1;
                    vec![0u8; if total == 0 { FIRST_BUFFER } else { BUFFER }]
                }
                Err(_) => free_async_rx
                    .recv()
                    .await
                    .ok_or_else(|| local(std::io::Error::other("file writer stopped")))?,
            };
            let room = throttle.slice().unwrap_or(buf.len()).min(buf.len());
            // Paid before it is read; what the read did not fill is given back below.
            throttle.take(room).await;
            let n = match with_stall(data.raw_fd(), stall, data.read(&mut buf[..room])).await {
                Ok(n) => n,
                // Over TLS, EOF without close_notify means the upload was cut off (client gone,
                // or a truncation attack): never commit it. Plain FTP cannot tell. An operator
                // may accept it (`[tls] require_close_notify = false`) for clients that never
                // send one.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !require_close_notify => 0,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(DataError::Lost(format!(
                        "the client closed the data connection without TLS close_notify after {total} bytes; {kept} (a cut connection looks the same)"
                    )));
                }
                Err(e) => return Err(lost(e)),
            };
            if n == 0 {
                let _ = full_tx.send(Chunk::Commit);
                return Ok(());
            }
            throttle.refund(room - n);
            if let Some(max) = max_bytes
                && total + n as u64 > max
            {
                let why = format!(
                    "Upload refused: it is larger than the {max} bytes a site policy allows for it; nothing was kept."
                );
                let _ = full_tx.send(Chunk::Refuse(why.clone()));
                // What arrived, for the upload-failed event (the cut chunk included).
                progress.store(total + n as u64, Ordering::Relaxed);
                return Err(DataError::Quota(why));
            }
            total += n as u64;
            progress.store(total, Ordering::Relaxed);
            if full_tx.send(Chunk::Data(buf, n)).is_err() {
                return Err(local(std::io::Error::other("file writer stopped")));
            }
        }
    }
    .await;
    drop(full_tx);
    let written = writer.await.map_err(|e| local(std::io::Error::other(e)))?;
    if matches!(written, Err(DataError::Quota(_) | DataError::NoSpace(_))) {
        // The client may still be sending: read the rest (bounded) so that it finishes its
        // upload and reads the 552, instead of failing on a reset connection (curl: "broken
        // pipe"; ftplib then reads the 552 as the answer to its next command). A client that
        // had finished gets the clean close it waits for.
        drain(data, stall, throttle).await;
    }
    // A quota or disk error explains a receive error after it; otherwise the receiving side
    // says why the upload ended (the writer only saw it stop).
    match (written, received) {
        (Err(e @ (DataError::Quota(_) | DataError::NoSpace(_) | DataError::Local(_))), _) => Err(e),
        (_, Err(r)) => Err(r),
        (Err(w), Ok(())) => Err(w),
        (Ok(()), Ok(())) => Ok(total),
    }
}

/// Most read and discarded after a refused upload (quota) before the connection is closed.
pub const DRAIN_MAX: u64 = 64 << 20;

/// Reads and discards what the client still sends, up to [`DRAIN_MAX`], each wait bounded by
/// `stall`. A client that finished cleanly gets a clean close too (TLS close_notify: Python's
/// ftplib waits for it before it reads the reply); errors end it, and the connection is closed
/// after it either way.
async fn drain(data: &mut DataStream, stall: Duration, throttle: &Throttle) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = DRAIN_MAX;
    while left > 0 {
        let room = throttle.slice().unwrap_or(buf.len()).min(buf.len());
        throttle.take(room).await;
        match with_stall(data.raw_fd(), stall, data.read(&mut buf[..room])).await {
            Ok(0) => {
                let _ = with_stall(data.raw_fd(), stall, data.shutdown()).await;
                return;
            }
            Err(_) => return,
            Ok(n) => left = left.saturating_sub(n as u64),
        }
    }
}

/// Why writing an upload failed, as the transfer says it: a full quota removes the upload.
fn upload_error(e: crate::fs::FsError) -> DataError {
    match e {
        crate::fs::FsError::QuotaFull(q) => {
            DataError::Quota(format!("Quota exceeded ({q}); upload removed."))
        }
        crate::fs::FsError::Io(e)
            if e.kind() == std::io::ErrorKind::StorageFull
                || e.raw_os_error() == Some(libc::ENOSPC)
                || e.raw_os_error() == Some(libc::EDQUOT) =>
        {
            DataError::NoSpace(e.to_string())
        }
        crate::fs::FsError::Io(e) => local(e),
        other => DataError::Local(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Code;

    #[test]
    fn a_full_disk_is_452_and_a_full_quota_552() {
        let io = |errno| crate::fs::FsError::Io(std::io::Error::from_raw_os_error(errno));
        assert_eq!(upload_error(io(libc::ENOSPC)).code(), Code::NO_SPACE);
        assert_eq!(upload_error(io(libc::EDQUOT)).code(), Code::NO_SPACE);
        assert_eq!(upload_error(io(libc::EIO)).code(), Code::LOCAL_ERROR);
        let quota = crate::fs::FsError::QuotaFull("1 MB".into());
        assert_eq!(upload_error(quota).code(), Code::STORAGE_EXCEEDED);
    }
}
