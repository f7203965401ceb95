// End-to-end test of the web bundle in a real headless Chromium: serves wasm-bundle/ on
// 127.0.0.1 and starts the fake Google Drive (tonearm-fakes, CORS on, as Google's APIs
// are); on the demo page it adds picked files as a folder source and syncs them, connects
// the fake Drive through the OAuth popup and syncs it, kills the worker right after a
// rotating token refresh and syncs again from a new one, searches the library, plays a Drive
// track and checks that PCM chunks arrived from the worker and were scheduled gaplessly,
// seeks and stops, plays a long track while a slow Drive sync runs and checks that no
// chunk came late, and saves a screenshot. Run by ./scripts/test after ./scripts/build-web
// (and `cargo build -p tonearm-fakes`; TONEARM_FAKES names the binary).
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, normalize, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = join(root, '..', 'tests', 'conformance', 'fixtures', 'audio');
const types = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json',
};

const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
  if (path.includes('..')) { res.writeHead(400).end(); return; }
  try {
    const body = await readFile(join(root, path));
    res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}`;

/** Starts the fake Drive holding the fixtures; resolves with its API and OAuth endpoints. */
function startFakeDrive() {
  const binary = process.env.TONEARM_FAKES ?? join(root, '..', 'target', 'debug', 'tonearm-fakes');
  // Refresh tokens rotate, as Microsoft's do: a lost one means signing in again.
  const child = spawn(binary, ['drive', '--music', fixtures, '--rotate'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the fake Drive said nothing useful: ${out}`)), 20000);
    child.on('error', reject);
    child.stdout.on('data', (bytes) => {
      out += bytes;
      const oauth = out.match(/fake OAuth:\s+(\S+) and (\S+)/);
      const drive = out.match(/fake Drive:\s+(\S+)/);
      const control = out.match(/fake control:\s+(\S+)/);
      if (oauth && drive && control) {
        clearTimeout(timer);
        resolve({ child, api: drive[1], authorize: oauth[1], token: oauth[2], control: control[1] });
      }
    });
  });
}
const fake = await startFakeDrive();

