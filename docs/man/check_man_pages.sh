#!/usr/bin/env bash
# check_man_pages.sh PAGE...: each rendered page formats with man(1) without a
# warning, and its NAME section names the page: what `man -l` shows a user.
set -euo pipefail
status=0
for page in "$@"; do
  name=$(basename "$page"); name=${name%.*}
  out=$(MANWIDTH=80 MAN_KEEP_FORMATTING=0 man --warnings -l "$page" 2>&1 >/dev/null) || {
    echo "FAIL: man -l $page failed: $out"; status=1; continue; }
  if [ -n "$out" ]; then echo "FAIL: man -l $page warned: $out"; status=1; continue; fi
  text=$(MANWIDTH=80 man -l "$page" 2>/dev/null | col -b)
  grep -q "^NAME" <<<"$text" && grep -q "^       $name - " <<<"$text" ||
    { echo "FAIL: $page has no NAME line for $name"; status=1; continue; }
  echo "ok: $page"
done
exit $status
