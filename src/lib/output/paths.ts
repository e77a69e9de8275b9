import type {Stats} from 'node:fs'

/** Long paths are shortened in messages so that an error stays one readable line. */
export function shortPath(path: string): string {
  return path.length <= 160 ? path : `${path.slice(0, 70)}…${path.slice(-70)}`
}

/** What a file that is not the regular file expected is, for messages: `a FIFO`. */
export function fileKind(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory'
  if (stat.isSymbolicLink()) return 'a symlink'
  if (stat.isFIFO()) return 'a FIFO'
  if (stat.isSocket()) return 'a socket'
  if (stat.isCharacterDevice()) return 'a character device'
  if (stat.isBlockDevice()) return 'a block device'
  return stat.isFile() ? 'a regular file' : 'an unknown kind of file'
}
