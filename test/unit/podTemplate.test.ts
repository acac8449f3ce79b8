// spec.template: the pure pod builder, rule by rule, and the simple fields unchanged byte for byte.
import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { parse } from "yaml"
import { type BatchWorkloadSpec, BatchWorkloadSpec as SpecSchema } from "../../src/api/BatchWorkload.ts"
import { buildPod, podTolerations, revision, workloadImage } from "../../src/domain/pods.ts"

const decode = Schema.decodeUnknownSync(SpecSchema)
const ref = { name: "w", namespace: "ns", uid: "u1" }
const target = { nodeName: "n1", podName: "w-n1", attempt: 2 }
const sample = (file: string) => decode(parse(readFileSync(new URL(`../../samples/${file}.yaml`, import.meta.url), "utf8")).spec)

/** A template workload; `pod` is the template's pod spec. */
const templated = (pod: Record<string, unknown>, fields: Record<string, unknown> = {}, metadata?: Record<string, unknown>): BatchWorkloadSpec =>
  decode({ ...fields, template: { ...(metadata !== undefined ? { metadata } : {}), spec: pod } })

const one = { containers: [{ name: "main", image: "busybox" }] }
const podOf = (spec: BatchWorkloadSpec) => buildPod(ref, spec, target, "rev")
const listOf = (value: unknown): ReadonlyArray<Record<string, unknown>> => Array.isArray(value) ? value : []
const containerOf = (spec: BatchWorkloadSpec, index = 0) => listOf(podOf(spec).spec?.["containers"])[index]

describe("the simple fields, as before spec.template existed", () => {
  it("build the same pod, byte for byte", () => {
    const golden = '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"w-n1","namespace":"ns","labels":{"app.kubernetes.io/managed-by":"batch-workload-operator","batch.example.com/workload":"w","batch.example.com/workload-uid":"u1","batch.example.com/node":"n1"},"annotations":{"batch.example.com/node":"n1","batch.example.com/attempt":"2","batch.example.com/revision":"rev"},"ownerReferences":[{"apiVersion":"batch.example.com/v1alpha1","kind":"BatchWorkload","name":"w","uid":"u1","controller":true,"blockOwnerDeletion":true}]},"spec":{"nodeName":"n1","restartPolicy":"Never","tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute"},{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute"}],"automountServiceAccountToken":false,"enableServiceLinks":false,"securityContext":{"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"workload","image":"busybox:latest","command":["sh","-c","df -h / && echo ok"],"resources":{"requests":{"cpu":"10m","memory":"16Mi"},"limits":{"memory":"64Mi"}},"securityContext":{"allowPrivilegeEscalation":false,"seccompProfile":{"type":"RuntimeDefault"}}}]}}'
    assert.strictEqual(JSON.stringify(podOf(sample("run-to-completion"))), golden)
  })

  // Recorded before spec.template existed: a changed hash would replace every running pod of existing workloads.
  const revisions: ReadonlyArray<readonly [string, string, string]> = [
    ["test-workload", "0b1883550d", "fce8d55902"],
    ["my-workload", "407f62e121", "b778a44d10"],
    ["run-to-completion", "01e0905e5b", "0ad84da5b4"]
  ]
  for (const [file, plain, retried] of revisions) {
    it(`keep the revision hash of ${file}`, () => {
      assert.strictEqual(revision(sample(file), ""), plain)
      assert.strictEqual(revision(sample(file), "7"), retried)
    })
  }
})

describe("the decoder", () => {
  it("refuses a spec with neither image nor template, naming image", () => {
    const result = Schema.decodeUnknownResult(SpecSchema)({ replicas: 1 })
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) assert.match(result.failure.message, /image is required/)
  })

  it("keeps every template field, known to it or not", () => {
    const pod = { ...one, hostPID: true, volumes: [{ name: "root", hostPath: { path: "/" } }], priorityClassName: "system-node-critical" }
    assert.deepInclude(templated(pod).template?.spec, pod)
  })
})

