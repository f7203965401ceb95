// The demo page: everything it shows comes from the worker; it only renders and plays.
import { TonearmClient, PcmScheduler } from '../js/client.js';

const client = new TonearmClient(new URL('../js/worker.js', import.meta.url));
const audio = new AudioContext();
const scheduler = new PcmScheduler(client, audio);
const $ = (id) => document.getElementById(id);
const log = [];

function status(line) {
  log.push(line);
  $('status').textContent = log.slice(-12).join('\n');
}

client.on((event) => status(`event ${event.domain}: ${JSON.stringify(event.event)}`));

const { plugins } = await client.call('init');
status(`worker ready: ${plugins.map((p) => `${p.manifest.id} (${p.manifest.kind})`).join(', ')}`);

let current = null;
function controls(on) {
  for (const id of ['pause', 'resume', 'seek', 'stop']) $(id).disabled = !on;
}

async function play(path) {
  scheduler.stop();
  const opened = await client.call('open', { path });
  current = opened;
  status(`playing ${path} with ${opened.decoder}: ${opened.sampleRate} Hz × ${opened.channels}`);
  await scheduler.play(opened.stream);
  controls(true);
}

/** Lists the picked files' audio through the worker's `local` provider plugin. */
async function show(files) {
  const { entries } = await client.call('listFolder', { files });
  status(`the local provider listed ${entries.length} audio files of ${files.length} picked`);
  const body = $('tracks').tBodies[0];
  body.replaceChildren();
  for (const entry of entries) {
    const row = body.insertRow();
    row.insertCell().textContent = entry.path;
    row.insertCell().textContent = `${(entry.size / 1024).toFixed(1)} KiB`;
    const button = document.createElement('button');
    button.textContent = 'Play';
    button.onclick = () => play(entry.path).catch((e) => status(`error: ${e.message}`));
    row.insertCell().append(button);
  }
}

const pick = (e) => show([...e.target.files]).catch((err) => status(`error: ${err.message}`));
$('files').onchange = pick;
$('folder').onchange = pick;
$('pause').onclick = () => scheduler.pause();
$('resume').onclick = () => scheduler.resume();
$('seek').onclick = async () => {
  const { frame } = await scheduler.seek(Math.round((current?.sampleRate ?? 44100) / 2));
  status(`seeked to frame ${frame}`);
};
$('stop').onclick = () => { scheduler.stop(); controls(false); };

setInterval(() => { $('stats').textContent = JSON.stringify(scheduler.stats); }, 250);

// For the end-to-end test and for poking at it from the console.
window.tonearm = { client, scheduler, play, ready: true };
