//! HASH (draft-bryan-ftpext-hash; algorithm chosen with OPTS HASH, range with RANG) and the
//! older XCRC/XMD5/XSHA1/XSHA256. A checksum reads the file but is not a download: it needs
//! the read right and passes the `command` hook, not ratio-check (32 bytes leave, not the
//! file). At most one checksum per core runs at a time across the server.

use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::protocol::command::HashAlgo;
use crate::session::state::Session;

/// HASH path: `213 <algo> <start>-<end> <hex> <path>`, `end` the last byte hashed (a whole
/// 50-byte file is `0-49`, an empty one `0-0`), as in draft-bryan-ftpext-hash.
pub async fn hash(s: &mut Session, arg: String) -> Handled {
    let (start, end) = match s.ftp.hash_range.take() {
        Some((start, end)) => (start, Some(end.saturating_add(1))),
        None => (0, None),
    };
    let algo = s.ftp.hash_algo;
    let (path, sum) = compute(s, arg, algo, start, end).await?;
    let last = sum.end.saturating_sub(1).max(sum.start);
    s.reply(
        Code::FILE_STATUS,
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
) -> Handled {
    let (start, end) = range.unwrap_or((0, None));
    let (_, sum) = compute(s, arg, algo, start, end).await?;
    s.reply(Code::FILE_ACTION_OK, sum.hex.to_ascii_uppercase())
        .await
}

/// RANG start end: the byte range (end inclusive) of the next HASH; `RANG 1 0` resets.
pub async fn rang(s: &mut Session, start: u64, end: u64) -> Handled {
    if start == 1 && end == 0 {
        s.ftp.hash_range = None;
        return s.reply(Code::PENDING, "Byte range reset.").await;
    }
    if end < start {
        return Err(Refusal::new(
            Code::BAD_ARGUMENTS,
            "RANG: the end must not be before the start.",
        ));
    }
    s.ftp.hash_range = Some((start, end));
    s.reply(
        Code::PENDING,
        format!("Restarting at {start}. End byte range at {end}."),
    )
    .await
}

/// Rights, hook and the checksum itself.
async fn compute(
    s: &mut Session,
    arg: String,
    algo: HashAlgo,
    start: u64,
    end: Option<u64>,
) -> Result<(crate::fs::VirtualPath, crate::fs::attributes::Checksum), Refusal> {
    let path = s.resolve(&arg)?;
    s.gate(&path).await?;
    let _turn = crate::fs::checksum::turn().await;
    let p = path.clone();
    match s.fs(move |v| v.checksum(&p, algo, start, end)).await {
        Ok(sum) => Ok((path, sum)),
        Err(crate::fs::FsError::IsADirectory) => Err(Refusal::new(
            Code::NAME_NOT_ALLOWED,
            format!("{path}: is a directory; checksums are of files."),
        )),
        Err(e) => Err(Refusal::fs(&path, e)),
    }
}
