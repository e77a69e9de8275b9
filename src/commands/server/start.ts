import {Flags} from '@oclif/core'
import {WidCommand} from '../../base-command.js'

export default class ServerStart extends WidCommand {
  static override description = `Serves the cluster over HTTPS (TLS 1.2+):
- public endpoints, without a client certificate: /workload-identity/.well-known/openid-configuration and /workload-identity/jwt-jwks.json (what AWS STS fetches), /.well-known/openid-configuration and /.well-known/jwks-oidc (the aws-oidc integration issuer and its keys), /webapi/spiffe/bundle.json, /webapi/thumbprint, /webapi/find, /healthz, /readyz;
- POST /v1/login (password or invite) and the cluster API under /v1/, which requires a client certificate from wid login and applies the same access rules as local mode; every body is checked against schemas/api/<method>.json (400 naming the field).
Settings come from -c wid.yaml (schemas/server-config.json) with flags on top. Without --tls-cert/--tls-key the cluster's host CA issues the certificate (clients pin that CA). With storage type postgresql, a database that does not answer yet (down, starting) is waited for: a JSON warning per attempt, retried after 0.5–1 s, doubling up to 5–10 s; errors a retry cannot mend (a refused login, no such database) end the start. /readyz answers 503 while the store does not answer. Logs are JSON lines on stdout; SIGTERM or SIGINT stops accepting connections and finishes the requests in flight (sent again meanwhile, it changes nothing; sent while waiting for the database, it ends the wait with status 0; SIGKILL stops at once, and every issuance already answered is in the audit log). Local-mode commands may use the same data directory while it runs.
--diag-addr HOST:PORT (or diag_addr in wid.yaml) serves, on plain HTTP on that address only (never on the HTTPS listener), /healthz, /readyz (503 while the store does not answer) and /metrics in Prometheus text format: requests by route and status code with latency histograms (wid_server_requests_total, wid_server_request_duration_seconds), SVIDs issued by type, logins and bot joins by result (ok, failed, locked, error), read-cache hits and misses, store write latency, trust watches waiting, requests in flight, and the process' CPU, memory, open file descriptors and event-loop lag (process_*, nodejs_*). It has no authentication: bind it to 127.0.0.1 or a private address. Port 0 takes a free port, named in the line the server prints.`
  static override examples = [
    '<%= config.bin %> server start --listen 0.0.0.0:3443 --public-addr https://wid.example.org',
    '<%= config.bin %> server start -c /etc/wid/wid.yaml',
    '<%= config.bin %> server start -c /etc/wid/wid.yaml --diag-addr 127.0.0.1:9090',
  ]
  static override flags = {
    config: Flags.string({char: 'c', description: 'YAML configuration file (listen, public_addr, data_dir, storage.type sqlite|postgresql with storage.conn_string, tls.cert_file, tls.key_file, join.ca_file, log.level, diag_addr).'}),
    'data-dir': Flags.string({description: 'Where the cluster lives (default: $WID_HOME or ~/.wid).'}),
    'diag-addr': Flags.string({description: 'HOST:PORT to serve /healthz, /readyz and /metrics (Prometheus) on, over plain HTTP (e.g. 127.0.0.1:9090).', helpValue: '<host:port>'}),
    listen: Flags.string({description: 'HOST:PORT to listen on (default 0.0.0.0:3443).'}),
    'public-addr': Flags.string({description: 'https:// address clients and AWS reach the server at; becomes the JWT issuer base.'}),
    'tls-cert': Flags.string({description: 'PEM certificate chain to serve instead of a host-CA certificate.', dependsOn: ['tls-key']}),
    'tls-key': Flags.string({description: 'PEM private key of --tls-cert.', dependsOn: ['tls-cert']}),
  }
  static override summary = 'Run the cluster as an HTTPS server.'

  async run(): Promise<void> {
    const {flags} = await this.parse(ServerStart)
    const {serverSettings} = await import('../../lib/server/config.js')
    const {runServer} = await import('../../lib/server/run.js')
    const settings = await serverSettings({
      config: flags.config,
      listen: flags.listen,
      publicAddr: flags['public-addr'],
      dataDir: flags['data-dir'],
      tlsCert: flags['tls-cert'],
      tlsKey: flags['tls-key'],
      diagAddr: flags['diag-addr'],
    })
    // Every SIGTERM or SIGINT is handled, from the start: one that comes while the server
    // waits for its database ends the wait (status 0); one repeated while stopping (as when
    // Ctrl-C reaches both wid and the Node it re-runs itself under) is logged and must not kill the process.
    const waiting = new AbortController()
    let stop = (signal: NodeJS.Signals) => waiting.abort(signal)
    const onSignal = (signal: NodeJS.Signals) => stop(signal)
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    const server = await runServer(settings, this.config.version, {
      signal: waiting.signal,
      publicAddrChanged: (previous, current) =>
        this.warning(`the public address changed from ${previous} to ${current}: JWT-SVIDs now name ${current}/workload-identity as their issuer (update AWS OIDC providers and trust policies that name the old one)`),
    })
    if (!server) return
    const diag = server.diagAddr === undefined ? '' : `, diagnostics on http://${server.diagAddr}`
    this.success(`✔ wid server for ${server.publicAddr} listening on ${settings.host}:${server.port}${diag} (data in ${server.storage}); wid login --ca-pin ${server.loginPin}`)
    await new Promise<void>((resolve) => {
      stop = (signal) => void server.close(signal).then(resolve)
      // a signal that came while the server was starting, after the store answered
      if (waiting.signal.aborted) stop(waiting.signal.reason as NodeJS.Signals)
    })
  }
}
