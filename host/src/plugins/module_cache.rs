//! Compiled modules by the SHA-256 of their bytes, so a reload (SIGHUP, a config edit, the admin
//! API) compiles only the plugins whose file changed: an unchanged module is reused at once.
//! Bounded: past [`MAX_MODULES`] distinct modules the cache starts over.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use wasmtime::Module;

/// Distinct modules kept (plugins in use plus a few versions being swapped).
pub const MAX_MODULES: usize = 32;

type Key = [u8; 32];

fn cache() -> &'static Mutex<HashMap<Key, Module>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Module>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn key(bytes: &[u8]) -> Key {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut k = [0u8; 32];
    k.copy_from_slice(d.as_ref());
    k
}

/// The compiled module for `bytes`: from the cache, or compiled by `compile` and kept.
pub fn get_or_compile<E>(
    bytes: &[u8],
    compile: impl FnOnce() -> Result<Module, E>,
) -> Result<Module, E> {
    let k = key(bytes);
    if let Some(m) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&k) {
        return Ok(m.clone());
    }
    // Compiled outside the lock: other plugins load meanwhile.
    let module = compile()?;
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    if c.len() >= MAX_MODULES {
        c.clear();
    }
    c.insert(k, module.clone());
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_compile_once() {
        let wat = b"(module (func (export \"f\")))";
        let mut compiled = 0;
        for _ in 0..3 {
            get_or_compile::<wasmtime::Error>(wat, || {
                compiled += 1;
                Module::new(crate::plugins::engine::engine(), wat)
            })
            .unwrap();
        }
        assert_eq!(compiled, 1);
        let other = b"(module (func (export \"g\")))";
        get_or_compile::<wasmtime::Error>(other, || {
            compiled += 1;
            Module::new(crate::plugins::engine::engine(), other)
        })
        .unwrap();
        assert_eq!(compiled, 2);
    }
}
