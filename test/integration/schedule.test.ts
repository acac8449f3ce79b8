// Scheduled runs against the real API server, by the wall clock: a minutely schedule with a run on
// create gives two runs with distinct execution ids, and Forbid skips a tick while a run is going.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fateAnnotations } from "../controlplane/index.ts"
import { cp, createNodes, type OperatorProcess, podsOf, sleep, startOperator, useNamespace, workloadApi } from "./support/operator.ts"

const namespace = useNamespace("schedule")
const workloads = workloadApi(namespace)
const suite = `schedule-${process.pid}`
const pool = { suite }
let operator: OperatorProcess

beforeAll(async () => {
  await createNodes([1, 2].map((i) => ({ name: `${suite}-${i}`, labels: pool })))
  operator = startOperator(namespace)
})
afterAll(async () => {
  expect(await operator.stop()).toBe(0)
})

const eventsOf = async (name: string) => {
  const listed = await cp.kubectl([
    "-n",
    namespace,
    "get",
    "events",
    "--field-selector",
    `involvedObject.name=${name}`,
    "-o",
    "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}"
  ])
  return listed.stdout.split("\n").filter((line) => line !== "")
}

/** Every minute, plus one run right after creation: the second run comes at the next minute, at most 60 s later. */
const minutely = { nodeSelector: pool, mode: "RunToCompletion", image: "busybox", batchSize: 2, schedule: "* * * * *", runOnCreate: true, runOnCreateDelay: "1s" }

/**
 * Waits, if needed, until the second hand is past the top of the minute and
 * well before the next: a workload created just before a tick would have that
 * tick start its first run ahead of the runOnCreate moment (as it should),
 * and this test is about the run on create coming first.
 */
const awayFromTheTick = async () => {
  const second = new Date().getUTCSeconds()
  if (second >= 1 && second < 40) return
  await sleep(((61 - second) % 60) * 1000)
}

describe("scheduled runs", () => {
  it("runs on create and at the next tick, each run with its own execution id in the history; Forbid skips a tick while a run goes on", async () => {
    await awayFromTheTick()
    await workloads.create("minutely", { ...minutely, podAnnotations: fateAnnotations("complete", { delayMs: 500 }) })
    await workloads.create("forbid", { ...minutely, podAnnotations: fateAnnotations("pending") })

    const first = await workloads.waitFor("minutely", "the run on create succeeded", (s) => s.phase === "Succeeded" && s.runHistory?.length === 1)
    expect(first.runHistory?.[0]).toMatchObject({ trigger: "Create", outcome: "Succeeded", succeededNodes: 2, totalNodes: 2 })
    expect(first.executionId).toMatch(/^create-\d{8}-\d{6}$/)
    expect(Date.parse(first.nextScheduleTime ?? "") % 60_000).toBe(0)

    const second = await workloads.waitFor("minutely", "a second run at the next tick", (s) => s.phase === "Succeeded" && s.runHistory?.length === 2, 120_000)
    const [latest, earlier] = second.runHistory ?? []
    expect(latest).toMatchObject({ trigger: "Schedule", outcome: "Succeeded", succeededNodes: 2 })
    expect(latest?.executionId).not.toBe(earlier?.executionId)
    expect(latest?.scheduledTime).toBe(second.lastScheduleTime)
    expect(second.executionId).toBe(latest?.executionId)
    const pods = (await podsOf(namespace)).filter((pod) => pod.metadata?.labels?.["batch.example.com/workload"] === "minutely")
    expect(pods).toHaveLength(2)
    expect(pods.every((pod) => pod.status?.phase === "Succeeded")).toBe(true)
    expect(await eventsOf("minutely")).toEqual(expect.arrayContaining([
      expect.stringMatching(/^RunScheduled: run create-\S+ started on create \(runOnCreate\)$/),
      expect.stringMatching(new RegExp(`^RunScheduled: run ${latest?.executionId} started for the tick at `))
    ]))

    // The run on create never ends (its pods stay Pending), so the tick after it is skipped.
    const skipped = await workloads.waitFor("forbid", "a tick skipped", (s) => s.lastScheduleTime !== undefined, 120_000)
    expect(skipped.phase).toBe("Running")
    expect(skipped.runHistory?.map((run) => run.outcome)).toEqual(["Running"])
    expect(await eventsOf("forbid")).toEqual(expect.arrayContaining([
      expect.stringMatching(new RegExp(`^RunSkipped: skipped the tick at \\S+: run ${skipped.executionId} is still under way \\(concurrencyPolicy Forbid\\)$`))
    ]))
    await workloads.remove("minutely")
    await workloads.remove("forbid")
  }, 240_000)
})
