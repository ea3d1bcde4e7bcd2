#!/usr/bin/env bash
# A stand-in for `glit worker` in the executor tests: the same contract (run line I of RUN/tasks/steps/STEP.txt, write
# its output.json atomically, exit 0; a task with an output exits at once), with the work given by its task.json:
# {"value": any, "sleep": seconds, "fail": true} (fail: exit 1 every time, writing nothing).
set -euo pipefail
[ "$1" = worker ] && [ "$2" = --run ] && [ "$4" = --step ] && [ "$6" = --index ] || { echo "usage: $0 worker --run R --step S --index I" >&2; exit 2; }
run=$3 step=$5 index=$7
id=$(sed -n "$((index + 1))p" "$run/tasks/steps/$step.txt")
dir=$run/tasks/$id
[ -f "$dir/output.json" ] && exit 0
# The claim, as far as the tests need it: one left on another host is never taken over.
if [ -f "$dir/.lock" ] && ! grep -q "\"host\": *\"$(hostname)\"" "$dir/.lock"; then echo "task $id: claimed elsewhere: $(cat "$dir/.lock")"; exit 1; fi
echo "{\"pid\": $$, \"host\": \"$(hostname)\"}" >"$dir/.lock"
spec=$(cat "$dir/task.json")
echo "stand-in worker: task $id (index $index), pid $$"
sleep "$(node -e 'console.log(JSON.parse(process.argv[1]).sleep ?? 0)' "$spec")"
if node -e 'process.exit(JSON.parse(process.argv[1]).fail ? 0 : 1)' "$spec"; then echo "task $id fails" >&2; exit 1; fi
node -e 'console.log(JSON.stringify({ id: process.argv[2], value: JSON.parse(process.argv[1]).value }))' "$spec" "$id" >"$dir/output.json.tmp-$$"
mv "$dir/output.json.tmp-$$" "$dir/output.json"
rm "$dir/.lock"
echo "task $id done"
