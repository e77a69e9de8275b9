/**
 * Who holds a lock file: its holder writes `<pid> <start>` into it, the start being, where
 * Linux tells it, the boot and the clock tick the process started at (field 22 of
 * /proc/<pid>/stat). A pid alone is not enough: once the holder has died, or the machine
 * rebooted after a crash, the pid may name another process, and the lock would seem held
 * for ever. A lock that names only a pid (or a system without /proc) falls back to it.
 */
import {readFileSync} from 'node:fs'

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** When process `pid` started, `<boot id>/<ticks>`; undefined when it is gone or this is not Linux. */
function startOf(pid: number): string | undefined {
  const stat = read(`/proc/${pid}/stat`)
  const boot = read('/proc/sys/kernel/random/boot_id')?.trim()
  if (stat === undefined || !boot) return undefined
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  return ticks ? `${boot}/${ticks}` : undefined
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** What this process writes into a lock it takes. */
export function lockText(): string {
  const start = startOf(process.pid)
  return start === undefined ? `${process.pid}` : `${process.pid} ${start}`
}

/** The holder a lock file's text names (pid 0: none), and whether that process still runs. */
export function lockHolder(text: string): {pid: number; alive: boolean} {
  const [first = '', start] = text.trim().split(/\s+/)
  const pid = Number(first)
  if (!Number.isInteger(pid) || pid <= 0) return {pid: 0, alive: false}
  if (!isAlive(pid)) return {pid, alive: false}
  const now = start === undefined ? undefined : startOf(pid)
  return {pid, alive: now === undefined || now === start}
}
