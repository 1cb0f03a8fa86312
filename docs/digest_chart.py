"""Draw the README's picture of the digest's charts (docs/digest-chart.png) from the fixed
week of tests/review_log.py: the chart the TA channel gets (questions per day against last
week).

    python docs/digest_chart.py [--out docs/digest-chart.png]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.core import make_service  # noqa: E402
from tests.review_log import NOW, write_review_log  # noqa: E402


async def draw(out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        service = make_service(Path(folder), clock=lambda: NOW)
        write_review_log(service.store)  # type: ignore[arg-type]
        digest = await service.build_digest("ml")
    if digest.chart_png is None:
        raise SystemExit("error: no chart drawn: pip install '.[charts]'")
    out.write_bytes(digest.chart_png)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "digest-chart.png")
    asyncio.run(draw(parser.parse_args().out))


if __name__ == "__main__":
    main()
