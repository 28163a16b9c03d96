//! A directory listing read while it is sent. A local directory's names are read (and sorted)
//! first, packed in one buffer; each entry's metadata is read when its line is written. So a
//! LIST of 100,000 entries holds about 2 MB of names and one chunk of output, not every entry
//! and every line at once.

use cap_std::fs::Dir;

use super::listing::EntryInfo;
use super::packed_names::PackedNames;

enum Source {
    /// A local directory: the names now, each one's metadata when its turn comes.
    Dir {
        dir: Dir,
        names: PackedNames,
        next: usize,
    },
    /// Entries already known (object storage, share folders, one file, wildcard matches).
    Known(std::vec::IntoIter<EntryInfo>),
}

/// Entries in name order, as an iterator; see the module comment.
pub struct EntryStream {
    source: Source,
    /// Entries merged in by name (the root's mount folders and message file).
    extras: std::iter::Peekable<std::vec::IntoIter<EntryInfo>>,
    peeked: Option<EntryInfo>,
}

impl EntryStream {
    /// Entries already read, in the order given.
    pub fn known(entries: Vec<EntryInfo>) -> Self {
        Self::from_source(Source::Known(entries.into_iter()))
    }

    /// A local directory's sorted names, whose metadata is read from `dir` one by one; an entry
    /// whose metadata cannot be read (gone meanwhile, a link leading out) is left out.
    pub fn dir(dir: Dir, names: PackedNames) -> Self {
        Self::from_source(Source::Dir {
            dir,
            names,
            next: 0,
        })
    }

    fn from_source(source: Source) -> Self {
        EntryStream {
            source,
            extras: Vec::new().into_iter().peekable(),
            peeked: None,
        }
    }

    /// Leaves out the names `hide` accepts and merges `extras` in by name (a view's root: real
    /// entries that mount folders hide, and the mount folders themselves).
    pub fn with_root(mut self, hide: impl Fn(&str) -> bool, mut extras: Vec<EntryInfo>) -> Self {
        match &mut self.source {
            Source::Dir { names, .. } => names.retain(|n| !hide(n)),
            Source::Known(it) => {
                let kept: Vec<EntryInfo> = it.by_ref().filter(|e| !hide(&e.name)).collect();
                *it = kept.into_iter();
            }
        }
        extras.sort_by(|a, b| a.name.cmp(&b.name));
        self.extras = extras.into_iter().peekable();
        self
    }

    /// Keeps only the entries whose names `keep` accepts (a wildcard), before any is read:
    /// names are matched without reading any metadata.
    pub fn filter_names(mut self, keep: impl Fn(&str) -> bool) -> Self {
        match &mut self.source {
            Source::Dir { names, .. } => names.retain(&keep),
            Source::Known(it) => {
                let kept: Vec<EntryInfo> = it.by_ref().filter(|e| keep(&e.name)).collect();
                *it = kept.into_iter();
            }
        }
        let extras: Vec<EntryInfo> = self.extras.by_ref().filter(|e| keep(&e.name)).collect();
        self.extras = extras.into_iter().peekable();
        self
    }

    /// Reads every remaining entry's metadata now when at most `most` are left, so a small
    /// folder's listing is made without another trip to the blocking pool (see
    /// `data::transfer::listing`); a large one is still read as it is sent.
    pub fn read_ahead_if_small(mut self, most: usize) -> Self {
        if let Source::Dir { names, next, .. } = &self.source
            && names.len().saturating_sub(*next) <= most
        {
            let mut entries = Vec::with_capacity(names.len() - *next);
            while let Some(e) = self.next_from_source() {
                entries.push(e);
            }
            self.source = Source::Known(entries.into_iter());
        }
        self
    }

    /// Whether every entry is in memory: making lines then touches no disk.
    pub fn in_memory(&self) -> bool {
        matches!(self.source, Source::Known(_))
    }

    /// Whether nothing is left to list (by name: an entry whose metadata cannot be read when
    /// its turn comes is still left out then).
    pub fn is_empty(&mut self) -> bool {
        let source_empty = match &self.source {
            Source::Dir { names, next, .. } => *next >= names.len(),
            Source::Known(it) => it.len() == 0,
        };
        source_empty && self.peeked.is_none() && self.extras.peek().is_none()
    }

