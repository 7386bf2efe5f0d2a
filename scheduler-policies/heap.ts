/**
 * A binary min-heap of small integer ids ordered by `less`, which must be a strict total order
 * (break ties by id) so that pops are deterministic. `less` may read state that changes only for
 * ids not currently in the heap (re-push an id after its key changed).
 */
export class IdHeap {
  readonly #items: number[] = [];
  readonly #less: (a: number, b: number) => boolean;

  constructor(less: (a: number, b: number) => boolean) {
    this.#less = less;
  }

  get size(): number {
    return this.#items.length;
  }

  push(id: number): void {
    const items = this.#items;
    let i = items.length;
    items.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(id, items[parent])) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = id;
  }

  /** Removes and returns the least id; the heap must not be empty. */
  pop(): number {
    const items = this.#items;
    const top = items[0];
    const last = items.pop() as number;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && this.#less(items[right], items[left]) ? right : left;
        if (!this.#less(items[child], last)) break;
        items[i] = items[child];
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}
