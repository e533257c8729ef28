#!/usr/bin/env bash
# Uploads the index's archives to GitHub Releases, one release per package version, within the
# API budget (about 1,000 requests an hour per repository):
# - the releases and their assets are listed once (paginated, 100 a page);
# - a missing release is created with all its files in one `gh release create`;
# - an asset that exists is never replaced: names are content-addressed
#   (`<name>-<version>-<target>-<sha256 prefix>.tar.gz`), so an existing name holds these bytes;
# - every call is retried on 403/429/5xx (rate limits, outages) with exponential backoff.
#
# Usage: github-releases.sh SITE_DIR REPO NOTES
# Then removes SITE_DIR/archives (archives are served from Releases, not from Pages).
set -euo pipefail

site="$1" repo="$2" notes="$3"

# gh with retries on rate limits and server errors; other failures are final.
gh_retry() {
    local attempt out
    for attempt in 1 2 3 4 5; do
        if out="$(gh "$@" 2>&1)"; then
            printf '%s\n' "$out"
            return 0
        fi
        if ! grep -qE 'HTTP (403|429|5[0-9][0-9])|rate limit' <<<"$out"; then
            printf '%s\n' "$out" >&2
            return 1
        fi
        echo "gh $1: $(head -n1 <<<"$out"); retrying in $((attempt * attempt * 10))s" >&2
        sleep $((attempt * attempt * 10))
    done
    printf '%s\n' "$out" >&2
    return 1
}

if [ ! -d "$site/archives" ]; then echo "no archives to upload"; exit 0; fi

existing="$(mktemp)"
# One line per release (`tag/`) and per asset (`tag/name`).
# shellcheck disable=SC2016 # a jq program, not shell
gh_retry api --paginate "repos/$repo/releases?per_page=100" \
    --jq '.[] | .tag_name as $t | "\($t)/", (.assets[] | "\($t)/\(.name)")' > "$existing"

# archives/<kind>/<name…>/<version>/<file>: group files by release tag `<name>-<version>`, the
# name with `/` as `+` (Go module paths), as `publish --archive-base` writes `{name}`.
declare -A files_of=()
while IFS= read -r -d '' archive; do
    rel="${archive#"$site"/archives/}"
    rel="${rel#*/}"
    dir="$(dirname "$rel")"
    version="$(basename "$dir")"
    name="$(dirname "$dir")"
    tag="${name//\//+}-$version"
    if grep -qxF "$tag/$(basename "$archive")" "$existing"; then continue; fi
    files_of["$tag"]+="$archive"$'\n'
done < <(find "$site/archives" -name '*.tar.gz' -print0)

for tag in "${!files_of[@]}"; do
    mapfile -t files < <(printf '%s' "${files_of[$tag]}")
    if grep -qxF "$tag/" "$existing"; then
        gh_retry release upload "$tag" "${files[@]}" --repo "$repo" >/dev/null
    else
        gh_retry release create "$tag" "${files[@]}" --repo "$repo" --latest=false \
            --title "$tag" --notes "$notes" >/dev/null
    fi
    echo "uploaded ${#files[@]} archive(s) to $tag"
done
rm -rf "$site/archives"
