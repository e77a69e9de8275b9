/**
 * What /proc says about a process: its state and start time, which together with its pid
 * name one process for its whole life (a pid alone can be reused once it exits).
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {WidError} from '../../errors.js'

export interface ProcStat {
  /** field 3: R, S, D, Z (zombie), X (dead), ... */
  state: string
  /** field 22: clock ticks after boot at which the process started */
  startTime: number
}

/**
 * Parses /proc/PID/stat. Field 2 (comm) is in parentheses and may itself hold spaces and
 * ')', so the fields are counted from after the last ')'.
 */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(')')
  if (close < 0) throw new WidError('state', 'workloadapi: /proc stat has no command name in parentheses')
  // after ") ": field 3 (state) is index 0, field 22 (starttime) index 19
  const fields = text.slice(close + 2).split(' ')
  const state = fields[0] ?? ''
  const startTime = Number(fields[19])
  if (!/^[A-Za-z]$/.test(state) || !/^\d+$/.test(fields[19] ?? '') || !Number.isSafeInteger(startTime)) {
    throw new WidError('state', 'workloadapi: /proc stat is not in the expected format (state, then starttime as field 22)')
  }
  return {state, startTime}
}

/** The process's stat, or undefined if there is no such process any more (or only its zombie). */
export function readProcStat(procRoot: string, pid: number): ProcStat | undefined {
  let text: string
  try {
    // a read from procfs, never the disk: microseconds, so done in the caller's tick
    text = readFileSync(join(procRoot, String(pid), 'stat'), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ESRCH') return undefined
    throw new WidError('io', `workloadapi: cannot read ${join(procRoot, String(pid), 'stat')}: ${(error as Error).message}`, {cause: error})
  }
  const stat = parseProcStat(text)
  return stat.state === 'Z' || stat.state === 'X' ? undefined : stat
}
