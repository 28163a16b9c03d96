//! The WASI preview-1 surface a plugin gets: stdout/stderr (captured, then logged with the
//! plugin's name), a clock and random bytes. No preopened directories (so no files), no
//! environment, no arguments, no sockets; any other WASI function traps if called.

use wasmtime::{Caller, Linker};

use super::store::StoreData;

const MODULE: &str = "wasi_snapshot_preview1";
const ESUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EFAULT: i32 = 21;
/// Captured output per call is capped; the rest is dropped.
const MAX_CAPTURE: usize = 16 * 1024;

fn memory<'a>(caller: &'a mut Caller<'_, StoreData>) -> Option<&'a mut [u8]> {
    let mem = caller.get_export("memory")?.into_memory()?;
    Some(mem.data_mut(caller))
}

fn write_u32(mem: &mut [u8], at: i32, v: u32) -> bool {
    match mem.get_mut(at as u32 as usize..(at as u32 as usize).saturating_add(4)) {
        Some(s) => {
            s.copy_from_slice(&v.to_le_bytes());
            true
        }
        None => false,
    }
}

pub fn add_to_linker(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "fd_write",
        |mut caller: Caller<'_, StoreData>,
         fd: i32,
         iovs: i32,
         iovs_len: i32,
         nwritten: i32|
         -> i32 {
            if fd != 1 && fd != 2 {
                return EBADF;
            }
            let Some(mem) = memory(&mut caller) else {
                return EFAULT;
            };
            let mut out = Vec::new();
            for i in 0..iovs_len.max(0) as usize {
                let base = iovs as u32 as usize + i * 8;
                let Some(entry) = mem.get(base..base + 8) else {
                    return EFAULT;
                };
                let ptr = u32::from_le_bytes(entry[..4].try_into().unwrap_or_default()) as usize;
                let len = u32::from_le_bytes(entry[4..].try_into().unwrap_or_default()) as usize;
                let Some(bytes) = mem.get(ptr..ptr.saturating_add(len)) else {
                    return EFAULT;
                };
                out.extend_from_slice(bytes);
            }
            let n = out.len() as u32;
            if !write_u32(mem, nwritten, n) {
                return EFAULT;
            }
            let captured = &mut caller.data_mut().output;
            let room = MAX_CAPTURE.saturating_sub(captured.len());
            captured.extend_from_slice(&out[..out.len().min(room)]);
            ESUCCESS
        },
    )?;
    for name in ["environ_sizes_get", "args_sizes_get"] {
        linker.func_wrap(
            MODULE,
            name,
            |mut caller: Caller<'_, StoreData>, count: i32, size: i32| -> i32 {
                let Some(mem) = memory(&mut caller) else {
                    return EFAULT;
                };
                if write_u32(mem, count, 0) && write_u32(mem, size, 0) {
                    ESUCCESS
                } else {
                    EFAULT
                }
            },
        )?;
    }
    for name in ["environ_get", "args_get"] {
        linker.func_wrap(MODULE, name, |_: i32, _: i32| -> i32 { ESUCCESS })?;
    }
    linker.func_wrap(
        MODULE,
        "clock_time_get",
        |mut caller: Caller<'_, StoreData>, _id: i32, _precision: i64, out: i32| -> i32 {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            let Some(mem) = memory(&mut caller) else {
                return EFAULT;
            };
            match mem.get_mut(out as u32 as usize..(out as u32 as usize).saturating_add(8)) {
                Some(s) => {
                    s.copy_from_slice(&now.to_le_bytes());
                    ESUCCESS
                }
                None => EFAULT,
            }
        },
    )?;
    linker.func_wrap(
        MODULE,
        "random_get",
        |mut caller: Caller<'_, StoreData>, buf: i32, len: i32| -> i32 {
            let Some(mem) = memory(&mut caller) else {
                return EFAULT;
            };
            match mem.get_mut(
                buf as u32 as usize..(buf as u32 as usize).saturating_add(len.max(0) as usize),
            ) {
                Some(s) => {
                    rand::fill(s);
                    ESUCCESS
                }
                None => EFAULT,
            }
        },
    )?;
    linker.func_wrap(MODULE, "proc_exit", |code: i32| -> wasmtime::Result<()> {
        Err(wasmtime::format_err!("plugin called proc_exit({code})"))
    })?;
    linker.func_wrap(MODULE, "sched_yield", || -> i32 { ESUCCESS })?;
    // No file descriptors besides stdout/stderr: wasi-libc's preopen scan stops at EBADF.
    linker.func_wrap(MODULE, "fd_prestat_get", |_: i32, _: i32| -> i32 { EBADF })?;
    linker.func_wrap(
        MODULE,
        "fd_prestat_dir_name",
        |_: i32, _: i32, _: i32| -> i32 { EBADF },
    )?;
    linker.func_wrap(MODULE, "fd_close", |_: i32| -> i32 { EBADF })?;
    linker.func_wrap(MODULE, "fd_fdstat_get", |_: i32, _: i32| -> i32 { EBADF })?;
    linker.func_wrap(MODULE, "fd_seek", |_: i32, _: i64, _: i32, _: i32| -> i32 {
        EBADF
    })?;
    linker.func_wrap(MODULE, "fd_read", |_: i32, _: i32, _: i32, _: i32| -> i32 {
        EBADF
    })?;
    Ok(())
}
