//! Support for end-to-end tests: the real server on 127.0.0.1 with ephemeral ports and real
//! certificates/users on disk, and a raw FTPS client speaking the protocol over tokio-rustls.

pub mod client;
pub mod cluster;
pub mod load;
pub mod s3;
pub mod server;
pub mod tools;
pub mod wat;

pub use client::{FtpClient, Reply};
pub use server::{StoppedServer, Storage, TestServer, TestServerBuilder};

/// Declares tests `name::local` and `name::s3` for each `async fn name(storage: Storage)`:
/// the same end-to-end test with the homes in local directories and in an S3 bucket.
#[macro_export]
macro_rules! on_both_storages {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn local() {
                super::$name($crate::Storage::Local).await
            }
            #[tokio::test]
            async fn s3() {
                super::$name($crate::Storage::S3).await
            }
        }
    )*};
}

/// Held by the tests that load the machine for a minute (a GiB through moto) and by those that
/// measure how the server copes with a machine saturated on purpose, so the two never overlap:
/// the latter's margins assume only their own load.
pub async fn heavy_load() -> tokio::sync::MutexGuard<'static, ()> {
    static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    HEAVY.lock().await
}

/// Every test step is bounded; a hang becomes a failure with a message, never a stuck CI.
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(30), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Polls a condition until it holds (bounded like every step): for effects that happen in the
/// server's background (plugin calls, executed programs), never a fixed sleep.
pub async fn until(what: &str, mut f: impl FnMut() -> bool) {
    bounded(what, async {
        while !f() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
}

/// Replaces a file the way deploy tools do: write a temporary beside it, rename over it.
pub fn deploy(path: &std::path::Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Where `cargo xtask plugins` puts a plugin built with the SDK.
pub fn built_plugin_path(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/plugins")
        .join(file)
}

/// A plugin built with the SDK (`cargo xtask plugins` puts it in target/plugins/).
pub fn built_plugin(file: &str) -> Vec<u8> {
    let path = built_plugin_path(file);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run `cargo xtask plugins`; `cargo xtask test` does)",
            path.display()
        )
    })
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(data))
}

/// Deterministic pseudo-random bytes (xorshift), so test data is incompressible and reproducible.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
