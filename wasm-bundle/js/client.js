// The main-thread side: promise RPC to the worker, event subscription, sign-in popups,
// and a Web Audio scheduler that plays the worker's PCM chunks back to back without gaps.
// The types (Request, Reply, CoreEvent, …) are in protocol.d.ts, generated from the Rust.

/** @typedef {import('./protocol').Call} Call */
/** @typedef {import('./protocol').Reply} Reply */
/** @typedef {import('./protocol').WorkerMessage} WorkerMessage */
/** @typedef {import('./protocol').CoreEvent} CoreEvent */
/** @typedef {import('./protocol').StreamEvent} StreamEvent */

/** A connection to a Tonearm worker. */
export class TonearmClient {
  /** @param {URL|string} workerUrl the worker module (worker.js) */
  constructor(workerUrl) {
    this.worker = new Worker(workerUrl, { type: 'module' });
    this.pending = new Map();
    this.listeners = new Set();
    this.streamListeners = new Set();
    this.pcmListeners = new Set();
    this.audioListeners = new Set();
    this.nextId = 1;
    this.worker.onmessage = ({ data }) => this.#receive(data);
    this.worker.onerror = (e) => {
      for (const { reject } of this.pending.values()) reject(new Error(e.message));
      this.pending.clear();
    };
  }

  /**
   * Calls `method` in the worker; resolves with its reply, rejects with its error.
   * @param {Call['method']} method
   * @returns {Promise<Reply>}
   */
  call(method, params = {}, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, method, params }, transfer);
    });
  }

  /** Subscribes to core events; returns the unsubscribe function. @param {(e: CoreEvent) => void} listener */
  on(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribes to stream events (ended, error); returns the unsubscribe function. @param {(e: StreamEvent) => void} listener */
  onStream(listener) {
    this.streamListeners.add(listener);
    return () => this.streamListeners.delete(listener);
  }

  /** Subscribes to PCM chunks; returns the unsubscribe function. */
  onPcm(listener) {
    this.pcmListeners.add(listener);
    return () => this.pcmListeners.delete(listener);
  }

  /** Subscribes to the player's audio chunks; returns the unsubscribe function. */
  onAudio(listener) {
    this.audioListeners.add(listener);
    return () => this.audioListeners.delete(listener);
  }

  /**
   * Adds a cloud source, or signs an existing one in again when `provider` is left out:
   * the worker makes the authorization URL, this opens it in a popup, and the page at
   * `redirectUri` (callback.html) hands the code and state back, which the worker checks
   * and exchanges. Resolves with the `source` reply. A refused or abandoned sign-in is
   * cancelled in the worker.
   */
  async signIn({ name, provider, settings, redirectUri, popupFeatures = 'popup,width=520,height=640' }) {
    const { url, state } = await this.call('beginSignIn', { name, provider, settings, redirectUri });
    let back;
    try {
      back = await new Promise((resolve, reject) => {
        const origin = new URL(redirectUri, location.href).origin;
        const onMessage = (event) => {
          if (event.origin !== origin || event.data?.tonearmSignIn === undefined) return;
          window.removeEventListener('message', onMessage);
          resolve(new URL(event.data.tonearmSignIn));
        };
        window.addEventListener('message', onMessage);
        if (!window.open(url, 'tonearm-sign-in', popupFeatures)) {
          window.removeEventListener('message', onMessage);
          reject(new Error('the sign-in popup was blocked'));
        }
      });
      const error = back.searchParams.get('error');
      if (error) throw new Error(`sign-in was refused: ${error}`);
      if (!back.searchParams.get('code')) throw new Error('the sign-in came back without a code');
    } catch (e) {
      await this.call('cancelSignIn', { state }).catch(() => {});
      throw e;
    }
    // The worker checks that the state is the one it handed out, and uses it once.
    return this.call('completeSignIn', {
      state: back.searchParams.get('state') ?? '',
      code: back.searchParams.get('code'),
    });
  }

  /** @param {WorkerMessage} data */
  #receive(data) {
    if (data.kind === 'reply' || data.kind === 'error') {
      const waiting = this.pending.get(data.id);
      if (!waiting) return;
      this.pending.delete(data.id);
      if (data.kind === 'error') waiting.reject(new Error(data.error));
      else waiting.resolve(data.result);
    } else if (data.kind === 'event') {
      for (const listener of this.listeners) listener(data.event);
    } else if (data.kind === 'stream') {
      for (const listener of this.streamListeners) listener(data.event);
    } else if (data.kind === 'pcm') {
      for (const listener of this.pcmListeners) listener(data);
    } else if (data.kind === 'audio') {
      for (const listener of this.audioListeners) listener(data);
    }
  }
}

