/**
 * A whole store copied into an empty one, all or nothing: how `wid storage migrate` moves
 * an embedded cluster into the PostgreSQL database of several servers.
 */
import {WidError} from '../errors.js'
import type {Backend, Condition, Operation} from './backend.js'

/** A store that can be copied into: it can set its revision counter forward (PostgresBackend). */
export interface CopyTarget extends Backend {
  raiseRevision(floor: number): Promise<void>
}

export interface CopyResult {
  items: number
  /** The revision every copied item has in the target. */
  revision: number
}

/**
 * Copies every item of `source` into `target`, which must hold no item at all. The source is
 * read in one `list('')`, one statement on every backend, so the copy is one consistent
 * snapshot even if something writes meanwhile; the target is written in one atomicWrite
 * that requires every key absent, so a target written to since it was found empty (a
 * server started on it) refuses the whole copy rather than receive half of it.
 */
export async function copyStore(source: Backend, target: CopyTarget): Promise<CopyResult> {
  const items = await source.list('')
  const present = (await target.list('')).length
  if (present > 0) {
    throw new WidError('already_exists', `storage migrate: ${target.location} is not empty (it holds ${present} item${present === 1 ? '' : 's'}); copy into a new, empty database`)
  }
  // Revisions are store-wide, and the copy gives every item the revision of its one write.
  // What derives from revisions must not go backwards: the SPIFFE bundle's spiffe_sequence
  // is the authorities' latest revision, and relying parties may ignore a bundle whose
  // sequence is below one they have seen. So the target's counter first moves up to the
  // source's highest revision: the copy's write lands above every revision the source's
  // items carry, and so above every sequence it ever published (the authorities' revisions
  // only grow, and they are among those items). Raised alone, the counter harms nothing.
  let highest = 0
  for (const item of items) highest = Math.max(highest, item.revision)
  await target.raiseRevision(highest)
  const conditions = items.map((item): Condition => ({key: item.key, type: 'absent'}))
  const operations = items.map((item): Operation => ({key: item.key, type: 'put', value: item.value}))
  try {
    return {items: items.length, revision: await target.atomicWrite(conditions, operations)}
  } catch (error) {
    if (!(error instanceof WidError && error.code === 'compare_failed')) throw error
    throw new WidError('already_exists', `storage migrate: ${target.location} was written to during the copy (a server started on it?); nothing was copied`)
  }
}