/** Starts the fake MusicBrainz, Cover Art Archive and LRCLIB over `catalogue` (a file). */
function startFakeMetadata(catalogue) {
  const binary = process.env.TONEARM_FAKES ?? join(root, '..', 'target', 'debug', 'tonearm-fakes');
  const child = spawn(binary, ['metadata', '--catalogue', catalogue], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the metadata fakes said nothing useful: ${out}`)), 20000);
    child.on('error', reject);
    child.stdout.on('data', (bytes) => {
      out += bytes;
      const found = (name) => out.match(new RegExp(`fake ${name}:\\s+(\\S+)`))?.[1];
      const [mb, caa, lrclib, control] = ['MusicBrainz', 'Cover Art Archive', 'LRCLIB', 'control'].map(found);
      if (mb && caa && lrclib && control) {
        clearTimeout(timer);
        resolve({ child, mb, caa, lrclib, control });
      }
    });
  });
}
let metadata;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    '--autoplay-policy=no-user-gesture-required',
  ],
});
let failed = false;
let page;
const errors = [];
try {
  page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (process.env.E2E_VERBOSE) console.log('console:', m.type(), m.text()); if (m.type() === 'error') errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  const started = Date.now();
  const drive = new URLSearchParams({ client_id: 'tonearm-test', api: fake.api, authorize: fake.authorize, token: fake.token });
  await page.goto(`${base}/demo/index.html?${drive}`);
  await page.waitForFunction(() => window.tonearm?.ready === true, null, { timeout: 30000 });
  const ready = Date.now() - started;

  // Picked files become a folder source, synced by the local provider plugin in the worker
  // into IndexedDB: the two audio files become tracks, the JSON does not.
  await page.setInputFiles('#files', [
    join(fixtures, '02 pluck.mp3'),
    join(fixtures, '01 chord.flac'),
    join(root, 'package.json'),
  ]);
  await page.waitForFunction(() => window.tonearm.syncs.completed >= 1, null, { timeout: 30000 });
  await page.waitForFunction(() => document.querySelectorAll('#tracks tbody tr').length === 2, null, { timeout: 15000 });

  // The fake Drive: sign in through the popup, then sync.
  const popup = page.waitForEvent('popup');
  await page.locator('#drive-connect').click();
  await (await popup).waitForEvent('close', { timeout: 15000 });
  await page.waitForFunction(() => window.tonearm.syncs.completed >= 2, null, { timeout: 60000 });
  assert.equal(await page.evaluate(() => window.tonearm.syncs.failed), 0, 'no sync failed');
  const sources = await page.locator('#sources tbody td:first-child').allTextContents();
  assert.deepEqual(sources.sort(), ['Drive', 'My music']);
  const fromDrive = () => page.locator('#tracks tbody tr', { hasText: 'Drive' });
  await page.waitForFunction(() => [...document.querySelectorAll('#tracks tbody tr')].filter((r) => r.cells[4].textContent === 'Drive').length >= 5, null, { timeout: 15000 });
  const driveTracks = await fromDrive().count();
  const progress = await page.locator('#progress').textContent();
  assert.match(progress, /Drive: done/);

  // Signing the Drive source in again (as after a revoked grant), with the client id it
  // signed in with before; the answer's state is checked, and good once.
  const call = (method, params) => page.evaluate(
    ([m, p]) => window.tonearm.client.call(m, p).then((r) => ({ ok: r }), (e) => ({ error: e.message })),
    [method, params],
  );
  const again = await call('beginSignIn', { name: 'Drive', redirectUri: `${base}/js/callback.html` });
  assert.ok(again.ok, JSON.stringify(again));
  const approved = await fetch(again.ok.url, { redirect: 'manual' });
  assert.equal(approved.status, 302, 'the fake approves at once');
  const back = new URL(approved.headers.get('location'));
  assert.equal(back.searchParams.get('state'), again.ok.state);
  const code = back.searchParams.get('code');
  assert.match((await call('completeSignIn', { state: 'not-ours', code })).error, /state mismatch/);
  const resigned = await call('completeSignIn', { state: again.ok.state, code });
  assert.equal(resigned.ok?.source?.name, 'Drive', JSON.stringify(resigned));
  assert.match((await call('completeSignIn', { state: again.ok.state, code })).error, /state mismatch/);
  const resynced = await call('sync', { source: 'Drive' });
  assert.equal(resynced.ok?.results?.[0]?.error ?? null, null, JSON.stringify(resynced));

  // A rotated refresh token outlives a worker that dies right after the refresh. The
  // Drive rejects the access token and holds every answer back for 3 s; a sync gets the
  // rejection, refreshes (the old refresh token dies), and waits on the Drive again; the
  // worker is terminated as soon as its next request reaches the Drive (the earliest
  // moment the outside can tell it has the new tokens), 3 s before that request answers.
  // A new worker must sync with what the dead one kept.
  const control = async (path, method = 'POST') => {
    const answer = await fetch(`${fake.control}${path}`, { method });
    assert.ok(answer.ok, `${path}: ${answer.status}`);
    return answer.text();
  };
  const refreshes = async () => Number(await control('/refreshes', 'GET'));
  const refreshed = await refreshes();
  await control('/expire-access-tokens');
  await control('/latency?ms=3000');
  const quiet = errors.length;
  // Its worker dies and the page reloads: the call never answers.
  const doomed = page.evaluate(() => window.tonearm.client.call('sync', { source: 'Drive' })).catch(() => 'gone');
  for (const deadline = Date.now() + 30000; (await refreshes()) === refreshed || (await control('/called-after-refresh', 'GET')) !== 'true';) {
    assert.ok(Date.now() < deadline, 'the sync never refreshed its token and went on');
    await new Promise((ok) => setTimeout(ok, 5));
  }
  await page.evaluate(() => window.tonearm.client.worker.terminate());
  await control('/latency?ms=0');
  await page.reload();
  await page.waitForFunction(() => window.tonearm?.ready === true, null, { timeout: 30000 });
  const survived = await call('sync', { source: 'Drive' });
  assert.equal(survived.ok?.results?.[0]?.error ?? null, null, `after the worker died mid-sync: ${JSON.stringify(survived)}`);
  await doomed;
  // The Drive's rejection of the expired token was the point.
  errors.splice(quiet, errors.length - quiet, ...errors.slice(quiet).filter((e) => !e.startsWith(`401 ${fake.api}`)));

  // Enrichment in the worker: the picked tracks are identified by the fake MusicBrainz,
  // get the release's cover from the fake Cover Art Archive (through its redirect to the
  // image host) and lyrics from the fake LRCLIB, paced to MusicBrainz's one request a
  // second and written to IndexedDB with their provenance. A second run asks nothing.
  // The picked MP3 and FLAC embed covers; an Ogg file that embeds none is added as a
  // folder of its own, to get its cover from the archive.
  const pad = [...await readFile(join(fixtures, '03 pad.ogg'))];
  const addedPad = await page.evaluate(async (bytes) => {
    const file = new File([new Uint8Array(bytes)], '03 pad.ogg', { type: 'audio/ogg' });
    await window.tonearm.client.call('addFolder', { name: 'Pad', files: [file], paths: ['03 pad.ogg'] });
    return window.tonearm.client.call('sync', { source: 'Pad' });
  }, pad);
  assert.equal(addedPad.results[0].counts?.added, 1, JSON.stringify(addedPad));
  const listed = async () => (await call('tracks', { limit: 100 })).ok.tracks;
  const picked = (await listed()).filter((t) => t.source === 'My music' || t.source === 'Pad');
  assert.equal(picked.length, 3, JSON.stringify(picked));
  const release = '0b4f1a6e-3c1d-4b7e-9a39-5f7a3b2c1d00';
  const dir = await mkdtemp(join(tmpdir(), 'tonearm-e2e-'));
  // A 1×1 PNG.
  await writeFile(join(dir, 'cover.png'), Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64'));
  const artistsOf = {
    'Chord in C — Überstürzt': ['Ånström Quartet', 'Zoë Keating'],
    'Pluck “quoted” #2': ['Ånström Quartet', '坂本龍一'],
    'Pad?': ['Zoë Keating'],
  };
  const recordings = picked.map((t, i) => ({
    id: `5b11f4ce-a62d-471e-81fc-a69a8278c7${String(i + 1).padStart(2, '0')}`,
    title: t.title, artists: artistsOf[t.title], length_ms: t.duration_ms, isrcs: [],
    releases: [{ id: release, title: 'Tonearm Samples', artist: 'Tonearm Ensemble', date: '2024-05-01', disc: 1, discs: 1, track: i + 1, tracks: 3 }],
  }));
  const byTitle = (prefix) => picked.find((t) => t.title.startsWith(prefix));
  const [pluckTrack, padTrack] = [byTitle('Pluck'), byTitle('Pad')];
  const lyrics = [{
    track: pluckTrack.title, artist: artistsOf[pluckTrack.title][0], album: 'Tonearm Samples',
    duration_s: pluckTrack.duration_ms / 1000, plain: 'pluck, pluck', synced: '[00:00.10] pluck\n[00:00.80] pluck', instrumental: false,
  }];
  await writeFile(join(dir, 'catalogue.json'), JSON.stringify({ recordings, covers: [{ release, file: 'cover.png' }], lyrics }));
  metadata = await startFakeMetadata(join(dir, 'catalogue.json'));
  const counts = async () => (await fetch(`${metadata.control}/counts`)).json();
  const endpoints = {
    musicbrainz: { 'endpoint.api': metadata.mb },
    coverart: { 'endpoint.api': metadata.caa },
    lrclib: { 'endpoint.api': metadata.lrclib },
  };
  const enrich = async (source) => {
    const answer = await call('enrich', { source, settings: endpoints });
    assert.ok(answer.ok, JSON.stringify(answer));
    const reports = Object.fromEntries(answer.ok.reports.map((r) => [r.kind, r]));
    const count = (kind, outcome) => reports[kind].results.filter((r) => r.outcome === outcome).length;
    return { ...answer.ok, reports, count };
  };
  const music = await enrich('My music');
  assert.equal(music.count('tags', 'written'), 2, JSON.stringify(music.reports.tags));
  assert.equal(music.reports.artwork.skipped, 2, `embedded covers are kept: ${JSON.stringify(music.reports.artwork)}`);
  assert.equal(music.count('lyrics', 'written'), 1, JSON.stringify(music.reports.lyrics));
  const padRun = await enrich('Pad');
  assert.equal(padRun.count('tags', 'written'), 1, JSON.stringify(padRun.reports.tags));
  assert.equal(padRun.count('artwork', 'written'), 1, JSON.stringify(padRun.reports.artwork));
  const seen = await counts();
  assert.equal(seen.musicbrainz.throttled, 0, `MusicBrainz never had to refuse: ${JSON.stringify(seen)}`);
  assert.ok(seen.musicbrainz.requests >= 3 && seen.coverart.images === 1 && seen.lrclib.requests >= 3, JSON.stringify(seen));
  // LRCLIB answers 404 for a track it has no lyrics of: an answer, not an error.
  errors.splice(0, errors.length, ...errors.filter((e) => !e.startsWith(`404 ${metadata.lrclib}/api/`)));
  const provenance = (await call('provenance', { track: padTrack.id })).ok.fields;
  const releaseId = provenance.find((f) => f.field === 'musicbrainz_release_id');
  assert.deepEqual([releaseId?.value, releaseId?.source], [release, 'musicbrainz'], JSON.stringify(provenance));
  const cover = (await call('artwork', { track: padTrack.id })).ok.image;
  assert.match(cover?.dataUrl ?? '', /^data:image\/png;base64,iVBOR/, JSON.stringify(cover));
  const embedded = (await call('artwork', { track: pluckTrack.id })).ok.image;
  assert.ok(embedded && embedded.sha256 !== cover.sha256, 'the embedded cover stays');
  assert.ok((await call('artwork', { track: padTrack.id, album: true })).ok.image, 'the album has a cover');
  const words = (await call('lyrics', { track: pluckTrack.id })).ok.lyrics;
  assert.match(words?.synced_lrc ?? '', /^\[00:00\.10\] pluck/, JSON.stringify(words));
  // A user's edit is theirs: listed, searched, and never written over.
  assert.ok((await call('editTags', { track: padTrack.id, values: { title: 'My pad' } })).ok);
  assert.equal((await listed()).find((t) => t.id === padTrack.id).title, 'My pad');
  // A second run asks nothing: not the worker's HTTP, not the services.
  const sent = padRun.http.sent;
  for (const source of ['My music', 'Pad']) {
    const rerun = await enrich(source);
    assert.ok(Object.values(rerun.reports).every((r) => r.skipped === r.tracks), `everything answered is skipped: ${JSON.stringify(rerun.reports)}`);
    assert.equal(rerun.http.sent, sent, 'the second run sent nothing');
  }
  assert.deepEqual(await counts(), seen, 'and the services saw nothing');

  // Playlists in IndexedDB, through the worker: made, filled, reordered, renamed, gone
  // with a removed source's tracks, deleted.
  const mix = (await call('createPlaylist', { name: 'Mix' })).ok.playlist;
  assert.match((await call('createPlaylist', { name: 'Mix' })).error, /already exists/);
  assert.ok((await call('addToPlaylist', { playlist: mix.id, tracks: [padTrack.id, pluckTrack.id, padTrack.id] })).ok);
  assert.ok((await call('moveInPlaylist', { playlist: mix.id, from: 1, to: 0 })).ok);
  assert.ok((await call('removeFromPlaylist', { playlist: mix.id, index: 2 })).ok);
  const inMix = async () => (await call('playlistTracks', { playlist: mix.id })).ok.tracks.map((t) => t.id);
  assert.deepEqual(await inMix(), [pluckTrack.id, padTrack.id]);
  assert.match((await call('removeFromPlaylist', { playlist: mix.id, index: 5 })).error, /no entry 5/);
  assert.ok((await call('renamePlaylist', { playlist: mix.id, name: 'Road' })).ok);
  assert.deepEqual((await call('playlists', {})).ok.playlists.map((p) => [p.name, p.tracks]), [['Road', 2]]);
  await call('removeSource', { name: 'Pad' });
  assert.deepEqual(await inMix(), [pluckTrack.id], 'a removed track leaves the playlist');
  assert.ok((await call('deletePlaylist', { playlist: mix.id })).ok);
  assert.deepEqual((await call('playlists', {})).ok.playlists, []);

  // Search: every word as a prefix, accents and case ignored.
  await page.locator('#search').fill('PLUCK');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#tracks tbody tr')];
    return rows.length === 2 && rows.every((r) => /pluck/i.test(r.cells[0].textContent));
  }, null, { timeout: 15000 });

  // Play the Drive copy: its bytes come from the fake Drive through the worker's HTTP.
  const clicked = Date.now();
  await page.locator('#tracks tbody tr', { hasText: 'Drive' }).locator('button').click();
  await page.waitForFunction(() => window.tonearm.scheduler.stats.chunksScheduled >= 1, null, { timeout: 15000 });
  const firstChunk = Date.now() - clicked;
  // The 1.5 s MP3 is six or seven quarter-second chunks, all played back to back.
  await page.waitForFunction(() => window.tonearm.scheduler.stats.chunksPlayed >= 5, null, { timeout: 15000 });
  const stats = await page.evaluate(() => ({ ...window.tonearm.scheduler.stats }));
  assert.ok(stats.framesScheduled >= 44100, `a second and more was scheduled: ${JSON.stringify(stats)}`);
  assert.equal(stats.chunksReceived, stats.chunksScheduled, 'every chunk was scheduled');

  // Seek back and play again; then stop.
  await page.locator('#seek').click();
  await page.waitForFunction((n) => window.tonearm.scheduler.stats.chunksScheduled > n, stats.chunksScheduled, { timeout: 15000 });
  await page.locator('#stop').click();
  const status = await page.locator('#status').textContent();
  assert.match(status, /playing 02 pluck\.mp3 with symphonia/);
  assert.match(status, /seeked to frame \d+/);

  // Playback goes on while a sync reads new files from a slow Drive. Plugins call HTTP as
  // a blocking function, so in the worker it is a synchronous XMLHttpRequest, on the thread
  // that also decodes for playback: the sync must hand that thread to the pump between its
  // calls. Twelve new files are uploaded; each request of the sync waits 400 ms; a long
  // picked WAV plays meanwhile, and no chunk may reach the speakers late.
  const pluck = await readFile(join(fixtures, '02 pluck.mp3'));
  const uploads = 12;
  const uploadAlbum = async (album) => {
    for (let i = 1; i <= uploads; i++) {
      const path = `${album}/${String(i).padStart(2, '0')} pluck.mp3`;
      const answer = await fetch(`${fake.control}/files?path=${encodeURIComponent(path)}`, { method: 'POST', body: pluck });
      assert.equal(answer.status, 201, `upload ${path}`);
    }
  };
  await uploadAlbum('New album');
  const hum = await page.evaluate(async () => {
    // 30 s of a quiet 220 Hz stereo sine, 16-bit PCM.
    const rate = 44100, frames = rate * 30, channels = 2;
    const view = new DataView(new ArrayBuffer(44 + frames * channels * 2));
    const text = (at, s) => [...s].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
    text(0, 'RIFF'); view.setUint32(4, 36 + frames * channels * 2, true); text(8, 'WAVE');
    text(12, 'fmt '); view.setUint32(16, 16, true); view.setUint16(20, 1, true);
    view.setUint16(22, channels, true); view.setUint32(24, rate, true);
    view.setUint32(28, rate * channels * 2, true); view.setUint16(32, channels * 2, true);
    view.setUint16(34, 16, true); text(36, 'data'); view.setUint32(40, frames * channels * 2, true);
    for (let i = 0; i < frames; i++) {
      const sample = Math.round(3000 * Math.sin((2 * Math.PI * 220 * i) / rate));
      view.setInt16(44 + i * 4, sample, true);
      view.setInt16(46 + i * 4, sample, true);
    }
    const { client, scheduler } = window.tonearm;
    const file = new File([view.buffer], 'hum.wav', { type: 'audio/wav' });
    await client.call('addFolder', { name: 'Long', files: [file], paths: ['hum.wav'] });
    await client.call('sync', { source: 'Long' });
    const { tracks } = await client.call('tracks', { limit: 1000, offset: 0 });
    const id = tracks.find((t) => t.source === 'Long')?.id;
    const opened = await client.call('open', { track: id });
    window.arrivals = [];
    client.onPcm(() => window.arrivals.push(performance.now()));
    await scheduler.play(opened.stream);
    // A second played: the worker has filled its lead of chunks.
    while (scheduler.stats.chunksPlayed < 4) await new Promise((ok) => setTimeout(ok, 20));
    return { gaps: scheduler.stats.gaps };
  });
  await control('/latency?ms=400');
  const concurrent = await page.evaluate(async () => {
    const { client, scheduler } = window.tonearm;
    const start = performance.now();
    const { results } = await client.call('sync', { source: 'Drive' });
    const end = performance.now();
    // The longest the main thread waited for a chunk while the sync ran.
    const times = [start, ...window.arrivals.filter((t) => t > start && t < end), end];
    const longest = Math.max(...times.slice(1).map((t, i) => t - times[i]));
    return { results, seconds: (end - start) / 1000, longest: Math.round(longest), gaps: scheduler.stats.gaps };
  });
  await control('/latency?ms=0');
  await page.evaluate(() => window.tonearm.scheduler.stop());
  const [synced] = concurrent.results;
  assert.equal(synced.error ?? null, null, JSON.stringify(synced));
  assert.equal(synced.counts.added, uploads, JSON.stringify(synced));
  // The worker keeps two seconds of chunks ahead: a shorter sync would prove nothing.
  assert.ok(concurrent.seconds > 3, `the sync outlasts the worker's lead: ${JSON.stringify(concurrent)}`);
  assert.equal(concurrent.gaps, hum.gaps, `no chunk played late while the Drive synced: ${JSON.stringify(concurrent)}`);
  assert.ok(concurrent.longest < 1000, `chunks kept coming while the Drive synced: ${JSON.stringify(concurrent)}`);

  // The same with the queue player, whose engine the worker pumps on a timer between the
  // sync's calls: the long track plays while a second slow sync reads twelve more files.
  await uploadAlbum('Newer album');
  const queueBefore = await page.evaluate(async () => {
    const { client, player } = window.tonearm;
    const { tracks } = await client.call('tracks', { limit: 1000, offset: 0 });
    const id = tracks.find((t) => t.source === 'Long')?.id;
    window.queueArrivals = [];
    window.offQueueArrivals = client.onAudio(() => window.queueArrivals.push(performance.now()));
    const before = { ...player.stats };
    await player.clear();
    await player.enqueue([id]);
    await player.play();
    // A second played: the worker has filled its lead of chunks.
    const deadline = performance.now() + 10000;
    while (player.stats.chunksPlayed - before.chunksPlayed < 10 && performance.now() < deadline) {
      await new Promise((ok) => setTimeout(ok, 20));
    }
    return before;
  });
  // This player keeps six 4,096-frame chunks ahead (about 0.56 s at 44.1 kHz), not the
  // two seconds of the single-stream calls: each request of this sync waits 300 ms.
  await control('/latency?ms=300');
  const queueConcurrent = await page.evaluate(async (before) => {
    const { client, player } = window.tonearm;
    const start = performance.now();
    const { results } = await client.call('sync', { source: 'Drive' });
    const end = performance.now();
    const times = [start, ...window.queueArrivals.filter((t) => t > start && t < end), end];
    const longest = Math.max(...times.slice(1).map((t, i) => t - times[i]));
    window.offQueueArrivals();
    const state = player.status.state;
    await player.stop();
    return { results, state, seconds: (end - start) / 1000, longest: Math.round(longest), gaps: player.stats.gaps - before.gaps };
  }, queueBefore);
  await control('/latency?ms=0');
  const [queueSynced] = queueConcurrent.results;
  assert.equal(queueSynced.error ?? null, null, JSON.stringify(queueSynced));
  assert.equal(queueSynced.counts.added, uploads, JSON.stringify(queueSynced));
  assert.ok(queueConcurrent.seconds > 3, `the sync outlasts the worker's lead: ${JSON.stringify(queueConcurrent)}`);
  assert.equal(queueConcurrent.state, 'playing', `still playing after the sync: ${JSON.stringify(queueConcurrent)}`);
  assert.equal(queueConcurrent.gaps, 0, `no chunk of the queue player late while the Drive synced: ${JSON.stringify(queueConcurrent)}`);
  assert.ok(queueConcurrent.longest < 1000, `chunks kept coming while the Drive synced: ${JSON.stringify(queueConcurrent)}`);

  // The queue player: the worker's engine plays two Drive tracks back to back into the
  // page, which only schedules the chunks it is sent; each track is kept in the offline
  // cache (the origin-private file system) as it plays.
  const { tracks: all } = (await call('tracks', { limit: 1000, offset: 0 })).ok;
  const queued = all.filter((t) => t.source === 'Drive' && t.path.endsWith('pluck.mp3')).slice(0, 2).map((t) => t.id);
  assert.equal(queued.length, 2, JSON.stringify(all.map((t) => [t.source, t.path])));
  // What earlier plays cached goes: both tracks come from the Drive this time.
  assert.equal((await call('clearCache', { pinnedToo: true })).ok?.status.tracks, 0);
  const playQueue = (ids) => page.evaluate(async (ids) => {
    const { client, player } = window.tonearm;
    const events = [];
    const off = client.on((e) => { if (e.domain === 'playback' || e.domain === 'cache') events.push({ domain: e.domain, ...e.event }); });
    const before = { ...player.stats };
    await player.clear();
    await player.enqueue(ids);
    await player.play();
    const done = () => events.some((e) => e.type === 'ended') &&
      ids.every((id) => events.some((e) => e.domain === 'cache' ? false : e.type === 'track_started' && e.track_id === id));
    const deadline = performance.now() + 30000;
    while (!done() && performance.now() < deadline) await new Promise((ok) => setTimeout(ok, 50));
    // The cache stores a track played from its source in the background: let it finish.
    while (performance.now() < deadline && (await client.call('cacheStatus')).status.downloading > 0) {
      await new Promise((ok) => setTimeout(ok, 50));
    }
    off();
    const stats = Object.fromEntries(Object.entries(player.stats).map(([k, v]) => [k, v - before[k]]));
    return { events, stats, status: player.status };
  }, ids);
  const fromSource = await playQueue(queued);
  const startedIn = (run) => run.events.filter((e) => e.type === 'track_started').map((e) => e.track_id);
  const trouble = (run) => run.events.filter((e) => ['track_error', 'error', 'underrun', 'failed', 'corrupt'].includes(e.type));
  assert.deepEqual(startedIn(fromSource), queued, `both tracks started, in order: ${JSON.stringify(fromSource.events)}`);
  assert.deepEqual(trouble(fromSource), [], JSON.stringify(fromSource.events));
  assert.equal(fromSource.stats.gaps, 0, `no chunk late: ${JSON.stringify(fromSource.stats)}`);
  // Two 1.5 s tracks at the page's rate, nothing between them.
  const rate = await page.evaluate(() => window.tonearm.player.context.sampleRate);
  assert.ok(Math.abs(fromSource.stats.framesScheduled - 3 * rate) < rate * 0.05, JSON.stringify({ rate, ...fromSource.stats }));
  const stored = fromSource.events.filter((e) => e.domain === 'cache' && e.type === 'stored').map((e) => e.track_id);
  assert.deepEqual(stored.sort(), [...queued].sort(), `both were cached: ${JSON.stringify(fromSource.events)}`);
  const cached = (await call('cacheStatus', {})).ok.status;
  assert.ok(cached.tracks >= 2 && cached.bytes > 0, JSON.stringify(cached));

  // With the Drive gone, both play again, from the cache.
  fake.child.kill();
  await new Promise((ok) => fake.child.once('exit', ok));
  const offline = await playQueue(queued);
  assert.deepEqual(startedIn(offline), queued, `played from the cache: ${JSON.stringify(offline.events)}`);
  assert.deepEqual(trouble(offline), [], JSON.stringify(offline.events));
  assert.equal(offline.stats.gaps, 0, JSON.stringify(offline.stats));
  // The page's clock follows the engine: a pause holds it, and a skip while paused plays.
  const clock = await page.evaluate(async (ids) => {
    const { player } = window.tonearm;
    const settle = () => new Promise((ok) => setTimeout(ok, 300));
    await player.clear();
    await player.enqueue(ids);
    await player.play();
    await settle();
    await player.pause();
    await settle();
    const paused = [player.status.state, player.context.state];
    await player.next();
    await settle();
    const skipped = [player.status.state, player.context.state, player.status.entry?.track_id];
    await player.stop();
    return { paused, skipped };
  }, queued);
  assert.deepEqual(clock.paused, ['paused', 'suspended'], JSON.stringify(clock));
  assert.deepEqual(clock.skipped, ['playing', 'running', queued[1]], JSON.stringify(clock));
  // Pinning a cached track keeps it whatever the limit; clearing leaves pinned ones.
  assert.equal((await call('pin', { tracks: [queued[0]] })).ok?.status.pinned, 1);
  assert.equal((await call('clearCache', {})).ok?.status.tracks, 1);
  assert.equal((await call('unpin', { tracks: [queued[0]] })).ok?.status.pinned, 0);

  await mkdir(join(root, 'test-results'), { recursive: true });
  await page.screenshot({ path: join(root, 'test-results', 'demo.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no errors in the page or the worker');
  console.log(`web e2e: ok (worker ready in ${ready} ms, ${driveTracks} tracks synced from the fake Drive, first PCM chunk ${firstChunk} ms after play; ${JSON.stringify(stats)}; ` +
    `while a ${concurrent.seconds.toFixed(1)} s Drive sync ran, the longest wait for a chunk was ${concurrent.longest} ms, ${concurrent.gaps - hum.gaps} late chunks; ` +
    `the queue player during a ${queueConcurrent.seconds.toFixed(1)} s sync: longest wait ${queueConcurrent.longest} ms, ${queueConcurrent.gaps} late chunks; ` +
    `the queue player played ${queued.length} Drive tracks gaplessly, then again from the offline cache with the Drive gone)`);
} catch (e) {
  failed = true;
  console.error(e);
  // What the page and the worker said, for whoever reads the failure.
  console.error('page status:', await page?.locator('#status').textContent().catch(() => '?'));
  console.error('page errors:', errors);
} finally {
  await browser.close();
  server.close();
  fake.child.kill();
  metadata?.child.kill();
}
process.exit(failed ? 1 : 0);
