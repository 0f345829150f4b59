#!/usr/bin/env bash
# Regenerates gen/*_pb.ts from the .proto files (protoc from Debian's protobuf-compiler, the plugin
# from npm). test/iccp-codec.test.ts fails when gen/ drifts from what this writes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../gen}"
root="$here/../../../.."
protoc --plugin=protoc-gen-es="$root/node_modules/.bin/protoc-gen-es" --es_out="$out" \
  --es_opt=target=ts,import_extension=js -I "$here" "$here/config.proto" "$here/peer.proto"
