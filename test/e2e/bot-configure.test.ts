/** `wid bot configure`: the bot agent's flags (and -c FILE) as tbot v2 YAML (issue 11 item 1). */
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'

describe('wid bot configure', () => {
  const tmp = tempDir()
  const wid = widIn(join(tmp.path, 'home'))
  afterAll(() => tmp.cleanup())
  const flags = ['--proxy-server', 'wid.example.org:3443', '--token', 'abc123', '--destination', '/opt/workload-identity', '--name-selector', 'example-workload-identity', '--audience', 'sts.amazonaws.com']

  it('prints the YAML of the flags on stdout', async () => {
    const result = await wid(['bot', 'configure', ...flags, '--certificate-ttl', '10s', '--renewal-interval', '2s'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe(`version: v2
proxy_server: wid.example.org:3443
onboarding:
  join_method: token
  token: abc123
storage:
  type: directory
  path: /var/lib/wid/bot
credential_ttl: 10s
renewal_interval: 2s
services:
  - type: workload-identity-jwt
    selector:
      name: example-workload-identity
    destination:
      type: directory
      path: /opt/workload-identity
    audiences:
      - sts.amazonaws.com
`)
  })

  it('-o writes it 0600, refuses to overwrite it without --force, and -c reads it back under new flags', async () => {
    const file = join(tmp.path, 'bot.yaml')
    const written = await wid(['bot', 'configure', ...flags, '-o', file])
    expect(written.code, written.stderr).toBe(0)
    expect(written.stdout).toBe('')
    expect(written.stderr.trim()).toBe(`✔ wrote ${file}`)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readFileSync(file, 'utf8')).toContain('proxy_server: wid.example.org:3443\n')

    const again = await wid(['bot', 'configure', ...flags, '-o', file])
    expect(again.code).toBe(4)
    expect(expectOneLineError(again)).toBe(`output: ${file} already exists; use --force to replace it`)

    const merged = await wid(['bot', 'configure', '-c', file, '--proxy-server', 'other.example.org:443', '--oneshot'])
    expect(merged.code, merged.stderr).toBe(0)
    expect(merged.stdout).toContain('proxy_server: other.example.org:443\n')
    expect(merged.stdout).toContain('oneshot: true\n')
    expect(merged.stdout).toContain('name: example-workload-identity\n')
  })

  it('points at the line and column of a mistake in -c FILE', async () => {
    const file = join(tmp.path, 'typo.yaml')
    writeFileSync(file, 'version: v2\nservices:\n  - type: workload-identity-x509\n    selector: {name: web}\n    destination: {type: directory, pth: /opt/x}\n')
    const result = await wid(['bot', 'configure', '-c', file])
    expect(result.code).toBe(2)
    expect(expectOneLineError(result)).toBe(`bot config: ${file}:5:36: services[0].destination.pth: unknown field (allowed: type, path)`)
  })

  const refused: [string, string[], string][] = [
    ['--name-selector with --label-selector', ['--destination', '/x', '--name-selector', 'a', '--label-selector', 'a=b'], '--name-selector and --label-selector cannot be used together'],
    ['--destination without a selector', ['--destination', '/x'], 'bot config: --destination needs what to issue into it: --name-selector, --label-selector or --svid-path'],
    ['nothing to do', ['--proxy-server', 'wid.example.org:3443'], 'bot config: there are no services and no outputs, so the agent would do nothing: add a service (e.g. type: workload-identity-x509 with a selector and a destination), or give --destination with --name-selector, --label-selector or --svid-path'],
    ['a renewal not below the TTL', [...flags, '--certificate-ttl', '10m'], 'bot config: --certificate-ttl: the renewal interval (20m) must be shorter than the credential TTL (10m), so that credentials are renewed before they expire'],
  ]
  it.each(refused)('refuses %s: one line, status 2', async (_what, args, message) => {
    const result = await wid(['bot', 'configure', ...args])
    expect(result.code).toBe(2)
    expect(expectOneLineError(result)).toBe(message)
    expect(result.stdout).toBe('')
  })
})
