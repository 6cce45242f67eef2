"""(Re)create the example survey-area registry in ``aoi/`` with demo party keys.

    python scripts/seed_aoi.py [--out aoi] [--kolari-shapefile PATH]

The three parties (Japan, the United States, and Finland as a third-country partner) get fresh
Ed25519 key pairs that live only in this process's memory: the public halves are written to
``parties.toml`` marked ``demo_only``, the private halves are discarded when the script ends. So
the committed approvals verify, and nobody can sign anything new with these keys.

The areas lie on real geography and end in a mix of statuses:

* ``mountain-pass`` (US): carbonatite REE, Mountain Pass district, California — agreed;
* ``minamitorishima-ree-mud`` (JP): REE-rich deep-sea mud in Japan's EEZ around Minamitorishima —
  agreed, then amended (longer period, more methods) and re-approved by Japan only: amended;
* ``kolari-iocg`` (FI): the GTK IOCG target area at Kolari, Finland, its outline read from
  ``../shared/data/gtk_lapland_iocg/vector/EIS_IOCG_target_area.shp`` (EPSG:3067) — agreed by all
  three parties;
* ``western-aleutians`` (US): porphyry Cu-Mo along the western Aleutian arc, crossing the
  antimeridian — proposed, approved by the US only;
* ``searles-valley-li`` (US): lithium brine, Searles Valley, California — withdrawn.

Decision content is fixed here, so every run gives the same digests; only keys and signatures change.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from shapely.geometry import Polygon

from geosurvey.aoi import Registry, generate_keypair, normalise_geometry, read_geometry

REPO = Path(__file__).resolve().parents[1]
KOLARI = (
    REPO.parent / "shared" / "data" / "gtk_lapland_iocg" / "vector" / "EIS_IOCG_target_area.shp"
)

PARTIES = [
    {
        "code": "JP",
        "name_en": "Japan",
        "name_ja": "日本",
        "agency": "Geological Survey of Japan, AIST",
        "agency_ja": "産業技術総合研究所 地質調査総合センター",
        "framework": True,
    },
    {
        "code": "US",
        "name_en": "United States",
        "name_ja": "アメリカ合衆国",
        "agency": "U.S. Geological Survey",
        "agency_ja": "米国地質調査所",
        "framework": True,
    },
    {
        "code": "FI",
        "name_en": "Finland",
        "name_ja": "フィンランド",
        "agency": "Geological Survey of Finland (GTK)",
        "agency_ja": "フィンランド地質調査所",
        "framework": False,
        "countries": ["FI"],
    },
]

# The Mountain Pass carbonatite and its alkaline intrusions, Clark Mountain Range, San Bernardino
# County, California (the mine is at about 35.478 N, 115.532 W).
MOUNTAIN_PASS = Polygon(
    [
        (-115.640, 35.420),
        (-115.440, 35.410),
        (-115.420, 35.520),
        (-115.500, 35.580),
        (-115.630, 35.560),
    ]
)


def kolari_outline(shapefile: Path, fallback: Path) -> object:
    """The Kolari target area from GTK's shapefile (EPSG:3067), or the committed copy without it."""
    if shapefile.exists():
        return read_geometry(shapefile, crs="EPSG:3067")
    if fallback.exists():
        print(f"{shapefile} is missing; reusing the outline in {fallback}", file=sys.stderr)
        return Registry(fallback.parent).get("kolari-iocg").geometry
    raise SystemExit(
        f"{shapefile} is missing and there is no {fallback} to reuse; pass --kolari-shapefile"
    )


