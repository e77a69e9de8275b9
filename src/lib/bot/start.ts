/** What `wid bot start` does once its flags are parsed: the configuration, the log, and the agent. */
import {widHome} from '../home.js'
import {Agent} from './agent.js'
import {configFromFlags, loadBotConfig, mergeFlags, type BotConfig, type BotFlags} from './config.js'
import {createLogger, type LogFormat} from './log.js'

export interface StartOptions {
  flags: BotFlags
  configPath?: string
  local?: {bot: string}
  logFormat: LogFormat
}

async function readConfig(options: StartOptions): Promise<BotConfig> {
  return options.configPath === undefined ? configFromFlags(options.flags) : mergeFlags(await loadBotConfig(options.configPath), options.flags)
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
