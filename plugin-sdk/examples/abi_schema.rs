//! Prints the ABI's JSON Schema (what `cargo xtask schema` writes to plugin-sdk/abi/schema.json).
fn main() {
    print!("{}", ftpsd_plugin_sdk::schema::abi_schema_text());
}
