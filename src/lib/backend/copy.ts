/**
 * A whole store copied into an empty one, all or nothing: how `wid storage migrate` moves
 * an embedded cluster into the PostgreSQL database of several servers.
 */
import {WidError} from '../errors.js'
import {StoreNotEmpty, type Backend} from './backend.js'

/**
 * Copies every item of `source` into `target`, which must hold no item at all. The source is
 * read in one consistent snapshot even if something writes meanwhile (Backend.readSnapshot);
 * the target is filled in one transaction that first checks it is empty (Backend.load), so a
 * target that a server started on is refused whole. Every item keeps its revision and the
 * target's counter takes the source's: what derives from revisions (the SPIFFE bundle's
 * spiffe_sequence, which relying parties may refuse to see go down) goes on from where it was.
 */
export async function copyStore(source: Backend, target: Backend): Promise<{items: number}> {
  try {
    return await source.readSnapshot((revision, pages) => target.load(revision, pages))
  } catch (error) {
    if (error instanceof StoreNotEmpty) throw new WidError('already_exists', `storage migrate: ${error.message}; copy into a new, empty database`)
    throw error
  }
}
