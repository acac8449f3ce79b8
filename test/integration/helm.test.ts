// The Helm chart (charts/batch-workload-operator) and the single install file (dist/install.yaml)
// against the real control plane, with helm built from its Go module beside it. The chart's
// Deployment cannot run the operator's image here (kwok plays the kubelet, it runs no
// containers), so the operator runs as a process with the chart's ServiceAccount token and
// nothing else, as the Deployment would in the cluster.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { parse, parseAllDocuments, stringify } from "yaml"
import { deleteNodes, fateAnnotations, kubectlOk as kubectlOkWith, repoRoot } from "../controlplane/index.ts"
import { cp, createNodes, createOwnPod, type EnvEntry, eventually, kc, kubeletEnv, type OperatorProcess, startOperator, useNamespace, workloadApi } from "./support/operator.ts"

const chart = path.join(repoRoot, "charts", "batch-workload-operator")
const installFile = path.join(repoRoot, "dist", "install.yaml")
const crdName = "batchworkloads.batch.example.com"
const release = "bwo-helm"
/** The chart's name for the release's objects (the release name does not contain the chart's). */
const fullname = `${release}-batch-workload-operator`
const suite = `helm-${process.pid}`
const releaseNamespace = `${suite}-system`
const elsewhere = `${suite}-elsewhere`
const namespace = useNamespace("helm")
const workloads = workloadApi(namespace)
const nodeNames = [1, 2, 3].map((n) => `${suite}-${n}`)
const editor = `${suite}-editor`
const viewer = `${suite}-viewer`
const tmpDirs: Array<string> = []
const operators: Array<OperatorProcess> = []

interface Container {
  readonly name: string
  readonly env?: ReadonlyArray<EnvEntry>
  readonly [field: string]: unknown
}

interface KubeObject {
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string>; readonly generation?: number }
  readonly rules?: ReadonlyArray<unknown>
  readonly roleRef?: unknown
  readonly subjects?: ReadonlyArray<unknown>
  readonly spec?: {
    readonly replicas?: number
    readonly strategy?: { readonly type?: string }
    readonly ports?: unknown
    readonly type?: string
    /** A Deployment's (matchLabels) or a Service's (the labels themselves). */
    readonly selector?: { readonly matchLabels?: Record<string, string>; readonly [label: string]: unknown }
    readonly endpoints?: ReadonlyArray<{ readonly port?: string }>
    readonly template?: { readonly spec?: { readonly containers: ReadonlyArray<Container>; readonly [field: string]: unknown } }
    readonly [field: string]: unknown
  }
}

const kubectlOk = (...args: Array<string>) => kubectlOkWith(args, { kubeconfig: cp.kubeconfigPath, kubectlPath: cp.kubectlPath })

const helmOk = async (...args: Array<string>) => {
  const result = await cp.helm(args)
  if (result.code !== 0) throw new Error(`helm ${args.join(" ")} exited with ${result.code}:\n${result.stderr}${result.stdout}`)
  return result.stdout
}

const objectsIn = (text: string): ReadonlyArray<KubeObject> =>
  parseAllDocuments(text).map((document): KubeObject | null => document.toJS()).filter((object): object is KubeObject => object !== null)

const find = (objects: ReadonlyArray<KubeObject>, kind: string, name: string): KubeObject => {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name)
  if (!found) throw new Error(`no ${kind} ${name} among: ${objects.map((object) => `${object.kind}/${object.metadata.name}`).join(", ")}`)
  return found
}

const operatorContainer = (deployment: KubeObject): Container => {
  const container = deployment.spec?.template?.spec?.containers.find((candidate) => candidate.name === "operator")
  if (!container) throw new Error(`Deployment ${deployment.metadata.name} has no operator container`)
  return container
}

/** The installed object as the API server has it. */
const live = async (kind: string, name: string, inNamespace?: string): Promise<KubeObject> =>
  parse(await kubectlOk("get", kind, name, "-o", "yaml", ...(inNamespace ? ["-n", inNamespace] : [])))

const exists = async (kind: string, name: string, inNamespace?: string) =>
  (await cp.kubectl(["get", kind, name, "--ignore-not-found", "-o", "name", ...(inNamespace ? ["-n", inNamespace] : [])])).stdout.trim() !== ""

