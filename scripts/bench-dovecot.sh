#!/usr/bin/env bash
# Set up, start and stop a stand-alone Dovecot instance for the IMAP and
# POP3 benchmarks (see docs/benchmarks.md), and write the matching users file.
#
# Usage (as root):
#   scripts/bench-dovecot.sh setup [DIR]   # config, passwd-file, users file under DIR
#   scripts/bench-dovecot.sh start [DIR]   # dovecot -c DIR/dovecot.conf (no systemd)
#   scripts/bench-dovecot.sh stop  [DIR]
#
# DIR defaults to /tmp/bench-dovecot. Everything the script creates lives
# under DIR, except the Unix user `bench` (owner of the maildirs), created
# if missing.
#
# Settings: listens only on 127.0.0.1:${PORT:-1143} for IMAP,
# 127.0.0.1:${IMAPS_PORT:-1993} for IMAP over implicit TLS and, when
# dovecot-pop3d is installed, 127.0.0.1:${POP3_PORT:-1110} for POP3 (pop3s
# off), plaintext LOGIN and USER/PASS allowed, passdb and userdb from one passwd-file, maildir
# under DIR/home/USER/Maildir. The TLS certificate is a self-signed ECDSA
# P-256 one made by openssl in DIR/tls/cert.pem and key.pem (CN=localhost),
# the kind Ferrymail makes for itself; give Ferrymail these two files too
# ([tls] cert and key) so that TLS costs both servers alike. Dovecot's defaults are kept for everything
# else, fsync (mail_fsync = optimized), the login process model
# (service_count = 1) and no auth cache (auth_cache_size = 0) included; only the per-user+IP connection limit is
# raised so that several bench clients may share an account. AUTH_CACHE=1
# turns Dovecot's auth cache on (auth_cache_size = 10M, auth_cache_ttl = 5 mins,
# the same TTL as Ferrymail's [auth] credential_cache_ttl default).
#
# Accounts: USERS (default 10) accounts user1@example.com ... with password
# PASSWORD (default "bench-pass"), plus big@example.com (same password) for
# the big-folder test; big@ is left out of the users file. The password hashes are ARGON2ID with
# m=19456 KiB, t=2, p=1: the same scheme and parameters Ferrymail uses for
# `account add`, so that LOGIN costs the same hash work on both servers.
# DIR/users holds the `user:password` lines for `ferrymail bench imap --users`
# and `ferrymail bench pop3 --users`.
#
# Requires the Debian packages `dovecot-imapd`, `argon2` and `openssl`;
# `dovecot-pop3d` for POP3 (without it, setup configures IMAP only and says so).
set -euo pipefail

cmd=${1:-}
DIR=${2:-/tmp/bench-dovecot}
PORT=${PORT:-1143}
IMAPS_PORT=${IMAPS_PORT:-1993}
AUTH_CACHE=${AUTH_CACHE:-0}
POP3_PORT=${POP3_PORT:-1110}
USERS=${USERS:-10}
PASSWORD=${PASSWORD:-bench-pass}

die() { echo "bench-dovecot: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
command -v dovecot >/dev/null || die "dovecot is not installed (apt-get install dovecot-imapd)"

setup() {
    command -v argon2 >/dev/null || die "argon2 is not installed (apt-get install argon2)"
    command -v openssl >/dev/null || die "openssl is not installed (apt-get install openssl)"
    id bench >/dev/null 2>&1 || useradd -m -s /usr/sbin/nologin bench
    local uid gid
    uid=$(id -u bench)
    gid=$(id -g bench)
    mkdir -p "$DIR/run" "$DIR/state" "$DIR/home"
    chown bench:bench "$DIR/home"
    : > "$DIR/passwd"
    : > "$DIR/users"
    for i in $(seq 1 "$USERS") big; do
        local user="user$i@example.com" salt hash
        [ "$i" = big ] && user="big@example.com"
        salt=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 16)
        hash=$(printf '%s' "$PASSWORD" | argon2 "$salt" -id -t 2 -k 19456 -p 1 -e)
        echo "$user:{ARGON2ID}$hash:$uid:$gid::$DIR/home/$user::" >> "$DIR/passwd"
        # big@example.com (the big-folder test) stays out of the users file,
        # so the mixed load runs on the USERS accounts only.
        [ "$i" = big ] || echo "$user:$PASSWORD" >> "$DIR/users"
    done
    # Read by the auth process, which runs as the dovecot user.
    chown root:dovecot "$DIR/passwd"
    chmod 640 "$DIR/passwd"
    mkdir -p "$DIR/tls"
    if [ ! -f "$DIR/tls/cert.pem" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -days 365 -subj /CN=localhost \
            -keyout "$DIR/tls/key.pem" -out "$DIR/tls/cert.pem" 2>/dev/null \
            || die "openssl could not make the certificate"
    fi
    # Read by Dovecot's master and by Ferrymail, both started as root here.
    chmod 600 "$DIR/tls/key.pem"
    local auth_cache="auth_cache_size = 0"
    if [ "$AUTH_CACHE" = 1 ]; then
        auth_cache="auth_cache_size = 10M
auth_cache_ttl = 5 mins
auth_cache_negative_ttl = 0"
    fi
    local protocols=imap pop3_service=""
    if [ -x /usr/lib/dovecot/pop3 ]; then
        protocols="imap pop3"
        # POP3 as Ferrymail serves it: UIDL from UID and UIDVALIDITY, one
        # session per mailbox at a time.
        pop3_service="pop3_uidl_format = %08Xu%08Xv
pop3_lock_session = yes
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}"
    else
        echo "bench-dovecot: dovecot-pop3d is not installed; POP3 stays off" >&2
    fi
    cat > "$DIR/dovecot.conf" <<EOF
# Stand-alone Dovecot for the IMAP and POP3 benchmarks; generated by bench-dovecot.sh.
base_dir = $DIR/run
state_dir = $DIR/state
instance_name = bench-dovecot
protocols = $protocols
listen = 127.0.0.1
ssl = yes
ssl_cert = <$DIR/tls/cert.pem
ssl_key = <$DIR/tls/key.pem
disable_plaintext_auth = no
$auth_cache
auth_mechanisms = plain login
log_path = $DIR/dovecot.log
info_log_path = /dev/null
first_valid_uid = $uid
mail_location = maildir:~/Maildir
mail_max_userip_connections = 100000
passdb {
  driver = passwd-file
  args = $DIR/passwd
}
userdb {
  driver = passwd-file
  args = $DIR/passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
}
service imap {
  process_limit = ${IMAP_PROCESS_LIMIT:-1024}
}
$pop3_service
EOF
    echo "bench-dovecot: set up in $DIR ($USERS users, IMAP port $PORT, IMAPS port $IMAPS_PORT, auth cache: $AUTH_CACHE, protocols: $protocols)"
}

start() {
    [ -f "$DIR/dovecot.conf" ] || die "run setup first"
    dovecot -c "$DIR/dovecot.conf"
    for _ in $(seq 1 50); do
        [ -f "$DIR/run/master.pid" ] && break
        sleep 0.1
    done
    echo "bench-dovecot: master pid $(cat "$DIR/run/master.pid")"
}

stop() {
    [ -f "$DIR/run/master.pid" ] || die "not running"
    doveadm -c "$DIR/dovecot.conf" stop
}

case "$cmd" in
    setup) setup ;;
    start) start ;;
    stop) stop ;;
    *) die "usage: $0 setup|start|stop [DIR]" ;;
esac
