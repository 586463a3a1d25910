/**
 * The C test programs of the memory scanner (test/fixtures/*.c), compiled on demand with the
 * system C compiler into a temp folder, once per test process. Shared with the scanner's
 * end-to-end test, which runs `anon-exec`:
 *   anon-exec MARKER        anonymous RX and RWX regions holding MARKER at offset 64;
 *                           prints "ADDR 0x<rx>" then "RWX 0x<rwx>", waits for stdin to close
 *   patch-text              changes one byte of its own text; prints "ADDR 0x<byte>"
 *   memfd-exec MARKER       a memfd holding MARKER at 64, mapped r-x; prints "ADDR 0x<map>"
 *   deleted-exec MARKER P   the file P holding MARKER at 64, mapped r-x, deleted; prints "ADDR"
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The fixture sources (in the source tree: tsc does not copy .c files into dist/). */
export const FIXTURE_DIR = fileURLToPath(new URL('../../../../../../plugins/responders/scanner/linux/test/fixtures/', import.meta.url));

let compiler: string | null | undefined;
function findCompiler(): string | undefined {
  if (compiler === undefined) {
    compiler = null;
    for (const cc of ['cc', 'gcc', 'clang']) {
      if (spawnSync('sh', ['-c', `command -v ${cc}`], { stdio: 'ignore' }).status === 0) {
        compiler = cc;
        break;
      }
    }
  }
  return compiler ?? undefined;
}

const built = new Map<string, Promise<string | undefined>>();
let outDir: string | undefined;

/** Why the fixtures cannot be built here (no C compiler, not Linux), or undefined. */
export function fixturesUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the memory-scanner fixtures are Linux programs';
  if (!findCompiler()) return 'no C compiler (cc, gcc or clang) on PATH to build the test programs; apt-get install gcc';
  return undefined;
}

/**
 * Compile fixtures/<name>.c (name with or without `.c`) and return the executable's path;
 * undefined, with the reason printed, when there is no compiler. A compile error rejects.
 */
export function buildFixture(name: string): Promise<string | undefined> {
  const base = name.replace(/\.c$/, '');
  let p = built.get(base);
  if (!p) {
    p = (async () => {
      const why = fixturesUnavailable();
      if (why) {
        console.log(`# skipping memory-scanner fixture ${base}: ${why}`);
        return undefined;
      }
      const src = join(FIXTURE_DIR, `${base}.c`);
      if (!existsSync(src)) throw new Error(`no fixture source ${src}`);
      if (outDir === undefined) {
        const dir = mkdtempSync(join(tmpdir(), 'vigil-memscan-fixtures-'));
        outDir = dir;
        // The binaries live as long as the test process that built them.
        process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      }
      const out = join(outDir, base);
      await new Promise<void>((resolve, reject) => {
        execFile(findCompiler()!, ['-O1', '-Wall', '-o', out, src], { timeout: 60_000 }, (err, _stdout, stderr) =>
          err ? reject(new Error(`compiling ${src} failed: ${stderr || String(err)}`)) : resolve(),
        );
      });
      return out;
    })();
    built.set(base, p);
  }
  return p;
}
