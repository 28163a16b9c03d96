//! One wasmtime `Engine` for the process, with epoch interruption driven by a 1 ms ticker
//! thread: `set_epoch_deadline(timeout_ms)` before a call bounds its wall-clock time.

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{Config, Engine};

pub const TICK: Duration = Duration::from_millis(1);

pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut cfg = Config::new();
        cfg.epoch_interruption(true);
        let engine = Engine::new(&cfg).expect("wasmtime engine with static configuration");
        let ticker = engine.clone();
        std::thread::Builder::new()
            .name("ftpsd-epoch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(TICK);
                    ticker.increment_epoch();
                }
            })
            .expect("spawn the epoch ticker");
        engine
    })
}
