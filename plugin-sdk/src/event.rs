//! Events (what the host tells a plugin) and replies (what the plugin decides).

use serde::{Deserialize, Serialize};

/// The hooks a plugin can implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Hook {
    /// New control connection, before the banner. Deny → 421.
    Connect,
    /// After the password check, success or not. A plugin can refuse a correct password, never
    /// accept a wrong one. Deny → 530.
    Login,
    /// The upload-accepted gate: before STOR, APPE, STOU, and RNTO into a name. Deny → 553/550.
    Upload,
    /// Notification: a plugin or host rule refused an operation.
    FileBlocked,
    /// Before RETR, with size, REST offset and the user's persisted counters. Deny → 550.
    RatioCheck,
    /// Post-upload execute point: after an upload finished; may return actions.
    UploadComplete,
    /// Any other file operation (DELE, RMD, MKD, RNFR, LIST, …).
    Command,
    /// Notification (events v2): an upload the upload gate let through did not complete
    /// (connection lost, aborted, over a limit, quota, disk error); nothing of it was kept.
    UploadFailed,
    /// ABI 2, only for plugins granted `auth`: a password to check for a user the users file
    /// does not know (or for every user, as the operator chose). Answer with
    /// [`Response::accept`] and the account, deny (530), or allow without an account (no
    /// opinion: the next plugin, then the users file, decides).
    Authenticate,
}

impl Hook {
    pub const ALL: [Hook; 9] = [
        Hook::Connect,
        Hook::Login,
        Hook::Upload,
        Hook::FileBlocked,
        Hook::RatioCheck,
        Hook::UploadComplete,
        Hook::Command,
        Hook::UploadFailed,
        Hook::Authenticate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Hook::Connect => "connect",
            Hook::Login => "login",
            Hook::Upload => "upload",
            Hook::FileBlocked => "file-blocked",
            Hook::RatioCheck => "ratio-check",
            Hook::UploadComplete => "upload-complete",
            Hook::Command => "command",
            Hook::UploadFailed => "upload-failed",
            Hook::Authenticate => "authenticate",
        }
    }

    /// Gates decide whether something happens; notifications only inform.
    pub fn is_gate(self) -> bool {
        !matches!(
            self,
            Hook::FileBlocked | Hook::UploadComplete | Hook::UploadFailed
        )
    }
}

/// TLS facts of the control connection (events v2). Absent while the connection is plain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TlsInfo {
    /// "TLSv1.3" or "TLSv1.2".
    pub version: String,
    /// IANA name, e.g. "TLS13_AES_256_GCM_SHA384".
    pub cipher: String,
    /// The server name the client asked for, when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// SHA-256 (hex) of the client certificate, when the client presented one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_sha256: Option<String>,
    /// Subject of the client certificate, when the client presented one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_subject: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConnectEvent {
    pub ip: String,
    /// "explicit" or "implicit".
    pub listener: String,
    /// Events v2: the control connection this event belongs to (the id `ftpsd admin sessions`
    /// shows once the user is logged in). 0 from a host before v2.
    #[serde(default)]
    pub session: u64,
    /// Events v2: TLS of the control connection (None: plain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LoginEvent {
    pub ip: String,
    pub user: String,
    /// Whether the password was correct.
    pub success: bool,
    pub anonymous: bool,
    /// Events v2: the control connection this event belongs to (the id `ftpsd admin sessions`
    /// shows once the user is logged in). 0 from a host before v2.
    #[serde(default)]
    pub session: u64,
    /// Events v2: TLS of the control connection (None: plain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    /// Events v2: the user's groups (empty before login or for an unknown user).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A password to check (ABI 2, `authenticate`). Sent only to plugins the operator granted
/// `auth`; the host never logs or records the password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AuthenticateEvent {
    pub ip: String,
    pub user: String,
    pub password: String,
    /// Whether the users file has this user (only ever true when the operator lets the plugin
    /// answer for every user: `auth = { users = "all" }`).
    #[serde(default)]
    pub known: bool,
    #[serde(default)]
    pub session: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
}

