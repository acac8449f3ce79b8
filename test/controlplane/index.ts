// The test control plane's public API. See README.md in this directory.
export {
  startControlPlane,
  freePort,
  appendPodLog,
  defaultStagesFile,
  quietHeartbeatStagesFile,
  podLogPath,
  kwokNodeLeaseDurationSeconds,
  kcmNodeMonitorGracePeriodSeconds,
  type ControlPlane, type ControlPlaneOptions, type RestartOptions } from "./controlPlane.ts"
export {
  createFakeNodes,
  deleteNodes,
  patchNode,
  patchNodeLabels,
  setNodeReady,
  waitForNodeReady,
  takeNodeLease,
  releaseNodeLease,
  cutOffNode,
  makeNodeUnreachable,
  bringNodeBack,
  setPodReady,
  freezePod,
  podReadyStatus,
  nodeLeaseNamespace,
  harnessLeaseHolder,
  fakeNodeManifest,
  nodeReadyStatus,
  loadKubeConfig,
  kwokNodeAnnotation,
  type FakeNodeSpec,
  type KubeconfigLike
} from "./nodes.ts"
export { boundPodToken, kubectl, kubectlOk, type KubectlOptions, type KubectlResult } from "./kubectl.ts"
export { ensureBinaries, resolveClientTool, resolveKubectl, repoRoot } from "./binaries.ts"
export { startProcess, type ManagedProcess } from "./process.ts"
export * from "./fates.ts"
