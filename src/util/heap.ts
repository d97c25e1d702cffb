/**
 * A binary heap whose items remember their own position (through `slot`), so that an item already in the heap
 * can be re-sifted after its key changed, or removed, in O(log n). Pure; used by the fetch scheduler.
 */
export interface HeapSlot<T> {
  readonly get: (item: T) => number
  readonly set: (item: T, index: number) => void
}

export class IndexedHeap<T> {
  private readonly items: Array<T> = []

  /** `before(a, b)`: a leaves the heap before b. */
  constructor(private readonly before: (a: T, b: T) => boolean, private readonly slot: HeapSlot<T>) {}

  get size(): number {
    return this.items.length
  }

  has(item: T): boolean {
    return this.slot.get(item) >= 0
  }

  peek(): T | undefined {
    return this.items[0]
  }

  push(item: T): void {
    this.slot.set(item, this.items.length)
    this.items.push(item)
    this.up(this.items.length - 1)
  }

  pop(): T | undefined {
    const top = this.items[0]
    if (top !== undefined) this.removeAt(0)
    return top
  }

  /** Removes `item` if it is in the heap. */
  remove(item: T): void {
    const i = this.slot.get(item)
    if (i >= 0) this.removeAt(i)
  }

  /** Restores the order after `item`'s key changed (no-op if it is not in the heap). */
  update(item: T): void {
    const i = this.slot.get(item)
    if (i >= 0 && !this.up(i)) this.down(i)
  }

  private removeAt(i: number): void {
    const items = this.items
    const gone = items[i]!
    const last = items.pop()!
    this.slot.set(gone, -1)
    if (i < items.length) {
      items[i] = last
      this.slot.set(last, i)
      if (!this.up(i)) this.down(i)
    }
  }

  private up(i: number): boolean {
    const items = this.items
    const item = items[i]!
    const start = i
    while (i > 0) {
      const p = (i - 1) >> 1
      const parent = items[p]!
      if (!this.before(item, parent)) break
      items[i] = parent
      this.slot.set(parent, i)
      i = p
    }
    items[i] = item
    this.slot.set(item, i)
    return i !== start
  }

  private down(i: number): void {
    const items = this.items
    const n = items.length
    const item = items[i]!
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && this.before(items[r]!, items[l]!) ? r : l
      const child = items[c]!
      if (!this.before(child, item)) break
      items[i] = child
      this.slot.set(child, i)
      i = c
    }
    items[i] = item
    this.slot.set(item, i)
  }
}
