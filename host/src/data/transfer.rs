//! Streaming a transfer between a file (or a prepared listing) and the data connection.
//!
//! Plain binary downloads hand mapped page-cache pages to `send` (see `mapped_send`). Other
//! downloads read the file inline from the page cache (see `file_read`), falling back to the
//! blocking pool for what is not cached, and send each chunk while it is hot in the cache.
//! (`sendfile` was measured too: on loopback it was slower and used more CPU than this path,
//! so it is not used.) Uploads overlap disk and network: each chunk is written on the blocking
//! pool while the next is received (see `upload_writer`), with two buffers passed back and
//! forth and no thread held while the client is slow.
//! Progress is published for STAT and ABOR.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::bandwidth::Throttle;
use super::stall::with_stall;
use super::{DataError, DataStream, ascii, mapped_send};

pub const BUFFER: usize = 1024 * 1024;

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

/// Makes the listing's lines on the blocking pool a chunk at a time (in place when they are
/// all in memory) and sends each chunk. No thread waits on the client: a reader that stalls
/// holds the listing's names, not one of the blocking pool's threads (which every session's
/// file operations share).
async fn listing(
    job: Listing,
    data: &mut DataStream,
    progress: &AtomicU64,
    stall: Duration,
) -> Result<u64, DataError> {
    let mut job = Some(job);
    let mut total = 0u64;
    while let Some(this) = job.take() {
        let (rest, chunk) = if this.entries.in_memory() {
            next_chunk(this)
        } else {
            tokio::task::spawn_blocking(move || next_chunk(this))
                .await
                .map_err(|e| local(std::io::Error::other(e.to_string())))?
        };
        if !chunk.is_empty() {
            // The last chunk leaves with the close_notify (see `DataStream::queue_final`).
            let queued = if rest.is_none() {
                data.queue_final(chunk.as_bytes())
            } else {
                0
            };
            with_stall(
                data.raw_fd(),
                stall,
                data.write_all(&chunk.as_bytes()[queued..]),
            )
            .await
            .map_err(lost)?;
            total += chunk.len() as u64;
            progress.store(total, Ordering::Relaxed);
        }
        job = rest;
    }
    Ok(total)
}

/// The listing's next chunk of lines, and the listing if anything is left. Reads metadata
/// from the disk unless the entries are in memory (a small folder, object storage).
fn next_chunk(mut this: Listing) -> (Option<Listing>, String) {
    let mut chunk = String::with_capacity(LISTING_CHUNK + 1024);
    while chunk.len() < LISTING_CHUNK {
        match this.entries.next() {
            Some(e) => (this.line)(&e, &mut chunk),
            None => return (None, chunk),
        }
    }
    (Some(this), chunk)
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

pub use super::upload_writer::Fate;
use super::upload_writer::{FileWriter, WriterSlot};

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
    if !is_upload {
        // A download's tickets leave with its first data, in one write (see `hold`).
        data.release_held();
    }
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
    let mut left = reader.remaining().ok();
    // A small file gets a buffer its size (a 64 KiB file is not read through 256 KiB of zeros).
    let chunk = left.map_or(DOWNLOAD_CHUNK as u64, |r| {
        r.clamp(4096, DOWNLOAD_CHUNK as u64)
    });
    let mut buf = vec![0u8; chunk as usize];
    let mut converted = Vec::with_capacity(if ascii { DOWNLOAD_CHUNK * 2 } else { 0 });
    let mut prev_cr = false;
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).await.map_err(local)?;
        if n == 0 {
            return match left {
                // Cut short while it was sent: a 226 would make the client keep a short file
                // (plain downloads say the same, see `mapped_send`).
                Some(l) if l > 0 => Err(local(std::io::Error::other(format!(
                    "the file shrank while it was sent ({l} bytes missing)"
                )))),
                _ => Ok(total),
            };
        }
        left = left.map(|l| l.saturating_sub(n as u64));
        // The file's last chunk (it did not grow meanwhile) leaves with the close_notify.
        let last = left == Some(0) && !throttle.is_limited() && reader.at_end().unwrap_or(false);
        let out: &[u8] = if ascii {
            ascii::to_wire(&buf[..n], &mut converted, &mut prev_cr);
            &converted
        } else {
            &buf[..n]
        };
        let queued = if last { data.queue_final(out) } else { 0 };
        total += queued as u64;
        progress.store(total, Ordering::Relaxed);
        send(&out[queued..], data, progress, stall, throttle, &mut total).await?;
        if last {
            return Ok(total);
        }
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
    // One chunk is written on the blocking pool while the next is received; the slot commits
    // only when everything arrived, and abandons the upload (temporary removed, quota
    // released) when the receiving side fails or the transfer is aborted.
    let mut slot = WriterSlot::new(FileWriter::new(plan, ascii, sync));
    let mut spare: Option<Vec<u8>> = None;
    let mut total = 0u64;
    let received: Result<(), DataError> = async {
        loop {
            let mut buf = match spare.take() {
                // The small first buffer is replaced once the upload shows it is not small.
                Some(b) if b.len() < BUFFER && total >= FIRST_BUFFER as u64 => vec![0u8; BUFFER],
                Some(b) => b,
                None => vec![0u8; if total == 0 { FIRST_BUFFER } else { BUFFER }],
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
                return Ok(());
            }
            throttle.refund(room - n);
            if let Some(max) = max_bytes
                && total + n as u64 > max
            {
                // What arrived, for the upload-failed event (the cut chunk included).
                progress.store(total + n as u64, Ordering::Relaxed);
                return Err(DataError::Quota(format!(
                    "Upload refused: it is larger than the {max} bytes a site policy allows for it; nothing was kept."
                )));
            }
            total += n as u64;
            progress.store(total, Ordering::Relaxed);
            // In order, one write in flight: the previous one ends before this one starts.
            spare = slot.settle().await?;
            slot.start(buf, n)?;
        }
    }
    .await;
    let outcome = match received {
        Ok(()) => slot.commit(fate).await,
        Err(e) => {
            // A quota or disk error of the write in flight explains a receive error after it.
            let e = match slot.settle().await {
                Err(w @ (DataError::Quota(_) | DataError::NoSpace(_) | DataError::Local(_))) => w,
                _ => e,
            };
            slot.abandon(matches!(e, DataError::Quota(_))).await;
            Err(e)
        }
    };
    if matches!(outcome, Err(DataError::Quota(_) | DataError::NoSpace(_))) {
        // The client may still be sending: read the rest (bounded) so that it finishes its
        // upload and reads the 552, instead of failing on a reset connection (curl: "broken
        // pipe"; ftplib then reads the 552 as the answer to its next command). A client that
        // had finished gets the clean close it waits for.
        drain(data, stall, throttle).await;
    }
    outcome.map(|()| total)
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
