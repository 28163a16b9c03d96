//! HASH (draft-bryan-ftpext-hash; algorithm chosen with OPTS HASH, range with RANG) and the
//! older XCRC/XMD5/XSHA1/XSHA256. A checksum reads the file but is not a download: it needs
//! the read right and passes the `command` hook, not ratio-check (32 bytes leave, not the
//! file). At most one checksum per core runs at a time across the server.

use std::io;

use crate::protocol::command::HashAlgo;
use crate::session::Session;

/// HASH path: `213 <algo> <start>-<end> <hex> <path>`, `end` the last byte hashed (a whole
/// 50-byte file is `0-49`, an empty one `0-0`), as in draft-bryan-ftpext-hash.
pub async fn hash(s: &mut Session, arg: String) -> io::Result<()> {
    let (start, end) = match s.hash_range.take() {
        Some((start, end)) => (start, Some(end.saturating_add(1))),
        None => (0, None),
    };
    let algo = s.hash_algo;
    let Some((path, sum)) = compute(s, arg, algo, start, end, "HASH").await? else {
        return Ok(());
    };
    let last = sum.end.saturating_sub(1).max(sum.start);
    s.reply(
        213,
        format!("{} {}-{last} {} {path}", algo.name(), sum.start, sum.hex),
    )
    .await
}

/// XCRC/XMD5/XSHA1/XSHA256 path [start [end]]: `250 <HEX>` (end exclusive).
pub async fn xhash(
    s: &mut Session,
    algo: HashAlgo,
    arg: String,
    range: Option<(u64, Option<u64>)>,
) -> io::Result<()> {
    let (start, end) = range.unwrap_or((0, None));
    let verb = match algo {
        HashAlgo::Crc32 => "XCRC",
        HashAlgo::Md5 => "XMD5",
        HashAlgo::Sha1 => "XSHA1",
        HashAlgo::Sha256 => "XSHA256",
    };
    let Some((_, sum)) = compute(s, arg, algo, start, end, verb).await? else {
        return Ok(());
    };
    s.reply(250, sum.hex.to_ascii_uppercase()).await
}

/// RANG start end: the byte range (end inclusive) of the next HASH; `RANG 1 0` resets.
pub async fn rang(s: &mut Session, start: u64, end: u64) -> io::Result<()> {
    if start == 1 && end == 0 {
        s.hash_range = None;
        return s.reply(350, "Byte range reset.").await;
    }
    if end < start {
        return s
            .reply(501, "RANG: the end must not be before the start.")
            .await;
    }
    s.hash_range = Some((start, end));
    s.reply(
        350,
        format!("Restarting at {start}. End byte range at {end}."),
    )
    .await
}

/// Rights, hook and the checksum itself; replies on failure (None).
async fn compute(
    s: &mut Session,
    arg: String,
    algo: HashAlgo,
    start: u64,
    end: Option<u64>,
    verb: &str,
) -> io::Result<Option<(crate::fs::VirtualPath, crate::fs::attributes::Checksum)>> {
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(None);
    };
    if !s.gate(verb, &path).await? {
        return Ok(None);
    }
    let _turn = crate::fs::checksum::turn().await;
    let p = path.clone();
    match s.fs(move |v| v.checksum(&p, algo, start, end)).await {
        Ok(sum) => Ok(Some((path, sum))),
        Err(crate::fs::FsError::IsADirectory) => {
            s.reply(
                553,
                format!("{path}: is a directory; checksums are of files."),
            )
            .await?;
            Ok(None)
        }
        Err(e) => {
            s.fs_error(&path, e).await?;
            Ok(None)
        }
    }
}
