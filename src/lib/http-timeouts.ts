/**
 * The timeouts of http-client.ts, apart from it: code that only tells them from other errors
 * (failover.ts, loaded by every local command through the login profiles) must not load
 * node:http, whose ESM import alone costs about 20 ms of start-up (it builds Node's fetch).
 */

/** The deadline passed with no whole answer. */
export class HttpTimeout extends Error {}

/** The connection was not made within connectTimeoutMs. */
export class ConnectTimeout extends HttpTimeout {}
