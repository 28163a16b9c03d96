//! The rules a users file's values must follow (names, mounts, ratios), shared by the file
//! loader, `ftpsd user …` and CSV import.

use super::entry::MountEntry;

/// The largest quota: 1 PiB in MB. Anything beyond is a typo, not a disk.
pub const MAX_QUOTA_MB: u64 = 1 << 30;

pub(super) fn validate_mount(m: &MountEntry) -> Result<(), String> {
    if let Some(q) = m.quota_mb
        && q > MAX_QUOTA_MB
    {
        return Err(format!(
            "mount at '{}': quota_mb {q} is more than 1 PiB ({MAX_QUOTA_MB} MB); leave the quota out for none",
            m.at.escape_debug()
        ));
    }
    let written = m.path.to_string_lossy();
    if crate::fs::object::is_object_url(&written) {
        crate::fs::object::ObjectLocation::parse(&written)
            .map_err(|e| format!("mount at '{}': {e}", m.at.escape_debug()))?;
    }
    if m.at == "/" {
        return Ok(());
    }
    let name =
        m.at.strip_prefix('/')
            .ok_or_else(|| format!("mount at '{}' must start with '/'", m.at))?;
    if name.is_empty()
        || name.contains('/')
        || name == "."
        || name == ".."
        || name.len() > 255
        || name.contains('\\')
        || name.chars().any(char::is_control)
        || crate::fs::temp_name::is_temp_name(name)
    {
        return Err(format!(
            "mount at '{}' must be '/' or '/name' (one folder in the root; no control characters)",
            m.at.escape_debug()
        ));
    }
    if name.starts_with('~') {
        return Err(format!(
            "mount at '{}': names starting with '~' are where other users' shares appear; pick another name",
            m.at.escape_debug()
        ));
    }
    if m.path
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .any(|b| b.is_ascii_control())
    {
        return Err(format!(
            "mount path '{}' contains control characters",
            m.path.display().to_string().escape_debug()
        ));
    }
    Ok(())
}

/// `"up:down"` such as `"1:3"` (3 units down per unit up; both positive), or `"none"`: the user
/// is exempt even where the ratio plugin has a default ratio.
pub fn check_ratio(s: &str) -> Result<Option<(u32, u32)>, String> {
    if s.trim() == "none" {
        return Ok(None);
    }
    let bad =
        || format!("ratio '{s}' must look like 1:3 (upload:download, positive numbers) or be none");
    let (a, b) = s.split_once(':').ok_or_else(bad)?;
    let a: u32 = a.trim().parse().map_err(|_| bad())?;
    let b: u32 = b.trim().parse().map_err(|_| bad())?;
    if a == 0 || b == 0 {
        return Err(bad());
    }
    Ok(Some((a, b)))
}

/// User names: 1–64 characters, letters, digits and `._-@`; they appear in logs and paths.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("name must be 1 to 64 characters".into());
    }
    if name.chars().all(|c| c == '.') {
        return Err(format!("name '{name}' is not a name (only dots)"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(format!(
            "name '{}' may only contain ASCII letters (a-z, A-Z), digits and . _ - @",
            name.escape_debug()
        ));
    }
    Ok(())
}
