"""Extension modules only; all metadata lives in pyproject.toml.

Environment toggles (documented in README.md):
  FASTRNN_NO_OPENMP=1            build serial kernels (no -fopenmp)
  FASTRNN_CYTHON_DEBUG=1         bounds checks and wraparound back on
  FASTRNN_EXTRA_COMPILE_ARGS     extra compiler flags, e.g. "-march=native"
  FASTRNN_KERNELS                comma list of kernels to build (development only)
"""

import glob
import os
import shlex
import sys
import sysconfig

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

KERNELS = ["_info", "linalg", "optim", "rnn", "lstm", "gru", "generate"]


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def openmp_flags() -> tuple[list[str], list[str]]:
    """Compile and link flags for OpenMP, or none when disabled or unsupported."""
    if _flag("FASTRNN_NO_OPENMP"):
        return [], []
    if sys.platform == "win32":
        return ["/openmp"], []
    if (
        sys.platform == "darwin"
    ):  # Apple clang needs -Xpreprocessor + libomp; opt in via env
        return [], []
    return ["-fopenmp"], ["-fopenmp"]


def extensions() -> list[Extension]:
    compile_args, link_args = openmp_flags()
    if sys.platform != "win32":
        # -fno-trapping-math lets gcc if-convert and vectorise the gate loops (we never
        # rely on floating-point exceptions)
        # -fno-wrapv undoes CPython's -fwrapv, under which gcc refuses to vectorise the
        # integer exponent arithmetic of fr_expf (fastrnn_math.h); no kernel relies on
        # signed overflow wrapping
        compile_args = ["-O3", "-fno-wrapv", "-fno-trapping-math", *compile_args]
        if "gcc" in (os.environ.get("CC") or sysconfig.get_config_var("CC") or ""):
            # gcc gives up vectorising a gate loop that reads/writes more than 10
            # pointers unless it may emit more runtime overlap checks (one per row)
            compile_args.append("--param=vect-max-version-for-alias-checks=200")
    compile_args += shlex.split(os.environ.get("FASTRNN_EXTRA_COMPILE_ARGS", ""))
    only = [k for k in os.environ.get("FASTRNN_KERNELS", "").split(",") if k]
    return [
        Extension(
            f"fastrnn._kernels.{name}",
            [f"fastrnn/_kernels/{name}.pyx"],
            include_dirs=[numpy.get_include(), "fastrnn/_kernels"],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            depends=glob.glob("fastrnn/_kernels/*.pxd")
            + glob.glob("fastrnn/_kernels/*.h"),
        )
        for name in KERNELS
        if not only or name in only
    ]


debug = _flag("FASTRNN_CYTHON_DEBUG")
directives = {
    "language_level": 3,
    "boundscheck": debug,
    "wraparound": debug,
    "initializedcheck": debug,
    "cdivision": True,
    "embedsignature": True,
}

setup(ext_modules=cythonize(extensions(), compiler_directives=directives, nthreads=2))
