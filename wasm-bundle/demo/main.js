// The demo page: everything it shows comes from the worker; it only renders and plays.
import { TonearmClient, PcmScheduler, PlayerOutput } from '../js/client.js';

const client = new TonearmClient(new URL('../js/worker.js', import.meta.url));
const audio = new AudioContext();
const scheduler = new PcmScheduler(client, audio);
// The queue player: the worker's engine decodes, converts and mixes; the page only plays.
const player = new PlayerOutput(client, audio);
const $ = (id) => document.getElementById(id);
const log = [];

function status(line) {
  log.push(line);
  $('status').textContent = log.slice(-14).join('\n');
}

const syncs = { completed: 0, failed: 0 };
client.on((event) => {
  const body = event.event;
  if (event.domain === 'sync') {
    if (body.type === 'progress' || body.type === 'completed') {
      const c = body.counts;
      $('progress').textContent = `${body.source}: ${body.type === 'completed' ? 'done' : 'syncing'} — ` +
        `${c.seen} seen, ${c.scanned} read, ${c.added} added, ${c.updated} updated, ` +
        `${c.removed} removed, ${c.failed} unreadable`;
    }
    if (body.type === 'completed') syncs.completed += 1;
    if (body.type === 'failed') { syncs.failed += 1; $('progress').textContent = `${body.source}: ${body.error}`; }
  }
  if (event.domain !== 'sync' || body.type !== 'progress') status(`event ${event.domain}: ${JSON.stringify(body)}`);
});
client.onStream((event) => status(`stream ${event.stream}: ${event.type}${event.message ? ` (${event.message})` : ''}`));

// Settings can come in the address, so a link can point the page at a test server.
const query = new URLSearchParams(location.search);
for (const [field, key] of [['drive-client', 'client_id'], ['drive-api', 'api'], ['drive-authorize', 'authorize'], ['drive-token', 'token']]) {
  if (query.has(key)) $(field).value = query.get(key);
}

const ready = await client.call('init');
await player.start();
status(`worker ready: ${ready.plugins.map((p) => `${p.id} (${p.kind})`).join(', ')}`);

function fail(error) {
  status(`error: ${error.message}`);
}

async function renderSources() {
  const { sources } = await client.call('sources');
  const body = $('sources').tBodies[0];
  body.replaceChildren();
  for (const source of sources) {
    const row = body.insertRow();
    row.insertCell().textContent = source.name;
    row.insertCell().textContent = source.provider;
    row.insertCell().textContent = source.last_sync_at ? new Date(source.last_sync_at).toLocaleString() : 'never';
    row.insertCell().textContent = source.last_error ?? '';
    const button = document.createElement('button');
    button.textContent = 'Sync';
    button.onclick = () => sync(source.name).catch(fail);
    row.insertCell().append(button);
  }
}

const time = (ms) => (ms == null ? '' : `${Math.floor(ms / 60000)}:${String(Math.floor(ms / 1000) % 60).padStart(2, '0')}`);

async function renderLibrary() {
  const text = $('search').value.trim();
  const { tracks } = text
    ? await client.call('search', { text, limit: 200 })
    : await client.call('tracks', { limit: 500 });
  const body = $('tracks').tBodies[0];
  body.replaceChildren();
  for (const track of tracks) {
    const row = body.insertRow();
    row.dataset.track = track.id;
    row.insertCell().textContent = track.title ?? track.path;
    row.insertCell().textContent = track.artists;
    row.insertCell().textContent = track.album ?? '';
    row.insertCell().textContent = time(track.duration_ms);
    row.insertCell().textContent = track.source;
    const button = document.createElement('button');
    button.textContent = 'Play';
    button.onclick = () => play(track).catch(fail);
    row.insertCell().append(button);
  }
  const { stats } = await client.call('stats');
  const n = (count, one) => `${count} ${one}${count === 1 ? '' : 's'}`;
  $('library-stats').textContent = `${n(stats.tracks, 'track')}, ${n(stats.albums, 'album')}, ${n(stats.artists, 'artist')}` +
    (stats.failed_files ? `, ${stats.failed_files} unreadable files` : '');
}