/// The account an `authenticate` plugin vouches for. Every folder must lie inside the
/// operator's `auth.roots`; the host refuses the login otherwise (a plugin cannot widen them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Account {
    /// The user's `/`: an absolute folder inside one of the roots (created when missing, if
    /// the operator allows).
    pub home: String,
    /// Rights in the home, as in the users file: `r`, `w`, `rw`, `a` (read, write, delete).
    #[serde(default = "read_only")]
    pub rights: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_mb: Option<u64>,
    /// More folders, each shown as `/name` in the root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<AccountMount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Sessions at once (0 or absent: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<u32>,
    /// Upload:download ratio for ratio plugins, e.g. "1:3".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AccountMount {
    /// The real folder (absolute, inside one of the roots).
    pub path: String,
    /// Where it appears: `/name`.
    pub at: String,
    #[serde(default = "read_only")]
    pub rights: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_mb: Option<u64>,
}

fn read_only() -> String {
    "r".into()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UploadEvent {
    pub ip: String,
    pub user: String,
    /// Virtual path of the file being created (for RNTO: the new name).
    pub path: String,
    /// STOR, APPE, STOU or RNTO.
    pub command: String,
    #[serde(default)]
    pub groups: Vec<String>,
    /// Events v2: the control connection this event belongs to (the id `ftpsd admin sessions`
    /// shows once the user is logged in). 0 from a host before v2.
    #[serde(default)]
    pub session: u64,
    /// Events v2: matches an upload gate with its `upload-complete` or `upload-failed`
    /// (and a ratio-check with its download). Unique per server run.
    #[serde(default)]
    pub transfer: u64,
    /// Events v2: TLS of the control connection (None: plain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    /// Events v2: the size the client announced with ALLO before this upload, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_size: Option<u64>,
    /// Events v2: REST offset (STOR resuming at this byte); 0 for a whole upload. For APPE,
    /// the current size of the file.
    #[serde(default)]
    pub offset: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FileBlockedEvent {
    pub ip: String,
    pub user: String,
    pub path: String,
    pub command: String,
    /// Who refused: a plugin name, or "host".
    pub by: String,
    pub reason: String,
    /// Events v2: the control connection this event belongs to (the id `ftpsd admin sessions`
    /// shows once the user is logged in). 0 from a host before v2.
    #[serde(default)]
    pub session: u64,
    /// Events v2: the user's groups (empty before login or for an unknown user).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Per-user transfer counters the host keeps (completed transfers only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Counters {
    pub files_up: u64,
    pub files_down: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RatioCheckEvent {
    pub ip: String,
    pub user: String,
    pub path: String,
    pub size: u64,
    /// REST offset: bytes of the file that will not be sent.
    pub offset: u64,
    pub counters: Counters,
    /// The user's ratio from the users file, e.g. "1:3".
    pub ratio: Option<String>,
    pub anonymous: bool,
    /// `SITE RATIO`: the user asks for their standing; answer with `Response::info`, the
    /// verdict is ignored. `size` and `offset` are 0.
    #[serde(default)]
    pub query: bool,
    /// Events v2: the control connection this event belongs to (the id `ftpsd admin sessions`
    /// shows once the user is logged in). 0 from a host before v2.
    #[serde(default)]
    pub session: u64,
    /// Events v2: matches an upload gate with its `upload-complete` or `upload-failed`
    /// (and a ratio-check with its download). Unique per server run.
    #[serde(default)]
    pub transfer: u64,
    /// Events v2: the user's groups (empty before login or for an unknown user).
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UploadCompleteEvent {
    pub ip: String,
    pub user: String,
    pub path: String,
    /// The file on disk (after the atomic rename), for execute actions.
    pub real_path: String,
    pub size: u64,
    pub ok: bool,
    /// Events v2: the control connection this event belongs to (the id `ftpsd admin sessions`
    /// shows once the user is logged in). 0 from a host before v2.
    #[serde(default)]
    pub session: u64,
    /// Events v2: matches an upload gate with its `upload-complete` or `upload-failed`
    /// (and a ratio-check with its download). Unique per server run.
    #[serde(default)]
    pub transfer: u64,
    /// Events v2: the user's groups (empty before login or for an unknown user).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Events v2: STOR, APPE or STOU.
    #[serde(default)]
    pub command: String,
    /// Events v2: where the upload started in the file (REST or APPE); `size` counts from it.
    #[serde(default)]
    pub offset: u64,
}

/// An upload that did not complete (events v2). In atomic mode nothing of it was kept (the
/// temporary is gone, an append was cut back to the file's old length); see `partial_kept`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UploadFailedEvent {
    pub ip: String,
    pub user: String,
    pub groups: Vec<String>,
    pub session: u64,
    pub transfer: u64,
    pub path: String,
    pub command: String,
    /// Bytes received before it ended.
    pub size: u64,
    /// The reply code the client got (426, 451, 452, 552...).
    pub code: u16,
    /// Why it ended, as the client was told.
    pub reason: String,
    /// Whether the bytes received stay on disk (resumable mode keeps a cut upload for a REST
    /// resume; a refused one — quota, a gate's limit — is always removed).
    #[serde(default)]
    pub partial_kept: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CommandEvent {
    pub ip: String,
    pub user: String,
    /// The FTP verb, e.g. DELE.
    pub command: String,
    pub path: Option<String>,
    /// Events v2: the control connection this event belongs to (the id `ftpsd admin sessions`
    /// shows once the user is logged in). 0 from a host before v2.
    #[serde(default)]
    pub session: u64,
    /// Events v2: the user's groups (empty before login or for an unknown user).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A request to `ftpsd_handle`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "hook", rename_all = "kebab-case")]
pub enum Request {
    Describe,
    Configure { settings: serde_json::Value },
    Connect(ConnectEvent),
    Login(LoginEvent),
    Upload(UploadEvent),
    FileBlocked(FileBlockedEvent),
    RatioCheck(RatioCheckEvent),
    UploadComplete(UploadCompleteEvent),
    Command(CommandEvent),
    UploadFailed(UploadFailedEvent),
    Authenticate(AuthenticateEvent),
}

impl Request {
    pub fn hook(&self) -> Option<Hook> {
        Some(match self {
            Request::Describe | Request::Configure { .. } => return None,
            Request::Connect(_) => Hook::Connect,
            Request::Login(_) => Hook::Login,
            Request::Upload(_) => Hook::Upload,
            Request::FileBlocked(_) => Hook::FileBlocked,
            Request::RatioCheck(_) => Hook::RatioCheck,
            Request::UploadComplete(_) => Hook::UploadComplete,
            Request::Command(_) => Hook::Command,
            Request::UploadFailed(_) => Hook::UploadFailed,
            Request::Authenticate(_) => Hook::Authenticate,
        })
    }
}

/// What the plugin says about an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    #[default]
    Allow,
    /// `code` is the FTP reply the client sees (4xx/5xx), `message` its text.
    Deny { code: u16, message: String },
}

/// Effects the plugin asks the host to perform (checked against granted capabilities).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Run a program (no shell): needs the `exec` capability and the program on the allow-list.
    Execute {
        program: String,
        #[serde(default)]
        args: Vec<String>,
        /// Working directory; default the uploaded file's directory.
        #[serde(default)]
        cwd: Option<String>,
    },
    /// ABI 2, upload-complete only: the host deletes the uploaded file of this event (needs
    /// the `delete` capability). Only that file, and only while it is still the version this
    /// upload wrote; the user's quota and upload counters give its bytes back.
    DeleteFile {
        /// For the log.
        #[serde(default)]
        reason: Option<String>,
    },
    /// ABI 2, upload-complete only: the host moves the uploaded file of this event into the
    /// quarantine folder the operator granted (`quarantine` capability), outside every
    /// user's view, as `<transfer>-<user>-<name>`. As for `delete-file`, the user's quota and
    /// upload counters give its bytes back.
    QuarantineFile {
        /// For the log.
        #[serde(default)]
        reason: Option<String>,
    },
}

/// Limits an upload gate may put on the upload it allows (events v2). The host enforces them
/// while the bytes flow: past `max_bytes` the upload ends with 552 and nothing of it is kept;
/// `max_rate` caps its speed on top of the site's bandwidth limits. Several plugins' limits
/// combine to the strictest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UploadLimits {
    /// Most bytes this upload may bring (counted from its REST/APPE offset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// Bytes per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rate: Option<u64>,
}

impl UploadLimits {
    /// The stricter of two limits, field by field.
    pub fn strictest(self, other: UploadLimits) -> UploadLimits {
        fn min(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        UploadLimits {
            max_bytes: min(self.max_bytes, other.max_bytes),
            max_rate: min(self.max_rate, other.max_rate),
        }
    }

    pub fn is_none(&self) -> bool {
        self.max_bytes.is_none() && self.max_rate.is_none()
    }
}

/// A hook's result: verdict and actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Response {
    #[serde(flatten)]
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    /// Text for the user alongside an allow (e.g. the ratio standing `SITE RATIO` shows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    /// Events v2, upload gate only: limits on the upload an allow lets through.
    #[serde(default, skip_serializing_if = "UploadLimits::is_none")]
    pub limits: UploadLimits,
    /// `authenticate` only: the account of a user the plugin accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Account>,
}

impl Response {
    pub fn allow() -> Response {
        Response::default()
    }

    pub fn deny(code: u16, message: impl Into<String>) -> Response {
        Response {
            verdict: Verdict::Deny {
                code,
                message: message.into(),
            },
            actions: Vec::new(),
            info: None,
            limits: UploadLimits::default(),
            account: None,
        }
    }

    /// `authenticate`: the password is right and this is the account.
    pub fn accept(account: Account) -> Response {
        Response {
            account: Some(account),
            ..Response::default()
        }
    }

    /// An allow for an upload, with limits the host enforces while the bytes flow.
    pub fn allow_with_limits(limits: UploadLimits) -> Response {
        Response {
            limits,
            ..Response::default()
        }
    }

    /// An allow carrying text for the user.
    pub fn info(text: impl Into<String>) -> Response {
        Response {
            info: Some(text.into()),
            ..Response::default()
        }
    }

    pub fn with_action(mut self, a: Action) -> Response {
        self.actions.push(a);
        self
    }

    pub fn is_deny(&self) -> bool {
        matches!(self.verdict, Verdict::Deny { .. })
    }
}

/// The reply of `describe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Description {
    pub name: String,
    pub hooks: Vec<Hook>,
    /// Capabilities the plugin needs the operator to grant (e.g. "exec"); shown by
    /// `ftpsd plugin check`. Informative: the host grants only what the config says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
}

/// The reply of `configure`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum Configured {
    Ok { ok: bool },
    Error { error: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        let r: Request = serde_json::from_str(
            r#"{"hook":"upload","ip":"1.2.3.4","user":"u","path":"/a.mp3","command":"STOR"}"#,
        )
        .unwrap();
        assert_eq!(r.hook(), Some(Hook::Upload));
        assert_eq!(
            serde_json::to_string(&Response::allow()).unwrap(),
            r#"{"verdict":"allow"}"#
        );
        assert_eq!(
            serde_json::to_string(&Response::deny(553, "no")).unwrap(),
            r#"{"verdict":"deny","code":553,"message":"no"}"#
        );
        let with = Response::allow().with_action(Action::Execute {
            program: "/bin/true".into(),
            args: vec![],
            cwd: None,
        });
        let back: Response = serde_json::from_str(&serde_json::to_string(&with).unwrap()).unwrap();
        assert_eq!(back, with);
        assert_eq!(
            serde_json::to_string(&Request::Describe).unwrap(),
            r#"{"hook":"describe"}"#
        );
    }
}
