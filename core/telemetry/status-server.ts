import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createConnection, createServer, type Server } from 'node:net';
import { dirname } from 'node:path';
import { VigilError } from '../errors/index.js';
import { prometheusText } from './prometheus.js';

/** Anything that can report a status snapshot (the kernel). */
export interface StatusSource {
  status(): object;
}

/**
 * Serves the agent's status: a unix socket (mode 0600, readable only by the agent's user;
 * on Windows a named pipe) that answers one JSON snapshot per connection, an optional
 * metrics file rewritten atomically, and an optional Prometheus endpoint bound to loopback.
 */
export class StatusServer {
  private server: Server | undefined;
  private http: HttpServer | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: StatusSource,
    private readonly options: { socketPath: string; metricsFile?: string; metricsIntervalMs: number; prometheusPort: number; prometheusHost: string },
  ) {}

  async start(): Promise<void> {
    const path = this.options.socketPath;
    if (process.platform !== 'win32') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      if (existsSync(path)) {
        if (await socketAnswers(path)) {
          throw new VigilError('VIGIL_ERR_STATUS_LISTEN', `another agent is already serving status on ${path}`);
        }
        rmSync(path, { force: true });
      }
    }
    const server = createServer((sock) => {
      sock.on('error', () => sock.destroy());
      sock.end(JSON.stringify(this.source.status()) + '\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (cause) => reject(new VigilError('VIGIL_ERR_STATUS_LISTEN', `cannot listen on ${path}`, { cause })));
      server.listen(path, () => resolve());
    });
    if (process.platform !== 'win32') chmodSync(path, 0o600);
    this.server = server;
    if (this.options.metricsFile) {
      const file = this.options.metricsFile;
      mkdirSync(dirname(file), { recursive: true });
      const write = () => {
        writeFileSync(file + '.tmp', JSON.stringify(this.source.status(), null, 1), { mode: 0o600 });
        renameSync(file + '.tmp', file);
      };
      write();
      this.timer = setInterval(write, this.options.metricsIntervalMs);
      this.timer.unref();
    }
    if (this.options.prometheusPort > 0) {
      const http = createHttpServer((req, res) => {
        if (req.url !== '/metrics') {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(prometheusText(this.source.status() as Parameters<typeof prometheusText>[0]));
      });
      await new Promise<void>((resolve, reject) => {
        http.once('error', (cause) => reject(new VigilError('VIGIL_ERR_STATUS_LISTEN', `cannot listen on ${this.options.prometheusHost}:${this.options.prometheusPort}`, { cause })));
        http.listen(this.options.prometheusPort, this.options.prometheusHost, () => resolve());
      });
      this.http = http;
    }
  }

  /** Write the metrics file one last time and close everything. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.options.metricsFile && this.server) {
      writeFileSync(this.options.metricsFile, JSON.stringify(this.source.status(), null, 1), { mode: 0o600 });
    }
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await new Promise<void>((r) => (this.http ? this.http.close(() => r()) : r()));
    this.server = undefined;
    this.http = undefined;
    if (process.platform !== 'win32') rmSync(this.options.socketPath, { force: true });
  }
}

/** The default socket (or named pipe) path for a data dir. */
export function statusSocketPath(dataDir: string, configured: string): string {
  if (configured) return configured;
  if (process.platform === 'win32') return '\\\\.\\pipe\\vigil-status';
  return `${dataDir}/vigil.sock`;
}

/** Ask a running agent for its status. */
export async function queryStatus(socketPath: string, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new VigilError('VIGIL_ERR_STATUS_UNAVAILABLE', `no answer from ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (d) => (buf += d));
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf));
      } catch (cause) {
        reject(new VigilError('VIGIL_ERR_STATUS_UNAVAILABLE', `garbled status from ${socketPath}`, { cause }));
      }
    });
    sock.on('error', (cause) => {
      clearTimeout(timer);
      reject(new VigilError('VIGIL_ERR_STATUS_UNAVAILABLE', `no agent is serving status on ${socketPath}`, { cause }));
    });
  });
}

async function socketAnswers(path: string): Promise<boolean> {
  try {
    await queryStatus(path, 500);
    return true;
  } catch (err) {
    if (err instanceof VigilError) return false;
    throw err;
  }
}
