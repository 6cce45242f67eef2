"""The survey portal: one static site for every survey area and the runs published for them.

:func:`publish_site` reads what :func:`geosurvey.runner.run` wrote (``score.tif``,
``evidence/*.tif``, ``report.json``, ``manifest.json``, ``outputs/catalog.json``, and where present
``uncertainty.tif``, ``targets.gpkg``, ``data/faults.geojson``, ``data/occurrences.geojson``) and
the registry, and writes::

    SITE/index.html, index.ja.html          every area: overview map by status, table, links
    SITE/areas/<area>/index(.ja).html        the area and its runs
    SITE/areas/<area>/<recipe>/index(.ja).html   a run: summary, plots, downloads, map links
    SITE/areas/<area>/<recipe>/map(.ja).html     its web maps (tiles beside them when large)
    SITE/areas/<area>/<recipe>/files/            the downloads (copies of the run's outputs)
    SITE/.geosurvey-site.json                what each page was built from (rebuild only changes)

Every link is relative, so the site works from ``file://`` and from any static web server. Pages
are written by hand with every user string escaped (:func:`html.escape`), never through a
template engine; folder names are validated ids only (area and recipe ids, ``[a-z0-9-]``).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from geosurvey.errors import InputError, MissingInputError, OutputError
from geosurvey.i18n import LANGUAGES, TEXT, Language, japanese_font
from geosurvey.io import atomic_write_bytes, atomic_write_text, output_folder

__all__ = ["RunOutputs", "SiteResult", "publish_site", "read_run"]

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
_STATE = ".geosurvey-site.json"
_STATUS_COLOURS = {
    "agreed": "#1a9641",
    "proposed": "#f29e0c",
    "amended": "#d7191c",
    "withdrawn": "#8c8c8c",
    "closed": "#8c8c8c",
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _slug(value: object, *, what: str, where: Path) -> str:
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise InputError(
            f"{where}: {what} {value!r} is not a valid id (1–64 lower-case letters, digits and "
            "hyphens); the portal names folders after ids only: fix the run's report.json"
        )
    return value


@dataclass(frozen=True)
class RunOutputs:
    """What one run wrote, as the portal reads it.

    Attributes
    ----------
    folder
        The run's output folder.
    area_id, recipe_id
        Validated ids (they name the site's folders).
    report
        ``report.json``.
    """

    folder: Path
    area_id: str
    recipe_id: str
    report: Mapping[str, Any] = field(repr=False)

    @property
    def key(self) -> str:
        """``<area>/<recipe>``: where the run goes in the site."""
        return f"{self.area_id}/{self.recipe_id}"

    def files(self) -> list[tuple[str, Path]]:
        """``(name in the site, source file)`` of every download, in a fixed order."""
        out = []
        for name in (
            "score.tif",
            "uncertainty.tif",
            "report.json",
            "manifest.json",
            "targets.gpkg",
        ):
            if (self.folder / name).is_file():
                out.append((name, self.folder / name))
        for path in sorted((self.folder / "evidence").glob("*.tif")):
            out.append((f"evidence/{path.name}", path))
        return out

    def digest(self) -> str:
        """A digest of everything the run's pages are built from (contents of the JSON files,
        size and modification time of the rasters and other files)."""
        h = hashlib.sha256()
        for name, path in self.files():
            h.update(name.encode())
            if path.suffix == ".json":
                h.update(path.read_bytes())
            else:
                stat = path.stat()
                h.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
        for sub in ("data/faults.geojson", "data/occurrences.geojson", "outputs/catalog.json"):
            p = self.folder / sub
            if p.is_file():
                h.update(sub.encode() + p.read_bytes())
        return h.hexdigest()


def read_run(folder: str | Path) -> RunOutputs:
    """Read a run's output folder (its ``report.json`` and ``score.tif`` must exist).

    Raises
    ------
    MissingInputError
        The folder, its ``report.json`` or its ``score.tif`` is missing.
    InputError
        ``report.json`` is not JSON or lacks the area or recipe id.
    """
    folder = Path(folder)
    report_path = folder / "report.json"
    if not folder.is_dir():
        raise MissingInputError(f"run folder {folder} does not exist; give the OUT folder of a run")
    if not report_path.is_file() or not (folder / "score.tif").is_file():
        raise MissingInputError(
            f"{folder} is not a run's output folder (report.json or score.tif missing); give the "
            "OUT folder that geosurvey run wrote"
        )
    try:
        report = json.loads(report_path.read_text("utf-8"))
        area_id = report["area"]["id"]
        recipe_id = report["recipe"]["id"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise InputError(
            f"{report_path} is not a run report (JSON with area.id and recipe.id): {exc}"
        ) from exc
    return RunOutputs(
        folder=folder,
        area_id=_slug(area_id, what="area id", where=report_path),
        recipe_id=_slug(recipe_id, what="recipe id", where=report_path),
        report=report,
    )


@dataclass(frozen=True)
class SiteResult:
    """What :func:`publish_site` did.

    Attributes
    ----------
    index
        The site's English index page.
    built, skipped
        The runs (``<area>/<recipe>``) whose pages were (re)built, or left as they were because
        nothing they are made from changed.
    removed
        Runs of an earlier build that are no longer published (their folders were removed).
    catalogs
        Each run's output STAC catalogue in the site.
    """

    index: Path
    built: tuple[str, ...]
    skipped: tuple[str, ...]
    removed: tuple[str, ...]
    catalogs: tuple[Path, ...]


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------

_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans CJK JP", "Hiragino Sans",
  Meiryo, sans-serif; margin: 0; color: #1d2329; background: #f6f7f9; }
header { background: #17324d; color: #fff; padding: 14px 24px; display: flex;
  justify-content: space-between; align-items: baseline; flex-wrap: wrap; gap: 8px; }
header h1 { font-size: 21px; margin: 0; }
header a { color: #cfe6ff; }
main { max-width: 1100px; margin: 0 auto; padding: 12px 24px 40px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #dde1e6;
  vertical-align: top; }
th { background: #eef1f4; }
.status { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff;
  font-size: 13px; }
.overview { width: 100%; height: 440px; border: 1px solid #cdd3da; background: #fff; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.plots figure { margin: 0; background: #fff; border: 1px solid #dde1e6; padding: 6px; }
.plots img { width: 340px; height: auto; display: block; }
.thumb { max-width: 320px; border: 1px solid #cdd3da; background: #fff; }
footer { color: #667; font-size: 12px; padding: 20px 24px; }
"""


