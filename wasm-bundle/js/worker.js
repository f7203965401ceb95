// The Tonearm worker: all logic runs here, in the WebAssembly core. The main thread talks
// to it with promise RPC (see client.js) and receives events, among them PCM chunks whose
// buffers are transferred, not copied.
import init, { Core } from '../pkg/tonearm_web.js';

/** Frames per PCM chunk: a quarter second at 48 kHz. */
const CHUNK_FRAMES = 12000;
/** Chunks a stream may have in flight before the main thread has played some. */
const MAX_AHEAD = 8;

let core = null;
const streams = new Map(); // id → { stream, credits, paused, pumping }
const picked = new Map(); // path → File, from the last listFolder
let nextStreamId = 1;

function emit(event) {
  self.postMessage({ kind: 'event', event });
}

const methods = {
  async init() {
    if (!core) {
      await init();
      core = new Core();
    }
    return { plugins: JSON.parse(core.pluginsJson()) };
  },

  /**
   * Lists the audio in picked files through the `local` provider plugin. `paths` default
   * to each file's webkitRelativePath (a folder picker's), else its name.
   */
  listFolder({ files, paths }) {
    const fromPicker = !paths && files.some((f) => f.webkitRelativePath);
    const chosen = paths ?? files.map((f) => f.webkitRelativePath || f.name);
    const entries = JSON.parse(core.listFolder(files, chosen, fromPicker));
    picked.clear();
    files.forEach((file, i) => {
      const path = fromPicker ? chosen[i].split('/').slice(1).join('/') : chosen[i];
      picked.set(path, file);
    });
    return { entries };
  },

  /** Opens a file for playback: a listed path, or a File or Blob from the main thread. */
  async open({ path, file, name }) {
    if (path !== undefined) {
      file = picked.get(path);
      if (!file) throw new Error(`no picked file at ${path}`);
      name = path;
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    const stream = core.openBytes(bytes, name ?? file.name ?? 'track');
    const id = nextStreamId++;
    streams.set(id, { stream, credits: MAX_AHEAD, paused: true, pumping: false, ended: false });
    return {
      stream: id,
      decoder: stream.decoder(),
      sampleRate: stream.sampleRate(),
      channels: stream.channels(),
      totalFrames: stream.totalFrames() ?? null,
    };
  },

  play({ stream: id }) {
    const s = need(id);
    s.paused = false;
    pump(id);
    return null;
  },

  pause({ stream: id }) {
    need(id).paused = true;
    return null;
  },

  /** The main thread played (or dropped) `count` chunks: more may be sent. */
  credit({ stream: id, count }) {
    const s = streams.get(id);
    if (s) {
      s.credits = Math.min(MAX_AHEAD, s.credits + count);
      pump(id);
    }
    return null;
  },

  seek({ stream: id, frame }) {
    const s = need(id);
    const landed = s.stream.seek(frame);
    s.credits = MAX_AHEAD;
    s.ended = false;
    emit({ domain: 'playback', event: { type: 'seeked', stream: id, frame: landed } });
    pump(id);
    return { frame: landed };
  },

  stop({ stream: id }) {
    const s = streams.get(id);
    if (s) {
      s.stream.free();
      streams.delete(id);
    }
    return null;
  },
};

function need(id) {
  const s = streams.get(id);
  if (!s) throw new Error(`no stream ${id}`);
  return s;
}

/** Decodes and sends chunks while the stream plays and has credit. */
function pump(id) {
  const s = streams.get(id);
  if (!s || s.pumping) return;
  s.pumping = true;
  try {
    while (!s.paused && !s.ended && s.credits > 0 && streams.has(id)) {
      const chunk = s.stream.nextChunk(CHUNK_FRAMES);
      if (!chunk) {
        s.ended = true;
        emit({ domain: 'playback', event: { type: 'ended', stream: id } });
        break;
      }
      s.credits -= 1;
      self.postMessage(
        {
          kind: 'pcm',
          stream: id,
          buffer: chunk.buffer,
          sampleRate: s.stream.sampleRate(),
          channels: s.stream.channels(),
        },
        [chunk.buffer],
      );
    }
  } catch (error) {
    s.ended = true;
    emit({ domain: 'playback', event: { type: 'error', stream: id, message: String(error) } });
  } finally {
    s.pumping = false;
  }
}

self.onmessage = async ({ data }) => {
  const { id, method, params } = data;
  try {
    const handler = methods[method];
    if (!handler) throw new Error(`unknown method ${method}`);
    const result = await handler(params ?? {});
    self.postMessage({ kind: 'reply', id, result });
  } catch (error) {
    self.postMessage({ kind: 'reply', id, error: String(error?.message ?? error) });
  }
};
