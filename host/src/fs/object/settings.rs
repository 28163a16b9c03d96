//! `[s3]` in the server config: the S3-compatible endpoint every `s3://bucket/prefix` mount
//! uses, its credentials and the transfer sizes. Credentials come from the config, a file, or
//! the standard AWS environment variables, in that order; nothing is fetched from an instance
//! metadata service (a hung lookup would stall every login).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Section {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`; default `AWS_ENDPOINT_URL`,
    /// else AWS for the region.
    pub endpoint: Option<String>,
    /// Default `AWS_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// Default `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// Default `AWS_SECRET_ACCESS_KEY`; prefer `secret_access_key_file`.
    pub secret_access_key: Option<String>,
    /// A file holding the secret key (first line), readable by the server only; relative to
    /// the config file's folder.
    pub secret_access_key_file: Option<PathBuf>,
    /// `bucket` in the URL path (MinIO, Ceph, most self-hosted stores) rather than the host
    /// name (AWS's virtual-hosted style).
    #[serde(default = "yes")]
    pub path_style: bool,
    /// Size of an upload's parts: what one upload holds in memory per part in flight.
    #[serde(default = "default_part_mb")]
    pub part_size_mb: u64,
    /// Parts of one upload sent at the same time.
    #[serde(default = "default_concurrency")]
    pub upload_concurrency: usize,
    /// RNFR/RNTO copies then deletes; files larger than this are refused (550).
    #[serde(default = "default_rename_mb")]
    pub max_rename_mb: u64,
    /// Bound of one request to the store.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Uploads to object storage at once, server-wide (each holds its parts in flight in
    /// memory); more get 451 and may retry.
    #[serde(default = "default_max_uploads")]
    pub max_uploads: usize,
}

fn default_max_uploads() -> usize {
    32
}

fn yes() -> bool {
    true
}
fn default_part_mb() -> u64 {
    5
}
fn default_concurrency() -> usize {
    2
}
fn default_rename_mb() -> u64 {
    1024
}
fn default_timeout() -> u64 {
    60
}

impl Default for S3Section {
    fn default() -> Self {
        S3Section {
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            secret_access_key_file: None,
            path_style: true,
            part_size_mb: default_part_mb(),
            upload_concurrency: default_concurrency(),
            max_rename_mb: default_rename_mb(),
            timeout_secs: default_timeout(),
            max_uploads: default_max_uploads(),
        }
    }
}

/// What the object mounts connect with, after the environment filled the gaps.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resolved {
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub path_style: bool,
    pub part_size: usize,
    pub upload_concurrency: usize,
    pub max_rename: u64,
    pub timeout_secs: u64,
    pub max_uploads: usize,
}

impl S3Section {
    /// The key at fault and what to write instead, for `check-config` and the loader.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if !(5..=512).contains(&self.part_size_mb) {
            return Some((
                "part_size_mb",
                format!(
                    "s3.part_size_mb = {} must be 5..=512 (S3 parts are at least 5 MiB)",
                    self.part_size_mb
                ),
            ));
        }
        if !(1..=16).contains(&self.upload_concurrency) {
            return Some((
                "upload_concurrency",
                "s3.upload_concurrency must be from 1 to 16".into(),
            ));
        }
        if !(1..=4096).contains(&self.max_uploads) {
            return Some((
                "max_uploads",
                "s3.max_uploads must be from 1 to 4096".into(),
            ));
        }
        if !(1..=3600).contains(&self.timeout_secs) {
            return Some((
                "timeout_secs",
                "s3.timeout_secs must be from 1 to 3600".into(),
            ));
        }
        if self.max_rename_mb > 5 * 1024 {
            return Some((
                "max_rename_mb",
                "s3.max_rename_mb must be at most 5120 (one S3 copy takes at most 5 GiB)".into(),
            ));
        }
        if let Some(e) = &self.endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            return Some((
                "endpoint",
                format!(
                    "s3.endpoint '{}' must start with http:// or https://",
                    e.escape_debug()
                ),
            ));
        }
        if self.secret_access_key.is_some() && self.secret_access_key_file.is_some() {
            return Some((
                "secret_access_key_file",
                "set s3.secret_access_key or s3.secret_access_key_file, not both".into(),
            ));
        }
        None
    }

    /// Fills the gaps from the environment (`AWS_*`) and reads the secret's file.
    pub fn resolve(&self, base: &std::path::Path) -> Result<Resolved, String> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let secret = match (&self.secret_access_key, &self.secret_access_key_file) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(f)) => Some(
                std::fs::read_to_string(base.join(f))
                    .map_err(|e| format!("s3.secret_access_key_file {}: {e}", f.display()))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            ),
            (None, None) => env("AWS_SECRET_ACCESS_KEY"),
        };
        Ok(Resolved {
            endpoint: self.endpoint.clone().or_else(|| env("AWS_ENDPOINT_URL")),
            region: self
                .region
                .clone()
                .or_else(|| env("AWS_REGION"))
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            access_key_id: self
                .access_key_id
                .clone()
                .or_else(|| env("AWS_ACCESS_KEY_ID")),
            secret_access_key: secret,
            session_token: env("AWS_SESSION_TOKEN"),
            path_style: self.path_style,
            part_size: (self.part_size_mb as usize) << 20,
            upload_concurrency: self.upload_concurrency,
            max_rename: self.max_rename_mb.saturating_mul(1 << 20),
            timeout_secs: self.timeout_secs,
            max_uploads: self.max_uploads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_their_key() {
        let s = S3Section {
            part_size_mb: 1,
            ..Default::default()
        };
        assert_eq!(s.problem().unwrap().0, "part_size_mb");
        let s = S3Section {
            endpoint: Some("127.0.0.1:9000".into()),
            ..Default::default()
        };
        assert_eq!(s.problem().unwrap().0, "endpoint");
        let s = S3Section {
            secret_access_key: Some("x".into()),
            secret_access_key_file: Some("/f".into()),
            ..Default::default()
        };
        assert_eq!(s.problem().unwrap().0, "secret_access_key_file");
        assert!(S3Section::default().problem().is_none());
    }
}