def _page_name(base: str, lang: Language) -> str:
    return f"{base}.html" if lang == "en" else f"{base}.{lang}.html"


def _page(
    *, lang: Language, title: str, body: str, switch_to: str, up: tuple[str, str] | None
) -> str:
    """A complete page: escaped title, a language switch, optional link up, the body."""
    from geosurvey import __version__

    text = TEXT[lang]
    up_link = f'<a class="back" href="{_e(up[0])}">{_e(up[1])}</a> · ' if up else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{_e(title)}</h1><nav>{up_link}"
        f'<a class="lang-switch" href="{_e(switch_to)}" hreflang="{"ja" if lang == "en" else "en"}">'
        f"{_e(text['lang_switch'])}</a></nav></header>\n"
        f"<main>\n{body}\n</main>\n"
        f"<footer>{_e(text['generated'].format(version=__version__))}</footer>\n"
        "</body>\n</html>\n"
    )


def _status_badge(status: str, lang: Language) -> str:
    colour = _STATUS_COLOURS.get(status, "#555")
    label = TEXT[lang].get(f"status_{status}", status)
    return (
        f'<span class="status status-{_e(status)}" style="background:{colour}">{_e(label)}</span>'
    )


def _area_name(row: Mapping[str, Any], lang: Language) -> str:
    for key in (f"name_{lang}", "name_en", "name_ja", "id"):
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return str(row.get("id"))


