import {Flags} from '@oclif/core'
import {WidCommand} from '../base-command.js'
import {duration} from '../flags.js'
import {describeTimeLeft, parseDuration} from '../lib/duration.js'
import {badInput, WidError} from '../lib/errors.js'
import {printable} from '../lib/output/printable.js'
import {ENDPOINT_FORMS, parseEndpoint, type Endpoint} from '../lib/workloadapi/address.js'
import type {WorkloadApiInspection} from '../lib/workloadapi/inspect.js'

const ENV = 'SPIFFE_ENDPOINT_SOCKET'

function endpointFrom(flag: string | undefined): Endpoint {
  const [value, source] = flag !== undefined ? [flag, '--path'] : [process.env[ENV], ENV]
  if (value === undefined || value === '') {
    throw badInput(`spiffe-inspect: give the Workload API address: --path unix:///PATH (or set ${ENV})`)
  }
  try {
    return parseEndpoint(value)
  } catch (error) {
    if (!(error instanceof WidError)) throw error
    throw badInput(`spiffe-inspect: invalid ${source} "${value}": ${error.message} (expected ${ENDPOINT_FORMS})`)
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/**
 * The inspection as text. Every value came from the socket, so each one is shown through
 * printable(): a certificate's subject or a hint could carry terminal controls.
 */
function render(report: WorkloadApiInspection): string {
  const lines: string[] = [`Workload API: ${printable(report.endpoint)}`, '', 'X.509-SVIDs:']
  const field = (label: string, value: string) => lines.push(`    ${`${label}:`.padEnd(13)}${printable(value)}`)
  const problems = (list: string[]) => lines.push(...list.map((p) => `    - ${printable(p)}`))
  for (const svid of report.x509Svids) {
    lines.push(`  ${printable(svid.spiffeId ?? '(no SPIFFE ID)')}${svid.default ? ' (default)' : ''}`)
    if (svid.hint) field('Hint', svid.hint)
    field('Key type', svid.keyType)
    field('Not before', svid.notBefore)
    field('Not after', `${svid.notAfter} (${describeTimeLeft(svid.secondsLeft)})`)
    field('URI SANs', svid.uriSans.join(', '))
    if (svid.dnsSans.length) field('DNS SANs', svid.dnsSans.join(', '))
    if (svid.ipSans.length) field('IP SANs', svid.ipSans.join(', '))
    if (svid.chain.length) field('Intermediates', svid.chain.map((c) => c.subject).join('; '))
    field('Private key', svid.keyMatches ? 'matches' : 'DOES NOT MATCH')
    field('Chain', svid.bundle?.verified ? `verified against the bundle (${plural(svid.bundle.certificates, 'CA')})` : `NOT VERIFIED: ${svid.bundle?.error ?? 'no bundle'}`)
    problems(svid.problems.filter((p) => p !== svid.bundle?.error))
  }
  lines.push('Trust bundles:')
  for (const bundle of report.trustBundles) {
    lines.push(`  ${printable(bundle.trustDomain)}${bundle.federated ? ' (federated)' : ''}: ${plural(bundle.certificates.length, 'CA')}`)
    for (const ca of bundle.certificates) lines.push(`    ${printable(ca.subject || '(empty subject)')}, expires ${ca.notAfter} (${describeTimeLeft(ca.secondsLeft)})`)
    problems(bundle.problems)
  }
  lines.push(`JWT-SVIDs (audience ${printable(report.audience.join(', '))}):`)
  for (const jwt of report.jwtSvids) {
    lines.push(`  ${printable(jwt.spiffeId ?? '(no SPIFFE ID)')}${jwt.default ? ' (default)' : ''}`)
    if (jwt.hint) field('Hint', jwt.hint)
    field('Audience', jwt.audiences.join(', '))
    if (jwt.issuer !== undefined) field('Issuer', jwt.issuer)
    field('Expires', jwt.expiresAt ? `${jwt.expiresAt} (${describeTimeLeft(jwt.secondsLeft!)})` : '(never)')
    field('Signature', jwt.signatureVerified ? 'verified with the JWT bundle' : 'NOT VERIFIED')
    problems(jwt.problems)
  }
  lines.push('JWT bundles:')
  for (const bundle of report.jwtBundles) {
    lines.push(`  ${printable(bundle.trustDomain)}: ${bundle.keyIds.length ? `key ids ${printable(bundle.keyIds.join(', '))}` : 'no key ids'}`)
    problems(bundle.problems)
  }
  return lines.join('\n')
}

export default class SpiffeInspect extends WidCommand {
  static override description = `Connects to a SPIFFE Workload API endpoint (the bot agent's, a SPIRE agent's, or tbot's) as a workload would, and shows what it is given: each X.509-SVID (SPIFFE ID, hint, validity, SANs, key type, whether its chain verifies against its bundle), the trust bundles per trust domain, a JWT-SVID for --audience (whose signature is checked against the JWT bundle) and the JWT bundles' key ids. Like tbot spiffe-inspect.
The address is --path, else $${ENV}: unix:///ABSOLUTE/PATH or tcp://IP:PORT. A refusal prints the gRPC status (e.g. PermissionDenied: no identity issued) and exits non-zero: 5 when refused, 10 when the endpoint cannot be reached or does not answer within --timeout. Control characters in what the endpoint sends are shown escaped.`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> spiffe-inspect --path unix:///opt/machine-id/workload.sock',
    'SPIFFE_ENDPOINT_SOCKET=unix:///run/wid/workload.sock <%= config.bin %> spiffe-inspect --audience example.com',
    '<%= config.bin %> spiffe-inspect --path tcp://127.0.0.1:8081 --json --timeout 3s',
  ]
  static override flags = {
    audience: Flags.string({description: 'Fetch a JWT-SVID for this audience (repeatable).', multiple: true, multipleNonGreedy: true, default: ['example.com']}),
    path: Flags.string({description: `Address of the Workload API (default: $${ENV}).`, helpValue: 'unix:///PATH|tcp://IP:PORT'}),
    timeout: duration('How long to wait for each answer.', '10s'),
  }
  static override summary = 'Query a SPIFFE Workload API endpoint and show the SVIDs and bundles it serves.'

  async run() {
    const {flags} = await this.parse(SpiffeInspect)
    const endpoint = endpointFrom(flags.path)
    const timeoutMs = parseDuration(flags.timeout, '--timeout') * 1000
    if (flags.audience?.some((audience) => audience === '')) throw badInput('spiffe-inspect: --audience must not be empty')
    const {inspectWorkloadApi} = await import('../lib/workloadapi/inspect.js')
    const report = await inspectWorkloadApi(endpoint, {audience: flags.audience, timeoutMs, now: new Date()})
    this.log(render(report))
    return report
  }
}
