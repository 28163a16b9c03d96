//! LIST: `ls -l` lines over the data connection. Listing helpers shared by NLST and MLSD live
//! here too, since all three resolve a directory the same way.

use crate::session::refusal::{Handled, Refusal};

use crate::data::transfer::{Job, Listing};
use crate::fs::entry_stream::EntryStream;
use crate::fs::listing::{EntryInfo, list_line};
use crate::fs::name_glob::NameGlob;
use crate::fs::{FsError, Rights, VirtualPath};
use crate::session::running::Post;
use crate::session::state::Session;

/// Entries a folder may have to be read whole when the listing is opened.
const READ_AHEAD: usize = 512;

pub async fn handle(s: &mut Session, arg: Option<String>) -> Handled {
    let direct = s.cfg.listing.list_files_directly;
    let (path, entries, _, _) = entries(s, arg, direct, "LIST").await?;
    let now = std::time::SystemTime::now();
    let line = move |e: &EntryInfo, out: &mut String| {
        out.push_str(&list_line(e, now));
        out.push_str("\r\n");
    };
    send_listing(s, path, entries, Box::new(line), "LIST").await
}

/// Resolves and reads the directory to list, with the rights that apply there (with
/// `legacy_always_positive`, a failure lists nothing).
/// LIST and NLST expand wildcards in the argument's last component (`NLST logs/*.txt`) when
/// no file has that literal name; the fourth value is then the argument's directory part, for
/// NLST to put before each name. MLSD takes no wildcards (RFC 3659).
pub async fn entries(
    s: &mut Session,
    arg: Option<String>,
    files_too: bool,
    verb: &str,
) -> Result<(VirtualPath, EntryStream, Rights, Option<String>), Refusal> {
    let glob = match verb {
        "LIST" | "NLST" => arg.as_deref().and_then(NameGlob::parse),
        _ => None,
    };
    let path = match arg {
        Some(a) => s.resolve(&a)?,
        None => s.user().cwd.clone(),
    };
    s.gate(&path).await?;
    s.data_ready()?;
    let rights = s.rights_at(&path);
    let p = path.clone();
    let result = s
        .fs(move |v| {
            if let Some(g) = glob
                && matches!(v.stat(&p), Err(FsError::NotFound))
            {
                // Matched by name alone: only the matches' metadata is read, as they are sent.
                let mut matching = v
                    .list_stream(&p.parent())?
                    .filter_names(|n| g.matches(n))
                    .read_ahead_if_small(READ_AHEAD);
                if matching.is_empty() {
                    return Err(FsError::NotFound);
                }
                return Ok((matching, Some(g.dir_prefix)));
            }
            if v.is_dir(&p)? {
                // A folder that fits in a chunk or so is read whole here, in the same trip
                // to the blocking pool; its lines are then made without another.
                v.list_stream(&p)
                    .map(|e| (e.read_ahead_if_small(READ_AHEAD), None))
            } else if files_too {
                v.stat(&p).map(|e| (EntryStream::known(vec![e]), None))
            } else {
                Err(FsError::NotADirectory)
            }
        })
        .await;
    match result {
        Ok((entries, prefix)) => Ok((path, entries, rights, prefix)),
        Err(_) if s.cfg.listing.legacy_always_positive => {
            Ok((path, EntryStream::known(Vec::new()), rights, None))
        }
        Err(e) => Err(Refusal::fs(&path, e)),
    }
}

/// Sends `entries` over the data connection, each made a line by `line` as it is read.
pub async fn send_listing(
    s: &mut Session,
    path: VirtualPath,
    entries: EntryStream,
    line: Box<dyn FnMut(&EntryInfo, &mut String) + Send>,
    verb: &str,
) -> Handled {
    let opening = format!("Opening data connection for {verb} {path}.");
    s.start_transfer(
        Job::Listing(Listing { entries, line }),
        opening,
        format!("{verb} {path}"),
        "Listing complete".into(),
        Post::Listing,
    )
    .await
}
