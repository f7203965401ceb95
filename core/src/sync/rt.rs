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

/// Runs a blocking plugin call: in the worker, right here, after letting the worker's other
/// work run if the engine has held the thread for a while.
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    worker::share_the_thread().await;
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

/// Applies blocking `f` to every item in turn, letting the worker's other work run between
/// items once the engine has held the thread for a while.
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
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        worker::share_the_thread().await;
        out.push(f(item));
    }
    Ok(out)
}

/// Turn-taking on the worker's one thread. A plugin call blocks it (HTTP is a synchronous
/// `XMLHttpRequest` there, because plugins call HTTP as a blocking function), and the same
/// thread decodes for playback and answers the page. Awaiting IndexedDB lets that work run,
/// but a sync that reads many files between two writes would hold the thread for all of
/// their requests; so before each plugin call the engine yields to the event loop if it
/// has run for [`worker::SLICE_MS`] since it last did. Playback then waits at most one
/// plugin call (one HTTP request), not a whole batch.
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
mod worker {
    use std::cell::Cell;

    use wasm_bindgen::{JsCast as _, JsValue};

    /// How long the engine runs before it lets the rest of the worker run. Short enough for
    /// the page's calls to feel immediate; long enough that a local scan, whose plugin calls
    /// take microseconds, yields rarely (a yield costs one event-loop turn).
    pub(super) const SLICE_MS: f64 = 8.0;

    thread_local! {
        /// When the engine last yielded (`Date.now()` milliseconds).
        static YIELDED_AT: Cell<f64> = const { Cell::new(0.0) };
    }

    /// Yields to the event loop if the engine has run for [`SLICE_MS`] since it last did.
    pub(super) async fn share_the_thread() {
        let now = js_sys::Date::now();
        if now - YIELDED_AT.with(Cell::get) < SLICE_MS {
            return;
        }
        next_task().await;
        YIELDED_AT.with(|at| at.set(js_sys::Date::now()));
    }

    /// Resolves in a new task of the event loop, after the messages and timers already due.
    /// A `MessageChannel` message, not `setTimeout(0)`: browsers clamp nested timeouts to
    /// 4 ms, which a sync yielding thousands of times would pay each time.
    async fn next_task() {
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            if post_to_self(&resolve).is_err() {
                // No MessageChannel in this global scope: go on rather than never wake.
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }

    /// Calls `resolve` from a message sent through a new `MessageChannel`.
    fn post_to_self(resolve: &js_sys::Function) -> Result<(), JsValue> {
        let global = js_sys::global();
        let class: js_sys::Function =
            js_sys::Reflect::get(&global, &JsValue::from_str("MessageChannel"))?.dyn_into()?;
        let channel = js_sys::Reflect::construct(&class, &js_sys::Array::new())?;
        let receiver = js_sys::Reflect::get(&channel, &JsValue::from_str("port1"))?;
        let sender = js_sys::Reflect::get(&channel, &JsValue::from_str("port2"))?;
        js_sys::Reflect::set(&receiver, &JsValue::from_str("onmessage"), resolve)?;
        let post: js_sys::Function =
            js_sys::Reflect::get(&sender, &JsValue::from_str("postMessage"))?.dyn_into()?;
        post.call1(&sender, &JsValue::UNDEFINED)?;
        Ok(())
    }
}

/// Waits `duration` without holding a thread.
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
pub async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// Waits `duration` on the worker's timer.
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
pub async fn sleep(duration: Duration) {
    let (promise, _) = timer(duration);
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// A promise that resolves after `duration` on the worker's timer, and the function that
/// resolves it sooner (a sleep something else may cut short).
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
pub fn timer(duration: Duration) -> (js_sys::Promise, js_sys::Function) {
    use wasm_bindgen::{JsCast as _, JsValue};

    let ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let mut resolver = None;
    // The executor runs before `Promise::new` returns.
    let promise = js_sys::Promise::new(&mut |resolve: js_sys::Function, _reject| {
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
        resolver = Some(resolve);
    });
    let resolve = resolver.unwrap_or_else(|| js_sys::Function::new_no_args(""));
    (promise, resolve)
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
