"""Build the offline Kaggle bundle (tasks_lib/bundle.py): wheels the Kaggle image lacks, the repository, the models.

    python kaggle/build_bundle.py --out dist/arc-ttt-kaggle                # for the Kaggle GPU image (CPython 3.12)
    python kaggle/build_bundle.py --out /tmp/b --python-version native     # for this interpreter (the tests)
    python kaggle/build_bundle.py --write-notebook                         # regenerate kaggle/arc-ttt.ipynb
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runs from anywhere, without an install
from tasks_lib.bundle import KAGGLE, NOTEBOOK_SCRIPT, BundleError, Target, build_bundle, notebook_json  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build the folder to upload as a Kaggle dataset (no internet needed to install it)")
    p.add_argument("--out", help="the bundle folder to create (must not exist)")
    p.add_argument("--python-version", default=KAGGLE.python_version,
                   help=f"target CPython version (default {KAGGLE.python_version}, the Kaggle image's); 'native': this interpreter")
    p.add_argument("--glibc", default="2.35", help="newest manylinux glibc the target has (default 2.35, Ubuntu 22.04)")
    p.add_argument("--arch", default="x86_64", help="target machine (default x86_64)")
    p.add_argument("--write-notebook", action="store_true", help="only regenerate kaggle/arc-ttt.ipynb from kaggle/notebook.py")
    args = p.parse_args(argv)
    if args.write_notebook:
        path = NOTEBOOK_SCRIPT.with_name("arc-ttt.ipynb")
        path.write_text(json.dumps(notebook_json(NOTEBOOK_SCRIPT.read_text()), indent=1) + "\n")
        print(f"wrote {path}")
        return 0
    if not args.out:
        p.error("--out is required")
    target = Target.native() if args.python_version == "native" else Target.linux(args.python_version, args.glibc, args.arch)
    try:
        report = build_bundle(args.out, target)
    except BundleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
