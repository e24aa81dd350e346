// A Varnish cache node with the shipped configuration (deploy/varnish) in front
// of a relay, for browser tests: varnishd runs as this process's child on a free
// loopback port with its own temporary folder, and stopVarnish() ends it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './relay.mjs';

export async function startVarnish(sourceDir, originPort) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'relay-varnish-'));
  // The origin's address is the one file an operator edits; the test writes its
  // own and puts it first on vcl_path.
  writeFileSync(path.join(dir, 'seminar-relay-origin.vcl'),
    `vcl 4.1;\nbackend relay_origin {\n    .host = "127.0.0.1";\n    .port = "${originPort}";\n}\n`);
  const deploy = path.join(sourceDir, 'deploy', 'varnish');
  const proc = spawn('varnishd', ['-F', '-j', 'none', '-a', `127.0.0.1:${port}`,
    '-f', path.join(deploy, 'seminar-relay.vcl'), '-p', `vcl_path=${dir}:${deploy}`,
    '-n', path.join(dir, 'n'), '-s', 'malloc,128m'], { stdio: ['ignore', 'inherit', 'inherit'] });
  // Never outlive the test, even when it throws before stopVarnish().
  const killer = () => { try { proc.kill('SIGKILL'); } catch { /* gone */ } };
  process.on('exit', killer);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`varnishd exited with ${proc.exitCode}`);
    try {
      if ((await fetch(`${base}/api/health`)).ok) return { proc, base, port, dir, killer };
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  killer();
  throw new Error('varnishd did not answer within 20 s');
}

// varnishstat's hit and miss counters, as a Prometheus exporter would read them.
export function varnishCounters(varnish) {
  const out = spawnSync('varnishstat', ['-n', path.join(varnish.dir, 'n'), '-1', '-f', 'MAIN.cache_hit',
    '-f', 'MAIN.cache_miss'], { encoding: 'utf8' }).stdout || '';
  return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => {
    const [name, value] = l.split(/\s+/);
    return [name, Number(value)];
  }));
}

export async function stopVarnish(varnish) {
  if (varnish.proc.exitCode === null) {
    varnish.proc.kill('SIGTERM');
    await new Promise((resolve) => varnish.proc.on('exit', resolve));
  }
  process.off('exit', varnish.killer);
  rmSync(varnish.dir, { recursive: true, force: true });
}
