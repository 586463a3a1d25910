/**
 * A fake proc tree in a temp folder: /stat with btime plus <pid>/{stat,cmdline,status,exe,cwd}.
 * Files are written via rename so the polling sensor never sees a half-written stat.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const FAKE_BTIME = 1700000000;

export interface FakeProc {
  pid: number;
  comm: string;
  ppid: number;
  startTicks: number;
  state?: string;
  flags?: number;
  /** Target of the exe link; absent = no link (unreadable). */
  exe?: string;
  cwd?: string;
  /** Arguments; written NUL-separated. */
  argv?: readonly string[];
  uid?: number;
}

export function statText(p: FakeProc): string {
  const flags = p.flags ?? 4194304;
  return `${p.pid} (${p.comm}) ${p.state ?? 'S'} ${p.ppid} ${p.pid} ${p.pid} 0 -1 ${flags} 10 0 0 0 0 0 0 0 20 0 1 0 ${p.startTicks} 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`;
}

export class FakeProcTree {
  readonly root = mkdtempSync(join(tmpdir(), 'vigil-fake-proc-'));
  private seq = 0;

  constructor(btime = FAKE_BTIME) {
    writeFileSync(join(this.root, 'stat'), `cpu  1 2 3 4\nbtime ${btime}\nprocesses 42\n`);
    // Non-numeric entries must be ignored.
    mkdirSync(join(this.root, 'self'));
    mkdirSync(join(this.root, 'sys'));
  }

  private atomic(path: string, data: string | Buffer): void {
    const tmp = join(this.root, `.tmp-${this.seq++}`);
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  }

  add(p: FakeProc): void {
    // Build the directory beside the tree, then rename it in: the sensor sees all or nothing.
    const staging = join(this.root, `.dir-${this.seq++}`);
    mkdirSync(staging);
    writeFileSync(join(staging, 'cmdline'), (p.argv ?? []).map((a) => `${a}\0`).join(''));
    writeFileSync(join(staging, 'status'), `Name:\t${p.comm}\nUid:\t${p.uid ?? 0}\t${p.uid ?? 0}\t${p.uid ?? 0}\t${p.uid ?? 0}\n`);
    if (p.exe !== undefined) symlinkSync(p.exe, join(staging, 'exe'));
    if (p.cwd !== undefined) symlinkSync(p.cwd, join(staging, 'cwd'));
    writeFileSync(join(staging, 'stat'), statText(p));
    renameSync(staging, join(this.root, String(p.pid)));
  }

  /** Rewrite the stat of an existing directory (pid reuse, state change). */
  rewriteStat(p: FakeProc): void {
    this.atomic(join(this.root, String(p.pid), 'stat'), statText(p));
  }

  /** Replace the program image in place (execve): same pid and start time, new exe and comm. */
  exec(p: FakeProc): void {
    const dir = join(this.root, String(p.pid));
    const link = join(this.root, `.lnk-${this.seq++}`);
    if (p.exe !== undefined) {
      symlinkSync(p.exe, link);
      renameSync(link, join(dir, 'exe'));
    }
    this.atomic(join(dir, 'cmdline'), (p.argv ?? []).map((a) => `${a}\0`).join(''));
    // stat last: its comm change is what tells the sensor to look again.
    this.atomic(join(dir, 'stat'), statText(p));
  }

  writeRawStat(pid: number, text: string): void {
    mkdirSync(join(this.root, String(pid)), { recursive: true });
    this.atomic(join(this.root, String(pid), 'stat'), text);
  }

  /** Replace a process directory wholesale (pid reused by a different program). */
  replace(p: FakeProc): void {
    this.remove(p.pid);
    this.add(p);
  }

  remove(pid: number): void {
    rmSync(join(this.root, String(pid)), { recursive: true, force: true });
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
