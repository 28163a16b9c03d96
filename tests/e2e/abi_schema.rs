//! The ABI's JSON Schema (plugin-sdk/abi/schema.json) is generated from the SDK's types: this
//! fails when someone changes an event or a reply without regenerating it (`cargo xtask
//! schema`), so the file other languages read never drifts from what the host sends.

#[test]
fn the_checked_in_schema_matches_the_sdk_types() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk/abi/schema.json");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = ftpsd_plugin_sdk::schema::abi_schema_text();
    assert!(
        on_disk == generated,
        "{} is out of date with the SDK's types: run `cargo xtask schema` and commit it",
        path.display()
    );
}

#[test]
fn the_schema_names_every_hook_and_host_call() {
    let schema: serde_json::Value =
        serde_json::from_str(&ftpsd_plugin_sdk::schema::abi_schema_text()).unwrap();
    let text = schema["$defs"]["Request"].to_string();
    for hook in ftpsd_plugin_sdk::Hook::ALL {
        let name = serde_json::to_value(hook).unwrap();
        assert!(
            text.contains(&format!("\"const\":{name}")),
            "{name} in {text}"
        );
    }
    let calls = schema["$defs"]["HostCall"].to_string();
    for op in [
        "log",
        "now",
        "kv_get",
        "kv_set",
        "kv_delete",
        "kv_cas",
        "kv_incr",
        "kv_list",
        "http",
        "count",
        "observe",
    ] {
        assert!(
            calls.contains(&format!("\"const\":\"{op}\"")),
            "{op} in {calls}"
        );
    }
    assert_eq!(schema["x-abi-version"], ftpsd_plugin_sdk::ABI_VERSION);
}
