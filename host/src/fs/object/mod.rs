//! Mounts in an S3-compatible bucket, through Apache OpenDAL (`opendal`).
//!
//! Why OpenDAL rather than `object_store`: FTP needs folders, and OpenDAL keeps S3's folder
//! convention (`name/` marker objects, which the S3 console and rclone also make), lists page
//! by page as a stream, writes through a multipart writer with a fixed part size that it can
//! abort, and reads ranges as a byte stream. `object_store` strips the trailing `/` from keys,
//! so it can neither make nor tell apart a folder marker.
//!
//! The semantics, kept as close to a local folder as the store allows:
//! - a folder exists when its marker or anything under it does; MKD writes the marker, RMD of a
//!   folder with anything in it is refused, as on disk;
//! - an upload is a multipart upload, visible only when complete; a failed or refused one is
//!   aborted and leaves nothing (S3 has no partial files, so every upload is atomic);
//! - APPE and REST+STOR are refused (S3 cannot append or overwrite a range);
//! - RNFR/RNTO of a file copies then deletes, up to `max_rename_mb`; a folder with anything in
//!   it is not renamed (that would copy every object under it);
//! - MFMT and SITE CHMOD are refused: an object's time is its upload's, and it has no mode.
//!
//! Every call blocks the calling thread (the session runs them on the blocking pool, as for
//! local folders); the request itself runs on the server's runtime, bounded by `timeout_secs`.

pub mod location;
pub mod read;
pub mod settings;
pub mod upload;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use opendal::{ErrorKind, Operator};

use super::listing::EntryInfo;
use super::{FsError, VirtualPath};
pub use location::{ObjectLocation, is_object_url};
pub use settings::S3Section;

/// Most entries one folder listing returns (the rest is cut, with a warning in the log).
pub const MAX_LIST: usize = 1_000_000;

/// One mount's bucket and prefix, with the connection settings it was opened with.
pub struct ObjectMount {
    op: Operator,
    rt: tokio::runtime::Handle,
    pub location: ObjectLocation,
    pub part_size: usize,
    pub upload_concurrency: usize,
    pub max_rename: u64,
    pub max_uploads: usize,
    timeout: Duration,
}

/// The operators in use, one per bucket, prefix and settings: logins share them (and their
/// connection pools) instead of opening one per session.
#[derive(Default)]
pub struct ObjectMounts {
    open: Mutex<HashMap<(ObjectLocation, settings::Resolved), Arc<ObjectMount>>>,
    /// `[s3]` as last resolved (environment and secret file read once per config, not at
    /// every login): the section and folder it came from, and the result.
    resolved: Mutex<Option<(S3Section, std::path::PathBuf, settings::Resolved)>>,
}

impl ObjectMounts {
    /// `base` is the config file's folder (a relative secret file is read from there).
    pub fn get(
        &self,
        location: &ObjectLocation,
        section: &S3Section,
        base: &std::path::Path,
        rt: &tokio::runtime::Handle,
    ) -> Result<Arc<ObjectMount>, FsError> {
        let key = (location.clone(), self.resolve(section, base)?);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = open.get(&key) {
            return Ok(m.clone());
        }
        if open.len() >= 4096 {
            open.clear();
        }
        let m = Arc::new(ObjectMount::open(location, &key.1, rt.clone())?);
        open.insert(key, m.clone());
        Ok(m)
    }

