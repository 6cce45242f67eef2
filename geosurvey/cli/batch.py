"""``geosurvey batch``: run many agreed areas on a Dask cluster, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer


def batch(
    out_root: Annotated[
        Path,
        typer.Option(
            "--out-root",
            help="Folder of the batch: AREA/RECIPE/ per run and the record batch.json (created if "
            "missing; on a cluster it must be on storage every worker sees).",
        ),
    ],
    area: Annotated[
        list[str] | None,
        typer.Option(
            "--area",
            help="An area id to run (repeat for several; default: every area of --status).",
        ),
    ] = None,
    status: Annotated[
        str,
        typer.Option(help="Run only areas of this status ('any' for every status)."),
    ] = "agreed",
    recipe: Annotated[
        str,
        typer.Option(
            help="A shipped recipe's name or a recipe TOML file, or 'auto' for each area's own "
            "recipes (by its deposit models)."
        ),
    ] = "auto",
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="A catalogue (name or path) to read every area's data from; repeat for several.",
        ),
    ] = None,
    occurrences: Annotated[
        Path | None, typer.Option(help="Known occurrences (a vector file) to evaluate the scores.")
    ] = None,
    occurrence_filter: Annotated[
        str | None, typer.Option(help="Keep only the occurrences matching this filter expression.")
    ] = None,
    features: Annotated[
        list[str] | None,
        typer.Option(
            "--features",
            help="Vector features the recipes build layers from, as NAME=FILE (e.g. "
            "faults=faults.shp); repeat for several.",
        ),
    ] = None,
    registry: Annotated[Path, typer.Option(help="The survey-area registry folder.")] = Path("aoi"),
    resolution: Annotated[
        float | None, typer.Option(help="Grid pixel size, metres (default: the recipe's).", min=1.0)
    ] = None,
    lang: Annotated[
        Literal["en", "ja"], typer.Option(help="Language of the maps, reports and this output.")
    ] = "en",
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Address of a running Dask scheduler (tcp://HOST:PORT); default: a LocalCluster."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes of the LocalCluster (default 2; not with --scheduler).", min=1
        ),
    ] = None,
    memory_limit: Annotated[
        str, typer.Option(help="Memory limit of each LocalCluster worker, e.g. 4GiB.")
    ] = "auto",
    max_concurrent: Annotated[
        int, typer.Option(help="Areas in flight at once (each submits its own graphs).", min=1)
    ] = 2,
    attempts: Annotated[
        int, typer.Option(help="Attempts per area on transient read errors (with backoff).", min=1)
    ] = 3,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the scheduler at --scheduler.", min=0.1)
    ] = 10.0,
    progress: Annotated[
        bool, typer.Option(help="Show the overall progress bar (on stderr).")
    ] = True,
) -> int:
    """Run every selected survey area with a recipe on a Dask cluster; resume where it stopped.

    Areas whose outputs are complete and whose inputs and recipe are unchanged since an earlier
    batch in the same --out-root are skipped; the others are (re)done. One failing area does not
    stop the others. Exits 0 when every area succeeded, 1 otherwise (the table says which).
    """
    from geosurvey.cli.run import parse_features
    from geosurvey.runner import batch as run_batch

    if scheduler is not None and workers is not None:
        raise typer.BadParameter(
            "--workers sizes the LocalCluster; an existing cluster at --scheduler has its own",
            param_hint="--workers",
        )
    result = run_batch(
        area or None,
        recipe,
        out_root=out_root,
        sources=source or None,
        occurrences=occurrences,
        occurrence_filter=occurrence_filter,
        features=parse_features(features) or None,
        registry=registry,
        status=None if status == "any" else status,
        resolution=resolution,
        lang=lang,
        scheduler=scheduler,
        n_workers=workers or 2,
        memory_limit=memory_limit,
        max_concurrent=max_concurrent,
        attempts=attempts,
        timeout=timeout,
        progress=progress,
        echo=typer.echo,
    )
    return 0 if result.ok else 1


def register(app: typer.Typer) -> None:
    """Add the ``batch`` command to ``app``."""
    app.command("batch")(batch)
