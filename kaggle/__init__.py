"""Kaggle: the notebook (`notebook.py`, standard library only, run as a script), the offline bundle it installs
(`bundle`, with the image's provided packages and their closure in `image`; built by `build_bundle.py`) and the GPU
rehearsal (`rehearse.py`).

A package so that `kaggle.bundle` and `kaggle.image` import from a checkout (build_bundle.py and the tests put the
checkout first on sys.path). There it shadows the PyPI client of the same name, which nothing in this project uses.
May import: `tasks_lib` (the bundle reads `tasks_lib.config.ROOT`); tasks_lib never imports kaggle/.
"""
