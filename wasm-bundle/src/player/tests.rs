//! The player in a real worker: a picked folder's tracks queued, played into a page that
//! credits every chunk, gaplessly, with seeks and skips starting new epochs.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Value, json};
use tonearm_core::sync::rt;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

use crate::Core;
use crate::tests::{call, file};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

const MP3: &[u8] = include_bytes!("../../../tests/conformance/fixtures/audio/02 pluck.mp3");

/// A page that plays instantly: it keeps what arrives and credits it.
#[derive(Default)]
struct Page {
    /// (epoch, frames) of each chunk.
    chunks: Vec<(u32, usize)>,
    /// How many of them were credited (played).
    credited: usize,
    events: Vec<Value>,
}

fn listen(core: &Core) -> Rc<RefCell<Page>> {
    listen_refusing(core, None)
}

/// A page whose audio listener throws on every `refuse_every`th message it is given.
fn listen_refusing(core: &Core, refuse_every: Option<usize>) -> Rc<RefCell<Page>> {
    let page = Rc::new(RefCell::new(Page::default()));
    let audio = {
        let page = page.clone();
        let mut calls = 0;
        Closure::<dyn FnMut(JsValue) -> Result<(), JsValue>>::new(move |message: JsValue| {
            calls += 1;
            if refuse_every.is_some_and(|every| calls % every == 0) {
                return Err(JsValue::from_str("the page is busy"));
            }
            let get = |key: &str| js_sys::Reflect::get(&message, &JsValue::from_str(key)).unwrap();
            let epoch = get("epoch").as_f64().unwrap() as u32;
            let channels = get("channels").as_f64().unwrap() as usize;
            let samples = js_sys::Float32Array::new(&get("buffer")).length() as usize;
            page.borrow_mut().chunks.push((epoch, samples / channels));
            Ok(())
        })
    };
    core.on_audio(audio.into_js_value().unchecked_into());
    let events = {
        let page = page.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |json: JsValue| {
            let message: Value = serde_json::from_str(&json.as_string().unwrap()).unwrap();
            if message["event"]["domain"] == "playback" {
                page.borrow_mut()
                    .events
                    .push(message["event"]["event"].clone());
            }
        })
    };
    core.on_event(events.into_js_value().unchecked_into());
    page
}

/// Sends `method` with `params` and returns its reply's `result`.
async fn ask(core: &Core, method: &str, params: Value) -> Result<Value, String> {
    call(core, json!({"method": method, "params": params}), vec![]).await
}

/// Credits what the page holds until `done` says so (or 20 s pass).
async fn play_until(core: &Core, page: &Rc<RefCell<Page>>, done: impl Fn(&Page) -> bool) {
    for _ in 0..1_000 {
        rt::sleep(Duration::from_millis(20)).await;
        let fresh: Vec<u32> = {
            let mut page = page.borrow_mut();
            let fresh = page.chunks[page.credited..]
                .iter()
                .map(|(e, _)| *e)
                .collect();
            page.credited = page.chunks.len();
            fresh
        };
        for epoch in fresh {
            ask(core, "playerCredit", json!({"epoch": epoch, "chunks": 1}))
                .await
                .unwrap();
        }
        if done(&page.borrow()) {
            return;
        }
    }
    panic!("the player never got there: {:?}", page.borrow().events);
}

fn started(page: &Page) -> Vec<i64> {
    page.events
        .iter()
        .filter(|e| e["type"] == "track_started")
        .map(|e| e["track_id"].as_i64().unwrap())
        .collect()
}

