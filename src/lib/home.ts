/** Where wid keeps its state: `$WID_HOME`, else `~/.wid`. */
import {homedir} from 'node:os'
import {isAbsolute, join, resolve} from 'node:path'

export function widHome(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.WID_HOME?.trim()
  if (configured) return isAbsolute(configured) ? configured : resolve(configured)
  return join(homedir(), '.wid')
}

export function databasePath(home: string): string {
  return join(home, 'wid.db')
}
