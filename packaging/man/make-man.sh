#!/bin/bash
# SPDX-License-Identifier: MIT
# Man pages from the same text as --help (help2man): synack(1) and synack-SUBCOMMAND(1) for
# every subcommand `synack --help` lists, each with common.h2m (exit status, files, environment,
# examples, see also) and, when it exists, SUBCOMMAND.h2m. Writes OUTDIR/*.1.gz and OUTDIR/stamp.
#   make-man.sh SYNACK OUTDIR SRCDIR
set -euo pipefail
synack=$1 out=$2 src=$3
mkdir -p "$out"
rm -f "$out"/*.1 "$out"/*.1.gz "$out"/*.h2m "$out"/stamp

# CLI11's help lists subcommands under "SUBCOMMANDS:" (or "Subcommands:"), one per line.
mapfile -t lines < <("$synack" --help | awk 'tolower($0) ~ /^subcommands:/ {f=1; next}
                                            f && /^  [a-z]/ {print; next} f && !/^ / {f=0}')
if [ ${#lines[@]} -eq 0 ]; then
  echo "make-man.sh: no subcommands found in '$synack --help'" >&2
  exit 1
fi

see_also=".BR synack (1)"
for line in "${lines[@]}"; do
  sub=$(awk '{print $1}' <<<"$line")
  see_also+=", .BR synack-$sub (1)"
done
# One SEE ALSO entry per line for groff.
printf '[SEE ALSO]\n%s\n' "$(sed 's/, /,\n/g' <<<"$see_also")" > "$out/see-also.h2m"

h2m() {  # NAME-LINE OUTFILE HELP-OPTION [INCLUDE...]
  local name=$1 file=$2 help=$3; shift 3
  local inc=(--include="$src/common.h2m" --include="$out/see-also.h2m")
  for i in "$@"; do [ -f "$i" ] && inc+=(--include="$i"); done
  help2man --no-info --no-discard-stderr --section=1 --source="synack" --manual="synack manual" \
    --name="$name" --help-option="$help" --version-option=--version "${inc[@]}" \
    --output="$file" "$synack"
}

h2m "a user-space TCP/IP stack (RFC 9293) and tools to watch TCP at work" "$out/synack.1" \
    --help "$src/synack.h2m"
for line in "${lines[@]}"; do
  sub=$(awk '{print $1}' <<<"$line")
  desc=$(sed -E 's/^ +[^ ]+ +//' <<<"$line")
  [ -n "$desc" ] && [ "$desc" != "$sub" ] || desc="synack $sub"
  h2m "$desc" "$out/synack-$sub.1" "$sub --help" "$src/$sub.h2m"
  # help2man names the page after the program (SYNACK); this page is synack-SUB.
  sed -i -E "s/^\.TH SYNACK /.TH SYNACK-${sub^^} /; s/^synack \\\\- /synack-$sub \\\\- /" \
    "$out/synack-$sub.1"
done
for page in "$out"/*.1; do
  grep -q '^\.SH "EXIT STATUS"' "$page" || { echo "make-man.sh: $page lacks EXIT STATUS" >&2; exit 1; }
  gzip -9nf "$page"
done
touch "$out/stamp"
