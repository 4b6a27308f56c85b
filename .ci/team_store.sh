#!/usr/bin/env bash
# A team's tracking set-up, exercised end to end on one machine (docs/tracking.md "Tracking
# server for many machines"): PostgreSQL from Debian's package in a throwaway cluster, an
# `mlflow server` on it with proxied artifacts, both on 127.0.0.1 only, and a 4-job parallel
# sweep (joblib) into it. Checks that the parent and its 4 children are FINISHED, stored in
# PostgreSQL and listed by the runs search the UI's runs table calls; exits non-zero otherwise.
#
#   .ci/team_store.sh            # as root installs `postgresql` if missing; needs .venv (make test)
#   KEEP=1 .ci/team_store.sh     # keep the temp dir (logs, cluster files) for a look afterwards
#
# Idempotent: every run uses a fresh temp dir and free ports, and stops and removes what it
# started (the cluster, the server, the temp dir) however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
TINY=(dataset=digits 'model.hidden_units=[8]' trainer.epochs=1 tracking.log_model=false
  trainer.verbose=0)
START=$SECONDS

say() { printf '[team_store %3ss] %s\n' "$((SECONDS - START))" "$*"; }
die() { printf 'team_store: FAILED: %s\n' "$*" >&2; exit 1; }

[ -x "$BIN/imgexp" ] || die "$BIN/imgexp not found: build the virtualenv first (make test)"
"$BIN/python" -c 'import hydra_plugins.hydra_joblib_launcher' 2>/dev/null \
  || die "the joblib launcher is missing: $BIN/pip install -e '.[sweep]'"

# --- 1. PostgreSQL binaries (Debian's package), without starting its default cluster ----------
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed: as root, apt-get install postgresql"
  say "installing Debian's postgresql"
  POLICY=/usr/sbin/policy-rc.d
  if [ ! -e "$POLICY" ]; then  # keep the package from starting its own cluster on :5432
    printf '#!/bin/sh\nexit 101\n' >"$POLICY" && chmod +x "$POLICY"
    trap 'rm -f "$POLICY"' EXIT
  fi
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq postgresql >/dev/null
  rm -f "$POLICY"
  trap - EXIT
fi
PG_BIN=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1)
PG_VERSION=$("$PG_BIN/postgres" --version)

# --- 2. The PostgreSQL driver, from the `team` extra of pyproject.toml ------------------------
if ! "$BIN/python" -c 'import psycopg2' 2>/dev/null; then
  DRIVER=$("$BIN/python" -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))
["project"]["optional-dependencies"]["team"])' 2>/dev/null || echo psycopg2-binary)
  say "installing $DRIVER into $BIN"
  read -ra DRIVER <<<"$DRIVER"  # one word per requirement
  timeout 300 "$BIN/pip" install --quiet "${DRIVER[@]}"
fi

# --- 3. Everything below lives in one temp dir, removed at exit -------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imgexp-team-store.XXXXXX")
chmod 755 "$WORK"  # the postgres user reaches its cluster inside
PG=$WORK/pg
mkdir -p "$PG/data" "$PG/sock"
RUN_AS=()
if [ "$(id -u)" = 0 ]; then  # the server refuses to run as root
  chown -R postgres:postgres "$PG"
  RUN_AS=(runuser -u postgres --)
