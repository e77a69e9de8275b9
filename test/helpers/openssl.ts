/** openssl as an independent peer: it parses and verifies what wid writes. */
import {execFileSync} from 'node:child_process'

export function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, {input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe']})
}

export function certificateText(pemPath: string): string {
  return openssl(['x509', '-in', pemPath, '-noout', '-text'])
}

export function certificateDates(pemPath: string): {notBefore: Date; notAfter: Date} {
  const out = openssl(['x509', '-in', pemPath, '-noout', '-dates'])
  const get = (name: string) => new Date(/^(?:notBefore|notAfter)=(.*)$/m.exec(out.split('\n').find((l) => l.startsWith(name))!)![1]!)
  return {notBefore: get('notBefore'), notAfter: get('notAfter')}
}
