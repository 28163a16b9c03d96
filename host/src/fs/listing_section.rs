//! `[listing]`: listing behaviour for older clients.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListingSection {
    /// Legacy clients: LIST of a missing path answers 226 with an empty listing, never 550.
    pub legacy_always_positive: bool,
    /// LIST of a file lists that file, as RFC 959 says and `ls file` expects (off: 550, as
    /// for a non-directory).
    pub list_files_directly: bool,
}

impl Default for ListingSection {
    fn default() -> Self {
        ListingSection {
            legacy_always_positive: false,
            list_files_directly: true,
        }
    }
}
