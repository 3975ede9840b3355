"""Root pytest configuration: every test run, notebooks included, uses the notebooks' fast mode.

`pytest --nbval-lax` starts each notebook's kernel from this process, so the kernel inherits this
setting. The committed outputs come from full runs (`python -m mnist_course run`), never from here.
"""

import os

os.environ.setdefault("MNIST_COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("GOMP_SPINCOUNT", "30000")  # before torch loads: see mnist_course/__init__.py
