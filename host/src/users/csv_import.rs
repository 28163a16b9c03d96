//! CSV import of users in the classic product's export format: `;`-separated, columns
//! `name;password;path1;rights1;quota1;path2;…;ratio;groups`, matched by header name (any
//! order, the usual spellings) or, without a header row, in that order. `path1` is the root; `pathN` appears as `/<last component>`.
//! Handles a UTF-8 BOM, CRLF, quoted fields, and old Windows exports in Latin-1.
//! Passwords are hashed here; plaintext never leaves this function.

use std::collections::HashMap;
use std::path::PathBuf;

use super::file::{MountEntry, UploadMode, UserEntry, UsersFile, check_ratio, validate_name};
use crate::fs::Rights;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Line in the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {}: {}", self.line, self.reason)
    }
}

/// Text of the file: UTF-8 (BOM stripped), else Latin-1.
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// Parses the rows into user entries (passwords hashed with `hash`). Rows that name an
/// existing user, or repeat a name, are errors.
pub fn parse(
    bytes: &[u8],
    existing: &UsersFile,
    hash: impl Fn(&str) -> String,
) -> Result<(Vec<(u64, UserEntry)>, Vec<RowError>), String> {
    let text = decode(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .trim(csv::Trim::All)
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut records = reader.records().peekable();
    let first = match records.peek() {
        Some(Ok(r)) => r.clone(),
        Some(Err(e)) => return Err(format!("cannot read the first row: {e}")),
        None => return Ok((Vec::new(), Vec::new())),
    };
    // A header row (any known spelling), or none: the documented column order.
    let named: Vec<Option<String>> = first.iter().map(canonical_header).collect();
    let headers: Vec<String> = if named.iter().filter(|c| c.is_some()).count() >= 2 {
        records.next();
        named
            .into_iter()
            .zip(first.iter())
            .map(|(c, raw)| c.unwrap_or_else(|| raw.to_ascii_lowercase()))
            .collect()
    } else {
        positional_headers(first.len())
    };
    let col: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .rev()
        .map(|(i, h)| (h.clone(), i))
        .collect();
    for required in ["name", "password", "path1"] {
        if !col.contains_key(required) {
            return Err(format!(
                "header row has no '{required}' column (found: {}); without a header row the \
                 columns are name;password;path1;rights1;quota1;...;ratio;groups",
                first.iter().collect::<Vec<_>>().join(";")
            ));
        }
    }
    // The mount columns the file has (path1, path2, ...), by number: a row costs what the
    // file holds, whatever number a header names.
    let mut path_columns: Vec<u32> = headers
        .iter()
        .filter_map(|h| h.strip_prefix("path").and_then(|n| n.parse::<u32>().ok()))
        .filter(|n| *n > 0)
        .collect();
    path_columns.sort_unstable();
    path_columns.dedup();
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| line_at(&text, p.byte())).unwrap_or(0);
                errors.push(RowError {
                    line,
                    reason: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record
            .position()
            .map(|p| line_at(&text, p.byte()))
            .unwrap_or(0);
        let field = |name: &str| {
            col.get(name)
                .and_then(|i| record.get(*i))
                .unwrap_or("")
                .to_string()
        };
        match row(&field, &path_columns, existing, &mut seen, &hash) {
            Ok(u) => ok.push((line, u)),
            Err(reason) => errors.push(RowError { line, reason }),
        }
    }
    Ok((ok, errors))
}

/// The column a header cell names, in any of the spellings exports use (case, spaces, `_` and
/// `-` ignored); None for a cell that is no known header (so a row of data).
fn canonical_header(cell: &str) -> Option<String> {
    let h: String = cell
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect();
    let known = match h.as_str() {
        "name" | "user" | "username" | "login" | "loginname" | "account" | "benutzer"
        | "benutzername" => "name",
        "password" | "pass" | "passwd" | "pwd" | "passwort" | "kennwort" => "password",
        "home" | "homedir" | "path" | "directory" | "verzeichnis" => "path1",
        "rights" | "rechte" | "permissions" => "rights1",
        "quota" => "quota1",
        "ratio" => "ratio",
        "groups" | "group" | "gruppen" | "gruppe" => "groups",
        _ => {
            let numbered = ["path", "rights", "quota"].iter().any(|p| {
                h.strip_prefix(p)
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            });
            return numbered.then_some(h);
        }
    };
    Some(known.to_string())
}

/// Column names of a file without a header row, in the documented order:
/// `name;password;path1;rights1;quota1[;path2;rights2;quota2]...[;ratio[;groups]]`.
fn positional_headers(n: usize) -> Vec<String> {
    let mut h = vec!["name".to_string(), "password".to_string()];
    let rest = n.saturating_sub(2);
    let (triples, tail) = (rest / 3, rest % 3);
    for i in 1..=triples.max(1) {
        h.extend([
            format!("path{i}"),
            format!("rights{i}"),
            format!("quota{i}"),
        ]);
    }
    if triples > 0 {
        h.extend(["ratio", "groups"].iter().take(tail).map(|s| s.to_string()));
    }
    h
}

/// 1-based line of a record starting at `byte`. With CRLF the csv reader reports the offset of
/// the preceding `\n`, so the byte at the offset is counted too.
fn line_at(text: &str, byte: u64) -> u64 {
    let end = (byte as usize + 1).min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
        + 1
}

fn row(
    field: &dyn Fn(&str) -> String,
    path_columns: &[u32],
    existing: &UsersFile,
    seen: &mut std::collections::HashSet<String>,
    hash: &dyn Fn(&str) -> String,
) -> Result<UserEntry, String> {
    let name = field("name");
    validate_name(&name)?;
    if existing.find(&name).is_some() {
        return Err(format!("user '{name}' already exists"));
    }
    if !seen.insert(name.to_ascii_lowercase()) {
        return Err(format!("user '{name}' appears twice in the file"));
    }
    let password = field("password");
    if password.is_empty() {
        return Err("empty password".into());
    }
    let mut mounts = Vec::new();
    for &n in path_columns {
        let path = field(&format!("path{n}"));
        if path.is_empty() {
            if n == 1 {
                return Err("path1 (the home directory) is empty".into());
            }
            continue;
        }
        let rights_text = field(&format!("rights{n}")).to_ascii_lowercase();
        let rights = if rights_text.is_empty() {
            Rights::Read
        } else {
            Rights::parse(&rights_text)
                .ok_or_else(|| format!("rights{n} '{rights_text}' is not one of r, w, rw, a"))?
        };
        let quota = field(&format!("quota{n}"));
        let quota_mb = if quota.is_empty() || quota == "0" {
            None
        } else {
            Some(
                quota
                    .parse::<u64>()
                    .map_err(|_| format!("quota{n} '{quota}' is not a number of MB"))?,
            )
        };
        let at = if n == 1 {
            "/".to_string()
        } else {
            let base = PathBuf::from(&path)
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .ok_or_else(|| format!("path{n} '{path}' has no folder name"))?;
            format!("/{base}")
        };
        if mounts.iter().any(|m: &MountEntry| m.at == at) {
            return Err(format!("path{n} would appear as {at} twice"));
        }
        mounts.push(MountEntry {
            path: PathBuf::from(path),
            at,
            rights,
            quota_mb,
            mode: UploadMode::Atomic,
        });
    }
    let ratio = Some(field("ratio")).filter(|r| !r.is_empty() && r != "0" && r != "0:0");
    if let Some(r) = &ratio {
        check_ratio(r)?;
    }
    let groups: Vec<String> = field("groups")
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
    for g in &groups {
        if !existing.groups.iter().any(|x| x.name == *g) {
            return Err(format!("unknown group '{g}'"));
        }
    }
    let mut u = UserEntry::new(&name, hash(&password), PathBuf::new(), Rights::Read);
    u.home = None;
    u.rights = None;
    u.mounts = mounts;
    u.groups = groups;
    u.ratio = ratio;
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(p: &str) -> String {
        format!("$argon2id$test${}", p.len())
    }

    #[test]
    fn good_and_bad_rows_with_bom_crlf_quotes() {
        let csv = "\u{FEFF}Name;Password;Path1;Rights1;Quota1;Path2;Rights2;Quota2;Ratio;Groups\r\n\
                   anna;\"pa;ss\";/srv/anna;rw;100;/srv/music;r;;1:3;\r\n\
                   bad name;x;/srv/x;r;;;;;;\r\n\
                   carl;pw;/srv/carl;rwx;;;;;;\r\n\
                   dora;pw;;r;;;;;;\r\n\
                   emil;pw;/srv/emil;a;abc;;;;;\r\n\
                   fritz;pw;/srv/fritz;R;;;;;2:1;nogroup\r\n";
        let (ok, errors) = parse(csv.as_bytes(), &UsersFile::default(), hash).unwrap();
        assert_eq!(ok.len(), 1, "{errors:?}");
        let anna = &ok[0].1;
        assert_eq!(anna.name, "anna");
        assert_eq!(
            anna.password, "$argon2id$test$5",
            "quoted field with ';' kept whole"
        );
        assert_eq!(anna.mounts.len(), 2);
        assert_eq!(
            (anna.mounts[0].at.as_str(), anna.mounts[0].quota_mb),
            ("/", Some(100))
        );
        assert_eq!(
            (anna.mounts[1].at.as_str(), anna.mounts[1].rights),
            ("/music", Rights::Read)
        );
        assert_eq!(anna.ratio.as_deref(), Some("1:3"));
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7]);
        assert!(errors[1].reason.contains("rwx"));
        assert!(errors[2].reason.contains("path1"));
        assert!(errors[3].reason.contains("quota1"));
        assert!(errors[4].reason.contains("unknown group"));
    }

    #[test]
    fn a_huge_path_number_costs_nothing() {
        let csv = "name;password;path1;path4294967295\nbig;pw;/srv/big;\n";
        let (ok, errors) = parse(csv.as_bytes(), &UsersFile::default(), hash).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(ok[0].1.mounts.len(), 1);
    }

    #[test]
    fn ratio_none_is_kept() {
        let csv = "name;password;path1;rights1;ratio\ngus;pw;/srv/gus;r;none\n";
        let (ok, errors) = parse(csv.as_bytes(), &UsersFile::default(), hash).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(ok[0].1.ratio.as_deref(), Some("none"));
    }

    #[test]
    fn latin1_fallback() {
        let mut bytes = b"name;password;path1\n".to_vec();
        bytes.extend_from_slice(b"jens;gr\xfc\xdfe;/srv/j\xfcrgen\n");
        let (ok, errors) = parse(&bytes, &UsersFile::default(), |p| p.to_string()).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(ok[0].1.password, "grüße");
        assert_eq!(ok[0].1.mounts[0].path, PathBuf::from("/srv/jürgen"));
    }

    #[test]
    fn a_header_row_without_a_required_column_is_an_error() {
        assert!(
            parse(b"name;pw;path1\nx;y;/srv/x\n", &UsersFile::default(), hash)
                .unwrap_err()
                .contains("'password'")
        );
    }

    #[test]
    fn header_spellings_and_header_less_files() {
        let spelled = "Benutzer;Passwort;Home;Rechte\nanna;pw;/srv/anna;rw\n";
        let (ok, errors) = parse(spelled.as_bytes(), &UsersFile::default(), hash).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            (ok[0].1.name.as_str(), ok[0].1.mounts[0].rights),
            ("anna", Rights::ReadWrite)
        );
        for header in [
            "user;password;path1",
            "User Name;Pass;path1",
            "login;pwd;home",
        ] {
            let csv = format!("{header}\nbob;pw;/srv/bob\n");
            let (ok, errors) = parse(csv.as_bytes(), &UsersFile::default(), hash).unwrap();
            assert!(
                errors.is_empty() && ok[0].1.name == "bob",
                "{header}: {errors:?}"
            );
        }
        // No header: the documented order, rows counted from line 1.
        let bare = "carl;pw;/srv/carl;rw;;/srv/music;r;;1:3;\ndora;pw;/srv/dora;r\n";
        let (ok, errors) = parse(bare.as_bytes(), &UsersFile::default(), hash).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(ok.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(ok[0].1.mounts.len(), 2);
        assert_eq!(ok[0].1.ratio.as_deref(), Some("1:3"));
        assert_eq!(ok[1].1.mounts[0].rights, Rights::Read);
    }
}
