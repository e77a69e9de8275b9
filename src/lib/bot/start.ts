/** What `wid bot start` does once its flags are parsed: the configuration, the log, and the agent. */
import {widHome} from '../home.js'
import {Agent} from './agent.js'
import type {BotConfig} from './config.js'
import {resolveBotConfig, type BotFlags} from './config-flags.js'
import {createLogger, type LogFormat} from './log.js'

export interface StartOptions {
  flags: BotFlags
  configPath?: string
  local?: {bot: string}
  logFormat: LogFormat
}

async function readConfig(options: StartOptions): Promise<BotConfig> {
  return resolveBotConfig({...options.flags, ...(options.configPath === undefined ? {} : {config: options.configPath})})
}

export async function startAgent(options: StartOptions): Promise<void> {
  const config = await readConfig(options)
  const logger = createLogger({format: options.logFormat, debug: config.debug})
  const agent = new Agent({
    config,
    ...(options.configPath === undefined ? {} : {reload: () => readConfig(options)}),
    ...(options.local ? {local: {home: widHome(), bot: options.local.bot}} : {}),
    logger,
  })
  if (config.oneshot) {
    await agent.runOnce()
    return
  }
  await agent.run()
}
