//! Compiled plugins kept on disk (`<data_dir>/plugins/compiled/`), so a restart does not
//! recompile an unchanged module: with the four bundled plugins that is ~1.5 s of every start
//! on a 2-core machine, against a few milliseconds to load the kept native code.
//!
//! A kept file is native code the server will run, so it is trusted only as far as the data
//! directory is: the folder is created 0700, a file is used only when it is a regular file owned
//! by the server's user and writable by nobody else, in a folder that is too, and it ends with
//! the SHA-256 of its contents and of the module it was compiled from (a disk error, a truncated
//! copy or a file copied under another module's name is caught, not run). wasmtime itself refuses a file made by
//! another wasmtime version or engine configuration; the engine's compatibility hash is also in
//! the file name, so such files are never even opened. Anything wrong means: compile again and
//! replace the file. At most [`MAX_FILES`] are kept; the least recently used go first.

use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use wasmtime::{Engine, Module};

/// Files kept (plugins in use plus the versions a few swaps leave behind).
pub const MAX_FILES: usize = 64;
/// Larger files are not read (the largest bundled plugin compiles to ~3 MiB).
pub const MAX_FILE_BYTES: u64 = 256 << 20;

const DIGEST_LEN: usize = 32;

#[derive(Debug, Clone)]
pub struct CompiledDir {
    dir: PathBuf,
}

/// Why a kept file was not used (logged at debug level; the module is then compiled).
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    #[error("not kept yet")]
    Missing,
    #[error("cannot read it: {0}")]
    Read(std::io::Error),
    #[error("not a regular file of the server's user, writable only by it")]
    NotTrusted,
    #[error("its checksum does not match (a damaged or truncated copy)")]
    Damaged,
    #[error("wasmtime refused it: {0}")]
    Refused(String),
}

impl CompiledDir {
    pub fn new(data_dir: &Path) -> CompiledDir {
        CompiledDir {
            dir: data_dir.join("plugins/compiled"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file for a module whose bytes hash to `module_sha256`, compiled by `engine`.
    pub fn path(&self, engine: &Engine, module_sha256: &[u8; 32]) -> PathBuf {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let hex: String = module_sha256.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}-{:016x}.cwasm", h.finish()))
    }

    /// The kept compiled module, if there is a usable one.
    pub fn load(&self, engine: &Engine, module_sha256: &[u8; 32]) -> Result<Module, Unusable> {
        let path = self.path(engine, module_sha256);
        match self.check_folder() {
            Ok(()) => {}
            Err(Unusable::Read(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Unusable::Missing);
            }
            Err(e) => return Err(e),
        }
        let mut file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Unusable::Missing),
            Err(e) => return Err(Unusable::Read(e)),
        };
        let meta = file.metadata().map_err(Unusable::Read)?;
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if !meta.is_file() || meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(Unusable::NotTrusted);
        }
        if meta.len() > MAX_FILE_BYTES || meta.len() < DIGEST_LEN as u64 {
            return Err(Unusable::Damaged);
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        (&mut file)
            .take(MAX_FILE_BYTES)
            .read_to_end(&mut bytes)
            .map_err(Unusable::Read)?;
        let (code, digest) = bytes.split_at(bytes.len() - DIGEST_LEN);
        if keyed_digest(module_sha256, code) != digest {
            return Err(Unusable::Damaged);
        }
        // SAFETY: `code` is what `Module::serialize` of this engine wrote (checked by its
        // digest, in a file only the server's user can write); wasmtime checks the version and
        // configuration in its header. `deserialize` copies it, so nothing maps the file.
        let module = unsafe { Module::deserialize(engine, code) }
            .map_err(|e| Unusable::Refused(format!("{e:#}")))?;
        // Recently used: kept longest when the folder is pruned.
        let _ = file.set_modified(std::time::SystemTime::now());
        Ok(module)
    }