    /// After a reload: the secret file and environment are read again (a rotated key).
    pub fn forget_settings(&self) {
        *self.resolved.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn resolve(
        &self,
        section: &S3Section,
        base: &std::path::Path,
    ) -> Result<settings::Resolved, FsError> {
        let mut last = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((s, b, r)) = last.as_ref()
            && s == section
            && b == base
        {
            return Ok(r.clone());
        }
        let r = section.resolve(base).map_err(|e| {
            tracing::error!(error = %e, "[s3] settings unusable");
            FsError::Store("the server's object storage settings are unusable".into())
        })?;
        *last = Some((section.clone(), base.to_path_buf(), r.clone()));
        Ok(r)
    }
}

fn no_answer(timeout: Duration) -> FsError {
    tracing::warn!("object store did not answer within {} s", timeout.as_secs());
    FsError::Store(format!("no answer within {} s", timeout.as_secs()))
}

/// The next entry of a listing, the wait for each page bounded by `timeout`.
async fn next_entry(
    l: &mut opendal::Lister,
    timeout: Duration,
) -> Result<Option<opendal::Entry>, FsError> {
    match tokio::time::timeout(timeout, l.next()).await {
        Err(_) => Err(no_answer(timeout)),
        Ok(None) => Ok(None),
        Ok(Some(e)) => e.map(Some).map_err(store_error),
    }
}

fn store_error(e: opendal::Error) -> FsError {
    match e.kind() {
        ErrorKind::NotFound => FsError::NotFound,
        ErrorKind::PermissionDenied => {
            // The store's own refusal (credentials, bucket policy), not an FTP right.
            tracing::warn!(error = %e, "object store refused access: check [s3] credentials and the bucket's policy");
            FsError::Denied
        }
        ErrorKind::AlreadyExists | ErrorKind::ConditionNotMatch => FsError::Exists,
        ErrorKind::IsADirectory => FsError::IsADirectory,
        ErrorKind::NotADirectory => FsError::NotADirectory,
        _ => {
            tracing::warn!(error = %e, "object storage request failed");
            FsError::Store(format!("{}", e.kind()))
        }
    }
}

impl ObjectMount {
    fn open(
        location: &ObjectLocation,
        s: &settings::Resolved,
        rt: tokio::runtime::Handle,
    ) -> Result<ObjectMount, FsError> {
        static INIT: std::sync::Once = std::sync::Once::new();
        INIT.call_once(|| {
            // reqwest's rustls takes the process's provider: ours, aws-lc-rs.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            opendal::install_default();
        });
        let mut b = opendal::services::S3::default()
            .bucket(&location.bucket)
            .root(&format!("/{}", location.prefix))
            .region(&s.region)
            .disable_config_load()
            .disable_ec2_metadata();
        if let Some(e) = &s.endpoint {
            b = b.endpoint(e);
        }
        match (&s.access_key_id, &s.secret_access_key) {
            (Some(id), Some(secret)) => {
                b = b.access_key_id(id).secret_access_key(secret);
                if let Some(t) = &s.session_token {
                    b = b.session_token(t);
                }
            }
            _ => b = b.skip_signature(),
        }
        if !s.path_style {
            b = b.enable_virtual_host_style();
        }
        let op = Operator::new(b)
            .map_err(|e| FsError::Store(format!("s3 settings: {e}")))?
            .layer(opendal::layers::RetryLayer::new().with_max_times(3));
        Ok(ObjectMount {
            op,
            rt,
            location: location.clone(),
            part_size: s.part_size,
            upload_concurrency: s.upload_concurrency,
            max_rename: s.max_rename,
            max_uploads: s.max_uploads,
            timeout: Duration::from_secs(s.timeout_secs),
        })
    }

    /// Runs a request on the runtime and waits for it here, bounded by the timeout. Never
    /// `block_on` the runtime's own handle: this may be any thread.
    fn run<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = Result<T, FsError>> + Send + 'static,
    ) -> Result<T, FsError> {
        self.run_for(self.timeout, f)
    }

