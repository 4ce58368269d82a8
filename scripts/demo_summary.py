"""Prints what the demo copied: documents per collection at source and destination."""

from __future__ import annotations

import sys

from mongodb_common.standin import connect


def main(source_uri: str, destination_uri: str, seconds: str) -> None:
    source, destination = connect(source_uri), connect(destination_uri)
    lines = ["", f"meltano run tap-mongodb target-mongodb finished in {seconds} s:", ""]
    lines.append(f"  {'namespace':<28}{'source':>8}{'copied':>8}")
    for database in sorted(source.list_database_names()):
        for collection in sorted(source[database].list_collection_names()):
            copied = destination[database][collection].count_documents({})
            lines.append(
                f"  {database + '.' + collection:<28}{source[database][collection].count_documents({}):>8}{copied:>8}"
            )
    lines += [
        "",
        "Data lives in .demo/ (the embedded stand-in, for demos and tests only).",
        "Point it at a real MongoDB:",
        "  meltano --environment=prod config tap-mongodb set mongodb_uri 'mongodb://user:pass@host:27017/'",
        "  meltano --environment=prod config target-mongodb set mongodb_uri 'mongodb+srv://...'",
        "  meltano --environment=prod run tap-mongodb target-mongodb",
        "or see docs/quickstart.md.",
        "",
    ]
    sys.stdout.write("\n".join(lines))


if __name__ == "__main__":
    main(*sys.argv[1:4])
