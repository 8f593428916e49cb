/**
 * A cache bounded by the total size of its values, in two generations: new and recently
 * read values go into the young one, and when that holds half the bound it becomes the
 * old one and the values not read since are dropped. Every operation is O(1).
 *
 * Not a Map kept in recency order by delete + set: V8 leaves a hole per deleted entry
 * until the table is rehashed, and finding the oldest entry walks over them, which took
 * half a second of a 10,000-app history load (issue #14).
 */
export class BoundedCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private youngSize = 0;

  constructor(
    private readonly limit: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: string): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const kept = this.old.get(key);
    if (kept !== undefined) {
      this.old.delete(key);
      this.put(key, kept);
    }
    return kept;
  }

  set(key: string, value: V): void {
    this.old.delete(key);
    const before = this.young.get(key);
    if (before !== undefined) this.youngSize -= this.sizeOf(before);
    this.put(key, value);
  }

  private put(key: string, value: V): void {
    this.young.set(key, value);
    this.youngSize += this.sizeOf(value);
    if (this.youngSize > this.limit / 2) {
      this.old = this.young;
      this.young = new Map();
      this.youngSize = 0;
    }
  }
}
