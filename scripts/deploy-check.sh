#!/bin/sh
# deploy-check.sh -- validates the deployment files offline (make
# deploy-check; also a step of make test): the Dockerfile's hygiene and
# runtime libraries, yamllint on docker-compose.yml and deploy/, `kubectl
# kustomize` of every kustomization, schema + unknown-field + policy +
# reference checks of everything rendered (tests/deploy/k8s-validate.js),
# and `docker-compose config -q` with and without the demo profile, plus
# the compose policy.
#
# It contacts nothing: no cluster, no Docker engine, no registry.
#   sh scripts/deploy-check.sh [DIR]   DIR holds docker-compose.yml, deploy/
#                                      and optionally Dockerfile (default:
#                                      this tree)
# Prints one line per step, the problems found, and "N passed, N failed"
# (steps plus one per rendered object and compose service); exits 1 on any
# failure.
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "${1:-$HERE}" && pwd) || exit 1
KUBECTL=${HERALD_KUBECTL:-kubectl}
VALIDATE=$HERE/tests/deploy/k8s-validate.js
passed=0
failed=0

tmp=$(mktemp -d /tmp/herald-deploy-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
# kubectl reads no kubeconfig and docker-compose talks to no engine
: >"$tmp/kubeconfig"
export KUBECONFIG="$tmp/kubeconfig"
export DOCKER_HOST="unix://$tmp/no-docker.sock"

ok() {
    echo "  ok   $1"
    passed=$((passed + 1))
}
fail() {
    echo "  FAIL $1"
    [ -s "$tmp/out" ] && sed 's/^/    /' "$tmp/out" | head -n 60
    failed=$((failed + 1))
}
# step NAME CMD...: runs CMD with its output in $tmp/out.
step() {
    name=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        ok "$name"
    else
        fail "$name"
    fi
}

echo "== deploy check ($ROOT)"
missing=""
for t in "$KUBECTL" yamllint docker-compose node; do
    command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
[ -d "$HERE/tests/js/node_modules/kubernetes-models" ] ||
    missing="$missing tests/js/node_modules"
if [ -n "$missing" ]; then
    echo "missing:$missing (run sh scripts/deps.sh)" >"$tmp/out"
    fail "tools"
    echo "$passed passed, $failed failed"
    exit 1
fi

# The Dockerfile: pinned base images, apt hygiene, a numeric non-root USER,
# and a runtime package for every library the Makefile links (pkg-config
# -l flags mapped to their Debian packages with dpkg).
dockerfile_check() {
    df=$ROOT/Dockerfile
    [ -f "$df" ] || df=$HERE/Dockerfile
    rc=0
    for image in $(awk '/^FROM /{print $2}' "$df"); do
        case "${image##*/}" in
        *@sha256:*) ;;
        *:latest | *:) echo "$df: FROM $image: pin a version tag"; rc=1 ;;
        *:*) ;;
        *) echo "$df: FROM $image: pin a version tag"; rc=1 ;;
        esac
    done
    if grep -q 'apt-get install' "$df"; then
        n_install=$(grep -c 'apt-get install' "$df")
        n_norec=$(grep -c 'apt-get install -y --no-install-recommends' "$df")
        n_clean=$(grep -c 'rm -rf /var/lib/apt/lists/\*' "$df")
        [ "$n_install" -eq "$n_norec" ] ||
            { echo "$df: apt-get install without -y --no-install-recommends"; rc=1; }
        [ "$n_install" -eq "$n_clean" ] ||
            { echo "$df: apt-get install without rm -rf /var/lib/apt/lists/*"; rc=1; }
    fi
    user=$(grep -E '^USER ' "$df" | tail -n 1 | awk '{print $2}')
    uid=${user%%:*}
    case "$uid" in
    '' | *[!0-9]*) echo "$df: the last USER must be a numeric uid (got '$user')"; rc=1 ;;
    0) echo "$df: USER 0 runs as root"; rc=1 ;;
    esac
    # the runtime stage: from the last FROM on
    awk -v last="$(grep -c '^FROM ' "$df")" '/^FROM /{n++} n==last' "$df" \
        >"$tmp/runtime"
    pkgs=$(sed -n '/^PKGS :=/,/[^\\]$/p' "$HERE/Makefile" | tr -d '\\' | sed 's/^PKGS :=//')
    # shellcheck disable=SC2086
    # libev has no pkg-config file: the Makefile's EXTRA_LIBS
    extra=$(sed -n 's/^EXTRA_LIBS *:= *//p' "$HERE/Makefile")
    for l in $(pkg-config --libs-only-l $pkgs) $extra; do
        f=$(realpath "$(${CC:-cc} -print-file-name="lib${l#-l}.so")")
        deb=$(dpkg -S "$f" 2>/dev/null || dpkg -S "${f#/usr}" 2>/dev/null)
        deb=${deb%%:*}
        if [ -z "$deb" ]; then
            echo "$l: no Debian package owns $f"
            rc=1
        elif ! grep -qw -- "$deb" "$tmp/runtime"; then
            echo "$df: runtime stage does not install $deb (for $l)"
            rc=1
        fi
    done
    # herald-hub loads libwebsockets' libev event-lib plugin at run time
    grep -qw libwebsockets-evlib-ev "$tmp/runtime" || {
        echo "$df: runtime stage does not install libwebsockets-evlib-ev (herald-hub's epoll loop)"
        rc=1
    }
    return $rc
}
step "Dockerfile" dockerfile_check

step "yamllint" yamllint -f parsable -c "$HERE/tests/deploy/yamllint.yaml" \
    "$ROOT/docker-compose.yml" "$ROOT/deploy"

# Render every kustomization (overlays include base and grafana).
rendered=""
for k in $(cd "$ROOT" && find deploy/k8s -name kustomization.yaml | sort); do
    dir=$(dirname "$k")
    out=$tmp/$(echo "$dir" | tr / _).yaml
    if "$KUBECTL" kustomize "$ROOT/$dir" >"$out" 2>"$tmp/out"; then
        ok "kubectl kustomize $dir"
        rendered="$rendered $out"
    else
        fail "kubectl kustomize $dir"
    fi
done

env_file=$ROOT/deploy/compose/herald.env.example
compose() {
    docker-compose --project-directory "$ROOT" --env-file "$env_file" \
        -f "$ROOT/docker-compose.yml" "$@"
}
step "docker-compose config -q" compose config -q
# the demo profile adds services: its resolved file feeds the policy check
compose_args=""
if compose --profile demo config >"$tmp/compose.yaml" 2>"$tmp/out"; then
    ok "docker-compose --profile demo config"
    compose_args="--compose $tmp/compose.yaml"
else
    fail "docker-compose --profile demo config"
fi

# Schemas, unknown fields, policy, references: one test per object.
# shellcheck disable=SC2086
node "$VALIDATE" $rendered $compose_args >"$tmp/validate" 2>&1
rc=$?
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/validate" | tail -n 1)
p=$(echo "$line" | awk '{print $1}')
f=$(echo "$line" | awk '{print $3}')
[ -n "$p" ] || { p=0; f=0; }
[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
passed=$((passed + p))
failed=$((failed + f))
grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/validate" | sed 's/^/    /'
if [ "$f" -eq 0 ]; then
    echo "  ok   manifests and compose services ($p objects)"
else
    echo "  FAIL manifests and compose services ($f of $((p + f)) objects)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