/// A worker with a fresh library of `paths`, each a copy of the MP3, synced: the tracks'
/// ids, and the sample rate and frame count of the MP3 decoded outside the player.
async fn library_of(paths: &[&str]) -> (Core, Vec<i64>, u32, usize) {
    let core = Core::new().map_err(JsValue::from).unwrap();
    let database = format!("tonearm-test-player-{}", js_sys::Date::now());
    ask(
        &core,
        "init",
        json!({"database": database, "cacheLimitMb": 0}),
    )
    .await
    .unwrap();
    call(
        &core,
        json!({"method": "addFolder", "params": {"name": "m", "files": vec![json!({}); paths.len()], "paths": paths}}),
        paths.iter().map(|path| file(path, MP3)).collect(),
    )
    .await
    .unwrap();
    ask(&core, "sync", json!({})).await.unwrap();
    let tracks = ask(&core, "tracks", json!({"limit": 10})).await.unwrap();
    let ids: Vec<i64> = tracks["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), paths.len());

    let mut stream = core
        .open_bytes(MP3.to_vec(), "a.mp3")
        .map_err(JsValue::from)
        .unwrap();
    let rate = stream.sample_rate();
    let mut frames = 0usize;
    while let Some(chunk) = stream.next_chunk(4096).map_err(JsValue::from).unwrap() {
        frames += (chunk.length() / stream.channels()) as usize;
    }
    (core, ids, rate, frames)
}

#[wasm_bindgen_test]
async fn a_queue_plays_gaplessly_into_the_page_and_seeks_start_a_new_epoch() {
    let (core, ids, rate, frames) = library_of(&["a.mp3", "b.mp3"]).await;

    let error = ask(&core, "playerPlay", json!({})).await.unwrap_err();
    assert!(error.contains("playerStart"), "{error}");
    let page = listen(&core);
    // Another rate than the tracks': everything is resampled to the page's.
    let started_reply = ask(
        &core,
        "playerStart",
        json!({"sampleRate": 48_000, "channels": 2}),
    )
    .await
    .unwrap();
    assert_eq!(started_reply["status"]["state"], "stopped");
    let queued = ask(&core, "enqueue", json!({"tracks": ids})).await.unwrap();
    assert_eq!(queued["queue"].as_array().unwrap().len(), 2);
    ask(&core, "playerPlay", json!({})).await.unwrap();
    play_until(&core, &page, |p| {
        p.events.iter().any(|e| e["type"] == "ended")
    })
    .await;

    {
        let page_now = page.borrow();
        assert_eq!(started(&page_now), ids, "both tracks started, in order");
        let played: usize = page_now.chunks.iter().map(|(_, f)| f).sum();
        let expected = (2 * frames) as f64 * 48_000.0 / f64::from(rate);
        assert!(
            (played as f64 - expected).abs() <= 4.0,
            "{played} frames played, {expected} expected: nothing added between the tracks"
        );
        assert!(page_now.chunks.iter().all(|(e, _)| *e == 0));
    }
    let status = ask(&core, "playerStatus", json!({})).await.unwrap();
    assert_eq!(status["status"]["state"], "stopped", "{status}");

    // Play again, then seek: a new epoch, and the page hears the track from there.
    let before = page.borrow().chunks.len();
    ask(&core, "playerPlay", json!({})).await.unwrap();
    play_until(&core, &page, |p| p.chunks.len() > before + 2).await;
    let seeked = ask(&core, "playerSeek", json!({"ms": 1_000}))
        .await
        .unwrap();
    assert_eq!(seeked["epoch"], 1, "{seeked}");
    // Chunks of the new epoch arrive; none is credited (heard) yet, so the position is
    // the target's, not where the worker has read to.
    let mut waited = 0;
    while !page.borrow().chunks.iter().any(|(e, _)| *e == 1) {
        assert!(waited < 500, "no chunk after the seek");
        rt::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    let status = ask(&core, "playerStatus", json!({})).await.unwrap();
    assert_eq!(status["status"]["entry"]["track_id"], ids[0], "{status}");
    assert_eq!(status["status"]["position_ms"], 1_000, "{status}");
    assert_eq!(status["status"]["state"], "playing", "{status}");
    let next = ask(&core, "playerNext", json!({})).await.unwrap();
    assert_eq!(next["epoch"], 2);
    ask(&core, "playerStop", json!({})).await.unwrap();
    let error = ask(
        &core,
        "playerStart",
        json!({"sampleRate": 44_100, "channels": 2}),
    )
    .await
    .unwrap_err();
    assert!(error.contains("48000 Hz"), "{error}");
}

/// A chunk the page's audio sink refuses is posted again, not lost: the track plays
/// whole, and ends only once the page heard all of it.
#[wasm_bindgen_test]
async fn a_chunk_the_page_refuses_is_posted_again() {
    let (core, ids, rate, frames) = library_of(&["a.mp3"]).await;

    let page = listen_refusing(&core, Some(3));
    ask(
        &core,
        "playerStart",
        json!({"sampleRate": rate, "channels": 2}),
    )
    .await
    .unwrap();
    ask(&core, "enqueue", json!({"tracks": ids})).await.unwrap();
    ask(&core, "playerPlay", json!({})).await.unwrap();
    play_until(&core, &page, |p| {
        p.events.iter().any(|e| e["type"] == "ended")
    })
    .await;
    let page = page.borrow();
    let played: usize = page.chunks.iter().map(|(_, f)| f).sum();
    assert_eq!(played, frames, "every frame reached the page once");
    assert!(
        page.chunks.len() >= 3,
        "the page refused some: {page:?}",
        page = page.chunks.len()
    );
}
