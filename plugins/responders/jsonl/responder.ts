import { type Detection, errorKind, type ResponderContext, type ResponderInstance } from '../../../core/index.js';
import type { JsonlConfig } from './config.js';
import { RotatingFile } from './rotating-file.js';


/** JSON of one detection on one line; bigints (e.g. from raw source fields) become strings. */
export function detectionLine(d: Detection): string {
  return JSON.stringify(d, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)) + '\n';
}

type State = 'created' | 'running' | 'stopped';

/** Writes one detection per line to a size-rotated JSONL file. */
export class JsonlResponder implements ResponderInstance {
  private readonly config: JsonlConfig;
  /** Absolute output path (a relative config path is resolved by the core: against the config file's folder). */
  readonly path: string;
  private state: State = 'created';
  private file: RotatingFile | undefined;

  constructor(private readonly ctx: ResponderContext<JsonlConfig>) {
    this.config = ctx.config; // validated, with defaults, and frozen by the core
    this.path = ctx.resolvePath(this.config.path);
  }

  async start(): Promise<void> {
    if (this.state !== 'created') return;
    const { counters, logger } = this.ctx;
    const file = new RotatingFile(this.path, this.config.max_file_bytes, this.config.max_files, {
      written: (n) => {
        counters.emitted += n;
      },
      lost: (n, stage, err) => {
        counters.error('send', `${stage}:${errorKind(err)}`);
        counters.discard(stage === 'closed' ? 'plugin_not_running' : `${stage}_error`, n);
        logger.warn({ path: this.path, stage, err: errorKind(err), lines: n }, 'jsonl output lost detections');
      },
      error: (stage, err) => {
        counters.error(stage === 'close' ? 'stop' : 'send', `${stage}:${errorKind(err)}`);
        logger.warn({ path: this.path, stage, err: errorKind(err) }, 'jsonl output failure');
      },
      rotated: () => {
        counters.add('rotations');
      },
    }, this.ctx.files);
    try {
      await file.open();
    } catch (err) {
      counters.error('start', errorKind(err));
      throw new Error(
        `jsonl responder: cannot open output file ${this.path} (${errorKind(err)}); check config.path and permissions`,
        { cause: err },
      );
    }
    this.ctx.defer(() => file.close());
    this.file = file;
    this.state = 'running';
  }

  onDetections(batch: readonly Detection[]): Promise<void> | void {
    const { counters } = this.ctx;
    const file = this.file;
    if (this.state !== 'running' || !file) {
      counters.discard('plugin_not_running', batch.length);
      return;
    }
    const lines: string[] = [];
    for (const d of batch) {
      try {
        lines.push(detectionLine(d));
      } catch (err) {
        counters.error('process', `serialize:${errorKind(err)}`);
        counters.discard('unserializable', 1);
      }
    }
    return file.append(lines);
  }

  async flush(): Promise<void> {
    await this.file?.flush();
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }
}