/** `kubectl auth can-i` as `user` on BatchWorkloads (or their `subresource`): "yes" or "no". */
const canI = async (user: string, verb: string, inNamespace: string, subresource?: string) =>
  (await cp.kubectl(["auth", "can-i", verb, crdName, ...(subresource ? [`--subresource=${subresource}`] : []), "--as", user, "-n", inNamespace])).stdout.trim()

/** A kubeconfig whose only credential is `token`, for the control plane's server. */
const tokenKubeconfig = (token: string) => {
  const cluster = kc.getCurrentCluster()
  if (!cluster) throw new Error("the test kubeconfig has no current cluster")
  const dir = mkdtempSync(path.join(os.tmpdir(), "bwo-helm-"))
  tmpDirs.push(dir)
  const file = path.join(dir, "kubeconfig")
  writeFileSync(file, stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server: cluster.server, ...(cluster.caData ? { "certificate-authority-data": cluster.caData } : { "certificate-authority": cluster.caFile }) } }],
    users: [{ name: "chart-service-account", user: { token } }],
    contexts: [{ name: "chart-service-account", context: { cluster: "test", user: "chart-service-account" } }],
    "current-context": "chart-service-account"
  }))
  return file
}

/** samples/my-workload.yaml on this file's nodes, with pods that kwok makes Ready. */
const sampleWorkload = (name: string) => {
  const sample: { metadata: { name: string }; spec: Record<string, unknown> } = parse(readFileSync(path.join(repoRoot, "samples", "my-workload.yaml"), "utf8"))
  return stringify({ ...sample, metadata: { name }, spec: { ...sample.spec, nodeNames, podAnnotations: fateAnnotations("ready", { delayMs: 200 }) } })
}

afterAll(async () => {
  for (const operator of operators) await operator.stop("SIGKILL")
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true })
  await cp.helm(["uninstall", release, "-n", releaseNamespace, "--ignore-not-found"])
  await cp.kubectl(["delete", "namespace", releaseNamespace, elsewhere, "--ignore-not-found", "--wait=false"])
  await deleteNodes(cp.kubeconfigPath, nodeNames).catch(() => undefined)
})

