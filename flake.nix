{
  description = "effect-kafka-pipeline: a dev shell with Node 24, Java 17, Maven and kcat";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      devShells = forAll (pkgs: {
        # `nix develop`, then the README's commands. npm still installs the `node` dev
        # dependency (Node 24) that the npm scripts run; this Node is for npm itself.
        default = pkgs.mkShell {
          packages = [
            pkgs.nodejs_24
            pkgs.jdk17_headless # the local Kafka broker (scripts/kafka.sh)
            pkgs.maven # fetches the broker jars from Maven Central (pom.xml)
            pkgs.kcat # an independent Kafka client, used by the e2e tests
          ];
        };
      });
    };
}