describe("a pod from a template", () => {
  const rows: ReadonlyArray<readonly [string, BatchWorkloadSpec, (pod: ReturnType<typeof podOf>) => void]> = [
    ["is bound to its node and owned by the workload, in the workload's namespace", templated(one), (pod) => {
      assert.strictEqual(pod.spec?.nodeName, "n1")
      assert.strictEqual(pod.metadata.namespace, "ns")
      assert.deepStrictEqual(pod.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]), [["BatchWorkload", "w", "u1", true]])
    }],
    ["restarts as LongRunning asks (Always)", templated(one), (pod) => assert.strictEqual(pod.spec?.["restartPolicy"], "Always")],
    ["restarts as RunToCompletion asks (Never)", templated(one, { mode: "RunToCompletion" }), (pod) => assert.strictEqual(pod.spec?.["restartPolicy"], "Never")],
    ["merges the template's labels and annotations with the operator's, which win", templated(one, {}, {
      labels: { app: "cleanup", "app.kubernetes.io/managed-by": "someone" },
      annotations: { note: "x" }
    }), (pod) => {
      assert.deepStrictEqual(pod.metadata.labels, {
        app: "cleanup",
        "app.kubernetes.io/managed-by": "batch-workload-operator",
        "batch.example.com/workload": "w",
        "batch.example.com/workload-uid": "u1",
        "batch.example.com/node": "n1"
      })
      assert.deepStrictEqual(pod.metadata.annotations, { note: "x", "batch.example.com/node": "n1", "batch.example.com/attempt": "2", "batch.example.com/revision": "rev" })
    }],
    ["gets the restricted defaults where the template says nothing", templated(one), (pod) => {
      assert.deepStrictEqual(pod.spec?.["securityContext"], { seccompProfile: { type: "RuntimeDefault" } })
      assert.deepStrictEqual(listOf(pod.spec?.["containers"])[0], { name: "main", image: "busybox", securityContext: { allowPrivilegeEscalation: false } })
      assert.strictEqual(pod.spec?.["automountServiceAccountToken"], false)
      assert.strictEqual(pod.spec?.["enableServiceLinks"], false)
    }],
    ["keeps the pod's own seccomp profile and security settings", templated({ ...one, securityContext: { runAsUser: 0, seccompProfile: { type: "Unconfined" } } }), (pod) =>
      assert.deepStrictEqual(pod.spec?.["securityContext"], { runAsUser: 0, seccompProfile: { type: "Unconfined" } })],
    ["adds the pod seccomp default next to other pod security settings", templated({ ...one, securityContext: { runAsNonRoot: true } }), (pod) =>
      assert.deepStrictEqual(pod.spec?.["securityContext"], { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } })],
    ["carries the template's tolerations and the readiness ones", templated({ ...one, tolerations: [{ operator: "Exists" }] }), (pod) =>
      assert.deepStrictEqual(pod.spec?.["tolerations"], [
        { operator: "Exists" },
        { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
        { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" }
      ])],
    ["mounts the token of a named service account", templated({ ...one, serviceAccountName: "upgrader" }), (pod) => {
      assert.strictEqual(pod.spec?.["serviceAccountName"], "upgrader")
      assert.notProperty(pod.spec ?? {}, "automountServiceAccountToken")
    }],
    ["keeps the template's own token and service-link choices", templated({ ...one, automountServiceAccountToken: true, enableServiceLinks: true }), (pod) => {
      assert.strictEqual(pod.spec?.["automountServiceAccountToken"], true)
      assert.strictEqual(pod.spec?.["enableServiceLinks"], true)
    }],
    ["passes host access, volumes and downward-API env through untouched", templated({
      hostPID: true,
      volumes: [{ name: "logs", hostPath: { path: "/var/log", type: "Directory" } }],
      containers: [{ name: "main", image: "busybox", env: [{ name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }] }]
    }), (pod) => {
      assert.strictEqual(pod.spec?.["hostPID"], true)
      assert.deepStrictEqual(pod.spec?.["volumes"], [{ name: "logs", hostPath: { path: "/var/log", type: "Directory" } }])
      assert.deepInclude(listOf(pod.spec?.["containers"])[0], {
        env: [{ name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }]
      })
    }]
  ]
  for (const [name, spec, check] of rows) it(name, () => check(podOf(spec)))
})

