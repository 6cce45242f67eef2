"""Many agreed areas, one recipe (or each area's own), on a Dask cluster: resumable, fault-tolerant.

How a batch runs
----------------
* **Jobs.** Each selected area with each of its recipes is one *job*, whose outputs go to
  ``OUT_ROOT/<area-id>/<recipe-id>/``, written by :func:`geosurvey.runner.run` through
  :func:`geosurvey.io.output_folder` (all or nothing).
* **Driven from the client.** ``max_concurrent`` threads in this process each call the per-area job
  with ``scheduler=None`` on the one shared :class:`distributed.Client`; the graphs they submit are
  scheduled on the cluster's workers. No task builds or computes graphs itself (no
  ``worker_client``, no nested ``compute``), so the scheduler recomputes a lost worker's share.
* **Order.** The jobs of the largest grids start first (:func:`largest_first`), so that no
  large area runs on alone at the end while the other workers idle.
* **Placement.** While at least as many jobs are unfinished as there are workers, each job's
  tasks prefer one worker (the least busy when it starts; a loose restriction, so a lost worker's
  share still moves), so an area's chunks do not travel between workers; the last jobs spread.
* **Workers set up once.** Before the first job every worker imports the run's modules and
  this process and the workers keep what they hold then out of Python's full garbage
  collections for the batch (:mod:`geosurvey.runner._workers`: 0.2 s a collection otherwise);
  a worker that cannot import geosurvey stops the batch before anything runs.
* **Record.** ``OUT_ROOT/batch.json`` holds, per job, the area's digest, the recipe's hash, the
  parameters, the digests of the inputs (those given to the batch and those the run's own manifest
  lists with a ``sha256``), the versions, the status with its reason, the time, the ROC AUC and the
  outputs (size and SHA-256). It is rewritten atomically after every change, so it survives a
  killed client or scheduler: Dask itself keeps no state across restarts.
* **Resume.** A job is skipped when its record says it succeeded, its area, recipe, parameters and
  input digests are unchanged and every recorded output is present with its recorded size and
  modification time; otherwise it is redone, and the reason is printed. File digests are cached
  by (size, modification time), so a resumed batch re-reads only the files that changed.
* **Isolation.** A failing job is recorded with its reason and the others go on. Transient read
  errors (connection resets, time-outs, HTTP 5xx/429 from GDAL) are retried with exponential
  backoff (tenacity); workers that died under a task (``KilledWorker``: a worker retired at the
  end of its lifetime, or one out of memory) once, then the job fails with a memory hint. A lost scheduler stops the batch with :class:`~geosurvey.errors.ClusterError`
  and an interrupt (Ctrl-C) with :class:`KeyboardInterrupt`, both after the jobs in flight have
  been stopped and their temporary folders removed: what is left is complete, and the next run
  resumes.
* **Shared storage.** On a cluster, the workers write the rasters themselves, so ``out_root``
  must be the same folder for the client and every worker. Before any job the batch writes a
  probe file there and asks every worker to read it back and to create a file beside it; a
  worker that cannot (a folder local to the client's machine, a different mount) is refused with
  :class:`~geosurvey.errors.OutputError` before anything runs.

One batch at a time may write to an ``out_root`` (a lock file, ``.batch.lock``); temporary folders
left by a batch that was killed outright (SIGKILL, power loss) are removed by the next one.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from geosurvey.errors import ClusterError, GeosurveyError, InputError, OutputError
from geosurvey.i18n import TEXT, Language, check_lang
from geosurvey.io import atomic_write_text
from geosurvey.vectors import file_checksum

__all__ = ["BatchJobResult", "BatchResult", "batch", "check_shared_storage"]

JobStatus = Literal["ok", "skipped", "failed", "interrupted"]
MANIFEST = "batch.json"
_LOCK = ".batch.lock"
_FORMAT = 1


# ------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class BatchJobResult:
    """The outcome of one job (one area with one recipe) of a batch.

    Attributes
    ----------
    area_id, recipe_id
        The job.
    status
        ``"ok"`` (run now), ``"skipped"`` (complete and unchanged since an earlier run),
        ``"failed"`` (with ``reason``) or ``"interrupted"`` (not finished: stopped or never
        started; the next run redoes it).
    out
        The job's output folder ``OUT_ROOT/<area-id>/<recipe-id>``.
    seconds
        Wall-clock time of the run (of the earlier run, for a skipped job).
    roc_auc
        ROC AUC of the score against the known occurrences, when the run reported one.
    outputs
        Paths of the output files, relative to ``out``.
    attempts
        How many times the job was started in this batch (retries included; 0 if skipped).
    reason
        Why the job failed or was not finished; for an ``"ok"`` job, why it was (re)done.
    """

    area_id: str
    recipe_id: str
    status: JobStatus
    out: Path
    seconds: float | None = None
    roc_auc: float | None = None
    outputs: tuple[str, ...] = ()
    attempts: int = 0
    reason: str | None = None

    @property
    def key(self) -> str:
        """``"<area-id>/<recipe-id>"``."""
        return f"{self.area_id}/{self.recipe_id}"


@dataclass(frozen=True)
class BatchResult:
    """What :func:`batch` did: every job's outcome, and where the record is."""

    out_root: Path
    jobs: tuple[BatchJobResult, ...]
    dask: str
    dashboard: str | None = None
    lang: Language = "en"

    @property
    def manifest(self) -> Path:
        """The batch record, ``OUT_ROOT/batch.json``."""
        return self.out_root / MANIFEST

    @property
    def ok(self) -> bool:
        """Whether every job succeeded now or earlier (``"ok"`` or ``"skipped"``)."""
        return all(job.status in ("ok", "skipped") for job in self.jobs)

    def counts(self) -> dict[str, int]:
        """Number of jobs per status."""
        out = {status: 0 for status in ("ok", "skipped", "failed", "interrupted")}
        for job in self.jobs:
            out[job.status] += 1
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One plain row per job: area, recipe, status, seconds, roc_auc, outputs, reason."""
        return [
            {
                "area": job.area_id,
                "recipe": job.recipe_id,
                "status": job.status,
                "seconds": None if job.seconds is None else round(job.seconds, 2),
                "roc_auc": job.roc_auc,
                "outputs": len(job.outputs),
                "out": str(job.out),
                "reason": job.reason,
            }
            for job in self.jobs
        ]

    def to_dataframe(self) -> Any:
        """The rows of :meth:`rows` as a :class:`pandas.DataFrame` (for notebooks)."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def table(self, lang: Language | None = None) -> str:
        """The final table (area, recipe, status, time, AUC, outputs) as aligned text."""
        text = TEXT[check_lang(lang or self.lang)]
        cols = ("area", "recipe", "status", "time", "auc", "outputs")
        head = [text[f"batch_col_{c}"] for c in cols]
        body = []
        for job in self.jobs:
            status = text[f"batch_status_{job.status}"]
            if job.reason and job.status in ("failed", "interrupted"):
                reason = job.reason if len(job.reason) <= 90 else job.reason[:87] + "..."
                status += f" ({reason})"  # the whole reason is in the record
            body.append(
                [
                    job.area_id,
                    job.recipe_id,
                    status,
                    "-" if job.seconds is None else f"{job.seconds:.1f}",
                    "-" if job.roc_auc is None else f"{job.roc_auc:.3f}",
                    f"{len(job.outputs)} · {job.out}" if job.outputs else "-",
                ]
            )
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(cols) - 1)]
        lines = []
        for row in [head, *body]:
            cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
            lines.append("  ".join([*cells, row[-1]]).rstrip())
        lines.insert(1, "  ".join("-" * w for w in [*widths, len(head[-1])]))
        return "\n".join(lines)


