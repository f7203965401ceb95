// The Tonearm worker: all logic runs here, in the WebAssembly core. The main thread sends
// calls (`Call` in protocol.d.ts) and receives `WorkerMessage`s: replies, core events,
// stream events, and PCM chunks whose buffers are transferred, not copied.
//
// The core answers every call and drives the player (whose audio it hands this script to
// post); this script only paces the single-track streams: it sends a stream's chunks
// while the stream plays and the main thread has granted credit.
import init, { Core } from '../pkg/tonearm_web.js';

/** Frames per PCM chunk: a quarter second at 48 kHz. */
const CHUNK_FRAMES = 12000;
/** Chunks a stream may have in flight before the main thread has played some. */
const MAX_AHEAD = 8;

/** @type {Core} */
let core;
const started = (async () => {
  await init();
  core = new Core();
  core.onEvent((json) => self.postMessage(JSON.parse(json)));
  // The player's audio: its buffer moves to the page, not a copy.
  core.onAudio((message) => self.postMessage(message, [message.buffer]));
})();

/** stream id → { credits, paused, pumping, ended, sampleRate, channels } */
const pacing = new Map();

/** Updates a stream's pacing after the core answered `call` with `result`. */
function pace({ method, params }, result) {
  const stream = params?.stream;
  const s = pacing.get(stream);
  switch (method) {
    case 'open':
      pacing.set(result.stream, {
        credits: MAX_AHEAD, paused: true, pumping: false, ended: false,
        sampleRate: result.sampleRate, channels: result.channels,
      });
      break;
    case 'play':
      if (s) { s.paused = false; queueMicrotask(() => pump(stream)); }
      break;
    case 'pause':
      if (s) s.paused = true;
      break;
    case 'credit':
      if (s) { s.credits = Math.min(MAX_AHEAD, s.credits + params.count); queueMicrotask(() => pump(stream)); }
      break;
    case 'seek':
      if (s) { s.credits = MAX_AHEAD; s.ended = false; queueMicrotask(() => pump(stream)); }
      break;
    case 'stop':
      pacing.delete(stream);
      break;
  }
}

/** Decodes and sends chunks while the stream plays and has credit. */
function pump(id) {
  const s = pacing.get(id);
  if (!s || s.pumping) return;
  s.pumping = true;
  try {
    while (!s.paused && !s.ended && s.credits > 0 && pacing.has(id)) {
      const chunk = core.nextChunk(id, CHUNK_FRAMES);
      if (!chunk) {
        s.ended = true;
        self.postMessage({ kind: 'stream', event: { type: 'ended', stream: id } });
        break;
      }
      s.credits -= 1;
      self.postMessage(
        { kind: 'pcm', stream: id, buffer: chunk.buffer, sampleRate: s.sampleRate, channels: s.channels },
        [chunk.buffer],
      );
    }
  } catch (error) {
    s.ended = true;
    self.postMessage({ kind: 'stream', event: { type: 'error', stream: id, message: String(error?.message ?? error) } });
  } finally {
    s.pumping = false;
  }
}

self.onmessage = async ({ data }) => {
  try {
    await started;
    // File objects travel beside the JSON (in which they are `{}`).
    const files = data.params?.files ?? [];
    const message = JSON.parse(await core.handle(JSON.stringify(data), files));
    if (message.kind === 'reply') pace(data, message.result);
    self.postMessage(message);
  } catch (error) {
    self.postMessage({ kind: 'error', id: data?.id ?? 0, error: String(error?.message ?? error) });
  }
};
