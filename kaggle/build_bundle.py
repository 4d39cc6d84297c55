"""Build the offline Kaggle bundle (kaggle/bundle.py): wheels the Kaggle image lacks, the repository, the models.

    python kaggle/build_bundle.py --out dist/arc-ttt-kaggle                # for the image of kaggle/image.toml
    python kaggle/build_bundle.py --out /tmp/b --image-pin transformers==5.25.0   # against another image release
    python kaggle/build_bundle.py --out /tmp/b --models arc-grid-15m       # only the notebook profile's model
    python kaggle/build_bundle.py --out /tmp/b --python-version native     # for this interpreter (the tests)
    python kaggle/build_bundle.py --write-notebook                         # regenerate kaggle/arc-ttt.ipynb
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # kaggle/ is no installed package: the checkout first
from kaggle.bundle import LOCK, MODELS, NOTEBOOK_SCRIPT, BundleError, Target, build_bundle, notebook_json  # noqa: E402
from kaggle.image import IMAGE_FILE, ImageError, ImageSpec, image_closure  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build the folder to upload as a Kaggle dataset (no internet needed to install it)")
    p.add_argument("--out", help="the bundle folder to create (must not exist)")
    p.add_argument("--image", default=str(IMAGE_FILE), help="the file naming what the image provides (default kaggle/image.toml)")
    p.add_argument("--image-pin", action="append", default=[], metavar="NAME==VERSION",
                   help="replace or add one provided pin of the image file (repeatable), e.g. transformers==5.25.0")
    p.add_argument("--python-version", default="",
                   help="target CPython version (default: the image file's `python`); 'native': this interpreter, whose "
                        "own torch, transformers and peft then stand in for the image")
    p.add_argument("--glibc", default="2.35", help="newest manylinux glibc the target has (default 2.35, Ubuntu 22.04)")
    p.add_argument("--arch", default="x86_64", help="target machine (default x86_64)")
    p.add_argument("--models", nargs="+", default=list(MODELS), metavar="NAME",
                   help=f"folders of models/ to ship (default {' '.join(MODELS)}); the kaggle-4xl4 profile's must be one")
    p.add_argument("--no-lock", action="store_true", help=f"download without {LOCK.name}'s pins as constraints")
    p.add_argument("--write-notebook", action="store_true", help="only regenerate kaggle/arc-ttt.ipynb from kaggle/notebook.py")
    args = p.parse_args(argv)
    if args.write_notebook:
        path = NOTEBOOK_SCRIPT.with_name("arc-ttt.ipynb")
        path.write_text(json.dumps(notebook_json(NOTEBOOK_SCRIPT.read_text()), indent=1) + "\n")
        print(f"wrote {path}")
        return 0
    if not args.out:
        p.error("--out is required")
    try:
        spec = ImageSpec.load(Path(args.image), args.image_pin)
        if args.python_version == "native":
            target, spec = Target.native(), ImageSpec.installed(spec.provides)
        else:
            target = Target.linux(args.python_version or spec.python, args.glibc, args.arch)
            if target.python_version != spec.python:
                raise ImageError(f"--python-version {target.python_version}, but {args.image} says the image has Python {spec.python}")
        report = build_bundle(args.out, target, image=image_closure(spec, target), lock=None if args.no_lock else LOCK,
                              models=tuple(args.models))
    except (BundleError, ImageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
