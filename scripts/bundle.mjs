// Bundles the CLI (oclif, the commands and wid's own code) into dist/cli/wid.js, with
// wid's lazily imported modules split into chunks. One ESM file instead of hundreds of CommonJS files roughly
// halves oclif's start-up cost; see bench/run.js.
import {build} from 'esbuild'
import {readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join, relative, sep} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const commandsDir = join(root, 'src', 'commands')

function commandFiles(dir) {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) =>
    entry.isDirectory() ? commandFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  )
}

// oclif's "explicit" command discovery: one export that maps command ids to classes.
const commands = commandFiles(commandsDir).map((file, i) => ({
  id: relative(commandsDir, file).replace(/\.ts$/, '').split(sep).join(':'),
  name: `C${i}`,
  path: './' + relative(join(root, 'src'), file).split(sep).join('/').replace(/\.ts$/, '.js'),
}))
const entry = join(root, 'src', '.cli-entry.ts')
writeFileSync(
  entry,
  [
    "export {main} from './main.js'",
    ...commands.map((c) => `import ${c.name} from '${c.path}'`),
    `export const COMMANDS = {${commands.map((c) => `'${c.id}': ${c.name}`).join(', ')}}`,
    '',
  ].join('\n'),
)

try {
  rmSync(join(root, 'dist', 'cli'), {recursive: true, force: true})
  await build({
    entryPoints: {wid: entry},
    outdir: join(root, 'dist', 'cli'),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    // oclif resolves its plugins (and TypeScript, in development) from node_modules itself;
    // the libraries below are only ever imported lazily, so they stay out of the start-up
    // path anyway and Node loads them as their authors built them.
    external: [
      'typescript',
      '@oclif/plugin-help',
      '@oclif/plugin-autocomplete',
      '@peculiar/x509',
      'reflect-metadata',
      'jose',
      'yaml',
      'ajv',
      '@inquirer/prompts',
      'pino',
      'fast-xml-parser',
      '@grpc/grpc-js',
      'protobufjs',
      'koffi',
      'pg',
      'prom-client',
    ],
    banner: {js: "import {createRequire as __widRequire} from 'node:module'; const require = __widRequire(import.meta.url);"},
    chunkNames: 'chunks/[name]-[hash]',
    legalComments: 'none',
    logLevel: 'warning',
  })
} finally {
  rmSync(entry, {force: true})
}
