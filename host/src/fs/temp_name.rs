//! The names of atomic-upload temporaries: how one is made and recognised. Listings hide them,
//! clients cannot name them, and they are cleaned at start.

/// Name prefix of atomic-upload temporaries.
pub const TEMP_PREFIX: &str = ".ftpsd-upload-";

/// A fresh temporary name.
pub fn random_temp_name() -> String {
    format!("{TEMP_PREFIX}{:016x}.tmp", rand::random::<u64>())
}

pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(".tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_names_are_recognised_and_client_names_are_not() {
        assert!(is_temp_name(&random_temp_name()));
        assert!(!is_temp_name("report.tmp"));
        assert!(!is_temp_name(".ftpsd-upload-x"));
    }
}
