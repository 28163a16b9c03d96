//! The `Plugin` trait (a default no-op per hook) and the `export!` macro that turns an
//! implementation into the ABI's exports.

use serde::de::DeserializeOwned;

use crate::{
    AuthenticateEvent, CommandEvent, Configured, ConnectEvent, Description, FileBlockedEvent, Hook,
    Host, LoginEvent, RatioCheckEvent, Request, Response, UploadCompleteEvent, UploadEvent,
    UploadFailedEvent,
};

/// A policy plugin. Implement the hooks you need and list them in `HOOKS`: the host calls a
/// plugin only for the hooks it declares.
pub trait Plugin: Default {
    /// Deserialised from the plugin's `settings` table in the server config; validated before
    /// the plugin is activated (an error names the key).
    type Settings: DeserializeOwned;
    const NAME: &'static str;
    const HOOKS: &'static [Hook];
    /// Capabilities the operator must grant for the plugin to work (e.g. `"exec"`), as
    /// `ftpsd plugin check` reports them. Declaring one grants nothing.
    const CAPABILITIES: &'static [&'static str] = &[];

    fn configure(&mut self, _settings: Self::Settings) -> Result<(), String> {
        Ok(())
    }
    fn connect(&mut self, _ev: &ConnectEvent, _host: &mut dyn Host) -> Response {
        Response::allow()
    }
    fn login(&mut self, _ev: &LoginEvent, _host: &mut dyn Host) -> Response {
        Response::allow()
    }
    fn upload(&mut self, _ev: &UploadEvent, _host: &mut dyn Host) -> Response {
        Response::allow()
    }
    fn file_blocked(&mut self, _ev: &FileBlockedEvent, _host: &mut dyn Host) {}
    fn ratio_check(&mut self, _ev: &RatioCheckEvent, _host: &mut dyn Host) -> Response {
        Response::allow()
    }
    fn upload_complete(&mut self, _ev: &UploadCompleteEvent, _host: &mut dyn Host) -> Response {
        Response::allow()
    }
    fn command(&mut self, _ev: &CommandEvent, _host: &mut dyn Host) -> Response {
        Response::allow()
    }
    /// Notification (events v2): an upload the gate allowed did not complete.
    fn upload_failed(&mut self, _ev: &UploadFailedEvent, _host: &mut dyn Host) {}
    /// ABI 2, with the operator's `auth` grant: [`Response::accept`] with the account, a deny,
    /// or an allow without an account (no opinion).
    fn authenticate(&mut self, _ev: &AuthenticateEvent, _host: &mut dyn Host) -> Response {
        Response::allow()
    }
}

/// Deserialises settings; the error names the key (`key_by: unknown variant ...`). No settings
/// (absent or `{}`) also suits a plugin whose `Settings` is `()`.
fn settings_from<S: DeserializeOwned>(settings: serde_json::Value) -> Result<S, String> {
    let empty = settings.is_null() || settings.as_object().is_some_and(|m| m.is_empty());
    let settings = if settings.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        settings
    };
    match serde_path_to_error::deserialize::<_, S>(settings) {
        Ok(s) => Ok(s),
        Err(_) if empty && serde_json::from_value::<S>(serde_json::Value::Null).is_ok() => {
            serde_json::from_value(serde_json::Value::Null).map_err(|e| e.to_string())
        }
        Err(e) if e.path().to_string() == "." => Err(e.inner().to_string()),
        Err(e) => Err(format!("{}: {}", e.path(), e.inner())),
    }
}

/// Handles one request for plugin `p`; returns the reply as JSON. Used by `export!` and by the
/// native test harness, so both run exactly the same code.
pub fn dispatch<P: Plugin>(p: &mut P, req: &[u8], host: &mut dyn Host) -> Vec<u8> {
    let req: Request = match serde_json::from_slice(req) {
        Ok(r) => r,
        Err(e) => {
            return serde_json::to_vec(&Configured::Error {
                error: format!("bad request: {e}"),
            })
            .unwrap_or_default();
        }
    };
    let out = match req {
        Request::Describe => serde_json::to_vec(&Description {
            name: P::NAME.into(),
            hooks: P::HOOKS.to_vec(),
            capabilities: P::CAPABILITIES.iter().map(|c| c.to_string()).collect(),
        }),
        Request::Configure { settings } => {
            let result = match settings_from::<P::Settings>(settings) {
                Ok(s) => p.configure(s),
                Err(e) => Err(e),
            };
            serde_json::to_vec(&match result {
                Ok(()) => Configured::Ok { ok: true },
                Err(error) => Configured::Error { error },
            })
        }
        Request::Connect(ev) => serde_json::to_vec(&p.connect(&ev, host)),
        Request::Login(ev) => serde_json::to_vec(&p.login(&ev, host)),
        Request::Upload(ev) => serde_json::to_vec(&p.upload(&ev, host)),
        Request::FileBlocked(ev) => {
            p.file_blocked(&ev, host);
            serde_json::to_vec(&Response::allow())
        }
        Request::RatioCheck(ev) => serde_json::to_vec(&p.ratio_check(&ev, host)),
        Request::UploadComplete(ev) => serde_json::to_vec(&p.upload_complete(&ev, host)),
        Request::Command(ev) => serde_json::to_vec(&p.command(&ev, host)),
        Request::UploadFailed(ev) => {
            p.upload_failed(&ev, host);
            serde_json::to_vec(&Response::allow())
        }
        Request::Authenticate(ev) => serde_json::to_vec(&p.authenticate(&ev, host)),
    };
    out.unwrap_or_default()
}

/// Generates the ABI exports for a [`Plugin`] type. Use once per plugin crate.
#[macro_export]
macro_rules! export {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        mod __ftpsd_export {
            use super::*;
            static mut PLUGIN: Option<$plugin> = None;

            unsafe extern "C" {
                fn __wasm_call_ctors();
            }

            /// Runs static constructors once (a reactor, not a command: see the SDK docs).
            #[unsafe(no_mangle)]
            pub extern "C" fn _initialize() {
                unsafe { __wasm_call_ctors() };
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn ftpsd_abi_version() -> i32 {
                $crate::ABI_VERSION
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn ftpsd_alloc(len: i32) -> i32 {
                let mut v = ::std::vec::Vec::<u8>::with_capacity(len.max(0) as usize);
                let p = v.as_mut_ptr();
                ::std::mem::forget(v);
                p as i32
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn ftpsd_dealloc(ptr: i32, len: i32) {
                if ptr != 0 {
                    unsafe {
                        drop(::std::vec::Vec::from_raw_parts(
                            ptr as *mut u8,
                            0,
                            len.max(0) as usize,
                        ))
                    };
                }
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn ftpsd_handle(ptr: i32, len: i32) -> i64 {
                let req =
                    unsafe { ::std::slice::from_raw_parts(ptr as *const u8, len.max(0) as usize) };
                #[allow(static_mut_refs)]
                let plugin = unsafe {
                    PLUGIN.get_or_insert_with(<$plugin as ::std::default::Default>::default)
                };
                let out = $crate::dispatch(plugin, req, &mut $crate::WasmHost);
                let mut out = ::std::mem::ManuallyDrop::new(out.into_boxed_slice());
                let (p, l) = (out.as_mut_ptr() as u32 as i64, out.len() as u32 as i64);
                (p << 32) | l
            }
        }
    };
}
