// A Map bounded to a capacity that drops the least recently used first; the caches here share it.
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>()
  private weight = 0

  /** `capacity` is in entries, or in whatever `weigh` measures (bytes, say) when it is given. */
  constructor(
    readonly capacity: number,
    private readonly weigh: (value: V) => number = () => 1,
  ) {}

  get(key: K): V | undefined {
    const value = this.entries.get(key)
    if (value !== undefined) {
      // Re-inserting moves the key to the end: Map keeps insertion order, so the first key is the oldest.
      this.entries.delete(key)
      this.entries.set(key, value)
    }
    return value
  }

  set(key: K, value: V): void {
    this.delete(key)
    this.entries.set(key, value)
    this.weight += this.weigh(value)
    while (this.weight > this.capacity && this.entries.size > 0) this.delete(this.entries.keys().next().value!)
  }

  delete(key: K): void {
    const value = this.entries.get(key)
    if (value === undefined) return
    this.entries.delete(key)
    this.weight -= this.weigh(value)
  }
}
