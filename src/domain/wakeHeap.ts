/**
 * The earliest moment any node of a run is due (a timeout, a retry, the end
 * of a soak), kept across passes that judge only a few nodes. A min-heap of
 * (moment, node index) that is told each new moment and checks, when asked,
 * that the top still is that node's moment (`current`): moments replaced
 * since are dropped then, so a pass costs the nodes it judged, not the fleet.
 * It is rebuilt from `current` when stale moments outnumber the nodes, so it
 * never holds more than a few times the run's nodes.
 */
export interface WakeHeap {
  readonly push: (millis: number, index: number) => void
  /** The earliest moment still current, or Infinity. */
  readonly earliest: () => number
}

export const makeWakeHeap = (size: number, current: (index: number) => number | undefined): WakeHeap => {
  const millis: Array<number> = []
  const indices: Array<number> = []
  const dueAt = (slot: number) => millis[slot] ?? Infinity
  const indexAt = (slot: number) => indices[slot] ?? -1

  const swap = (a: number, b: number) => {
    const m = dueAt(a)
    const i = indexAt(a)
    millis[a] = dueAt(b)
    indices[a] = indexAt(b)
    millis[b] = m
    indices[b] = i
  }
  const siftUp = (from: number) => {
    let child = from
    while (child > 0) {
      const parent = (child - 1) >> 1
      if (dueAt(parent) <= dueAt(child)) return
      swap(parent, child)
      child = parent
    }
  }
  const siftDown = (from: number) => {
    let parent = from
    for (;;) {
      const left = parent * 2 + 1
      const right = left + 1
      let least = parent
      if (left < millis.length && dueAt(left) < dueAt(least)) least = left
      if (right < millis.length && dueAt(right) < dueAt(least)) least = right
      if (least === parent) return
      swap(parent, least)
      parent = least
    }
  }
  const popTop = () => {
    const lastMillis = millis.pop() ?? Infinity
    const lastIndex = indices.pop() ?? -1
    if (millis.length === 0) return
    millis[0] = lastMillis
    indices[0] = lastIndex
    siftDown(0)
  }
  const rebuild = () => {
    millis.length = 0
    indices.length = 0
    for (let index = 0; index < size; index++) {
      const due = current(index)
      if (due !== undefined) push(due, index)
    }
  }
  const push = (due: number, index: number) => {
    millis.push(due)
    indices.push(index)
    siftUp(millis.length - 1)
  }

  rebuild()
  return {
    push: (due, index) => {
      push(due, index)
      if (millis.length > 4 * size + 64) rebuild()
    },
    earliest: () => {
      while (millis.length > 0 && current(indexAt(0)) !== dueAt(0)) popTop()
      return dueAt(0)
    }
  }
}
