/** openssl as an independent peer: it parses and verifies what wid writes. */
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

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

/**
 * A chain as public CAs issue them, made by openssl in `dir`: root.pem (kept apart),
 * int.pem, leaf.pem/leaf.key for 127.0.0.1 (and `dnsName`), and chain.pem = leaf + int.
 */
export function makeChain(dir: string, dnsName?: string): {chain: string; leafKey: string; intermediate: string} {
  mkdirSync(dir, {recursive: true})
  const run = (args: string[]) => execFileSync('openssl', args, {cwd: dir, stdio: 'pipe'})
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  run(['req', '-x509', ...ec, '-keyout', 'root.key', '-out', 'root.pem', '-subj', '/CN=root', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'])
  run(['req', ...ec, '-keyout', 'int.key', '-out', 'int.csr', '-subj', '/CN=intermediate'])
  writeFileSync(join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n')
  run(['x509', '-req', '-in', 'int.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-out', 'int.pem', '-days', '2', '-extfile', 'ca.ext'])
  run(['req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${dnsName ?? '127.0.0.1'}`])
  writeFileSync(join(dir, 'leaf.ext'), `subjectAltName=${dnsName ? `DNS:${dnsName},` : ''}IP:127.0.0.1\n`)
  run(['x509', '-req', '-in', 'leaf.csr', '-CA', 'int.pem', '-CAkey', 'int.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '2', '-extfile', 'leaf.ext'])
  writeFileSync(join(dir, 'chain.pem'), readFileSync(join(dir, 'leaf.pem'), 'utf8') + readFileSync(join(dir, 'int.pem'), 'utf8'))
  return {chain: join(dir, 'chain.pem'), leafKey: join(dir, 'leaf.key'), intermediate: join(dir, 'int.pem')}
}
