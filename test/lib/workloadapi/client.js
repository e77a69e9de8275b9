// A workload for the attestation tests: connects to the unix socket named by argv[2], says
// "connected" on stdout, then stays until its stdin closes.
import {connect} from 'node:net'

const socket = connect(process.argv[2], () => process.stdout.write('connected\n'))
socket.on('error', (error) => {
  process.stderr.write(`client: ${error.message}\n`)
  process.exit(1)
})
process.stdin.on('end', () => process.exit(0)).resume()