# ------------------------------------------------------------------------------------- digests


class _Digests:
    """SHA-256 of files, cached by (size, mtime_ns) so that unchanged files are not re-read."""

    def __init__(self, cache: Mapping[str, Any]) -> None:
        self.cache: dict[str, dict[str, Any]] = {k: dict(v) for k, v in cache.items()}
        self.lock = threading.Lock()

    def file(self, path: Path) -> dict[str, Any]:
        path = path.absolute()
        if path.suffix.lower() == ".shp":  # its sidecars are part of it: the run's own checksum
            return {"sha256": file_checksum(path)}
        stat = path.stat()
        key = str(path)
        with self.lock:
            hit = self.cache.get(key)
        if hit and hit["size"] == stat.st_size and hit["mtime_ns"] == stat.st_mtime_ns:
            return hit
        entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": file_checksum(path)}
        with self.lock:
            self.cache[key] = entry
        return entry

    def tree(self, root: Path) -> str:
        """One digest of a folder: its files' relative paths and digests, in sorted order."""
        lines = [
            f"{p.relative_to(root).as_posix()} {self.file(p)['sha256']}"
            for p in sorted(root.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        ]
        return "sha256:" + hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def value(self, value: Any) -> Any:
        """The digest of an input argument: a local file (a STAC catalogue file: its whole folder),
        a folder, or a list of those; anything else (a URL, a catalogue name) is kept as given."""
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if isinstance(value, Mapping):
            return {str(k): self.value(v) for k, v in sorted(value.items())}
        if isinstance(value, str | os.PathLike) and "://" not in str(value):
            path = Path(value)
            if path.is_dir():
                return {"path": str(path.absolute()), "sha256": self.tree(path)}
            if path.is_file():
                if path.suffix == ".json" and path.name in ("catalog.json", "collection.json"):
                    return {"path": str(path.absolute()), "sha256": self.tree(path.parent)}
                return {"path": str(path.absolute()), "sha256": self.file(path)["sha256"]}
        return {"value": _plain(value)}


def _plain(value: Any) -> Any:
    """JSON-able form of a parameter value (for the record and the comparison on resume)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, os.PathLike):
        return str(Path(value).absolute())
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return repr(value)


def _recipe_hash(recipe: Any) -> str:
    """The recipe's own hash (``Recipe.sha256``), else the SHA-256 of its canonical JSON."""
    own = getattr(recipe, "sha256", None)
    if isinstance(own, str) and own:
        return own if own.startswith("sha256:") else f"sha256:{own}"
    doc = json.dumps(_plain(recipe.to_dict()), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(doc.encode()).hexdigest()


def _recorded_inputs(manifest_path: Path) -> list[dict[str, str]]:
    """Every ``{"path": ..., "sha256": ...}`` entry of a run's ``manifest.json`` inputs (any depth)."""
    try:
        doc = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    found: list[dict[str, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            where = node.get("path") or node.get("href")
            digest = node.get("sha256") or node.get("checksum")
            if (
                isinstance(where, str)
                and isinstance(digest, str)
                and "://" not in where.removeprefix("file://")
            ):
                base = manifest_path.parent
                path = Path(where.removeprefix("file://"))
                full = path if path.is_absolute() else base / path
                # inputs copied into the output folder are outputs, checked as such
                if not full.absolute().is_relative_to(base.absolute()):
                    found.append({"path": str(full.absolute()), "sha256": _norm(digest)})
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(doc.get("inputs", {}))
    return found


def _norm(digest: str) -> str:
    return digest if ":" in digest else f"sha256:{digest}"


# ------------------------------------------------------------------------------------ transient

_TRANSIENT_TEXT = re.compile(
    r"HTTP response code: (5\d\d|429)|timed? ?out|connection (reset|refused|aborted)|"
    r"temporar(y|ily)|try again|curl error",
    re.IGNORECASE,
)


def is_transient(exc: BaseException) -> bool:
    """Whether an error (or one it was raised from) is a transient read error worth retrying.

    Connection errors and time-outs (``ConnectionError``, ``TimeoutError``, geosurvey's
    :class:`~geosurvey.errors.CatalogUnreachableError`), GDAL/rasterio read errors that report
    an HTTP 5xx/429 status, a time-out or a reset connection, and Dask's ``KilledWorker`` (the
    workers running a task died, e.g. retired at the end of their lifetime on a batch system) are
    transient; a lost Dask scheduler (:class:`~geosurvey.errors.ClusterError`), bad input and
    everything else are not.
    """
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, ClusterError):
            return False
        if isinstance(node, ConnectionError | TimeoutError):
            return True
        if type(node).__name__ == "KilledWorker":
            # workers that died under a task: on HPC most often workers retired at the end of
            # their --lifetime or job walltime; the run is redone from scratch, at most `attempts`
            return True
        if type(node).__name__ in ("RasterioIOError", "CPLE_HttpResponseError", "CPLE_AWSError"):
            if _TRANSIENT_TEXT.search(str(node)):
                return True
        node = node.__cause__ or node.__context__
    return False


# ------------------------------------------------------------------------------- shared storage


def _probe(path: str, token: str) -> str | None:
    """On a worker: ``None`` if ``path`` holds ``token`` and a file can be created beside it, else
    the reason. Module-level so that workers can unpickle it."""
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() != token:
                return f"{path} holds other content there"
    except OSError as exc:
        return f"cannot read {path} ({exc.strerror or exc})"
    probe = f"{path}.{os.getpid()}.w"
    try:
        with open(probe, "w", encoding="utf-8") as fh:
            fh.write(token)
        os.unlink(probe)
    except OSError as exc:
        return f"cannot write in {os.path.dirname(path)} ({exc.strerror or exc})"
    return None


def check_shared_storage(client: Any, folder: str | Path) -> None:
    """Refuse an output folder that some of the cluster's workers cannot see or write.

    The client writes a probe file with a random token into ``folder``; every worker must read the
    same token back at the same absolute path and create a file beside it. This catches a folder
    local to the client's machine when the workers run elsewhere (another host, another container
    or mount namespace) and a folder the workers may not write. With no client (threads in this
    process) there is nothing to check.

    Raises
    ------
    OutputError
        Naming the folder, the workers that cannot use it and what to do.
    """
    if client is None:
        return
    folder = Path(folder).absolute()
    if "://" in str(folder):  # pragma: no cover - Path never keeps a scheme, kept for clarity
        raise OutputError(f"batch outputs go to a shared folder, not a URL: {folder}")
    token = secrets.token_hex(16)
    probe = folder / f".geosurvey-probe-{token[:8]}"
    atomic_write_text(probe, token)
    try:
        answers = client.run(_probe, str(probe), token)
    finally:
        with contextlib.suppress(FileNotFoundError):
            probe.unlink()
    bad = {worker: why for worker, why in answers.items() if why is not None}
    if bad:
        listed = "; ".join(f"{w}: {why}" for w, why in sorted(bad.items()))
        raise OutputError(
            f"output folder {folder} is not visible to {len(bad)} of {len(answers)} Dask workers "
            f"({listed}); workers write the rasters themselves, so put out_root on storage every "
            "worker mounts at the same path (a shared file system such as NFS, Lustre or GPFS)"
        )


# -------------------------------------------------------------------------------------- record


class _Record:
    """``OUT_ROOT/batch.json``, rewritten atomically after every change (thread-safe)."""

    def __init__(self, out_root: Path) -> None:
        self.path = out_root / MANIFEST
        self.lock = threading.Lock()
        doc: dict[str, Any] = {}
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise OutputError(
                    f"batch record {self.path} is not valid JSON ({exc}); move it away to start "
                    "the batch afresh"
                ) from exc
            if doc.get("format") != _FORMAT:
                raise OutputError(
                    f"batch record {self.path} has format {doc.get('format')!r}, not {_FORMAT}; "
                    "move it away to start the batch afresh"
                )
        self.jobs: dict[str, dict[str, Any]] = dict(doc.get("jobs", {}))
        self.digests = _Digests(doc.get("digests", {}))
        self.created = doc.get("created") or _now()

    def get(self, key: str) -> dict[str, Any] | None:
        with self.lock:
            entry = self.jobs.get(key)
            return dict(entry) if entry else None

    def put(self, key: str, entry: Mapping[str, Any]) -> None:
        with self.lock:
            self.jobs[key] = dict(entry)
            self._write()

    def _write(self) -> None:
        with self.digests.lock:
            digests = dict(sorted(self.digests.cache.items()))
        doc = {
            "format": _FORMAT,
            "created": self.created,
            "updated": _now(),
            "jobs": dict(sorted(self.jobs.items())),
            "digests": digests,
        }
        atomic_write_text(self.path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def _exclusive(out_root: Path) -> Iterator[None]:
    import filelock

    lock = filelock.FileLock(str(out_root / _LOCK))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise OutputError(
            f"another batch is writing to {out_root} (it holds {out_root / _LOCK}); wait for it to "
            "finish or choose another out_root"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _remove_leftovers(out_root: Path) -> list[Path]:
    """Temporary folders of :func:`geosurvey.io.output_folder` left by a killed batch."""
    import shutil

    gone = []
    for tmp in out_root.glob("*/.*.partial"):
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
            gone.append(tmp)
    return gone


# ----------------------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class _Job:
    area: Any  # geosurvey.aoi.SurveyArea
    recipe: Any  # geosurvey.prospectivity.Recipe
    out: Path

    @property
    def key(self) -> str:
        return f"{self.area.id}/{self.recipe.id}"


class _Stopped(Exception):
    """Raised inside a job thread when the batch is stopping (interrupt, lost scheduler)."""


@dataclass
class _Batch:
    """The state shared by the job threads of one :func:`batch` call."""

    record: _Record
    job_fn: Callable[..., Any]
    run_kwargs: Mapping[str, Any]
    input_args: Mapping[str, Any]
    client: Any
    dask: str
    attempts: int
    retry_wait: float
    lang: Language
    say: Callable[[str], None]
    stop: threading.Event = field(default_factory=threading.Event)
    lost: list[str] = field(default_factory=list)
    #: jobs not yet finished (queued or running), and the worker each running job prefers
    unfinished: int = 0
    placed: dict[str, str] = field(default_factory=dict)
    #: jobs at once on the workers (max_concurrent, or fewer jobs): each run's share of the
    #: workers' memory for its layers (runner.runs_sharing_workers)
    sharing: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- where a job's tasks run

    @contextlib.contextmanager
    def placement(self, key: str) -> Iterator[str | None]:
        """Prefer one worker for every task of the job ``key`` while at least as many jobs are
        unfinished as there are workers.

        A run's tasks spread over all workers by default, so the chunks of one area travel
        between them (each transfer costs both ends CPU and memory). With many areas in flight,
        keeping each on the least busy worker avoids that. The restriction is loose
        (``allow_other_workers``): a worker that dies or retires hands the job's tasks to the
        others, as the scheduler recomputes a lost worker's share. Near the end of a batch, with
        fewer jobs left than workers, the last jobs spread over every worker again.
        """
        worker = None
        with self.lock:
            workers = sorted(self.client.scheduler_info().get("workers", {}))
            if len(workers) > 1 and self.unfinished >= len(workers):
                busy = {w: 0 for w in workers}
                for w in self.placed.values():
                    if w in busy:
                        busy[w] += 1
                worker = min(workers, key=lambda w: (busy[w], workers.index(w)))
                self.placed[key] = worker
        try:
            if worker is None:
                yield None
            else:
                import dask

                with dask.annotate(workers=[worker], allow_other_workers=True):
                    yield worker
        finally:
            with self.lock:
                self.placed.pop(key, None)

    # -- the fingerprint of a job and why it must be (re)done

    def fingerprint(self, job: _Job) -> dict[str, Any]:
        return {
            "area_digest": job.area.digest,
            "recipe_sha256": _recipe_hash(job.recipe),
            "parameters": {k: _plain(v) for k, v in sorted(self.run_kwargs.items())},
            "inputs": {
                name: self.record.digests.value(value)
                for name, value in sorted(self.input_args.items())
                if value is not None
            },
        }

    def why_redo(
        self, job: _Job, entry: Mapping[str, Any] | None, fp: Mapping[str, Any]
    ) -> str | None:
        text = TEXT[self.lang]
        if entry is None:
            return text["batch_why_new"]
        if entry.get("status") != "ok":
            return text["batch_why_unfinished"]
        if entry.get("area_digest") != fp["area_digest"]:
            return text["batch_why_area"]
        if entry.get("recipe_sha256") != fp["recipe_sha256"]:
            return text["batch_why_recipe"]
        if entry.get("parameters") != fp["parameters"]:
            return text["batch_why_parameters"]
        changed = [n for n in fp["inputs"] if entry.get("inputs", {}).get(n) != fp["inputs"][n]]
        changed += sorted(set(entry.get("inputs", {})) - set(fp["inputs"]))
        for item in entry.get("run_inputs", []):
            path = Path(item["path"])
            try:
                same = self.record.digests.file(path)["sha256"] == item["sha256"]
            except OSError:
                same = False
            if not same:
                changed.append(path.name)
        if changed:
            return text["batch_why_inputs"].format(names=", ".join(changed))
        missing = []
        for rel, meta in entry.get("outputs", {}).items():
            path = job.out / rel
            try:
                stat = path.stat()
            except OSError:
                missing.append(rel)
                continue
            if stat.st_size != meta["size"] or stat.st_mtime_ns != meta["mtime_ns"]:
                missing.append(rel)
        if missing or not entry.get("outputs"):
            return text["batch_why_outputs"].format(names=", ".join(missing) or job.out.name)
        return None

    # -- one job, in a thread of the pool

    def plan(self, job: _Job) -> tuple[dict[str, Any], str | None]:
        """The job's fingerprint and why it must be (re)done (``None``: it is complete)."""
        fp = self.fingerprint(job)
        return fp, self.why_redo(job, self.record.get(job.key), fp)

    def skipped(self, job: _Job) -> BatchJobResult:
        entry = self.record.get(job.key) or {}
        self.say(f"[{job.key}] {TEXT[self.lang]['batch_skip']}")
        return self._result(
            job,
            "skipped",
            seconds=entry.get("seconds"),
            roc_auc=entry.get("roc_auc"),
            outputs=tuple(entry.get("outputs", {})),
        )

    def run_job(self, job: _Job, fp: Mapping[str, Any], why: str) -> BatchJobResult:
        from geosurvey.runner._run import runs_sharing_workers

        if self.stop.is_set():
            return self._result(job, "interrupted", reason="not started")
        if (
            job.out.exists()
            and self.record.get(job.key) is None
            and not (job.out / "manifest.json").is_file()
        ):
            reason = (
                f"{job.out} exists and is not the output of a geosurvey run; move it away (the "
                "batch replaces only its own outputs)"
            )
            self.say(f"[{job.key}] {TEXT[self.lang]['batch_failed'].format(reason=reason)}")
            return self._result(job, "failed", reason=reason)
        self.say(f"[{job.key}] {TEXT[self.lang]['batch_run'].format(why=why)}")
        base = {
            "area": job.area.id,
            "recipe": job.recipe.id,
            **fp,
            "out": str(job.out),
            "dask": self.dask,
            "started": _now(),
        }
        self.record.put(job.key, {**base, "status": "running"})
        attempts = 0
        start = time.perf_counter()
        try:
            job.out.parent.mkdir(parents=True, exist_ok=True)
            for attempt in self._retrying(job):
                with attempt:
                    attempts += 1
                    if self.stop.is_set():
                        raise _Stopped("stopped before it started")
                    with (
                        runs_sharing_workers(self.sharing),
                        self.placement(job.key) if attempts == 1 else contextlib.nullcontext(),
                    ):
                        result = self.job_fn(
                            job.area.id,
                            job.recipe,
                            out=job.out,
                            scheduler=None,
                            overwrite=True,
                            echo=lambda line, key=job.key: self.progress(key, line),
                            **self.run_kwargs,
                            **self.input_args,
                        )
        except BaseException as exc:  # recorded, never lost; re-raised only for interrupts
            seconds = time.perf_counter() - start
            status, reason = self._classify(exc)
            unexpected = status == "failed" and not isinstance(exc, GeosurveyError)
            self.record.put(
                job.key,
                {
                    **base,
                    "status": status,
                    "reason": reason,
                    "traceback": _traceback(exc) if unexpected else None,
                    "attempts": attempts,
                    "seconds": round(seconds, 3),
                    "finished": _now(),
                },
            )
            if status == "failed":
                self.say(f"[{job.key}] {TEXT[self.lang]['batch_failed'].format(reason=reason)}")
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            return self._result(job, status, seconds=seconds, attempts=attempts, reason=reason)
        seconds = time.perf_counter() - start
        from geosurvey.provenance import versions

        outputs = {
            p.relative_to(job.out).as_posix(): self._output_meta(p)
            for p in sorted(job.out.rglob("*"))
            if p.is_file()
        }
        roc_auc = _roc_auc(result, job.out)
        self.record.put(
            job.key,
            {
                **base,
                "status": "ok",
                "reason": why,
                "attempts": attempts,
                "seconds": round(seconds, 3),
                "finished": _now(),
                "roc_auc": roc_auc,
                "run_status": getattr(result, "status", None),
                "run_inputs": _recorded_inputs(job.out / "manifest.json"),
                "outputs": outputs,
                "versions": versions(),
            },
        )
        self.say(f"[{job.key}] {TEXT[self.lang]['batch_done'].format(s=seconds)}")
        return self._result(
            job,
            "ok",
            seconds=seconds,
            roc_auc=roc_auc,
            outputs=tuple(outputs),
            attempts=attempts,
            reason=why,
        )

    def progress(self, key: str, line: str) -> None:
        """A run's progress line; once the batch is stopping, the run stops at its next stage
        (its output folder is then removed) instead of finishing work nobody waits for."""
        if self.stop.is_set():
            raise _Stopped("the batch is stopping")
        if self._scheduler_gone():
            # a closed client is no longer Dask's default: the run's next stage would silently
            # compute in this process instead of on the cluster asked for
            raise ClusterError("the client lost its connection to the Dask scheduler")
        self.say(f"[{key}] {line}")

    def _output_meta(self, path: Path) -> dict[str, Any]:
        stat = path.stat()
        return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": file_checksum(path)}

    def _retrying(self, job: _Job) -> Any:
        import tenacity

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            self.say(
                f"[{job.key}] "
                + TEXT[self.lang]["batch_retry"].format(
                    reason=_one_line(exc),
                    attempt=state.attempt_number + 1,
                    attempts=self.attempts,
                    wait=wait,
                )
            )

        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=tenacity.wait_exponential(multiplier=self.retry_wait, max=60 * self.retry_wait),
            retry=self._retry_if,
            before_sleep=before_sleep,
            sleep=self._sleep,
            reraise=True,
        )

    def _retry_if(self, state: Any) -> bool:
        """Retry transient errors; workers that died under a task only once (lifetimes end, but a
        task that is too big for a worker kills every worker it meets)."""
        exc = state.outcome.exception() if state.outcome else None
        if exc is None or self._scheduler_gone() or not is_transient(exc):
            return False
        return not (_killed_worker(exc) and state.attempt_number > 1)

    def _sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise _Stopped("stopped while waiting to retry")

    def _scheduler_gone(self) -> bool:
        if self.client is None:
            return False
        return self.client.status not in ("running", "newly-created")

    def _classify(self, exc: BaseException) -> tuple[JobStatus, str]:
        if isinstance(exc, KeyboardInterrupt | SystemExit | _Stopped):
            return "interrupted", "interrupted"
        if self._scheduler_gone():
            self.stop.set()
            self.lost.append(_one_line(exc))
            return "interrupted", f"lost the Dask scheduler ({_one_line(exc)})"
        if self.stop.is_set():
            return "interrupted", f"stopped ({_one_line(exc)})"
        if isinstance(exc, GeosurveyError):
            return "failed", str(exc)
        if _killed_worker(exc):
            return "failed", (
                f"Dask workers died running a task, twice ({_one_line(exc)}); most often a worker "
                "ran out of memory: see the worker logs, give workers more memory (a whole-grid "
                "FFT step holds about 100 bytes per pixel of the grid on one worker) or use a "
                "coarser resolution"
            )
        return "failed", f"{type(exc).__name__}: {_one_line(exc)}"

    def _result(self, job: _Job, status: JobStatus, **kw: Any) -> BatchJobResult:
        return BatchJobResult(job.area.id, job.recipe.id, status, job.out, **kw)


def _killed_worker(exc: BaseException) -> bool:
    node: BaseException | None = exc
    for _ in range(20):
        if node is None:
            return False
        if type(node).__name__ == "KilledWorker":
            return True
        node = node.__cause__ or node.__context__
    return False


def _traceback(exc: BaseException) -> list[str]:
    """The last frames of an unexpected error (for the record: a bug report needs them)."""
    import traceback

    return traceback.format_exception(exc, limit=-8)


def _one_line(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _roc_auc(result: Any, out: Path) -> float | None:
    report = getattr(result, "report", None)
    if not isinstance(report, Mapping):
        try:
            report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
    score = report.get("score")
    value = score.get("roc_auc") if isinstance(score, Mapping) else report.get("roc_auc")
    return None if value is None else round(float(value), 6)


# ----------------------------------------------------------------------------------- selection


def _select_areas(
    areas: Iterable[Any] | None, registry: str | Path, status: str | Sequence[str] | None
) -> list[Any]:
    from geosurvey.aoi import Registry, SurveyArea

    reg = Registry(registry)
    if areas is None:
        selected = reg.areas(status=status)
        if not selected:
            raise InputError(
                f"registry {reg.path} has no area with status {status!r}; nothing to run"
            )
        return selected
    wanted = [a.id if isinstance(a, SurveyArea) else str(a) for a in areas]
    if not wanted:
        raise InputError("no areas were given; name at least one area id")
    duplicates = sorted({a for a in wanted if wanted.count(a) > 1})
    if duplicates:
        raise InputError(f"areas named more than once: {', '.join(duplicates)}")
    selected = [reg.get(area_id) for area_id in wanted]
    statuses = {status} if isinstance(status, str) else set(status or ())
    off = [f"{a.id} ({a.status})" for a in selected if statuses and a.status not in statuses]
    if off:
        raise InputError(
            f"areas not {' or '.join(sorted(statuses))}: {', '.join(off)}; leave them out or "
            "widen the status filter"
        )
    return selected


def _recipes(area: Any, recipe: Any, loaded: dict[str, Any]) -> list[Any]:
    from geosurvey import prospectivity

    if isinstance(recipe, str) and recipe == "auto":
        # raises InputError naming the area's deposit models when no recipe serves them
        picked = prospectivity.recipes_for(area)
        return [r[0] if isinstance(r, tuple) else r for r in picked]
    if isinstance(recipe, str | Path):
        key = str(recipe)
        if key not in loaded:
            loaded[key] = prospectivity.load_recipe(recipe)
        return [loaded[key]]
    return [recipe]


def _default_job() -> Callable[..., Any]:
    from geosurvey.runner._run import run

    return run


# ---------------------------------------------------------------------------------------- batch


def batch(
    areas: Iterable[Any] | None,
    recipe: Any = "auto",
    *,
    out_root: str | Path,
    sources: Any = None,
    occurrences: Any = None,
    occurrence_filter: str | None = None,
    features: Any = None,
    registry: str | Path = "aoi",
    status: str | Sequence[str] | None = "agreed",
    resolution: float | None = None,
    lang: Language = "en",
    scheduler: str | None = None,
    n_workers: int = 2,
    memory_limit: str = "auto",
    max_concurrent: int = 2,
    attempts: int = 3,
    retry_wait: float = 1.0,
    timeout: float = 10.0,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    job: Callable[..., Any] | None = None,
) -> BatchResult:
    """Run :func:`geosurvey.runner.run` for many areas on a Dask cluster; resume where it stopped.

    Parameters
    ----------
    areas
        Area ids (or :class:`~geosurvey.aoi.SurveyArea` objects) of ``registry``; ``None`` runs
        every area whose status is ``status``.
    recipe
        A recipe (:class:`~geosurvey.prospectivity.Recipe`, a shipped recipe's name or a TOML
        path) run for every area, or ``"auto"``: each area's own recipes from
        :func:`geosurvey.prospectivity.recipes_for` (by its deposit models).
    out_root
        Folder of the batch (created if missing): ``<area-id>/<recipe-id>/`` per job and the record
        ``batch.json``. On a cluster it must be on storage every worker sees at the same path.
    sources, occurrences, occurrence_filter, features
        Passed to every run (the catalogues, the known occurrences and the mapped features); local
        files and folders among them are digested for the record (a STAC ``catalog.json``: its
        whole folder).
    registry
        The survey-area registry folder.
    status
        Keep only areas of this status (``None``: any status).
    resolution, lang
        Passed to every run (``None`` resolution: the recipe's).
    scheduler
        ``None``: a :class:`distributed.LocalCluster` of ``n_workers`` worker processes with
        ``memory_limit`` each, started for the batch and closed after it. An address
        (``tcp://HOST:PORT``): an existing cluster (``dask scheduler``, dask-jobqueue,
        dask-gateway); ``timeout`` seconds to reach it.
    max_concurrent
        Jobs in flight at once (threads in this process, each submitting its run's graphs to the
        one client), those of the largest grids first (:func:`largest_first`). Two or three keep
        a cluster busy while one job writes its outputs. The jobs in flight share the workers'
        memory: each run keeps its layers in memory only when they fit in its part of the share
        one run may take (:func:`geosurvey.runner.persist_budget`), and otherwise writes them to
        their COGs and reads them back block by block.
    attempts, retry_wait
        Attempts per job on transient read errors, waiting ``retry_wait`` seconds, then twice as
        long, and so on.
    progress
        Show an overall progress bar (tqdm, on stderr).
    echo
        Where per-job lines and the final table go.
    job
        The per-area job (default :func:`geosurvey.runner.run`), called as
        ``job(area_id, recipe, out=..., scheduler=None, overwrite=True, echo=..., registry=...,
        resolution=..., lang=..., sources=..., occurrences=..., occurrence_filter=...,
        features=...)``.

    Returns
    -------
    BatchResult
        Every job's outcome; ``.ok`` says whether every job succeeded (now or earlier).

    Raises
    ------
    ClusterError
        When the scheduler cannot be reached, or goes away during the batch (after the record is
        written; re-run to resume).
    OutputError
        When ``out_root`` cannot be used: not writable, not visible to the workers, or another
        batch is writing there.
    KeyboardInterrupt
        On Ctrl-C, after the jobs in flight have stopped; only complete outputs are left.
    """
    lang = check_lang(lang)
    if max_concurrent < 1:
        raise InputError(f"max_concurrent must be at least 1, got {max_concurrent}")
    if attempts < 1:
        raise InputError(f"attempts must be at least 1, got {attempts}")
    if scheduler is not None and "://" not in scheduler:
        raise InputError(
            f"scheduler {scheduler!r} is not an address; give tcp://HOST:PORT of a running Dask "
            "scheduler, or None for a LocalCluster"
        )
    job_fn = job or _default_job()
    selected = _select_areas(areas, registry, status)
    loaded: dict[str, Any] = {}
    out_root = Path(out_root).absolute()
    jobs = [
        _Job(area, r, out_root / area.id / r.id)
        for area in selected
        for r in _recipes(area, recipe, loaded)
    ]
    keys = [j.key for j in jobs]
    if len(set(keys)) != len(keys):
        raise InputError("a recipe is named twice for one area: " + ", ".join(sorted(set(keys))))
    pixels = {j.key: grid_pixels(j.area, j.recipe, resolution) for j in jobs}  # checks resolution
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create out_root {out_root}: {exc.strerror}") from exc
    if not os.access(out_root, os.W_OK | os.X_OK):
        raise OutputError(f"out_root {out_root} is not writable; choose another folder")

    from tqdm import tqdm

    from geosurvey.runner._cluster import dask_client, describe_scheduler
    from geosurvey.runner._workers import frozen_imports

    text = TEXT[lang]
    bar = tqdm(total=len(jobs), desc=text["batch_progress"], unit="job", disable=not progress)
    say_lock = threading.Lock()

    def say(line: str) -> None:
        with say_lock:
            if progress:
                bar.write(line)
            else:
                echo(line)

    outcomes: dict[str, BatchJobResult] = {}
    dask_text, dashboard = "-", None
    with _exclusive(out_root):
        _remove_leftovers(out_root)
        state = _Batch(
            record=_Record(out_root),
            job_fn=job_fn,
            run_kwargs={
                "registry": Path(registry).absolute(),
                "resolution": resolution,
                "lang": lang,
            },
            input_args={
                "sources": sources,
                "occurrences": occurrences,
                "occurrence_filter": occurrence_filter,
                "features": features,
            },
            client=None,
            dask=dask_text,
            attempts=attempts,
            retry_wait=retry_wait,
            lang=lang,
            say=say,
        )
        # what is complete is known before any cluster starts: a finished batch re-runs in seconds
        todo = []
        for j in jobs:
            fp, why = state.plan(j)
            if why is None:
                outcomes[j.key] = state.skipped(j)
                bar.update(1)
            else:
                todo.append((j, fp, why))
        try:
            if todo:
                with dask_client(
                    scheduler or "local",
                    n_workers=n_workers,
                    memory_limit=memory_limit,
                    timeout=timeout,
                ) as client:
                    check_shared_storage(client, out_root)
                    state.client, state.dask = client, describe_scheduler(client)
                    dask_text, dashboard = state.dask, _dashboard(client)
                    say(
                        text["batch_start"].format(
                            jobs=len(todo), areas=len(selected), dask=dask_text, out_root=out_root
                        )
                    )
                    if dashboard:
                        say(text["batch_dashboard"].format(link=dashboard))
                    state.sharing = min(max_concurrent, len(todo))
                    with frozen_imports(client):
                        _drive(state, largest_first(todo, pixels), max_concurrent, outcomes, bar)
        finally:
            bar.close()
            for j in jobs:  # never started
                if j.key not in outcomes:
                    outcomes[j.key] = BatchJobResult(
                        j.area.id, j.recipe.id, "interrupted", j.out, reason="not started"
                    )
            result = BatchResult(
                out_root, tuple(outcomes[k] for k in keys), dask_text, dashboard, lang
            )
            echo(result.table())
            counts = result.counts()
            echo(text["batch_summary"].format(**counts))
            if counts["failed"] or counts["interrupted"]:
                echo(text["batch_resume"])
    if state.lost:
        done = result.counts()["ok"] + result.counts()["skipped"]
        raise ClusterError(
            f"lost the Dask scheduler at {scheduler} during the batch ({state.lost[0]}); "
            f"{done} of {len(jobs)} jobs are complete and recorded in {result.manifest}; start "
            "the scheduler again and re-run the batch to resume"
        )
    return result


def grid_pixels(area: Any, recipe: Any, resolution: float | None = None) -> float:
    """About how many pixels a run of ``recipe`` has on ``area``'s grid: the area's geodesic
    km² over the run's pixel size (:func:`geosurvey.runner.run_resolution`), to two significant
    figures.

    Raises
    ------
    InputError
        If ``resolution`` is not a positive number of metres.
    """
    from geosurvey.runner._run import run_resolution

    size = area.area_km2 * 1e6 / run_resolution(recipe, resolution) ** 2
    return float(f"{size:.2g}")


def largest_first(
    todo: Sequence[tuple[_Job, Mapping[str, Any], str]], pixels: Mapping[str, float]
) -> list[tuple[_Job, Mapping[str, Any], str]]:
    """The jobs, those of the most ``pixels`` (by job key, :func:`grid_pixels`) first; jobs of
    the same size keep the order given.

    With a bounded number in flight, a large area started last runs on alone while the other
    workers idle; starting the longest jobs first (Graham's rule for scheduling) shortens the
    batch. The results table keeps the areas' order.
    """
    return sorted(todo, key=lambda t: -pixels[t[0].key])


def _drive(
    state: _Batch,
    todo: Sequence[tuple[_Job, Mapping[str, Any], str]],
    max_concurrent: int,
    outcomes: dict[str, BatchJobResult],
    bar: Any,
) -> None:
    """Run the jobs on a pool of ``max_concurrent`` threads; on Ctrl-C stop them cleanly."""
    pool = concurrent.futures.ThreadPoolExecutor(
        max_concurrent, thread_name_prefix="geosurvey-batch"
    )
    state.unfinished = len(todo)

    def one(job: _Job, fp: Mapping[str, Any], why: str) -> BatchJobResult:
        try:
            return state.run_job(job, fp, why)
        finally:
            with state.lock:
                state.unfinished -= 1

    pending = {pool.submit(one, job, fp, why) for job, fp, why in todo}
    try:
        while pending:
            done, pending = concurrent.futures.wait(
                pending, timeout=0.2, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for fut in done:
                outcome = fut.result()
                outcomes[outcome.key] = outcome
                bar.update(1)
    except BaseException:
        # Ctrl-C (or an error of the batch itself): start nothing more, cancel the Dask work in
        # flight so that those runs fail and remove their temporary folders, then wait for them
        state.stop.set()
        for fut in pending:
            fut.cancel()
        _cancel_dask_work(state.client)
        for fut in pending:
            with contextlib.suppress(BaseException):
                outcome = fut.result()
                outcomes[outcome.key] = outcome
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _cancel_dask_work(client: Any) -> None:
    """Cancel every computation this client has in flight (their runs then fail and clean up)."""
    if client is None:
        return
    from distributed import Future

    with contextlib.suppress(Exception):
        futures = [Future(key, client) for key in list(client.futures)]
        if futures:
            client.cancel(futures, force=True)


def _dashboard(client: Any) -> str | None:
    """The dashboard link, when the scheduler serves a dashboard (bokeh installed there)."""
    if client is None:
        return None
    import importlib.util

    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        # a stdlib function, so that the scheduler needs nothing of geosurvey to answer
        has_bokeh = client.run_on_scheduler(importlib.util.find_spec, "bokeh") is not None
    except Exception:  # a scheduler that cannot answer shows no link
        return None
    return client.dashboard_link if has_bokeh else None
