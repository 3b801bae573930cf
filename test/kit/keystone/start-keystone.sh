#!/usr/bin/env bash
# Starts a throw-away Keystone (the Debian python3-keystone package) on 127.0.0.1, on a port the kernel
# picks (port 0), with everything (keystone.conf, SQLite database, fernet and credential keys, WSGI
# module, log) under <dir>.
#
#   start-keystone.sh <dir> [admin-password]
#
# Sets up the database and keys, bootstraps the `admin` user (project `admin`, region RegionOne) and then
# execs gunicorn in the foreground: its pid is this script's pid, so stop it with SIGTERM. gunicorn logs
# the address it bound, `Listening at: http://127.0.0.1:<port>`: read the port there. Keystone answers
# GET http://127.0.0.1:<port>/v3 once its workers have booted. The catalog has no identity endpoints
# (their URL needs the port): register them over the API if a test needs them.
# Needs: apt-get install -y --no-install-recommends python3-keystone python3-gunicorn
set -euo pipefail

dir=${1:?usage: start-keystone.sh <dir> [admin-password]}
admin_password=${2:-admin}
# The system Python: keystone is installed for /usr/bin/python3 only (not for a pyenv python3 on PATH).
python=/usr/bin/python3
manage=/usr/bin/keystone-manage

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
mkdir -p "$dir/fernet-keys" "$dir/credential-keys"
chmod 700 "$dir/fernet-keys" "$dir/credential-keys"
conf="$dir/keystone.conf"
user=$(id -un)
group=$(id -gn)

cat >"$conf" <<CONF
[DEFAULT]
debug = False
use_stderr = True

[database]
connection = sqlite:///$dir/keystone.sqlite

[token]
provider = fernet
expiration = 3600

[fernet_tokens]
key_repository = $dir/fernet-keys

[credential]
key_repository = $dir/credential-keys

[identity]
# bcrypt's default cost makes every password authentication take a quarter of a second; a test needs no more.
password_hash_rounds = 4
CONF

"$manage" --config-file "$conf" db_sync
# Without WAL, concurrent writes of the gunicorn workers fail with "database is locked".
"$python" - "$dir/keystone.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute('PRAGMA journal_mode=WAL')
db.close()
PY
"$manage" --config-file "$conf" fernet_setup --keystone-user "$user" --keystone-group "$group"
"$manage" --config-file "$conf" credential_setup --keystone-user "$user" --keystone-group "$group"
"$manage" --config-file "$conf" bootstrap \
  --bootstrap-password "$admin_password" \
  --bootstrap-region-id RegionOne

cat >"$dir/keystone_wsgi.py" <<'PY'
"""WSGI entry point of the test Keystone: oslo.config must not parse gunicorn's command line."""
import sys

sys.argv = sys.argv[:1]

from keystone.server import wsgi  # noqa: E402

application = wsgi.initialize_public_application()
PY

export OS_KEYSTONE_CONFIG_FILES="$conf"
cd "$dir"
exec "$python" -m gunicorn \
  --bind 127.0.0.1:0 \
  --workers 2 \
  --timeout 60 \
  --graceful-timeout 2 \
  --chdir "$dir" \
  --pythonpath "$dir" \
  keystone_wsgi:application
