//! The last version of each plugin that loaded, kept in the data directory
//! (`<data_dir>/plugins/last-good/<name>.wasm`). A plugin file that is missing, truncated or
//! broken at start-up then does not stop the server, nor leave a policy unenforced: the plugin
//! starts from its last good version, with a loud warning, until a good file replaces it.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct LastGood {
    dir: PathBuf,
}

impl LastGood {
    pub fn new(data_dir: &Path) -> LastGood {
        LastGood {
            dir: data_dir.join("plugins/last-good"),
        }
    }

    pub fn path(&self, plugin: &str) -> PathBuf {
        self.dir.join(format!("{plugin}.wasm"))
    }

    /// Keeps `bytes` as the plugin's last good version (atomically; unchanged files are not
    /// rewritten). Failures are logged: the server runs on without a fallback copy.
    pub fn save(&self, plugin: &str, bytes: &[u8]) {
        let path = self.path(plugin);
        if std::fs::read(&path).is_ok_and(|old| old == bytes) {
            return;
        }
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let tmp = self.dir.join(format!(".{plugin}.wasm.tmp"));
            std::fs::write(&tmp, bytes)?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            tracing::warn!(plugin, file = %path.display(), error = %e, "cannot keep the plugin's last good version");
        }
    }

    /// The kept version of `plugin`, if any.
    pub fn read(&self, plugin: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(plugin)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_and_replaces_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let lg = LastGood::new(dir.path());
        assert_eq!(lg.read("p"), None);
        lg.save("p", b"one");
        assert_eq!(lg.read("p").as_deref(), Some(&b"one"[..]));
        lg.save("p", b"two");
        assert_eq!(lg.read("p").as_deref(), Some(&b"two"[..]));
        assert!(lg.path("p").starts_with(dir.path()));
    }
}
