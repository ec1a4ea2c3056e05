# Bounded session log: tmux's pipe-pane feeds a pane's output here (sh logpipe.sh LOG MAX_BYTES).
# split cuts the stream into MAX_BYTES pieces and writes each through as it arrives. The first piece
# is appended to LOG (which a new agent's start has just begun: see outputlog.start_new); each later
# piece starts a new LOG and moves the previous one to LOG.1 (one generation kept), so a log stays
# bounded whether or not trails' supervisor is running.
umask 077  # the log sits in TRAILS_HOME: the owner's alone
export LOG="$1" SHELL=/bin/sh
exec split -a 12 -b "$2" --filter='case "$FILE" in
    *aaaaaaaaaaaa) exec cat >> "$LOG" ;;
    *) mv -f "$LOG" "$LOG.1"; exec cat > "$LOG" ;;
esac' -
