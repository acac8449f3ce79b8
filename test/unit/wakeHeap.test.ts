// The earliest due moment of a run, kept across passes that judge only a few nodes: whatever
// moments the nodes move to, it answers what a scan of every node's current moment answers.
import { assert, describe, it } from "@effect/vitest"
import { makeWakeHeap } from "../../src/domain/wakeHeap.ts"

describe("the earliest moment a node of the run is due", () => {
  it("is the least current moment; moments replaced since, or dropped, no longer count", () => {
    const due: Array<number | undefined> = [30, undefined, 10, 20]
    const heap = makeWakeHeap(due.length, (index) => due[index])
    assert.strictEqual(heap.earliest(), 10)
    due[2] = 40 // the node judged again: its timeout moved
    heap.push(40, 2)
    assert.strictEqual(heap.earliest(), 20)
    due[3] = undefined // done: nothing due there any more
    assert.strictEqual(heap.earliest(), 30)
    due[1] = 5
    heap.push(5, 1)
    assert.strictEqual(heap.earliest(), 5)
    due.fill(undefined)
    assert.strictEqual(heap.earliest(), Infinity)
  })

  it("agrees with a scan of every node over many passes of changing moments", () => {
    let state = 11
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31
      return state / 2 ** 31
    }
    const size = 50
    const due: Array<number | undefined> = Array.from({ length: size }, () => Math.floor(random() * 1_000))
    const heap = makeWakeHeap(size, (index) => due[index])
    for (let pass = 0; pass < 2_000; pass++) {
      for (let change = 0; change < 3; change++) {
        const index = Math.floor(random() * size)
        const next = random() < 0.2 ? undefined : Math.floor(random() * 1_000)
        due[index] = next
        if (next !== undefined) heap.push(next, index)
      }
      const scanned = Math.min(...due.map((millis) => millis ?? Infinity))
      assert.strictEqual(heap.earliest(), scanned, `pass ${pass}`)
    }
  })
})
