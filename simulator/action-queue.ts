/** Something the traffic model does at a time: sign a user up, create a task, take a task's next step, ... */
export interface Action {
  readonly atMs: number;
  /** Insertion order; breaks ties in `atMs` so the order never depends on the heap's internals. */
  readonly order: number;
  readonly kind: number;
  /** The task (for task steps), else unused. */
  readonly subject: number;
}

/** A binary min-heap of actions by (atMs, order): one hour's work, including steps scheduled within the hour. */
export class ActionQueue {
  private readonly heap: Action[] = [];
  private nextOrder = 0;

  get size(): number {
    return this.heap.length;
  }

  push(atMs: number, kind: number, subject: number): void {
    const heap = this.heap;
    heap.push({ atMs, order: this.nextOrder++, kind, subject });
    let child = heap.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!precedes(heap[child], heap[parent])) break;
      swap(heap, child, parent);
      child = parent;
    }
  }

  pop(): Action | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let parent = 0;
    for (;;) {
      const left = 2 * parent + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < heap.length && precedes(heap[left], heap[smallest])) smallest = left;
      if (right < heap.length && precedes(heap[right], heap[smallest])) smallest = right;
      if (smallest === parent) return top;
      swap(heap, parent, smallest);
      parent = smallest;
    }
  }
}

function precedes(a: Action | undefined, b: Action | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.order < b.order);
}

function swap(items: Action[], i: number, j: number): void {
  const item = items[i];
  const other = items[j];
  if (item === undefined || other === undefined) return;
  items[i] = other;
  items[j] = item;
}
