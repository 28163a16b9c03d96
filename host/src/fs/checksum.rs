//! Checksums of a file or a byte range of it, for HASH and XCRC/XMD5/XSHA1/XSHA256. They read
//! the file on the blocking pool, with at most one per CPU core at a time across the server: a
//! user looping HASH over a large file gets in line rather than taking every core.

use std::io::Read;
use std::sync::OnceLock;

use tokio::sync::Semaphore;

use crate::protocol::command::HashAlgo;

fn permits() -> &'static Semaphore {
    static S: OnceLock<Semaphore> = OnceLock::new();
    S.get_or_init(|| {
        Semaphore::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
    })
}

/// Waits for a turn to checksum (bounded by the caller's own timeouts).
pub async fn turn() -> tokio::sync::SemaphorePermit<'static> {
    permits()
        .acquire()
        .await
        .expect("the checksum semaphore is never closed")
}

enum State {
    Sha256(aws_lc_rs::digest::Context),
    Sha1(aws_lc_rs::digest::Context),
    Md5(md5::Md5),
    Crc32(crc32fast::Hasher),
}

impl State {
    fn new(algo: HashAlgo) -> State {
        use aws_lc_rs::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY, SHA256};
        match algo {
            HashAlgo::Sha256 => State::Sha256(Context::new(&SHA256)),
            HashAlgo::Sha1 => State::Sha1(Context::new(&SHA1_FOR_LEGACY_USE_ONLY)),
            HashAlgo::Md5 => State::Md5(<md5::Md5 as md5::Digest>::new()),
            HashAlgo::Crc32 => State::Crc32(crc32fast::Hasher::new()),
        }
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            State::Sha256(c) | State::Sha1(c) => c.update(b),
            State::Md5(m) => md5::Digest::update(m, b),
            State::Crc32(c) => c.update(b),
        }
    }

    fn hex(self) -> String {
        let bytes: Vec<u8> = match self {
            State::Sha256(c) | State::Sha1(c) => c.finish().as_ref().to_vec(),
            State::Md5(m) => md5::Digest::finalize(m).to_vec(),
            State::Crc32(c) => c.finalize().to_be_bytes().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The checksum (lowercase hex) of up to `len` bytes read from `file` (positioned already).
pub fn of_reader(algo: HashAlgo, mut file: impl Read, len: u64) -> std::io::Result<String> {
    let mut state = State::new(algo);
    let mut buf = vec![0u8; 256 * 1024];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        state.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(state.hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let abc = |a| of_reader(a, &b"abc"[..], 3).unwrap();
        assert_eq!(
            abc(HashAlgo::Sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            abc(HashAlgo::Sha1),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(abc(HashAlgo::Md5), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(abc(HashAlgo::Crc32), "352441c2");
        // A range: only `len` bytes count.
        assert_eq!(
            of_reader(HashAlgo::Md5, &b"abcdef"[..], 3).unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }
}
