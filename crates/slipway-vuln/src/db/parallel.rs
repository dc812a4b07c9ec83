//! An ordered parallel map for the import: workers inflate and parse records
//! in blocks while one thread applies the results in input order, so the
//! outcome (which copy of a duplicated id wins, what is reported as skipped)
//! is the same as a sequential import.
//!
//! Workers stay at most [`WINDOW`] blocks ahead of the applying thread, which
//! bounds the memory held by results waiting for their turn.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

/// Items per block handed to a worker.
const BLOCK: usize = 32;

/// Blocks a worker may run ahead of the applied one.
const WINDOW: usize = 16;

/// How many workers to use: `SLIPWAY_IMPORT_THREADS` when set (1 = sequential),
/// else the available cores, at most 4.
pub(super) fn workers() -> usize {
    std::env::var("SLIPWAY_IMPORT_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)))
}

/// Compute `work(state, i)` for `i` in `0..count` on `workers` threads (each
/// with its own `init()` state) and feed the results to `apply` in order of
/// `i`. `apply` returns `Ok(false)` to stop early.
///
/// # Errors
/// The first error of `apply`.
pub(super) fn ordered_map<S, T, E>(
    count: usize,
    workers: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize) -> T + Sync,
    mut apply: impl FnMut(T) -> Result<bool, E>,
) -> Result<(), E>
where
    T: Send,
{
    if workers <= 1 || count <= BLOCK {
        let mut state = init();
        for i in 0..count {
            if !apply(work(&mut state, i))? {
                break;
            }
        }
        return Ok(());
    }
    let blocks = count.div_ceil(BLOCK);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let applied = (Mutex::new(0usize), Condvar::new());
    let (next, stop, applied, init, work) = (&next, &stop, &applied, &init, &work);
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<(usize, Vec<T>)>();
        for _ in 0..workers {
            let tx = tx.clone();
            s.spawn(move || {
                let mut state = init();
                loop {
                    let b = next.fetch_add(1, Ordering::SeqCst);
                    if b >= blocks || stop.load(Ordering::SeqCst) {
                        break;
                    }
                    {
                        let mut done = applied.0.lock().unwrap_or_else(|e| e.into_inner());
                        while b >= *done + WINDOW && !stop.load(Ordering::SeqCst) {
                            done = applied.1.wait(done).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let out: Vec<T> = (b * BLOCK..((b + 1) * BLOCK).min(count))
                        .map(|i| work(&mut state, i))
                        .collect();
                    if tx.send((b, out)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let halt = || {
            stop.store(true, Ordering::SeqCst);
            let _guard = applied.0.lock().unwrap_or_else(|e| e.into_inner());
            applied.1.notify_all();
        };
        let mut pending: BTreeMap<usize, Vec<T>> = BTreeMap::new();
        let mut want = 0usize;
        for (b, out) in &rx {
            pending.insert(b, out);
            while let Some(out) = pending.remove(&want) {
                want += 1;
                {
                    let mut done = applied.0.lock().unwrap_or_else(|e| e.into_inner());
                    *done = want;
                    applied.1.notify_all();
                }
                for item in out {
                    match apply(item) {
                        Ok(true) => {}
                        Ok(false) => {
                            halt();
                            return Ok(());
                        }
                        Err(e) => {
                            halt();
                            return Err(e);
                        }
                    }
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_order_and_stop_early() {
        let mut seen = Vec::new();
        ordered_map(
            1000,
            3,
            || 0u64,
            |calls, i| {
                *calls += 1;
                i * 2
            },
            |v| -> Result<bool, ()> {
                seen.push(v);
                Ok(true)
            },
        )
        .unwrap();
        assert_eq!(seen, (0..1000).map(|i| i * 2).collect::<Vec<_>>());

        let mut seen = Vec::new();
        let r = ordered_map(
            1000,
            2,
            || (),
            |_, i| i,
            |v| {
                seen.push(v);
                if v == 500 { Err("stop") } else { Ok(true) }
            },
        );
        assert_eq!(r, Err("stop"));
        assert_eq!(seen.len(), 501);
    }
}