// In order, each test building on the one before: render, install, run, upgrade, uninstall.
describe("Helm chart", () => {
  it("passes helm lint --strict, also with the optional objects and a single replica", async () => {
    for (const values of [[], ["--set", "serviceMonitor.enabled=true", "--set", "replicaCount=1", "--set", "leaderElection.enabled=false"]]) {
      const result = await cp.helm(["lint", "--strict", chart, ...values])
      expect(result.code, result.stdout + result.stderr).toBe(0)
      expect(result.stdout).not.toMatch(/\[(WARNING|ERROR)\]/)
      expect(result.stdout).toContain("1 chart(s) linted, 0 chart(s) failed")
    }
  })

  it("renders, with default values, what manifests/ says: RBAC, ServiceAccount, the Deployment's security and settings, Services, CRD", async () => {
    // Release name and namespace as in manifests/, so the objects' names are the same too.
    const rendered = objectsIn(await helmOk("template", "batch-workload-operator", chart, "--namespace", "batch-workload-operator-system"))
    const manifests = objectsIn(await kubectlOk("kustomize", path.join(repoRoot, "manifests")))
    const both = (kind: string, name: string) => [find(rendered, kind, name), find(manifests, kind, name)] as const

    for (const [kind, name] of [
      ["ClusterRole", "batch-workload-operator"],
      ["Role", "batch-workload-operator-leader-election"],
      ["ClusterRole", "batch-workload-operator-batchworkload-editor"],
      ["ClusterRole", "batch-workload-operator-batchworkload-viewer"]
    ] as const) {
      const [fromChart, fromManifests] = both(kind, name)
      expect(fromChart.rules, `${kind} ${name}`).toEqual(fromManifests.rules)
      const aggregation = Object.entries(fromManifests.metadata.labels ?? {}).filter(([key]) => key.includes("aggregate-to"))
      expect(Object.entries(fromChart.metadata.labels ?? {}), `${kind} ${name} labels`).toEqual(expect.arrayContaining(aggregation))
    }
    for (const [kind, name] of [["ClusterRoleBinding", "batch-workload-operator"], ["RoleBinding", "batch-workload-operator-leader-election"]] as const) {
      const [fromChart, fromManifests] = both(kind, name)
      expect([fromChart.roleRef, fromChart.subjects], `${kind} ${name}`).toEqual([fromManifests.roleRef, fromManifests.subjects])
    }
    const [serviceAccount] = both("ServiceAccount", "batch-workload-operator")
    expect(serviceAccount.metadata.namespace).toBe("batch-workload-operator-system")

    const [chartDeployment, manifestDeployment] = both("Deployment", "batch-workload-operator")
    const podFields = ["securityContext", "serviceAccountName", "automountServiceAccountToken", "terminationGracePeriodSeconds", "volumes"]
    const pick = (object: Record<string, unknown> | undefined, fields: ReadonlyArray<string>) => Object.fromEntries(fields.map((field) => [field, object?.[field]]))
    expect(chartDeployment.spec?.replicas).toBe(manifestDeployment.spec?.replicas)
    expect(pick(chartDeployment.spec?.template?.spec, podFields)).toEqual(pick(manifestDeployment.spec?.template?.spec, podFields))
    const containerFields = ["securityContext", "ports", "livenessProbe", "readinessProbe", "startupProbe", "resources", "volumeMounts", "imagePullPolicy"]
    const [chartContainer, manifestContainer] = [operatorContainer(chartDeployment), operatorContainer(manifestDeployment)]
    expect(pick(chartContainer, containerFields)).toEqual(pick(manifestContainer, containerFields))
    expect(chartContainer.env).toEqual(expect.arrayContaining([...manifestContainer.env ?? []]))
    expect(chartContainer["image"]).toBe("batch-workload-operator:0.1.0")

    for (const name of ["batch-workload-operator-metrics", "batch-workload-operator-callback"]) {
      const [fromChart, fromManifests] = both("Service", name)
      expect([fromChart.spec?.type, fromChart.spec?.ports, fromChart.metadata.annotations], name).toEqual([fromManifests.spec?.type, fromManifests.spec?.ports, fromManifests.metadata.annotations])
      // The callback Service reaches the leader only, by the label the leader puts on its pod.
      expect(fromChart.spec?.selector?.["batch.example.com/leader"], name).toBe(fromManifests.spec?.selector?.["batch.example.com/leader"])
    }
    const [chartCrd, manifestCrd] = both("CustomResourceDefinition", crdName)
    expect(chartCrd.spec).toEqual(manifestCrd.spec)
    expect(chartCrd.metadata.annotations).toEqual({ "helm.sh/resource-policy": "keep" })

    // Nothing in manifests/ is missing from the chart but the Namespace (helm install --create-namespace).
    const missing = manifests.filter((object) => object.kind !== "Namespace" && !rendered.some((r) => r.kind === object.kind && r.metadata.name === object.metadata.name))
    expect(missing.map((object) => `${object.kind}/${object.metadata.name}`)).toEqual([])
  })

  it("renders the optional objects only when asked for, and leader election whenever replicas could act together", async () => {
    const render = async (...values: Array<string>) => objectsIn(await helmOk("template", release, chart, "--namespace", releaseNamespace, ...values))
    const leaderElect = (objects: ReadonlyArray<KubeObject>) => operatorContainer(find(objects, "Deployment", fullname)).env?.find((env) => env.name === "LEADER_ELECT")?.value

    const defaults = await render()
    expect(defaults.filter((object) => object.kind === "ServiceMonitor")).toEqual([])
    expect(find(defaults, "PodDisruptionBudget", fullname).spec?.["maxUnavailable"]).toBe(1)
    expect(leaderElect(defaults)).toBe("true")

    const monitored = await render("--set", "serviceMonitor.enabled=true")
    const monitor = find(monitored, "ServiceMonitor", fullname)
    expect(monitor.spec?.selector?.matchLabels).toEqual(find(monitored, "Service", `${fullname}-metrics`).spec?.selector)
    expect(monitor.spec?.endpoints?.map((endpoint) => endpoint.port)).toEqual(["metrics"])

    const three = await render("--set", "replicaCount=3", "--set", "leaderElection.enabled=false")
    expect(leaderElect(three)).toBe("true")
    const single = await render("--set", "replicaCount=1", "--set", "leaderElection.enabled=false")
    expect(leaderElect(single)).toBe("false")
    expect(find(single, "Deployment", fullname).spec?.strategy?.type).toBe("Recreate")
    expect(single.filter((object) => object.kind === "Role")).toEqual([])

    const custom = await render("--set", "image.tag=v9", "--set", "watchNamespace=team-a", "--set", "extraArgs[0]=--status-flush-seconds=2")
    const container = operatorContainer(find(custom, "Deployment", fullname))
    expect(container["image"]).toBe("batch-workload-operator:v9")
    expect(container["args"]).toEqual(["--status-flush-seconds=2"])
    expect(container.env).toContainEqual({ name: "WATCH_NAMESPACE", value: "team-a" })
  })

  it("renders objects the API server accepts (server dry run), meeting the restricted Pod Security Standard", async () => {
    await kubectlOk("create", "namespace", releaseNamespace)
    await kubectlOk("label", "namespace", releaseNamespace, "pod-security.kubernetes.io/enforce=restricted")
    await kubectlOk("create", "namespace", elsewhere)
    const rendered = await helmOk("template", release, chart, "--namespace", releaseNamespace)
    const dryRun = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], rendered)
    expect(dryRun.code, dryRun.stderr).toBe(0)
    // A pod that breaks the namespace's Pod Security level is a warning on stderr.
    expect(dryRun.stderr).toBe("")
    expect(dryRun.stdout.trim().split("\n")).toHaveLength(objectsIn(rendered).length)
  })

  it("helm install creates the operator's objects and takes over the CRD, kept on uninstall", async () => {
    // The CRD exists already (applied with kubectl for the other test files), as for a user
    // moving from `kubectl apply -k manifests/`: --take-ownership adopts it.
    await helmOk("install", release, chart, "--namespace", releaseNamespace, "--take-ownership")
    for (const [kind, name] of [
      ["serviceaccount", fullname], ["deployment", fullname], ["service", `${fullname}-metrics`], ["service", `${fullname}-callback`],
      ["poddisruptionbudget", fullname], ["role", `${fullname}-leader-election`], ["rolebinding", `${fullname}-leader-election`]
    ] as const) {
      expect(await exists(kind, name, releaseNamespace), `${kind} ${name}`).toBe(true)
    }
    for (const name of [fullname, `${fullname}-batchworkload-editor`, `${fullname}-batchworkload-viewer`]) {
      expect(await exists("clusterrole", name), name).toBe(true)
    }
    expect(await exists("clusterrolebinding", fullname)).toBe(true)
    const crd = await live("crd", crdName)
    expect(crd.metadata.annotations).toMatchObject({ "helm.sh/resource-policy": "keep", "meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": releaseNamespace })
    expect(await helmOk("status", release, "-n", releaseNamespace)).toContain("STATUS: deployed")
  })

  it("the operator, with only the chart's ServiceAccount token and the Deployment's settings, runs a sample workload to Succeeded", async () => {
    await createNodes(nodeNames.map((name) => ({ name })))
    const token = (await kubectlOk("create", "token", fullname, "-n", releaseNamespace, "--duration=1h")).trim()
    // The operator's own pod, from the chart's Deployment template; it labels the pod while it leads.
    const ownPod = `${fullname}-${suite}`
    const podSpec = (await live("deployment", fullname, releaseNamespace)).spec?.template?.spec ?? { containers: [] }
    const leaderLabelOf = await createOwnPod(releaseNamespace, ownPod, podSpec, nodeNames[0] ?? "")
    const deploymentEnv = kubeletEnv(operatorContainer(await live("deployment", fullname, releaseNamespace)).env ?? [], {
      "metadata.name": ownPod,
      "metadata.namespace": releaseNamespace
    })
    expect(deploymentEnv).toMatchObject({ LEADER_ELECT: "true", LEASE_NAME: fullname, LEADER_LABEL_POD: `${releaseNamespace}/${ownPod}` })
    const operator = startOperator(namespace, [], {
      ...deploymentEnv,
      // Its ports are 0 from startOperator's flags, so tests never collide.
      KUBECONFIG: tokenKubeconfig(token)
    })
    operators.push(operator)
    const applied = await cp.kubectl(["apply", "-n", namespace, "-f", "-"], sampleWorkload("sample"))
    expect(applied.code, applied.stderr).toBe(0)
    await workloads.waitFor("sample", "Succeeded", (status) => status.phase === "Succeeded").catch((error: unknown) => {
      throw new Error(`${String(error)}\noperator output:\n${operator.output()}`)
    })
    // It led through the chart's Lease and Role, in the release's namespace.
    expect(await kubectlOk("get", "lease", fullname, "-n", releaseNamespace, "-o", "jsonpath={.spec.holderIdentity}")).toBe(ownPod)
    // Leading, it labels its own pod, which the chart's callback Service selects.
    expect(await leaderLabelOf()).toBe("true")
    // Deleting it needs the finalizer removed, with the same rights.
    await workloads.remove("sample")
    await eventually("sample deleted", () => workloads.get("sample").then(() => undefined, () => true)).catch((error: unknown) => {
      throw new Error(`${String(error)}\noperator output:\n${operator.output()}`)
    })
    expect(await operator.stop()).toBe(0)
    expect(await leaderLabelOf()).toBeUndefined()
    expect(operator.output()).not.toMatch(/forbidden|unauthorized/i)
    await kubectlOk("delete", "pod", ownPod, "-n", releaseNamespace, "--grace-period=0")
  })

  it("lets a user bound only to the built-in edit role in one namespace manage BatchWorkloads there, and nowhere else", async () => {
    await kubectlOk("create", "rolebinding", `${suite}-edit`, "--clusterrole=edit", `--user=${editor}`, "-n", namespace)
    await kubectlOk("create", "rolebinding", `${suite}-view`, "--clusterrole=view", `--user=${viewer}`, "-n", namespace)
    // kube-controller-manager aggregates the chart's roles into edit and view.
    await eventually("edit aggregates the editor role", async () => (await canI(editor, "create", namespace)) === "yes" || undefined)
    for (const verb of ["create", "get", "list", "watch", "update", "patch", "delete"]) {
      expect(await canI(editor, verb, namespace), verb).toBe("yes")
    }
    expect(await canI(editor, "get", namespace, "status")).toBe("yes")
    for (const verb of ["update", "patch"]) expect(await canI(editor, verb, namespace, "status"), `${verb} status`).toBe("no")
    for (const verb of ["create", "get", "delete"]) expect(await canI(editor, verb, elsewhere), `${verb} elsewhere`).toBe("no")
    await eventually("view aggregates the viewer role", async () => (await canI(viewer, "list", namespace)) === "yes" || undefined)
    expect(await canI(viewer, "create", namespace)).toBe("no")

    // What the answers promise, done: create, patch and delete as that user.
    const asEditor = (args: ReadonlyArray<string>, input?: string) => cp.kubectl([...args, "--as", editor], input)
    const created = await asEditor(["apply", "-n", namespace, "-f", "-"], sampleWorkload("edited"))
    expect(created.code, created.stderr).toBe(0)
    const patched = await asEditor(["patch", "bwl", "edited", "-n", namespace, "--type=merge", "-p", '{"spec":{"paused":true}}'])
    expect(patched.code, patched.stderr).toBe(0)
    expect((await workloads.get("edited")).spec["paused"]).toBe(true)
    const deleted = await asEditor(["delete", "bwl", "edited", "-n", namespace])
    expect(deleted.code, deleted.stderr).toBe(0)
    const refused = await asEditor(["apply", "-n", elsewhere, "-f", "-"], sampleWorkload("edited"))
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/forbidden/i)
  })

  it("helm upgrade with new values changes the Deployment: replicas, log level, leader election", async () => {
    const before = await live("deployment", fullname, releaseNamespace)
    await helmOk("upgrade", release, chart, "-n", releaseNamespace, "--reuse-values", "--set", "replicaCount=3", "--set", "log.level=Debug")
    const scaled = await live("deployment", fullname, releaseNamespace)
    expect(scaled.spec?.replicas).toBe(3)
    expect(operatorContainer(scaled).env).toContainEqual({ name: "LOG_LEVEL", value: "Debug" })
    expect(scaled.metadata.generation).toBeGreaterThan(before.metadata.generation ?? 0)

    await helmOk("upgrade", release, chart, "-n", releaseNamespace, "--reuse-values", "--set", "replicaCount=1", "--set", "leaderElection.enabled=false")
    const single = await live("deployment", fullname, releaseNamespace)
    expect(single.spec?.replicas).toBe(1)
    expect(single.spec?.strategy?.type).toBe("Recreate")
    expect(operatorContainer(single).env).toContainEqual({ name: "LEADER_ELECT", value: "false" })
    expect(await exists("role", `${fullname}-leader-election`, releaseNamespace)).toBe(false)
  })

  it("helm uninstall removes the operator and its roles, and keeps the CRD and the users' workloads", async () => {
    const applied = await cp.kubectl(["apply", "-n", namespace, "-f", "-"], sampleWorkload("kept"))
    expect(applied.code, applied.stderr).toBe(0)
    const uninstalled = await helmOk("uninstall", release, "-n", releaseNamespace, "--wait")
    expect(uninstalled).toMatch(/kept due to the resource policy:\s*\[CustomResourceDefinition\] batchworkloads\.batch\.example\.com/)
    for (const [kind, name] of [["deployment", fullname], ["serviceaccount", fullname], ["service", `${fullname}-metrics`], ["poddisruptionbudget", fullname]] as const) {
      expect(await exists(kind, name, releaseNamespace), `${kind} ${name}`).toBe(false)
    }
    for (const name of [fullname, `${fullname}-batchworkload-editor`, `${fullname}-batchworkload-viewer`]) {
      expect(await exists("clusterrole", name), name).toBe(false)
    }
    expect(await exists("crd", crdName)).toBe(true)
    expect((await workloads.get("kept")).metadata.name).toBe("kept")
    // With the roles gone, edit no longer grants BatchWorkloads.
    await eventually("edit loses BatchWorkloads", async () => (await canI(editor, "create", namespace)) === "no" || undefined)
  })
})

