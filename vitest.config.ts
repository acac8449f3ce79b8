import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"]
        }
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/controlplane/globalSetup.ts"],
          // One shared control plane; files run one at a time so their operators don't compete for 2 cores.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 1_800_000
        }
      }
    ]
  }
})
