import {WidError, type ErrorCode} from '../errors.js'

/** A refusal with the HTTP status it is answered with (others get their code's, see server.ts). */
export class HttpError extends WidError {
  readonly status: number
  constructor(status: number, code: ErrorCode, message: string) {
    super(code, message)
    this.status = status
  }
}
