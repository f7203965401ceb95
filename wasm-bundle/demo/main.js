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

async function play(file) {
  scheduler.stop();
  const opened = await client.call('open', { file, name: file.name });
  current = opened;
  status(`playing ${file.name} with ${opened.decoder}: ${opened.sampleRate} Hz × ${opened.channels}`);
  await scheduler.play(opened.stream);
  controls(true);
}

function show(files) {
  const body = $('tracks').tBodies[0];
  body.replaceChildren();
  for (const file of files) {
    const row = body.insertRow();
    row.insertCell().textContent = file.webkitRelativePath || file.name;
    row.insertCell().textContent = `${(file.size / 1024).toFixed(1)} KiB`;
    const button = document.createElement('button');
    button.textContent = 'Play';
    button.onclick = () => play(file).catch((e) => status(`error: ${e.message}`));
    row.insertCell().append(button);
  }
}

$('files').onchange = (e) => show([...e.target.files]);
$('folder').onchange = (e) => show([...e.target.files]);
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
