/**
 * Aho-Corasick automaton over UTF-16 code units: one pass over a value finds every literal
 * of every rule on that field, in time linear in the value plus the matches (failure links
 * are followed during the scan; dictionary suffix outputs are merged at build time).
 */

export class AhoCorasick {
  private readonly children: Map<number, number>[] = [new Map()];
  private readonly fail: number[] = [0];
  private readonly out: (number[] | null)[] = [null];
  private readonly lengths: number[] = [];
  private built = false;

  /** Add a pattern (non-empty); returns its id. */
  add(pattern: string): number {
    if (this.built) throw new Error('AhoCorasick: add after build');
    if (pattern.length === 0) throw new Error('AhoCorasick: empty pattern');
    let node = 0;
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern.charCodeAt(i);
      const map = this.children[node] as Map<number, number>;
      let next = map.get(c);
      if (next === undefined) {
        next = this.children.length;
        this.children.push(new Map());
        this.fail.push(0);
        this.out.push(null);
        map.set(c, next);
      }
      node = next;
    }
    const id = this.lengths.length;
    this.lengths.push(pattern.length);
    const o = this.out[node];
    if (o) o.push(id);
    else this.out[node] = [id];
    return id;
  }

  patternLength(id: number): number {
    return this.lengths[id] ?? 0;
  }

  get size(): number {
    return this.lengths.length;
  }

  build(): this {
    const queue: number[] = [];
    for (const child of (this.children[0] as Map<number, number>).values()) {
      this.fail[child] = 0;
      queue.push(child);
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const node = queue[qi] as number;
      for (const [c, child] of this.children[node] as Map<number, number>) {
        queue.push(child);
        let f = this.fail[node] as number;
        while (f !== 0 && !(this.children[f] as Map<number, number>).has(c)) f = this.fail[f] as number;
        const target = (this.children[f] as Map<number, number>).get(c);
        const fl = target !== undefined && target !== child ? target : 0;
        this.fail[child] = fl;
        const inherited = this.out[fl];
        if (inherited) {
          const own = this.out[child];
          this.out[child] = own ? own.concat(inherited) : inherited.slice();
        }
      }
    }
    this.built = true;
    return this;
  }

  /**
   * Appends every occurrence to ids/ends (pattern id, index just past it); returns the count.
   * No callback and reusable arrays: it runs once per indexed field of every event.
   */
  scanInto(text: string, ids: number[], ends: number[]): number {
    if (!this.built) this.build();
    const children = this.children;
    const fail = this.fail;
    const out = this.out;
    let node = 0;
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let next = (children[node] as Map<number, number>).get(c);
      while (next === undefined && node !== 0) {
        node = fail[node] as number;
        next = (children[node] as Map<number, number>).get(c);
      }
      node = next ?? 0;
      const o = out[node];
      if (o) {
        for (let k = 0; k < o.length; k++) {
          ids[n] = o[k] as number;
          ends[n] = i + 1;
          n++;
        }
      }
    }
    return n;
  }
}
