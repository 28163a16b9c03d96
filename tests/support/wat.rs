//! Plugins written by hand in WebAssembly text, without the SDK: they prove the ABI is usable
//! from any language, and they misbehave on purpose to test fault containment.
//!
//! A request starts with `{"hook":"`; byte 9 is the hook's first letter and byte 12 tells
//! `configure` ('f') from `connect` ('n'). Describe and configure always get a reply that
//! parses as every reply type; hook calls get the chosen behaviour.

pub enum Behavior {
    Allow,
    Deny(u16, &'static str),
    /// Never returns (the epoch deadline must stop it).
    Loop,
    /// `unreachable`.
    Trap,
    /// Not JSON.
    Garbage,
    /// Claims a 2 GiB reply.
    Huge,
    /// Reply pointer outside memory.
    OutOfBounds,
    /// Grows memory until refused, then traps (like a Rust OOM abort).
    GrowMemory,
    /// Allows, after `kv_incr("calls", 1)` through the host import.
    CountCalls,
    /// Allows and asks the host to execute `program args…`.
    Execute(&'static str, &'static [&'static str]),
    /// Calls the host with `call` (JSON) forever; with `vary_at`, the two bytes at that offset
    /// of the call are changed each time (a new key per call). Only the host's budget ends it.
    HostLoop {
        call: String,
        vary_at: Option<usize>,
    },
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A plugin module subscribed to `hooks` that behaves as `b` on hook calls.
pub fn plugin(name: &str, hooks: &[&str], b: Behavior) -> Vec<u8> {
    module(name, hooks, b, 1, true)
}

/// Same, with a chosen ABI version or without the `ftpsd_handle` export.
pub fn module(name: &str, hooks: &[&str], b: Behavior, abi: i32, with_handle: bool) -> Vec<u8> {
    let hooks_json = hooks
        .iter()
        .map(|h| format!("\"{h}\""))
        .collect::<Vec<_>>()
        .join(",");
    let verdict = match &b {
        Behavior::Deny(code, msg) => format!(
            "\"verdict\":\"deny\",\"code\":{code},\"message\":\"{}\"",
            escape(msg)
        ),
        Behavior::Execute(program, args) => {
            let args = args
                .iter()
                .map(|a| format!("\"{a}\""))
                .collect::<Vec<_>>()
                .join(",");
            format!(
                "\"verdict\":\"allow\",\"actions\":[{{\"action\":\"execute\",\"program\":\"{program}\",\"args\":[{args}]}}]"
            )
        }
        _ => "\"verdict\":\"allow\"".to_string(),
    };
    let good = format!("{{\"name\":\"{name}\",\"hooks\":[{hooks_json}],\"ok\":true,{verdict}}}");
    let incr = r#"{"op":"kv_incr","key":"calls","delta":1,"ttl_ms":null}"#;
    let loop_data = match &b {
        Behavior::HostLoop { call, .. } => escape(call),
        _ => String::new(),
    };
    let on_hook = match b {
        Behavior::Allow | Behavior::Deny(..) | Behavior::Execute(..) => "(call $good)".to_string(),
        Behavior::Loop => "(loop $l (br $l)) (i64.const 0)".to_string(),
        Behavior::Trap => "unreachable".to_string(),
        Behavior::Garbage => {
            "(i64.or (i64.shl (i64.const 8192) (i64.const 32)) (i64.const 8))".to_string()
        }
        Behavior::Huge => {
            "(i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 0x7fffffff))".to_string()
        }
        Behavior::OutOfBounds => {
            "(i64.or (i64.shl (i64.const 0xfffff000) (i64.const 32)) (i64.const 100))".to_string()
        }
        Behavior::GrowMemory => {
            "(loop $g (br_if $g (i32.ne (memory.grow (i32.const 256)) (i32.const -1)))) unreachable"
                .to_string()
        }
        Behavior::CountCalls => format!(
            "(drop (call $host (i32.const 12288) (i32.const {}))) (call $good)",
            incr.len()
        ),
        Behavior::HostLoop { call, vary_at } => {
            let vary = match vary_at {
                Some(at) => format!(
                    "(i32.store8 (i32.const {a}) (i32.add (i32.const 65) (i32.rem_u (local.get $i) (i32.const 26))))
                     (i32.store8 (i32.const {b}) (i32.add (i32.const 65) (i32.rem_u (i32.div_u (local.get $i) (i32.const 26)) (i32.const 26))))",
                    a = 20480 + at,
                    b = 20480 + at + 1
                ),
                None => String::new(),
            };
            format!(
                "(loop $l {vary} (drop (call $host (i32.const 20480) (i32.const {len}))) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)) (call $good)",
                len = call.len()
            )
        }
    };
    let handle = if with_handle {
        format!(
            r#"(func (export "ftpsd_handle") (param $p i32) (param $n i32) (result i64)
                 (local $i i32)
                 (if (i32.or (i32.eq (i32.load8_u (i32.add (local.get $p) (i32.const 9))) (i32.const 100))
                             (i32.eq (i32.load8_u (i32.add (local.get $p) (i32.const 12))) (i32.const 102)))
                   (then (return (call $good))))
                 {on_hook})"#
        )
    } else {
        String::new()
    };
    let wat = format!(
        r#"(module
             (import "ftpsd_v1" "host" (func $host (param i32 i32) (result i64)))
             (memory (export "memory") 3)
             (data (i32.const 16) "{good_data}")
             (data (i32.const 8192) "not json")
             (data (i32.const 12288) "{incr_data}")
             (data (i32.const 20480) "{loop_data}")
             (func $good (result i64) (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const {good_len})))
             (func (export "ftpsd_abi_version") (result i32) (i32.const {abi}))
             (func (export "ftpsd_alloc") (param i32) (result i32) (i32.const 16384))
             (func (export "ftpsd_dealloc") (param i32 i32))
             {handle})"#,
        good_data = escape(&good),
        good_len = good.len(),
        incr_data = escape(incr),
        loop_data = loop_data,
    );
    wat::parse_str(&wat).unwrap_or_else(|e| panic!("test WAT does not assemble: {e}\n{wat}"))
}
