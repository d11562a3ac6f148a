import http from 'node:http'
import https from 'node:https'

/** A pair of keep-alive agents an HTTP channel reuses connections through, closed with the channel. */
export interface KeepAliveAgents {
  readonly http: http.Agent
  readonly https: https.Agent
  destroy(): void
}

/** New keep-alive agents for one channel. */
export function keepAliveAgents(): KeepAliveAgents {
  const agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
  }
  return {
    ...agents,
    destroy() {
      agents.http.destroy()
      agents.https.destroy()
    },
  }
}
