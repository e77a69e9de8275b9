/**
 * `wid audit export` as its library runs it on an embedded cluster: every event so far as
 * JSON lines, then with follow the events committed later (by another process's store), until
 * its signal ends it.
 */
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {openBackend, LocalCluster} from '../../../src/lib/cluster/local.js'
import {exportAudit} from '../../../src/lib/cluster/audit-export.js'
import {AuditWriter} from '../../../src/lib/services/audit.js'
import {tempDir} from '../../helpers/cli.js'
import {eventually} from '../../helpers/server.js'

describe('exportAudit', () => {
  const tmp = tempDir()
  afterAll(() => tmp.cleanup())

  it('writes the log as JSON lines, then follows new events until stopped', async () => {
    const home = join(tmp.path, 'home')
    const cluster = await LocalCluster.open({home})
    const other = await openBackend(home)
    try {
      await cluster.setAuditRetention(720 * 3600)
      // Given an export of the log so far, without follow
      const lines: string[] = []
      const write = async (text: string) => void lines.push(...text.split('\n').filter(Boolean))
      const stop = new AbortController()
      expect(await exportAudit(cluster, {follow: false, idleMs: 10, signal: stop.signal, write})).toBe(1)
      expect(JSON.parse(lines[0]!)).toMatchObject({type: 'audit.retention', retention_seconds: 720 * 3600})

      // When following, and another connection commits events afterwards
      lines.length = 0
      const following = exportAudit(cluster, {follow: true, idleMs: 10, signal: stop.signal, write})
      await eventually(10, async () => lines.length === 1, () => `first line: ${lines.join('\n')}`)
      const writer = new AuditWriter(other)
      await Promise.all([1, 2, 3].map((n) => writer.append({time: new Date().toISOString(), type: 'svid.issued', actor: 'bot:b', serial: String(n)})))
      // Then they are written too, each once, and the signal ends the export
      await eventually(10, async () => lines.length === 4, () => `lines: ${lines.join('\n')}`)
      stop.abort()
      expect(await following).toBe(4)
      expect(lines.slice(1).map((line) => (JSON.parse(line) as {serial: string}).serial).sort()).toEqual(['1', '2', '3'])
    } finally {
      await other.close()
      await cluster.close()
    }
  })
})
