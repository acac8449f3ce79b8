{
  description = "batch-workload-operator: a Kubernetes operator that deploys a workload onto many nodes in batches";

  # There is no flake.lock yet (it could not be made where this file was written): the first
  # `nix build`/`nix run` writes one; commit it.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      packageJson = builtins.fromJSON (builtins.readFile ./package.json);
      packageLock = builtins.fromJSON (builtins.readFile ./package-lock.json);

      # package-lock.json is written with npm's omit-lockfile-registry-resolved=true: its entries have
      # `integrity` but no `resolved`. importNpmLock needs `resolved`: it fetches every package from it
      # (fetchurl, with `integrity` as the hash) and stops at "attribute 'resolved' missing" without it.
      # Rather than rewrite the lock file, the flake fills in the URL npm itself would record: the
      # registry's tarball of that name and version, <registry>/<name>/-/<name without @scope/>-<version>.tgz
      # (an aliased entry has its real name in `name`). Entries that do have `resolved` (a lock written
      # without that setting, git or file dependencies) are left alone. The hashes stay those of the
      # lock file, so there is nothing to update by hand when dependencies change.
      #
      # The project names no registry host in its files, so the registry comes from npm's own
      # setting, NPM_CONFIG_REGISTRY, which a pure evaluation cannot read: build and run with
      #   NPM_CONFIG_REGISTRY=<your npm registry URL> nix run --impure
      # (nix develop needs none of this).
      #
      # Only production dependencies are kept (entries marked dev: true, and devDependencies): the
      # operator runs from src/ with the dependencies alone, as `npm ci --omit=dev` installs them.
      npmRegistry =
        let
          configured = builtins.getEnv "NPM_CONFIG_REGISTRY";
        in
        if configured != "" then
          nixpkgs.lib.removeSuffix "/" configured
        else
          throw "package-lock.json records no download URLs: set NPM_CONFIG_REGISTRY to your npm registry and pass --impure (see flake.nix)";
      filterAttrs =
        keep: attrs:
        builtins.listToAttrs (
          builtins.concatMap (
            name:
            if keep name attrs.${name} then
              [
                {
                  inherit name;
                  value = attrs.${name};
                }
              ]
            else
              [ ]
          ) (builtins.attrNames attrs)
        );
      nameAt = path: module: module.name or (builtins.head (builtins.match ".*node_modules/(.+)" path));
      withResolved =
        path: module:
        if path == "" || module ? resolved || (module.link or false) then
          module
        else
          let
            name = nameAt path module;
          in
          module // { resolved = "${npmRegistry}/${name}/-/${baseNameOf name}-${module.version}.tgz"; };
      productionPackageJson = builtins.removeAttrs packageJson [ "devDependencies" ];
      productionPackageLock = packageLock // {
        packages = builtins.mapAttrs withResolved (
          filterAttrs (path: module: !(module.dev or false)) (
            packageLock.packages // { "" = builtins.removeAttrs packageLock.packages."" [ "devDependencies" ]; }
          )
        );
      };

      operatorFor =
        pkgs:
        let
          nodejs = pkgs.nodejs_24;
        in
        pkgs.buildNpmPackage {
          pname = "batch-workload-operator";
          version = packageJson.version;
          src = pkgs.lib.fileset.toSource {
            root = ./.;
            fileset = pkgs.lib.fileset.unions [
              ./package.json
              ./package-lock.json
              ./scripts/bundle.sh
              ./src
            ];
          };
          inherit nodejs;
          npmDeps = pkgs.importNpmLock {
            npmRoot = ./.;
            package = productionPackageJson;
            packageLock = productionPackageLock;
          };
          npmConfigHook = pkgs.importNpmLock.npmConfigHook;
          # The build is scripts/bundle.sh (one JavaScript file, as in the image), with nixpkgs'
          # esbuild: the npm one is a devDependency, left out of productionPackageJson.
          dontNpmBuild = true;
          nativeBuildInputs = [ pkgs.makeWrapper pkgs.esbuild ];
          installPhase = ''
            runHook preInstall
            sh scripts/bundle.sh
            app=$out/lib/batch-workload-operator
            mkdir -p $app $out/bin
            cp dist/operator.mjs $app/
            makeWrapper ${nodejs}/bin/node $out/bin/batch-workload-operator \
              --add-flags "--max-semi-space-size=1 --optimize-for-size $app/operator.mjs" \
              --set-default NODE_ENV production
            # kubectl bwl, bundled by the same script; on PATH as kubectl-bwl, kubectl finds it.
            cp dist/kubectl-bwl.mjs $app/
            makeWrapper ${nodejs}/bin/node $out/bin/kubectl-bwl \
              --add-flags "$app/kubectl-bwl.mjs" \
              --set-default NODE_ENV production
            runHook postInstall
          '';
          meta = {
            description = packageJson.description;
            mainProgram = "batch-workload-operator";
            platforms = nodejs.meta.platforms;
          };
        };
    in
    {
      packages = forAllSystems (pkgs: {
        default = operatorFor pkgs;
        batch-workload-operator = operatorFor pkgs;
      });

      # `nix run`: the operator against the current kubeconfig ($KUBECONFIG or ~/.kube/config),
      # e.g. `nix run . -- --namespace my-team --log-format pretty`.
      # `nix run .#kubectl-bwl -- status my-workload --watch`: the kubectl plugin, from the same package.
      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${pkgs.stdenv.hostPlatform.system}.default}/bin/batch-workload-operator";
          meta.description = "Run the operator against the current kubeconfig";
        };
        kubectl-bwl = {
          type = "app";
          program = "${self.packages.${pkgs.stdenv.hostPlatform.system}.default}/bin/kubectl-bwl";
          meta.description = "kubectl bwl: status, plan, pause, resume, retry, logs and history of BatchWorkloads";
        };
      });

      # `nix develop`: Node 24 for the operator and its tests; Go (>= 1.26, for etcd v3.6.16) and
      # openssl for the test control plane (test/controlplane/); kubectl for manifests/.
      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.nodejs_24
            pkgs.kubectl
            (pkgs.go_1_26 or pkgs.go)
            pkgs.openssl
          ];
        };
      });
    };
}
