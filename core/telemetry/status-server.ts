import { chmodSync, closeSync, lstatSync, renameSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createConnection, createServer, type Server } from 'node:net';
import { isMainThread } from 'node:worker_threads';
import { VigilError } from '../errors/index.js';
import { PRIVATE_FILE_MODE, PRIVATE_UMASK, ensurePrivateParent, openPrivateFileSync, type PrivateFileLog } from '../private-files.js';
import { prometheusText } from './prometheus.js';

/** Anything that can report a status snapshot (the kernel). */
export interface StatusSource {
  status(): object;
}

/**
 * Serves the agent's status: a unix socket (mode 0600, readable only by the agent's user;
 * on Windows a named pipe) that answers one JSON snapshot per connection, an optional
 * metrics file rewritten atomically (0600), and an optional Prometheus endpoint bound to
 * loopback. The socket path must be free or hold a stale socket of the agent's user:
 * anything else there is refused and left as it is.
 */
export class StatusServer {
  private server: Server | undefined;
  private http: HttpServer | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: StatusSource,
    private readonly options: {
      socketPath: string;
      metricsFile?: string;
      metricsIntervalMs: number;
      prometheusPort: number;
      prometheusHost: string;
      /** Where a data path that had to be tightened is reported. */
      logger: PrivateFileLog;
    },
  ) {}

  async start(): Promise<void> {
    const path = this.options.socketPath;
    const unix = process.platform !== 'win32';
    if (unix) {
      const st = lstatSync(path, { throwIfNoEntry: false });
      if (st) await this.removeStaleSocket(path, st);
      else ensurePrivateParent(path);
    }
    const server = createServer((sock) => {
      sock.on('error', () => sock.destroy());
      sock.end(JSON.stringify(this.source.status()) + '\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (cause) => reject(new VigilError('VIGIL_ERR_STATUS_LISTEN', `cannot listen on ${path}`, { cause })));
      // listen() binds synchronously: under this umask the socket is born private, so no
      // other user can connect in the moment before the chmod below.
      withPrivateUmask(() => server.listen(path, () => resolve()));
    });
    if (unix) chmodSync(path, PRIVATE_FILE_MODE);
    this.server = server;
    if (this.options.metricsFile) {
      const file = this.options.metricsFile;
      const write = () => {
        writePrivateFile(file + '.tmp', JSON.stringify(this.source.status(), null, 1), this.options.logger);
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
      writePrivateFile(this.options.metricsFile, JSON.stringify(this.source.status(), null, 1), this.options.logger);
    }
    const served = this.server !== undefined;
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await new Promise<void>((r) => (this.http ? this.http.close(() => r()) : r()));
    this.server = undefined;
    this.http = undefined;
    // Closing the server unlinks its socket; whatever is at the path now is not ours to delete.
    if (served && process.platform !== 'win32') {
      const st = lstatSync(this.options.socketPath, { throwIfNoEntry: false });
      if (st?.isSocket() === true && st.uid === process.geteuid?.()) rmSync(this.options.socketPath, { force: true });
    }
  }

  /**
   * A socket left by an agent that died is removed; a live agent's socket, a socket of
   * another user and anything that is not a socket are refused (never deleted).
   */
  private async removeStaleSocket(path: string, st: Stats): Promise<void> {
    if (!st.isSocket()) {
      throw new VigilError(
        'VIGIL_ERR_STATUS_SOCKET_PATH',
        `status.socket_path ${path} is ${kindOf(st)}, not a socket; it was left as it is. Remove it yourself or set status.socket_path to a free path`,
        { details: { path, kind: kindOf(st) } },
      );
    }
    const euid = process.geteuid?.();
    if (euid !== undefined && st.uid !== euid) {
      throw new VigilError(
        'VIGIL_ERR_STATUS_SOCKET_PATH',
        `status.socket_path ${path} is a socket of uid ${st.uid}, not of the agent's uid ${euid}; it was left as it is. Set status.socket_path inside the agent's data_dir`,
        { details: { path, owner_uid: st.uid } },
      );
    }
    if (await socketAnswers(path)) {
      throw new VigilError('VIGIL_ERR_STATUS_LISTEN', `another agent is already serving status on ${path}`);
    }
    rmSync(path);
  }
}

function kindOf(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a folder';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a socket';
}

function writePrivateFile(file: string, text: string, logger: PrivateFileLog): void {
  const fd = openPrivateFileSync(file, 'w', logger);
  try {
    writeFileSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

function withPrivateUmask(fn: () => void): void {
  // Worker threads may not change the umask; the chmod right after listen() still applies.
  if (!isMainThread || process.platform === 'win32') return fn();
  const previous = process.umask(PRIVATE_UMASK);
  process.umask(previous | PRIVATE_UMASK);
  try {
    fn();
  } finally {
    process.umask(previous);
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
