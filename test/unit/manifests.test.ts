import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { parseAllDocuments } from "yaml"

const repoFile = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8")

interface DeploymentShape {
  readonly kind?: string
  readonly spec?: {
    readonly replicas?: number
    readonly template?: {
      readonly spec?: {
        readonly containers?: ReadonlyArray<{
          readonly env?: ReadonlyArray<{ name: string; value?: string }>
          readonly volumeMounts?: ReadonlyArray<{ name: string; mountPath: string }>
        }>
        readonly volumes?: ReadonlyArray<{ name: string; persistentVolumeClaim?: { claimName: string } }>
      }
    }
  }
}

const deployment = (): DeploymentShape | undefined =>
  parseAllDocuments(repoFile("manifests/deployment.yaml"))
    .map((document): DeploymentShape => document.toJS())
    .find((document) => document.kind === "Deployment")

describe("deployment manifest", () => {
  it("runs two replicas with leader election, as the README says", () => {
    const spec = deployment()?.spec
    assert.strictEqual(spec?.replicas, 2)
    const env = spec?.template?.spec?.containers?.[0]?.env ?? []
    // Without leader election, two replicas would both act on every workload.
    assert.deepInclude(env, { name: "LEADER_ELECT", value: "true" })
    assert.include(repoFile("README.md"), "(two replicas with leader election")
  })
})

describe("report storage", () => {
  it("the report directory is a PersistentVolumeClaim the kustomization installs, mounted at REPORT_DIR", () => {
    const pod = deployment()?.spec?.template?.spec
    const container = pod?.containers?.[0]
    const reportDir = container?.env?.find((env) => env.name === "REPORT_DIR")?.value
    const mount = container?.volumeMounts?.find((m) => m.mountPath === reportDir)
    const volume = pod?.volumes?.find((v) => v.name === mount?.name)
    const claim = parseAllDocuments(repoFile("manifests/pvc.yaml")).map((document): { kind?: string; metadata?: { name?: string } } => document.toJS())[0]
    assert.strictEqual(claim?.kind, "PersistentVolumeClaim")
    assert.strictEqual(volume?.persistentVolumeClaim?.claimName, claim?.metadata?.name)
    assert.include(repoFile("manifests/kustomization.yaml"), "  - pvc.yaml\n")
  })
})
