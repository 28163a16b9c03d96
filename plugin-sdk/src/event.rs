//! Events (what the host tells a plugin) and replies (what the plugin decides).

use serde::{Deserialize, Serialize};

/// The hooks a plugin can implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}

impl Hook {
    pub const ALL: [Hook; 7] = [
        Hook::Connect,
        Hook::Login,
        Hook::Upload,
        Hook::FileBlocked,
        Hook::RatioCheck,
        Hook::UploadComplete,
        Hook::Command,
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
        }
    }

    /// Gates decide whether something happens; notifications only inform.
    pub fn is_gate(self) -> bool {
        !matches!(self, Hook::FileBlocked | Hook::UploadComplete)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectEvent {
    pub ip: String,
    /// "explicit" or "implicit".
    pub listener: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginEvent {
    pub ip: String,
    pub user: String,
    /// Whether the password was correct.
    pub success: bool,
    pub anonymous: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadEvent {
    pub ip: String,
    pub user: String,
    /// Virtual path of the file being created (for RNTO: the new name).
    pub path: String,
    /// STOR, APPE, STOU or RNTO.
    pub command: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileBlockedEvent {
    pub ip: String,
    pub user: String,
    pub path: String,
    pub command: String,
    /// Who refused: a plugin name, or "host".
    pub by: String,
    pub reason: String,
}

/// Per-user transfer counters the host keeps (completed transfers only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub files_up: u64,
    pub files_down: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadCompleteEvent {
    pub ip: String,
    pub user: String,
    pub path: String,
    /// The file on disk (after the atomic rename), for execute actions.
    pub real_path: String,
    pub size: u64,
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandEvent {
    pub ip: String,
    pub user: String,
    /// The FTP verb, e.g. DELE.
    pub command: String,
    pub path: Option<String>,
}

/// A request to `ftpsd_handle`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        })
    }
}

/// What the plugin says about an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    #[default]
    Allow,
    /// `code` is the FTP reply the client sees (4xx/5xx), `message` its text.
    Deny { code: u16, message: String },
}

/// Effects the plugin asks the host to perform (checked against granted capabilities).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// A hook's result: verdict and actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Response {
    #[serde(flatten)]
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    /// Text for the user alongside an allow (e.g. the ratio standing `SITE RATIO` shows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
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
pub struct Description {
    pub name: String,
    pub hooks: Vec<Hook>,
}

/// The reply of `configure`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
