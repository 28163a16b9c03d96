//! `[log] transfer_format = "xferlog"`: the classic line per file transfer, as log analysers
//! read it, through the real binary.

use ftpsd_e2e::tools::binary_with;
use ftpsd_e2e::{FtpClient, bounded};

#[tokio::test]
async fn transfers_log_in_the_classic_xferlog_format() {
    let (dir, server, user, pass) =
        binary_with("", "[log]\ndir = \"logs\"\ntransfer_format = \"xferlog\"\n").await;
    let cert = dir.path().join("data/tls/cert.pem");
    let mut c = FtpClient::connect_explicit(server.ftp, &cert).await;
    c.login(&user, &pass).await;
    c.protect().await;
    c.cmd_ok("TYPE I", 200).await;
    c.stor("my report.pdf", &[7u8; 4321]).await;
    c.list("LIST").await;
    assert_eq!(c.retr("my report.pdf").await.len(), 4321);
    c.cmd_ok("TYPE A", 200).await;
    c.stor("notes.txt", b"a\r\nb\r\n").await;
    c.cmd_ok("QUIT", 221).await;
    let logs = dir.path().join("logs");
    let file = || {
        std::fs::read_dir(&logs)
            .unwrap()
            .flatten()
            .find(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("transfers.log.")
            })
            .map(|e| e.path())
    };
    let text = bounded("three xferlog lines", async {
        loop {
            let t = file()
                .and_then(|f| std::fs::read_to_string(f).ok())
                .unwrap_or_default();
            if t.lines().count() >= 3 {
                break t;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(server.stop().await.success());
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 3, "no line for the listing:\n{text}");
    for (l, (bytes, path, kind, dir)) in lines.iter().zip([
        ("4321", "/my_report.pdf", "b", "i"),
        ("4321", "/my_report.pdf", "b", "o"),
        ("6", "/notes.txt", "a", "i"),
    ]) {
        // Day, month, (space-padded) date, time, year; then the 13 fields.
        let l: Vec<&str> = l.iter().copied().filter(|f| !f.is_empty()).collect();
        assert_eq!(l.len(), 18, "{l:?}");
        assert!(l[3].len() == 8 && l[4].parse::<i32>().is_ok(), "{l:?}");
        assert!(l[5].parse::<u64>().unwrap() >= 1, "seconds: {l:?}");
        assert_eq!(
            &l[6..],
            &[
                "127.0.0.1",
                bytes,
                path,
                kind,
                "_",
                dir,
                "r",
                user.as_str(),
                "ftp",
                "0",
                "*",
                "c"
            ],
            "{text}"
        );
    }
}
