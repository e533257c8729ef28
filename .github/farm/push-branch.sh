#!/usr/bin/env bash
# Commits everything in a checked-out branch directory and pushes it, fetching and rebasing on
# a rejected push (another workflow pushed meanwhile), up to five times.
# Usage: push-branch.sh DIR BRANCH MESSAGE
set -euo pipefail
dir="$1" branch="$2" message="$3"
cd "$dir"
git add --all
if git diff --cached --quiet; then echo "$branch unchanged"; exit 0; fi
git commit --quiet -m "$message"
for attempt in 1 2 3 4 5; do
    if git push --quiet origin "HEAD:$branch"; then exit 0; fi
    echo "push to $branch rejected (attempt $attempt); rebasing on the remote" >&2
    sleep $((attempt * 5))
    if git fetch --quiet origin "$branch"; then
        git rebase --quiet "origin/$branch"
    fi
done
echo "could not push $branch after 5 attempts" >&2
exit 1