describe("dist/install.yaml", () => {
  it("is manifests/ as kustomize renders it, and applies on a cluster without the operator", async () => {
    const install = readFileSync(installFile, "utf8")
    // kustomize orders objects by kind; the install file keeps the kustomization's order.
    const byKindAndName = (objects: ReadonlyArray<KubeObject>) => [...objects].sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`))
    expect(byKindAndName(objectsIn(install))).toEqual(byKindAndName(objectsIn(await kubectlOk("kustomize", path.join(repoRoot, "manifests")))))
    // A real apply: the shared cluster has only the CRD (other files' namespaces aside). The
    // operator's namespace is also deploy.test.ts's, which deletes it at its end: wait until it is gone.
    await eventually("no batch-workload-operator-system namespace", async () => (await exists("namespace", "batch-workload-operator-system")) ? undefined : true, 120_000)
    const applied = await cp.kubectl(["apply", "-f", installFile])
    try {
      expect(applied.code, applied.stderr).toBe(0)
      const lines = applied.stdout.trim().split("\n")
      expect(lines).toHaveLength(objectsIn(install).length)
      expect(lines.filter((line) => !line.startsWith(`customresourcedefinition.apiextensions.k8s.io/${crdName} `)).every((line) => line.endsWith(" created")), applied.stdout).toBe(true)
      expect(await exists("deployment", "batch-workload-operator", "batch-workload-operator-system")).toBe(true)
    } finally {
      // Everything but the CRD, which the other files use; waits, so the next file finds the namespace gone.
      const withoutCrd = objectsIn(install).filter((object) => object.kind !== "CustomResourceDefinition").map((object) => stringify(object)).join("---\n")
      await cp.kubectl(["delete", "--ignore-not-found", "--wait=true", "--timeout=120s", "-f", "-"], withoutCrd)
    }
  })
})
