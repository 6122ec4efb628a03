#!/usr/bin/env bash
# Set up, start and stop a stand-alone Postfix instance for the SMTP
# receive benchmark and the relay benchmark (see docs/benchmarks.md).
#
# Usage (as root):
#   scripts/bench-postfix.sh setup [DIR]   # write config + queue under DIR
#   scripts/bench-postfix.sh setup-relay [DIR]  # as setup, plus: relay all
#                                          # remote mail to the bench sink
#   scripts/bench-postfix.sh start [DIR]
#   scripts/bench-postfix.sh stop  [DIR]
#   scripts/bench-postfix.sh reset-mailbox [DIR]
#
# DIR defaults to /tmp/bench-postfix. Everything the script creates lives
# under DIR (config, queue, state), except:
#   - the Unix user `bench` (the local recipient), created if missing;
#   - the mailbox $MAIL_SPOOL/bench (MAIL_SPOOL defaults to /var/mail, the
#     standard Debian mail spool; set MAIL_SPOOL to put it elsewhere, e.g.
#     on the same filesystem as the other server's data dir).
#
# The instance listens only on 127.0.0.1:${PORT:-2526}, accepts mail for
# example.com and localhost, and delivers with the `local` agent into an
# mbox file. Postfix defaults kept: queue file fsynced before 250, mailbox
# fsynced on local delivery. Chroot disabled, DNS and reverse lookups
# disabled, connection/rate limits lifted for loopback, in_flow_delay = 0.
# Logging goes to DIR/maillog only if POSTFIX_LOG=1 (default: no log file;
# on a machine without syslog the log lines are dropped).
#
# setup-relay: mail for other domains goes to relayhost [127.0.0.1]:${SINK_PORT:-2527}
# (where `ferrymail bench relay` starts its sink), over a cached connection
# per smtp process, up to smtp_destination_concurrency_limit = 20 at once
# (the Postfix default, stated explicitly). Clients in mynetworks
# (127.0.0.0/8) may relay without AUTH (permit_mynetworks, the default).
#
# Requires the Debian `postfix` package (installed with "No configuration").
# Note: `postfix` prints its errors only to a terminal (otherwise to syslog);
# if start fails silently, run it under `script -qc` or with POSTFIX_LOG=1.
set -euo pipefail

cmd=${1:-}
DIR=${2:-/tmp/bench-postfix}
PORT=${PORT:-2526}
MAIL_SPOOL=${MAIL_SPOOL:-/var/mail}
CONF="$DIR/etc"

die() { echo "bench-postfix: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
command -v postconf >/dev/null || die "postfix is not installed (apt-get install postfix)"

setup() {
    mkdir -p "$CONF" "$DIR/spool" "$DIR/lib"
    chown postfix:postfix "$DIR/lib" && chmod 700 "$DIR/lib"
    id bench >/dev/null 2>&1 || useradd -m -s /usr/sbin/nologin bench
    mkdir -p "$MAIL_SPOOL"

    # master.cf: start from the packaged one, drop the port-25 listener,
    # add the loopback listener, disable chroot everywhere.
    cp /etc/postfix/master.cf.proto "$CONF/master.cf" 2>/dev/null \
        || cp /usr/share/postfix/master.cf.dist "$CONF/master.cf"
    : > "$CONF/main.cf"
    postconf -c "$CONF" -MX smtp/inet || true
    postconf -c "$CONF" -Me "127.0.0.1:$PORT/inet=127.0.0.1:$PORT inet n - n - - smtpd"
    postconf -c "$CONF" -F '*/*/chroot = n'

    postconf -c "$CONF" -e \
        "compatibility_level = 3.6" \
        "config_directory = $CONF" \
        "queue_directory = $DIR/spool" \
        "data_directory = $DIR/lib" \
        "mail_owner = postfix" \
        "setgid_group = postdrop" \
        "myhostname = bench.test" \
        "mydomain = example.com" \
        "myorigin = example.com" \
        "mydestination = example.com, localhost" \
        "inet_interfaces = 127.0.0.1" \
        "inet_protocols = ipv4" \
        "mynetworks = 127.0.0.0/8" \
        "alias_maps =" \
        "alias_database =" \
        "local_recipient_maps = proxy:unix:passwd.byname" \
        "home_mailbox =" \
        "mailbox_command =" \
        "mail_spool_directory = $MAIL_SPOOL" \
        "mailbox_size_limit = 0" \
        "message_size_limit = 52428800" \
        "biff = no" \
        "relayhost =" \
        "default_process_limit = 100" \
        "smtpd_client_connection_count_limit = 0" \
        "smtpd_client_connection_rate_limit = 0" \
        "smtpd_client_message_rate_limit = 0" \
        "smtpd_client_recipient_rate_limit = 0" \
        "smtpd_client_event_limit_exceptions = 127.0.0.0/8" \
        "local_destination_concurrency_limit = 20" \
        "in_flow_delay = 0s" \
        "smtp_dns_support_level = disabled" \
        "smtpd_peername_lookup = no" \
        "smtpd_tls_security_level = none" \
        "smtp_tls_security_level = none"
    if [ "${POSTFIX_LOG:-0}" = 1 ]; then
        postconf -c "$CONF" -e "maillog_file_prefixes = $DIR" "maillog_file = $DIR/maillog"
    fi
    postfix -c "$CONF" check
    echo "bench-postfix: configured in $CONF (listening on 127.0.0.1:$PORT)"
}

setup_relay() {
    setup
    postconf -c "$CONF" -e \
        "relayhost = [127.0.0.1]:${SINK_PORT:-2527}" \
        "smtp_destination_concurrency_limit = 20"
    postfix -c "$CONF" check
    echo "bench-postfix: relaying remote mail to 127.0.0.1:${SINK_PORT:-2527}"
}

case "$cmd" in
    setup) setup ;;
    setup-relay) setup_relay ;;
    start) postfix -c "$CONF" start ;;
    stop) postfix -c "$CONF" stop ;;
    reset-mailbox)
        : > "$MAIL_SPOOL/bench"
        chown bench:mail "$MAIL_SPOOL/bench"
        chmod 600 "$MAIL_SPOOL/bench" ;;
    *) die "usage: $0 setup|setup-relay|start|stop|reset-mailbox [DIR]" ;;
esac
