// `auth-sessions/server`: the web console and the connect links.

export type { ConnectLink, ConnectLinkOptions, ConnectTarget } from './connect/index.js';
export {
  type ConsoleListenOptions,
  type ConsoleOptions,
  createConsole,
  type ListeningConsole,
  MAX_BODY_BYTES,
  type WebConsole,
} from './console.js';
