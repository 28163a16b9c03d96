//! `s3://bucket/prefix` as a mount's path: parsed and checked once, with no I/O, so a users
//! file that names a bucket badly is refused with the reason before anyone logs in.

/// Where an object-storage mount lives: a bucket and a key prefix inside it ("" or ending
/// in `/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectLocation {
    pub bucket: String,
    pub prefix: String,
}

pub const SCHEME: &str = "s3://";

/// Whether a mount path names object storage rather than a local directory.
pub fn is_object_url(path: &str) -> bool {
    path.get(..SCHEME.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(SCHEME))
}

impl ObjectLocation {
    /// Parses `s3://bucket[/prefix]`. Bucket names follow S3's rules (3–63 of `a-z 0-9 . -`,
    /// starting and ending with a letter or digit); the prefix has no empty, `.` or `..`
    /// segments, no backslash and no control characters.
    pub fn parse(url: &str) -> Result<ObjectLocation, String> {
        if !is_object_url(url) {
            return Err(format!("'{}' is not an s3:// URL", url.escape_debug()));
        }
        let rest = &url[SCHEME.len()..];
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket.as_bytes()[0].is_ascii_alphanumeric()
            && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric();
        if !bucket_ok {
            return Err(format!(
                "'{}': the bucket name must be 3 to 63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit (write s3://BUCKET/PREFIX)",
                url.escape_debug()
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        let mut clean = String::new();
        if !prefix.is_empty() {
            for seg in prefix.split('/') {
                if seg.is_empty()
                    || seg == "."
                    || seg == ".."
                    || seg.contains('\\')
                    || seg.chars().any(char::is_control)
                {
                    return Err(format!(
                        "'{}': the prefix must be folder names separated by single '/' (no empty, '.' or '..' parts, no backslash or control characters)",
                        url.escape_debug()
                    ));
                }
                clean.push_str(seg);
                clean.push('/');
            }
        }
        if clean.len() > 512 {
            return Err(format!(
                "'{}': the prefix is longer than 512 bytes",
                url.escape_debug()
            ));
        }
        Ok(ObjectLocation {
            bucket: bucket.to_string(),
            prefix: clean,
        })
    }

    /// The mount as written back (`s3://bucket/prefix`), also its key in the quota registry.
    pub fn url(&self) -> String {
        format!(
            "{SCHEME}{}/{}",
            self.bucket,
            self.prefix.trim_end_matches('/')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_prefix() {
        let l = ObjectLocation::parse("s3://media-files/users/alice/").unwrap();
        assert_eq!(l.bucket, "media-files");
        assert_eq!(l.prefix, "users/alice/");
        let l = ObjectLocation::parse("S3://bucket").unwrap();
        assert_eq!(l.prefix, "");
        assert_eq!(l.url(), "s3://bucket/");
    }

    #[test]
    fn refuses_bad_buckets_and_prefixes() {
        for bad in [
            "s3://",
            "s3://ab",
            "s3://Bucket",
            "s3://-bucket",
            "s3://bucket_1",
            "s3://bucket/a//b",
            "s3://bucket/../other",
            "s3://bucket/a/./b",
            "s3://bucket/a\\b",
            "s3://bucket/a\u{0}b",
            "/srv/ftp",
        ] {
            assert!(ObjectLocation::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn only_s3_urls_are_object_mounts() {
        assert!(is_object_url("s3://b"));
        assert!(!is_object_url("/srv/s3://b"));
        assert!(!is_object_url("s3:/b"));
        assert!(!is_object_url("s"));
    }
}
