import {WidError} from '../errors.js'

export interface PemBlock {
  label: string
  der: Uint8Array
}

export function encodePem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64')
  let body = ''
  for (let i = 0; i < base64.length; i += 64) body += base64.slice(i, i + 64) + '\n'
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g

/** Every PEM block in `text`, in order. Text between blocks is ignored, as openssl does. */
export function decodePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = []
  for (const match of text.matchAll(BLOCK)) {
    const body = match[2]!.replace(/\s+/g, '')
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new WidError('bad_input', `pem: ${match[1]} block is not valid base64`)
    blocks.push({label: match[1]!, der: new Uint8Array(Buffer.from(body, 'base64'))})
  }
  return blocks
}
