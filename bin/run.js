#!/usr/bin/env node
import module from 'node:module'

const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 13)) {
  // An older system Node (18, 20): run again under the Node that `npm ci` installed beside wid
  // (the optional dependency node-<platform>-<arch>). This file must parse on those old Nodes.
  const {runUnderPinnedNode} = await import('./pinned-node.js')
  await runUnderPinnedNode()
} else {
  // `wid --version` answers without loading oclif (the same line oclif would print): scripts
  // call it to probe the install, and it should cost little more than starting Node.
  if (process.argv[2] === '--version') {
    const {readFileSync} = await import('node:fs')
    const {name, version} = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    process.stdout.write(`${name}/${version} ${process.platform}-${process.arch} node-${process.version}\n`)
    process.exit(0)
  }

  // The bot agent's daemon lives long and mostly waits: V8's lite mode (no optimising
  // compiler, no WebAssembly, which none of its code uses) keeps it ~30 MiB smaller, for one
  // more start of Node; execve keeps the process id, for systemd and for signals. --oneshot
  // runs as it is.
  const [topic, command] = process.argv.slice(2)
  if (topic === 'bot' && command === 'start' && !process.argv.includes('--oneshot') && !process.execArgv.includes('--lite-mode') && process.execve) {
    process.execve(process.execPath, [process.execPath, '--lite-mode', ...process.execArgv, ...process.argv.slice(1)])
  }

  module.enableCompileCache?.()

  const {main} = await import('../dist/cli/wid.js')
  await main(process.argv.slice(2), import.meta.url)
}
