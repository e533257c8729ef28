#!/usr/bin/env python3
"""The quickinstall action's step summary: a Markdown table from the clients' --json lines.

Arguments come in pairs, `RESULTS.jsonl SECONDS`: one client's JSON lines and the wall time of
that client's run. A result's own `seconds` field is used when the client reports one; else the
run's wall time stands for each of its tools (they install concurrently, so it is an upper
bound). Lines that are not JSON objects are skipped. Prints to stdout; writes nothing else.

`summary.py --annotations RESULTS.jsonl...` prints GitHub workflow commands instead: a
`::warning::` for each tool built from source (no prebuilt) and an `::error::` for each failure.
"""

import json
import sys


def cell(text):
    """A value safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def rows(pairs):
    for path, run_seconds in pairs:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(r, dict):
                    continue
                ok = r.get("ok") is True
                source = r.get("source") if ok else "failed"
                seconds = r.get("seconds", run_seconds)
                yield (r.get("name", "?"), r.get("version") or "-", source or "-", seconds, r.get("error"))


def escape_data(text):
    """A workflow command's message: `%`, CR and LF would end or garble it."""
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def results(paths):
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if isinstance(r, dict):
                    yield r


def annotations(paths):
    for r in results(paths):
        name = r.get("name", "?")
        if r.get("ok") is not True:
            error = r.get("error") or "failed"
            yield f"::error title=quickinstall::{escape_data(f'{name}: {error}')}"
        elif r.get("source") == "fallback":
            version = r.get("version") or ""
            text = f"{name} {version} was built from source: no prebuilt for {r.get('target') or 'this target'}"
            yield f"::warning title=quickinstall::{escape_data(text)}"


def main(argv):
    if argv[:1] == ["--annotations"]:
        for line in annotations(argv[1:]):
            print(line)
        return
    pairs = list(zip(argv[0::2], argv[1::2]))
    table = list(rows(pairs))
    print("### quickinstall")
    print()
    print("| tool | version | source | seconds |")
    print("| --- | --- | --- | ---: |")
    for name, version, source, seconds, _ in table:
        print(f"| {cell(name)} | {cell(version)} | {cell(source)} | {cell(seconds)} |")
    failures = [(name, error) for name, _, source, _, error in table if source == "failed"]
    if failures:
        print()
        for name, error in failures:
            print(f"- **{cell(name)}**: {cell(error or 'failed')}")
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
