/**
 * uid → user name, from /etc/passwd read once at start. Re-read only when a uid is unknown
 * AND the file changed since the last read (mtime or size), so a uid without a passwd entry
 * (common in containers) does not cause a re-read on every scan.
 */
import { readFile, stat } from 'node:fs/promises';
import { parsePasswd } from './parse.js';

export class UserNames {
  private names = new Map<number, string>();
  private stamp = '';
  /** Times the file was (re)read successfully. */
  loads = 0;

  constructor(private readonly path: string) {}

  /** Read the file. Errors propagate (the caller counts them). */
  async load(): Promise<void> {
    const st = await stat(this.path);
    const text = await readFile(this.path, 'utf8');
    this.names = parsePasswd(text);
    this.stamp = `${st.mtimeMs}:${st.size}`;
    this.loads++;
  }

  lookup(uid: number): string | undefined {
    return this.names.get(uid);
  }

  /** Re-read when the file changed since the last load; true when it was re-read. */
  async refreshIfChanged(): Promise<boolean> {
    const st = await stat(this.path);
    if (`${st.mtimeMs}:${st.size}` === this.stamp) return false;
    await this.load();
    return true;
  }
}
