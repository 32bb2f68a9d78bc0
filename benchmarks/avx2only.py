"""Run a command as on a CPU with AVX2 and nothing newer (an ordinary office PC or server), on
a CPU that has more: CPUID is made to fault and is answered without the AVX-512, VNNI, BF16 and
AMX bits (`avx2only.c`, loaded with LD_PRELOAD), so numpy, torch, onnxruntime and `auto`
precision choose what they choose there. Only Python processes are changed (LibreOffice and
Chromium, which tests start, keep their own fault handlers). The cores themselves do not
change: timings show what the AVX2 code paths cost on this CPU, not on an older one.

    python benchmarks/avx2only.py python benchmarks/speed.py
    python benchmarks/avx2only.py python -m pytest -q -p no:faulthandler   # pytest's handler would take the fault

Needs gcc and a CPU and kernel that can make CPUID fault (`cpuid_fault` in /proc/cpuinfo).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "avx2only.c"
LIBRARY = "avx2only.so"  # quality.through_avx2only() looks for this name in LD_PRELOAD


def faults() -> bool:
    """Whether this CPU and kernel can make CPUID fault."""
    try:
        return any(line.startswith("flags") and "cpuid_fault" in line.split()
                   for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines())
    except OSError:
        return False


def main(command: list[str]) -> int:
    if not command:
        print("usage: python benchmarks/avx2only.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if not faults():
        print("avx2only: this CPU or kernel cannot make CPUID fault (no cpuid_fault in /proc/cpuinfo); "
              "run the command on an AVX2-only machine instead", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="avx2only-") as folder:
        library = Path(folder) / LIBRARY
        built = subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(library), str(SOURCE)],
                               capture_output=True, text=True)
        if built.returncode:
            last = (built.stderr.strip().splitlines() or ["no message"])[-1]
            print(f"avx2only: gcc could not build {SOURCE.name}: {last}", file=sys.stderr)
            return 2
        preload = " ".join(filter(None, [str(library), os.environ.get("LD_PRELOAD", "")]))
        return subprocess.run(command, env=dict(os.environ, LD_PRELOAD=preload)).returncode

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
