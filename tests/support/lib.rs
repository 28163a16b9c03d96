//! Support for end-to-end tests: the real server on 127.0.0.1 with ephemeral ports and real
//! certificates/users on disk, and a raw FTPS client speaking the protocol over tokio-rustls.

pub mod client;
pub mod server;
pub mod tools;
pub mod wat;

pub use client::{FtpClient, Reply};
pub use server::{TestServer, TestServerBuilder};

/// Every test step is bounded; a hang becomes a failure with a message, never a stuck CI.
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(30), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
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
