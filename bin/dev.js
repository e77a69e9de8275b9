#!/usr/bin/env node
// Development entry: re-bundles src/ (esbuild strips the types; run `npm run lint` for type
// errors) and runs the CLI without the oclif manifest, so changed commands are picked up
// without `npm run build`.
import {execFileSync} from 'node:child_process'
import module from 'node:module'
import {fileURLToPath} from 'node:url'

module.enableCompileCache?.()
const root = fileURLToPath(new URL('..', import.meta.url))
execFileSync(process.execPath, ['scripts/bundle.mjs'], {cwd: root, stdio: 'inherit'})
const {main} = await import('../dist/cli/wid.js')
await main(process.argv.slice(2), root, {development: true})
