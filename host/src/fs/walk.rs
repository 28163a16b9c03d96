//! A bounded walk over the regular files below a directory (symlinks are not followed), shared
//! by the quota usage scan and the start-up cleanup of upload temporaries.

use std::path::Path;

/// The most directory entries a walk visits; beyond it, it stops (and says so).
pub const WALK_LIMIT: usize = 1_000_000;

/// Calls `f` for every regular file below `dir`. Returns false if the walk stopped at the limit.
pub fn files_below(dir: &Path, f: impl FnMut(&std::fs::DirEntry)) -> bool {
    entries_below(dir, f, |_| {})
}

/// Calls `file` for every regular file and `folder` for every directory below `dir` (not `dir`
/// itself). Returns false if the walk stopped at the limit.
pub fn entries_below(
    dir: &Path,
    mut file: impl FnMut(&std::fs::DirEntry),
    mut folder: impl FnMut(&std::fs::DirEntry),
) -> bool {
    let mut visited = 0usize;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            visited += 1;
            if visited > WALK_LIMIT {
                return false;
            }
            match e.file_type() {
                Ok(ft) if ft.is_dir() => {
                    folder(&e);
                    stack.push(e.path());
                }
                Ok(ft) if ft.is_file() => file(&e),
                _ => {}
            }
        }
    }
    true
}
