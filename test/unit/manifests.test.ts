import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { parseAllDocuments } from "yaml"

const repoFile = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8")

interface DeploymentShape {
  readonly kind?: string
  readonly spec?: {
    readonly replicas?: number
    readonly template?: { readonly spec?: { readonly containers?: ReadonlyArray<{ readonly env?: ReadonlyArray<{ name: string; value?: string }> }> } }
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
