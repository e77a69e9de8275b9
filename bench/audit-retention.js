#!/usr/bin/env node
// Does audit retention bound the store (issue 16)? BENCH_EVENTS (default 1,000,000)
// svid.issued events, shaped as the server writes them (auditOperation through an AuditWriter:
// group-committed, on SQLite's writer thread as in the server), go into an embedded SQLite
// store on a simulated clock: BENCH_RATE (default 1,000) events per simulated minute, in bursts
// of that many appends at once. Run twice: with the shortest retention (1h, so ~60 simulated
// minutes of events are kept) and pruneAudit, the function the server's sweeper runs, called
// each simulated minute; and without retention. Prints the store's size (wid.db + wid.db-wal)
// every 100,000 events and at the end, and the events/s of each run.
// `npm run bench:audit-retention` (builds first). Figures only.
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {root} from './lib.js'

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000)
const RATE = Number(process.env.BENCH_RATE ?? 1000)
const REPORT_EVERY = 100_000
const dist = (path) => import(pathToFileURL(join(root, 'dist', path)).href)
const {SqliteBackend} = await dist('lib/backend/sqlite.js')
const {AuditWriter} = await dist('lib/services/audit.js')
const {MIN_RETENTION_SECONDS, pruneAudit, retentionValue, AUDIT_CONFIG_KEY} = await dist('lib/services/audit-retention.js')
const {isoString} = await dist('lib/time.js')
const {randomHex} = await dist('lib/crypto/random.js')

/** An X.509-SVID issued to a workload a bot agent attested: what `mintX509` records. */
const issued = (time) => ({
  time,
  type: 'svid.issued',
  actor: 'bot:bench-bot',
  spiffe_id: 'spiffe://bench.example/svc/bench',
  serial: randomHex(16),
  svid_type: 'x509',
  ttl_seconds: 3600,
  workload_identity: 'bench',
  workload: {unix: {attested: true, pid: 48213, uid: 1000, gid: 1000}},
})

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1)
const size = (file) => {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}

async function run(retention) {
  const dir = mkdtempSync(join(tmpdir(), 'wid-bench-audit-'))
  const file = join(dir, 'wid.db')
  const backend = await SqliteBackend.open(file, {writerThread: true})
  try {
    if (retention) await backend.atomicWrite([], [{key: AUDIT_CONFIG_KEY, type: 'put', value: retentionValue(MIN_RETENTION_SECONDS)}])
    const writer = new AuditWriter(backend)
    let clock = Date.parse('2026-12-01T00:00:00Z')
    let pruned = 0
    let pruneMs = 0
    const started = performance.now()
    console.log(`\n${retention ? `retention ${MIN_RETENTION_SECONDS / 60} simulated minutes, pruned each simulated minute` : 'no retention'}:`)
    console.log('   events      kept   wid.db MB   wal MB   total MB')
    for (let written = 0; written < EVENTS; ) {
      const burst = Math.min(RATE, EVENTS - written)
      const time = isoString(new Date(clock))
      await Promise.all(Array.from({length: burst}, () => writer.append(issued(time))))
      written += burst
      clock += 60_000
      if (retention) {
        const before = performance.now()
        pruned += await pruneAudit(backend, new Date(clock))
        pruneMs += performance.now() - before
      }
      if (written % REPORT_EVERY === 0 || written === EVENTS) {
        const db = size(file)
        const wal = size(`${file}-wal`)
        console.log(`${String(written).padStart(9)} ${String(written - pruned).padStart(9)} ${mb(db).padStart(11)} ${mb(wal).padStart(8)} ${mb(db + wal).padStart(10)}`)
      }
    }
    const seconds = (performance.now() - started) / 1000
    console.log(`${Math.round(EVENTS / seconds)} events/s (${seconds.toFixed(1)} s${retention ? `, of which pruning ${(pruneMs / 1000).toFixed(1)} s` : ''})`)
  } finally {
    await backend.close()
    rmSync(dir, {recursive: true, force: true})
  }
}

console.log(`${EVENTS} svid.issued events of ~${JSON.stringify(issued(isoString(new Date()))).length + 28} bytes (value and key), ${RATE} per simulated minute, group-committed`)
await run(true)
await run(false)