    /// The folder itself must be the server user's, writable by nobody else (else anyone who
    /// may write it could swap the files). One of ours left open (an operator's chmod) is
    /// closed again; one of another user is not used.
    fn check_folder(&self) -> Result<(), Unusable> {
        let meta = std::fs::symlink_metadata(&self.dir).map_err(Unusable::Read)?;
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if !meta.is_dir() || meta.uid() != me {
            return Err(Unusable::NotTrusted);
        }
        if meta.mode() & 0o022 != 0 {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|_| Unusable::NotTrusted)?;
            tracing::warn!(folder = %self.dir.display(), "the compiled-plugin folder was writable by others; set back to 0700");
        }
        Ok(())
    }

    /// Keeps `module` (atomically: a temporary of this process, then a rename), then prunes.
    pub fn store(
        &self,
        engine: &Engine,
        module_sha256: &[u8; 32],
        module: &Module,
    ) -> std::io::Result<()> {
        let mut code = module.serialize().map_err(std::io::Error::other)?;
        let digest = keyed_digest(module_sha256, &code);
        code.extend_from_slice(&digest);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        self.check_folder().map_err(|_| {
            std::io::Error::other(
                "the folder is not the server user's own (or others may write it)",
            )
        })?;
        let path = self.path(engine, module_sha256);
        let tmp = self.dir.join(format!(
            ".{}.{}.tmp",
            std::process::id(),
            digest_hex(&digest)
        ));
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&code)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        let r = write();
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        r?;
        self.prune();
        Ok(())
    }

    /// Keeps the [`MAX_FILES`] most recently used files; leftovers of interrupted writes go.
    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut kept = Vec::new();
        for e in entries.flatten().take(MAX_FILES * 16) {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Ok(meta) = e.metadata() else { continue };
            if name.ends_with(".cwasm") && meta.is_file() {
                kept.push((meta.modified().ok(), e.path()));
            } else if name.ends_with(".tmp")
                && meta
                    .modified()
                    .ok()
                    .and_then(|m| m.elapsed().ok())
                    .is_some_and(|age| age.as_secs() > 3600)
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
        if kept.len() <= MAX_FILES {
            return;
        }
        kept.sort_by_key(|k| std::cmp::Reverse(k.0));
        for (_, path) in kept.drain(MAX_FILES..) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The checksum of a kept file: over the module it was compiled from and the code, so a file
/// copied under another module's name is refused like a damaged one.
fn keyed_digest(module_sha256: &[u8; 32], code: &[u8]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(module_sha256);
    ctx.update(code);
    let mut k = [0u8; 32];
    k.copy_from_slice(ctx.finish().as_ref());
    k
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut k = [0u8; 32];
    k.copy_from_slice(d.as_ref());
    k
}

fn digest_hex(d: &[u8]) -> String {
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::engine::engine;
    use std::os::unix::fs::PermissionsExt;

    fn compiled(wat: &str) -> ([u8; 32], Module) {
        let m = Module::new(engine(), wat).unwrap();
        (sha256(wat.as_bytes()), m)
    }

    #[test]
    fn a_kept_module_loads_and_runs_the_same_code() {
        let dir = tempfile::tempdir().unwrap();
        let c = CompiledDir::new(dir.path());
        let (k, m) = compiled("(module (func (export \"f\") (result i32) i32.const 7))");
        assert!(matches!(c.load(engine(), &k), Err(Unusable::Missing)));
        c.store(engine(), &k, &m).unwrap();
        let back = c.load(engine(), &k).unwrap();
        let mut store = wasmtime::Store::new(engine(), ());
        store.set_epoch_deadline(1_000_000);
        let inst = wasmtime::Instance::new(&mut store, &back, &[]).unwrap();
        let f = inst.get_typed_func::<(), i32>(&mut store, "f").unwrap();
        assert_eq!(f.call(&mut store, ()).unwrap(), 7);
        let mode = std::fs::metadata(c.dir()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn a_damaged_or_foreign_file_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let c = CompiledDir::new(dir.path());
        let (k, m) = compiled("(module (func (export \"g\")))");
        c.store(engine(), &k, &m).unwrap();
        let path = c.path(engine(), &k);
        // One flipped bit in the code.
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(c.load(engine(), &k), Err(Unusable::Damaged)));
        // Truncated.
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(c.load(engine(), &k), Err(Unusable::Damaged)));
        // Writable by others.
        c.store(engine(), &k, &m).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(matches!(c.load(engine(), &k), Err(Unusable::NotTrusted)));
        // A symlink in its place is not followed.
        std::fs::remove_file(&path).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, b"x").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert!(matches!(c.load(engine(), &k), Err(Unusable::Read(_))));
        // Another module's valid file under this one's name: refused.
        let (k2, m2) = compiled("(module (func (export \"h\")))");
        c.store(engine(), &k2, &m2).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::copy(c.path(engine(), &k2), &path).unwrap();
        assert!(matches!(c.load(engine(), &k), Err(Unusable::Damaged)));
        // A folder others may write is closed again.
        std::fs::set_permissions(c.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let _ = c.load(engine(), &k2);
        let mode = std::fs::metadata(c.dir()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // Written again, it is used again.
        std::fs::remove_file(&path).unwrap();
        c.store(engine(), &k, &m).unwrap();
        assert!(c.load(engine(), &k).is_ok());
    }

    #[test]
    fn the_folder_keeps_at_most_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let c = CompiledDir::new(dir.path());
        let (_, m) = compiled("(module)");
        for i in 0..(MAX_FILES + 5) {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(i as u64).to_le_bytes());
            c.store(engine(), &k, &m).unwrap();
        }
        let n = std::fs::read_dir(c.dir()).unwrap().count();
        assert_eq!(n, MAX_FILES);
    }
}
