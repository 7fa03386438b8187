#!/usr/bin/env bash
# Generates the Python gRPC stubs for proto/pktpool/v1/pktpool.proto with Debian's protoc
# and grpc_python_plugin (packages protobuf-compiler, protobuf-compiler-grpc).
#
#   client/python/generate.sh [OUTPUT_DIR]     # default: client/python/gen
#
# Writes OUTPUT_DIR/pktpool/v1/pktpool_pb2.py and pktpool_pb2_grpc.py (with __init__.py
# files, so `from pktpool.v1 import pktpool_pb2` works with OUTPUT_DIR on sys.path).
# Idempotent: rerunning replaces the stubs; files are generated aside and moved in place.
set -euo pipefail

usage() { sed -n '2,9s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in -h|--help) usage; exit 0 ;; esac
if [ $# -gt 1 ]; then usage >&2; exit 2; fi

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$here/gen}
for tool in /usr/bin/protoc /usr/bin/grpc_python_plugin; do
  if [ ! -x "$tool" ]; then
    echo "generate.sh: $tool is missing (run scripts/install-deps.sh)" >&2
    exit 1
  fi
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
staging=$(mktemp -d "$out/.generate.XXXXXX")
trap 'rm -rf "$staging"' EXIT

/usr/bin/protoc -I "$repo/proto" -I /usr/include \
  --python_out="$staging" --grpc_out="$staging" \
  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin \
  "$repo/proto/pktpool/v1/pktpool.proto"
touch "$staging/pktpool/__init__.py" "$staging/pktpool/v1/__init__.py"

mkdir -p "$out/pktpool/v1"
for file in pktpool/__init__.py pktpool/v1/__init__.py pktpool/v1/pktpool_pb2.py \
            pktpool/v1/pktpool_pb2_grpc.py; do
  mv -f "$staging/$file" "$out/$file"
done
echo "generated $out/pktpool/v1/pktpool_pb2.py and pktpool_pb2_grpc.py"
