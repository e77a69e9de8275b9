/**
 * `wid backup` and `wid restore` (issue 16 item 1): a backup taken while a server issues
 * under load restores into a fresh home as the same trust domain (openssl verifies the
 * SVIDs of before against the restored bundle, and the restored cluster's new SVIDs against
 * the old one); an encrypted backup restores into the PostgreSQL database a wid.yaml names;
 * and every bad file, passphrase and target is refused in one line, leaving nothing behind.
 */
import {execFileSync, spawn} from 'node:child_process'
import {generateKeyPairSync} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {Agent, request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, WID_BIN, widIn} from '../helpers/cli.js'
import {ISSUER_ROLE, WORKLOAD_IDENTITY} from '../helpers/design-documents.js'
import {openssl} from '../helpers/openssl.js'
import {startPostgres, storageConfig, type TestPostgres} from '../helpers/postgres.js'
import {freePort, inviteFile, loginProfile, startWidServer, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'
const PASSPHRASE = 'a backup passphrase of some length'

/**
 * `wid` on a terminal (script(1) gives it one), answering each prompt in turn as it appears:
 * its exit status and everything the terminal showed.
 */
function onTerminal(home: string, args: string[], answers: Array<[prompt: string, answer: string]>): Promise<{code: number; shown: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', [process.execPath, WID_BIN, ...args].join(' '), '/dev/null'], {env: {...process.env, WID_HOME: home, NO_COLOR: '1'}})
    let shown = ''
    // What the terminal showed since the last answer: the next prompt is looked for there
    let unanswered = ''
    const pending = [...answers]
    child.stdout.on('data', (data: Buffer) => {
      shown += data.toString()
      unanswered += data.toString()
      if (pending.length > 0 && unanswered.includes(pending[0]![0])) {
        child.stdin.write(`${pending.shift()![1]}\r`)
        unanswered = ''
      }
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({code: code ?? -1, shown}))
  })
}