/** A chunk of interleaved samples as a buffer source connected to `context`'s output. */
function sourceOf(context, buffer, sampleRate, channels) {
  const samples = new Float32Array(buffer);
  const frames = samples.length / channels;
  const audio = context.createBuffer(channels, frames, sampleRate);
  for (let ch = 0; ch < channels; ch++) {
    const out = audio.getChannelData(ch);
    for (let i = 0, j = ch; i < frames; i++, j += channels) out[i] = samples[j];
  }
  const source = context.createBufferSource();
  source.buffer = audio;
  source.connect(context.destination);
  return { source, frames };
}

/**
 * Plays one stream's PCM chunks gaplessly: each chunk starts exactly where the previous
 * one ends on the AudioContext's clock. Grants the worker a credit per chunk played.
 */
export class PcmScheduler {
  constructor(client, audioContext) {
    this.client = client;
    this.context = audioContext;
    this.stream = null;
    this.nextStart = 0;
    this.sources = new Set();
    this.stats = { chunksReceived: 0, chunksScheduled: 0, chunksPlayed: 0, framesScheduled: 0, gaps: 0 };
    client.onPcm((chunk) => this.#schedule(chunk));
  }

  /** Starts scheduling `stream` (from the `opened` reply). */
  async play(stream) {
    this.stop();
    this.stream = stream;
    if (this.context.state === 'suspended') await this.context.resume();
    this.nextStart = this.context.currentTime + 0.05;
    await this.client.call('play', { stream });
  }

  async pause() {
    if (this.stream === null) return;
    await this.client.call('pause', { stream: this.stream });
    await this.context.suspend();
  }

  async resume() {
    if (this.stream === null) return;
    await this.context.resume();
    await this.client.call('play', { stream: this.stream });
  }

  async seek(frame) {
    if (this.stream === null) return null;
    this.#silence();
    this.nextStart = this.context.currentTime + 0.05;
    return this.client.call('seek', { stream: this.stream, frame });
  }

  /** Stops playback and forgets the stream's scheduled audio. */
  stop() {
    this.#silence();
    if (this.stream !== null) this.client.call('stop', { stream: this.stream }).catch(() => {});
    this.stream = null;
  }

  #silence() {
    for (const source of this.sources) {
      source.onended = null;
      source.stop();
    }
    this.sources.clear();
  }

  #schedule({ stream, buffer, sampleRate, channels }) {
    this.stats.chunksReceived += 1;
    if (stream !== this.stream) return;
    const { source, frames } = sourceOf(this.context, buffer, sampleRate, channels);
    if (this.nextStart < this.context.currentTime) {
      // The worker fell behind: start late rather than in the past.
      this.stats.gaps += 1;
      this.nextStart = this.context.currentTime + 0.02;
    }
    source.start(this.nextStart);
    this.nextStart += frames / sampleRate;
    this.sources.add(source);
    this.stats.chunksScheduled += 1;
    this.stats.framesScheduled += frames;
    source.onended = () => {
      this.sources.delete(source);
      this.stats.chunksPlayed += 1;
      this.client.call('credit', { stream, count: 1 }).catch(() => {});
    };
  }
}

/**
 * The page's side of the worker's player: the worker queues, decodes, converts to this
 * AudioContext's rate and applies gain; this only schedules its chunks back to back and
 * credits each one played. A seek, a skip or a stop starts a new epoch in the worker;
 * what is scheduled of an older one is dropped here.
 */
