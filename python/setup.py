"""Builds h4mk._h4mk against the static libh4mk that CMake installed.

The library is found with pkg-config in H4MK_PREFIX (default: the
repository's build/prefix, which scripts/build.sh installs); it is linked
statically, so the installed package needs nothing from the build tree.
"""
import glob
import os
import shlex
import subprocess

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
prefix = os.environ.get("H4MK_PREFIX", os.path.join(here, "..", "build", "prefix"))
pc_path = os.path.join(prefix, "lib", "pkgconfig")
if not os.path.isfile(os.path.join(pc_path, "h4mk.pc")):
    raise SystemExit(f"h4mk: no libh4mk in {prefix} (run scripts/build.sh, or set H4MK_PREFIX)")
env = dict(os.environ, PKG_CONFIG_PATH=pc_path)


def pkg_config(*args):
    out = subprocess.run(["pkg-config", *args, "h4mk-adapters", "h4mk"], env=env, check=True,
                         capture_output=True, text=True).stdout
    return shlex.split(out)


# The module's sources compile on every core (one at a time took minutes of
# scripts/setup.sh); H4MK_BUILD_JOBS overrides the count.
ParallelCompile("H4MK_BUILD_JOBS", default=0).install()

cflags = pkg_config("--cflags")
libdir = os.path.join(prefix, "lib")
# The static archives (the adapter runtime, then the library), then what
# they need (Libs.private and Requires.private).
libs = [os.path.join(libdir, "libh4mk-adapters.a"), os.path.join(libdir, "libh4mk.a")] + [
    f for f in pkg_config("--static", "--libs")
    if f not in ("-lh4mk", "-lh4mk-adapters") and not f.startswith("-L")
]

setup(
    ext_modules=[
        Pybind11Extension(
            "h4mk._h4mk",
            sorted(glob.glob(os.path.join("src", "*.cpp"))),
            cxx_std=20,
            extra_compile_args=cflags,
            # libh4mk's symbols stay inside the module, and its debug
            # information out of the installed package (symbols stay, for
            # backtraces).
            extra_link_args=libs + ["-Wl,--exclude-libs,ALL", "-Wl,--strip-debug"],
        )
    ],
)