async function sync(source) {
  const { results } = await client.call('sync', source ? { source } : {});
  for (const r of results) status(r.error ? `sync ${r.source} failed: ${r.error}` : `synced ${r.source}: ${r.counts.added} added`);
  await renderSources();
  await renderLibrary();
  return results;
}

async function addFolder(files) {
  const name = $('folder-name').value.trim() || 'My music';
  await client.call('addFolder', { name, files });
  status(`folder source ${name}: ${files.length} files picked`);
  return sync(name);
}

async function connectDrive() {
  const settings = { client_id: $('drive-client').value.trim() };
  for (const [field, key] of [['drive-api', 'endpoint.api'], ['drive-authorize', 'endpoint.authorize'], ['drive-token', 'endpoint.token']]) {
    const value = $(field).value.trim();
    if (value) settings[key] = value;
  }
  const { source } = await client.signIn({
    name: $('drive-name').value.trim() || 'Drive',
    provider: 'gdrive',
    settings,
    redirectUri: new URL('../js/callback.html', import.meta.url).href,
  });
  status(`signed in: source ${source.name}`);
  return sync(source.name);
}

let current = null;
function controls(on) {
  for (const id of ['pause', 'resume', 'seek', 'stop']) $(id).disabled = !on;
}

async function play(track) {
  scheduler.stop();
  const opened = await client.call('open', { track: track.id });
  current = opened;
  $('now-playing').textContent = `${track.title ?? track.path} — `;
  status(`playing ${track.path} with ${opened.decoder}: ${opened.sampleRate} Hz × ${opened.channels}`);
  await scheduler.play(opened.stream);
  controls(true);
}

const pick = (e) => addFolder([...e.target.files]).catch(fail);
$('files').onchange = pick;
$('folder').onchange = pick;
$('drive-connect').onclick = () => connectDrive().catch(fail);
$('sync-all').onclick = () => sync().catch(fail);
let searching = null;
$('search').oninput = () => { clearTimeout(searching); searching = setTimeout(() => renderLibrary().catch(fail), 150); };
$('pause').onclick = () => scheduler.pause();
$('resume').onclick = () => scheduler.resume();
$('seek').onclick = async () => {
  const { frame } = await scheduler.seek(Math.round((current?.sampleRate ?? 44100) / 2));
  status(`seeked to frame ${frame}`);
};
$('stop').onclick = () => { scheduler.stop(); controls(false); };

setInterval(() => { $('stats').textContent = JSON.stringify(scheduler.stats); }, 250);

const titles = new Map();
function renderPlayer() {
  const s = player.status;
  if (!s) return;
  const now = s.entry ? titles.get(s.entry.track_id) ?? `track ${s.entry.track_id}` : '—';
  $('player-status').textContent = `${s.state}: ${now} ${time(s.position_ms)} / ${time(s.duration_ms)}, ${s.buffered_ms} ms buffered`;
  $('queue').replaceChildren(...player.queue.map((e) => {
    const item = document.createElement('li');
    item.textContent = titles.get(e.track_id) ?? `track ${e.track_id}`;
    if (e.entry === s.entry?.entry) item.style.fontWeight = 'bold';
    return item;
  }));
}
$('queue-all').onclick = async () => {
  const rows = [...$('tracks').tBodies[0].rows];
  const ids = rows.map((r) => Number(r.dataset.track));
  rows.forEach((r) => titles.set(Number(r.dataset.track), r.cells[0].textContent));
  await player.enqueue(ids).catch(fail);
  renderPlayer();
};
$('player-toggle').onclick = () => player.toggle().then(renderPlayer, fail);
$('player-next').onclick = () => player.next().then(renderPlayer, fail);
$('player-previous').onclick = () => player.previous().then(renderPlayer, fail);
$('player-clear').onclick = () => player.clear().then(renderPlayer, fail);
setInterval(() => player.refresh().then(renderPlayer, () => {}), 500);

await renderSources();
await renderLibrary();

// For the end-to-end test and for poking at it from the console.
window.tonearm = { client, scheduler, player, play, sync, syncs, ready: true };