def _listed(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return ", ".join(p.strip() for p in str(value).split(",") if p.strip())


def _parties(row: Mapping[str, Any]) -> str:
    required = _listed(row.get("required_parties"))
    if required:
        return required
    approvals = row.get("approvals")
    if isinstance(approvals, str):
        try:
            approvals = json.loads(approvals)
        except json.JSONDecodeError:
            approvals = []
    return ", ".join(sorted({str(a.get("party")) for a in approvals or [] if isinstance(a, dict)}))


# --------------------------------------------------------------------------------------------
# Plots (matplotlib, per language)
# --------------------------------------------------------------------------------------------


def _cjk_font() -> tuple[str, ...]:
    """Font families for the plots: a Japanese-capable one first when the system has one."""
    font = japanese_font()
    return ("DejaVu Sans",) if font is None else (font, "DejaVu Sans")


def _plots(score: Mapping[str, Any], lang: Language, folder: Path) -> dict[str, str]:
    """Success-rate, ROC and capture plots of a run's score evaluation as PNGs in ``folder``.

    The ROC curve is drawn from the success-rate curve: with occurrences a vanishing share of
    the pixels, the false-positive rate at a threshold equals the share of the area above it
    (the success-rate curve is the ROC curve of occurrence cells against all cells).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    text = TEXT[lang]
    out: dict[str, str] = {}
    curve = score.get("success_rate_curve") or {}
    area = curve.get("area_fraction") or []
    captured = curve.get("occurrences_captured") or []
    auc = score.get("roc_auc")
    with matplotlib.rc_context({"font.family": list(_cjk_font()), "font.size": 10}):
        if area and captured:
            for key, xlabel, ylabel in (
                ("plot_success", text["axis_area"], text["axis_captured"]),
                ("plot_roc", text["axis_fpr"], text["axis_tpr"]),
            ):
                fig, ax = plt.subplots(figsize=(4.2, 3.6), dpi=110)
                ax.plot(area, captured, color="#c2185b", lw=2, drawstyle="steps-post",
                        label=f"{text['roc_auc']} = {auc:.3f}" if auc is not None else None)  # fmt: skip
                ax.plot([0, 1], [0, 1], color="#888", ls="--", lw=1, label=text["random"])
                ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel=xlabel, ylabel=ylabel,
                       title=text[key])  # fmt: skip
                ax.legend(loc="lower right", fontsize=9)
                ax.grid(alpha=0.3)
                fig.subplots_adjust(left=0.17, bottom=0.15, right=0.97, top=0.9)
                name = f"{key.removeprefix('plot_')}.{lang}.png"
                fig.savefig(folder / name)
                plt.close(fig)
                out[key] = name
        table = score.get("capture_table") or score.get("capture") or {}
        shares = sorted(
            (float(k.removeprefix("top_").removesuffix("pct")) / 100, float(v))
            for k, v in table.items()
            if v is not None
        )
        if shares:
            fig, ax = plt.subplots(figsize=(4.2, 3.6), dpi=110)
            labels = [f"{100 * s:g}%" for s, _ in shares]
            ax.bar(labels, [v for _, v in shares], color="#1976d2", label=text["axis_captured"])
            ax.plot(labels, [s for s, _ in shares], "k--", marker="o", lw=1, label=text["random"])
            ax.set(ylim=(0, 1.02), xlabel=text["axis_top"], ylabel=text["axis_captured"],
                   title=text["plot_capture"])  # fmt: skip
            ax.legend(loc="upper left", fontsize=9)
            fig.subplots_adjust(left=0.17, bottom=0.15, right=0.97, top=0.9)
            name = f"capture.{lang}.png"
            fig.savefig(folder / name)
            plt.close(fig)
            out["plot_capture"] = name
    return out


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------


def _read_vectors(path: Path):
    import geopandas as gpd

    if not path.is_file():
        return None
    frame = gpd.read_file(path)
    return frame if len(frame) else None


def _run_maps(run: RunOutputs, work: Path, *, area: Any, survey_areas: Any) -> None:
    """The run's web maps, one per language, from its COGs and vectors."""
    from geosurvey.io import read_raster
    from geosurvey.publish._webmap import save_web_map, web_map

    folder = run.folder
    score = read_raster(folder / "score.tif", chunks=1024)
    order = list(run.report.get("recipe", {}).get("layers") or [])
    paths = {p.stem: p for p in (folder / "evidence").glob("*.tif")}
    names = [n for n in order if n in paths] + sorted(set(paths) - set(order))
    layers = {name: read_raster(paths[name], chunks=1024) for name in names}
    uncertainty = (
        read_raster(folder / "uncertainty.tif", chunks=1024)
        if (folder / "uncertainty.tif").is_file()
        else None
    )
    faults = _read_vectors(folder / "data" / "faults.geojson")
    occurrences = _read_vectors(folder / "data" / "occurrences.geojson")
    targets = _read_vectors(folder / "targets.gpkg")
    attribution = str(score.attrs.get("source") or "") or None
    report_area = run.report.get("area", {})
    recipe = run.report.get("recipe", {})
    for lang in LANGUAGES:
        title = _area_name(report_area, lang)  # type: ignore[arg-type]
        # the score's legend says which recipe made it, in words (not its internal layer names)
        recipe_title = (recipe.get("title_ja") if lang == "ja" else None) or recipe.get("title")
        m = web_map(
            score,
            lang=lang,  # type: ignore[arg-type]
            title=title,
            area=area,
            faults=faults,
            occurrences=occurrences,
            targets=targets,
            survey_areas=survey_areas,
            layers=layers,
            uncertainty=uncertainty,
            attribution=attribution,
            titles={"score": str(recipe_title)} if recipe_title else None,
        )
        save_web_map(m, work / _page_name("map", lang))  # type: ignore[arg-type]


def _run_page(
    run: RunOutputs, lang: Language, plots: Mapping[str, str], files: Sequence[tuple[str, int]]
) -> str:
    text = TEXT[lang]
    report = run.report
    recipe = report.get("recipe", {})
    recipe_title = (
        recipe.get("title_ja")
        if lang == "ja" and recipe.get("title_ja")
        else recipe.get("title", run.recipe_id)
    )
    score = report.get("score") or {}
    rows = [
        (text["status"], _status_badge(str(report.get("area", {}).get("status", "")), lang)),
        (text["recipe"], _e(f"{recipe_title} ({run.recipe_id})")),
        (text["method"], _e(recipe.get("method", ""))),
    ]
    if score.get("roc_auc") is not None:
        ci = score.get("roc_auc_ci") or []
        ci_text = f" ({ci[0]:.3f}–{ci[1]:.3f})" if len(ci) == 2 and None not in ci else ""
        rows.append((text["roc_auc"], _e(f"{score['roc_auc']:.3f}{ci_text}")))
    summary = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    evidence = report.get("evidence") or {}
    ev_rows = "".join(
        f"<tr><td>{_e(info.get('long_name') or name)}</td><td>{_e(info.get('units', ''))}</td>"
        f"<td>{_e(info.get('why', ''))}</td><td>{_e(info.get('roc_auc', ''))}</td></tr>"
        for name, info in evidence.items()
        if isinstance(info, dict)
    )
    evidence_table = (
        f"<table class='evidence'><tr><th>{_e(text['col_layer'])}</th>"
        f"<th>{_e(text['col_units'])}</th><th>{_e(text['col_why'])}</th>"
        f"<th>{_e(text['roc_auc'])}</th></tr>{ev_rows}</table>"
        if ev_rows
        else ""
    )
    figures = "".join(
        f'<figure><img src="{_e(name)}" alt="{_e(text[key])}"><figcaption>{_e(text[key])}'
        "</figcaption></figure>"
        for key, name in plots.items()
    )

    def label(name: str) -> str:
        if name == "score.tif":
            return text["download_score"]
        if name == "report.json":
            return text["download_report"]
        if name == "manifest.json":
            return text["download_manifest"]
        if name == "targets.gpkg":
            return text["download_targets"]
        if name == "uncertainty.tif":
            return text["uncertainty"]
        return text["download_layer"].format(name=Path(name).stem)

    downloads = "".join(
        f'<tr><td><a href="files/{_e(quote(name))}" download>{_e(label(name))}</a></td>'
        f"<td>{_e(name)}</td><td>{size / 1e6:.2f} MB</td></tr>"
        for name, size in files
    )
    downloads += (
        f'<tr><td><a href="files/outputs/catalog.json">{_e(text["download_catalog"])}</a></td>'
        "<td>outputs/catalog.json</td><td></td></tr>"
    )
    body = (
        f'<p><a class="map-link" href="{_page_name("map", lang)}">{_e(text["link_map"])}</a></p>'
        f'<img class="thumb" src="thumbnail.png" alt="{_e(text["score"])}">'
        f"<table class='summary'>{summary}</table>"
        f"<h2>{_e(text['plots'])}</h2><div class='plots'>{figures}</div>"
        f"{evidence_table}"
        f"<h2>{_e(text['downloads'])}</h2><table class='downloads'><tr><th>{_e(text['file'])}</th>"
        f"<th></th><th>{_e(text['size'])}</th></tr>{downloads}</table>"
    )
    return _page(
        lang=lang,
        title=f"{_area_name(report.get('area', {}), lang)} — {recipe_title}",
        body=body,
        switch_to=_page_name("index", "ja" if lang == "en" else "en"),  # type: ignore[arg-type]
        up=(f"../{_page_name('index', lang)}", _area_name(report.get("area", {}), lang)),
    )


def _build_run(run: RunOutputs, target: Path, *, area: Any, survey_areas: Any) -> None:
    """Write one run's folder of the site, all-or-nothing."""
    from geosurvey.io import read_raster
    from geosurvey.publish._raster import raster_image

    with output_folder(target, overwrite=True) as work:
        files = work / "files"
        (files / "evidence").mkdir(parents=True)
        sizes = []
        for name, path in run.files():
            shutil.copy2(path, files / name)
            sizes.append((name, path.stat().st_size))
        if (run.folder / "outputs").is_dir():
            shutil.copytree(run.folder / "outputs", files / "outputs")
        score = run.report.get("score") or {}
        plots = {lang: _plots(score, lang, work) for lang in LANGUAGES}  # type: ignore[arg-type]
        thumb = raster_image(read_raster(run.folder / "score.tif", chunks=1024), max_pixels=320)
        atomic_write_bytes(work / "thumbnail.png", thumb.png)
        _run_maps(run, work, area=area, survey_areas=survey_areas)
        for lang in LANGUAGES:
            atomic_write_text(
                work / _page_name("index", lang),  # type: ignore[arg-type]
                _run_page(run, lang, plots[lang], sizes),  # type: ignore[arg-type]
            )


# --------------------------------------------------------------------------------------------
# Index and area pages
# --------------------------------------------------------------------------------------------


def _index_page(
    rows: Sequence[Mapping[str, Any]],
    runs: Mapping[str, list[RunOutputs]],
    lang: Language,
    has_map: bool,
) -> str:
    text = TEXT[lang]
    lines = []
    for row in rows:
        area_id = row["id"]
        commodities = row.get(f"commodities_{lang}") or _listed(row.get("commodities"))
        if runs.get(area_id):
            results = " · ".join(
                f'<a href="areas/{area_id}/{r.recipe_id}/{_page_name("index", lang)}">'
                f'{_e(r.recipe_id)}</a> (<a href="areas/{area_id}/{r.recipe_id}/'
                f'{_page_name("map", lang)}">{_e(text["link_map"])}</a>)'
                for r in runs[area_id]
            )
        else:
            results = _e(text["not_run"])
        lines.append(
            f'<tr data-area="{_e(area_id)}"><td><a href="areas/{area_id}/{_page_name("index", lang)}">'
            f"{_e(_area_name(row, lang))}</a><br><small>{_e(area_id)}</small></td>"
            f"<td>{_status_badge(str(row.get('status', '')), lang)}</td>"
            f"<td>{_e(commodities)}</td><td>{_e(_parties(row))}</td><td>{results}</td></tr>"
        )
    overview = (
        f'<h2>{_e(text["overview"])}</h2><iframe class="overview" title="{_e(text["overview"])}" '
        f'src="{_page_name("overview", lang)}"></iframe>'
        if has_map
        else ""
    )
    body = (
        f"<p>{_e(text['portal_intro'])}</p>{overview}"
        f"<h2>{_e(text['survey_areas'])}</h2><table class='areas'><tr>"
        f"<th>{_e(text['col_area'])}</th><th>{_e(text['col_status'])}</th>"
        f"<th>{_e(text['col_commodities'])}</th><th>{_e(text['col_parties'])}</th>"
        f"<th>{_e(text['col_results'])}</th></tr>{''.join(lines)}</table>"
    )
    return _page(
        lang=lang,
        title=text["portal_title"],
        body=body,
        switch_to=_page_name("index", "ja" if lang == "en" else "en"),  # type: ignore[arg-type]
        up=None,
    )


def _area_page(row: Mapping[str, Any], runs: Sequence[RunOutputs], lang: Language) -> str:
    text = TEXT[lang]
    commodities = row.get(f"commodities_{lang}") or _listed(row.get("commodities"))
    facts = [
        ("ID", _e(row["id"])),
        (text["name_en"], _e(row.get("name_en") or "")),
        (text["name_ja"], _e(row.get("name_ja") or "")),
        (text["status"], _status_badge(str(row.get("status", "")), lang)),
        (text["commodities"], _e(commodities)),
        (text["deposit_models"], _e(_listed(row.get("deposit_models")))),
        (text["col_parties"], _e(_parties(row))),
        (text["notes"], _e(row.get("notes") or "")),
    ]
    table = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in facts)
    items = (
        "".join(
            f'<li><a href="{r.recipe_id}/{_page_name("index", lang)}">{_e(r.recipe_id)}</a> — '
            f'<a href="{r.recipe_id}/{_page_name("map", lang)}">{_e(text["link_map"])}</a></li>'
            for r in runs
        )
        or f"<li>{_e(text['not_run'])}</li>"
    )
    return _page(
        lang=lang,
        title=_area_name(row, lang),
        body=f"<table class='facts'>{table}</table><h2>{_e(text['col_results'])}</h2><ul>{items}</ul>",
        switch_to=_page_name("index", "ja" if lang == "en" else "en"),  # type: ignore[arg-type]
        up=(f"../../{_page_name('index', lang)}", text["back"]),
    )


