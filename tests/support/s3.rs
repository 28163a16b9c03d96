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
        s.curl(&["-X", "PUT", &format!("{}/{bucket}", s.endpoint())]);
        s
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
            "{}/{bucket}?list-type=2&prefix={prefix}",
            self.endpoint()
        )]);
        tags(&xml, "Key")
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
            .arg(format!("{}/{bucket}/{key}", self.endpoint()))
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
            &format!("{}/{bucket}/{key}", self.endpoint()),
        ]);
    }
}

fn tags(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|s| s.split(&close).next())
        .map(str::to_string)
        .collect()
}
