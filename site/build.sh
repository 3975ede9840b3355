#!/usr/bin/env bash
# Build the course website from the committed, already executed notebooks and the README
# (nothing is re-executed). Needs `pip install -r requirements-site.txt`.
#   bash site/build.sh            -> site/_build/html/index.html
# Any Sphinx warning (a missing page, image or link target) fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf site/_build
jupyter-book build . --config site/_config.yml --toc site/_toc.yml --path-output site -W --keep-going "$@"
