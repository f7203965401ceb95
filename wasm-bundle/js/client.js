// The main-thread side: promise RPC to the worker, event subscription, and a Web Audio
// scheduler that plays the worker's PCM chunks back to back without gaps.

/** A connection to a Tonearm worker. */
export class TonearmClient {
  /** @param {URL|string} workerUrl the worker module (worker.js) */
  constructor(workerUrl) {
    this.worker = new Worker(workerUrl, { type: 'module' });
    this.pending = new Map();
    this.listeners = new Set();
    this.pcmListeners = new Set();
    this.nextId = 1;
    this.worker.onmessage = ({ data }) => this.#receive(data);
    this.worker.onerror = (e) => {
      for (const { reject } of this.pending.values()) reject(new Error(e.message));
      this.pending.clear();
    };
  }

  /** Calls `method` in the worker; resolves with its result. */
  call(method, params = {}, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, method, params }, transfer);
    });
  }

  /** Subscribes to core events; returns the unsubscribe function. */
  on(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribes to PCM chunks; returns the unsubscribe function. */
  onPcm(listener) {
    this.pcmListeners.add(listener);
    return () => this.pcmListeners.delete(listener);
  }

  #receive(data) {
    if (data.kind === 'reply') {
      const waiting = this.pending.get(data.id);
      if (!waiting) return;
      this.pending.delete(data.id);
      if ('error' in data) waiting.reject(new Error(data.error));
      else waiting.resolve(data.result);
    } else if (data.kind === 'event') {
      for (const listener of this.listeners) listener(data.event);
    } else if (data.kind === 'pcm') {
      for (const listener of this.pcmListeners) listener(data);
    }
  }
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

  /** Starts scheduling `stream` (from `client.call('open')`). */
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
    if (this.stream !== null) this.client.call('stop', { stream: this.stream });
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
    const samples = new Float32Array(buffer);
    const frames = samples.length / channels;
    const audio = this.context.createBuffer(channels, frames, sampleRate);
    for (let ch = 0; ch < channels; ch++) {
      const out = audio.getChannelData(ch);
      for (let i = 0, j = ch; i < frames; i++, j += channels) out[i] = samples[j];
    }
    const source = this.context.createBufferSource();
    source.buffer = audio;
    source.connect(this.context.destination);
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
      this.client.call('credit', { stream, count: 1 });
    };
  }
}