    /// As [`ObjectMount::run`] with a bound of its own (completing a multipart upload: the
    /// store assembles the parts before it answers, which takes minutes for large files).
    fn run_for<T: Send + 'static>(
        &self,
        timeout: Duration,
        f: impl std::future::Future<Output = Result<T, FsError>> + Send + 'static,
    ) -> Result<T, FsError> {
        self.run_unbounded(async move {
            tokio::time::timeout(timeout, f)
                .await
                .unwrap_or_else(|_| Err(no_answer(timeout)))
        })
    }

    /// As [`ObjectMount::run`], for work of many requests that bounds each one itself (a
    /// listing, page by page).
    fn run_unbounded<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = Result<T, FsError>> + Send + 'static,
    ) -> Result<T, FsError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv()
            .unwrap_or_else(|_| Err(FsError::Store("the server is stopping".into())))
    }

    /// The key of a file at `p` (relative to the mount). OpenDAL trims white space around a
    /// path and drops empty segments before it joins the mount's prefix, and the HTTP client
    /// collapses `..` in the URL: a name such as `" .."` would leave the prefix. So a key is
    /// used only if OpenDAL keeps it exactly as the view wrote it, and no segment trims to
    /// `.` or `..`; anything else is refused (553), never sent.
    fn file_key(p: &VirtualPath) -> Result<String, FsError> {
        let key = p.relative().to_string_lossy().into_owned();
        let exact = opendal::raw::normalize_path(&key) == key
            && key.split('/').all(|seg| {
                let t = seg.trim();
                t == seg && t != "." && t != ".."
            });
        if !exact {
            return Err(FsError::Reserved(
                "names that begin or end with white space on object storage",
            ));
        }
        Ok(key)
    }

    /// The key of a folder at `p`: `a/b/`, or `/` for the mount itself.
    fn dir_key(p: &VirtualPath) -> Result<String, FsError> {
        if p.is_root() {
            Ok("/".into())
        } else {
            Ok(format!("{}/", Self::file_key(p)?))
        }
    }

    pub fn stat(&self, p: &VirtualPath) -> Result<EntryInfo, FsError> {
        let name = p.file_name().unwrap_or("/").to_string();
        if p.is_root() {
            return Ok(dir_info(name, SystemTime::UNIX_EPOCH));
        }
        let op = self.op.clone();
        let (file, dir) = (Self::file_key(p)?, Self::dir_key(p)?);
        let found = self.run(async move {
            match op.stat(&file).await {
                Ok(m) if m.is_file() => return Ok(Some(m)),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(store_error(e)),
            }
            // A folder: its marker, or anything below it.
            let mut l = op.lister_with(&dir).limit(1).await.map_err(store_error)?;
            match l.next().await {
                Some(Ok(_)) => Ok(None),
                Some(Err(e)) => Err(store_error(e)),
                None => Err(FsError::NotFound),
            }
        })?;
        Ok(match found {
            Some(m) => file_info(name, &m),
            None => dir_info(name, SystemTime::UNIX_EPOCH),
        })
    }

    pub fn is_dir(&self, p: &VirtualPath) -> Result<bool, FsError> {
        Ok(self.stat(p)?.is_dir)
    }

    /// One listing of the folder's prefix; only when it finds nothing at all (not even the
    /// folder's marker) does a `stat` tell a missing folder or a file from an empty mount.
    pub fn list(&self, p: &VirtualPath) -> Result<Vec<EntryInfo>, FsError> {
        let (out, seen) = self.list_prefix(p)?;
        if !seen && !p.is_root() && !self.stat(p)?.is_dir {
            return Err(FsError::NotADirectory);
        }
        Ok(out)
    }

    /// The entries under `p`'s prefix, and whether the prefix held anything (its marker too).
    fn list_prefix(&self, p: &VirtualPath) -> Result<(Vec<EntryInfo>, bool), FsError> {
        let op = self.op.clone();
        let dir = Self::dir_key(p)?;
        let timeout = self.timeout;
        self.run_unbounded(async move {
            let mut l = tokio::time::timeout(timeout, op.lister(&dir))
                .await
                .map_err(|_| no_answer(timeout))?
                .map_err(store_error)?;
            let (mut out, mut seen) = (Vec::new(), false);
            while let Some(e) = next_entry(&mut l, timeout).await? {
                seen = true;
                let path = e.path();
                if path.trim_start_matches('/') == dir.trim_start_matches('/') {
                    continue; // the folder's own marker
                }
                let name = path
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or_default();
                if name.is_empty() || super::temp_name::is_temp_name(name) {
                    continue;
                }
                let m = e.metadata();
                out.push(if m.is_dir() {
                    // A folder's marker has its creation time; a folder without one, none.
                    let made = m.last_modified().map(SystemTime::from);
                    dir_info(name.to_string(), made.unwrap_or(SystemTime::UNIX_EPOCH))
                } else {
                    file_info(name.to_string(), m)
                });
                if out.len() >= MAX_LIST {
                    tracing::warn!(folder = %dir, "object listing cut at {MAX_LIST} entries");
                    break;
                }
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok((out, seen))
        })
    }

    pub fn open_read(self: &Arc<Self>, p: &VirtualPath) -> Result<read::ObjectRead, FsError> {
        let e = self.stat(p)?;
        if e.is_dir {
            return Err(FsError::IsADirectory);
        }
        Ok(read::ObjectRead {
            mount: self.clone(),
            key: Self::file_key(p)?,
            size: e.size,
        })
    }

    /// Whether the folder at `p` holds anything but its marker.
    fn has_children(&self, p: &VirtualPath) -> Result<bool, FsError> {
        let op = self.op.clone();
        let dir = Self::dir_key(p)?;
        self.run(async move {
            let mut l = op.lister_with(&dir).limit(3).await.map_err(store_error)?;
            while let Some(e) = l.next().await {
                if e.map_err(store_error)?.path() != dir {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }

    pub fn mkdir(&self, p: &VirtualPath) -> Result<(), FsError> {
        if self.stat(p).is_ok() {
            return Err(FsError::Exists);
        }
        let parent = p.parent();
        if !parent.is_root() && !self.stat(&parent)?.is_dir {
            return Err(FsError::NotADirectory);
        }
        let op = self.op.clone();
        let dir = Self::dir_key(p)?;
        self.run(async move { op.create_dir(&dir).await.map_err(store_error) })
    }

    pub fn rmdir(&self, p: &VirtualPath) -> Result<(), FsError> {
        if !self.stat(p)?.is_dir {
            return Err(FsError::NotADirectory);
        }
        if self.has_children(p)? {
            return Err(FsError::NotEmpty);
        }
        let op = self.op.clone();
        let dir = Self::dir_key(p)?;
        self.run(async move { op.delete(&dir).await.map_err(store_error) })
    }

    pub fn remove_file(&self, p: &VirtualPath) -> Result<(), FsError> {
        if self.stat(p)?.is_dir {
            return Err(FsError::IsADirectory);
        }
        let op = self.op.clone();
        let key = Self::file_key(p)?;
        self.run(async move { op.delete(&key).await.map_err(store_error) })
    }

    /// Copy, then delete the source: objects cannot be renamed in place. Bounded by
    /// `max_rename` (a copy of a large object takes time and, on some stores, money).
    pub fn rename(&self, from: &VirtualPath, to: &VirtualPath) -> Result<(), FsError> {
        let src = self.stat(from)?;
        if from == to {
            return Ok(()); // as rename(2): nothing to do
        }
        match self.stat(to) {
            Ok(t) if t.is_dir => return Err(FsError::IsADirectory),
            // A folder over a file would leave both under one name.
            Ok(_) if src.is_dir => return Err(FsError::NotADirectory),
            _ => {}
        }
        if src.is_dir && to.starts_with(from) {
            return Err(FsError::Refused(
                "A folder cannot be moved into itself.".into(),
            ));
        }
        let parent = to.parent();
        if !parent.is_root() && !self.stat(&parent)?.is_dir {
            return Err(FsError::NotFound);
        }
        let op = self.op.clone();
        if src.is_dir {
            if self.has_children(from)? {
                return Err(FsError::Refused(
                    "Renaming a folder that holds files is not supported on object storage (every object would be copied); move its files one by one.".into(),
                ));
            }
            let (a, b) = (Self::dir_key(from)?, Self::dir_key(to)?);
            return self.run(async move {
                op.create_dir(&b).await.map_err(store_error)?;
                op.delete(&a).await.map_err(store_error)
            });
        }
        if src.size > self.max_rename {
            return Err(FsError::Refused(format!(
                "Renaming a file of {} bytes is refused on object storage: a rename copies the file, and the limit is {} bytes (s3.max_rename_mb).",
                src.size, self.max_rename
            )));
        }
        let (a, b) = (Self::file_key(from)?, Self::file_key(to)?);
        self.run(async move {
            op.copy(&a, &b).await.map_err(store_error)?;
            op.delete(&a).await.map_err(store_error)
        })
    }

    /// Bytes of all objects under the mount (for a quota), bounded by the walk limit. A
    /// failed scan is an error, never a usage of 0.
    pub fn usage(&self) -> Result<u64, FsError> {
        let op = self.op.clone();
        let timeout = self.timeout;
        self.run_unbounded(async move {
            let mut l = tokio::time::timeout(timeout, op.lister_with("/").recursive(true))
                .await
                .map_err(|_| no_answer(timeout))?
                .map_err(store_error)?;
            let (mut total, mut seen) = (0u64, 0usize);
            while let Some(e) = next_entry(&mut l, timeout).await? {
                let m = e.metadata();
                total = total.saturating_add(if m.is_dir() {
                    super::quota::FOLDER_BYTES
                } else {
                    m.content_length()
                });
                seen += 1;
                if seen > super::walk::WALK_LIMIT {
                    break;
                }
            }
            Ok(total)
        })
    }
}

fn dir_info(name: String, modified: SystemTime) -> EntryInfo {
    EntryInfo {
        name,
        is_dir: true,
        size: 0,
        modified,
        mode: 0o755,
    }
}

fn file_info(name: String, m: &opendal::Metadata) -> EntryInfo {
    EntryInfo {
        name,
        is_dir: false,
        size: m.content_length(),
        modified: m
            .last_modified()
            .map(SystemTime::from)
            .unwrap_or(SystemTime::UNIX_EPOCH),
        mode: 0o644,
    }
}
