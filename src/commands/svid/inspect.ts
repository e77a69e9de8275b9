import {Args, Flags} from '@oclif/core'
import {WidCommand} from '../../base-command.js'
import {describeTimeLeft} from '../../lib/duration.js'
import {badInput, WidError} from '../../lib/errors.js'
import {printable} from '../../lib/output/printable.js'
import {parseInstant} from '../../lib/time.js'
import type {SvidInspection} from '../../lib/svid/inspect-path.js'
import {paint} from '../../style.js'

/**
 * The report as text. Every value and problem is shown through printable(): certificates and
 * tokens are anyone's data, and their control characters (an OSC title, a screen clear) must
 * not reach the terminal. The status word is painted after that, so its colour survives.
 */
function render(report: SvidInspection): string {
  const rows: [string, string][] = []
  const x = report.x509
  if (x) {
    rows.push(
      ['SPIFFE ID', x.spiffeId ?? '(none)'],
      ['Serial', x.serial],
      ['Key type', x.keyType],
      ['Subject', x.subject || '(empty)'],
      ['Issuer', x.issuer],
    )
    if (x.dnsSans.length) rows.push(['DNS SANs', x.dnsSans.join(', ')])
    if (x.ipSans.length) rows.push(['IP SANs', x.ipSans.join(', ')])
    rows.push(['Not before', x.notBefore], ['Not after', `${x.notAfter} (${describeTimeLeft(x.secondsLeft)})`])
    if (x.chain.length) rows.push(['Intermediates', x.chain.map((c) => c.subject).join('; ')])
    rows.push(['Private key', x.keyMatches === undefined ? 'not found' : x.keyMatches ? `matches (${report.keyFile})` : 'DOES NOT MATCH'])
    rows.push([
      'Bundle',
      x.bundle === undefined
        ? 'none (chain not checked)'
        : `${report.bundleFile} (${x.bundle.certificates} CA): ${x.bundle.verified ? 'chain verified' : `NOT VERIFIED: ${x.bundle.error}`}`,
    ])
  }
  const j = report.jwt
  if (j) {
    rows.push(
      ['JWT-SVID', j.file],
      ['  subject', j.spiffeId ?? '(invalid)'],
      ['  audience', j.audiences.join(', ')],
      ['  issuer', j.issuer ?? '(none)'],
      ['  expires', j.expiresAt ? `${j.expiresAt} (${describeTimeLeft(j.secondsLeft!)})` : '(never)'],
      ['  signature', 'not checked (verify against the issuer JWKS: wid auth export --type jwks)'],
    )
  }
  const problems = [...(x?.problems ?? []), ...(j?.problems ?? [])]
  const status = report.valid ? paint('green', 'valid', process.stdout) : paint('red', 'INVALID', process.stdout)
  const width = Math.max('Status'.length, ...rows.map(([k]) => k.length)) + 2
  return [...rows.map(([k, v]) => `${k}:`.padEnd(width) + printable(v)), `${'Status:'.padEnd(width)}${status}`, ...problems.map((p) => `  - ${printable(p)}`)].join('\n')
}

export default class SvidInspect extends WidCommand {
  static override args = {
    path: Args.string({ignoreStdin: true, description: 'An SVID directory written by wid svid issue, or a certificate PEM file.', required: true}),
  }
  static override description = `Shows the SPIFFE ID, serial, key type, SANs, issuer and validity (with time left) of an X.509-SVID, whether its private key matches, and whether it validates against the bundle under the X509-SVID rules (svid_bundle.pem beside it by default). A jwt_svid in the directory is decoded too. Control characters in the certificates or the token are shown escaped (\x1b), never sent to the terminal.
Exits with status 7 and the reasons when the SVID is invalid or its chain cannot be verified (no bundle), so scripts can use it as a check; --no-bundle checks the SVID alone.
Reads regular files only, of at most 1 MiB (4 MiB for a bundle): a FIFO, device or directory is refused at once (status 2). --bundle may also be a pipe, such as <(wid auth export --type tls-spiffe), whose writer must finish within 10 s.`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> svid inspect ./svid',
    '<%= config.bin %> svid inspect ./svid/svid.pem --bundle <(<%= config.bin %> auth export --type tls-spiffe)',
    '<%= config.bin %> svid inspect ./svid --at 2026-12-01T00:00:00Z',
    '<%= config.bin %> svid inspect leaf.pem --no-bundle',
  ]
  static override flags = {
    at: Flags.string({description: 'Check validity at this time (ISO 8601) instead of now.'}),
    bundle: Flags.string({description: 'PEM file (or pipe) of the trusted CA certificates (default: svid_bundle.pem beside the SVID).', exclusive: ['no-bundle']}),
    'no-bundle': Flags.boolean({description: "Check the SVID alone (go-spiffe's parse rules and validity), without verifying its chain."}),
  }
  static override summary = 'Show and validate SVID files.'

  async run() {
    const {args, flags} = await this.parse(SvidInspect)
    const now = flags.at === undefined ? new Date() : parseInstant(flags.at, '--at')
    if (flags.bundle === '') throw badInput('--bundle must not be empty')
    const {inspectSvidPath} = await import('../../lib/svid/inspect-path.js')
    const report = await inspectSvidPath(args.path, {bundle: flags.bundle, noBundle: flags['no-bundle'], now})
    this.log(render(report))
    if (!report.valid) {
      const problems = [...(report.x509?.problems ?? []), ...(report.jwt?.problems ?? [])]
      const error = new WidError('invalid_svid', `svid: ${args.path} is not valid: ${problems.join('; ')}`)
      if (this.jsonEnabled()) {
        this.logJson({...report, error: {code: error.code, message: error.message}})
        this.parsed = true
        process.exitCode = 7
        process.stderr.write(`${paint('red', `Error: ${printable(error.message)}`)}\n`)
        return
      }
      throw error
    }
    return report
  }
}