fi
SERVER_PID=
PG_STARTED=
CHILD=
stop_group() {  # TERM a process group, KILL it after 20 s
  kill -TERM -- "-$1" 2>/dev/null || return 0
  for _ in $(seq 1 40); do kill -0 -- "-$1" 2>/dev/null || return 0; sleep 0.5; done
  kill -KILL -- "-$1" 2>/dev/null
}
cleanup() {
  local rc=$?
  set +e
  [ -n "$CHILD" ] && stop_group "$CHILD"  # the sweep, if a signal stopped the script in it
  if [ -n "$SERVER_PID" ]; then
    stop_group "$SERVER_PID"
  fi
  if [ "$rc" != 0 ]; then
    for log in "$WORK/sweep.log" "$WORK/mlflow-server.log" "$PG/postgres.log"; do
      [ -s "$log" ] && { echo "--- tail of $log" >&2; tail -n 40 "$log" >&2; }
    done
  fi
  [ -n "$PG_STARTED" ] && "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG/data" -m fast -w -t 30 stop \
    >/dev/null
  say "stopped the server and the cluster"
  if [ -n "${KEEP:-}" ]; then echo "team_store: kept $WORK" >&2; else rm -rf "$WORK"; fi
  [ "$rc" = 0 ] || echo "team_store: FAILED (exit $rc)" >&2
  exit "$rc"
}
trap cleanup EXIT
# `timeout CMD` runs CMD in its own process group (timeout's pid): started in the background
# and waited for, so that INT/TERM reach the script at once and cleanup stops that group.
bounded() {  # LOG SECONDS CMD...
  local log=$1
  shift
  timeout "$@" >"$log" 2>&1 &
  CHILD=$!
  local rc=0
  wait "$CHILD" || rc=$?
  CHILD=
  return "$rc"
}
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  "$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# --- 4. A throwaway cluster on 127.0.0.1:<free port>, a database and a user -------------------
PG_PORT=$(free_port)
say "$PG_VERSION: initdb in $PG/data, listening on 127.0.0.1:$PG_PORT"
timeout 120 "${RUN_AS[@]}" "$PG_BIN/initdb" -D "$PG/data" -U postgres --auth-local=trust \
  --auth-host=scram-sha-256 -E UTF8 --no-instructions >"$PG/initdb.log"
PG_STARTED=1
timeout 90 "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG/data" -l "$PG/postgres.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG/sock" start >/dev/null
PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
psql() { timeout 60 "${RUN_AS[@]}" "$PG_BIN/psql" -h "$PG/sock" -p "$PG_PORT" -U postgres \
  -v ON_ERROR_STOP=1 -qAt "$@"; }
psql -c "CREATE USER mlflow PASSWORD '$PASSWORD'" -c "CREATE DATABASE mlflow OWNER mlflow"
# The driver named in the URI: SQLAlchemy 2.1 reads a bare postgresql:// as psycopg (3).
DB_URI="postgresql+psycopg2://mlflow:$PASSWORD@127.0.0.1:$PG_PORT/mlflow"

# --- 5. mlflow server on the database, artifacts proxied to a local folder --------------------
PORT=$(free_port)
URI=http://127.0.0.1:$PORT
say "mlflow server on $URI (backend postgresql+psycopg2://mlflow:***@127.0.0.1:$PG_PORT/mlflow)"
# MLflow's own job runner (huey workers, for GenAI features imgexp does not use) stays off.
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$BIN/mlflow" server --backend-store-uri "$DB_URI" \
  --artifacts-destination "$WORK/artifacts" --serve-artifacts \
  --host 127.0.0.1 --port "$PORT" --workers 2 >"$WORK/mlflow-server.log" 2>&1 &
SERVER_PID=$!
"$BIN/python" - "$URI" "$SERVER_PID" <<'EOF' || die "mlflow server did not answer /health"
import os, sys, time, urllib.request
uri, pid = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 180  # the first start creates the schema (alembic migrations)
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("the server exited")
    try:
        if urllib.request.urlopen(f"{uri}/health", timeout=3).read().strip() == b"OK":
            sys.exit(0)
    except OSError:
        pass
    time.sleep(1)
sys.exit("timed out")
EOF
say "server healthy; running the 4-job joblib sweep"

