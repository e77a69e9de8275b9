/**
 * The ID token a delegated join proves (DESIGN §4.3), fetched fresh for each join and each
 * renewal, for the audience of the cluster name: Kubernetes' projected service account token
 * (read from its file, which the kubelet rotates), the one a GitHub Actions runner hands out
 * on request, or the one GitLab CI puts in the job's environment.
 */
import {httpRequest} from '../http-client.js'
import {WidError} from '../errors.js'
import {readBounded} from '../output/read.js'
import type {DelegatedJoinMethod} from '../resources/types.js'
import type {Onboarding} from './config.js'

export const DEFAULT_KUBERNETES_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token'
export const DEFAULT_GITLAB_TOKEN_ENV_VAR = 'TBOT_GITLAB_JWT'
/** The server takes ID tokens up to 16 KiB (schemas/api/joinBot.json). */
const MAX_ID_TOKEN_BYTES = 16 * 1024
const GITHUB_TIMEOUT_MS = 30_000

type Environment = Record<string, string | undefined>

/** A fresh ID token of `method` for `audience` (the cluster name). */
export async function fetchIdToken(method: DelegatedJoinMethod, onboarding: Onboarding, audience: string, env: Environment = process.env): Promise<string> {
  switch (method) {
    case 'kubernetes':
      return kubernetesToken(onboarding, audience, env)
    case 'github':
      return githubToken(audience, env)
    case 'gitlab':
      return gitlabToken(onboarding, audience, env)
  }
}

async function kubernetesToken(onboarding: Onboarding, audience: string, env: Environment): Promise<string> {
  const configured = onboarding.kubernetes?.tokenPath
  const path = configured ?? (env.KUBERNETES_TOKEN_PATH || undefined) ?? DEFAULT_KUBERNETES_TOKEN_PATH
  const from = configured !== undefined ? 'onboarding.kubernetes.token_path' : env.KUBERNETES_TOKEN_PATH ? 'KUBERNETES_TOKEN_PATH' : 'the default path'
  const data = await readBounded(path, {prefix: 'bot', maxBytes: MAX_ID_TOKEN_BYTES, what: 'a service account token'})
  if (data === undefined) {
    throw new WidError(
      'bad_input',
      `bot: join_method kubernetes: no service account token at ${path} (${from}); project one with the audience ${audience} into the pod, and give its path in onboarding.kubernetes.token_path or KUBERNETES_TOKEN_PATH`,
    )
  }
  const token = data.toString('utf8').trim()
  if (token === '') throw new WidError('bad_input', `bot: join_method kubernetes: the service account token file ${path} is empty`)
  return token
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/

async function githubToken(audience: string, env: Environment): Promise<string> {
  const missing = ['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'].filter((name) => !env[name])
  if (missing.length > 0) {
    throw new WidError(
      'bad_input',
      `bot: join_method github: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set; GitHub Actions sets both for a job with permissions: id-token: write`,
    )
  }
  let url: URL
  try {
    url = new URL(env.ACTIONS_ID_TOKEN_REQUEST_URL!)
  } catch {
    throw new WidError('bad_input', 'bot: join_method github: ACTIONS_ID_TOKEN_REQUEST_URL is not a URL')
  }
  // The request carries the runner's bearer token, and the answer is a credential
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.test(url.hostname))) {
    throw new WidError('bad_input', `bot: join_method github: ACTIONS_ID_TOKEN_REQUEST_URL must be https:// (http:// only to a loopback address), not ${url.protocol}//${url.host}`)
  }
  url.searchParams.set('audience', audience)
  let answer
  try {
    answer = await httpRequest(url, {headers: {authorization: `Bearer ${env.ACTIONS_ID_TOKEN_REQUEST_TOKEN!}`, accept: 'application/json'}, timeoutMs: GITHUB_TIMEOUT_MS, maxBytes: 64 * 1024})
  } catch (error) {
    throw new WidError('unavailable', `bot: join_method github: cannot get an ID token from the runner at ${url.origin}: ${(error as Error).message}`)
  }
  if (answer.status !== 200) {
    throw new WidError('unavailable', `bot: join_method github: the runner at ${url.origin} refused the ID token request (HTTP ${answer.status}); does the job have permissions: id-token: write?`)
  }
  let value: unknown
  try {
    value = (JSON.parse(answer.text) as {value?: unknown}).value
  } catch {
    value = undefined
  }
  if (typeof value !== 'string' || value === '') throw new WidError('unavailable', `bot: join_method github: the runner at ${url.origin} answered with no ID token (expected JSON {"value": "<JWT>"})`)
  return value
}

function gitlabToken(onboarding: Onboarding, audience: string, env: Environment): string {
  const name = onboarding.gitlab?.tokenEnvVarName ?? DEFAULT_GITLAB_TOKEN_ENV_VAR
  const value = Object.hasOwn(env, name) ? env[name] : undefined
  const token = typeof value === 'string' ? value.trim() : undefined
  if (!token) {
    throw new WidError('bad_input', `bot: join_method gitlab: ${name} is not set; give the job id_tokens: {${name}: {aud: ${audience}}} in .gitlab-ci.yml`)
  }
  return token
}
