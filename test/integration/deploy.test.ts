// The deployment manifests (manifests/), applied with kubectl against the real API server: they
// are valid, their RBAC is least privilege, and the operator works in-cluster with nothing but
// the ServiceAccount's token and the settings of the Deployment.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { deleteNodes, fateAnnotations, repoRoot } from "../controlplane/index.ts"
import {
  buildOperatorBundle,
  core,
  cp,
  createNodes,
  createOwnPod,
  type EnvEntry,
  eventually,
  kubeletEnv,
  type OperatorProcess,
  podsOf,
  startOperator,
  useNamespace,
  workloadApi
} from "./support/operator.ts"

const manifests = path.join(repoRoot, "manifests")
const manifest = (file: string) => path.join(manifests, file)
const operatorNamespace = "batch-workload-operator-system"
const serviceAccount = "batch-workload-operator"
const serviceAccountUser = `system:serviceaccount:${operatorNamespace}:${serviceAccount}`
/** The user manifests/local/ binds the same roles to, for running the operator outside the cluster. */
const localUser = "batch-workload-operator-local"
const leaseName = "batch-workload-operator"

// The workloads of the in-cluster test live in a namespace of their own; the operator's
// namespace is the one the manifests name, created by this file and deleted at its end.
const namespace = useNamespace("deploy")
const workloads = workloadApi(namespace)
const suite = `deploy-${process.pid}`
const nodeNames = [`${suite}-1`, `${suite}-2`]
const tmpDirs: Array<string> = []
const operators: Array<OperatorProcess> = []

