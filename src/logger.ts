import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/**
 * JSON logs on stdout. Credentials never reach a log line: the request serializer keeps only
 * method, path and request id, and these paths are redacted wherever they appear.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: undefined,
    redact: {
      paths: [
        'authorization',
        '*.authorization',
        'headers.authorization',
        '*.headers.authorization',
        'token',
        '*.token',
        'secret',
        '*.secret',
        'password',
        '*.password',
        'client_secret',
        '*.client_secret',
      ],
      censor: '[redacted]',
    },
  });
}
