//! # ftpsd plugin SDK
//!
//! Site policy for the ftpsd FTPS server, written as a WebAssembly plugin. The host owns the
//! protocol, TLS, files and all I/O; a plugin *decides*: it receives an event per hook and
//! returns a verdict (allow, or deny with the FTP reply the client sees) and optional actions
//! (e.g. execute a program), which the host performs only if the operator granted the
//! capability. State lives in the host (a per-plugin key-value store with TTL, persisted), so
//! plugins can be swapped while the server runs.
//!
//! ```ignore
//! use ftpsd_plugin_sdk::*;
//!
//! #[derive(Default)]
//! struct NoMp3;
//!
//! impl Plugin for NoMp3 {
//!     type Settings = ();
//!     const NAME: &'static str = "no-mp3";
//!     const HOOKS: &'static [Hook] = &[Hook::Upload];
//!     fn upload(&mut self, ev: &UploadEvent, _host: &mut dyn Host) -> Response {
//!         if ev.path.ends_with(".mp3") { Response::deny(553, "No MP3 files here.") } else { Response::allow() }
//!     }
//! }
//! export!(NoMp3);
//! ```
//!
//! ## The ABI (version 2; version 1 plugins still run), for plugins in any language
//!
//! A plugin is a core WebAssembly module (wasm32; `wasm32-wasip1` or `wasm32-unknown-unknown`).
//! All payloads are UTF-8 JSON. Pointers and lengths are i32; a *packed* i64 is
//! `(ptr << 32) | len`.
//!
//! Exports:
//! - `memory`
//! - `ftpsd_abi_version() -> i32` — must return [`ABI_VERSION`].
//! - `ftpsd_alloc(len: i32) -> i32` — memory for the host to write a request into.
//! - `ftpsd_dealloc(ptr: i32, len: i32)` — frees what `ftpsd_alloc` (or a response) gave.
//! - `ftpsd_handle(ptr: i32, len: i32) -> i64` — takes a [`Request`] as JSON, returns the packed
//!   location of a JSON [`Reply`]. The host frees both buffers with `ftpsd_dealloc`.
//! - `_initialize()` (optional) — called once after instantiation (WASI reactors).
//!
//! Requests: `{"hook":"describe"}` → `{"name":…,"hooks":[…]}`; `{"hook":"configure",
//! "settings":{…}}` → `{"ok":true}` or `{"error":"key: reason"}`; and one per hook, e.g.
//! `{"hook":"upload","ip":…,"user":…,"path":…,"command":"STOR"}` → `{"verdict":"allow"}` or
//! `{"verdict":"deny","code":553,"message":"…"}`, optionally with `"actions":[…]`.
//!
//! Import `ftpsd_v1.host(ptr: i32, len: i32) -> i64`: a [`HostCall`] as JSON in, a JSON
//! [`HostReply`] out (written into memory the host obtains from `ftpsd_alloc`; the plugin frees
//! it). Operations: `log`, `now`, `kv_get`, `kv_set`, `kv_delete`, `kv_cas`, `kv_incr`,
//! `kv_list` (v2), `http` (v2, under the operator's `http` capability; see [`HttpRequest`]).
//!
//! Version 2 also added: the `upload-failed` notification, event fields (`session`,
//! `transfer`, `groups`, `tls`, `declared_size`, `offset`), `limits` in an upload gate's
//! allow (see [`UploadLimits`]) and `capabilities` in `describe`.
//!
//! An allow may carry `"info":"text"` for the user (the ratio standing `SITE RATIO` shows: a
//! `ratio-check` with `"query":true`). Plugins that ban store bans as described in [`bans`], so
//! the operator can list and lift them.
//!
//! WASI: a `wasm32-wasip1` plugin gets stdout/stderr (to the server log, tagged with the plugin
//! name), a clock and random bytes — no files, no environment, no sockets.
//!
//! Limits per call (operator-configurable): wall-clock deadline, memory, request/reply size.
//! A trap, timeout or malformed reply fails the call: gates (connect, login, upload,
//! ratio-check) deny by default; repeated faults quarantine the plugin.

pub mod bans;
mod event;
mod host;
mod plugin;
#[cfg(feature = "schema")]
pub mod schema;
pub mod testing;
mod units;

pub use event::*;
pub use host::*;
pub use plugin::*;
pub use units::human_bytes;

/// Version of the host ↔ plugin ABI. A plugin built for another version is refused at load.
pub const ABI_VERSION: i32 = 2;

/// Oldest ABI version the host still runs. Version 2 (events v2) only added: fields in events,
/// the `upload-failed` hook, `limits` in an upload gate's reply, `capabilities` in `describe`,
/// and the `kv_list` host call; a version 1 plugin is sent the same JSON and ignores what it
/// does not know.
pub const MIN_ABI_VERSION: i32 = 1;
