// Compiles every JSON Schema in schemas/ (the shared ones aside) into a standalone Ajv
// validator module in dist/validators/, with the options src/lib/resources/schema.ts uses,
// so that the CLI loads a validator instead of Ajv and compiling (about 160 ms and 13 MiB
// for the bot agent's configuration alone). Run by `npm run build` after tsc.
import {Ajv} from 'ajv'
import standaloneCode from 'ajv/dist/standalone/index.js'
import {mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const {AJV_OPTIONS, SHARED_SCHEMAS} = await import('../dist/lib/resources/schema.js')
const schemas = join(root, 'schemas')
const out = join(root, 'dist', 'validators')
const read = (path) => JSON.parse(readFileSync(path, 'utf8'))

function schemaFiles(dir) {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) =>
    entry.isDirectory() ? schemaFiles(join(dir, entry.name)) : entry.name.endsWith('.json') ? [join(dir, entry.name)] : [],
  )
}

const ajv = new Ajv({...AJV_OPTIONS, schemas: SHARED_SCHEMAS.map((name) => read(join(schemas, name))), code: {source: true, esm: true}})
const standalone = standaloneCode.default ?? standaloneCode
let count = 0
for (const file of schemaFiles(schemas)) {
  const id = relative(schemas, file).replace(/\.json$/, '')
  if (SHARED_SCHEMAS.includes(`${id}.json`)) continue
  // The generated ESM still requires Ajv's small runtime helpers (e.g. ucs2length) by name.
  const code = standalone(ajv, ajv.compile(read(file))).replace(/\brequire\(/g, '__require(')
  const target = join(out, `${id}.js`)
  mkdirSync(dirname(target), {recursive: true})
  writeFileSync(target, `import {createRequire} from 'node:module';const __require = createRequire(import.meta.url);\n${code}\n`)
  count++
}
// What schema.ts looks for to know the validators are there.
writeFileSync(join(out, 'compiled.json'), '{}\n')
console.log(`compiled ${count} schemas into ${relative(root, out)}/`)
