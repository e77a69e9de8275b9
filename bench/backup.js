#!/usr/bin/env node
// Backups (issue 16): an embedded cluster grown to BENCH_EVENTS (default 200,000)
// svid.issued-shaped audit events (~340 bytes each, written straight into the store in
// batches of 1,000), then the median of BENCH_ROUNDS (default 3) runs of: copying the SQLite
// file (the floor: what reading and writing its bytes costs here), `wid backup` plain and
// with a passphrase, and `wid restore` of each into a fresh home. Prints seconds, MB/s of
// the store's size, the ratio to the copy, and the sizes of the store and of each backup.
// `npm run bench:backup` (builds first). Figures only.
import {spawnSync} from 'node:child_process'
import {copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {initBenchCluster, wid} from './lib.js'

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const dist = (path) => import(new URL(`../dist/lib/${path}`, import.meta.url).href)

const tmp = mkdtempSync(join(tmpdir(), 'wid-bench-backup-'))
const home = join(tmp, 'home')
const passphrase = join(tmp, 'passphrase')
writeFileSync(passphrase, 'a passphrase for the bench\n', {mode: 0o600})

function timed(args, env = {}) {
  const start = performance.now()
  const result = spawnSync(process.execPath, [wid, ...args], {env: {...process.env, ...env}, encoding: 'utf8'})
  if (result.status !== 0) throw new Error(`wid ${args.join(' ')} failed: ${result.stderr}`)
  return (performance.now() - start) / 1000
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const mb = (bytes) => bytes / 1e6

try {
  initBenchCluster(home)
  const {SqliteBackend} = await dist('backend/sqlite.js')
  const {auditOperation} = await dist('services/audit.js')
  const store = await SqliteBackend.open(join(home, 'wid.db'))
  const started = Date.parse('2026-11-01T00:00:00Z')
  for (let i = 0; i < EVENTS; i += 1000) {
    const batch = []
    for (let j = i; j < Math.min(EVENTS, i + 1000); j++) {
      batch.push(
        auditOperation({
          time: new Date(started + j * 10).toISOString(),
          type: 'svid.issued',
          actor: 'bot:bench-bot',
          spiffe_id: 'spiffe://bench.example/svc/bench',
          serial: (j * 7919).toString(16).padStart(32, '0'),
          svid_type: 'x509',
          ttl_seconds: 3600,
          workload_identity: 'bench',
          workload: {unix: {attested: true, uid: 1000, gid: 1000, pid: 4242}},
        }),
      )
    }
    await store.atomicWrite([], batch)
  }
  await store.close()
  const storeBytes = statSync(join(home, 'wid.db')).size

  const figures = {copy: [], backup: [], sealed: [], restore: [], restoreSealed: []}
  const sizes = {}
  for (let round = 0; round < ROUNDS; round++) {
    const copyStart = performance.now()
    copyFileSync(join(home, 'wid.db'), join(tmp, 'copy.db'))
    figures.copy.push((performance.now() - copyStart) / 1000)
    const plain = join(tmp, `plain-${round}.backup`)
    const sealed = join(tmp, `sealed-${round}.backup`)
    figures.backup.push(timed(['backup', '--out', plain], {WID_HOME: home}))
    figures.sealed.push(timed(['backup', '--out', sealed, '--passphrase-file', passphrase], {WID_HOME: home}))
    figures.restore.push(timed(['restore', plain], {WID_HOME: join(tmp, `restored-${round}`)}))
    figures.restoreSealed.push(timed(['restore', sealed, '--passphrase-file', passphrase], {WID_HOME: join(tmp, `restored-sealed-${round}`)}))
    sizes.plain = statSync(plain).size
    sizes.sealed = statSync(sealed).size
  }
  const copy = median(figures.copy)
  console.log(`store: ${EVENTS} audit events + the cluster, ${mb(storeBytes).toFixed(1)} MB (SQLite file); backups: ${mb(sizes.plain).toFixed(1)} MB plain, ${mb(sizes.sealed).toFixed(1)} MB encrypted`)
  console.log(`median of ${ROUNDS} runs; MB/s of the store's size; ratio to copying the file`)
  for (const [name, label] of [
    ['copy', 'cp wid.db (baseline)'],
    ['backup', 'wid backup'],
    ['sealed', 'wid backup --passphrase-file'],
    ['restore', 'wid restore'],
    ['restoreSealed', 'wid restore --passphrase-file'],
  ]) {
    const seconds = median(figures[name])
    console.log(`${label.padEnd(32)} ${seconds.toFixed(2).padStart(7)} s  ${(mb(storeBytes) / seconds).toFixed(1).padStart(7)} MB/s  ${(seconds / copy).toFixed(1).padStart(7)}×`)
  }
} finally {
  rmSync(tmp, {recursive: true, force: true})
}