describe("allowPrivilegeEscalation: false, only where the container allows it", () => {
  const cases: ReadonlyArray<readonly [string, Record<string, unknown> | undefined, Record<string, unknown>]> = [
    ["no securityContext", undefined, { allowPrivilegeEscalation: false }],
    ["other settings kept", { runAsUser: 0 }, { runAsUser: 0, allowPrivilegeEscalation: false }],
    ["privileged: untouched (the API server refuses the combination)", { privileged: true }, { privileged: true }],
    ["CAP_SYS_ADMIN: untouched (refused likewise)", { capabilities: { add: ["SYS_ADMIN"] } }, { capabilities: { add: ["SYS_ADMIN"] } }],
    ["its own choice kept", { allowPrivilegeEscalation: true }, { allowPrivilegeEscalation: true }],
    ["privileged: false still gets the default", { privileged: false }, { privileged: false, allowPrivilegeEscalation: false }]
  ]
  for (const [name, securityContext, expected] of cases) {
    it(name, () => {
      const container = { name: "main", image: "busybox", ...(securityContext !== undefined ? { securityContext } : {}) }
      assert.deepStrictEqual(containerOf(templated({ containers: [container] }))?.["securityContext"], expected)
    })
  }

  it("applies to init containers too", () => {
    const pod = podOf(templated({ ...one, initContainers: [{ name: "prepare", image: "busybox" }, { name: "root", image: "busybox", securityContext: { privileged: true } }] }))
    assert.deepStrictEqual(listOf(pod.spec?.["initContainers"]).map((c) => c["securityContext"]), [
      { allowPrivilegeEscalation: false },
      { privileged: true }
    ])
  })
})

describe("what a template decides beyond the pod", () => {
  it("its tolerations are the taints that do not exclude a node", () => {
    assert.deepStrictEqual(podTolerations(templated({ ...one, tolerations: [{ key: "dedicated", operator: "Exists" }] })), [{ key: "dedicated", operator: "Exists" }])
    assert.deepStrictEqual(podTolerations(decode({ image: "busybox", tolerations: [{ key: "a", operator: "Exists" }] })), [{ key: "a", operator: "Exists" }])
  })

  it("the Started event names its first container's image", () => {
    assert.strictEqual(workloadImage(templated({ containers: [{ name: "a", image: "upgrader:1" }, { name: "b", image: "sidecar" }] })), "upgrader:1")
  })

  it("a changed template or mode is a new revision; the same template the same one", () => {
    const base = templated(one)
    assert.strictEqual(revision(base, ""), revision(templated(one), ""))
    assert.notStrictEqual(revision(base, ""), revision(templated({ containers: [{ name: "main", image: "busybox:2" }] }), ""))
    assert.notStrictEqual(revision(base, ""), revision(templated(one, { mode: "RunToCompletion" }), ""))
    assert.notStrictEqual(revision(base, ""), revision(templated(one, {}, { labels: { a: "b" } }), ""))
  })
})

describe("the pod-template samples", () => {
  it("host-cleanup mounts the node's /var/log", () => {
    const pod = podOf(sample("host-cleanup"))
    assert.deepStrictEqual(pod.spec?.["volumes"], [{ name: "varlog", hostPath: { path: "/var/log", type: "Directory" } }])
    assert.strictEqual(pod.spec?.["restartPolicy"], "Never")
  })

  it("privileged-upgrade gets its privileged container, without the default it cannot be combined with", () => {
    const pod = podOf(sample("privileged-upgrade"))
    assert.deepStrictEqual(listOf(pod.spec?.["containers"])[0]?.["securityContext"], { privileged: true })
    assert.strictEqual(pod.spec?.["hostPID"], true)
  })
})