def seed(out: Path, *, kolari_shapefile: Path = KOLARI) -> Registry:
    """Build the example registry in a temporary folder, then put its files into ``out``."""
    keys = {p["code"]: generate_keypair() for p in PARTIES}
    parties = [{**p, "public_keys": [keys[p["code"]][1]], "demo_only": True} for p in PARTIES]
    kolari, _ = normalise_geometry(
        kolari_outline(kolari_shapefile, out / "kolari-iocg.geojson"), where="Kolari"
    )

    with tempfile.TemporaryDirectory() as tmp:
        reg = Registry.init(Path(tmp) / "aoi", parties=parties)

        def sign(act: str, area: str, party: str, date: str) -> None:
            getattr(reg, act)(area, party=party, private_key=keys[party][0], date=date)

        reg.propose(
            MOUNTAIN_PASS,
            id="mountain-pass",
            name_en="Mountain Pass carbonatite district",
            name_ja="マウンテンパス・カーボナタイト地域",
            region="US",
            commodities=["LREE", "Ce", "La", "Nd", "Pr", "barite"],
            deposit_models=["carbonatite-ree"],
            methods=[
                "airborne-magnetics",
                "airborne-radiometrics",
                "hyperspectral-imagery",
                "geological-mapping",
            ],
            period=("2026-04-01", "2027-03-31"),
            priority="high",
            notes="Bastnäsite-bearing carbonatite and its ultrapotassic intrusions; extensions along strike.",
            proposer="US",
            date="2025-11-05",
        )
        sign("approve", "mountain-pass", "US", "2025-11-06")
        sign("approve", "mountain-pass", "JP", "2025-11-12")

        reg.propose(
            (153.30, 22.60, 154.40, 23.70),
            id="minamitorishima-ree-mud",
            name_en="REE-rich mud south of Minamitorishima",
            name_ja="南鳥島南方レアアース泥海域",
            region="JP",
            commodities=["REE", "HREE", "Dy", "Tb", "Y", "Nd"],
            deposit_models=["seafloor-ree-mud"],
            methods=["bathymetry", "sub-bottom-profiling"],
            period=("2026-06-01", "2027-05-31"),
            priority="high",
            notes="Deep-sea mud (about 5,500–6,000 m) in Japan's EEZ around Minamitorishima (南鳥島).",
            proposer="JP",
            date="2025-11-05",
        )
        sign("approve", "minamitorishima-ree-mud", "JP", "2025-11-07")
        sign("approve", "minamitorishima-ree-mud", "US", "2025-11-19")
        reg.amend(
            "minamitorishima-ree-mud",
            party="JP",
            methods=["bathymetry", "sub-bottom-profiling", "seafloor-sampling"],
            period=("2026-06-01", "2028-05-31"),
            date="2026-02-03",
        )
        sign("approve", "minamitorishima-ree-mud", "JP", "2026-02-04")

        reg.propose(
            kolari,
            id="kolari-iocg",
            name_en="Kolari IOCG target area, Central Lapland",
            name_ja="コラリ IOCG 探査対象地域（中央ラップランド）",
            region="FI",
            commodities=["Cu", "Au", "Co", "Fe"],
            deposit_models=["iocg"],
            methods=[
                "airborne-magnetics",
                "airborne-radiometrics",
                "airborne-em",
                "till-geochemistry",
            ],
            period=("2026-05-15", "2026-10-15"),
            priority="medium",
            notes="Outline: GTK's IOCG target area (EIS Toolkit data, CC BY 4.0, Geological Survey of Finland).",
            proposer="FI",
            date="2025-11-10",
        )
        sign("approve", "kolari-iocg", "FI", "2025-11-10")
        sign("approve", "kolari-iocg", "US", "2025-11-17")
        sign("approve", "kolari-iocg", "JP", "2025-11-18")

        reg.propose(
            (176.00, 50.80, -177.00, 52.40),
            id="western-aleutians",
            name_en="Western Aleutian arc (Rat and Delarof Islands)",
            name_ja="西部アリューシャン弧（ラット諸島・デラロフ諸島）",
            region="US",
            commodities=["Cu", "Mo", "Re", "Au"],
            deposit_models=["porphyry-cu-mo"],
            methods=[
                "airborne-magnetics",
                "multispectral-imagery",
                "marine-magnetics",
                "stream-sediment-geochemistry",
            ],
            period=("2027-06-01", "2027-09-30"),
            priority="low",
            notes="Island-arc porphyry targets; the area crosses the antimeridian (180°).",
            proposer="US",
            date="2025-11-20",
        )
        sign("approve", "western-aleutians", "US", "2025-11-20")

        reg.propose(
            (-117.45, 35.68, -117.28, 35.82),
            id="searles-valley-li",
            name_en="Searles Valley lithium brine",
            name_ja="サールズバレー リチウムかん水",
            region="US",
            commodities=["Li", "B", "potash"],
            deposit_models=["li-brine"],
            methods=["gravity", "magnetotellurics", "drilling"],
            period=("2026-01-15", "2026-12-15"),
            priority="medium",
            proposer="US",
            date="2025-10-20",
        )
        sign("approve", "searles-valley-li", "US", "2025-10-21")
        reg.withdraw(
            "searles-valley-li",
            party="US",
            private_key=keys["US"][0],
            date="2025-11-03",
            reason="superseded by a state-led brine assessment",
        )

        report = reg.validate()
        if not report.ok:
            raise SystemExit(f"the seed registry does not validate:\n{report}")
        out.mkdir(parents=True, exist_ok=True)
        for old in [*out.glob("*.geojson"), out / "parties.toml"]:
            old.unlink(missing_ok=True)
        for path in sorted(reg.path.iterdir()):
            if path.name != ".registry.lock":
                shutil.copy2(path, out / path.name)
    return Registry(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "aoi", help="registry folder to (re)create"
    )
    parser.add_argument(
        "--kolari-shapefile", type=Path, default=KOLARI, help="GTK target-area shapefile"
    )
    args = parser.parse_args(argv)
    reg = seed(args.out, kolari_shapefile=args.kolari_shapefile)
    for area in reg.areas():
        print(
            f"{area.id:<26} {area.status:<9} {area.area_km2:>12,.1f} km²  {area.analysis_crs_string}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
