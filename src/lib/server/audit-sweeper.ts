/**
 * The server keeps the audit log to its retention: at start and every minute, every event
 * past it is deleted in batches (see pruneAudit). With several servers on one database each
 * sweeps, which is harmless: they race to delete the same keys.
 */
import type {Logger} from 'pino'
import type {Backend} from '../backend/backend.js'
import {pruneAudit} from '../services/audit-retention.js'

const SWEEP_MS = 60_000

export function startAuditSweeper(backend: Backend, logger: Logger): {stop(): Promise<void>} {
  const stopping = new AbortController()
  let running: Promise<void> | undefined
  const sweep = () => {
    // A sweep of a long backlog may outlast the minute: the next waits for the next tick
    running ??= pruneAudit(backend, new Date(), {signal: stopping.signal})
      .then((events) => {
        if (events > 0) logger.info({events}, 'audit events past the retention pruned')
      })
      .catch((error: unknown) => logger.warn({err: error}, 'pruning the audit log failed'))
      .finally(() => (running = undefined))
  }
  sweep()
  const timer = setInterval(sweep, SWEEP_MS)
  timer.unref()
  return {
    stop: async () => {
      clearInterval(timer)
      stopping.abort()
      await running
    },
  }
}
