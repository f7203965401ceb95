//! What the engine needs from the platform: running plugin calls, which block, and
//! waiting. Natively plugin calls run on tokio's blocking threads, several at once; in the
//! browser worker there is one thread, so they run in turn where they are awaited.

use std::time::Duration;

/// Runs a blocking plugin call off the async threads; `Err` if the call's thread died.
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())
}

/// Runs a blocking plugin call: in the worker, right here.
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    Ok(f())
}

/// Applies blocking `f` to every item, up to `concurrency` at once; results in item order.
///
/// Each of `concurrency` blocking threads takes items from a shared queue until it is
/// empty: one thread hand-off per thread, not per item (at thousands of files a second
/// the hand-offs would cost more than the work), and a slow item holds up only its own
/// thread.
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
pub async fn map_blocking<I, O>(
    items: Vec<I>,
    concurrency: usize,
    f: impl Fn(I) -> O + Send + Sync + 'static,
) -> Result<Vec<O>, String>
where
    I: Send + 'static,
    O: Send + 'static,
{
    use std::sync::{Arc, Mutex, PoisonError};

    let count = items.len();
    let queue = Arc::new(Mutex::new(items.into_iter().enumerate()));
    let f = Arc::new(f);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.clamp(1, count.max(1)) {
        let (queue, f) = (queue.clone(), f.clone());
        tasks.spawn_blocking(move || {
            let mut done = Vec::new();
            loop {
                // The guard is dropped before `f` runs: the queue is held for a pop only.
                let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                let Some((index, item)) = next else {
                    return done;
                };
                done.push((index, f(item)));
            }
        });
    }
    let mut out: Vec<Option<O>> = (0..count).map(|_| None).collect();
    while let Some(finished) = tasks.join_next().await {
        for (index, value) in finished.map_err(|e| e.to_string())? {
            out[index] = Some(value);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// Applies blocking `f` to every item in turn.
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
pub async fn map_blocking<I, O>(
    items: Vec<I>,
    _concurrency: usize,
    f: impl Fn(I) -> O + Send + Sync + 'static,
) -> Result<Vec<O>, String>
where
    I: Send + 'static,
    O: Send + 'static,
{
    Ok(items.into_iter().map(f).collect())
}

/// Waits `duration` without holding a thread.
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
pub async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// Waits `duration` on the worker's timer.
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
pub async fn sleep(duration: Duration) {
    use wasm_bindgen::{JsCast as _, JsValue};

    let ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let set_timeout = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("setTimeout"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        match set_timeout {
            Some(set_timeout) => {
                let _ = set_timeout.call2(&JsValue::UNDEFINED, &resolve, &JsValue::from(ms));
            }
            // No timer in this global scope: do not wait rather than never wake.
            None => {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn map_blocking_keeps_item_order() {
        let out = map_blocking((0..50).collect(), 4, |i: u32| {
            std::thread::sleep(Duration::from_micros(u64::from(50 - i)));
            i * 2
        })
        .await
        .unwrap();
        assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
    }
}
