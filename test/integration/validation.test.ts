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
  ["no-image", "  replicas: 1", /spec.image: Invalid value: "object": image is required \(or a pod template in template\)/],
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
  ["schedule-long-running", "  image: busybox\n  schedule: \"42 3 * * *\"", /spec.schedule: Invalid value: "object": a schedule needs mode RunToCompletion/],
  ["schedule-six-fields", "  image: busybox\n  mode: RunToCompletion\n  schedule: \"0 42 3 * * *\"", /spec.schedule: Invalid value: "0 42 3 \* \* \*": spec.schedule in body should match/],
  ["schedule-zone", "  image: busybox\n  mode: RunToCompletion\n  schedule: \"42 3 * * *\"\n  timeZone: Mars/Olympus", /spec.timeZone: Unsupported value: "Mars\/Olympus"/],
  ["schedule-policy", "  image: busybox\n  mode: RunToCompletion\n  schedule: \"42 3 * * *\"\n  concurrencyPolicy: Allow", /spec.concurrencyPolicy: Unsupported value: "Allow"/],
  ["schedule-fields-alone", "  image: busybox\n  mode: RunToCompletion\n  runOnCreate: true", /runOnCreate, timeZone, .* apply to a schedule: set spec.schedule too/],
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

/** A spec with a pod template; `pod` is indented as the template's spec, `metadata` as its metadata. */
const template = (pod: string, metadata = "", extra = "") =>
  `${extra}  template:\n${metadata === "" ? "" : `    metadata:\n${metadata}\n`}    spec:\n${pod}`
const container = "      containers:\n        - name: main\n          image: busybox"

const templateCases: ReadonlyArray<readonly [string, string, RegExp]> = [
  [
    "template-typo",
    template("      containers:\n        - name: main\n          imagee: busybox"),
    /unknown field "spec.template.spec.containers\[0\].imagee"/
  ],
  [
    "template-wrong-type",
    template(`${container}\n      volumes:\n        - name: root\n          hostPath: 5`),
    /spec.template.spec.volumes\[0\].hostPath: Invalid value: "integer": spec.template.spec.volumes\[0\].hostPath in body must be of type object/
  ],
  ["template-no-containers", template("      hostPID: true"), /spec.template.spec.containers: Required value/],
  ["template-and-image", template(container, "", "  image: busybox\n"), /spec.image: Invalid value: "object": image cannot be combined with template/],
  [
    "template-and-pod-labels",
    template(container, "", "  podLabels:\n    a: b\n"),
    /spec.podLabels: Invalid value: "object": podLabels cannot be combined with template/
  ],
  [
    "template-node-name",
    template(`      nodeName: node-1\n${container}`),
    /spec.template.spec.nodeName: Invalid value: "object": spec.template.spec.nodeName is set by the operator/
  ],
  [
    "template-restart-policy",
    template(`      restartPolicy: OnFailure\n${container}`),
    /spec.template.spec.restartPolicy: Invalid value: "object": spec.template.spec.restartPolicy is set by the operator: it follows spec.mode/
  ],
  [
    "template-operator-label",
    template(container, "      labels:\n        batch.example.com/workload: other"),
    /spec.template.metadata.labels: Invalid value: "object": labels under batch.example.com\/ are the operator's own/
  ],
  [
    "template-operator-annotation",
    template(container, "      annotations:\n        batch.example.com/attempt: \"9\""),
    /spec.template.metadata.annotations: Invalid value: "object": annotations under batch.example.com\/ are the operator's own/
  ]
]

describe("the CRD checks a pod template like any pod, and keeps what the operator owns", () => {
  it.each(templateCases)("%s", async (name, spec, message) => {
    const result = await cp.kubectl(["apply", "-f", "-"], manifest(name, spec))
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(message)
  })

  it("admits a full node-job template", async () => {
    const pod = [
      "      hostPID: true",
      "      serviceAccountName: agent",
      "      initContainers:\n        - name: prepare\n          image: busybox",
      `${container}\n          securityContext:\n            privileged: true\n          resources:\n            limits:\n              cpu: 1\n              memory: 64Mi`,
      "          env:\n            - name: NODE\n              valueFrom:\n                fieldRef:\n                  fieldPath: spec.nodeName",
      "      volumes:\n        - name: root\n          hostPath:\n            path: /"
    ].join("\n")
    const result = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], manifest("full-template", template(pod, "      labels:\n        app: agent")))
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
  })

  it("is documented by kubectl explain", async () => {
    const result = await cp.kubectl(["explain", "batchworkload.spec.template.spec.containers"])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/securityContext\s+<Object>/)
    expect(result.stdout).toMatch(/volumeMounts\s+<\[\]Object>/)
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
