//! The ABI as a JSON Schema (draft 2020-12), generated from the very types the SDK and the
//! host serialise, so a plugin in another language (or a tool that checks recorded traffic)
//! reads one file instead of Rust source: `plugin-sdk/abi/schema.json`. `cargo xtask schema`
//! writes it; a test fails when the checked-in file and these types disagree.

use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::{ABI_VERSION, Configured, Description, HostCall, HostReply, Request, Response};

/// Each message of the ABI: (name, where it travels, its schema as a `$ref`).
fn messages(g: &mut SchemaGenerator) -> Vec<(&'static str, &'static str, Value)> {
    fn r<T: JsonSchema>(g: &mut SchemaGenerator) -> Value {
        g.subschema_for::<T>().to_value()
    }
    vec![
        (
            "request",
            "host → plugin: the JSON passed to ftpsd_handle (`hook` says which)",
            r::<Request>(g),
        ),
        (
            "response",
            "plugin → host: the reply to a hook event",
            r::<Response>(g),
        ),
        (
            "description",
            "plugin → host: the reply to {\"hook\":\"describe\"}",
            r::<Description>(g),
        ),
        (
            "configured",
            "plugin → host: the reply to {\"hook\":\"configure\",\"settings\":{…}}",
            r::<Configured>(g),
        ),
        (
            "host_call",
            "plugin → host: the JSON passed to the import ftpsd_v1.host (`op` says which)",
            r::<HostCall>(g),
        ),
        (
            "host_reply",
            "host → plugin: the reply of ftpsd_v1.host",
            r::<HostReply>(g),
        ),
    ]
}

/// The whole ABI: every message, with its definitions under `$defs`.
pub fn abi_schema() -> Value {
    let mut g = SchemaGenerator::default();
    let messages = messages(&mut g);
    let mut props = Map::new();
    for (name, travels, schema) in &messages {
        let mut s = schema.clone();
        if let Some(o) = s.as_object_mut() {
            o.insert("description".into(), json!(travels));
        }
        props.insert((*name).into(), s);
    }
    let defs: Map<String, Value> = g
        .definitions()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://ftpsd.dev/abi/v2/schema.json",
        "title": "ftpsd plugin ABI",
        "description": "Messages between the ftpsd host and a WebAssembly plugin (a core module exporting memory, ftpsd_abi_version() -> i32, ftpsd_alloc(len) -> ptr, ftpsd_dealloc(ptr, len), ftpsd_handle(ptr, len) -> i64 packed (ptr << 32) | len, and optionally _initialize; importing ftpsd_v1.host(ptr, len) -> i64 packed). Every payload is UTF-8 JSON. Validate one message against #/properties/<name>, e.g. a recorded event against #/properties/request. Generated from the SDK's types by `cargo xtask schema`; do not edit.",
        "x-abi-version": ABI_VERSION,
        "type": "object",
        "properties": props,
        "$defs": defs,
    })
}

/// The checked-in text: pretty JSON with a final newline.
pub fn abi_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&abi_schema()).unwrap_or_default();
    s.push('\n');
    s
}
