//! How loading a plugin, and calling one, can fail.

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The reason is part of the message, not a separate source, so it is said once.
    #[error("plugin '{plugin}': cannot read {path}: {reason}{hint}")]
    Read {
        plugin: String,
        path: std::path::PathBuf,
        reason: std::io::Error,
        /// Where a relative path was looked for, when that may be the mistake.
        hint: String,
    },
    #[error("plugin '{plugin}': not a valid WebAssembly module: {reason}")]
    Compile { plugin: String, reason: String },
    #[error("plugin '{plugin}': missing export '{export}' (see the ABI in the plugin SDK docs)")]
    MissingExport {
        plugin: String,
        export: &'static str,
    },
    #[error(
        "plugin '{plugin}': ABI version {found}, this server runs versions {min} to {expected}; rebuild it with a matching ftpsd-plugin-sdk"
    )]
    AbiVersion {
        plugin: String,
        found: i32,
        min: i32,
        expected: i32,
    },
    #[error("plugin '{plugin}': bad settings: {reason}")]
    Settings { plugin: String, reason: String },
    /// A `[[plugins]]` key outside `settings` (capabilities, record) the host cannot use.
    #[error("plugin '{plugin}': {reason}")]
    Entry { plugin: String, reason: String },
    #[error("plugin '{plugin}': cannot start: {reason}")]
    Instantiate { plugin: String, reason: String },
    #[error("plugin names must be unique: '{0}' appears twice in [[plugins]]")]
    Duplicate(String),
}

/// Why a call failed; the hook's failure policy decides what the client sees.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("deadline exceeded")]
    Timeout,
    #[error("trap: {0}")]
    Trap(String),
    #[error("malformed reply: {0}")]
    Garbage(String),
    #[error("reply or request too large ({0} bytes)")]
    Oversized(usize),
    #[error("cannot instantiate: {0}")]
    Instantiate(String),
    #[error("quarantined after repeated faults of its own")]
    Quarantined,
    #[error("{0} is quarantined for this plugin after repeated faults")]
    ClientQuarantined(String),
    #[error("state store unavailable: {0}")]
    StoreUnavailable(String),
}
