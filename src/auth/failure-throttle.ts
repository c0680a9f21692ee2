// Slows credential guessing: after too many failed authentications from one address, refuse to check more.
import type { RequestHandler } from 'express'
import { TooManyFailures } from '../jsonapi/errors'
import { authenticationFailures, rateLimitRefusals } from '../http/metrics'

export interface FailureThrottleOptions {
  limit: number
  periodSeconds: number
  now: () => Date
}

interface Window {
  startedAt: number
  failures: number
}

/**
 * Counts in this process's memory, per client address: cheap enough to consult before every
 * credential check. With several processes an address gets `limit` failures in each.
 */
export class FailureThrottle {
  private readonly windows = new Map<string, Window>()

  constructor(private readonly options: FailureThrottleOptions) {}

  private current(address: string): Window | undefined {
    const window = this.windows.get(address)
    if (window && this.options.now().getTime() - window.startedAt >= this.options.periodSeconds * 1000) {
      this.windows.delete(address)
      return undefined
    }
    return window
  }

  /** Throws when the address has used up its failures for this window. */
  check(address: string): void {
    const window = this.current(address)
    if (window && window.failures >= this.options.limit) {
      const left = window.startedAt + this.options.periodSeconds * 1000 - this.options.now().getTime()
      rateLimitRefusals.inc({ limit: 'failed_authentications' })
      throw new TooManyFailures(this.options.limit, this.options.periodSeconds, Math.max(1, Math.ceil(left / 1000)), window.failures)
    }
  }

  recordFailure(address: string): void {
    authenticationFailures.inc()
    const window = this.current(address) ?? { startedAt: this.options.now().getTime(), failures: 0 }
    window.failures += 1
    this.windows.set(address, window)
    if (this.windows.size > 100_000) this.sweep()
  }

  private sweep(): void {
    for (const address of this.windows.keys()) this.current(address)
  }

  /** Middleware that answers 429 before any credential is looked at, for an address over its limit. */
  guard(): RequestHandler {
    return (req, _res, next) => {
      this.check(clientAddress(req))
      next()
    }
  }
}

export function clientAddress(req: { socket: { remoteAddress?: string | undefined } }): string {
  return req.socket.remoteAddress ?? 'unknown'
}
