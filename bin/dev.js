#!/usr/bin/env node
// Development entry: recompiles src/ (incrementally) and runs the CLI without the oclif
// manifest, so new or changed commands are picked up without `npm run build`.
import {execFileSync} from 'node:child_process'
import module from 'node:module'
import {fileURLToPath} from 'node:url'

module.enableCompileCache?.()
const root = fileURLToPath(new URL('..', import.meta.url))
const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url))
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo'], {cwd: root, stdio: 'inherit'})
const {main} = await import('../dist/main.js')
await main(process.argv.slice(2), root, {development: true})
