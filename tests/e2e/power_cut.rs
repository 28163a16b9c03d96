//! A confirmed upload survives a power cut: the server's files live on a small ext4 filesystem
//! (a loop device), which is shut down right after the 226s without flushing its journal, as a
//! power cut would leave it; mounted again, every confirmed upload is there, whole, under its
//! name. Before the folder was fsynced after the rename, the last upload was found only as its
//! temporary (which the next start removes) — this test failed so.
//!
//! Needs root, `losetup`, `mkfs.ext4` and `mount` (all on a Debian machine where
//! `cargo xtask test` runs as root); elsewhere it says why and passes without running.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ftpsd_e2e::tools::ftpsd_bin;
use ftpsd_e2e::{FtpClient, pattern};

/// The loop filesystem, unmounted and detached however the test ends.
struct LoopFs {
    device: String,
    mnt: PathBuf,
    mounted: bool,
}

impl LoopFs {
    fn create(image: &Path, mnt: &Path) -> Result<LoopFs, String> {
        std::fs::File::create(image)
            .and_then(|f| f.set_len(64 << 20))
            .map_err(|e| e.to_string())?;
        sh("mkfs.ext4", &["-q", "-F", image.to_str().unwrap()])?;
        let device = sh("losetup", &["-f", "--show", image.to_str().unwrap()])?;
        let mut fs = LoopFs {
            device: device.trim().to_string(),
            mnt: mnt.to_path_buf(),
            mounted: false,
        };
        fs.mount()?;
        Ok(fs)
    }

    fn mount(&mut self) -> Result<(), String> {
        std::fs::create_dir_all(&self.mnt).map_err(|e| e.to_string())?;
        sh("mount", &[&self.device, self.mnt.to_str().unwrap()])?;
        self.mounted = true;
        Ok(())
    }

    fn unmount(&mut self) {
        if self.mounted {
            let _ = sh("umount", &[self.mnt.to_str().unwrap()]);
            self.mounted = false;
        }
    }

    /// `EXT4_IOC_SHUTDOWN` with `EXT4_GOING_FLAGS_NOLOGFLUSH`: the filesystem stops at once and
    /// its journal is not flushed; what was not committed is lost, as in a power cut.
    fn power_cut(&self) {
        const EXT4_IOC_SHUTDOWN: libc::c_ulong = 0x8004_587D;
        const NOLOGFLUSH: u32 = 2;
        let dir = std::fs::File::open(&self.mnt).unwrap();
        let flags = NOLOGFLUSH;
        // SAFETY: the ioctl reads one u32 from the pointer, which outlives the call.
        let r = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(&dir),
                EXT4_IOC_SHUTDOWN,
                &flags as *const u32,
            )
        };
        assert_eq!(r, 0, "shutdown: {}", std::io::Error::last_os_error());
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        self.unmount();
        let _ = sh("losetup", &["-d", &self.device]);
    }
}

fn sh(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[tokio::test]
async fn confirmed_uploads_survive_a_power_cut_under_their_names() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("power_cut: skipped, needs root for a loop filesystem");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("ftpsd-data/files");
    let mut fs = match LoopFs::create(&dir.path().join("fs.img"), &files) {
        Ok(fs) => fs,
        Err(e) => {
            eprintln!("power_cut: skipped, no loop filesystem here: {e}");
            return;
        }
    };
    std::fs::write(
        dir.path().join("p.toml"),
        "[explicit]\nlisten = \"127.0.0.1:0\"\n[passive]\nport_min = 47000\nport_max = 47099\n",
    )
    .unwrap();
    let d = dir.path().to_path_buf();
    let (mut child, addr, pass) = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(ftpsd_bin())
            .args(["serve", "--config", "p.toml"])
            .current_dir(&d)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (addr, pass) = crate::operator::read_welcome(stdout);
        (child, addr, pass)
    })
    .await
    .unwrap();
    let pass = pass.expect("first start prints the admin password");
    let cert = dir.path().join("ftpsd-data/tls/cert.pem");
    let mut c = FtpClient::connect_explicit(addr, &cert).await;
    c.login("admin", &pass).await;
    c.protect().await;
    c.cmd_ok("TYPE I", 200).await;
    c.cmd_ok("MKD sub", 257).await;
    // Small (page cache) and large (direct writes), a replacement, and one in a subfolder.
    let uploads = [
        ("small.bin", pattern(100_000, 1)),
        ("large.bin", pattern(9_000_001, 2)),
        ("large.bin", pattern(6_000_000, 3)),
        ("sub/last.bin", pattern(5_000_000, 4)),
    ];
    for (name, data) in &uploads {
        c.stor(name, data).await;
    }
    fs.power_cut();
    child.kill().unwrap();
    child.wait().unwrap();
    drop(c);
    fs.unmount();
    fs.mount().expect("mount after the cut");
    for (name, data) in &uploads[1..] {
        let got = std::fs::read(files.join(name)).unwrap_or_default();
        assert!(
            got == *data || *name == "large.bin" && got == uploads[2].1,
            "{name}: {} bytes after the power cut, want the confirmed {} bytes",
            got.len(),
            data.len()
        );
    }
    assert_eq!(
        std::fs::read(files.join("small.bin")).unwrap_or_default(),
        uploads[0].1
    );
    let leftovers: Vec<String> = std::fs::read_dir(&files)
        .unwrap()
        .chain(std::fs::read_dir(files.join("sub")).unwrap())
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".ftpsd-upload-"))
        .collect();
    assert!(leftovers.is_empty(), "temporaries left: {leftovers:?}");
}
