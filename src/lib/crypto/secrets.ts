/** How secrets (join tokens, invites) are stored: the hex SHA-256 of the secret, never the secret. */
import {createHash} from 'node:crypto'

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex')
