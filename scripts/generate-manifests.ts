import { mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { chartCrdPath, chartGeneratedPath, renderChartCrd, renderChartGenerated } from "./chart-yaml.ts"
import { crdPath, renderCrdYaml } from "./crd-yaml.ts"
import { installPath, renderInstallYaml } from "./install-yaml.ts"

// The CRD first: the install file copies manifests/crd.yaml as it is.
const outputs: ReadonlyArray<readonly [string, () => string]> = [
  [crdPath, renderCrdYaml],
  [chartCrdPath, renderChartCrd],
  [chartGeneratedPath, renderChartGenerated],
  [installPath, renderInstallYaml]
]
for (const [path, render] of outputs) {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, render())
  console.log(`wrote ${path}`)
}