describe('wid backup and wid restore', () => {
  const tmp = tempDir()
  const home = join(tmp.path, 'server')
  const admin = widIn(home)
  const plainBackup = join(tmp.path, 'plain.backup')
  const sealedBackup = join(tmp.path, 'sealed.backup')
  const passphraseFile = join(tmp.path, 'passphrase')
  const bundle = join(tmp.path, 'bundle.pem')
  let server: WidServer | undefined
  let pg: TestPostgres | undefined

  beforeAll(async () => {
    expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    expect((await admin(['create', '-f', '-'], {input: `${WORKLOAD_IDENTITY}---\n${ISSUER_ROLE}`})).code).toBe(0)
    writeFileSync(passphraseFile, `${PASSPHRASE}\n`, {mode: 0o600})
  })
  afterAll(async () => {
    await server?.stop()
    await pg?.destroy()
    tmp.cleanup()
  })

  it('backs up while a server issues under load; the restored home is the same trust domain with the same CA', async () => {
    // Given a server, alice logged in to it, and an SVID issued before the backup
    const port = await freePort()
    server = await startWidServer(home, port)
    const invite = await admin(['users', 'add', 'alice', '--roles', 'example-workload-identity-issuer'])
    const pin = (JSON.parse((await admin(['status', '--json'])).stdout) as {hostCaPins: string[]}).hostCaPins[0]!
    const aliceHome = join(tmp.path, 'alice')
    const login = await widIn(aliceHome)(['login', '--proxy', `127.0.0.1:${port}`, '--user', 'alice', '--ca-pin', pin, '--password-stdin', '--invite-file', inviteFile(tmp.path, invite.stdout.trim())], {
      input: `${PASSWORD}\n`,
    })
    expect(login.code, login.stderr).toBe(0)
    const before = join(tmp.path, 'before')
    expect((await admin(['svid', 'issue', '--output', before, '/svc/example-service'])).code).toBe(0)
    writeFileSync(bundle, (await admin(['auth', 'export', '--type', 'tls-spiffe'])).stdout)

    // And eight clients of alice's issuing X.509-SVIDs through the server without a pause
    const {key, cert, ca} = loginProfile(aliceHome, port)
    const agent = new Agent({connect: {key, cert, ca, checkServerIdentity: () => undefined}, connections: 8})
    const body = JSON.stringify({name: 'example-workload-identity', publicKey: generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'})})
    let issued = 0
    let failed = ''
    let loading = true
    const client = async () => {
      while (loading) {
        const answer = await request(`${server!.url}/v1/issueX509Svid`, {method: 'POST', dispatcher: agent, headers: {'content-type': 'application/json'}, body})
        const text = await answer.body.text()
        if (answer.statusCode === 200) issued++
        else failed ||= `${answer.statusCode} ${text}`
      }
    }
    const clients = Array.from({length: 8}, client)
    while (issued < 50 && !failed) await new Promise((resolve) => setTimeout(resolve, 20))

    // When the admin backs the cluster up meanwhile, twice (plain, then encrypted)
    const issuedBefore = issued
    const plain = await admin(['backup', '--out', plainBackup])
    const sealed = await admin(['backup', '--out', sealedBackup, '--passphrase-file', passphraseFile, '--json'])
    const issuedDuring = issued - issuedBefore
    loading = false
    await Promise.all(clients)
    await agent.close()
    expect(failed).toBe('')
    // Then both worked, said what they wrote, and the files are the owner's only
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stderr).toMatch(/^✔ backed up cluster example\.org \(\d+ items\) to .*plain\.backup\n/)
    expect(plain.stderr).toContain('unencrypted')
    expect(sealed.code, sealed.stderr).toBe(0)
    expect(JSON.parse(sealed.stdout)).toMatchObject({clusterName: 'example.org', encrypted: true})
    expect(statSync(plainBackup).mode & 0o777).toBe(0o600)
    expect(statSync(sealedBackup).mode & 0o777).toBe(0o600)
    // And the server issued all along (the backups are online)
    expect(issuedDuring).toBeGreaterThan(0)

    // When the plain backup is restored into a fresh home
    const restoredHome = join(tmp.path, 'restored')
    const restored = widIn(restoredHome)
    const result = await restored(['restore', plainBackup])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/^✔ restored cluster example\.org \(\d+ items, backed up \d{4}-\d\d-\d\dT[\d:.]+Z\) into .*restored\/wid\.db\n/)
    // Then it is the same trust domain: the same bundle, and the SVID of before verifies against it (openssl as the peer)
    expect((await restored(['auth', 'export', '--type', 'tls-spiffe'])).stdout).toBe(readFileSync(bundle, 'utf8'))
    expect((await restored(['auth', 'export', '--type', 'jwks'])).stdout).toBe((await admin(['auth', 'export', '--type', 'jwks'])).stdout)
    const restoredBundle = join(tmp.path, 'restored-bundle.pem')
    writeFileSync(restoredBundle, (await restored(['auth', 'export', '--type', 'tls-spiffe'])).stdout)
    expect(openssl(['verify', '-CAfile', restoredBundle, join(before, 'svid.pem')])).toContain(': OK')
    // And a new SVID of the restored cluster is signed by the same CA: it verifies against the bundle of before
    const after = join(tmp.path, 'after')
    expect((await restored(['svid', 'issue', '--output', after, '/svc/example-service'])).code).toBe(0)
    expect(openssl(['verify', '-CAfile', bundle, join(after, 'svid.pem')])).toContain(': OK')
    const issuer = (file: string) => openssl(['x509', '-noout', '-issuer', '-ext', 'authorityKeyIdentifier', '-in', file])
    expect(issuer(join(after, 'svid.pem'))).toBe(issuer(join(before, 'svid.pem')))
    // And alice, and the audit of every SVID issued before the backup began, came along
    expect((await restored(['users', 'ls'])).stdout).toContain('alice')
    const audit = JSON.parse((await restored(['audit', 'ls', '--type', 'svid.issued', '--json'])).stdout) as unknown[]
    expect(audit.length).toBeGreaterThanOrEqual(issuedBefore + 1)
  })

  it('restores an encrypted backup into the empty PostgreSQL database a wid.yaml names, and no second time', async () => {
    // Given an empty database named by a wid.yaml
    pg = await startPostgres()
    const config = storageConfig(join(tmp.path, 'wid.yaml'), await pg.createDatabase())
    // When the encrypted backup is restored there
    const result = await admin(['restore', sealedBackup, '-c', config, '--passphrase-file', passphraseFile])
    // Then the database holds the cluster, with the same CA, and the password of the database is never shown
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/^✔ restored cluster example\.org \(\d+ items, .*\) into postgresql:\/\/wid@127\.0\.0\.1:\d+\/wid_test_\d+\n/)
    expect(result.stderr).toContain(`next: start the servers with wid server start -c ${config}`)
    expect(result.stderr).not.toContain(pg.password)
    expect((await admin(['auth', 'export', '--type', 'tls-spiffe', '-c', config])).stdout).toBe(readFileSync(bundle, 'utf8'))
    // And a second restore into it is refused in one line
    const again = await admin(['restore', sealedBackup, '-c', config, '--passphrase-file', passphraseFile])
    expect(again.code).toBe(4)
    expect(expectOneLineError(again)).toMatch(/^restore: postgresql:\/\/wid@.* is not empty \(it holds \d+ items\); restore into a new, empty database$/)
  })

  it('asks for the passphrase on a terminal: twice for a backup (a mismatch writes nothing), once for a restore', async () => {
    const file = join(tmp.path, 'typed.backup')
    // When the admin types a passphrase twice, then restores the backup typing it once
    const typed = await onTerminal(home, ['backup', '--out', file, '--encrypt'], [
      ['Passphrase for the backup', PASSPHRASE],
      ['Repeat it', PASSPHRASE],
    ])
    expect(typed.code, typed.shown).toBe(0)
    expect(typed.shown).toMatch(/backed up cluster example\.org \(\d+ items, encrypted\)/)
    expect(typed.shown).not.toContain(PASSPHRASE)
    const restored = await onTerminal(join(tmp.path, 'typed-home'), ['restore', file], [['Passphrase of', PASSPHRASE]])
    expect(restored.code, restored.shown).toBe(0)
    expect(restored.shown).toContain('restored cluster example.org')
    // And a second typing that differs writes no file
    const mismatch = await onTerminal(home, ['backup', '--out', join(tmp.path, 'mismatch.backup'), '--encrypt'], [
      ['Passphrase for the backup', PASSPHRASE],
      ['Repeat it', `${PASSPHRASE}!`],
    ])
    expect(mismatch.code).toBe(2)
    expect(mismatch.shown).toContain('Error: backup: the passphrases do not match; nothing was written')
    expect(existsSync(join(tmp.path, 'mismatch.backup'))).toBe(false)
  })

  it('refuses, in one line each, a bad file, passphrase or target, and leaves no store behind', async () => {
    const target = join(tmp.path, 'refused')
    const restore = (args: string[]) => widIn(target)(['restore', ...args])
    const variant = (name: string, change: (bytes: Buffer) => Buffer) => {
      const path = join(tmp.path, name)
      writeFileSync(path, change(Buffer.from(readFileSync(plainBackup))))
      return path
    }
    const size = statSync(plainBackup).size
    const truncated = variant('truncated.backup', (b) => b.subarray(0, size - 10))
    const tampered = variant('tampered.backup', (b) => {
      b[Math.floor(size / 2)] = b[Math.floor(size / 2)]! ^ 0x20
      return b
    })
    const newer = variant('newer.backup', (b) => Buffer.from(b.toString('latin1').replace('"version":1', '"version":2'), 'latin1'))
    const wrong = join(tmp.path, 'wrong-passphrase')
    writeFileSync(wrong, 'not the passphrase at all\n')
    const fifo = join(tmp.path, 'fifo')
    execFileSync('mkfifo', [fifo])
    const cases: Array<[string[], number, string]> = [
      [[truncated], 9, `restore: ${truncated} is truncated (it ends before its last part); nothing was restored`],
      [[tampered], 9, `restore: ${tampered} is damaged, or was changed since it was written (its integrity check fails); nothing was restored`],
      [[sealedBackup, '--passphrase-file', wrong], 2, `restore: ${sealedBackup} is encrypted with another passphrase (wrong passphrase); nothing was restored`],
      [[sealedBackup], 2, `restore: ${sealedBackup} is encrypted: give --passphrase-file PATH, or run on a terminal to type the passphrase`],
      [[newer], 9, `restore: ${newer} is from a newer wid (0.1.0, backup format 2; this wid reads format 1 at most): upgrade wid to restore it; nothing was restored`],
      [[passphraseFile], 9, `restore: ${passphraseFile} is not a wid backup (wid backup writes them); nothing was restored`],
      [[join(tmp.path, 'missing.backup')], 2, `restore: ${join(tmp.path, 'missing.backup')} does not exist`],
      [[fifo], 2, `restore: ${fifo} is a FIFO, not a regular file`],
      [
        [plainBackup, '--passphrase-file', passphraseFile],
        2,
        `restore: ${plainBackup} is not encrypted, yet a passphrase was given (was an unencrypted file put in place of an encrypted backup?); if you trust it, restore it without --passphrase-file`,
      ],
    ]
    for (const [args, code, message] of cases) {
      const result = await restore(args)
      expect(result.code, message).toBe(code)
      expect(expectOneLineError(result)).toBe(message)
      expect(existsSync(join(target, 'wid.db')), message).toBe(false)
    }
    // And no half-built store is left beside it
    expect(existsSync(target) ? readdirSync(target) : []).toEqual([])
    // A home that holds a cluster is refused, and keeps it
    const occupied = await admin(['restore', plainBackup])
    expect(occupied.code).toBe(4)
    expect(expectOneLineError(occupied)).toBe(`restore: ${join(home, 'wid.db')} is not empty (it holds ${occupied.stderr.match(/holds (\d+)/)?.[1]} items); restore into a new, empty WID_HOME`)
    expect((await admin(['status', '--json'])).code).toBe(0)

    // And backup refuses a home without a cluster, a missing directory, a short passphrase and --encrypt without a terminal
    const empty = widIn(join(tmp.path, 'empty'))
    const short = join(tmp.path, 'short')
    writeFileSync(short, 'too short\n')
    const backups: Array<[ReturnType<typeof widIn>, string[], number, string]> = [
      [empty, ['--out', join(tmp.path, 'x.backup')], 3, `backup: no cluster in ${join(tmp.path, 'empty')} to back up`],
      [admin, ['--out', join(tmp.path, 'no', 'such', 'x.backup')], 8, `backup: cannot write ${join(tmp.path, 'no', 'such', 'x.backup')}: no such directory`],
      [admin, ['--out', join(tmp.path, 'x.backup'), '--passphrase-file', short], 2, 'backup: the passphrase is too short (at least 12 characters, not only spaces)'],
      [admin, ['--out', join(tmp.path, 'x.backup'), '--encrypt'], 2, 'backup: --encrypt asks for the passphrase on a terminal; without one, give --passphrase-file PATH'],
      [admin, ['--out', '/dev/null'], 2, 'backup: --out /dev/null is a character device, not a regular file; give the path of the file to write'],
      [admin, ['--out', fifo], 2, `backup: --out ${fifo} is a FIFO, not a regular file; give the path of the file to write`],
      [admin, ['--out', join(home, 'wid.db')], 2, `backup: --out ${join(home, 'wid.db')} is a file the backup reads (the store, or the passphrase file); write the backup elsewhere`],
      [admin, ['--out', passphraseFile, '--passphrase-file', passphraseFile], 2, `backup: --out ${passphraseFile} is a file the backup reads (the store, or the passphrase file); write the backup elsewhere`],
      [admin, ['--out', `${tmp.path}/`], 2, `backup: --out ${tmp.path}/ names a directory; give the path of the file to write`],
    ]
    for (const [wid, args, code, message] of backups) {
      const result = await wid(['backup', ...args])
      expect(result.code, message).toBe(code)
      expect(expectOneLineError(result)).toBe(message)
    }
    expect(existsSync(join(tmp.path, 'x.backup'))).toBe(false)
    expect(existsSync(join(tmp.path, 'empty', 'wid.db'))).toBe(false)
  })
})
