#!/bin/sh
# cli_help.sh: every option --help prints is in the man page, and every option the man page
# documents is in --help, for ceoprofd(8) and ceoprof(1); every subcommand has its usage.
. "$(dirname "$0")/lib.sh"
CEOPROF="$top_builddir/ceoprof"

options() {  # the distinct --long options in a text on stdin
  sed 's/\\-/-/g' | grep -o -- '--[a-z][a-z-]*' | sort -u
}
check_pair() {  # NAME HELP-FILE MAN-FILE
  options <"$2" >"$WORK/$1.help"
  options <"$3" >"$WORK/$1.man"
  if ! cmp -s "$WORK/$1.help" "$WORK/$1.man"; then
    diff "$WORK/$1.help" "$WORK/$1.man" || true
    die "$1: --help and the man page list different options (< --help, > man page)"
  fi
  echo "$1: $(wc -l <"$WORK/$1.help") options agree"
}
"$CEOPROFD" --help >"$WORK/d.txt"
check_pair ceoprofd "$WORK/d.txt" "$top_srcdir/man/ceoprofd.8"
"$CEOPROF" --help >"$WORK/c.txt"
check_pair ceoprof "$WORK/c.txt" "$top_srcdir/man/ceoprof.1"
for cmd in attach record report status detach push; do
  "$CEOPROF" "$cmd" --help >"$WORK/$cmd.txt" || die "ceoprof $cmd --help failed"
  grep -q "^ceoprof $cmd" "$WORK/$cmd.txt" || die "ceoprof $cmd --help lacks its usage"
  grep -q "\\.B $cmd" "$top_srcdir/man/ceoprof.1" || die "ceoprof.1 lacks $cmd"
done
for fn in $(sed -n 's/^CEOPROF_EXTERN [a-z0-9_ *]*\(ceoprof_[a-z_]*\)(.*/\1/p' "$top_srcdir/client/ceoprof.h"); do
  grep -q "^\.B.* $fn(\|\"$fn(\|^$fn" "$top_srcdir/man/ceoprof.3" || grep -q "$fn" "$top_srcdir/man/ceoprof.3" ||
    die "ceoprof.3 does not document $fn"
done
# Help for a command that does not exist is an error, not an empty page.
rc=0; "$CEOPROF" help bogus >"$WORK/bogus.out" 2>"$WORK/bogus.err" || rc=$?
[ "$rc" = 2 ] || die "ceoprof help bogus returned $rc"
grep -q "no command 'bogus'" "$WORK/bogus.err" || die "unclear: $(cat "$WORK/bogus.err")"
echo ok