    fn next_from_source(&mut self) -> Option<EntryInfo> {
        match &mut self.source {
            Source::Known(it) => it.next(),
            Source::Dir { dir, names, next } => loop {
                let name = names.get(*next)?;
                *next += 1;
                // One statx for the usual entry; only a link is followed (beneath `dir`).
                let md = match dir.symlink_metadata(name) {
                    Ok(md) if md.is_symlink() => dir.metadata(name),
                    other => other,
                };
                if let Ok(md) = md {
                    return Some(super::sandbox::info(name.to_string(), &md));
                }
            },
        }
    }
}

impl Iterator for EntryStream {
    type Item = EntryInfo;

    fn next(&mut self) -> Option<EntryInfo> {
        if self.peeked.is_none() {
            self.peeked = self.next_from_source();
        }
        match (&self.peeked, self.extras.peek()) {
            (Some(a), Some(b)) if b.name < a.name => self.extras.next(),
            (Some(_), _) => self.peeked.take(),
            (None, _) => self.extras.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn e(name: &str) -> EntryInfo {
        EntryInfo {
            name: name.into(),
            is_dir: false,
            size: 0,
            modified: SystemTime::UNIX_EPOCH,
            mode: 0o644,
        }
    }

    #[test]
    fn extras_are_merged_by_name_and_hidden_names_left_out() {
        let s = EntryStream::known(vec![e("a"), e("m"), e("public"), e("z")]).with_root(
            |n| n == "public",
            vec![e("public"), e("b"), e("welcome.txt")],
        );
        let names: Vec<String> = s.map(|e| e.name).collect();
        assert_eq!(names, ["a", "b", "m", "public", "welcome.txt", "z"]);
    }

    #[test]
    fn a_wildcard_keeps_matching_names_and_extras_only() {
        let mut s = EntryStream::known(vec![e("a.txt"), e("b.bin")])
            .with_root(|_| false, vec![e("c.txt"), e("d")])
            .filter_names(|n| n.ends_with(".txt"));
        assert!(!s.is_empty());
        let names: Vec<String> = s.map(|e| e.name).collect();
        assert_eq!(names, ["a.txt", "c.txt"]);
        let mut none = EntryStream::known(vec![e("a")]).filter_names(|_| false);
        assert!(none.is_empty());
    }

    #[test]
    fn a_directory_is_read_in_name_order_skipping_what_is_gone() {
        let tmp = tempfile::tempdir().unwrap();
        for n in ["b", "a", "c"] {
            std::fs::write(tmp.path().join(n), n).unwrap();
        }
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap();
        let mut names = PackedNames::default();
        for n in ["c", "a", "gone", "b"] {
            names.push(n);
        }
        names.sort();
        let got: Vec<(String, u64)> = EntryStream::dir(dir, names)
            .map(|e| (e.name, e.size))
            .collect();
        assert_eq!(got, [("a".into(), 1), ("b".into(), 1), ("c".into(), 1)]);
    }

    #[test]
    fn a_small_directory_is_read_ahead_whole_and_a_large_one_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        for n in ["b", "a", "c"] {
            std::fs::write(tmp.path().join(n), n).unwrap();
        }
        let open = || {
            let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap();
            let mut names = PackedNames::default();
            for n in ["c", "a", "gone", "b"] {
                names.push(n);
            }
            names.sort();
            EntryStream::dir(dir, names)
        };
        let large = open().read_ahead_if_small(3);
        assert!(!large.in_memory());
        let small = open().read_ahead_if_small(4);
        assert!(small.in_memory());
        // Read ahead, then the files change: the listing is what was read.
        std::fs::remove_file(tmp.path().join("b")).unwrap();
        let got: Vec<String> = small.map(|e| e.name).collect();
        assert_eq!(got, ["a", "b", "c"]);
        let got: Vec<String> = large.map(|e| e.name).collect();
        assert_eq!(got, ["a", "c"]);
    }
}
