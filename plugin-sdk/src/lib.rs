//! ftpsd plugin SDK: the event and verdict types shared by the host and WebAssembly policy
//! plugins. The runtime (hooks, ABI, export macro, test harness) is the plugin-runtime issue;
//! this crate exists now so the workspace layout is stable.

/// Version of the host ↔ plugin ABI. A plugin built for another version is refused at load.
pub const ABI_VERSION: u32 = 1;