const kubectlOk = async (...args: Array<string>) => {
  const result = await cp.kubectl(args)
  if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited with ${result.code}:\n${result.stderr}${result.stdout}`)
  return result
}

/** The operator's namespace, ServiceAccount and RBAC, applied for real from the manifest files. */
const installOperatorIdentity = async () => {
  await kubectlOk("apply", "-f", manifest("namespace.yaml"))
  await kubectlOk("apply", "-f", manifest("serviceaccount.yaml"), "-f", manifest("rbac.yaml"))
}

afterAll(async () => {
  for (const operator of operators) await operator.stop("SIGKILL")
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true })
  // Not `kubectl delete -k manifests/`: that would delete the CRD the other files use.
  await cp.kubectl(["delete", "--ignore-not-found", "--wait=false", "-f", manifest("rbac.yaml"), "-k", path.join(manifests, "local")])
  await cp.kubectl(["delete", "--ignore-not-found", "--wait=false", "-f", manifest("namespace.yaml")])
  await deleteNodes(cp.kubeconfigPath, nodeNames).catch(() => undefined)
})

describe("manifests", () => {
  it("all pass a server-side dry run, and the Deployment meets the restricted Pod Security Standard", async () => {
    // The Namespace alone first: it must be valid before it exists (this file creates it).
    const namespaceDryRun = await cp.kubectl(["apply", "--dry-run=server", "-f", manifest("namespace.yaml")])
    expect(namespaceDryRun.code, namespaceDryRun.stderr).toBe(0)
    expect(namespaceDryRun.stdout).toMatch(`namespace/${operatorNamespace}`)
    // Namespaced objects cannot be dry-run into a namespace that does not exist, so create it for real.
    await kubectlOk("apply", "-f", manifest("namespace.yaml"))

    const dryRun = await cp.kubectl(["apply", "--dry-run=server", "-k", manifests])
    expect(dryRun.code, dryRun.stderr).toBe(0)
    // The namespace carries pod-security.kubernetes.io/enforce=restricted; a Deployment whose
    // pods would violate it gets a "Warning: would violate PodSecurity" on stderr.
    expect(dryRun.stderr).toBe("")
    const applied = dryRun.stdout.trim().split("\n")
    for (const object of [
      `namespace/${operatorNamespace}`,
      "customresourcedefinition.apiextensions.k8s.io/batchworkloads.batch.example.com",
      `serviceaccount/${serviceAccount}`,
      "clusterrole.rbac.authorization.k8s.io/batch-workload-operator",
      "clusterrolebinding.rbac.authorization.k8s.io/batch-workload-operator",
      "role.rbac.authorization.k8s.io/batch-workload-operator-leader-election",
      "rolebinding.rbac.authorization.k8s.io/batch-workload-operator-leader-election",
      "persistentvolumeclaim/batch-workload-operator-reports",
      "clusterrole.rbac.authorization.k8s.io/batch-workload-operator-batchworkload-editor",
      "clusterrole.rbac.authorization.k8s.io/batch-workload-operator-batchworkload-viewer",
      "deployment.apps/batch-workload-operator",
      "service/batch-workload-operator-metrics",
      "service/batch-workload-operator-callback"
    ]) {
      expect(applied.some((line) => line.startsWith(`${object} `) && line.endsWith("(server dry run)")), `${object} in:\n${dryRun.stdout}`).toBe(true)
    }
    expect(applied).toHaveLength(13)

    // The out-of-cluster bindings need the roles (they reference them by name, not by file).
    const local = await cp.kubectl(["apply", "--dry-run=server", "-k", path.join(manifests, "local")])
    expect(local.code, local.stderr).toBe(0)
    expect(local.stdout.trim().split("\n")).toHaveLength(2)
  })
})

/** [verb, resource (with subresource after a slash or a name after a slash for leases), where]. */
type Access = readonly [verb: string, resource: string, scope: "cluster" | "operator-namespace" | "workload-namespace"]

/** Exactly what the operator does with the API. */
const needed: ReadonlyArray<Access> = [
  ...["get", "list", "watch", "patch"].map((verb) => [verb, "batchworkloads.batch.example.com", "cluster"] as const),
  ...["get", "patch"].map((verb) => [verb, "batchworkloads.batch.example.com/status", "cluster"] as const),
  ["update", "batchworkloads.batch.example.com/finalizers", "cluster"],
  ...["get", "list", "watch", "create", "delete"].map((verb) => [verb, "pods", "cluster"] as const),
  ...["get", "list", "watch"].map((verb) => [verb, "nodes", "cluster"] as const),
  ...["create", "patch"].map((verb) => [verb, "events", "cluster"] as const),
  ["create", "tokenreviews.authentication.k8s.io", "cluster"],
  ["create", "leases.coordination.k8s.io", "operator-namespace"],
  ...["get", "update", "patch"].map((verb) => [verb, `leases.coordination.k8s.io/${leaseName}`, "operator-namespace"] as const)
]

/** What it must not be able to do. */
const forbidden: ReadonlyArray<Access> = [
  ...["get", "list", "watch"].map((verb) => [verb, "secrets", "cluster"] as const),
  ["get", "secrets", "operator-namespace"],
  ["create", "pods/exec", "cluster"],
  ["create", "pods/exec", "workload-namespace"],
  ["create", "pods/attach", "cluster"],
  ["create", "pods/eviction", "cluster"],
  ["update", "pods", "cluster"],
  ["patch", "pods", "cluster"],
  ["update", "pods/status", "cluster"],
  ["delete", "nodes", "cluster"],
  ["patch", "nodes", "cluster"],
  ["update", "nodes/status", "cluster"],
  ["create", "batchworkloads.batch.example.com", "cluster"],
  ["update", "batchworkloads.batch.example.com", "cluster"],
  ["delete", "batchworkloads.batch.example.com", "cluster"],
  ["update", "batchworkloads.batch.example.com/status", "cluster"],
  ["get", "configmaps", "cluster"],
  ["create", "serviceaccounts/token", "operator-namespace"],
  ["create", "deployments.apps", "cluster"],
  ["delete", "events", "cluster"],
  ["create", "leases.coordination.k8s.io", "workload-namespace"],
  ["get", "leases.coordination.k8s.io/someone-elses-lease", "operator-namespace"],
  ["update", "leases.coordination.k8s.io/someone-elses-lease", "operator-namespace"],
  ["delete", `leases.coordination.k8s.io/${leaseName}`, "operator-namespace"],
  ["update", "clusterroles.rbac.authorization.k8s.io", "cluster"],
  ["bind", "clusterroles.rbac.authorization.k8s.io", "cluster"],
  ["escalate", "roles.rbac.authorization.k8s.io", "operator-namespace"],
  ["impersonate", "users", "cluster"],
  ["impersonate", "serviceaccounts", "cluster"],
  ["*", "*", "cluster"]
]

/** `kubectl auth can-i` as `user`: "yes" or "no" (anything else, e.g. an error, is returned whole). */
const canI = async (user: string, [verb, resource, scope]: Access) => {
  const [what, sub] = resource.split("/")
  const isSubresource = sub !== undefined && !resource.startsWith("leases")
  const args = [
    "auth", "can-i", verb,
    isSubresource ? what! : resource,
    ...(isSubresource ? [`--subresource=${sub}`] : []),
    `--as=${user}`,
    ...(scope === "cluster" ? ["--all-namespaces"] : ["-n", scope === "operator-namespace" ? operatorNamespace : namespace])
  ]
  const result = await cp.kubectl(args)
  const answer = result.stdout.trim()
  return answer === "yes" || answer === "no" ? answer : `${answer} ${result.stderr} (exit ${result.code})`
}

const checkAccess = async (user: string) => {
  const label = (access: Access) => `${access[0]} ${access[1]} (${access[2]})`
  const allowed = await Promise.all(needed.map(async (access) => [label(access), await canI(user, access)] as const))
  const denied = await Promise.all(forbidden.map(async (access) => [label(access), await canI(user, access)] as const))
  expect(allowed.filter(([, answer]) => answer !== "yes"), "needed but not allowed").toEqual([])
  expect(denied.filter(([, answer]) => answer !== "no"), "allowed but must not be").toEqual([])
}

describe("RBAC", () => {
  it("lets the ServiceAccount do exactly what the operator needs, and nothing on Secrets", async () => {
    await installOperatorIdentity()
    await checkAccess(serviceAccountUser)
  })

  it("gives the same rights to a user outside the cluster through manifests/local/", async () => {
    await installOperatorIdentity()
    expect(await canI(localUser, ["list", "pods", "cluster"])).toBe("no")
    await kubectlOk("apply", "-k", path.join(manifests, "local"))
    await checkAccess(localUser)
  })
})

/** The Deployment's pod template, as manifests/deployment.yaml has it. */
const deploymentPodSpec = () => {
  const documents = parseAllDocuments(readFileSync(manifest("deployment.yaml"), "utf8")).map((document) => document.toJS())
  return documents.find((document) => document?.kind === "Deployment").spec.template.spec
}
const operatorEnvEntries = (podSpec: { containers: Array<{ name: string; env: Array<EnvEntry> }> }) =>
  podSpec.containers.find((container) => container.name === "operator")?.env ?? []

describe("in-cluster mode", () => {
  it("runs a workload with only the ServiceAccount's token, as the Deployment configures it, from the image's bundle", async () => {
    await installOperatorIdentity()
    await createNodes(nodeNames.map((name) => ({ name })))

    // What the kubelet mounts into a pod, under a prefix (SERVICE_ACCOUNT_ROOT).
    const root = mkdtempSync(path.join(os.tmpdir(), "bwo-deploy-sa-"))
    const home = mkdtempSync(path.join(os.tmpdir(), "bwo-deploy-home-"))
    tmpDirs.push(root, home)
    const token = (await kubectlOk("create", "token", serviceAccount, "-n", operatorNamespace, "--duration=1h")).stdout.trim()
    const secrets = path.join(root, "var", "run", "secrets", "kubernetes.io", "serviceaccount")
    mkdirSync(secrets, { recursive: true })
    writeFileSync(path.join(secrets, "token"), token)
    writeFileSync(path.join(secrets, "namespace"), operatorNamespace)
    expect(cp.caPath, "the control plane's CA file").not.toBeNull()
    copyFileSync(cp.caPath!, path.join(secrets, "ca.crt"))

    // The operator's own pod, as the Deployment would make it, which it labels while it leads.
    const ownPod = `batch-workload-operator-${suite}`
    const podSpec = deploymentPodSpec()
    const leaderLabelOf = await createOwnPod(operatorNamespace, ownPod, podSpec, `${suite}-1`)
    const env = kubeletEnv(operatorEnvEntries(podSpec), { "metadata.name": ownPod, "metadata.namespace": operatorNamespace })
    expect(env).toMatchObject({ LEADER_ELECT: "true", LOG_FORMAT: "json", LEADER_LABEL_POD: `${operatorNamespace}/${ownPod}` })
    const operator = startOperator(namespace, [], {
      ...env,
      // The ports are 0 from startOperator's flags (flags win over env), so tests never collide.
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: new URL(cp.server).port,
      SERVICE_ACCOUNT_ROOT: root,
      // Nothing else to find: no $KUBECONFIG (startOperator sets the admin one) and no ~/.kube/config.
      KUBECONFIG: "",
      HOME: home
    }, {}, buildOperatorBundle())
    operators.push(operator)

    await workloads.create("in-cluster", {
      nodeNames,
      image: "busybox",
      batchSize: 1,
      podAnnotations: fateAnnotations("ready", { delayMs: 200 })
    })
    await workloads.waitFor("in-cluster", "Succeeded", (status) => status.phase === "Succeeded").catch((error: unknown) => {
      throw new Error(`${String(error)}\noperator output:\n${operator.output()}`)
    })
    // LEADER_ELECT=true (from the Deployment): it leads through the Lease in its own namespace.
    const holder = await kubectlOk("-n", operatorNamespace, "get", "lease", leaseName, "-o", "jsonpath={.spec.holderIdentity}")
    expect(holder.stdout).toBe(ownPod)
    // Leading, it labels its own pod, which the callback Service selects.
    expect(await leaderLabelOf()).toBe("true")
    const pods = await podsOf(namespace)
    expect(new Set(pods.map((pod) => pod.spec?.nodeName))).toEqual(new Set(nodeNames))
    expect(pods.every((pod) => pod.metadata?.ownerReferences?.[0]?.blockOwnerDeletion === true)).toBe(true)
    const events = await kubectlOk("-n", namespace, "get", "events", "--field-selector", "involvedObject.name=in-cluster", "-o", "jsonpath={.items[*].reason}")
    expect(events.stdout.split(" ")).toEqual(expect.arrayContaining(["Started", "Completed"]))

    // Deletion: pods deleted and the finalizer removed, with the same rights.
    await workloads.remove("in-cluster")
    await eventually("in-cluster gone", async () => {
      const gone = await workloads.get("in-cluster").then(() => false, () => true)
      return gone && (await podsOf(namespace)).length === 0 ? true : undefined
    })

    expect(await operator.stop()).toBe(0)
    expect(await leaderLabelOf()).toBeUndefined()
    await core.deleteNamespacedPod({ name: ownPod, namespace: operatorNamespace, gracePeriodSeconds: 0 })
    expect(operator.output()).not.toMatch(/Forbidden|forbidden/)
    expect(operator.output()).not.toMatch(/Unauthorized/)
  })
})
