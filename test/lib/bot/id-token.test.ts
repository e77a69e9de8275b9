/**
 * Where a delegated join's ID token comes from (issue 13 item 3): Kubernetes' projected token
 * file (read fresh each time), a GitHub Actions runner's token endpoint (over HTTP, as the
 * runner serves it), and GitLab CI's environment variable; what is missing is one line naming
 * what to set.
 */
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {DEFAULT_KUBERNETES_TOKEN_PATH, fetchIdToken} from '../../../src/lib/bot/id-token.js'
import type {Onboarding} from '../../../src/lib/bot/config.js'
import {tempDir} from '../../helpers/cli.js'
import {rejection} from '../../helpers/errors.js'

const tmp = tempDir('wid-id-token-')
afterAll(() => tmp.cleanup())
const onboarding = (extra: Partial<Onboarding> = {}): Onboarding => ({joinMethod: 'github', token: 'ci', caPins: [], ...extra})

describe('Kubernetes: the projected service account token', () => {
  it('reads onboarding.kubernetes.token_path, else KUBERNETES_TOKEN_PATH, fresh each time', async () => {
    const configured = join(tmp.path, 'configured')
    const fromEnv = join(tmp.path, 'from-env')
    writeFileSync(configured, 'eyJ.configured.sig\n')
    writeFileSync(fromEnv, 'eyJ.env.sig')
    const env = {KUBERNETES_TOKEN_PATH: fromEnv}
    expect(await fetchIdToken('kubernetes', onboarding({kubernetes: {tokenPath: configured}}), 'example.org', env)).toBe('eyJ.configured.sig')
    expect(await fetchIdToken('kubernetes', onboarding(), 'example.org', env)).toBe('eyJ.env.sig')
    // The kubelet rotates the file: the next read has the new token
    writeFileSync(fromEnv, 'eyJ.rotated.sig')
    expect(await fetchIdToken('kubernetes', onboarding(), 'example.org', env)).toBe('eyJ.rotated.sig')
  })

  it('names the path it looked at, and where that came from, when there is no token', async () => {
    const missing = join(tmp.path, 'nope')
    expect((await rejection(fetchIdToken('kubernetes', onboarding({kubernetes: {tokenPath: missing}}), 'example.org', {}))).message).toBe(
      `bot: join_method kubernetes: no service account token at ${missing} (onboarding.kubernetes.token_path); project one with the audience example.org into the pod, and give its path in onboarding.kubernetes.token_path or KUBERNETES_TOKEN_PATH`,
    )
    expect((await rejection(fetchIdToken('kubernetes', onboarding(), 'example.org', {}))).message).toContain(`no service account token at ${DEFAULT_KUBERNETES_TOKEN_PATH} (the default path)`)
  })
})

describe('GitHub Actions: the runner\'s token endpoint', () => {
  let server: Server
  let url: string
  const requests: {authorization?: string; audience: string | null; apiVersion: string | null}[] = []
  beforeAll(async () => {
    server = createServer((req, res) => {
      const query = new URL(req.url!, 'http://runner').searchParams
      requests.push({authorization: req.headers.authorization, audience: query.get('audience'), apiVersion: query.get('api-version')})
      if (req.headers.authorization !== 'Bearer runner-secret') return res.writeHead(403).end('{"message":"forbidden"}')
      res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({count: 1, value: `eyJ.${query.get('audience')}.sig`}))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/_apis/distributedtask/token?api-version=2.0`
  })
  afterAll(() => new Promise((resolve) => server.close(resolve)))

  it('asks for the cluster name as audience, with the request token as bearer', async () => {
    const env = {ACTIONS_ID_TOKEN_REQUEST_URL: url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-secret'}
    expect(await fetchIdToken('github', onboarding(), 'example.org', env)).toBe('eyJ.example.org.sig')
    expect(requests.at(-1)).toEqual({authorization: 'Bearer runner-secret', audience: 'example.org', apiVersion: '2.0'})
  })

  it('refuses in one line: no variables, a refused request', async () => {
    expect((await rejection(fetchIdToken('github', onboarding(), 'example.org', {ACTIONS_ID_TOKEN_REQUEST_URL: url}))).message).toBe(
      'bot: join_method github: ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set; GitHub Actions sets both for a job with permissions: id-token: write',
    )
    expect((await rejection(fetchIdToken('github', onboarding(), 'example.org', {}))).message).toBe(
      'bot: join_method github: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set; GitHub Actions sets both for a job with permissions: id-token: write',
    )
    const refused = await rejection(fetchIdToken('github', onboarding(), 'example.org', {ACTIONS_ID_TOKEN_REQUEST_URL: url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong'}))
    expect(refused.message).toBe(`bot: join_method github: the runner at ${new URL(url).origin} refused the ID token request (HTTP 403); does the job have permissions: id-token: write?`)
    expect(refused.message).not.toContain('wrong')
  })

  it('sends the runner\'s bearer token only over https://, or http:// to a loopback address', async () => {
    const plain = await rejection(fetchIdToken('github', onboarding(), 'example.org', {ACTIONS_ID_TOKEN_REQUEST_URL: 'http://runner.example.com/token', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-secret'}))
    expect([plain.code, plain.message]).toEqual(['bad_input', 'bot: join_method github: ACTIONS_ID_TOKEN_REQUEST_URL must be https:// (http:// only to a loopback address), not http://runner.example.com'])
    const other = await rejection(fetchIdToken('github', onboarding(), 'example.org', {ACTIONS_ID_TOKEN_REQUEST_URL: 'file:///etc/passwd', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-secret'}))
    expect(other.message).toMatch(/must be https:\/\/ .*, not file:\/\/$/)
  })
})

describe('GitLab CI: the job\'s environment', () => {
  it('reads TBOT_GITLAB_JWT, or the variable onboarding.gitlab.token_env_var_name names', async () => {
    expect(await fetchIdToken('gitlab', onboarding(), 'example.org', {TBOT_GITLAB_JWT: 'eyJ.default.sig'})).toBe('eyJ.default.sig')
    expect(await fetchIdToken('gitlab', onboarding({gitlab: {tokenEnvVarName: 'WID_JWT'}}), 'example.org', {TBOT_GITLAB_JWT: 'x', WID_JWT: 'eyJ.named.sig'})).toBe('eyJ.named.sig')
    expect((await rejection(fetchIdToken('gitlab', onboarding(), 'example.org', {}))).message).toBe(
      'bot: join_method gitlab: TBOT_GITLAB_JWT is not set; give the job id_tokens: {TBOT_GITLAB_JWT: {aud: example.org}} in .gitlab-ci.yml',
    )
    // A name that only an object's prototype has is not set either
    expect((await rejection(fetchIdToken('gitlab', onboarding({gitlab: {tokenEnvVarName: 'constructor'}}), 'example.org', {}))).message).toMatch(/^bot: join_method gitlab: constructor is not set;/)
  })
})
