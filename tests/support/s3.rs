//! A real S3-compatible server on loopback for object-storage mounts: moto in server mode
//! (`pip install "moto[server]"`, which `cargo xtask test` does), one process per test,
//! started by the test itself. Objects and multipart uploads are inspected over plain HTTP
//! with curl, as any S3 client would see them.

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use crate::cluster::{Process, free_port, until_listening};

/// Requests as an S3 client makes them: signed (moto refuses anonymous reads of objects).
pub const SIGNED: [&str; 4] = [
    "--aws-sigv4",
    "aws:amz:us-east-1:s3",
    "-u",
    "test-key:test-secret",
];

pub struct S3Server {
    pub port: u16,
    _process: Process,
}

impl S3Server {
    /// A fresh server with `bucket` made.
    pub async fn start(bucket: &str) -> S3Server {
        // A free port can be taken by another test's process before moto binds it (moto then
        // exits, and what answered the first connect was the other process): the bucket's
        // creation tells, and a new port is tried.
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("moto_server (cargo xtask test installs moto[server] with pip)");
            let s = S3Server {
                port,
                _process: Process(Some(child)),
            };
            until_listening("moto_server", SocketAddr::from(([127, 0, 0, 1], port))).await;
            let made = Command::new("curl")
                .args(["-sS", "--fail", "--max-time", "30"])
                .args(SIGNED)
                .args(["-X", "PUT", &format!("{}/{bucket}", s.endpoint())])
                .output()
                .expect("curl");
            if made.status.success() {
                return s;
            }
            eprintln!("moto_server on port {port} did not make the bucket: {made:?}; another port");
        }
        panic!("moto_server did not start on any of 5 ports");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn curl(&self, args: &[&str]) -> String {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "30"])
            .args(SIGNED)
            .args(args)
            .output()
            .expect("curl");
        assert!(out.status.success(), "curl {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The keys under `prefix` in `bucket`.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let xml = self.curl(&[&format!(
            "{}/{bucket}?list-type=2&prefix={}",
            self.endpoint(),
            encode(prefix, false)
        )]);
        tags(&xml, "Key")
    }

    /// Size and last-modified time (`YYYYMMDDHHMMSS`, UTC) of each object under `prefix`.
    pub fn objects(&self, bucket: &str, prefix: &str) -> Vec<(String, u64, String)> {
        let xml = self.curl(&[&format!(
            "{}/{bucket}?list-type=2&prefix={}",
            self.endpoint(),
            encode(prefix, false)
        )]);
        xml.split("<Contents>")
            .skip(1)
            .map(|c| {
                let one = |tag| tags(c, tag).into_iter().next().unwrap_or_default();
                let digits: String = one("LastModified")
                    .chars()
                    .filter(char::is_ascii_digit)
                    .take(14)
                    .collect();
                (one("Key"), one("Size").parse().unwrap_or(0), digits)
            })
            .collect()
    }

    /// Multipart uploads begun and neither completed nor aborted.
    pub fn open_uploads(&self, bucket: &str) -> Vec<String> {
        let xml = self.curl(&[&format!("{}/{bucket}?uploads", self.endpoint())]);
        tags(&xml, "UploadId")
    }

    pub fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let out = Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "120"])
            .args(SIGNED)
            .arg(format!(
                "{}/{bucket}/{}",
                self.endpoint(),
                encode(key, true)
            ))
            .output()
            .expect("curl");
        assert!(out.status.success(), "GET {key}: {out:?}");
        out.stdout
    }

    pub fn put(&self, bucket: &str, key: &str, data: &[u8]) {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), data).unwrap();
        self.curl(&[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &format!("@{}", f.path().display()),
            &format!("{}/{bucket}/{}", self.endpoint(), encode(key, true)),
        ]);
    }
}

fn tags(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|s| s.split(&close).next())
        .map(|s| {
            s.replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

/// A key or prefix as it goes in a URL: every byte but the unreserved ones (and `/` in a path)
/// percent-encoded, as S3 clients send it.
fn encode(text: &str, keep_slash: bool) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b'/' if keep_slash => "/".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
