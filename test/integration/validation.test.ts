// Bad input is turned away by the API server itself, with a message a person can act on.
import { describe, expect, it } from "vitest"
import { cp, useNamespace } from "./support/operator.ts"

const namespace = useNamespace("validation")

const manifest = (name: string, spec: string) => `apiVersion: batch.example.com/v1alpha1
kind: BatchWorkload
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
${spec}`

const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
  ["replicas-zero", "  replicas: 0\n  image: busybox", /spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1/],
  ["replicas-5000", "  replicas: 5000\n  image: busybox", /spec.replicas in body should be less than or equal to 1000/],
  ["replicas-text", "  replicas: three\n  image: busybox", /spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer/],
  ["batch-zero", "  batchSize: 0\n  image: busybox", /spec.batchSize in body should be greater than or equal to 1/],
  ["batch-101", "  batchSize: 101\n  image: busybox", /spec.batchSize in body should be less than or equal to 100/],
  ["timeout-abc", "  timeout: abc\n  image: busybox", /spec.timeout in body should match/],
  ["timeout-zero", "  timeout: 0s\n  image: busybox", /timeout must be at least 1s/],
  ["no-image", "  replicas: 1", /spec.image: Required value/],
  ["empty-image", "  image: \"\"", /spec.image in body should be at least 1 chars long/],
  ["bad-mode", "  mode: Sometimes\n  image: busybox", /spec.mode: Unsupported value: "Sometimes": supported values: "LongRunning", "RunToCompletion"/],
  ["retries-11", "  maxRetries: 11\n  image: busybox", /spec.maxRetries in body should be less than or equal to 10/],
  ["backoff-order", "  initialBackoff: 10m\n  maxBackoff: 1m\n  image: busybox", /initialBackoff must not exceed maxBackoff/],
  ["duplicate-nodes", "  nodeNames: [a, a]\n  image: busybox", /spec.nodeNames\[1\]: Duplicate value: "a"/],
  ["more-replicas-than-names", "  replicas: 3\n  nodeNames: [a, b]\n  image: busybox", /replicas must not exceed the number of nodeNames/],
  [
    "quantity-text",
    "  image: busybox\n  resources:\n    limits:\n      cpu: lots",
    /spec.resources.limits.cpu: Invalid value: "lots": spec.resources.limits.cpu in body should match/
  ],
  ["budget-negative", "  image: busybox\n  failurePolicy:\n    maxFailedNodes: -1", /spec.failurePolicy.maxFailedNodes: Invalid value: .*maxFailedNodes must be a count of 0 or more/],
  ["budget-over-100", "  image: busybox\n  failurePolicy:\n    maxFailedNodes: 150%", /spec.failurePolicy.maxFailedNodes: Invalid value: "150%": spec.failurePolicy.maxFailedNodes in body should match/],
  ["budget-action", "  image: busybox\n  failurePolicy:\n    action: Retry", /spec.failurePolicy.action: Unsupported value: "Retry"/],
  ["soak-negative", "  image: busybox\n  minReadySeconds: -5", /spec.minReadySeconds in body should be greater than or equal to 0/],
  ["deadline-zero", "  image: busybox\n  activeDeadlineSeconds: 0", /spec.activeDeadlineSeconds in body should be greater than or equal to 1/],
  ["window-zone", "  image: busybox\n  window:\n    startTime: \"22:00\"\n    endTime: \"04:00\"\n    timeZone: Mars/Olympus", /spec.window.timeZone: Unsupported value: "Mars\/Olympus"/],
  ["window-time", "  image: busybox\n  window:\n    startTime: \"24:00\"\n    endTime: \"04:00\"", /spec.window.startTime: Invalid value: "24:00": spec.window.startTime in body should match/],
  ["window-empty", "  image: busybox\n  window:\n    startTime: \"09:00\"\n    endTime: \"09:00\"", /spec.window: Invalid value: "object": startTime and endTime must differ/],
  ["ttl-negative", "  image: busybox\n  ttlSecondsAfterFinished: -1", /spec.ttlSecondsAfterFinished in body should be greater than or equal to 0/],
  [
    "quantity-unit",
    "  image: busybox\n  resources:\n    requests:\n      memory: 64MB",
    /spec.resources.requests.memory: Invalid value: "64MB": spec.resources.requests.memory in body should match/
  ]
]

describe("the CRD schema rejects invalid BatchWorkloads", () => {
  it.each(cases)("%s", async (name, spec, message) => {
    const result = await cp.kubectl(["apply", "-f", "-"], manifest(name, spec))
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(message)
  })
})

describe("the CRD schema admits valid quantities", () => {
  it("takes suffixed strings and bare integers", async () => {
    const spec = "  image: busybox\n  resources:\n    requests:\n      cpu: 100m\n      memory: 64Mi\n    limits:\n      cpu: 2\n      memory: 1.5Gi"
    const result = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], manifest("quantities", spec))
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
  })
})
