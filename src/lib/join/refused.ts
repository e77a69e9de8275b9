/** A join refused for what it presented: what the audit log records, with what decided it. */
import {WidError} from '../errors.js'

/** What a refusal adds to its audit event: the method, the token resource, the claims that decided (never the token). */
export interface RefusalDetails {
  method?: string
  token?: string
  claims?: Record<string, string | boolean>
}

/**
 * A join refused after its token was looked up or checked (unknown, expired, not a bot's, its
 * bot removed, an ID token that does not pass): what the audit log records, as it records
 * failed logins. These are throttled per address, so a flood cannot fill the log.
 */
export class JoinRefused extends WidError {
  readonly details: RefusalDetails

  constructor(message: string, details: RefusalDetails = {}) {
    super('access_denied', message)
    this.details = details
  }
}
