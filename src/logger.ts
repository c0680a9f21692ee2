// The process's logger: JSON lines for machines, or pino-pretty's readable lines on a terminal.
import pino, { type Logger } from 'pino'
import pretty from 'pino-pretty'
import type { Config } from './config'

/** `pretty` when stdout is a terminal and LOG_FORMAT does not say otherwise. */
export function logFormatOf(config: Pick<Config, 'logFormat'>, stdout: { isTTY?: boolean } = process.stdout): 'pretty' | 'json' {
  return config.logFormat ?? (stdout.isTTY ? 'pretty' : 'json')
}

export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>): Logger {
  const options = { level: config.logLevel, base: null }
  if (logFormatOf(config) === 'json') return pino(options)
  // Synchronous and in this thread: a crash never loses the last lines to a worker's buffer.
  return pino(options, pretty({ sync: true, colorize: process.stdout.isTTY === true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' }))
}