def _plain(value: Any) -> Any:
    """A registry cell as JSON-able data (for digests and pages)."""
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return str(value)
    return (
        value
        if isinstance(value, str | int | float | bool | type(None) | list | dict)
        else str(value)
    )


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def publish_site(
    runs: Sequence[str | Path] = (),
    *,
    out: str | Path,
    registry: str | Path | None = None,
    stac_api: str | None = None,
    echo: Any = None,
) -> SiteResult:
    """Build (or update) the static survey portal of a registry and the runs published for it.

    Parameters
    ----------
    runs
        Output folders of :func:`geosurvey.runner.run` (or ``geosurvey demo``). Each becomes
        ``areas/<area>/<recipe>/`` with its summary, plots, downloads and web maps.
    out
        The site's folder (created if missing; its parent must exist). An existing site is
        updated: pages whose inputs did not change are left as they are, runs no longer given are
        removed.
    registry
        The survey-area registry: every area appears in the index (overview map coloured by
        status, table of status, commodities, parties and links), published or not. Without it,
        only the runs' areas are listed (no overview map).
    stac_api
        A STAC API (with the Transactions extension) to push every run's output catalogue to.
    echo
        Where progress lines go (``None``: nowhere), e.g. ``print``.

    Returns
    -------
    SiteResult
        The index page and what was built, skipped and removed.

    Raises
    ------
    MissingInputError, InputError
        A run folder that is not a run's output, a report without valid ids, two runs of the same
        area and recipe.
    OutputError
        The site's parent folder is missing, or ``out`` is a file.
    """
    from geosurvey import __version__

    say = echo or (lambda _line: None)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file; the portal is a folder: give a folder path")
    if not out.absolute().parent.is_dir():
        raise OutputError(f"the parent folder of {out} does not exist; create it first")
    read = [read_run(r) for r in runs]
    by_key: dict[str, RunOutputs] = {}
    for run in read:
        if run.key in by_key:
            raise InputError(
                f"two runs publish area {run.area_id!r} with recipe {run.recipe_id!r} "
                f"({by_key[run.key].folder} and {run.folder}); give one of them"
            )
        by_key[run.key] = run
    rows: list[dict[str, Any]] = []
    frame = None
    if registry is not None:
        from geosurvey.aoi import Registry

        frame = Registry(registry).to_geodataframe()
        rows = [
            {k: _plain(v) for k, v in row.items() if k != "geometry"} for _, row in frame.iterrows()
        ]
    known = {row["id"] for row in rows}
    for run in read:  # areas published but not in the registry: what their report says
        if run.area_id not in known:
            area = dict(run.report.get("area", {}))
            rows.append(
                {"id": run.area_id, **{k: area.get(k) for k in ("name_en", "name_ja", "status")}}
            )
            known.add(run.area_id)
    rows.sort(key=lambda r: r["id"])
    runs_by_area: dict[str, list[RunOutputs]] = {}
    for run in sorted(read, key=lambda r: r.key):
        runs_by_area.setdefault(run.area_id, []).append(run)

    out.mkdir(exist_ok=True)
    state_path = out / _STATE
    try:
        state = json.loads(state_path.read_text("utf-8")) if state_path.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        state = {}
    if state.get("geosurvey") != __version__:
        state = {}
    old_pages: dict[str, str] = dict(state.get("pages", {}))
    pages: dict[str, str] = {}
    built, skipped = [], []
    survey_areas = frame if frame is not None and len(frame) else None
    for key, run in sorted(by_key.items()):
        row = next(r for r in rows if r["id"] == run.area_id)
        digest = _digest(run.digest(), row)
        target = out / "areas" / run.area_id / run.recipe_id
        pages[f"run:{key}"] = digest
        if old_pages.get(f"run:{key}") == digest and (target / "index.html").is_file():
            skipped.append(key)
            continue
        say(f"building {key}")
        target.parent.mkdir(parents=True, exist_ok=True)
        area = None
        if frame is not None and run.area_id in set(frame["id"]):
            area = frame[frame["id"] == run.area_id][["id", "name_en", "name_ja", "geometry"]]
        _build_run(run, target, area=area, survey_areas=survey_areas)
        built.append(key)
    removed = []
    for key in old_pages:
        if key.startswith("run:") and key.removeprefix("run:") not in by_key:
            area_id, recipe_id = key.removeprefix("run:").split("/")
            if _SLUG.fullmatch(area_id) and _SLUG.fullmatch(recipe_id):
                shutil.rmtree(out / "areas" / area_id / recipe_id, ignore_errors=True)
                removed.append(key.removeprefix("run:"))
    for row in rows:
        area_runs = runs_by_area.get(row["id"], [])
        digest = _digest(row, [r.key for r in area_runs])
        pages[f"area:{row['id']}"] = digest
        folder = out / "areas" / row["id"]
        if old_pages.get(f"area:{row['id']}") == digest and (folder / "index.html").is_file():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        for lang in LANGUAGES:
            atomic_write_text(folder / _page_name("index", lang), _area_page(row, area_runs, lang))  # type: ignore[arg-type]
    index_digest = _digest(rows, sorted(by_key))
    pages["index"] = index_digest
    if old_pages.get("index") != index_digest or not (out / "index.html").is_file():
        has_map = survey_areas is not None
        for lang in LANGUAGES:
            if has_map:
                from geosurvey.publish._webmap import overview_map, save_web_map

                links = {
                    row["id"]: f"areas/{row['id']}/{_page_name('index', lang)}"
                    for row in rows  # type: ignore[arg-type]
                }
                save_web_map(
                    overview_map(survey_areas, lang=lang, links=links),  # type: ignore[arg-type]
                    out / _page_name("overview", lang),  # type: ignore[arg-type]
                )
            atomic_write_text(
                out / _page_name("index", lang),  # type: ignore[arg-type]
                _index_page(rows, runs_by_area, lang, has_map),  # type: ignore[arg-type]
            )
    atomic_write_text(
        state_path, json.dumps({"geosurvey": __version__, "pages": pages}, indent=1) + "\n"
    )
    catalogs = tuple(
        out / "areas" / r.area_id / r.recipe_id / "files" / "outputs" / "catalog.json"
        for r in sorted(by_key.values(), key=lambda r: r.key)
        if (
            out / "areas" / r.area_id / r.recipe_id / "files" / "outputs" / "catalog.json"
        ).is_file()
    )
    if stac_api is not None:
        from geosurvey.catalogs import publish as publish_catalog

        for catalog in catalogs:
            counts = publish_catalog(catalog, stac_api)
            say(
                f"pushed {catalog}: {counts['collections']} collection(s), {counts['items']} item(s)"
            )
    return SiteResult(
        index=out / "index.html",
        built=tuple(built),
        skipped=tuple(skipped),
        removed=tuple(removed),
        catalogs=catalogs,
    )