# --- 6. The sweep: 4 parallel jobs, each logging a child run over HTTP ------------------------
export IMGEXP_HOME=$WORK/home KERAS_HOME=$WORK/keras MPLCONFIGDIR=$WORK/matplotlib
export TF_CPP_MIN_LOG_LEVEL=2
unset MLFLOW_TRACKING_URI IMGEXP_PARENT_RUN_ID IMGEXP_SWEEP_NAME MLFLOW_RUN_ID
SWEEP_START=$SECONDS
bounded "$WORK/sweep.log" 900 "$BIN/imgexp" -m hydra/launcher=joblib hydra.launcher.n_jobs=4 \
  "tracking.uri=$URI" "${TINY[@]}" trainer.seed=0,1,2,3 || die "the sweep exited non-zero"
SWEEP_S=$((SECONDS - SWEEP_START))

# --- 7. Checks: the MLflow client, the search the UI's runs table calls, the database ---------
"$BIN/python" - "$URI" <<'EOF'
import json, sys, urllib.request
from mlflow.tracking import MlflowClient

uri = sys.argv[1]
client = MlflowClient(uri)
(experiment,) = [e for e in client.search_experiments() if e.name != "Default"]
runs = client.search_runs([experiment.experiment_id])
(parent,) = [r for r in runs if r.data.tags.get("imgexp.role") == "sweep"]
children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
statuses = sorted(c.info.status for c in children)
assert statuses == ["FINISHED"] * 4, statuses
assert parent.info.status == "FINISHED", parent.info.status
assert parent.data.tags["imgexp.launcher"] == "joblib"
assert parent.data.tags["imgexp.n_jobs"] == "4" and parent.data.tags["imgexp.n_failed"] == "0"
seeds = sorted(c.data.params["trainer.seed"] for c in children)
assert seeds == ["0", "1", "2", "3"], seeds
for child in children:
    assert "val_accuracy" in child.data.metrics, child.info.run_name
    files = {a.path for a in client.list_artifacts(child.info.run_id, "config")}
    assert "config/config.yaml" in files, files  # proxied by the server

# The UI: its page, and the search its runs table sends (ajax-api, as the browser does).
page = urllib.request.urlopen(f"{uri}/", timeout=10).read().decode()
assert "<title>MLflow</title>" in page and "static-files/" in page, page[:200]
body = json.dumps({"experiment_ids": [experiment.experiment_id], "max_results": 100,
                   "order_by": ["attributes.start_time DESC"]}).encode()
listed = {}
for api in ("ajax-api", "api"):
    request = urllib.request.Request(
        f"{uri}/{api}/2.0/mlflow/runs/search", data=body,
        headers={"Content-Type": "application/json"})
    found = json.load(urllib.request.urlopen(request, timeout=10))["runs"]
    listed[api] = {r["info"]["run_id"]: r["info"] for r in found}
assert listed["ajax-api"].keys() == listed["api"].keys() == {r.info.run_id for r in runs}
print(f"experiment {experiment.name!r} (id {experiment.experiment_id}): "
      f"{uri}/#/experiments/{experiment.experiment_id}/runs")
print(f"  parent {parent.info.run_name} {parent.info.status} "
      f"best val_accuracy {parent.data.metrics['best_val_accuracy']:.4f}")
for child in sorted(children, key=lambda c: int(c.data.params["trainer.seed"])):
    info = listed["ajax-api"][child.info.run_id]
    print(f"  child  seed={child.data.params['trainer.seed']} {info['status']} "
          f"val_accuracy {child.data.metrics['val_accuracy']:.4f} {child.info.run_id}")
print(f"  runs search (UI's runs table): {len(listed['ajax-api'])} runs listed")
EOF
IN_DB=$(psql -d mlflow -c "SELECT string_agg(status || '=' || n, ' ') FROM
  (SELECT status, count(*) AS n FROM runs GROUP BY status ORDER BY status) AS counts")
[ "$IN_DB" = "FINISHED=5" ] || die "PostgreSQL holds runs $IN_DB, expected FINISHED=5"
say "PostgreSQL table runs: $IN_DB; artifacts: $(find "$WORK/artifacts" -type f | wc -l) files"
say "OK: 4-job sweep (${SWEEP_S}s) into mlflow server + $PG_VERSION, all FINISHED"