export class PlayerOutput {
  constructor(client, audioContext) {
    this.client = client;
    this.context = audioContext;
    this.epoch = 0;
    this.nextStart = 0;
    this.sources = new Set();
    /** The last status the worker sent. @type {import('./protocol').PlayerStatus | null} */
    this.status = null;
    /** @type {import('./protocol').QueueEntry[]} */
    this.queue = [];
    /** The context state the engine's last reply asked for, and the changes in order. */
    this.wanted = null;
    this.clock = Promise.resolve();
    this.stats = { chunksReceived: 0, chunksScheduled: 0, chunksPlayed: 0, chunksDropped: 0, framesScheduled: 0, gaps: 0 };
    client.onAudio((chunk) => this.#schedule(chunk));
  }

  /** Starts the worker's player in this context's format (options: ringSeconds, gain). */
  start(options = {}) {
    return this.#call('playerStart', { sampleRate: this.context.sampleRate, channels: 2, ...options });
  }

  enqueue(tracks, next = false) { return this.#call('enqueue', { tracks, next }); }
  dequeue(entry) { return this.#call('dequeue', { entry }); }
  move(entry, to) { return this.#call('moveInQueue', { entry, to }); }
  clear() { return this.#call('clearQueue'); }
  play() { return this.#call('playerPlay'); }
  pause() { return this.#call('playerPause'); }
  async toggle() {
    return this.status?.state === 'playing' ? this.pause() : this.play();
  }
  stop() { return this.#call('playerStop'); }
  next() { return this.#call('playerNext'); }
  previous() { return this.#call('playerPrevious'); }
  seek(ms) { return this.#call('playerSeek', { ms }); }
  jump(entry) { return this.#call('playerJump', { entry }); }
  volume(volume) { return this.#call('playerVolume', { volume }); }
  repeat(repeat) { return this.#call('playerRepeat', { repeat }); }
  shuffle(on) { return this.#call('playerShuffle', { on }); }
  refresh() { return this.#call('playerStatus'); }

  async #call(method, params = {}) {
    const reply = await this.client.call(method, params);
    this.#follow(reply);
    this.#adopt(reply.epoch);
    return reply;
  }

  /**
   * Keeps the page's clock in step with the engine, whichever call changed its state
   * (a `next` while paused plays): scheduled audio holds still while paused. Calls are
   * answered in order, so the last reply's state is the engine's.
   */
  #follow(reply) {
    // Playing again after a stop or the queue's end: what comes is a new schedule, not
    // late audio.
    if (this.status?.state === 'stopped' && reply.status.state === 'playing' && this.sources.size === 0) {
      this.nextStart = 0;
    }
    this.status = reply.status;
    this.queue = reply.queue;
    const want = reply.status.state === 'paused' ? 'suspended' : 'running';
    if (want !== this.wanted) {
      this.wanted = want;
      this.clock = this.clock
        .then(() => (want === 'running' ? this.context.resume() : this.context.suspend()))
        .catch(() => {});
    }
  }

  /** A newer epoch: what is scheduled of the old one is stale. */
  #adopt(epoch) {
    if (epoch === this.epoch) return;
    this.epoch = epoch;
    for (const source of this.sources) {
      source.onended = null;
      source.stop();
      this.stats.chunksDropped += 1;
    }
    this.sources.clear();
    this.nextStart = 0;
  }

  #schedule({ epoch, buffer, sampleRate, channels }) {
    this.stats.chunksReceived += 1;
    // Epochs only grow; a chunk of an older one was posted before the call that ended it.
    if (epoch < this.epoch) return;
    this.#adopt(epoch);
    const { source, frames } = sourceOf(this.context, buffer, sampleRate, channels);
    const now = this.context.currentTime;
    if (this.nextStart === 0) {
      // A start, a new epoch, or a play after the queue ended: a new schedule.
      this.nextStart = now + 0.05;
    } else if (this.nextStart < now) {
      // The worker fell behind: start late rather than in the past.
      this.stats.gaps += 1;
      this.nextStart = now + 0.02;
    }
    source.start(this.nextStart);
    this.nextStart += frames / sampleRate;
    this.sources.add(source);
    this.stats.chunksScheduled += 1;
    this.stats.framesScheduled += frames;
    source.onended = () => {
      this.sources.delete(source);
      this.stats.chunksPlayed += 1;
      this.client.call('playerCredit', { epoch, chunks: 1 })
        .then((reply) => this.#follow(reply))
        .catch(() => {});
    };
  }
}
