/**
 * The agent's storage lock: one agent per storage, and a lock left by an agent that died is
 * taken over, also when its pid has since been given to another process (after a reboot, say).
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BotStorage} from '../../../src/lib/bot/storage.js'
import {tempDir} from '../../helpers/cli.js'
import {rejection} from '../../helpers/errors.js'

const tmp = tempDir('wid-bot-storage-')
let other: ChildProcess
beforeAll(() => {
  other = spawn('sleep', ['60'], {stdio: 'ignore'})
})
afterAll(() => {
  other.kill('SIGKILL')
  tmp.cleanup()
})

/** When process `pid` started, as Linux tells it: the boot, and clock ticks since then. */
function started(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/${ticks}`
}

function storageWithLock(name: string, lock: string): string {
  const dir = join(tmp.path, name)
  mkdirSync(dir, {mode: 0o700})
  writeFileSync(join(dir, 'agent.lock'), lock, {mode: 0o600})
  return dir
}

describe.runIf(existsSync('/proc/self/stat'))('the storage lock', () => {
  it('is refused while the agent that holds it runs', async () => {
    const dir = storageWithLock('held', `${other.pid} ${started(other.pid!)}\n`)
    expect((await rejection(BotStorage.open(dir))).message).toBe(`bot: the storage ${dir} is in use by another agent (process ${other.pid}); give each agent a storage of its own`)
  })

  it('is taken over when its pid now names a process that started later (the holder died, or the machine rebooted)', async () => {
    const dir = storageWithLock('reused', `${other.pid} 00000000-0000-0000-0000-000000000000/1\n`)
    const {release} = await BotStorage.open(dir)
    expect(readFileSync(join(dir, 'agent.lock'), 'utf8')).toBe(`${process.pid} ${started(process.pid)}\n`)
    await release()
    expect(existsSync(join(dir, 'agent.lock'))).toBe(false)
  })
})
